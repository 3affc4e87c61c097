"""Lag-Llama as a first-class GluonTS estimator.

>>> from lagllama_gluonts import load_predictor
>>> predictor = load_predictor("lag-llama.ckpt", prediction_length=24)  # doctest: +SKIP

A checkpoint is read once into a :class:`Checkpoint` (``read_checkpoint``), which
``load_predictor``, ``LagLlamaEstimator.from_checkpoint`` and ``finetune`` also accept.
"""

from typing import TYPE_CHECKING

from .common.lazy import lazy_exports

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "DataError",
    "LagLlamaEstimator",
    "LagLlamaLightningModule",
    "LagLlamaModel",
    "dataset_from_df",
    "load_predictor",
    "predict_df",
    "read_checkpoint",
    "save_checkpoint",
]

_HOMES = {
    "Checkpoint": ".checkpoint",
    "CheckpointError": ".checkpoint",
    "read_checkpoint": ".checkpoint",
    "save_checkpoint": ".checkpoint",
    "DataError": ".common.errors",
    "dataset_from_df": ".common.dataframes",
    "predict_df": ".common.dataframes",
    "LagLlamaEstimator": ".estimator",
    "load_predictor": ".predictor",
    "LagLlamaLightningModule": ".lightning_module",
    "LagLlamaModel": ".module",
}

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import Checkpoint, CheckpointError, read_checkpoint, save_checkpoint
    from .common.dataframes import dataset_from_df, predict_df
    from .common.errors import DataError
    from .estimator import LagLlamaEstimator
    from .lightning_module import LagLlamaLightningModule
    from .module import LagLlamaModel
    from .predictor import load_predictor


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
