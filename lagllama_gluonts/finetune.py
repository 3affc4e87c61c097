"""Fine-tuning a Lag-Llama checkpoint on one dataset, with early stopping on a validation window.

Users of the reference found fine-tuned models worse than zero-shot (lag-llama issue #46). Three
things here keep fine-tuning from doing harm:

* a validation window that is never trained on: the last ``prediction_length`` steps of every
  training series (the dataset's test windows are never touched);
* early stopping on the loss of that window's horizon alone (``val_horizon_loss``: the context
  positions of a validation window were trained on), restoring the epoch with the lowest loss;
* the starting checkpoint competes too: when no epoch beats its validation loss, the
  checkpoint's own weights are kept (fine-tuning then changes nothing rather than harming).

The defaults (learning rate, epochs, patience, frozen blocks; ``defaults.py``) come from the
measurement in ``benchmarks/results/finetune_settings.md``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Union

import lightning.pytorch as pl
import torch
from gluonts.dataset.common import Dataset
from gluonts.torch.model.predictor import PyTorchPredictor

from .checkpoint import Checkpoint, read_checkpoint
from .common.estimator import BestWeights
from .common.evaluation import holdout_last_window
from .common.validation import DataError, check_positive
from .defaults import FINE_TUNING, FINETUNE_FREEZE_LAYERS
from .estimator import LagLlamaEstimator
from .model_checks import validate_rope_scaling
from .predictor import resolve_rope_scaling


def check_freeze_layers(checkpoint: Checkpoint, freeze_layers: int) -> None:
    """``freeze_layers`` is 0 .. the checkpoint's number of blocks, else a :class:`DataError`."""
    n_layer = checkpoint.model_kwargs["n_layer"]
    if isinstance(freeze_layers, bool) or not isinstance(freeze_layers, int) or not 0 <= freeze_layers <= n_layer:
        raise DataError(f"cannot freeze {freeze_layers} layers: {checkpoint.path} has {n_layer} (give 0 .. {n_layer})")


class HorizonLossBar(pl.callbacks.TQDMProgressBar):
    """Fine-tuning's progress bar: its ``val_loss`` is the validation horizon's loss.

    The module logs two validation numbers, the whole window's token mean (``val_loss``) and
    the horizon's alone (``val_horizon_loss``); fine-tuning stops, picks its epoch and reports
    "validation loss A -> B" on the second. The bar showed the first under that name, a
    different number, so it now shows the horizon's as ``val_loss`` and nothing else."""

    def get_metrics(self, trainer, pl_module):
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("val_loss", None)
        horizon = trainer.callback_metrics.get("val_horizon_loss")
        if horizon is not None:
            metrics["val_loss"] = float(horizon)
        return metrics


class FreezeLayers(pl.Callback):
    """Stop training the input projection and the first ``n`` transformer blocks.

    Frozen parameters get no gradient, and AdamW leaves parameters without one untouched
    (no weight decay either), so they keep the checkpoint's values exactly.
    """

    def __init__(self, n: int) -> None:
        self.n = n

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.n <= 0:
            return
        transformer = pl_module.model.transformer
        if self.n > len(transformer.h):
            raise DataError(f"cannot freeze {self.n} layers: the model has {len(transformer.h)}")
        for module in [transformer.wte, *transformer.h[: self.n]]:
            for parameter in module.parameters():
                parameter.requires_grad_(False)


@torch.no_grad()
def validation_loss(estimator: LagLlamaEstimator, module, validation: Dataset) -> float:
    """Mean negative log-likelihood over the observed horizon positions of the validation windows."""
    module.eval()
    transformed = estimator.create_transformation().apply(validation, is_train=True)
    total, count = 0.0, 0.0
    for batch in estimator.create_validation_data_loader(transformed, module):
        nll, observed = module.loss_per_position(batch)
        nll, observed = nll[:, -estimator.prediction_length :], observed[:, -estimator.prediction_length :]
        total += float((nll * observed).sum())
        count += float(observed.sum())
    return total / max(count, 1.0)


def covariates_record(estimator: LagLlamaEstimator, module, validation: Dataset, tuned_loss: float) -> dict:
    """Did the learned covariate projection help on validation? The fine-tuned model's loss
    against the same model with the projection zeroed (what it computes without covariates);
    {} for a model without covariates."""
    encoder = module.model.covariates
    if encoder is None:
        return {}
    saved = {name: value.detach().clone() for name, value in encoder.proj.state_dict().items()}
    with torch.no_grad():
        for parameter in encoder.proj.parameters():
            parameter.zero_()
    try:
        without = validation_loss(estimator, module, validation)
    finally:
        encoder.proj.load_state_dict(saved)
    helped = tuned_loss < without
    return {
        "covariate_lr": estimator.covariate_lr,
        "val_loss_with_covariates": tuned_loss,
        "val_loss_covariates_zeroed": without,
        "covariates_helped": helped,
        "covariates_summary": f"covariates {'helped' if helped else 'did not help'} on validation "
        f"({tuned_loss:.4f} with the learned projection, {without:.4f} with it zeroed)",
    }


@dataclass
class FineTuneResult:
    predictor: PyTorchPredictor
    estimator: LagLlamaEstimator
    module: pl.LightningModule
    record: Dict[str, Union[float, int, str, None]] = field(default_factory=dict)


