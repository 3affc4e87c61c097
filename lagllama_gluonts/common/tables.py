"""A user's table (a timestamp column and numeric columns) as regular GluonTS series, and
forecasts written back as a table: the one reader both models' CLIs, pretraining and the
benchmarks use.

What it accepts, so that files as pandas users write them just work:

* separators ``,`` ``;`` tab and ``|``, sniffed from the first lines (or given);
* timestamps in any format ``pd.to_datetime`` parses, time zones dropped to local wall time,
  rows in any order (sorted here);
* every pandas frequency alias, old and new (``H``/``h``, ``T``/``min``, ``M``/``ME``, ``MS``,
  ``Q``/``QE``, ``QS``, ``A``/``Y``/``YE``, ``YS``, ``B``, ``W-SUN`` ...), inferred from the
  timestamps even when some steps are missing, and mapped to the period frequency GluonTS's
  ``start`` needs (month-, quarter- and year-*start* data have no period alias of their own:
  ``MS`` becomes ``M``);
* missing steps on the grid and blank cells become NaN, which both models treat as unobserved.

What it refuses, with one line naming the file, the column or row and the problem
(:class:`~lagllama_gluonts.common.validation.DataError`): a missing file or column,
unparsable or missing timestamps, duplicate timestamps, text in a numeric column, a
timestamp off the frequency's grid, a frequency that cannot be inferred, a target without
any value.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from .frequency import future_timestamps, infer_frequency, make_period, period_frequency, to_offset
from .validation import DataError

PathLike = Union[str, Path]

# Column names taken as the timestamps when none is named (else the first column).
TIME_COLUMN_NAMES = ("ds", "date", "datetime", "timestamp", "time")
SEPARATORS = ",;\t|"


# --------------------------------------------------------------------------- reading


def sniff_separator(path: PathLike) -> str:
    """The column separator of a delimited text file, from its first lines."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        sample = "".join(handle.readline() for _ in range(20))
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","  # one column, or nothing to tell: pandas' default


