"""What a model gives the shared commands: a small adapter, in the manner of Chronos's
``BaseChronosPipeline`` (one ``predict_df`` for every model, each model overriding only
``predict``). :mod:`~lagllama_gluonts.common.commands` reads tables, holds out windows,
scores, plots and writes for every model; an adapter says only what differs: the model's name,
its own options, and how to build a predictor (trained on the data, or read from a checkpoint)
for a frequency and a horizon.

Kept free of torch imports, like the rest of the command-line layer.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence, Tuple


class ModelAdapter:
    """One model as the shared commands see it. Subclasses override what their model needs;
    the defaults describe a model without covariates or joint (multivariate) forecasts."""

    #: shown in tables, records and titles ("Lag-Llama", "Informer")
    name = "model"
    #: the output folder's model part: ``out/KEY/COMMAND/NAME``
    key = "model"

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
