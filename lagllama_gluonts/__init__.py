"""Lag-Llama as a first-class GluonTS estimator.

>>> from lagllama_gluonts import load_predictor
>>> predictor = load_predictor("lag-llama.ckpt", prediction_length=24)  # doctest: +SKIP
"""

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "CheckpointError",
    "DataError",
    "LagLlamaEstimator",
    "LagLlamaLightningModule",
    "LagLlamaModel",
    "load_predictor",
    "read_checkpoint",
    "save_checkpoint",
]

_HOMES = {
    "CheckpointError": ".checkpoint",
    "read_checkpoint": ".checkpoint",
    "save_checkpoint": ".checkpoint",
    "DataError": ".validation",
    "LagLlamaEstimator": ".estimator",
    "load_predictor": ".estimator",
    "LagLlamaLightningModule": ".lightning_module",
    "LagLlamaModel": ".module",
}

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import CheckpointError, read_checkpoint, save_checkpoint
    from .estimator import LagLlamaEstimator, load_predictor
    from .lightning_module import LagLlamaLightningModule
    from .module import LagLlamaModel
    from .validation import DataError


def __getattr__(name: str):
    # Imported on first use, so that `--help` and the light helpers (datasets, corpus)
    # answer without loading torch and Lightning.
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