def read_frame(path: PathLike, sep: Optional[str] = None, **read_csv_kwargs) -> pd.DataFrame:
    """The raw table, with clear errors for a missing, empty or unreadable file: delimited
    text, or Parquet (a ``.parquet`` file, read with pyarrow when it is installed)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a directory, not a table file")
    if not path.is_file():
        raise DataError(f"table file not found: {str(path)!r}")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DataError(f"reading {str(path)!r} needs pyarrow: pip install pyarrow") from None
        try:
            frame = pd.read_parquet(path, engine="pyarrow")
        except Exception as error:  # pyarrow's errors for a broken or foreign file
            raise DataError(f"cannot read {str(path)!r} as Parquet: {error}") from None
        if not isinstance(frame.index, pd.RangeIndex):  # e.g. timestamps saved as the index
            frame = frame.reset_index()
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame
    try:
        frame = pd.read_csv(path, sep=sep or sniff_separator(path), **read_csv_kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{str(path)!r} is empty") from None
    except Exception as error:  # pandas has many parser error types
        raise DataError(f"cannot read {str(path)!r} as CSV: {error}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def guess_time_column(columns: Sequence[str]) -> str:
    """The timestamp column: one named like ``ds``/``date``, else the first column."""
    if not len(columns):
        raise DataError("the table has no columns")
    lowered = {str(c).lower(): str(c) for c in columns}
    for name in TIME_COLUMN_NAMES:
        if name in lowered:
            return lowered[name]
    return str(columns[0])


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


def numeric_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """The column as float64; text is an error naming a cell (blanks are NaN)."""
    raw = frame[column]
    values, row = to_numbers(raw)
    if row is not None:
        raise DataError(f"column {column!r} has non-numeric values, e.g. {raw.iloc[row]!r} in data row {row + 1}")
    return pd.Series(values, index=raw.index, name=column)


def parse_timestamps(frame: pd.DataFrame, column: str) -> pd.DatetimeIndex:
    try:
        times = pd.to_datetime(frame[column], format="mixed")
    except (ValueError, TypeError) as error:
        raise DataError(f"cannot parse the timestamps in column {column!r}: {error}") from None
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise DataError(f"missing timestamp in column {column!r}, data row {row + 1}")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_localize(None)
    return pd.DatetimeIndex(times)


@dataclass
class RegularTable:
    """Columns of a table on a regular time grid (NaN where a step had no row or no value).

    ``freq`` is the grid's pandas alias (``MS``, ``ME``, ``h`` ...), ``period_freq`` the one
    GluonTS's ``start`` takes (``M``, ``M``, ``h`` ...).
    """

    frame: pd.DataFrame
    freq: str
    source: str = ""

    @property
    def period_freq(self) -> str:
        return period_frequency(self.freq)

    @property
    def start(self) -> pd.Period:
        return make_period(self.frame.index[0], self.period_freq)

    def entry(self, column: str, item_id: Optional[str] = None, end: Optional[int] = None, **fields) -> Dict:
        """One GluonTS data entry of ``column`` (its first ``end`` steps), float32."""
        values = self.frame[column].to_numpy(dtype=np.float32)[:end]
        return {"start": self.start, "target": values, "item_id": item_id or column, **fields}

    def future_timestamps(self, horizon: int) -> pd.DatetimeIndex:
        return future_timestamps(self.frame.index[-1], horizon, self.freq)


def load_table(
    path: PathLike,
    columns: Sequence[str],
    time_column: Optional[str] = None,
    freq: Optional[str] = None,
    sep: Optional[str] = None,
    roles: Optional[Sequence[str]] = None,
    time_option: str = "--time-column",
    freq_option: str = "--freq",
) -> RegularTable:
    """
    Read ``columns`` of a delimited table onto a regular time grid.

    Parameters
    ----------
    path
        CSV (or other delimited text) file.
    columns
        Numeric columns to keep; the first must have at least one value.
    time_column
        The timestamp column (default: one named ds/date/datetime/timestamp/time, else the first).
    freq
        Pandas frequency alias of the grid; inferred from the timestamps when ``None``.
    sep
        Column separator; sniffed when ``None``.
    roles
        What each column is (e.g. "target", "covariate"), quoted in errors.
    time_option, freq_option
        Command-line spellings quoted in errors.
    """
    frame = read_frame(path, sep=sep)
    if frame.empty:
        raise DataError(f"{str(path)!r} has no data rows")
    names = list(frame.columns)
    time_column = time_column or guess_time_column(names)
    if time_column not in frame.columns:
        raise DataError(
            f"{Path(path).name}: no timestamp column {time_column!r} (columns: {', '.join(names)}); "
            f"name it with {time_option}"
        )
    roles = list(roles or ["value"] * len(columns))
    for name, role in zip(columns, roles):
        if name not in frame.columns:
            others = ", ".join(c for c in names if c != time_column)
            raise DataError(f"{Path(path).name}: unknown {role} column {name!r}; the table has: {others}")
        if name == time_column:
            raise DataError(f"the {role} column {name!r} is the timestamp column")

    times = parse_timestamps(frame, time_column)
    table = pd.DataFrame({name: numeric_column(frame, name) for name in dict.fromkeys(columns)})
    table.index = times
    table = table.sort_index(kind="stable")
    if table.index.has_duplicates:
        duplicate = table.index[table.index.duplicated()][0]
        rows = np.flatnonzero(times == duplicate)[:2] + 1
        raise DataError(
            f"{Path(path).name}: duplicate timestamp {duplicate} in column {time_column!r} (data rows "
            f"{rows[0]} and {rows[1]}); one row per time step is expected"
        )
    freq = to_offset(freq).freqstr if freq is not None else infer_frequency(table.index, freq_option)
    grid = pd.date_range(table.index[0], table.index[-1], freq=to_offset(freq))
    off_grid = table.index.difference(grid)
    if len(off_grid):
        raise DataError(
            f"{Path(path).name}: timestamp {off_grid[0]} does not lie on the {freq!r} grid starting at "
            f"{table.index[0]}; pass the right {freq_option}"
        )
    table = table.reindex(grid)  # missing steps: NaN, i.e. unobserved
    first = columns[0]
    if table[first].notna().sum() == 0:
        raise DataError(f"{Path(path).name}: {roles[0]} column {first!r} has no values")
    period_frequency(freq)  # a grid GluonTS cannot use as a start fails here, not later
    return RegularTable(frame=table, freq=freq, source=str(path))


def read_series_csv(
    path: PathLike,
    time_column: str = "ds",
    value_column: str = "y",
    freq: Optional[str] = None,
    item_id: Optional[str] = None,
) -> Dict:
    """One GluonTS entry from a table with a timestamp and a value column (the corpus layout)."""
    table = load_table(path, [value_column], time_column=time_column, freq=freq, roles=["value"])
    return table.entry(value_column, item_id=item_id or Path(path).stem)


def read_corpus(paths) -> List[Dict]:
    return [read_series_csv(p) for p in paths]


# --------------------------------------------------------------------------- writing


def forecast_table(forecast, quantiles: Sequence[float], timestamps: Optional[pd.DatetimeIndex] = None) -> pd.DataFrame:
    """Timestamps, mean, median and quantile columns ``q0.1`` ... of one GluonTS forecast.

    ``timestamps`` puts the rows on the user's own grid (e.g. month ends); by default the
    forecast's periods are converted to their start times.
    """
    if timestamps is None:
        index = forecast.index
        timestamps = index.to_timestamp() if isinstance(index, pd.PeriodIndex) else index
    table = pd.DataFrame({"timestamp": timestamps, "mean": forecast.mean, "median": forecast.quantile(0.5)})
    for q in quantiles:
        table[f"q{q:g}"] = forecast.quantile(q)
    return table
