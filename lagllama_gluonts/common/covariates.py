"""Covariate checks both models run, in their transformation chains and before training.

An entry's ``feat_dynamic_real`` (known over the horizon), ``past_feat_dynamic_real`` (known
only in the past), ``feat_static_real`` and ``feat_static_cat`` are checked against the
model's covariate configuration: present when the model was built with them, numeric, of the
right count, long enough (the target's length; at prediction the known ones also cover the
horizon), complete and finite, within float32, and categorical codes inside their
cardinality. A problem is one :class:`DataError` naming the item, the field and the problem,
never a shape error from deep inside numpy, GluonTS's splitter or torch.

What comes out is the entry with the fields the model uses as float32 (codes as int64) under
GluonTS's names, the dynamic ones cut to what the model reads (so that stacking them with the
calendar features never meets a length mismatch), and the fields it does not use dropped, as
GluonTS's estimators drop them.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

import numpy as np
from gluonts.core.component import validated
from gluonts.dataset.common import DataEntry
from gluonts.dataset.field_names import FieldName
from gluonts.transform import MapTransformation

from .constants import MAX_MAGNITUDE
from .errors import DataError
from .validation import describe

COVARIATE_FIELDS = (
    FieldName.FEAT_DYNAMIC_REAL,
    FieldName.PAST_FEAT_DYNAMIC_REAL,
    FieldName.FEAT_STATIC_REAL,
    FieldName.FEAT_STATIC_CAT,
)


def _numbers(entry: DataEntry, field: str, who: str) -> np.ndarray:
    try:
        return np.asarray(entry[field], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{who}: {field!r} holds non-numeric values", field=field) from None


def check_dynamic(
    entry: DataEntry, field: str, rows: int, needed: int, who: str, what: str, horizon: int = 0
) -> np.ndarray:
    """``entry[field]`` as float32 of shape ``(rows, needed)`` (longer ones are cut), else a DataError;
    ``horizon``: the steps of ``needed`` past the target (known-future covariates at prediction)."""
    if field not in entry or entry[field] is None:
        raise DataError(
            f"{who} has no {field!r} field; the model was built with {rows} {what} covariate(s) (num_{field}={rows})",
            field=field,
        )
    values = _numbers(entry, field, who)
    if values.ndim == 1 and rows == 1:
        values = values[None]
    if values.ndim != 2:
        raise DataError(f"{who}: {field!r} must have shape ({rows}, time), got shape {values.shape}", field=field)
    if values.shape[0] != rows:
        raise DataError(
            f"{who}: {field!r} has {values.shape[0]} rows, the model expects {rows} (num_{field})", field=field
        )
    if values.shape[1] < needed:
        raise DataError(
            f"{who}: {field!r} covers {values.shape[1]} time steps, {needed} are needed"
            + (
                " (the target's and the horizon's: known-future covariates must extend over the forecast horizon)"
                if horizon
                else " (as many as the target)"
            ),
            field=field,
        )
    values = values[:, :needed]
    _check_values(values, field, who)
    return values.astype(np.float32)


def _check_values(values: np.ndarray, field: str, who: str) -> None:
    """Complete, finite and within float32: a covariate has no missing-value mask."""
    empty = np.flatnonzero(np.isnan(values).all(axis=1)) if values.shape[1] else []
    if len(empty):
        raise DataError(
            f"{who}: {field!r} row {int(empty[0])} has no value at all (all {values.shape[1]} are missing); "
            "drop that covariate or give it data",
            field=field,
        )
    bad = ~np.isfinite(values)
    if bad.any():
        row, step = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{who}: {field!r} holds a missing or infinite value at row {row}, time step {step} "
            f"({int(bad.sum())} in all); covariates must be complete (fill them first)",
            field=field,
        )
    if values.size and np.abs(values).max() > MAX_MAGNITUDE:
        row, step = (int(i) for i in np.argwhere(np.abs(values) > MAX_MAGNITUDE)[0])
        raise DataError(
            f"{who}: {field!r} reaches {values[row, step]:.3g} at row {row}, time step {step}, beyond what "
            f"float32 models can hold (|value| <= {MAX_MAGNITUDE:.1e}); rescale it",
            field=field,
        )


def check_static(entry: DataEntry, field: str, count: int, who: str) -> np.ndarray:
    """``entry[field]`` as ``count`` finite float64 values, else a DataError."""
    if field not in entry or entry[field] is None:
        raise DataError(f"{who} has no {field!r} field; the model was built with num_{field}={count}", field=field)
    values = _numbers(entry, field, who).reshape(-1)
    if values.shape[0] != count:
        raise DataError(
            f"{who}: {field!r} has {values.shape[0]} values, the model expects {count} (num_{field})", field=field
        )
    if not np.isfinite(values).all():
        raise DataError(f"{who}: {field!r} holds a missing or infinite value", field=field)
    return values


def check_codes(codes: np.ndarray, cardinality: List[int], who: str) -> np.ndarray:
    """Static categorical ``codes`` as int64, each an integer in ``[0, cardinality[i])``."""
    for i, (code, size) in enumerate(zip(codes, cardinality)):
        if code != int(code) or not 0 <= code < size:
            raise DataError(
                f"{who}: 'feat_static_cat'[{i}] is {code:g}; it must be an integer code in "
                f"[0, {size}) (cardinality[{i}] = {size})",
                field=FieldName.FEAT_STATIC_CAT,
            )
    return codes.astype(np.int64)


class CheckCovariates(MapTransformation):
    """Check each entry's covariates against the model's configuration; keep what it uses.

    At prediction (``is_train=False``) ``feat_dynamic_real`` must reach ``prediction_length``
    steps beyond the target; in training, as far as the target. Fields the model was not
    built with are dropped, as GluonTS's estimators do.
    """

    @validated()
    def __init__(
        self,
        prediction_length: int,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 0,
        num_feat_static_cat: int = 0,
        cardinality: Optional[List[int]] = None,
    ) -> None:
        self.prediction_length = prediction_length
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.num_feat_static_real = num_feat_static_real
        self.num_feat_static_cat = num_feat_static_cat
        self.cardinality = list(cardinality or [])

    @classmethod
    def for_estimator(cls, estimator) -> "CheckCovariates":
        """The check of an estimator's covariate configuration (both models spell it alike)."""
        names = ("num_feat_dynamic_real", "num_past_feat_dynamic_real", "num_feat_static_real", "num_feat_static_cat")
        settings = {name: getattr(estimator, name) for name in names}
        return cls(prediction_length=estimator.prediction_length, cardinality=estimator.cardinality, **settings)

    def map_transform(self, data: DataEntry, is_train: bool) -> DataEntry:
        return self.check(data, is_train)

    def check(self, data: DataEntry, is_train: bool, index: Optional[int] = None) -> DataEntry:
        """``data`` with its covariates checked, under GluonTS's field names."""
        who = describe(data, index)
        length = np.asarray(data["target"]).shape[-1]
        out = {k: v for k, v in data.items() if k not in COVARIATE_FIELDS}
        if self.num_feat_dynamic_real:
            horizon = 0 if is_train else self.prediction_length
            out[FieldName.FEAT_DYNAMIC_REAL] = check_dynamic(
                data,
                FieldName.FEAT_DYNAMIC_REAL,
                self.num_feat_dynamic_real,
                length + horizon,
                who,
                "known-future",
                horizon,
            )
        if self.num_past_feat_dynamic_real:
            out[FieldName.PAST_FEAT_DYNAMIC_REAL] = check_dynamic(
                data, FieldName.PAST_FEAT_DYNAMIC_REAL, self.num_past_feat_dynamic_real, length, who, "past-only"
            )
        if self.num_feat_static_real:
            values = check_static(data, FieldName.FEAT_STATIC_REAL, self.num_feat_static_real, who)
            out[FieldName.FEAT_STATIC_REAL] = values.astype(np.float32)
        if self.num_feat_static_cat:
            codes = check_static(data, FieldName.FEAT_STATIC_CAT, self.num_feat_static_cat, who)
            out[FieldName.FEAT_STATIC_CAT] = check_codes(codes, self.cardinality, who)
        return out

    def check_dataset(self, dataset: Iterable[DataEntry], is_train: bool = True) -> None:
        """Every entry of ``dataset``, before any training starts."""
        for index, entry in enumerate(dataset):
            self.check(entry, is_train, index)


