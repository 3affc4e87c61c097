"""Checks of a Lag-Llama configuration, shared by the network and the estimator-side entry points
(estimator, predictor, fine-tuning), so that a bad argument fails before anything is built."""

from __future__ import annotations

from typing import List, Optional

from .common.validation import check_positive

# how dynamic covariates are fed (see ``CovariateEncoder``)
COVARIATE_SCALINGS = ("std", "none")


def check_architecture(**sizes) -> None:
    """Sizes are positive integers (``prediction_length`` may be None) and the head size is even."""
    check_positive(**sizes)
    head = sizes.get("n_embd_per_head")
    if head is not None and head % 2:
        raise ValueError(f"n_embd_per_head must be even (rotary embeddings rotate pairs of channels), got {head}")


def check_covariates(
    num_feat_dynamic_real: int = 0,
    num_past_feat_dynamic_real: int = 0,
    num_feat_static_real: int = 0,
    num_feat_static_cat: int = 0,
    cardinality: Optional[List[int]] = None,
    embedding_dimension: Optional[List[int]] = None,
    covariate_scaling: str = "std",
) -> None:
    """The covariate configuration can build a model, else a ValueError naming the argument."""
    counts = dict(
        num_feat_dynamic_real=num_feat_dynamic_real,
        num_past_feat_dynamic_real=num_past_feat_dynamic_real,
        num_feat_static_real=num_feat_static_real,
        num_feat_static_cat=num_feat_static_cat,
    )
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    cardinality = list(cardinality or [])
    if len(cardinality) != num_feat_static_cat or not all(isinstance(c, int) and c >= 1 for c in cardinality):
        raise ValueError(
            f"cardinality must list one positive integer per static categorical feature "
            f"(num_feat_static_cat={num_feat_static_cat}), got {cardinality!r}"
        )
    if embedding_dimension is not None and (
        len(embedding_dimension) != num_feat_static_cat
        or not all(isinstance(d, int) and d >= 1 for d in embedding_dimension)
    ):
        raise ValueError(
            f"embedding_dimension must list one positive integer per static categorical feature, "
            f"got {embedding_dimension!r}"
        )
    if covariate_scaling not in COVARIATE_SCALINGS:
        raise ValueError(f"covariate_scaling must be one of {list(COVARIATE_SCALINGS)}, got {covariate_scaling!r}")


ROPE_SCALING_FORMS = (
    "None, {'type': 'linear'}, {'type': 'linear', 'factor': F} or {'type': 'dynamic', 'factor': F} with F >= 1"
)


def validate_rope_scaling(rope_scaling: Optional[dict]) -> None:
    """``rope_scaling`` is one of :data:`ROPE_SCALING_FORMS`, else a ValueError naming them."""
    if rope_scaling is None:
        return
    if isinstance(rope_scaling, str):
        # the command line's spelling ("linear:2") is not the API's: say what the API takes
        kind, _, factor = rope_scaling.partition(":")
        hint = {"type": kind, **({"factor": float(factor)} if factor.replace(".", "", 1).isdigit() else {})}
        raise ValueError(
            f"rope_scaling must be {ROPE_SCALING_FORMS}; got the string {rope_scaling!r}"
            + (f" (did you mean {hint!r}?)" if kind in ("linear", "dynamic") else "")
        )
    if not isinstance(rope_scaling, dict) or rope_scaling.get("type") not in ("linear", "dynamic", "nope"):
        raise ValueError(f"rope_scaling must be {ROPE_SCALING_FORMS}; got {rope_scaling!r}")
    factor = rope_scaling.get("factor", 1.0)
    if rope_scaling["type"] != "nope" and (
        isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1.0
    ):
        raise ValueError(f"rope_scaling factor must be a number >= 1, got {factor!r}")
