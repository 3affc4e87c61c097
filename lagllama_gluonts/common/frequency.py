"""Frequencies: pandas aliases old and new (``H``/``h``, ``T``/``min``, ``M``/``ME``, ``MS``,
``Q``/``QE``, ``QS``, ``A``/``Y``/``YE``, ``YS``, ``B``, ``W-SUN`` ...), the period alias
GluonTS's ``start`` takes for each, and inference from timestamps."""

from __future__ import annotations

import warnings
from collections import Counter

import pandas as pd

from .errors import DataError

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def to_offset(freq: str) -> pd.DateOffset:
    """The pandas offset of an alias, old or new spelling, else a :class:`DataError`."""
    try:
        return pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError):
        raise DataError(
            f"unknown frequency {freq!r}: use a pandas offset alias such as 'h', 'D', 'W', 'MS', 'ME', '15min'",
            field="freq",
        ) from None


def period_frequency(freq: str) -> str:
    """The frequency a ``pd.Period`` (GluonTS's ``start``) takes for data on grid ``freq``.

    Periods have no month/quarter/year *start* or *end* variants: month-start ``MS``,
    month-end ``ME`` (pandas >= 2.2) and business-month ``BMS``/``BME`` data are all monthly
    periods ``M``; quarters and years keep their fiscal anchor (``QS-JAN`` is ``Q-DEC``).
    """
    offset = to_offset(freq)
    n = getattr(offset, "n", 1)
    prefix = "" if n == 1 else str(n)
    off = pd.tseries.offsets
    if isinstance(offset, (off.MonthBegin, off.MonthEnd, off.BusinessMonthBegin, off.BusinessMonthEnd)):
        return f"{prefix}M"
    if isinstance(offset, (off.QuarterEnd, off.BQuarterEnd)):
        return f"{prefix}Q-{_MONTHS[(offset.startingMonth - 1) % 12]}"
    if isinstance(offset, (off.QuarterBegin, off.BQuarterBegin)):
        # quarters starting in month m end their fiscal year in month m - 1 (of the next cycle)
        return f"{prefix}Q-{_MONTHS[(offset.startingMonth - 2) % 12]}"
    if isinstance(offset, (off.YearEnd, off.BYearEnd)):
        return f"{prefix}Y-{_MONTHS[(offset.month - 1) % 12]}"
    if isinstance(offset, (off.YearBegin, off.BYearBegin)):
        return f"{prefix}Y-{_MONTHS[(offset.month - 2) % 12]}"
    try:
        make_period("2000-01-03", offset.freqstr)
    except (ValueError, TypeError):
        raise DataError(
            f"frequency {freq!r} has no period equivalent that GluonTS can use as the series' "
            "start; resample the data to a regular frequency such as 'D', 'W' or 'M'",
            field="freq",
        ) from None
    return offset.freqstr


def make_period(value, freq: str) -> pd.Period:
    """``pd.Period(value, freq)``, without pandas' warning that business-day periods are
    deprecated: GluonTS represents business-day series with them, and a warning per series
    tells the user nothing they can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BDay freq is deprecated", category=FutureWarning)
        return pd.Period(value, freq=freq)


def infer_frequency(index: pd.DatetimeIndex, freq_option: str = "--freq") -> str:
    """The grid of sorted, unique timestamps: pandas' inference on the whole index, else the
    alias most short gap-free runs agree on (so a few missing steps do not defeat it).

    A :class:`DataError` (``field="freq"``) when it cannot tell; its message quotes
    ``freq_option`` as the way to give the frequency (``"freq="`` for the Python API)."""
    if len(index) < 3:
        raise DataError(f"too few timestamps ({len(index)}) to infer the frequency; pass {freq_option}", field="freq")
    freq = pd.infer_freq(index)
    if freq is None:
        runs = Counter()
        step = max(1, (len(index) - 4) // 200)  # at most ~200 probes on a long table
        for i in range(0, len(index) - 4, step):
            guess = pd.infer_freq(index[i : i + 5])
            if guess is not None:
                runs[guess] += 1
        if runs:
            freq = runs.most_common(1)[0][0]
    if freq is None:
        raise DataError(
            f"cannot infer a regular frequency from the timestamps (irregular steps?); pass {freq_option}, "
            "missing steps then become missing values",
            field="freq",
        )
    return to_offset(freq).freqstr


def future_timestamps(last: pd.Timestamp, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps after ``last`` on the user's own grid (e.g. month ends)."""
    return pd.date_range(last, periods=horizon + 1, freq=to_offset(freq))[1:]


def check_frequency(freq) -> str:
    """``freq`` if pandas knows it as an offset alias (old or new spelling), else a :class:`DataError`."""
    to_offset(freq)
    return str(freq)
