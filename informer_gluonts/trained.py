"""An Informer trained once and used again: trained by ``informer-gluonts train``, saved as a
GluonTS predictor folder (``--save DIR``, ``Predictor.serialize``), read back by ``--predictor
DIR`` on ``forecast`` and ``backtest`` instead of training.

What a saved predictor was trained for (frequency, horizon, covariates, variables) is read from
its ``predictor.json`` without loading torch, so that a mismatch with the command's data is one
line naming both values, before any work. Kept free of torch imports at module level, like the
command line that imports it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from lagllama_gluonts.common.adapter import Trained
from lagllama_gluonts.common.cli import CLIError
from lagllama_gluonts.common.frequency import to_offset

# the two files GluonTS's ``serialize`` writes besides the weights
CONFIG, PREDICTOR = "gluonts-config.json", "predictor.json"
MODULE = "informer_gluonts.lightning_module.InformerLightningModule"


@dataclass(frozen=True)
class SavedPredictor:
    """What a saved predictor forecasts: read by :func:`read_saved`."""

    path: Path
    freq: Optional[str]
    prediction_length: int
    known: int  # known-future covariates (num_feat_dynamic_real)
    past: int  # past-only covariates (num_past_feat_dynamic_real)
    target_dim: Optional[int]  # variables forecast jointly (--features M), else None

    @property
    def flag(self) -> str:
        return f"--predictor {str(self.path)!r}"


def read_saved(path: Path) -> SavedPredictor:
    """The saved predictor at ``path``, else a :class:`CLIError` saying what the folder is."""
    shown = f"--predictor {str(path)!r}"
    if not path.exists():
        raise CLIError(f"{shown}: no such folder")
    if not path.is_dir():
        raise CLIError(f"{shown} is a file; name the folder that train --save wrote")
    if not (path / CONFIG).is_file() or not (path / PREDICTOR).is_file():
        raise CLIError(f"{shown} is not a saved predictor (no {PREDICTOR}); write one with train --save DIR")
    try:
        kwargs = json.loads((path / PREDICTOR).read_text())["kwargs"]
        network = kwargs["prediction_net"]
        model = network["kwargs"]["model_kwargs"]
        saved = SavedPredictor(
            path=path,
            freq=_find(kwargs["input_transform"], "freq"),
            prediction_length=int(kwargs["prediction_length"]),
            known=int(model.get("num_feat_dynamic_real") or 0),
            past=int(model.get("num_past_feat_dynamic_real") or 0),
            target_dim=model.get("target_dim"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CLIError(f"{shown}: its {PREDICTOR} is unreadable (not written by train --save?)") from None
    if network.get("class") != MODULE:
        raise CLIError(f"{shown} holds a {network.get('class')} predictor, not an Informer")
    return saved


def _find(node, key: str):
    """The first string value of ``key`` in a serialized object (the frequency a
    ``ValidateSeries`` step of the input transform checks)."""
    if isinstance(node, dict):
        if isinstance(node.get(key), str):
            return node[key]
        node = list(node.values())
    if isinstance(node, list):
        return next((found for found in (_find(child, key) for child in node) if found is not None), None)
    return None


def check_horizon(saved: SavedPredictor, given: Optional[int]) -> int:
    """The horizon of a command with ``saved``: ``given`` (``--prediction-length``) must be its."""
    if given is not None and given != saved.prediction_length:
        raise CLIError(f"{saved.flag} forecasts {saved.prediction_length} steps; --prediction-length is {given}")
    return saved.prediction_length


def check_data(saved: SavedPredictor, freq: str, covariates: dict) -> None:
    """``saved`` fits the command's data: the same frequency, variables and covariates."""
    if saved.freq is not None and to_offset(saved.freq) != to_offset(freq):
        raise CLIError(f"{saved.flag} was trained on frequency {saved.freq!r}; this data's is {freq!r}")
    dims = covariates.get("target_dim")
    if dims != saved.target_dim:
        raise CLIError(f"{saved.flag} forecasts {_variables(saved.target_dim)}; this command {_variables(dims)}")
    have = (covariates.get("num_feat_dynamic_real", 0), covariates.get("num_past_feat_dynamic_real", 0))
    if (saved.known, saved.past) != have:
        raise CLIError(
            f"{saved.flag} was trained with {_covariates(saved.known, saved.past)}; this table gives "
            f"{_covariates(*have)} (--known-covariates, --covariates)"
        )


def _variables(dims: Optional[int]) -> str:
    return f"{dims} variables jointly (--features M)" if dims else "one series at a time (--features S or MS)"


def _covariates(known: int, past: int) -> str:
    kinds = [f"{known} known-future" if known else "", f"{past} past-only" if past else ""]
    return " and ".join(k for k in kinds if k) + " covariate(s)" if known or past else "no covariates"


def load(saved: SavedPredictor, args):
    """The saved predictor on ``--device``, forecasting ``--batch-size`` series a batch
    (``--nonnegative``: paths clipped at 0), then seeded: its samples depend on the seed alone."""
    import lightning.pytorch as pl
    from gluonts.torch.model.predictor import PyTorchPredictor

    from lagllama_gluonts.common.estimator import resolve_device

    predictor = PyTorchPredictor.deserialize(saved.path, device=resolve_device(args.device))
    predictor.batch_size = args.batch_size
    if args.nonnegative:
        predictor.prediction_net.model.nonnegative_pred_samples = True
    pl.seed_everything(args.seed, verbose=False)
    return predictor


def fit(estimator, train: Sequence[dict], validation, batch_size: int) -> Trained:
    """Train ``estimator`` (``validation``: early stopping and the best epoch's weights) and
    the record of ``train``: epochs, seconds, series, the last losses."""
    began = time.time()
    output = estimator.train_model(train, validation_data=validation)
    seconds = time.time() - began
    output.predictor.batch_size = batch_size
    losses = {k: float(v) for k, v in output.trainer.callback_metrics.items() if k.endswith("loss")}
    record = {
        "epochs_run": output.trainer.current_epoch,
        "train_seconds": seconds,
        "train_series": len(train),
        "validated_series": len(validation or []),
        **losses,
    }
    print(f"trained on {len(train)} series in {seconds:.1f}s ({record['epochs_run']} epochs)")
    return Trained(output.predictor, record)
