"""
Informer (Zhou et al., AAAI 2021) as a first-class GluonTS estimator.

``InformerEstimator`` trains with PyTorch Lightning and returns a
``PyTorchPredictor``; ``InformerModel`` is the network (ProbSparse
self-attention, self-attention distilling, generative one-pass decoder)
and ``InformerLightningModule`` its training wrapper.
"""

import importlib
from typing import TYPE_CHECKING

__all__ = ["InformerEstimator", "InformerLightningModule", "InformerModel"]

_HOMES = {
    "InformerEstimator": ".estimator",
    "InformerLightningModule": ".lightning_module",
    "InformerModel": ".module",
}

if TYPE_CHECKING:  # pragma: no cover
    from .estimator import InformerEstimator
    from .lightning_module import InformerLightningModule
    from .module import InformerModel


def __getattr__(name: str):
    # Imported on first use, so that ``python -m informer_gluonts --help``
    # and CLI input errors answer without loading torch, Lightning, GluonTS.
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
