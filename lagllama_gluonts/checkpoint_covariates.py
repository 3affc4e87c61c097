"""Whether a Lag-Llama checkpoint fits the covariates a command names (``--known-covariates``,
``--covariates``): the command line's check before a model is built on it, one line naming
both sides when it does not. Kept free of torch imports, like the command line."""

from __future__ import annotations

from typing import Sequence

from .common.cli import CLIError
from .common.commands import covariate_counts


def checked_covariates(ckpt, known: Sequence[str], past: Sequence[str], trains: bool, in_context: bool = False) -> dict:
    """The covariate arguments of a model built on ``ckpt`` for the ``known`` and ``past``
    columns: one trained with covariates needs as many of each kind (its configuration is read
    from it: nothing to pass); one trained without takes new ones only when the command trains
    (``trains``). A zero-shot command with covariates on one trained without gets no covariate
    arguments (its projection starts at zero, so they would change nothing): the shared commands
    use them by in-context regression instead (:func:`zero_shot_in_context`,
    :mod:`~lagllama_gluonts.common.incontext`), unless its pretrained pathway takes them
    (:func:`pathway_zero_shot`; ``in_context``: ``--in-context-covariates``, not even then)."""
    stored, name, flags = ckpt.covariates, ckpt.path.name, _covariate_flags(known, past)
    if not stored:
        pathway = pathway_zero_shot(ckpt, known, past) and not in_context
        return covariate_counts(known, past) if trains or pathway else {}
    if stored.get("num_feat_static_real") or stored.get("num_feat_static_cat"):
        raise CLIError(
            f"{name} was trained with static features (feat_static_real / feat_static_cat), which a "
            "--csv table cannot give: use the Python API (LagLlamaEstimator.from_checkpoint)"
        )
    want = (stored.get("num_feat_dynamic_real", 0), stored.get("num_past_feat_dynamic_real", 0))
    if want != (len(known), len(past)):
        columns = (ckpt.training.get("known_covariates") or [], ckpt.training.get("past_covariates") or [])
        trained = (
            _covariate_flags(*columns)
            if sum(map(len, columns)) == sum(want)
            else f"{want[0]} known-future and {want[1]} past-only covariate(s)"
        )
        raise CLIError(
            f"{name} was trained with covariates ({trained}) and this command gives {flags}: name as many "
            f"columns of each kind ({want[0]} with --known-covariates, {want[1]} with --covariates)"
        )
    return {}


def zero_shot_in_context(
    ckpt, known: Sequence[str], past: Sequence[str], trains: bool, in_context: bool = False
) -> bool:
    """Whether a command uses its covariates by in-context regression: it gives some, does not
    train, and ``ckpt`` has no covariate weights (None: no checkpoint, a model trained here)
    nor a pretrained covariate pathway that takes them (:func:`pathway_zero_shot`), or the
    command asks for it (``in_context``: ``--in-context-covariates``)."""
    if ckpt is None or trains or ckpt.covariates or not (known or past):
        return False
    return in_context or not pathway_zero_shot(ckpt, known, past)


def route(args) -> tuple:
    """A command's ``(trains, in_context)``: whether it trains (``--train``, or a training
    command), and whether it asks for in-context regression (``--in-context-covariates``)."""
    return bool(getattr(args, "train", False)), bool(getattr(args, "in_context_covariates", False))


def pathway_zero_shot(ckpt, known: Sequence[str], past: Sequence[str]) -> bool:
    """Whether ``ckpt``'s pretrained covariate pathway (``covariate_regression.py``) takes the
    command's covariates zero-shot: it has one, and they are known-future ones only (the pathway
    reads no past-only covariates; with some, all of them go in by in-context regression)."""
    return bool(ckpt is not None and ckpt.model_kwargs.get("covariate_regression") and known and not past)


def _covariate_flags(known, past) -> str:
    flags = [f"--known-covariates {' '.join(known)}" if known else "", f"--covariates {' '.join(past)}" if past else ""]
    return " ".join(f for f in flags if f) or "no covariates"
