"""Fine-tuning a Lag-Llama checkpoint on one dataset, kept only where it beats the checkpoint.

Users of the reference found fine-tuned models worse than zero-shot (lag-llama issue #46), and
judged by the NLL of one window per series, fine-tuning here made ett_small_1h and UKgas worse on
their test windows while that NLL improved (``benchmarks/results/zero_shot.md``). So:

* **Validation windows never trained on** (:func:`holdout_windows`): up to
  ``FINETUNE_VALIDATION_WINDOWS`` (3) of the last horizons of every training series, as many as
  the series allows: its last one when ``prediction_length + 1`` steps remain to train on (the
  rule of :func:`~lagllama_gluonts.common.evaluation.holdout_last_window`), each earlier one
  while its windows take at most ``FINETUNE_VALIDATION_SHARE`` (half) of the series. The model
  trains on each series up to its earliest window. Only the training data is split: the
  dataset's test windows are never seen. (A caller's own one-window split, ``validation_data``,
  is re-cut the same way: :func:`resplit`.)
* **Early stopping** on the NLL of those windows' horizons alone (``val_horizon_loss``: the
  context positions of a window may have been trained on), the epoch with the lowest restored.
* **Keep-if-better** on the same windows, among the candidates: the starting checkpoint
  (``zero-shot``), the best epoch (``fine-tuned``) and, with covariates, the best epoch with the
  covariates' features zeroed (``fine-tuned, covariates zeroed``: its covariate projection's
  weight set to 0, its bias kept, so the tuning without what the covariates' values add). Each
  is scored by its NLL and by the mean weighted quantile loss over ``QUANTILES`` (GluonTS's
  CRPS estimate, as the benchmarks score) of ``FINETUNE_SELECTION_SAMPLES`` (100) sample paths
  per window, drawn with the seed ``FINETUNE_SELECTION_SEED`` for every candidate (the decision
  is reproducible, and the candidates are compared on the same draws).

  **The rule** (:func:`beats`, :func:`choose_candidate`): candidate A *beats* B when A's
  quantile loss is lower than B's by more than ``FINETUNE_KEEP_MARGIN`` (2%) of B's, the
  per-window differences make that improvement significant at ``FINETUNE_KEEP_LEVEL`` (95%, a
  one-sided paired t-test over the windows, so a few windows of one series need a large and
  steady improvement, and a single window never suffices), AND A's NLL is not higher. A
  fine-tuned candidate is kept only if it beats zero-shot; when both fine-tuned candidates do,
  the one with covariates only if it also beats the one without. Otherwise the checkpoint's
  own weights are kept, bit for bit: fine-tuning then changes nothing rather than harming.

  Why: an NLL on one window per series was not enough (it improved where the forecasts got
  worse), and neither was a fixed margin on the quantile loss: on UKgas, exchange_rate and
  ett_small_1h (3, 24 and 42 windows) the validation gains of the best epoch were 8%, 14% and 3%,
  each 1.5 to 2 standard errors of the per-window differences, and only exchange_rate's held on
  its test windows (100 sample paths alone move a set's quantile loss by about 2%).

The record (:attr:`FineTuneResult.record`) names the kept candidate (``kept_candidate``; ``kept``
in words) and holds every candidate's scores (``candidates``: NLL, quantile loss, and for the
fine-tuned ones the relative gain on zero-shot's quantile loss and its t statistic);
``start_val_loss`` and ``best_val_loss`` are zero-shot's and the best epoch's NLL on the
validation windows; ``selection_summary`` says it all in one line.

The training defaults (learning rate, epochs, patience, frozen blocks; ``defaults.py``) come from
the measurement in ``benchmarks/results/finetune_settings.md``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import lightning.pytorch as pl
import numpy as np
import torch
from gluonts.dataset.common import Dataset
from gluonts.dataset.split import split
from gluonts.torch.model.predictor import PyTorchPredictor

from .checkpoint import Checkpoint, read_checkpoint
from .common.constants import QUANTILES
from .common.estimator import BestWeights
from .common.validation import DataError, check_positive
from .defaults import (
    FINE_TUNING,
    FINETUNE_FREEZE_LAYERS,
    FINETUNE_KEEP_LEVEL,
    FINETUNE_KEEP_MARGIN,
    FINETUNE_SELECTION_SAMPLES,
    FINETUNE_SELECTION_SEED,
    FINETUNE_VALIDATION_SHARE,
    FINETUNE_VALIDATION_WINDOWS,
)
from .estimator import LagLlamaEstimator
from .model_checks import validate_rope_scaling
from .predictor import resolve_rope_scaling

# the candidates keep-if-better chooses among
ZERO_SHOT, TUNED, ZEROED = "zero-shot", "fine-tuned", "fine-tuned, covariates zeroed"
# the fields of an entry that run along time, cut with its target
TIME_FIELDS = (
    "target",
    "observed_values",
    "feat_dynamic_real",
    "past_feat_dynamic_real",
    "feat_dynamic_cat",
    "past_feat_dynamic_cat",
)


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


# --------------------------------------------------------------------------- validation windows


def window_count(
    length: int,
    prediction_length: int,
    windows: int = FINETUNE_VALIDATION_WINDOWS,
    share: float = FINETUNE_VALIDATION_SHARE,
) -> int:
    """How many of its last horizons a series of ``length`` steps gives up to validate on: its
    last one when ``prediction_length + 1`` steps remain to train on, each earlier one while
    that many remain and its windows take at most ``share`` of the series; at most ``windows``."""
    count = 0
    for k in range(1, windows + 1):
        left = length - k * prediction_length
        if left < prediction_length + 1 or (k > 1 and k * prediction_length > share * length):
            break
        count = k
    return count


def cut(entry: dict, end: int) -> dict:
    """``entry``'s first ``end`` steps: its target and every field along time (covariates too)."""
    return {
        **entry,
        **{name: np.asarray(entry[name])[..., :end] for name in TIME_FIELDS if entry.get(name) is not None},
    }


