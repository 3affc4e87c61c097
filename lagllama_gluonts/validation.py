"""Input checks that turn bad data into errors naming the problem, not deep stack traces."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd
from gluonts.core.component import validated
from gluonts.dataset.common import DataEntry, Dataset
from gluonts.transform import MapTransformation


class DataError(ValueError):
    """A dataset or series the models cannot use, with the reason in the message."""


def positive_int(text: str) -> int:
    """argparse type of the command lines: an integer >= 1, else a message naming the input."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def check_frequency(freq: Any) -> str:
    """Return ``freq`` if pandas knows it as an offset alias, else raise a clear error."""
    from pandas.tseries.frequencies import to_offset

    try:
        to_offset(freq)
    except (ValueError, TypeError):
        raise DataError(
            f"unknown frequency {freq!r}: use a pandas offset alias such as 'h', 'D', 'W', 'MS', '15min'"
        ) from None
    return str(freq)


def _describe(entry: DataEntry, index: Optional[int]) -> str:
    name = entry.get("item_id")
    where = f"series {index}" if index is not None else "a series"
    return f"{where} (item_id={name!r})" if name is not None else where


def check_entry(entry: DataEntry, index: Optional[int] = None) -> None:
    """Raise :class:`DataError` if one dataset entry cannot be forecast.

    NaNs are allowed (treated as missing); infinities, non-numeric values, a 2-D target
    and a start without a frequency are not.
    """
    who = _describe(entry, index)
    if "target" not in entry:
        raise DataError(f"{who} has no 'target' field")
    try:
        target = np.asarray(entry["target"], dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{who}: target holds non-numeric values") from None
    if target.ndim != 1:
        raise DataError(f"{who}: target must be one-dimensional (univariate), got shape {target.shape}")
    if target.size == 0:
        raise DataError(f"{who}: target is empty")
    if np.isinf(target).any():
        raise DataError(f"{who}: target contains infinite values (NaN marks a missing value)")
    start = entry.get("start")
    if not isinstance(start, pd.Period):
        raise DataError(
            f"{who}: 'start' must be a pandas Period carrying the frequency "
            f"(e.g. pd.Period('2020-01-01', freq='h')), got {type(start).__name__}"
        )


def check_dataset(dataset: Dataset, role: str = "training") -> None:
    """Every entry valid and at least one entry."""
    count = 0
    for count, entry in enumerate(dataset, start=1):
        check_entry(entry, count - 1)
    if count == 0:
        raise DataError(f"the {role} dataset is empty")


class ValidateSeries(MapTransformation):
    """First step of the transformation chain: reject unusable series with a clear error."""

    @validated()
    def __init__(self) -> None:
        pass

    def map_transform(self, data: DataEntry, is_train: bool) -> DataEntry:
        check_entry(data)
        return data
