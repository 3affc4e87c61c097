"""Timestamp cells as one naive time line: text dates (day/month order), time zones and
daylight saving, and readings at irregular times put on a grid. Imports only the error module
and :mod:`.frequency`; :mod:`.dataframes` and :mod:`.tables` read every timestamp through here.

The rules, as the readers document them:

* **day/month order** of text dates such as ``01/03/2021``: read day-first when some date has
  a first number above 12 (``13/03/2021``), month-first when some second number is; when no
  date tells and the two readings differ, a :class:`DataError` asks for ``date_format=``
  (``--date-format``), e.g. ``'%d/%m/%Y'``; a given format is used as is;
* **time zones** (``...+01:00``, ``...Z``, or a tz-aware column): ``timezone="utc"`` (the
  default) converts every timestamp to UTC and drops the zone, so a daylight-saving change
  keeps a regular grid (no hour repeated or skipped); ``timezone="local"`` keeps each
  timestamp's local wall time (what the readers did before), right for daily or longer steps
  stamped at local midnight, and refused when steps are no longer than an offset change (hourly data
  across daylight saving: an hour would repeat or go missing); naive timestamps are left as they are.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import pandas as pd

from .errors import DataError
from .frequency import to_offset

TIMEZONES = ("utc", "local")
_DAY_MONTH = r"^\s*(\d{1,2})([/.\-])(\d{1,2})[/.\-](\d{2,4})\b"
_OFFSET = r"\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)\s*$"


@dataclass
class Parsed:
    """A column's timestamps as int64 nanoseconds on a naive time line, and whether their
    UTC offset changed (a daylight-saving change) -- the grid check's advice mentions it."""

    ns: np.ndarray
    offset_changes: bool = False


def check_timezone(timezone: str) -> str:
    if timezone not in TIMEZONES:
        raise DataError(f"timezone= must be 'utc' or 'local', got {timezone!r}", field="timezone")
    return timezone


def parse_timestamps(column: pd.Series, name: str, date_format: Optional[str] = None, timezone: str = "utc") -> Parsed:
    """``column``'s timestamps by the module's rules; a :class:`DataError` naming the column
    for text that is no timestamp, ambiguous day/month dates or a format that does not fit.
    Missing cells stay NaT (the callers name the row)."""
    check_timezone(timezone)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return _zoned(column.dt.tz_convert("UTC").dt.tz_localize(None), column.dt.tz_localize(None), timezone)
    if pd.api.types.is_datetime64_dtype(column.dtype):
        return Parsed(pd.DatetimeIndex(column).as_unit("ns").asi8)
    if date_format is not None:
        return _with_format(column, name, date_format, timezone)
    dayfirst = _day_first(column, name)
    try:
        parsed = _parse(column, dayfirst)
    except (ValueError, TypeError, OverflowError) as error:
        if "utc=True" not in str(error) and "mixed time zones" not in str(error):
            raise DataError(
                f"cannot parse the timestamps in column {name!r}: {error}", field="timestamp_column"
            ) from None
        parsed = None  # several UTC offsets (a daylight-saving change): read below
    if parsed is not None and isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return _zoned(parsed.dt.tz_convert("UTC").dt.tz_localize(None), parsed.dt.tz_localize(None), timezone)
    if parsed is not None and pd.api.types.is_datetime64_dtype(parsed.dtype):
        return Parsed(pd.DatetimeIndex(parsed).as_unit("ns").asi8)
    utc = _parse(column, dayfirst, utc=True).dt.tz_localize(None)
    local = _parse(_strip_offsets(column), dayfirst)
    return _zoned(utc, local, timezone)


def _parse(column: pd.Series, dayfirst: bool, utc: bool = False) -> pd.Series:
    """pandas' parse (one format inferred from the first cell, else each cell on its own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=(FutureWarning, UserWarning))
        try:
            return pd.to_datetime(column, dayfirst=dayfirst, utc=utc)
        except (ValueError, TypeError) as error:
            if "utc=True" in str(error):
                raise
            return pd.to_datetime(column, format="mixed", dayfirst=dayfirst, utc=utc)


def _strip_offsets(column: pd.Series) -> pd.Series:
    """Text timestamps without their UTC offsets: each one's local wall time."""
    return column.astype(str).str.replace(_OFFSET, "", regex=True).where(column.notna(), None)