def _windows(entry: dict, prediction_length: int, count: int) -> List[dict]:
    """``entry`` up to the end of each of its last ``count`` horizons, the earliest first."""
    length = np.shape(entry["target"])[-1]
    return [cut(entry, length - k * prediction_length) for k in reversed(range(count))]


def _observed(entry: dict) -> bool:
    return not np.isnan(np.asarray(entry["target"], dtype=float)).all()


def holdout_windows(
    dataset: Dataset,
    prediction_length: int,
    windows: int = FINETUNE_VALIDATION_WINDOWS,
    share: float = FINETUNE_VALIDATION_SHARE,
) -> Tuple[List[dict], List[dict]]:
    """``(fit, validation)``: each series up to its earliest validation window (to train on), and
    one entry per window, the series up to that window's end (its last ``prediction_length``
    steps are what is scored); :func:`window_count` windows per series. A series too short to
    give up one window is left out, as :func:`holdout_last_window` leaves it."""
    fit, validation = [], []
    for entry in dataset:
        length = np.shape(entry["target"])[-1]
        count = window_count(length, prediction_length, windows, share)
        if count == 0:
            continue
        fit.append(cut(entry, length - count * prediction_length))
        validation.extend(_windows(entry, prediction_length, count))
    if not fit:  # holdout_last_window's error: the same rule for the last window
        raise DataError(
            f"no series has {2 * prediction_length + 1} or more steps ({prediction_length + 1} to train on "
            f"and the last {prediction_length} to validate with)"
        )
    return fit, validation


def _prefix_key(entry: dict, length: int):
    return str(entry["start"]), str(entry.get("item_id")), int(length)


def resplit(
    fit: Sequence[dict],
    validation: Sequence[dict],
    prediction_length: int,
    windows: int = FINETUNE_VALIDATION_WINDOWS,
    share: float = FINETUNE_VALIDATION_SHARE,
) -> Tuple[List[dict], List[dict]]:
    """A caller's one-window split re-cut into :func:`holdout_windows`' windows.

    ``validation`` holds full series, ``fit`` those series without their last horizon (in any
    order) and series that train whole, unvalidated: each validated series gets its windows (at
    least its last one) and its part in ``fit`` is cut back before its earliest; the others stay."""
    h = prediction_length
    counts = [max(1, window_count(np.shape(v["target"])[-1], h, windows, share)) for v in validation]
    by_key: Dict[tuple, List[int]] = {}
    for index, entry in enumerate(validation):
        by_key.setdefault(_prefix_key(entry, np.shape(entry["target"])[-1] - h), []).append(index)
    refit = []
    for entry in fit:
        target = np.asarray(entry["target"])
        matches = by_key.get(_prefix_key(entry, target.shape[-1]), [])
        index = next(
            (
                i
                for i in matches
                if np.array_equal(np.asarray(validation[i]["target"])[..., : target.shape[-1]], target, equal_nan=True)
            ),
            None,
        )
        if index is None:
            refit.append(entry)
            continue
        matches.remove(index)
        length = np.shape(validation[index]["target"])[-1]
        trimmed = cut(validation[index], length - counts[index] * h)
        if _observed(trimmed):
            refit.append(trimmed)
    return refit, [w for entry, count in zip(validation, counts) for w in _windows(entry, h, count)]