def covariates_of(dataset: Iterable[DataEntry]) -> Dict[str, Any]:
    """The covariate configuration a dataset carries (``derive_auto_fields``): the number of rows of
    each dynamic field and of values of each static one (of its first entry), and per static
    categorical feature its largest code + 1 over the whole dataset (codes need not all occur);
    ``target_dim`` for a multivariate target."""
    config: Dict[str, Any] = {}
    largest: Optional[np.ndarray] = None
    for index, entry in enumerate(dataset):
        if index == 0:
            for field in (FieldName.FEAT_DYNAMIC_REAL, FieldName.PAST_FEAT_DYNAMIC_REAL):
                values = entry.get(field)
                config[f"num_{field}"] = 0 if values is None else int(np.atleast_2d(np.asarray(values)).shape[0])
            values = entry.get(FieldName.FEAT_STATIC_REAL)
            config["num_feat_static_real"] = 0 if values is None else int(np.asarray(values).reshape(-1).shape[0])
            target = np.asarray(entry["target"])
            if target.ndim == 2:
                config["target_dim"] = int(target.shape[0])
        codes = entry.get(FieldName.FEAT_STATIC_CAT)
        if codes is not None:
            who = describe(entry, index)
            codes = _numbers(entry, FieldName.FEAT_STATIC_CAT, who).reshape(-1)
            if not np.isfinite(codes).all() or (codes != np.round(codes)).any() or (codes < 0).any():
                raise DataError(
                    f"{who}: 'feat_static_cat' must hold integer codes >= 0, got {codes.tolist()}",
                    field=FieldName.FEAT_STATIC_CAT,
                )
            codes = codes.astype(np.int64)
            largest = codes if largest is None else np.maximum(largest, codes[: len(largest)])
    config["num_feat_static_cat"] = 0 if largest is None else int(largest.shape[0])
    config["cardinality"] = None if largest is None else [int(c) + 1 for c in largest]
    return config