def _zoned(utc: pd.Series, local: pd.Series, timezone: str) -> Parsed:
    """UTC or local wall time, by ``timezone``; local is refused across an offset change
    for steps under a day."""
    utc_ns = pd.DatetimeIndex(utc).as_unit("ns").asi8
    local_ns = pd.DatetimeIndex(local).as_unit("ns").asi8
    valid = ~pd.isna(utc).to_numpy()
    offsets = np.unique(local_ns[valid] - utc_ns[valid])
    changes = len(offsets) > 1
    if timezone == "utc":
        return Parsed(utc_ns, changes)
    if changes:
        instants = np.unique(utc_ns[valid])
        if len(instants) > 1 and np.diff(instants).min() <= offsets[-1] - offsets[0]:
            hours = ", ".join(f"{o / 3.6e12:+g}h" for o in offsets[:4])
            raise DataError(
                f"the timestamps' UTC offset changes ({hours}: daylight saving) and steps as short "
                "as the change: in local wall time an hour would repeat or go missing; "
                "use timezone= utc (the default)",
                field="timezone",
            )
    return Parsed(local_ns, changes)


def _day_first(column: pd.Series, name: str) -> bool:
    """Whether text dates ``NN/NN/YYYY`` are day-first; ambiguous ones are a DataError."""
    if column.dtype != object and not pd.api.types.is_string_dtype(column.dtype):
        return False
    text = pd.Series(pd.unique(column.dropna().astype(str)))
    parts = text.str.extract(_DAY_MONTH)
    found = parts[0].notna()
    if not found.any():
        return False
    first, second = parts.loc[found, 0].astype(int), parts.loc[found, 2].astype(int)
    if (second > 12).any():
        return False
    if (first > 12).any():
        return True
    differ = first != second
    if not differ.any():
        return False  # 01/01, 02/02 ...: both readings agree
    example = text[found][differ].iloc[0]
    sep = parts.loc[found, 1].iloc[0]
    raise DataError(
        f"column {name!r}: dates such as {example.strip()!r} read day/month or month/day give different dates, "
        f"and no date tells which (no number above 12); pass date_format= "
        f"('%d{sep}%m{sep}%Y' or '%m{sep}%d{sep}%Y')",
        field="date_format",
    )


def _with_format(column: pd.Series, name: str, date_format: str, timezone: str) -> Parsed:
    """Every cell read with ``date_format``; the first that does not fit is named."""
    try:
        parsed = pd.to_datetime(column, format=date_format, errors="coerce", utc="%z" in date_format)
    except (ValueError, TypeError) as error:
        raise DataError(f"date_format= {date_format!r} is not a usable format: {error}", field="date_format") from None
    bad = parsed.isna().to_numpy() & column.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"column {name!r}: {column.iloc[row]!r} (row {column.index[row]!r}) does not match "
            f"date_format= {date_format!r}",
            field="date_format",
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        local = pd.to_datetime(_strip_offsets(column), format=date_format.replace("%z", "").strip())
        return _zoned(parsed.dt.tz_localize(None), local, timezone)
    return Parsed(pd.DatetimeIndex(parsed).as_unit("ns").asi8)


def resample_rows(
    codes: np.ndarray, times: np.ndarray, values: np.ndarray, freq: str
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows put on the ``freq`` grid: each timestamp moved to the start of its step (pandas'
    bins and labels, as ``DataFrame.resample(freq)``), the values of one item's step averaged
    (their mean; missing values ignored, a step of only missing values stays missing). Returns
    (codes, times, values) sorted by item and time, one row per item and step."""
    offset = to_offset(freq)
    frame = pd.DataFrame({"code": codes, "time": pd.DatetimeIndex(times.view("datetime64[ns]")), "value": values})
    means = frame.groupby(["code", pd.Grouper(key="time", freq=offset)], sort=True)["value"].mean()
    code = means.index.get_level_values(0).to_numpy(dtype=np.int64)
    stamp = pd.DatetimeIndex(means.index.get_level_values(1)).as_unit("ns").asi8
    return code, stamp, means.to_numpy(dtype=np.float64)
