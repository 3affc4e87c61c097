"""The training / sampling wrapper of :class:`LagLlamaModel` for PyTorch Lightning."""

import inspect
import math
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import lightning.pytorch as pl
import torch
from gluonts.core.component import validated
from lightning.fabric.utilities.data import AttributeDict

from .augmentations import Augmentations, freq_mask, freq_mix
from .checkpoint import CheckpointError, encode_distr_output, read_checkpoint
from .module import COVARIATE_INPUTS, LagLlamaModel, token_mean


def fold_channels(batch: Dict[str, Any]) -> Dict[str, Any]:
    """A multivariate batch (targets ``(B, T, D)``) as ``B * D`` univariate series, channel-major per
    series: each variable forecast by the univariate model with its own scaling (channel
    independence); time features and covariates are shared by the variables of a series."""
    target = batch["past_target"]
    if target.dim() != 3:
        return batch
    D = target.shape[2]
    folded = {}
    for name, value in batch.items():
        if not torch.is_tensor(value):
            folded[name] = value
        elif name in ("past_target", "past_observed_values", "future_target", "future_observed_values"):
            folded[name] = value.transpose(1, 2).reshape(-1, value.shape[1])
        else:
            folded[name] = value.repeat_interleave(D, dim=0)
    return folded


class LagLlamaLightningModule(pl.LightningModule):
    """A ``pl.LightningModule`` that trains a :class:`LagLlamaModel` and samples from it.

    Its configuration lives in ``@validated()`` arguments (no ``save_hyperparameters``), and
    :attr:`hparams` presents them as plain data (the distribution in its GluonTS serde
    encoding), so Lightning checkpoints hold only tensors and plain data and reload with
    ``weights_only=True``, GluonTS can serialize predictors built on it, and
    ``module.hparams["model_kwargs"]`` reads as in the reference. :meth:`load_from_checkpoint`
    reads the released checkpoint, ours, and Lightning's of this module, safely.

    Multivariate batches (targets ``(batch, time, D)``) are forecast channel by channel
    (:func:`fold_channels`): samples come back ``(batch, samples, horizon, D)``.

    Parameters
    ----------
    model_kwargs
        Keyword arguments of :class:`LagLlamaModel`.
    context_length
        Tokens before the horizon.
    prediction_length
        Length of the horizon.
    loss
        None: the distribution output's own loss (the negative log-likelihood; the quantile
        loss for an implicit quantile network). Or a callable ``loss(distribution, target)``
        giving a value per position, the reference's ``DistributionLoss`` protocol (its
        ``NegativeLogLikelihood()`` default is the None here).
    lr, weight_decay
        AdamW's learning rate and (decoupled) weight decay.
    covariate_lr
        None: one learning rate for every parameter. Else the covariate projection's own rate
        (a second AdamW parameter group; a model without covariates has one group either way).
    aug_prob
        Probability that a training batch is augmented at all.
    freq_mask_rate, freq_mixing_rate
        Fractions of frequency components masked / mixed in an augmented batch (0 disables).
    jitter_prob, jitter_sigma, scaling_prob, scaling_sigma, rotation_prob, permutation_prob,
    permutation_max_segments, permutation_seg_mode, magnitude_warp_prob, magnitude_warp_sigma,
    magnitude_warp_knot, time_warp_prob, time_warp_sigma, time_warp_knot, window_slice_prob,
    window_slice_reduce_ratio, window_warp_prob, window_warp_window_ratio, window_warp_scales
        The reference's time-domain augmentations, applied to augmented batches after the
        frequency ones (see :class:`~lagllama_gluonts.augmentations.Augmentations`); all off
        by default.
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
    use_single_pass_sampling
        The reference's fast mode: one decoding per series fed its forecast mean, with
        independent draws per step. Not coherent sample paths (see ``LagLlamaModel.sample``).
    data_id_to_name_map, track_loss_per_series
        Accepted for source compatibility with the reference (they only tune its logging).
    augmentations
        All augmentation settings as one :class:`~lagllama_gluonts.augmentations.Augmentations`
        (or a mapping of its fields), in place of the 22 flat keywords above, which stay as the
        reference's compatibility path; giving both is an error.
    """

    @validated()
    def __init__(
        self,
        model_kwargs: dict,
        context_length: int,
        prediction_length: int,
        lr: float = 1e-3,
        weight_decay: float = 1e-8,
        covariate_lr: Optional[float] = None,
        aug_prob: float = 0.1,
        freq_mask_rate: float = 0.1,
        freq_mixing_rate: float = 0.1,
        use_cosine_annealing_lr: bool = False,
        cosine_annealing_lr_args: Optional[dict] = None,
        cosine_steps: Optional[int] = None,
        nonnegative_pred_samples: bool = False,
        use_kv_cache: bool = True,
        rescale_every_step: bool = False,
        loss: Any = None,
        jitter_prob: float = 0.0,
        jitter_sigma: float = 0.03,
        scaling_prob: float = 0.0,
        scaling_sigma: float = 0.1,
        rotation_prob: float = 0.0,
        permutation_prob: float = 0.0,
        permutation_max_segments: int = 5,
        permutation_seg_mode: str = "equal",
        magnitude_warp_prob: float = 0.0,
        magnitude_warp_sigma: float = 0.2,
        magnitude_warp_knot: int = 4,
        time_warp_prob: float = 0.0,
        time_warp_sigma: float = 0.2,
        time_warp_knot: int = 4,
        window_slice_prob: float = 0.0,
        window_slice_reduce_ratio: float = 0.9,
        window_warp_prob: float = 0.0,
        window_warp_window_ratio: float = 0.1,
        window_warp_scales: Optional[List[float]] = None,
        use_single_pass_sampling: bool = False,
        data_id_to_name_map: Optional[dict] = None,
        track_loss_per_series: bool = False,
        augmentations: Any = None,  # an Augmentations or a mapping of its fields: checked, not coerced
    ) -> None:
        super().__init__()
        # one object, or the reference's flat keywords (the compatibility path) made into one
        self.augmentations = Augmentations.resolve(augmentations, locals())
        self.model = LagLlamaModel(
            **{**model_kwargs, "context_length": context_length, "prediction_length": prediction_length}
        )
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.lr = lr
        self.weight_decay = weight_decay
        self.covariate_lr = covariate_lr
        self.aug_prob = self.augmentations.aug_prob
        self.freq_mask_rate = self.augmentations.freq_mask_rate
        self.freq_mixing_rate = self.augmentations.freq_mixing_rate
        self.use_cosine_annealing_lr = use_cosine_annealing_lr
        self.cosine_annealing_lr_args = dict(cosine_annealing_lr_args or {})
        self.cosine_steps = cosine_steps
        self.nonnegative_pred_samples = nonnegative_pred_samples
        self.use_kv_cache = use_kv_cache
        self.rescale_every_step = rescale_every_step
        self.use_single_pass_sampling = use_single_pass_sampling
        if use_single_pass_sampling and rescale_every_step:
            raise ValueError("use_single_pass_sampling and rescale_every_step are separate decodings: choose one")
        if loss is not None and not callable(loss):
            raise ValueError(
                f"loss must be None (the distribution's own) or a callable loss(distribution, target), got {loss!r}"
            )
        self.loss = loss

    # -- configuration as plain data ----------------------------------------------------------

    @property
    def hparams(self) -> AttributeDict:
        """The constructor's arguments as plain data (what Lightning writes into its checkpoints)."""
        args = dict(getattr(self, "__init_args__", {}))
        kwargs = dict(args.get("model_kwargs", {}))
        if kwargs.get("distr_output") is not None:
            kwargs["distr_output"] = encode_distr_output(kwargs["distr_output"])
        kwargs.update(context_length=self.context_length)
        args["model_kwargs"] = kwargs
        # a custom loss is code, not data: recorded by name only
        loss = args.get("loss")
        args["loss"] = None if loss is None else f"{type(loss).__module__}.{type(loss).__qualname__}"
        # the augmentations as the reference's flat keywords, however they were given: the plain
        # data checkpoints always held, which the constructor takes back
        args.pop("augmentations", None)
        args.update(self.augmentations.__getnewargs_ex__()[1])
        return AttributeDict(args)

    @classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: Union[str, Path],
        map_location: Any = None,
        hparams_file: Any = None,
        strict: Optional[bool] = None,
        **kwargs: Any,
    ) -> "LagLlamaLightningModule":
        """The module of a Lag-Llama checkpoint (released, ours, or a Lightning checkpoint of this
        module), read with ``torch.load(weights_only=True)`` through :func:`read_checkpoint`.

        The stored hyper-parameters that are arguments of this class are used, ``kwargs``
        override them (as Lightning's ``load_from_checkpoint``; ``model_kwargs`` entries override
        the stored ones one by one). Weights load strictly whatever ``strict`` says (the
        reference's ``strict=False`` silently dropped what did not fit); a checkpoint without
        covariate weights loads into a module with covariates, which keep their zero start.
        ``hparams_file`` is not supported (the configuration is in the checkpoint).
        """
        if hparams_file is not None:
            raise ValueError("hparams_file is not supported: the checkpoint holds the configuration")
        ckpt = read_checkpoint(checkpoint_path)
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "model_kwargs", "loss"}
        args = {k: v for k, v in ckpt.extra.items() if k in accepted}
        args.update({k: v for k, v in kwargs.items() if k != "model_kwargs"})
        model_kwargs = {**ckpt.model_kwargs, **dict(kwargs.get("model_kwargs") or {})}
        args.setdefault("context_length", model_kwargs.get("context_length", ckpt.context_length))
        if args.get("prediction_length") is None:
            raise CheckpointError(f"{ckpt.path} does not record a prediction_length: pass prediction_length=")
        module = cls(model_kwargs=model_kwargs, **args)
        ckpt.load_into(module.model)
        if map_location is not None:
            module.to(map_location if not callable(map_location) else "cpu")
        return module

    # -- prediction ----------------------------------------------------------------------------

    def forward(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        num_samples: Optional[int] = None,
        **covariates: torch.Tensor,
    ) -> torch.Tensor:
        """Sample paths (batch, num_parallel_samples, prediction_length), decoded as configured;
        (batch, num_parallel_samples, prediction_length, D) for a multivariate batch."""
        batch = fold_channels(
            dict(
                past_target=past_target,
                past_observed_values=past_observed_values,
                past_time_feat=past_time_feat,
                future_time_feat=future_time_feat,
                **covariates,
            )
        )
        paths = self.model.sample(
            batch.pop("past_target"),
            batch.pop("past_observed_values"),
            batch.pop("past_time_feat"),
            batch.pop("future_time_feat"),
            prediction_length=self.prediction_length,
            num_samples=num_samples,
            use_kv_cache=self.use_kv_cache,
            rescale_every_step=self.rescale_every_step,
            nonnegative=self.nonnegative_pred_samples,
            single_pass=self.use_single_pass_sampling,
            **batch,
        )
        if past_target.dim() == 3:  # (B * D, S, H) -> (B, S, H, D)
            B, D = past_target.shape[0], past_target.shape[2]
            paths = paths.reshape(B, D, *paths.shape[1:]).permute(0, 2, 3, 1)
        return paths

    # -- training ------------------------------------------------------------------------------

    def _model_inputs(self, batch: dict) -> dict:
        """The model's training inputs of a batch (a multivariate one folded: each variable a series)."""
        batch = fold_channels(batch)
        return dict(
            past_target=batch["past_target"],
            past_observed_values=batch["past_observed_values"],
            past_time_feat=batch.get("past_time_feat"),
            future_time_feat=batch.get("future_time_feat"),
            future_target=batch["future_target"],
            future_observed_values=batch["future_observed_values"],
            loss=self.loss,
            **{name: batch[name] for name in COVARIATE_INPUTS if batch.get(name) is not None},
        )

    def loss_per_position(self, batch: dict):
        """``(nll, observed)`` at every predicted position of a batch: :meth:`LagLlamaModel.nll_per_position`
        (with this module's ``loss``); a multivariate batch counts each variable as a series."""
        return self.model.nll_per_position(**self._model_inputs(batch))

    def _mean_loss(self, batch: dict) -> torch.Tensor:
        """The training loss, :meth:`LagLlamaModel.loss` as GluonTS's DeepAR module trains on its
        model's ``loss``; averaged over tokens, as the reference trains (see its ``reduction``)."""
        return self.model.loss(**self._model_inputs(batch), reduction="token")

    def augment(self, batch: dict) -> dict:
        if random.random() >= self.aug_prob:
            return batch
        batch = fold_channels(batch)
        past, future = batch["past_target"], batch["future_target"]
        if self.freq_mask_rate > 0:
            past, future = freq_mask(past, future, rate=self.freq_mask_rate)
        if self.freq_mixing_rate > 0:
            past, future = freq_mix(past, future, rate=self.freq_mixing_rate)
        past, future = self.augmentations(past, future)
        return {**batch, "past_target": past, "future_target": future}

    def training_step(self, batch, batch_idx: int):
        loss = self._mean_loss(self.augment(batch))
        self.log("train_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx: int):
        # one teacher-forced pass for both numbers (the training loss's token mean, and the
        # horizon's): a second pass through LagLlamaModel.loss would cost twice and, for the
        # implicit quantile network, draw other quantile levels
        nll, observed = self.loss_per_position(batch)
        loss = token_mean(nll, observed)
        self.log("val_loss", loss, on_epoch=True, on_step=False, prog_bar=True)
        # The context positions of a validation window may have been trained on; only its
        # horizon is unseen, so fine-tuning stops early and picks its epoch on this one.
        H = self.prediction_length
        horizon_loss = token_mean(nll[:, -H:], observed[:, -H:])
        self.log("val_horizon_loss", horizon_loss, on_epoch=True, on_step=False)
        return loss

    def parameter_groups(self) -> List[Dict[str, Any]]:
        """AdamW's parameter groups: one at ``lr``, or with ``covariate_lr`` and a covariate
        projection, that projection's parameters in a second group at ``covariate_lr``."""
        encoder = self.model.covariates
        if self.covariate_lr is None or encoder is None:
            return [{"params": list(self.model.parameters())}]
        own = {id(p) for p in encoder.parameters()}
        rest = [p for p in self.model.parameters() if id(p) not in own]
        return [{"params": rest}, {"params": list(encoder.parameters()), "lr": self.covariate_lr}]

    def configure_optimizers(self):
        groups = self.parameter_groups()
        optimizer = torch.optim.AdamW(
            groups if len(groups) > 1 else groups[0]["params"], lr=self.lr, weight_decay=self.weight_decay
        )
        if not self.use_cosine_annealing_lr:
            return optimizer
        if self.cosine_annealing_lr_args:  # the reference's: its eta_min is one floor for every group
            args = {"T_max": 100, **self.cosine_annealing_lr_args}
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **args)
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        if not self.cosine_steps:
            raise ValueError("a cosine schedule over the whole run needs cosine_steps (the run's optimizer steps)")
        if len(groups) > 1:  # each group from its own rate down to a hundredth of it
            steps = self.cosine_steps
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda t: 0.01 + 0.99 * (1 + math.cos(math.pi * min(t, steps) / steps)) / 2
            )
        else:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=self.cosine_steps, eta_min=self.lr / 100
            )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
