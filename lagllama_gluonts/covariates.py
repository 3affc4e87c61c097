"""Covariates in GluonTS's fields for Lag-Llama: the data plumbing around the shared checks.

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

import numpy as np
from gluonts.core.component import validated
from gluonts.dataset.common import DataEntry
from gluonts.dataset.field_names import FieldName
from gluonts.transform import MapTransformation

from .common.covariates import CheckCovariates, covariates_of
from .common.validation import DataError

__all__ = ["KNOWN", "PAST_ONLY", "DataError", "JoinCovariates", "ValidateCovariates", "covariates_of"]

# the names the fields travel under between the check and the split: the instance splitter
# writes "past_<field>" / "future_<field>", which for GluonTS's own names would collide
# ("past_" + "feat_dynamic_real" is the past-only field's name)
KNOWN = "known_covariates"
PAST_ONLY = "past_only_covariates"


class ValidateCovariates(CheckCovariates):
    """The shared covariate checks (:class:`~lagllama_gluonts.common.covariates.CheckCovariates`),
    then the dynamic fields renamed for the split (:data:`KNOWN`, :data:`PAST_ONLY`)."""

    def check(self, data: DataEntry, is_train: bool, index=None) -> DataEntry:
        out = super().check(data, is_train, index)
        if FieldName.FEAT_DYNAMIC_REAL in out:
            out[KNOWN] = out.pop(FieldName.FEAT_DYNAMIC_REAL)
        if FieldName.PAST_FEAT_DYNAMIC_REAL in out:
            out[PAST_ONLY] = out.pop(FieldName.PAST_FEAT_DYNAMIC_REAL)
        return out


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
