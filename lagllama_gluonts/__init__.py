"""Lag-Llama as a first-class GluonTS estimator.

>>> from lagllama_gluonts import load_predictor
>>> predictor = load_predictor("lag-llama.ckpt", prediction_length=24)  # doctest: +SKIP
"""

from .checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from .estimator import LagLlamaEstimator, load_predictor
from .lightning_module import LagLlamaLightningModule
from .module import LagLlamaModel
from .validation import DataError

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
