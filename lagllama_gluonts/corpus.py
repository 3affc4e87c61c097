"""Single real series stored as CSV (a timestamp column and a value column) as GluonTS entries."""

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

import numpy as np
import pandas as pd

from .validation import DataError, check_frequency


def infer_frequency(index: pd.DatetimeIndex) -> str:
    """The series' frequency: pandas' inference, else the most common step."""
    freq = pd.infer_freq(index[: min(len(index), 1000)]) if len(index) >= 3 else None
    if freq is None:
        steps = pd.Series(index[1:] - index[:-1]).value_counts()
        if steps.empty:
            raise DataError("cannot infer a frequency from fewer than two timestamps")
        freq = pd.tseries.frequencies.to_offset(steps.index[0]).freqstr
    return freq


def period_frequency(freq: str) -> str:
    """A frequency valid for ``pd.Period``: period arithmetic has no month/quarter/year *start*."""
    try:
        pd.Period("2000-01-01", freq=freq)
        return freq
    except ValueError:
        for start, period in (("MS", "M"), ("QS", "Q"), ("YS", "Y"), ("AS", "Y"), ("BMS", "M")):
            if freq.startswith(start) or freq.endswith(start):
                return period
        raise DataError(f"frequency {freq!r} has no period equivalent") from None


def read_series_csv(
    path: Union[str, Path],
    time_column: str = "ds",
    value_column: str = "y",
    freq: Optional[str] = None,
    item_id: Optional[str] = None,
) -> Dict:
    """One GluonTS entry from a CSV, on a regular grid (gaps become NaN, i.e. missing)."""
    path = Path(path)
    frame = pd.read_csv(path)
    for column in (time_column, value_column):
        if column not in frame.columns:
            raise DataError(f"{path.name}: no column {column!r} (columns: {list(frame.columns)})")
    times = pd.to_datetime(frame[time_column], errors="coerce")
    if times.isna().any():
        raise DataError(f"{path.name}: unparseable timestamps in column {time_column!r}")
    values = pd.to_numeric(frame[value_column], errors="coerce")
    series = pd.Series(values.to_numpy(dtype=np.float32), index=pd.DatetimeIndex(times))
    series = series[~series.index.duplicated(keep="first")].sort_index()
    freq = check_frequency(freq or infer_frequency(series.index))
    grid = pd.date_range(series.index[0], series.index[-1], freq=freq)
    series = series.reindex(grid)
    return {
        "start": pd.Period(grid[0], freq=period_frequency(freq)),
        "target": series.to_numpy(dtype=np.float32),
        "item_id": item_id or path.stem,
    }


def read_corpus(paths: Iterable[Union[str, Path]]) -> List[Dict]:
    return [read_series_csv(p) for p in paths]