# --------------------------------------------------------------------------- scoring the candidates


def _on_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


@torch.no_grad()
def validation_loss(estimator: LagLlamaEstimator, module, validation: Dataset) -> float:
    """Mean negative log-likelihood over the observed horizon positions of the validation windows."""
    module.eval()
    device = next(module.parameters()).device
    transformed = estimator.create_transformation().apply(validation, is_train=True)
    total, count = 0.0, 0.0
    for batch in estimator.create_validation_data_loader(transformed, module):
        nll, observed = module.loss_per_position(_on_device(batch, device))
        nll, observed = nll[:, -estimator.prediction_length :], observed[:, -estimator.prediction_length :]
        total += float((nll * observed).sum())
        count += float(observed.sum())
    return total / max(count, 1.0)


def window_losses(forecasts, labels, quantiles: Sequence[float] = QUANTILES) -> np.ndarray:
    """Each window's share of GluonTS's ``mean_wQuantileLoss`` of ``forecasts`` against the
    ``labels`` (each a horizon's values, ``(D, H)`` for a multivariate one): twice its pinball
    losses summed over its observed steps, averaged over ``quantiles``, divided by the summed
    ``|y|`` of all the windows. They add up to the weighted quantile loss (NaN where all is 0)."""
    losses, scale = [], 0.0
    for forecast, label in zip(forecasts, labels):
        y = np.asarray(label, dtype=float)
        y = y.T if y.ndim == 2 else y  # (D, H) -> (H, D), as the forecast's quantiles
        observed = ~np.isnan(y)
        scale += float(np.abs(y[observed]).sum())
        pinball = []
        for q in quantiles:
            predicted = np.asarray(forecast.quantile(q), dtype=float)
            pinball.append(float(np.abs((y - predicted) * ((y <= predicted) - q))[observed].sum()))
        losses.append(2 * float(np.mean(pinball)))
    return np.asarray(losses) / scale if scale > 0 else np.full(len(losses), np.nan)


def weighted_quantile_loss(forecasts, labels, quantiles: Sequence[float] = QUANTILES) -> float:
    """GluonTS's ``mean_wQuantileLoss`` over all the windows: the sum of :func:`window_losses`."""
    return float(window_losses(forecasts, labels, quantiles).sum())


def _cuda_devices(device) -> List[int]:
    device = torch.device(device)
    return [torch.cuda.current_device() if device.index is None else device.index] if device.type == "cuda" else []


def quantile_losses(
    estimator: LagLlamaEstimator,
    transformation,
    module,
    validation: Dataset,
    num_samples: int = FINETUNE_SELECTION_SAMPLES,
    seed: int = FINETUNE_SELECTION_SEED,
) -> np.ndarray:
    """:func:`window_losses` of ``module``'s forecasts of each validation window's last
    ``prediction_length`` steps, ``num_samples`` paths each, drawn with ``seed`` (every candidate
    from the same draws; the global random state is left as it was)."""
    h = estimator.prediction_length
    _, template = split(validation, offset=-h)
    instances = list(template.generate_instances(h))
    predictor = estimator.create_predictor(transformation, module)
    model, saved = module.model, module.model.num_parallel_samples
    model.num_parallel_samples = num_samples  # one pass per batch draws them all
    try:
        with torch.random.fork_rng(devices=_cuda_devices(predictor.device)):
            torch.manual_seed(seed)
            forecasts = list(predictor.predict([inp for inp, _ in instances], num_samples=num_samples))
    finally:
        model.num_parallel_samples = saved
    return window_losses(forecasts, [label["target"] for _, label in instances])


def zeroed_covariates(estimator: LagLlamaEstimator, module):
    """A copy of ``module`` with the covariates' features zeroed: its covariate projection's
    weight set to 0 (its bias, a learned offset that reads no covariate, stays), and a pretrained
    covariate pathway's output layer too; None for a model without covariates."""
    if module.model.covariates is None:
        return None
    zeroed = estimator.create_lightning_module()
    zeroed.load_state_dict(module.state_dict())
    with torch.no_grad():
        zeroed.model.covariates.proj.weight.zero_()
        if zeroed.model.covariate_regression is not None:
            zeroed.model.covariate_regression.out.weight.zero_()
            zeroed.model.covariate_regression.shift.weight.zero_()
    return zeroed


