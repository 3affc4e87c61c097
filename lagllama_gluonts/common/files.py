"""The file layer: a table file read into a raw ``DataFrame`` and a long forecast table
written out, with clear errors for a missing, empty or unreadable file, and the cell-level
parsing (numbers, timestamps) every reader above shares. Imports only the error module and
the column-guessing rules (:mod:`.columns`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from .atomic import atomic_path
from .columns import TIME_COLUMN_NAMES as TIME_COLUMN_NAMES  # importable from here as before (tables)
from .columns import guess_columns
from .errors import DataError

PathLike = Union[str, Path]
SEPARATORS = ",;\t|"


def sniff_separator(path: PathLike, delimiters: str = SEPARATORS) -> str:
    """The column separator of a delimited text file, from its first lines (one of ``delimiters``)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        sample = "".join(handle.readline() for _ in range(20))
    try:
        return csv.Sniffer().sniff(sample, delimiters=delimiters).delimiter
    except csv.Error:
        return delimiters[0]  # one column, or nothing to tell: pandas' default (a ',' unless excluded)


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def read_frame(
    path: PathLike,
    sep: Optional[str] = None,
    engine: Optional[str] = None,
    decimal: Optional[str] = None,
    **read_csv_kwargs,
) -> pd.DataFrame:
    """The raw table, with clear errors for a missing, empty or unreadable file: delimited
    text, or Parquet (a ``.parquet`` file, read with pyarrow when it is installed).

    Delimited text is read with pandas' pyarrow engine when pyarrow is installed (several
    times faster on large files, timestamps parsed natively), else with its C engine.
    ``engine`` forces one. The C engine decides where the two would differ: a file pyarrow
    refuses (e.g. rows with fewer cells than the header, which the C engine fills with NaN),
    and timestamps with UTC offsets (pyarrow converts them to UTC; the text is kept so that
    ``timezone='local'`` can read each timestamp's wall time). ``decimal``: the decimal mark
    (``','`` reads ``1,5`` as 1.5; the separator is then sniffed among the others).
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a directory, not a table file")
    if not path.is_file():
        raise DataError(f"table file not found: {str(path)!r}")
    if path.suffix.lower() in (".parquet", ".pq"):
        if not _has_pyarrow():
            raise DataError(f"reading {str(path)!r} needs pyarrow: pip install pyarrow")
        try:
            frame = pd.read_parquet(path, engine="pyarrow")
        except Exception as error:  # pyarrow's errors for a broken or foreign file
            raise DataError(f"cannot read {str(path)!r} as Parquet: {error}") from None
        if not isinstance(frame.index, pd.RangeIndex):  # e.g. timestamps saved as the index
            frame = frame.reset_index()
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame
    if decimal not in (None, "."):  # e.g. "1,5": the C engine reads it; the separator is then another
        if len(decimal) != 1 or decimal == sep or decimal.isalnum():
            raise DataError(f"decimal= {decimal!r}: give one mark other than the separator, e.g. ','", field="decimal")
        sep = sep or sniff_separator(path, SEPARATORS.replace(decimal, ""))
        read_csv_kwargs["decimal"] = decimal
    sep = sep or sniff_separator(path)
    frame = None
    if engine == "pyarrow" or (engine is None and not read_csv_kwargs and _has_pyarrow()):
        frame = _read_with_pyarrow(path, sep)
    if frame is None:
        try:
            frame = pd.read_csv(path, sep=sep, **read_csv_kwargs)
        except pd.errors.EmptyDataError:
            raise DataError(f"{str(path)!r} is empty") from None
        except Exception as error:  # pandas has many parser error types
            raise DataError(f"cannot read {str(path)!r} as CSV: {error}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_with_pyarrow(path: Path, sep: str) -> Optional[pd.DataFrame]:
    """The file through pandas' pyarrow engine, or None where the C engine must decide."""
    try:
        frame = pd.read_csv(path, sep=sep, engine="pyarrow")
    except Exception:  # empty, ragged or otherwise odd files: the C engine's answer and errors
        return None
    if any(isinstance(dtype, pd.DatetimeTZDtype) for dtype in frame.dtypes):
        return None  # offsets were converted to UTC: re-read for the local wall time
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.ArrowDtype) or str(dtype).startswith(("date32", "time")):
            return None  # types pandas' own engine never produces
    return frame


def guess_time_column(columns: Sequence[str]) -> str:
    """The command lines' timestamp column (they name the target and the item column): one
    named like ``ds``/``date``, else the first column -- :func:`.columns.guess_columns`, the
    rules ``predict_df`` guesses by too."""
    return guess_columns(columns, id_column=None, target=None, first_column=True).timestamp_column


def to_numbers(raw: pd.Series) -> Tuple[np.ndarray, Optional[int]]:
    """A column's cells as float64 (blank and whitespace-only cells NaN), and the position of
    the first cell holding text (None when there is none): the callers phrase the error."""
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan), None
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        bad &= raw.astype(str).str.strip().to_numpy() != ""  # whitespace-only cells are missing, not text
    first = int(np.flatnonzero(bad)[0]) if bad.any() else None
    return values.to_numpy(dtype=np.float64, na_value=np.nan), first


def write_forecast_frames(path: PathLike, frames) -> Tuple[Path, int]:
    """Write the pieces of a long forecast table (e.g. from
    :func:`~lagllama_gluonts.common.dataframes.predict_series`) to one file as they come:
    CSV, or Parquet for a ``.parquet`` name (pyarrow). Only one piece is in memory at a time.
    The pieces go to a temporary file beside ``path``, renamed into place once the last is
    written: a failed or interrupted forecast leaves the previous file, never part of a table.
    Returns the path and the number of rows written."""
    path = Path(path)
    parquet = path.suffix.lower() in (".parquet", ".pq")
    if parquet and not _has_pyarrow():
        raise DataError(f"writing {str(path)!r} needs pyarrow: pip install pyarrow")
    rows, writer, pieces = 0, None, 0
    with atomic_path(path) as temp:
        try:
            for pieces, piece in enumerate(frames, start=1):
                if parquet:
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    table = pa.Table.from_pandas(piece, preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(temp, table.schema)
                    writer.write_table(table.cast(writer.schema))
                else:
                    piece.to_csv(temp, mode="w" if pieces == 1 else "a", header=pieces == 1, index=False)
                rows += len(piece)
        finally:
            if writer is not None:
                writer.close()
        if not pieces:
            temp.unlink()  # no piece, no file (as before): an empty file is no table
    return path, rows
