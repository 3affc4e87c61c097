"""Input checks both models run before any training or prediction: bad data becomes one
error naming the item, the field and the problem, never a stack trace from deep inside
torch, pandas or GluonTS; valid data in the forms GluonTS users produce is normalised.

Normalised (works): targets as Python lists or float64/int arrays (cast to float32), a
``start`` given as a ``pd.Timestamp``, ``datetime`` or string when the frequency is known.

Refused (:class:`DataError`): no ``target``; text in it; the wrong number of dimensions;
length 0; no observed value at all (every value NaN); ``±inf`` (NaN marks a missing value:
an infinity is almost always an upstream division by zero, so it is named with its
position rather than silently dropped); magnitudes beyond float32; a start without a
frequency.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, Optional

import numpy as np
import pandas as pd
from gluonts.core.component import validated
from gluonts.dataset.common import DataEntry
from gluonts.transform import MapTransformation

from .constants import FLOAT32_MAX, MAX_MAGNITUDE
from .errors import DataError
from .frequency import make_period, period_frequency

__all__ = [  # DataError and the bounds are re-exported: they were defined here first
    "FLOAT32_MAX",
    "MAX_MAGNITUDE",
    "DataError",
    "ValidateSeries",
    "check_dataset",
    "check_entry",
    "check_positive",
    "describe",
]


def check_positive(**values: Any) -> None:
    """Each named argument is an integer >= 1 (``None`` is allowed: it means a default)."""
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def describe(entry: DataEntry, index: Optional[int]) -> str:
    """How an error names a series: its position and its ``item_id``."""
    name = entry.get("item_id") if isinstance(entry, dict) else None
    where = f"series {index}" if index is not None else "a series"
    return f"{where} (item_id={name!r})" if name is not None else where


def _as_period(start: Any, freq: Optional[str], who: str) -> pd.Period:
    if isinstance(start, pd.Period):
        return start
    if isinstance(start, (pd.Timestamp, _dt.datetime, _dt.date, str, np.datetime64)):
        if freq is None:
            raise DataError(
                f"{who}: 'start' {start!r} carries no frequency; give it as a pandas Period "
                "(pd.Period('2020-01-01', freq='h')), or tell the estimator freq=",
                field="freq",
            )
        try:
            return make_period(start, period_frequency(freq))
        except (ValueError, TypeError) as error:
            raise DataError(
                f"{who}: cannot read 'start' {start!r} as a time of frequency {freq!r}: {error}", field="start"
            ) from None
    raise DataError(
        f"{who}: 'start' must be a pandas Period carrying the frequency "
        f"(e.g. pd.Period('2020-01-01', freq='h')), got {type(start).__name__}",
        field="start",
    )


def check_entry(
    entry: DataEntry,
    index: Optional[int] = None,
    target_dim: Optional[int] = None,
    freq: Optional[str] = None,
) -> DataEntry:
    """The entry with its target as float32 and its start as a ``pd.Period``, or a :class:`DataError`.

    ``target_dim`` None expects a univariate target (shape ``(T,)``); an integer ``D``
    expects GluonTS's multivariate form ``(D, T)``. ``freq`` turns a timestamp or string
    ``start`` into a period.
    """
    who = describe(entry, index)
    if not isinstance(entry, dict):
        raise DataError(f"{who}: a data entry must be a dict with 'start' and 'target', got {type(entry).__name__}")
    if "target" not in entry:
        raise DataError(f"{who} has no 'target' field", field="target")
    try:
        target64 = np.asarray(entry["target"], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{who}: 'target' holds non-numeric values", field="target") from None
    expected_ndim = 1 if target_dim is None else 2
    if target64.ndim != expected_ndim:
        shape = "(time,)" if target_dim is None else f"({target_dim}, time)"
        hint = (
            " (one value per time step: this model is univariate)" if target_dim is None and target64.ndim == 2 else ""
        )
        raise DataError(f"{who}: 'target' must have shape {shape}, got shape {target64.shape}{hint}", field="target")
    if target_dim is not None and target64.shape[0] != target_dim:
        raise DataError(
            f"{who}: 'target' has {target64.shape[0]} variables, the model expects {target_dim}", field="target"
        )
    if target64.shape[-1] == 0:
        raise DataError(f"{who}: 'target' is empty (length 0)", field="target")
    infinite = np.isinf(target64)
    if infinite.any():
        position = tuple(int(i) for i in np.argwhere(infinite)[0])
        where = position[0] if len(position) == 1 else position
        raise DataError(
            f"{who}: 'target' holds an infinite value at position {where} "
            f"({int(infinite.sum())} in all); mark missing values with NaN",
            field="target",
        )
    finite = target64[~np.isnan(target64)]
    if finite.size == 0:
        raise DataError(
            f"{who}: 'target' has no observed value (all {target64.shape[-1]} values are NaN)", field="target"
        )
    if np.abs(finite).max() > MAX_MAGNITUDE:
        raise DataError(
            f"{who}: 'target' reaches {np.abs(finite).max():.3g}, beyond what float32 models can hold "
            f"(|value| <= {MAX_MAGNITUDE:.1e}); rescale the data",
            field="target",
        )
    normalised = dict(entry)
    normalised["target"] = target64.astype(np.float32)
    normalised["start"] = _as_period(entry.get("start"), freq, who)
    return normalised


def check_dataset(
    dataset: Optional[Iterable],
    role: str = "training",
    target_dim: Optional[int] = None,
    freq: Optional[str] = None,
    min_length: int = 1,
) -> int:
    """Every entry valid, at least one entry, and one at least ``min_length`` long; returns the count.

    GluonTS cycles over a training set forever: an empty one, or one without any series
    long enough, would hang rather than fail.
    """
    if dataset is None:
        raise DataError(f"no {role} dataset given")
    count, longest = 0, 0
    for count, entry in enumerate(dataset, start=1):
        checked = check_entry(entry, count - 1, target_dim=target_dim, freq=freq)
        longest = max(longest, checked["target"].shape[-1])
    if count == 0:
        raise DataError(f"the {role} dataset is empty")
    if longest < min_length:
        raise DataError(
            f"no {role} series has {min_length} or more time steps (the longest has {longest}); "
            "nothing to learn from (series shorter than the context are fine: they are padded)"
        )
    return count


class ValidateSeries(MapTransformation):
    """First step of both models' transformation chains, at training and at prediction:
    normalise each entry (float32 target, period start) or reject it with a clear error."""

    @validated()
    def __init__(self, target_dim: Optional[int] = None, freq: Optional[str] = None) -> None:
        self.target_dim = target_dim
        self.freq = freq

    def map_transform(self, data: DataEntry, is_train: bool) -> DataEntry:
        return check_entry(data, target_dim=self.target_dim, freq=self.freq)
