"""Training and sampling wrapper of :class:`LagLlamaModel` for PyTorch Lightning."""


import random
from typing import Optional

import lightning.pytorch as pl
import torch
from gluonts.core.component import validated

from .augmentations import freq_mask, freq_mix
from .module import LagLlamaModel


class LagLlamaLightningModule(pl.LightningModule):
    """A ``pl.LightningModule`` that trains a :class:`LagLlamaModel` and samples from it.

    Its configuration lives in ``@validated()`` arguments (no ``save_hyperparameters``),
    so Lightning checkpoints hold only tensors and reload with ``weights_only=True``, and
    GluonTS can serialize predictors built on it.

    Parameters
    ----------
    model_kwargs
        Keyword arguments of :class:`LagLlamaModel`.
    context_length
        Tokens before the horizon.
    prediction_length
        Length of the horizon.
    lr, weight_decay
        AdamW's learning rate and (decoupled) weight decay.
    aug_prob
        Probability that a training batch is augmented at all.
    freq_mask_rate, freq_mixing_rate
        Fractions of frequency components masked / mixed in an augmented batch (0 disables).
    use_cosine_annealing_lr, cosine_annealing_lr_args
        Cosine learning-rate decay. With ``cosine_annealing_lr_args`` (``T_max``, ``eta_min``):
        the reference's ``CosineAnnealingLR`` stepped once per epoch. Without them: one cosine
        over ``cosine_steps`` optimizer steps (the whole run), stepped every batch, from ``lr``
        down to ``lr / 100``.
    nonnegative_pred_samples
        Clip sample paths at zero.
    use_kv_cache
        Decode with a kv-cache (exact: same samples as recomputation for the same seed).
    rescale_every_step
        Re-run the scaler over each path's growing history at every decoding step, as the
        reference does; this changes every earlier token, so it disables the cache.
    """

    @validated()
    def __init__(
        self,
        model_kwargs: dict,
        context_length: int,
        prediction_length: int,
        lr: float = 1e-3,
        weight_decay: float = 1e-8,
        aug_prob: float = 0.1,
        freq_mask_rate: float = 0.1,
        freq_mixing_rate: float = 0.1,
        use_cosine_annealing_lr: bool = False,
        cosine_annealing_lr_args: Optional[dict] = None,
        cosine_steps: Optional[int] = None,
        nonnegative_pred_samples: bool = False,
        use_kv_cache: bool = True,
        rescale_every_step: bool = False,
    ) -> None:
        super().__init__()
        self.model = LagLlamaModel(
            **{**model_kwargs, "context_length": context_length, "prediction_length": prediction_length}
        )
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.lr = lr
        self.weight_decay = weight_decay
        self.aug_prob = aug_prob
        self.freq_mask_rate = freq_mask_rate
        self.freq_mixing_rate = freq_mixing_rate
        self.use_cosine_annealing_lr = use_cosine_annealing_lr
        self.cosine_annealing_lr_args = dict(cosine_annealing_lr_args or {})
        self.cosine_steps = cosine_steps
        self.nonnegative_pred_samples = nonnegative_pred_samples
        self.use_kv_cache = use_kv_cache
        self.rescale_every_step = rescale_every_step

    def forward(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        num_samples: Optional[int] = None,
    ) -> torch.Tensor:
        """Sample paths (batch, num_parallel_samples, prediction_length), decoded as configured."""
        return self.model.sample(
            past_target,
            past_observed_values,
            past_time_feat,
            future_time_feat,
            prediction_length=self.prediction_length,
            num_samples=num_samples,
            use_kv_cache=self.use_kv_cache,
            rescale_every_step=self.rescale_every_step,
            nonnegative=self.nonnegative_pred_samples,
        )

    def loss_per_position(self, batch: dict):
        """``(nll, observed)`` at every predicted position of a batch: :meth:`LagLlamaModel.nll_per_position`."""
        return self.model.nll_per_position(
            past_target=batch["past_target"],
            past_observed_values=batch["past_observed_values"],
            past_time_feat=batch.get("past_time_feat"),
            future_time_feat=batch.get("future_time_feat"),
            future_target=batch["future_target"],
            future_observed_values=batch["future_observed_values"],
        )

    def _mean_loss(self, batch: dict) -> torch.Tensor:
        nll, observed = self.loss_per_position(batch)
        return (nll * observed).sum() / observed.sum().clamp_min(1.0)

    def augment(self, batch: dict) -> dict:
        if random.random() >= self.aug_prob:
            return batch
        past, future = batch["past_target"], batch["future_target"]
        if self.freq_mask_rate > 0:
            past, future = freq_mask(past, future, rate=self.freq_mask_rate)
        if self.freq_mixing_rate > 0:
            past, future = freq_mix(past, future, rate=self.freq_mixing_rate)
        return {**batch, "past_target": past, "future_target": future}

    def training_step(self, batch, batch_idx: int):
        loss = self._mean_loss(self.augment(batch))
        self.log("train_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx: int):
        nll, observed = self.loss_per_position(batch)
        loss = (nll * observed).sum() / observed.sum().clamp_min(1.0)
        self.log("val_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        # The context positions of a validation window may have been trained on; only its
        # horizon is unseen, so fine-tuning stops early and picks its epoch on this one.
        horizon_nll, horizon_observed = nll[:, -self.prediction_length :], observed[:, -self.prediction_length :]
        horizon_loss = (horizon_nll * horizon_observed).sum() / horizon_observed.sum().clamp_min(1.0)
        self.log("val_horizon_loss", horizon_loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if not self.use_cosine_annealing_lr:
            return optimizer
        if self.cosine_annealing_lr_args:
            args = {"T_max": 100, **self.cosine_annealing_lr_args}
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **args)
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        if not self.cosine_steps:
            raise ValueError("a cosine schedule over the whole run needs cosine_steps (the run's optimizer steps)")
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.cosine_steps,
                                                               eta_min=self.lr / 100)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