def finetune(
    train_data: Dataset,
    prediction_length: int,
    checkpoint: Union[str, Path, Checkpoint, None] = None,
    context_length: Optional[int] = None,
    rope_scaling: Optional[dict] = None,
    lr: float = FINE_TUNING.lr,
    max_epochs: int = FINE_TUNING.max_epochs,
    max_steps: Optional[int] = None,
    early_stopping_patience: int = FINE_TUNING.early_stopping_patience,
    freeze_layers: int = FINETUNE_FREEZE_LAYERS,
    num_batches_per_epoch: int = FINE_TUNING.num_batches_per_epoch,
    batch_size: int = FINE_TUNING.batch_size,
    max_minutes: Optional[float] = None,
    progress: bool = True,
    patience: Optional[int] = None,
    validation_data: Optional[Dataset] = None,
    **estimator_kwargs,
) -> FineTuneResult:
    """Fine-tune ``checkpoint`` (default: the bundled one) on ``train_data``; see the module doc.

    ``checkpoint`` is a path, None (the bundled one), a Hugging Face Hub reference
    ``OWNER/NAME[@REVISION][:FILE]`` (:mod:`~lagllama_gluonts.hub`), or a
    :class:`~lagllama_gluonts.checkpoint.Checkpoint` already read; the file is read once.
    ``context_length`` and ``rope_scaling`` work as in :func:`~lagllama_gluonts.load_predictor`;
    ``estimator_kwargs`` go to :meth:`LagLlamaEstimator.from_checkpoint` (e.g.
    ``num_parallel_samples``, ``use_kv_cache``, ``device``, "auto" by default). The training
    defaults are ``defaults.FINE_TUNING``'s, with its gradient clipping and precision.
    ``early_stopping_patience``: epochs without a lower validation-horizon loss before stopping
    (``patience`` is its deprecated name, which warns). ``validation_data``: ``train_data`` is
    already split (the commands split with the shared rule before training), these are the
    full series whose last window validates; by default
    ``train_data`` is split here by :func:`holdout_last_window`.
    """
    if patience is not None:
        warnings.warn(
            "finetune(patience=) is deprecated: use early_stopping_patience= (the estimators' name)",
            DeprecationWarning,
            stacklevel=2,
        )
        early_stopping_patience = patience
    # the arguments first: a bad one fails before the data is split or anything is built
    check_positive(prediction_length=prediction_length, context_length=context_length)
    validate_rope_scaling(rope_scaling)
    ckpt = read_checkpoint(checkpoint)  # None: the bundled checkpoint
    check_freeze_layers(ckpt, freeze_layers)
    context_length = context_length or ckpt.context_length
    rope_scaling = resolve_rope_scaling(rope_scaling, ckpt.model_kwargs, context_length, prediction_length)
    if validation_data is None:
        fit, validation = holdout_last_window(train_data, prediction_length)
    else:
        fit, validation = list(train_data), list(validation_data)
    best = BestWeights(monitor="val_horizon_loss")
    trainer_kwargs = {
        **FINE_TUNING.trainer_kwargs(),
        "max_epochs": max_epochs,
        "enable_progress_bar": progress,
        "enable_model_summary": False,
        "callbacks": [
            pl.callbacks.EarlyStopping(monitor="val_horizon_loss", mode="min", patience=early_stopping_patience),
            FreezeLayers(freeze_layers),
            best,
            *([HorizonLossBar()] if progress else []),
        ],
    }
    if max_minutes:
        trainer_kwargs["max_time"] = {"minutes": max_minutes}
    if max_steps:
        trainer_kwargs["max_steps"] = max_steps
    estimator = LagLlamaEstimator.from_checkpoint(
        ckpt,
        prediction_length=prediction_length,
        context_length=context_length,
        rope_scaling=rope_scaling,
        lr=lr,
        batch_size=batch_size,
        num_batches_per_epoch=num_batches_per_epoch,
        trainer_kwargs=trainer_kwargs,
        **estimator_kwargs,
    )
    start_loss = validation_loss(estimator, estimator.create_lightning_module(), validation)
    began = time.time()
    output = estimator.train_model(fit, validation_data=validation, cache_data=True)
    train_seconds = time.time() - began
    module = output.trained_net
    if best.best_state is not None:  # the base restored the best epoch by val_loss; we want ours
        module.load_state_dict(best.best_state)
    tuned_loss = validation_loss(estimator, module, validation)
    covariates = covariates_record(estimator, module, validation, tuned_loss)
    keep_tuned = tuned_loss < start_loss
    if not keep_tuned:
        module = estimator.create_lightning_module()  # the checkpoint's weights, already in memory
    module.eval()
    record = {
        "lr": lr,
        "max_epochs": max_epochs,
        "patience": early_stopping_patience,
        "freeze_layers": freeze_layers,
        "num_batches_per_epoch": num_batches_per_epoch,
        "epochs_run": output.trainer.current_epoch,
        "start_val_loss": start_loss,
        "best_val_loss": tuned_loss,
        "kept": "fine-tuned" if keep_tuned else "checkpoint (no epoch beat it on validation)",
        "train_seconds": train_seconds,
        "train_series": len(fit),
        **covariates,
    }
    predictor = estimator.create_predictor(output.transformation, module)
    return FineTuneResult(predictor=predictor, estimator=estimator, module=module, record=record)
