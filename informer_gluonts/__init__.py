"""
Informer (Zhou et al., AAAI 2021) as a first-class GluonTS estimator.

``InformerEstimator`` trains with PyTorch Lightning and returns a
``PyTorchPredictor``; ``InformerModel`` is the network (ProbSparse
self-attention, self-attention distilling, generative one-pass decoder)
and ``InformerLightningModule`` its training wrapper.
"""

from typing import TYPE_CHECKING

from lagllama_gluonts.common.lazy import lazy_exports

__all__ = ["InformerEstimator", "InformerLightningModule", "InformerModel", "dataset_from_df", "predict_df"]

_HOMES = {
    "InformerEstimator": ".estimator",
    "InformerLightningModule": ".lightning_module",
    "InformerModel": ".module",
    "dataset_from_df": "lagllama_gluonts.common.dataframes",
    "predict_df": "lagllama_gluonts.common.dataframes",
}

if TYPE_CHECKING:  # pragma: no cover
    from lagllama_gluonts.common.dataframes import dataset_from_df, predict_df

    from .estimator import InformerEstimator
    from .lightning_module import InformerLightningModule
    from .module import InformerModel


# imported on first use: `--help` and CLI input errors answer without loading torch
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
