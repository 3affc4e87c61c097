"""What a pretraining run with covariate slots (``pretrain --covariate-slots``) does beyond a plain
one: every series brings exactly ``slots`` known covariates, the run trains the covariate pathway
(``covariate_regression.py``; alone with ``--pathway-only``), and the exported checkpoint leaves
the slot-wide covariate encoder out, so that it takes any number of known covariates."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from .checkpoint import COVARIATE_KWARGS, COVARIATE_PREFIX, PATHWAY_PREFIX


def with_covariate_slots(entries: List[Dict], slots: int) -> List[Dict]:
    """``entries`` with ``feat_dynamic_real`` of exactly ``slots`` rows and the target's length:
    zeros where a series has none (zeros enter the pathway as no covariates at all)."""
    out = []
    for entry in entries:
        length = np.shape(entry["target"])[-1]
        rows = np.zeros((slots, length), dtype=np.float32)
        given = entry.get("feat_dynamic_real")
        if given is not None:
            given = np.asarray(given, dtype=np.float32)[:slots, :length]
            rows[: given.shape[0], : given.shape[1]] = given
        out.append({**entry, "feat_dynamic_real": rows})
    return out


def trainable(model: torch.nn.Module, slots: int, pathway_only: bool) -> None:
    """Freeze what the run must not train: with covariate slots the slot-wide covariate encoder
    (kept at zero: the pathway is the covariates' way in, and the export leaves the encoder out),
    and with ``pathway_only`` everything but the pathway."""
    if slots and model.covariates is not None:
        model.covariates.requires_grad_(False)
    if pathway_only:
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name.startswith(PATHWAY_PREFIX))


def left_out(slots: int) -> Tuple[str, ...]:
    """The weights the exported checkpoint leaves out: with covariate slots, the slot-wide
    encoder (at zero), so that the checkpoint takes any number of covariates."""
    return (COVARIATE_PREFIX,) if slots else ()


def exported(slots: int, model_kwargs: Dict[str, Any]) -> Tuple[Dict[str, Any], Tuple[str, ...]]:
    """The exported checkpoint's model arguments (without the slot-wide encoder's, with covariate
    slots) and the weights it leaves out (:func:`left_out`)."""
    if not slots:
        return dict(model_kwargs), ()
    return {k: v for k, v in model_kwargs.items() if k not in COVARIATE_KWARGS}, left_out(slots)
