"""Zero-shot predictors from Lag-Llama checkpoints: :func:`load_predictor`, and the rope
scaling a longer context needs (:func:`resolve_rope_scaling`)."""

from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from gluonts.torch.model.predictor import PyTorchPredictor

from .checkpoint import BUNDLED_CHECKPOINT, read_checkpoint
from .estimator import LagLlamaEstimator


def resolve_rope_scaling(
    rope_scaling: Optional[dict], stored: Dict[str, Any], context_length: int, prediction_length: int
) -> Optional[dict]:
    """The rope scaling to run a checkpoint with (``stored``: its model kwargs); see ``load_predictor``."""
    trained_context = stored.get("context_length", 32)
    if rope_scaling is None and stored.get("rope_scaling") is None and context_length > trained_context:
        rope_scaling = {"type": "linear"}
    if rope_scaling is not None and rope_scaling.get("type") == "linear" and "factor" not in rope_scaling:
        # positions then span the trained window: (context + horizon) / trained context
        rope_scaling = {"type": "linear", "factor": max(1.0, (context_length + prediction_length) / trained_context)}
    return rope_scaling or stored.get("rope_scaling")


def load_predictor(
    checkpoint: Union[str, Path, None],
    prediction_length: int,
    context_length: Optional[int] = None,
    num_parallel_samples: int = 100,
    rope_scaling: Optional[dict] = None,
    batch_size: int = 16,
    device: Union[str, torch.device] = "cpu",
    use_kv_cache: bool = True,
    **kwargs,
) -> PyTorchPredictor:
    """A zero-shot GluonTS predictor from a Lag-Llama checkpoint; architecture read from the file.

    When ``context_length`` exceeds the checkpoint's and ``rope_scaling`` is not given,
    linear rope scaling by their ratio is applied, as the Lag-Llama authors recommend.
    ``{"type": "linear"}`` without a factor gets that ratio too, and ``{"type": "linear",
    "factor": 1.0}`` (the identity) turns the automatic scaling off. ``checkpoint=None`` loads
    the bundled checkpoint; the released ``lag-llama.ckpt`` goes through the same code.

    ``batch_size`` series are decoded together, each with ``num_parallel_samples`` paths: the
    kv-cache for the generated steps holds ``2 * n_layer * batch_size * num_parallel_samples *
    prediction_length * n_head * n_embd_per_head`` floats (released architecture, 16 series, 100
    paths, 48 steps: 0.7 GB), and 16 x 100 rows already fill the CPU's matrix units.
    """
    checkpoint = checkpoint or BUNDLED_CHECKPOINT
    stored = read_checkpoint(checkpoint)["hyper_parameters"]["model_kwargs"]
    context_length = context_length or stored.get("context_length", 32)
    estimator = LagLlamaEstimator.from_checkpoint(
        checkpoint,
        prediction_length=prediction_length,
        context_length=context_length,
        num_parallel_samples=num_parallel_samples,
        rope_scaling=resolve_rope_scaling(rope_scaling, stored, context_length, prediction_length),
        batch_size=batch_size,
        device=device,
        use_kv_cache=use_kv_cache,
        **kwargs,
    )
    module = estimator.create_lightning_module()
    module.eval()
    return estimator.create_predictor(estimator.create_transformation(), module)

