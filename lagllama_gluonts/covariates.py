"""Covariates in GluonTS's fields for Lag-Llama: the checks and the data plumbing.

The network side is :class:`~lagllama_gluonts.covariate_encoder.CovariateEncoder`. Here: the entries'
``feat_dynamic_real`` (known over the horizon), ``past_feat_dynamic_real`` (known only in the
past), ``feat_static_real`` and ``feat_static_cat`` are checked against the model's covariate
configuration (a clear :class:`DataError` naming the item, the field and the problem, never a
shape error from deep inside the splitter or torch), then sliced per window with the target and
handed to the network under GluonTS's field names, as its TFT model takes them:
``feat_dynamic_real`` (past + horizon, K), ``past_feat_dynamic_real`` (past, K), the static ones
as they are. The past-only covariates' horizon part is dropped right after the split: nothing
beyond the forecast start reaches the network.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

import numpy as np
from gluonts.core.component import validated
from gluonts.dataset.common import DataEntry
from gluonts.dataset.field_names import FieldName
from gluonts.transform import MapTransformation

from .common.validation import DataError, describe

# the names the fields travel under between the check and the split: the instance splitter
# writes "past_<field>" / "future_<field>", which for GluonTS's own names would collide
# ("past_" + "feat_dynamic_real" is the past-only field's name)
KNOWN = "known_covariates"
PAST_ONLY = "past_only_covariates"


def _dynamic(entry: DataEntry, field: str, rows: int, needed: int, who: str, what: str) -> np.ndarray:
    if field not in entry or entry[field] is None:
        raise DataError(
            f"{who} has no {field!r} field; the model was built with {rows} {what} covariate(s) (num_{field}={rows})"
        )
    try:
        values = np.asarray(entry[field], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{who}: {field!r} holds non-numeric values") from None
    if values.ndim == 1 and rows == 1:
        values = values[None]
    if values.ndim != 2:
        raise DataError(f"{who}: {field!r} must have shape ({rows}, time), got shape {values.shape}")
    if values.shape[0] != rows:
        raise DataError(f"{who}: {field!r} has {values.shape[0]} rows, the model expects {rows} (num_{field})")
    if values.shape[1] < needed:
        raise DataError(
            f"{who}: {field!r} covers {values.shape[1]} time steps, {needed} are needed"
            + (
                " (the target's and the horizon's: known-future covariates must extend over the forecast horizon)"
                if field == FieldName.FEAT_DYNAMIC_REAL and needed
                else " (as many as the target)"
            )
        )
    bad = ~np.isfinite(values)
    if bad.any():
        row, step = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{who}: {field!r} holds a missing or infinite value at row {row}, time step {step} "
            f"({int(bad.sum())} in all); covariates must be complete (fill them first)"
        )
    return values.astype(np.float32)


def _static(entry: DataEntry, field: str, count: int, who: str) -> np.ndarray:
    if field not in entry or entry[field] is None:
        raise DataError(f"{who} has no {field!r} field; the model was built with num_{field}={count}")
    try:
        values = np.asarray(entry[field], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{who}: {field!r} holds non-numeric values") from None
    if values.shape[0] != count:
        raise DataError(f"{who}: {field!r} has {values.shape[0]} values, the model expects {count} (num_{field})")
    if not np.isfinite(values).all():
        raise DataError(f"{who}: {field!r} holds a missing or infinite value")
    return values


class ValidateCovariates(MapTransformation):
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

    def map_transform(self, data: DataEntry, is_train: bool) -> DataEntry:
        return self.check(data, is_train)

    def check(self, data: DataEntry, is_train: bool, index: Optional[int] = None) -> DataEntry:
        who = describe(data, index)
        length = np.asarray(data["target"]).shape[-1]
        out = {
            k: v
            for k, v in data.items()
            if k
            not in (
                FieldName.FEAT_DYNAMIC_REAL,
                FieldName.PAST_FEAT_DYNAMIC_REAL,
                FieldName.FEAT_STATIC_REAL,
                FieldName.FEAT_STATIC_CAT,
            )
        }
        if self.num_feat_dynamic_real:
            needed = length if is_train else length + self.prediction_length
            out[KNOWN] = _dynamic(
                data, FieldName.FEAT_DYNAMIC_REAL, self.num_feat_dynamic_real, needed, who, "known-future"
            )
        if self.num_past_feat_dynamic_real:
            out[PAST_ONLY] = _dynamic(
                data, FieldName.PAST_FEAT_DYNAMIC_REAL, self.num_past_feat_dynamic_real, length, who, "past-only"
            )
        if self.num_feat_static_real:
            out[FieldName.FEAT_STATIC_REAL] = _static(
                data, FieldName.FEAT_STATIC_REAL, self.num_feat_static_real, who
            ).astype(np.float32)
        if self.num_feat_static_cat:
            codes = _static(data, FieldName.FEAT_STATIC_CAT, self.num_feat_static_cat, who)
            for i, (code, cardinality) in enumerate(zip(codes, self.cardinality)):
                if code != int(code) or not 0 <= code < cardinality:
                    raise DataError(
                        f"{who}: 'feat_static_cat'[{i}] is {code:g}; it must be an integer code in "
                        f"[0, {cardinality}) (cardinality[{i}] = {cardinality})"
                    )
            out[FieldName.FEAT_STATIC_CAT] = codes.astype(np.int64)
        return out

    def check_dataset(self, dataset: Iterable[DataEntry], is_train: bool = True) -> None:
        """Every entry of ``dataset``, before any training starts."""
        for index, entry in enumerate(dataset):
            self.check(entry, is_train, index)


class JoinCovariates(MapTransformation):
    """After the instance split: the known covariates' past and horizon as one ``feat_dynamic_real``
    (past + horizon, K), the past-only ones' past as ``past_feat_dynamic_real``; their horizon
    part is dropped, never to be read."""

    @validated()
    def __init__(self, known: bool, past_only: bool) -> None:
        self.known = known
        self.past_only = past_only

    def map_transform(self, data: DataEntry, is_train: bool) -> DataEntry:
        if self.known:
            data[FieldName.FEAT_DYNAMIC_REAL] = np.concatenate(
                (data.pop(f"past_{KNOWN}"), data.pop(f"future_{KNOWN}")), axis=0
            )
        if self.past_only:
            data[FieldName.PAST_FEAT_DYNAMIC_REAL] = data.pop(f"past_{PAST_ONLY}")
            data.pop(f"future_{PAST_ONLY}", None)
        return data


def covariates_of(dataset: Iterable[DataEntry]) -> Dict[str, Any]:
    """The covariate configuration a dataset carries (``derive_auto_fields``): the number of rows of
    each dynamic field and of values of each static one (of its first entry), and per static
    categorical feature its largest code + 1 over the whole dataset; ``target_dim`` for a
    multivariate target."""
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
            codes = np.asarray(codes, dtype=np.int64).reshape(-1)
            largest = codes if largest is None else np.maximum(largest, codes[: len(largest)])
    config["num_feat_static_cat"] = 0 if largest is None else int(largest.shape[0])
    config["cardinality"] = None if largest is None else [int(c) + 1 for c in largest]
    return config
