"""Zero-shot predictors from Lag-Llama checkpoints: :func:`load_predictor`, and the rope
scaling a longer context needs (:func:`resolve_rope_scaling`)."""

from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from gluonts.torch.model.predictor import PyTorchPredictor

from .checkpoint import Checkpoint, read_checkpoint
from .common.validation import check_positive
from .defaults import DEVICE, PREDICTION_LENGTH
from .estimator import LagLlamaEstimator
from .model_checks import validate_rope_scaling


def resolve_rope_scaling(
    rope_scaling: Optional[dict], stored: Dict[str, Any], context_length: int, prediction_length: int
) -> Optional[dict]:
    """The rope scaling to run a checkpoint with (``stored``: its model kwargs); see ``load_predictor``."""
    validate_rope_scaling(rope_scaling)  # a string ("linear") is refused here, naming the accepted forms
    trained_context = stored.get("context_length", 32)
    if rope_scaling is None and stored.get("rope_scaling") is None and context_length > trained_context:
        rope_scaling = {"type": "linear"}
    if rope_scaling is not None and rope_scaling.get("type") == "linear" and "factor" not in rope_scaling:
        # positions then span the trained window: (context + horizon) / trained context
        rope_scaling = {"type": "linear", "factor": max(1.0, (context_length + prediction_length) / trained_context)}
    return rope_scaling or stored.get("rope_scaling")


def load_predictor(
    checkpoint: Union[str, Path, Checkpoint, None] = None,
    prediction_length: int = PREDICTION_LENGTH,
    context_length: Optional[int] = None,
    num_parallel_samples: int = 100,
    rope_scaling: Optional[dict] = None,
    batch_size: int = 16,
    device: Union[str, torch.device, None] = DEVICE,
    use_kv_cache: bool = True,
    **kwargs,
) -> PyTorchPredictor:
    """A zero-shot GluonTS predictor from a Lag-Llama checkpoint; architecture read from the file.

    ``checkpoint`` is a local path, None (the default) for the bundled checkpoint, a Hugging
    Face Hub reference ``OWNER/NAME[@REVISION][:FILE]`` (``"time-series-foundation-models/Lag-Llama"``
    is the released ``lag-llama.ckpt``; needs the ``hub`` extra; an existing path always wins),
    or a :class:`~lagllama_gluonts.checkpoint.Checkpoint` already read. Every file goes through
    the same weights-only reader, once. ``prediction_length``: the horizon (default 24,
    ``defaults.PREDICTION_LENGTH``; keyword or second positional: ``load_predictor("x.ckpt", 12)``).
    ``context_length`` None is the checkpoint's own. ``device``:
    "auto" (CUDA when available, else the CPU; every API entry point's default), "cpu", "cuda"...

    When ``context_length`` exceeds the checkpoint's and ``rope_scaling`` is not given,
    linear rope scaling by their ratio is applied, as the Lag-Llama authors recommend.
    ``{"type": "linear"}`` without a factor gets that ratio too, and ``{"type": "linear",
    "factor": 1.0}`` (the identity) turns the automatic scaling off.

    ``batch_size`` series are decoded together, each with ``num_parallel_samples`` paths: the
    kv-cache for the generated steps holds ``2 * n_layer * batch_size * num_parallel_samples *
    prediction_length * n_head * n_embd_per_head`` floats, and 16 x 100 rows already fill the
    CPU's matrix units (memory and speed measured in ``benchmarks/results/speed.md``).
    """
    # the arguments first, then the file (read once, here)
    check_positive(
        prediction_length=prediction_length,
        context_length=context_length,
        num_parallel_samples=num_parallel_samples,
        batch_size=batch_size,
    )
    validate_rope_scaling(rope_scaling)
    ckpt = read_checkpoint(checkpoint)  # None: the bundled checkpoint
    context_length = context_length or ckpt.context_length
    estimator = LagLlamaEstimator.from_checkpoint(
        ckpt,
        prediction_length=prediction_length,
        context_length=context_length,
        num_parallel_samples=num_parallel_samples,
        rope_scaling=resolve_rope_scaling(rope_scaling, ckpt.model_kwargs, context_length, prediction_length),
        batch_size=batch_size,
        device=device,
        use_kv_cache=use_kv_cache,
        **kwargs,
    )
    module = estimator.create_lightning_module()
    module.eval()
    return estimator.create_predictor(estimator.create_transformation(), module)
