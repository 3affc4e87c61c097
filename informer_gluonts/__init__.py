"""
Informer (Zhou et al., AAAI 2021) as a first-class GluonTS estimator.

``InformerEstimator`` trains with PyTorch Lightning and returns a
``PyTorchPredictor``; ``InformerModel`` is the network (ProbSparse
self-attention, self-attention distilling, generative one-pass decoder)
and ``InformerLightningModule`` its training wrapper.
"""

from .estimator import InformerEstimator
from .lightning_module import InformerLightningModule
from .module import InformerModel

__all__ = ["InformerEstimator", "InformerLightningModule", "InformerModel"]
