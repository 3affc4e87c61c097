"""What a model gives the shared commands: a small adapter, in the manner of Chronos's
``BaseChronosPipeline`` (one ``predict_df`` for every model, each model overriding only
``predict``). :mod:`~lagllama_gluonts.common.commands` reads tables, holds out windows,
scores, plots and writes for every model; an adapter says only what differs: the model's name,
its own options, and how to build a predictor (trained on the data, or read from a checkpoint)
for a frequency and a horizon; and, for the shared ``train`` command, how it trains on a
table and how a trained model is saved.

Kept free of torch imports, like the rest of the command-line layer.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .atomic import atomic_dir


@dataclass
class Trained:
    """What :meth:`ModelAdapter.fit` returns: the predictor that forecasts, the training record
    (``metrics.json``), and what :meth:`ModelAdapter.save_model` writes when the predictor
    alone does not hold it (Lag-Llama: the network and its configuration)."""

    predictor: Any
    record: Dict[str, Any] = field(default_factory=dict)
    model: Any = None


class ModelAdapter:
    """One model as the shared commands see it. Subclasses override what their model needs;
    the defaults describe a model without covariates or joint (multivariate) forecasts."""

    #: shown in tables, records and titles ("Lag-Llama", "Informer")
    name = "model"
    #: the output folder's model part: ``out/KEY/COMMAND/NAME``
    key = "model"
    #: ``train``: a series too short to give up its last horizon for validation is trained on
    #: whole, unvalidated (True), or left out (False: every series it trains on is validated)
    train_short_series = True
    #: ``train --save``: the model is saved as a folder (True) or as one file (False)
    saves_folder = True
    #: a file in a folder this model saved (an existing ``--save`` folder holding it is replaced):
    #: by default the one GluonTS's ``Predictor.serialize`` writes
    saved_marker: Optional[str] = "gluonts-config.json"
    #: the trained model's name in ``train --dataset``'s metrics table (None: :attr:`name`)
    trained_label: Optional[str] = None

    # ------------------------------------------------------------------ options

    def add_model_arguments(self, parser: argparse.ArgumentParser, command: str) -> None:
        """The model's own options on a shared command (``forecast``, ``backtest``)."""

    def check(self, args: argparse.Namespace) -> None:
        """Option checks before any file is read (raise :class:`~.cli.CLIError`)."""

    # ------------------------------------------------------------------ the data's roles

    def targets(self, args: argparse.Namespace) -> List[str]:
        """The columns to forecast (default: ``--target``'s)."""
        from .cli import table_targets

        return table_targets(args)

    def covariates(self, args: argparse.Namespace) -> Tuple[List[str], List[str]]:
        """``(known, past)``: the covariate columns known over the horizon and known only in
        the past (default: ``--known-covariates`` and ``--covariates``, each once)."""
        from .cli import CLIError

        known = list(dict.fromkeys(getattr(args, "known_covariates", None) or []))
        past = list(dict.fromkeys(getattr(args, "covariates", None) or []))
        both = [c for c in known if c in past]
        if both:
            raise CLIError(
                f"column {both[0]!r} is given as both --known-covariates and --covariates; it is one or "
                "the other (known over the horizon, or only in the past)"
            )
        return known, past

    def in_context(self, args: argparse.Namespace) -> bool:
        """Whether the command's covariates are used by in-context regression around a predictor
        without covariates (:mod:`~lagllama_gluonts.common.incontext`): e.g. a checkpoint with no
        covariate weights, zero-shot. By default a model takes its covariates itself."""
        return False

    def joint(self, args: argparse.Namespace) -> bool:
        """Whether the targets are the variables of one multivariate series, forecast jointly."""
        return False

    # ------------------------------------------------------------------ models

    def setup(self, args: argparse.Namespace) -> None:
        """Before the model is built: torch's threads (``--threads``) and the seed."""
        import lightning.pytorch as pl

        if getattr(args, "threads", None):
            import torch

            torch.set_num_threads(args.threads)
        pl.seed_everything(args.seed, verbose=False)

    def forecaster(self, args: argparse.Namespace, entries: Sequence[dict], freq: str, horizon: int, **covariates):
        """The predictor that forecasts ``entries`` past their end: trained on them, or read
        from a checkpoint. ``covariates``: ``num_feat_dynamic_real`` and
        ``num_past_feat_dynamic_real`` when the table has them (as the estimators spell them)."""
        raise NotImplementedError

    def backtester(self, args: argparse.Namespace, freq: str, horizon: int, **covariates) -> Tuple[str, object]:
        """``(mode, model)`` for a backtest: a predictor (used as it is) or an object with
        ``train(entries) -> predictor`` (trained on the part before the first window). ``mode``
        says which in the report ("zero-shot with X.ckpt", "trained")."""
        raise NotImplementedError

    def train_seconds(self, model) -> Optional[float]:
        """How long ``model`` (what :meth:`backtester` returned) trained, for the record."""
        return getattr(model, "seconds", None)

    def save(self, args: argparse.Namespace, predictor, data: Sequence[dict], out: Path, trained: bool = True):
        """What the model keeps in ``out`` after forecasting ``data``: e.g. the trained predictor
        (``trained``: it was trained for this forecast), a plot of its attention (nothing for a
        checkpoint's)."""

    def record(self, args: argparse.Namespace) -> dict:
        """The model's own fields of ``metrics.json``."""
        return {}

    def dataset_label(self, args: argparse.Namespace, mode: str) -> str:
        """The model's name in a dataset backtest's metrics table."""
        return self.name

    def pretraining_record(self, args: argparse.Namespace) -> Optional[Dict[str, Any]]:
        """What the model was pretrained on, for every evaluation's leakage flag
        (:mod:`~lagllama_gluonts.common.leakage`; None: unknown). By default no pretraining:
        the model learns only from the data it is given."""
        from .leakage import trained_here

        return trained_here(self.name)

    # ------------------------------------------------------------------ training (``train``)

    def validates(self, args: argparse.Namespace) -> bool:
        """Whether ``train`` holds each series' last horizon out to validate on."""
        return not getattr(args, "no_validation", False)

    def save_path(self, args: argparse.Namespace, out: Path) -> Optional[Path]:
        """Where ``train`` saves the model (default: ``--save``; None: nowhere)."""
        return getattr(args, "save", None)

    def training_covariates(self, args: argparse.Namespace, covariates: dict) -> dict:
        """``train``'s checks that need the data read (raise :class:`~.cli.CLIError`), before
        anything is printed or trained; returns the covariate arguments :meth:`fit` gets."""
        return covariates

    def fit(
        self, args: argparse.Namespace, train: Sequence[dict], validation, freq: str, horizon: int, **covariates
    ) -> Trained:
        """Train on ``train`` (each series without its last ``horizon`` steps when validated),
        ``validation`` the full series whose last window scores each epoch (None: unvalidated)."""
        raise NotImplementedError(f"{self.name} has no train command")

    def save_model(self, args: argparse.Namespace, trained: Trained, path: Path, source: dict) -> Path:
        """Write the trained model to ``path`` (checked before training); ``source`` names the
        data it trained on (``{"csv": ...}`` or ``{"dataset": ...}``). Returns what was written.
        By default the predictor as GluonTS serializes it, into the folder ``path`` (replaced),
        which ``Predictor.deserialize`` reads back."""
        return serialize_predictor(trained.predictor, path)

    def references(self, args: argparse.Namespace, freq: str, horizon: int) -> Dict[str, Any]:
        """The models scored beside the trained one (and SeasonalNaive) after ``train --dataset``."""
        return {}


def serialize_predictor(predictor, path: Path) -> Path:
    """``predictor`` serialized (GluonTS's ``serialize``) into the folder ``path``; a folder
    there is replaced (the commands check before training that it holds a saved model), but
    only once the new one is complete: it is written into a temporary folder beside it."""
    with atomic_dir(path) as temp:
        predictor.serialize(temp)
    return path
