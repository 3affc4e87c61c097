"""
Command line interface: ``python -m informer_gluonts`` (or
``informer-gluonts``).

Two subcommands:

* ``forecast`` (alias ``train-csv``): train Informer on one column of a CSV
  file with a date column, then forecast the horizon *past the end of the
  data* and write ``forecast.csv`` (original units) and ``forecast.png``.
* ``backtest``: train on a GluonTS repository dataset (read offline from
  the local mirror), forecast the held-out test windows, print the metrics
  table and write a plot.

User errors (bad CSV, unknown column, too few rows, a bad option value,
...) end with one line on stderr, ``informer-gluonts: error: ...``, and
exit code 2, never a traceback or argparse's usage block.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path
from typing import List, Optional, Sequence

from lagllama_gluonts.common import cli as common_cli
from lagllama_gluonts.common.cli import nonnegative_int, positive_int
from lagllama_gluonts.common.evaluation import QUANTILES
from lagllama_gluonts.common.validation import DataError

PROG = "informer-gluonts"


class CLIError(DataError):
    """A problem with the user's input, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors as one line too, ``informer-gluonts: error:
    forecast: ...`` and exit status 2, like every other user error
    (argparse's own prints the usage block first, under the subcommand's
    name). Subparsers inherit the class."""

    def error(self, message: str):
        command = self.prog[len(PROG) :].strip()
        self.exit(2, f"{PROG}: error: {command + ': ' if command else ''}{message}\n")


# --------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------


def _parse_lags(text: str) -> Optional[List[int]]:
    """``auto`` -> frequency default, ``none`` -> [], else ``1,24,168``."""
    if text == "auto":
        return None
    if text == "none":
        return []
    try:
        lags = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"lags must be 'auto', 'none' or integers like 1,24,168; "
            f"got {text!r}"
        ) from None
    if any(lag < 1 for lag in lags):
        raise argparse.ArgumentTypeError(f"lags must be >= 1, got {text!r}")
    return lags


def _add_model_arguments(parser: argparse.ArgumentParser, patience_help: str) -> None:
    model = parser.add_argument_group("model (defaults sized for a CPU)")
    model.add_argument(
        "--context-length",
        type=positive_int,
        help="steps the encoder reads (default: 4 x prediction length)",
    )
    model.add_argument(
        "--label-len",
        type=nonnegative_int,
        help="decoder start-token length: the last steps of the context the "
        "decoder reads before the horizon (default: context length / 2)",
    )
    model.add_argument("--d-model", type=positive_int, default=64,
                       help="transformer width (default: 64; paper: 512)")
    model.add_argument("--n-heads", type=positive_int, default=4,
                       help="attention heads (default: 4; paper: 8)")
    model.add_argument("--e-layers", type=positive_int, default=2,
                       help="encoder layers (default: 2)")
    model.add_argument("--d-layers", type=positive_int, default=1,
                       help="decoder layers (default: 1)")
    model.add_argument("--d-ff", type=positive_int, default=128,
                       help="feed-forward width (default: 128; paper: 2048)")
    model.add_argument(
        "--attention",
        choices=("prob", "full"),
        default="prob",
        help="ProbSparse (Informer) or canonical attention (default: prob)",
    )
    model.add_argument(
        "--factor",
        type=positive_int,
        default=5,
        help="ProbSparse sampling factor c: c * ln(L) keys are sampled per "
        "query and c * ln(L) queries attend in full (default: 5, as the paper)",
    )
    model.add_argument(
        "--no-distil",
        dest="distil",
        action="store_false",
        help="keep the encoder length (no self-attention distilling)",
    )
    model.add_argument("--dropout", type=float, default=0.05,
                       help="dropout rate (default: 0.05, as the paper)")
    model.add_argument(
        "--scaling",
        choices=("std", "mean", "robust", "none"),
        default="std",
        help="per-window scaler fitted on the context (default: std)",
    )
    model.add_argument(
        "--lags",
        type=_parse_lags,
        default=None,
        metavar="auto|none|L1,L2,...",
        help="target lags used as features, lag L = the value L steps "
        "before the predicted one (default: auto = GluonTS's lags of the "
        "frequency; they lengthen the history read)",
    )

    train = parser.add_argument_group("training budget")
    common_cli.add_training_budget(train, epochs=10, batches_per_epoch=50,
                                   lr_help="Adam learning rate (default: %(default)s)")
    train.add_argument(
        "--patience",
        type=positive_int,
        help=patience_help,
    )
    prediction = parser.add_argument_group("prediction")
    common_cli.add_sampling_arguments(prediction, batch_size_default=32)
    # Where and how it runs: with --seed/--device/--out in the main options.
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="torch CPU threads (default: torch's choice)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars or Lightning summaries",
    )


def _make_estimator(args, freq: str, prediction_length: int, **extra):
    from .estimator import InformerEstimator

    trainer_kwargs = {
        "max_epochs": args.epochs,
        "max_steps": args.max_steps if args.max_steps else -1,
        "enable_progress_bar": not args.quiet,
        "enable_model_summary": not args.quiet,
    }
    if args.max_minutes:
        trainer_kwargs["max_time"] = {"minutes": args.max_minutes}
    try:
        return InformerEstimator(
            freq=freq,
            prediction_length=prediction_length,
            context_length=args.context_length,
            label_len=args.label_len,
            d_model=args.d_model,
            n_heads=args.n_heads,
            e_layers=args.e_layers,
            d_layers=args.d_layers,
            d_ff=args.d_ff,
            attention=args.attention,
            factor=args.factor,
            distil=args.distil,
            dropout=args.dropout,
            scaling=args.scaling,
            lags_seq=args.lags,
            num_parallel_samples=args.num_samples,
            batch_size=args.train_batch_size,
            num_batches_per_epoch=args.batches_per_epoch,
            lr=args.lr,
            early_stopping_patience=args.patience,
            trainer_kwargs=trainer_kwargs,
            device=args.device,
            **extra,
        )
    except ValueError as error:
        raise CLIError(str(error)) from None


def _setup(args) -> None:
    import lightning.pytorch as pl
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.n_heads and args.d_model % args.n_heads:
        raise CLIError(
            f"--d-model {args.d_model} is not divisible by --n-heads "
            f"{args.n_heads}"
        )
    common_cli.quiet_libraries()
    if args.quiet:
        for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
    pl.seed_everything(args.seed, verbose=False)


# --------------------------------------------------------------------------
# forecast / train-csv (table reading, forecast table and plot: the shared
# lagllama_gluonts.common.tables and .evaluation)
# --------------------------------------------------------------------------


def run_forecast(args) -> int:
    from gluonts.dataset.common import ListDataset

    from lagllama_gluonts.common.evaluation import write_forecast
    from lagllama_gluonts.common.tables import load_table

    if getattr(args, "item_column", None) is not None:
        raise CLIError("--item-column is not supported by informer forecast yet; forecast one series per file "
                       "(or long tables zero-shot with lagllama-gluonts zero-shot --item-column)")
    if args.csv is None or args.target is None:
        raise CLIError("forecast needs --csv FILE and --target COLUMN")
    H = args.prediction_length
    covariates = list(dict.fromkeys(args.covariates or []))
    if args.target in covariates:
        raise CLIError("the target cannot also be a covariate")
    if args.patience and args.no_validation:
        raise CLIError("--patience stops on the validation loss: drop --no-validation")
    # Before reading: pandas warns about some of its own frequencies (e.g. the
    # deprecation of business-day periods), noise for a command-line user.
    common_cli.quiet_libraries()
    # Check the input before loading torch: bad input fails fast.
    table = load_table(
        args.csv,
        [args.target, *covariates],
        time_column=args.time_column,
        freq=args.freq,
        sep=args.sep,
        roles=["target"] + ["covariate"] * len(covariates),
    )
    frame, freq = table.frame, table.period_freq
    _setup(args)
    estimator = _make_estimator(
        args,
        freq=freq,
        prediction_length=H,
        num_past_feat_dynamic_real=len(covariates),
    )
    C = estimator.context_length
    if len(frame) < C + H:
        raise CLIError(
            f"too few rows: {len(frame)} time steps, but context length "
            f"{C} + prediction length {H} = {C + H} are needed (lower "
            "--context-length or --prediction-length)"
        )

    # Past-only covariates: unknown past the end of the data. Gaps are
    # filled forward (then backward) so that every step has a value.
    covariate_values = (
        frame[covariates].ffill().bfill().fillna(0.0).to_numpy().T
        if covariates
        else None
    )

    def dataset(end: int) -> ListDataset:
        entry = table.entry(args.target, end=end)
        if covariate_values is not None:
            entry["past_feat_dynamic_real"] = covariate_values[:, :end]
        return ListDataset([entry], freq=freq)

    n = len(frame)
    # Validate on the last horizon of the data (never trained on), which
    # drives checkpoint selection and early stopping.
    train_data = dataset(n - H) if not args.no_validation else dataset(n)
    validation_data = None if args.no_validation else dataset(n)

    began = time.time()
    predictor = estimator.train(train_data, validation_data=validation_data)
    predictor.batch_size = args.batch_size
    train_seconds = time.time() - began
    print(f"trained in {train_seconds:.1f}s")

    forecast = next(iter(predictor.predict(dataset(n), num_samples=args.num_samples)))
    out = args.out or Path("out/informer/forecast") / args.csv.stem
    write_forecast(
        out,
        table,
        args.target,
        forecast,
        f"Informer forecast of {args.target} ({H} x {table.freq})",
        quantiles=args.quantiles,
        history=max(4 * H, C),
    )
    predictor.serialize(_fresh_dir(out / "predictor"))
    return 0


def _fresh_dir(path: Path) -> Path:
    import shutil

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# --------------------------------------------------------------------------
# backtest
# --------------------------------------------------------------------------


def run_backtest_command(args) -> int:
    from lagllama_gluonts.common.evaluation import (
        backtest_side_by_side,
        holdout_last_window,
        seasonal_naive_baseline,
        write_report,
    )

    _setup(args)
    dataset, freq, H = common_cli.dataset_and_horizon(args)
    estimator = _make_estimator(args, freq=freq, prediction_length=H)
    train_data, validation_data = dataset.train, None
    if args.patience:
        # Early stopping needs data the model does not train on: the shared
        # hold-out rule (each series' last H steps), as in fine-tuning.
        train_data, validation_data = holdout_last_window(dataset.train, H)

    began = time.time()
    predictor = estimator.train(train_data, validation_data=validation_data)
    predictor.batch_size = args.batch_size
    train_seconds = time.time() - began
    print(f"\nInformer on {args.dataset} (H={H}, trained {train_seconds:.0f}s)")
    predictors = {"Informer": predictor}
    if args.baseline:
        predictors["SeasonalNaive"] = seasonal_naive_baseline(freq, H)
    metrics, forecasts, tss = backtest_side_by_side(
        predictors,
        dataset.test,
        num_samples=args.num_samples,
        max_series=args.max_series,
        progress=not args.quiet,
    )
    record = {
        "dataset": args.dataset,
        "prediction_length": H,
        "series": len(forecasts),
        "train_seconds": train_seconds,
        "metrics": metrics,
    }
    write_report(
        args.out or Path("out/informer/backtest") / args.dataset,
        record,
        forecasts,
        tss,
        f"Informer on {args.dataset}",
    )
    return 0


# --------------------------------------------------------------------------
# Parser and entry point
# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Informer (Zhou et al., AAAI 2021) as a GluonTS estimator: "
            "ProbSparse self-attention, self-attention distilling and a "
            "generative decoder that emits the whole horizon in one pass, "
            "with a probabilistic (Student-t by default) output."
        ),
        epilog=(
            "examples:\n"
            "  python -m informer_gluonts forecast --csv ETTh1.csv "
            "--target OT --prediction-length 24 --out out/etth1\n"
            "  python -m informer_gluonts forecast --csv ETTh1.csv "
            "--target OT --covariates HUFL HULL --epochs 5\n"
            "  python -m informer_gluonts backtest --dataset ett_small_1h "
            "--max-steps 200 --baseline\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    forecast = commands.add_parser(
        "forecast",
        aliases=["train-csv"],
        help="train on a CSV column and forecast past the end of the data",
        description=(
            "Train Informer on one column of a CSV file that has a date "
            "column, then forecast the prediction length past the last "
            "date. Writes OUT/forecast.csv (timestamp, mean, median and "
            "quantile columns, in the column's own units), OUT/forecast.png "
            "(recent history and forecast with intervals) and the trained "
            "predictor in OUT/predictor. The last prediction-length steps "
            "are held out for validation (checkpoint choice / early "
            "stopping) unless --no-validation is given."
        ),
    )
    common_cli.add_table_arguments(forecast, target_help="the column to forecast, e.g. OT")
    forecast.add_argument(
        "--covariates",
        nargs="+",
        metavar="COL",
        help="other columns fed to the model as past-only covariates "
        "(their future values are unknown, so only their history is used)",
    )
    common_cli.add_prediction_length(forecast, default=24, what="%(default)s")
    forecast.add_argument(
        "--quantiles",
        type=common_cli.quantile,
        nargs="+",
        default=list(QUANTILES),
        help="quantile columns to write (default: 0.1 ... 0.9)",
    )
    forecast.add_argument(
        "--no-validation",
        action="store_true",
        help="train on all rows (checkpoint chosen by training loss)",
    )
    common_cli.add_run_arguments(
        forecast,
        "output folder (default: out/informer/forecast/CSV-NAME)",
        max_series=False,
    )
    _add_model_arguments(
        forecast,
        "stop once the validation loss (on the held-out last prediction "
        "length) has not improved for this many epochs (default: no early "
        "stopping)",
    )
    forecast.set_defaults(func=run_forecast)

    backtest = commands.add_parser(
        "backtest",
        help="train on a repository dataset and backtest its test split",
        description=(
            "Train Informer on the train split of a GluonTS repository "
            "dataset (materialised offline from the local mirror), forecast "
            "the test split, print GluonTS' metrics (MASE, CRPS as "
            "mean_wQuantileLoss, ...) and write a plot and a JSON of the "
            "metrics to OUT."
        ),
    )
    common_cli.add_dataset_argument(backtest, default="ett_small_1h")
    common_cli.add_prediction_length(backtest)
    backtest.add_argument("--baseline", action="store_true",
                          help="also score the seasonal naive baseline")
    common_cli.add_run_arguments(
        backtest, "output folder (default: out/informer/backtest/DATASET)"
    )
    _add_model_arguments(
        backtest,
        "stop once the validation loss has not improved for this many "
        "epochs; the last prediction length of each training series is then "
        "held out to validate on (default: no early stopping, train on all)",
    )
    backtest.set_defaults(func=run_backtest_command)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (2 on a user error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2, reported above)
        return done.code if isinstance(done.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    commands = {args.command: args.func}
    return common_cli.run_command(PROG, commands, args)


if __name__ == "__main__":
    raise SystemExit(main())
