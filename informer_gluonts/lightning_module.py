"""Lightning wrapper that trains an ``InformerModel`` by likelihood."""

import warnings
from typing import Optional

import lightning.pytorch as pl
import torch
from gluonts.core.component import validated
from gluonts.itertools import select
from gluonts.torch.model.lightning_util import has_validation_loop
from torch.optim.lr_scheduler import ReduceLROnPlateau

from .defaults import LR, LR_FACTOR, LR_PATIENCE, WEIGHT_DECAY
from .module import InformerModel


class InformerLightningModule(pl.LightningModule):
    """
    A ``pl.LightningModule`` class that can be used to train an
    ``InformerModel`` with PyTorch Lightning.

    This is a thin layer around a (wrapped) ``InformerModel`` object, that
    exposes the training and validation loss (``InformerModel.loss``: the
    negative log-likelihood of the horizon, masked by
    ``future_observed_values``) and, as ``forward``, the model's sample
    paths (``InformerModel.sample``, with the model's
    ``num_parallel_samples`` and ``nonnegative_pred_samples``). All configuration
    lives in the ``@validated()`` arguments (no ``save_hyperparameters``),
    so checkpoints hold only tensors and GluonTS can reload the best one
    with ``weights_only=True``.

    Parameters
    ----------
    model_kwargs
        Keyword arguments to construct the ``InformerModel`` to be trained.
    lr
        Learning rate of Adam.
    weight_decay
        Weight decay regularization parameter.
    lr_patience
        Patience (in epochs) of the ``ReduceLROnPlateau`` scheduler that
        halves the learning rate when the monitored loss stalls.
    patience
        Deprecated name of ``lr_patience`` (``patience`` means early
        stopping everywhere else); warns.
    """

    @validated()
    def __init__(
        self,
        model_kwargs: dict,
        lr: float = LR,
        weight_decay: float = WEIGHT_DECAY,
        lr_patience: int = LR_PATIENCE,
        patience: Optional[int] = None,
    ) -> None:
        super().__init__()
        if patience is not None:
            warnings.warn(
                "InformerLightningModule(patience=) is deprecated: it is the learning-rate plateau's "
                "patience, now lr_patience=",
                DeprecationWarning,
                stacklevel=2,
            )
            lr_patience = patience
        self.model = InformerModel(**model_kwargs)
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_patience = lr_patience
        self.inputs = self.model.describe_inputs()
        self.example_input_array = self.inputs.zeros()

    @property
    def patience(self) -> int:
        """Deprecated name of :attr:`lr_patience`."""
        return self.lr_patience

    def forward(self, *args, **kwargs) -> torch.Tensor:
        """Sample paths (B, num_samples, prediction_length): ``InformerModel.sample``."""
        return self.model.sample(*args, **kwargs)

    def _loss(self, batch) -> torch.Tensor:
        return self.model.loss(
            **select(self.inputs, batch),
            future_target=batch["future_target"],
            future_observed_values=batch["future_observed_values"],
        ).mean()

    def training_step(self, batch, batch_idx: int):  # type: ignore
        """Execute training step."""
        train_loss = self._loss(batch)
        self.log(
            "train_loss",
            train_loss,
            on_epoch=True,
            on_step=False,
            prog_bar=True,
        )
        return train_loss

    def validation_step(self, batch, batch_idx: int):  # type: ignore
        """Execute validation step."""
        val_loss = self._loss(batch)
        self.log("val_loss", val_loss, on_epoch=True, on_step=False, prog_bar=True)
        return val_loss

    def configure_optimizers(self):
        """Adam, halving the learning rate when the monitored loss stalls."""
        optimizer = torch.optim.Adam(
            self.model.parameters(),
            lr=self.lr,
            weight_decay=self.weight_decay,
        )
        monitor = "val_loss" if has_validation_loop(self.trainer) else "train_loss"
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": ReduceLROnPlateau(
                    optimizer=optimizer,
                    mode="min",
                    factor=LR_FACTOR,
                    patience=self.lr_patience,
                ),
                "monitor": monitor,
            },
        }