def covariates_record(
    estimator: LagLlamaEstimator, module, validation: Dataset, tuned_loss: float, zeroed_loss: Optional[float] = None
) -> dict:
    """Did the learned covariates help on validation? The fine-tuned model's NLL against the
    same model with the covariates' features zeroed (:func:`zeroed_covariates`; ``zeroed_loss``,
    computed here when not given); {} for a model without covariates."""
    if module.model.covariates is None:
        return {}
    if zeroed_loss is None:
        zeroed_loss = validation_loss(estimator, zeroed_covariates(estimator, module), validation)
    helped = tuned_loss < zeroed_loss
    return {
        "covariate_lr": estimator.covariate_lr,
        "val_loss_with_covariates": tuned_loss,
        "val_loss_covariates_zeroed": zeroed_loss,
        "covariates_helped": helped,
        "covariates_summary": f"covariates {'helped' if helped else 'did not help'} on validation "
        f"({tuned_loss:.4f} with the learned projection, {zeroed_loss:.4f} with it zeroed)",
    }


# --------------------------------------------------------------------------- the rule


def _t_cdf(t: float, df: int) -> float:
    """P(T <= t), ``t >= 0``, for Student's t with ``df >= 1`` degrees of freedom (an integer:
    Abramowitz & Stegun 26.7.3-4, exact; no scipy needed)."""
    theta = math.atan(t / math.sqrt(df))
    sin, cos, term, series = math.sin(theta), math.cos(theta), 1.0, 1.0
    if df % 2 == 0:  # sin(theta) * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
        for k in range(1, df // 2):
            term *= cos * cos * (2 * k - 1) / (2 * k)
            series += term
        return 0.5 + 0.5 * sin * series
    for k in range(1, (df - 1) // 2):  # 2/pi (theta + sin cos (1 + 2/3 cos^2 + ... up to cos^(df-3)))
        term *= cos * cos * (2 * k) / (2 * k + 1)
        series += term
    return 0.5 + (theta + (sin * cos * series if df > 1 else 0.0)) / math.pi


def t_quantile(level: float, df: int) -> float:
    """Student's t quantile at ``level`` (> 0.5) with ``df`` degrees of freedom, by bisection."""
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < level:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if _t_cdf(middle, df) < level else (low, middle)
    return high


@dataclass
class Scores:
    """A candidate's validation scores: its NLL, and each window's share of its quantile loss."""

    nll: float
    losses: np.ndarray

    @property
    def quantile_loss(self) -> float:
        return float(self.losses.sum())


def gain(a: Scores, b: Scores) -> Tuple[float, float]:
    """How much ``a`` improves on ``b``'s quantile loss: ``(the difference relative to b's, the
    paired t statistic of the per-window differences)``; NaN where it cannot be told."""
    if a.losses.shape != b.losses.shape:
        raise ValueError(f"scores of different windows: {a.losses.shape} and {b.losses.shape}")
    difference = b.losses - a.losses
    n = len(difference)
    if n < 2 or not np.isfinite(difference).all() or not b.quantile_loss > 0:
        return math.nan, math.nan
    mean, sd = float(difference.mean()), float(difference.std(ddof=1))
    t = mean / (sd / math.sqrt(n)) if sd > 0 else math.copysign(math.inf, mean) if mean else 0.0
    return float(difference.sum()) / b.quantile_loss, t


def beats(a: Scores, b: Scores, margin: float = FINETUNE_KEEP_MARGIN, level: float = FINETUNE_KEEP_LEVEL) -> bool:
    """``a`` beats ``b``: a quantile loss lower by more than ``margin`` of ``b``'s, significantly
    (a one-sided paired t-test over the windows at ``level``), and an NLL no higher."""
    relative, t = gain(a, b)
    if not (relative > margin and a.nll <= b.nll):  # NaN: False
        return False
    return t > t_quantile(level, len(a.losses) - 1)


def choose_candidate(
    scores: Dict[str, Scores], margin: float = FINETUNE_KEEP_MARGIN, level: float = FINETUNE_KEEP_LEVEL
) -> str:
    """Keep-if-better (the module docstring's rule): the fine-tuned candidate that beats
    zero-shot, the covariates' one only if it also beats the zeroed one; else zero-shot."""
    start = scores[ZERO_SHOT]
    winners = [name for name in (ZEROED, TUNED) if name in scores and beats(scores[name], start, margin, level)]
    if len(winners) == 2:
        return TUNED if beats(scores[TUNED], scores[ZEROED], margin, level) else ZEROED
    return winners[0] if winners else ZERO_SHOT


def select(
    estimator: LagLlamaEstimator,
    transformation,
    candidates: Dict[str, pl.LightningModule],
    validation,
    margin: float,
    level: float,
) -> Tuple[str, Dict[str, Scores]]:
    """Score every candidate on the validation windows; ``(the one kept, the scores)``."""
    scores = {}
    for name, module in candidates.items():
        nll = validation_loss(estimator, module, validation)
        losses = quantile_losses(estimator, transformation, module, validation) if math.isfinite(nll) else None
        scores[name] = Scores(nll, np.full(len(validation), np.nan) if losses is None else losses)
    return choose_candidate(scores, margin, level), scores


def scores_record(scores: Dict[str, Scores]) -> Dict[str, Dict[str, float]]:
    """The record's ``candidates``: each one's NLL and quantile loss on the validation windows,
    and for the fine-tuned ones the relative gain on zero-shot's quantile loss and its t."""
    record = {}
    for name, s in scores.items():
        record[name] = {"val_nll": s.nll, "val_quantile_loss": s.quantile_loss}
        if name != ZERO_SHOT:
            relative, t = gain(s, scores[ZERO_SHOT])
            record[name].update(gain_vs_zero_shot=relative, t_vs_zero_shot=t)
    return record


def kept_text(kept: str, scores: Dict[str, Scores], margin: float, level: float) -> str:
    """The record's ``kept``: "fine-tuned", "fine-tuned (covariates zeroed)" or why the checkpoint."""
    if kept == TUNED:
        return "fine-tuned"
    if kept == ZEROED:
        return "fine-tuned (covariates zeroed)"
    if not scores[TUNED].nll < scores[ZERO_SHOT].nll:
        return "checkpoint (no epoch beat it on validation)"
    return (
        f"checkpoint (fine-tuning did not lower the validation quantile loss by more than {margin:.0%}, "
        f"significantly at {level:.0%}, without raising the NLL)"
    )


def selection_summary(kept: str, record: Dict[str, Dict[str, float]], windows: int) -> str:
    """One line: each candidate's validation scores and the one kept."""
    each = []
    for name, s in record.items():
        relative, gains = s.get("gain_vs_zero_shot"), ""
        if relative is not None:
            change = (
                f"{abs(relative):.1%} {'lower' if relative >= 0 else 'higher'}" if math.isfinite(relative) else "n/a"
            )
            gains = f"; {change}, t {s['t_vs_zero_shot']:.2f}"
        each.append(f"{name} {s['val_quantile_loss']:.4f} (NLL {s['val_nll']:.4f}{gains})")
    return f"validation quantile loss on {windows} windows: {'; '.join(each)}; kept {kept}"


# --------------------------------------------------------------------------- fine-tuning


@dataclass
class FineTuneResult:
    predictor: PyTorchPredictor
    estimator: LagLlamaEstimator
    module: pl.LightningModule
    record: Dict[str, Union[float, int, str, None, dict]] = field(default_factory=dict)


def validation_split(
    train_data: Dataset, prediction_length: int, validation_data: Optional[Dataset], windows: int
) -> Tuple[List[dict], List[dict]]:
    """``(fit, validation windows)``: ``train_data`` split by :func:`holdout_windows`, or the
    caller's split (``train_data``, ``validation_data``) re-cut by :func:`resplit`."""
    if validation_data is None:
        return holdout_windows(train_data, prediction_length, windows)
    return resplit(list(train_data), list(validation_data), prediction_length, windows)


def _trainer_kwargs(callbacks, max_epochs, early_stopping_patience, progress, max_minutes, max_steps) -> dict:
    kwargs = {
        **FINE_TUNING.trainer_kwargs(),
        "max_epochs": max_epochs,
        "enable_progress_bar": progress,
        "enable_model_summary": False,
        "callbacks": [
            pl.callbacks.EarlyStopping(monitor="val_horizon_loss", mode="min", patience=early_stopping_patience),
            *callbacks,
            *([HorizonLossBar()] if progress else []),
        ],
    }
    if max_minutes:
        kwargs["max_time"] = {"minutes": max_minutes}
    if max_steps:
        kwargs["max_steps"] = max_steps
    return kwargs


def _check_selection(validation_windows: int, keep_margin: float, keep_level: float) -> None:
    check_positive(validation_windows=validation_windows)
    if not 0 <= keep_margin < 1:
        raise ValueError(f"keep_margin must be in [0, 1), got {keep_margin!r}")
    if not 0.5 <= keep_level < 1:
        raise ValueError(f"keep_level must be in [0.5, 1), got {keep_level!r}")


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
    validation_windows: int = FINETUNE_VALIDATION_WINDOWS,
    keep_margin: float = FINETUNE_KEEP_MARGIN,
    keep_level: float = FINETUNE_KEEP_LEVEL,
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
    (``patience`` is its deprecated name, which warns). ``validation_windows``: the most windows
    per series validated on; ``keep_margin`` and ``keep_level``: keep-if-better's margin and
    significance level (the module doc).
    ``validation_data``: ``train_data`` is already split (the commands split with the shared
    rule before training), these are the full series whose last window validates; the split is
    then re-cut into several windows per series (:func:`resplit`); by default ``train_data`` is
    split here by :func:`holdout_windows`.
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
    _check_selection(validation_windows, keep_margin, keep_level)
    validate_rope_scaling(rope_scaling)
    ckpt = read_checkpoint(checkpoint)  # None: the bundled checkpoint
    check_freeze_layers(ckpt, freeze_layers)
    context_length = context_length or ckpt.context_length
    rope_scaling = resolve_rope_scaling(rope_scaling, ckpt.model_kwargs, context_length, prediction_length)
    fit, validation = validation_split(train_data, prediction_length, validation_data, validation_windows)
    best = BestWeights(monitor="val_horizon_loss")
    callbacks = [FreezeLayers(freeze_layers), best]
    estimator = LagLlamaEstimator.from_checkpoint(
        ckpt,
        prediction_length=prediction_length,
        context_length=context_length,
        rope_scaling=rope_scaling,
        lr=lr,
        batch_size=batch_size,
        num_batches_per_epoch=num_batches_per_epoch,
        trainer_kwargs=_trainer_kwargs(
            callbacks, max_epochs, early_stopping_patience, progress, max_minutes, max_steps
        ),
        **estimator_kwargs,
    )
    began = time.time()
    output = estimator.train_model(fit, validation_data=validation, cache_data=True)
    train_seconds = time.time() - began
    tuned = output.trained_net
    if best.best_state is not None:  # the base restored the best epoch by val_loss; we want ours
        tuned.load_state_dict(best.best_state)
    # the checkpoint's weights (already in memory), the best epoch, and that epoch without covariates
    candidates = {ZERO_SHOT: estimator.create_lightning_module(), TUNED: tuned}
    zeroed = zeroed_covariates(estimator, tuned)
    if zeroed is not None:
        candidates[ZEROED] = zeroed
    began = time.time()
    kept, scores = select(estimator, output.transformation, candidates, validation, keep_margin, keep_level)
    candidates_record = scores_record(scores)
    module = candidates[kept]
    module.eval()
    record = {
        "lr": lr,
        "max_epochs": max_epochs,
        "patience": early_stopping_patience,
        "freeze_layers": freeze_layers,
        "num_batches_per_epoch": num_batches_per_epoch,
        "epochs_run": output.trainer.current_epoch,
        "start_val_loss": scores[ZERO_SHOT].nll,
        "best_val_loss": scores[TUNED].nll,
        "kept": kept_text(kept, scores, keep_margin, keep_level),
        "kept_candidate": kept,
        "candidates": candidates_record,
        "keep_margin": keep_margin,
        "keep_level": keep_level,
        "selection_summary": selection_summary(kept, candidates_record, len(validation)),
        "validation_windows": len(validation),
        "selection_seconds": time.time() - began,
        "train_seconds": train_seconds,
        "train_series": len(fit),
    }
    zeroed_loss = scores[ZEROED].nll if zeroed is not None else None
    covariates = covariates_record(estimator, tuned, validation, scores[TUNED].nll, zeroed_loss)
    if covariates:
        covariates["covariates_summary"] += f"; {record['selection_summary']}"
    predictor = estimator.create_predictor(output.transformation, module)
    return FineTuneResult(predictor=predictor, estimator=estimator, module=module, record={**record, **covariates})
