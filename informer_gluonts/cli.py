"""
Command line: ``informer-gluonts`` (or ``python -m informer_gluonts``) ``{forecast,backtest,train}``.

The commands are the shared ones (:mod:`lagllama_gluonts.common.commands`, the same as
Lag-Llama's): ``forecast`` (alias ``train-csv``) trains Informer on a table and forecasts past
its end; ``backtest`` trains on a repository dataset's train split and scores its test split,
or scores rolling-origin windows of a table; ``train`` trains once and saves the predictor,
which ``--predictor DIR`` uses instead of training. This module holds Informer's adapter (how
the estimator is built and trained) and its own options, among them the official ``--features``:
``S`` (each column univariate), ``MS`` (one target, the other columns past-only covariates) and
``M`` (several columns forecast jointly by one model, ``InformerEstimator(target_dim=D)``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence

from lagllama_gluonts.common import cli as common_cli
from lagllama_gluonts.common import commands
from lagllama_gluonts.common.adapter import ModelAdapter, serialize_predictor
from lagllama_gluonts.common.cli import CLIError, nonnegative_int, positive_int

from . import defaults
from . import trained as trained_model

CONSOLE_SCRIPT = "informer-gluonts"
FEATURES = ("M", "MS", "S")


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
            f"lags must be 'auto', 'none' or integers like 1,24,168; got {text!r}"
        ) from None
    if any(lag < 1 for lag in lags):
        raise argparse.ArgumentTypeError(f"lags must be >= 1, got {text!r}")
    return lags


def _add_architecture(model) -> None:
    model.add_argument(
        "--context-length", type=positive_int, help="steps the encoder reads (default: 4 x prediction length)"
    )
    model.add_argument(
        "--label-len",
        type=nonnegative_int,
        help="decoder start-token length: the last steps of the context the decoder reads before the "
        "horizon (default: context length / 2)",
    )
    model.add_argument("--d-model", type=positive_int, default=64, help="transformer width (default: 64; paper: 512)")
    model.add_argument("--n-heads", type=positive_int, default=4, help="attention heads, or --n-head (default: 4)")
    common_cli.add_spelling(model, "--n-head", "n_heads", positive_int)
    model.add_argument(
        "--e-layers",
        type=positive_int,
        nargs="+",
        default=[2],
        metavar="N",
        help="encoder layers (default: 2); several depths, e.g. 3 2 1, build the official InformerStack: "
        "one encoder per depth on the last 1/2^i of the context, outputs concatenated",
    )
    model.add_argument("--d-layers", type=positive_int, default=1, help="decoder layers (default: 1)")
    model.add_argument("--d-ff", type=positive_int, default=128, help="feed-forward width (default: 128; paper: 2048)")
    model.add_argument(
        "--attention",
        choices=("prob", "full"),
        default="prob",
        help="ProbSparse or canonical attention (default: prob)",
    )
    model.add_argument(
        "--factor",
        type=positive_int,
        default=5,
        help="ProbSparse sampling factor c: c * ln(L) keys are sampled per query and c * ln(L) queries "
        "attend in full (default: 5, as the paper)",
    )
    model.add_argument(
        "--no-distil", dest="distil", action="store_false", help="keep the encoder length (no distilling)"
    )
    model.add_argument("--dropout", type=float, default=0.05, help="dropout rate (default: 0.05, as the paper)")
    model.add_argument(
        "--embed",
        choices=("timeF", "fixed", "learned"),
        default="timeF",
        help="calendar encoding, as the official --embed: time features as token inputs (timeF, default), "
        "or sinusoidal (fixed) / trained (learned) embeddings of month, day, weekday, hour, minute",
    )
    model.add_argument(
        "--no-mix", dest="mix", action="store_false", help="no mixing of the decoder self-attention outputs"
    )
    model.add_argument(
        "--padding",
        type=int,
        choices=(0, 1),
        default=0,
        help="value of the decoder's horizon placeholders (official --padding; default: 0)",
    )


def _add_model_arguments(parser, command: str) -> None:
    """Informer's own options on ``forecast`` and ``backtest``."""
    parser.add_argument(
        "--features",
        choices=FEATURES,
        default=None,
        help="the official setting: S = univariate (several --target columns: independent series), MS = one "
        "--target with the other columns (or --covariates) as past-only covariates, M = several columns "
        "jointly (--target A B C, default: every numeric column); default: MS with --covariates, else S",
    )
    model = parser.add_argument_group("model (defaults sized for a CPU)")
    _add_architecture(model)
    model.add_argument(
        "--distribution",
        type=common_cli.distribution,
        default="student-t",
        metavar="{student-t,low-rank-normal}",
        help="forecast distribution (default: student-t); with --features M, low-rank-normal is a "
        "multivariate normal of the variables jointly (studentT, lowrank-normal ... are accepted too)",
    )
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
        help="target lags used as features, lag L = the value L steps before the predicted one (default: "
        "auto = GluonTS's lags of the frequency; they lengthen the history read)",
    )
    train = parser.add_argument_group("training budget")
    common_cli.add_training_budget(
        train,
        epochs=defaults.CLI_MAX_EPOCHS,
        batches_per_epoch=defaults.NUM_BATCHES_PER_EPOCH,
        lr=defaults.LR,
        batch_size=defaults.BATCH_SIZE,
        lr_help="Adam learning rate (default: %(default)s)",
    )
    common_cli.add_patience(
        train,
        None,
        "on each training series' held-out last prediction length"
        + ("; not with --no-validation" if command != "backtest" else ""),
    )
    if command != "backtest":
        train.add_argument(
            "--no-validation", action="store_true", help="train on all rows (checkpoint chosen by training loss)"
        )
    prediction = parser.add_argument_group("prediction")
    common_cli.add_sampling_arguments(prediction, batch_size_default=32)
    parser.add_argument("--quiet", action="store_true", help="no progress bars, Lightning summaries or warnings")
    if command == "train":
        return
    parser.add_argument(
        "--predictor",
        type=Path,
        default=None,
        metavar="DIR",
        help="forecast with the predictor train --save wrote instead of training (the model and training "
        "options are then its own; --prediction-length defaults to its horizon)",
    )
    parser.add_argument(
        "--output-attention",
        action="store_true",
        help="also write OUT/attention.png: one encoder layer's self-attention weights (head average) on "
        "the last window (the official --output_attention)",
    )
    parser.add_argument(
        "--attention-layer",
        type=nonnegative_int,
        default=0,
        help="encoder layer drawn by --output-attention (default: 0, the first)",
    )


class InformerAdapter(ModelAdapter):
    """Informer for the shared commands: an estimator trained on the data (validated on each
    series' last horizon), ``--features`` choosing the columns' roles."""

    name, key = "Informer", "informer"

    def features(self, args) -> str:
        return args.features or ("MS" if args.covariates else "S")

    def check(self, args) -> None:
        saved = args.saved = trained_model.read_saved(args.predictor) if getattr(args, "predictor", None) else None
        if saved is not None:  # its horizon, unless --prediction-length says otherwise (an error)
            args.prediction_length = trained_model.check_horizon(saved, args.prediction_length)
        elif args.prediction_length is None and args.canonical_command != "backtest":
            args.prediction_length = defaults.PREDICTION_LENGTH
        features, targets = self.features(args), common_cli.table_targets(args)
        if args.command != "backtest" and args.csv is not None and not targets and features != "M":
            raise CLIError(
                f"{args.canonical_command} needs --csv FILE and --target COLUMN (or --features M: every numeric column)"
            )
        if getattr(args, "no_validation", False) and args.patience:
            raise CLIError("--patience stops on the validation loss: drop --no-validation")
        if features == "MS" and (len(targets) != 1 if args.csv is not None else True):
            raise CLIError(
                "--features MS forecasts one column: give one --target COLUMN"
                + (" (several columns jointly: --features M; independently: --features S)" if targets else "")
                if args.csv is not None
                else "--features MS needs covariate columns: repository datasets have none; use S or M "
                "(or --csv FILE --features MS)"
            )
        if features == "S" and args.covariates:
            raise CLIError("--features S is univariate: drop --covariates, or use --features MS")
        if args.item_column is not None and features != "S":
            raise CLIError(
                f"--item-column forecasts each item from its own history (--features S); --features {features} "
                + (
                    "reads one wide table's columns jointly"
                    if features == "M"
                    else "(--covariates) reads one series' covariate columns"
                )
            )
        if args.distribution == "low-rank-normal" and features != "M":
            raise CLIError("--distribution low-rank-normal models several variables jointly: use --features M")
        if args.d_model % args.n_heads:
            raise CLIError(f"--d-model {args.d_model} is not divisible by --n-heads {args.n_heads}")
        layers = sum(args.e_layers)
        if getattr(args, "output_attention", False) and args.attention_layer >= layers:
            raise CLIError(
                f"--attention-layer {args.attention_layer}: the encoder has {layers} layers (0 .. {layers - 1})"
            )

    def _numeric_columns(self, args) -> List[str]:
        """The table's numeric columns besides the timestamps (M and MS without a list)."""
        import pandas as pd

        from lagllama_gluonts.common.tables import guess_time_column, read_frame

        frame = read_frame(args.csv, sep=args.sep, nrows=1000)
        time_column = args.time_column or guess_time_column(list(frame.columns))
        return [c for c in frame.columns if c != time_column and pd.api.types.is_numeric_dtype(frame[c])]

    def targets(self, args) -> List[str]:
        targets = common_cli.table_targets(args)
        if self.features(args) == "M" and not targets:
            past = list(dict.fromkeys(args.covariates or []))
            targets = [c for c in self._numeric_columns(args) if c not in past]
            if not targets:
                raise CLIError(f"{args.csv.name}: no numeric column to forecast")
        return targets

    def covariates(self, args):
        known, past = super().covariates(args)
        targets = self.targets(args)
        if self.features(args) == "MS" and not past:
            past = [c for c in self._numeric_columns(args) if c not in targets and c not in known]
        overlap = [c for c in targets if c in past or c in known]
        if overlap:
            raise CLIError(f"the target {overlap[0]!r} cannot also be a covariate")
        return known, past

    def joint(self, args) -> bool:
        return self.features(args) == "M"

    def estimator(self, args, freq: str, horizon: int, **extra):
        from .estimator import InformerEstimator

        if args.distribution == "low-rank-normal":
            from .distributions import LowRankMultivariateNormalOutput

            extra["distr_output"] = LowRankMultivariateNormalOutput(dim=extra["target_dim"])
        trainer_kwargs = {
            "max_epochs": args.epochs,
            "max_steps": args.max_steps or -1,
            "enable_progress_bar": not args.quiet,
            "enable_model_summary": not args.quiet,
        }
        if args.max_minutes:
            trainer_kwargs["max_time"] = {"minutes": args.max_minutes}
        try:
            return InformerEstimator(
                freq=freq,
                prediction_length=horizon,
                context_length=args.context_length,
                label_len=args.label_len,
                d_model=args.d_model,
                n_heads=args.n_heads,
                e_layers=args.e_layers[0] if len(args.e_layers) == 1 else list(args.e_layers),
                d_layers=args.d_layers,
                d_ff=args.d_ff,
                attention=args.attention,
                factor=args.factor,
                distil=args.distil,
                dropout=args.dropout,
                embed=args.embed,
                mix=args.mix,
                padding=args.padding,
                scaling=args.scaling,
                lags_seq=args.lags,
                num_parallel_samples=args.num_samples,
                batch_size=args.train_batch_size,
                num_batches_per_epoch=args.batches_per_epoch,
                lr=args.lr,
                early_stopping_patience=args.patience,
                nonnegative_pred_samples=args.nonnegative,
                trainer_kwargs=trainer_kwargs,
                device=args.device,
                **extra,
            )
        except ValueError as error:
            raise CLIError(str(error)) from None

    def forecaster(self, args, entries, freq, horizon, **covariates):
        if args.saved is not None:
            trained_model.check_data(args.saved, freq, covariates)
            return trained_model.load(args.saved, args)
        estimator = self.estimator(args, freq, horizon, **covariates)
        commands.check_longest(entries, estimator.context_length, horizon)
        validate = not args.no_validation if hasattr(args, "no_validation") else bool(args.patience)
        model = commands.TrainBeforeWindows(estimator, horizon, validate=validate, batch_size=args.batch_size)
        predictor = model.train(entries)
        print(f"trained on {len(entries)} series in {model.seconds:.1f}s")
        return predictor

    def backtester(self, args, freq, horizon, **covariates):
        if args.saved is not None:
            trained_model.check_data(args.saved, freq, covariates)
            return f"saved predictor with {args.saved.path}", trained_model.load(args.saved, args)
        estimator = self.estimator(args, freq, horizon, **covariates)
        validate = bool(args.patience)  # early stopping needs data the model does not train on
        return "trained", commands.TrainBeforeWindows(estimator, horizon, validate, batch_size=args.batch_size)

    def save(self, args, predictor, data, out: Path, trained: bool = True):
        if args.output_attention:
            from .plots import write_attention

            attention = write_attention(out / "attention.png", predictor, list(data)[:1], args.attention_layer)
            common_cli.say_wrote(attention)
        if trained and args.saved is None:
            serialize_predictor(predictor, out / "predictor")

    def save_path(self, args, out: Path) -> Path:
        return args.save or out / "predictor"

    def fit(self, args, train, validation, freq, horizon, **covariates):
        estimator = self.estimator(args, freq, horizon, **covariates)
        commands.check_longest(validation or train, estimator.context_length, horizon)
        return trained_model.fit(estimator, train, validation, args.batch_size)

    def record(self, args) -> dict:
        saved = getattr(args, "saved", None)
        return {"features": self.features(args), **({"predictor": str(saved.path)} if saved else {})}


ADAPTER = InformerAdapter()

FORECAST_HELP = """\
Train Informer on a table with a timestamp column, then forecast --prediction-length steps past
its end. One --target column: OUT/forecast.csv (timestamp, mean, median, quantiles, in the
column's units) and OUT/forecast.png. Many series (--item-column: a long table; several --target
columns with --features S: a wide one): one model trains on every series' history and forecasts
each; the long table (the item column first) streams to --output (.csv or .parquet; default
OUT/forecast.csv), OUT/forecast.png shows up to 4 series. --features M forecasts the columns
jointly: the long table with a variable column first. The last prediction-length steps of each
series are held out for validation (checkpoint choice, --patience) unless --no-validation; the
trained predictor goes to OUT/predictor. --predictor DIR forecasts with a predictor that train
--save wrote, without training. Series with fewer observed values than the horizon (at least 8)
are skipped, counted. With --dataset: trained on its train split, its test split scored beside
SeasonalNaive. Default OUT: out/informer/forecast/CSV-NAME."""

TRAIN_HELP = """\
Train Informer once, to forecast or backtest later with --predictor DIR: on a table (--csv, read
as forecast reads it; --features M: the columns jointly) or on a repository dataset's train split.
The last prediction-length steps of each series are held out for validation (checkpoint choice,
--patience) unless --no-validation; series too short to give them up train whole (counted). The
predictor goes to --save DIR (default OUT/predictor; checked before training), the training record
to OUT/metrics.json; with --dataset, its test split is scored beside SeasonalNaive (a PNG too).
Default OUT: out/informer/train/DATASET or CSV-NAME."""

BACKTEST_HELP = """\
Train Informer on the train split of a GluonTS repository dataset (from --mirror, GluonTS's
cache or its download), forecast its test split and print GluonTS's metrics (MASE, CRPS as mean_wQuantileLoss
...), writing OUT/metrics.json and OUT/forecasts.png. With --csv: a rolling-origin backtest of
your table (--windows windows of --prediction-length per series, Informer trained on each
series' part before the first window), beside SeasonalNaive: OUT/metrics.json,
OUT/item_metrics.csv and OUT/backtest.png; series too short for the windows are skipped
(counted). --features M scores the columns (or the dataset's series) jointly with GluonTS's
MultivariateEvaluator. --predictor DIR backtests a predictor that train --save wrote, without
training. Default OUT: out/informer/backtest/DATASET or CSV-NAME."""

EXAMPLES = """\
examples:
  {prog} forecast --csv ETTh1.csv --target OT --prediction-length 24 --out out/etth1
  {prog} forecast --csv ETTh1.csv --target OT --covariates HUFL HULL --epochs 5
  {prog} forecast --csv ETTh1.csv --features M --prediction-length 24
  {prog} forecast --csv stores.csv --item-column store --target sales --prediction-length 12 --output f.parquet
  {prog} backtest --dataset ett_small_1h --max-steps 200 --baseline
  {prog} backtest --csv stores.csv --item-column store --target sales --prediction-length 24 --windows 3
  {prog} train --csv ETTh1.csv --target OT --prediction-length 24 --save etth1-model
  {prog} forecast --csv ETTh1.csv --target OT --predictor etth1-model
"""


def _forecast_options(forecast, command: str = "forecast") -> None:
    """``forecast``'s options; ``train``'s are the same without ``--output`` and with ``--save``."""
    common_cli.add_table_arguments(
        forecast,
        target_help="the column(s) to forecast, e.g. OT (with --features M: jointly; none: every numeric column)",
    )
    common_cli.add_covariate_arguments(forecast)
    common_cli.add_dataset_argument(forecast, note="; instead of --csv: trained on its train split, scored on its test")
    what = f"{defaults.PREDICTION_LENGTH}" + (", or the --predictor's" if command == "forecast" else "")
    common_cli.add_prediction_length(forecast, what=what)
    if command == "forecast":
        common_cli.add_forecast_output(forecast)
    else:
        forecast.add_argument(
            "--save", type=Path, default=None, metavar="DIR", help="the predictor's folder (default: OUT/predictor)"
        )
    common_cli.add_run_arguments(forecast, f"output folder (default: out/informer/{command}/CSV-NAME or DATASET)")
    _add_model_arguments(forecast, command)


def _backtest_options(backtest) -> None:
    source = backtest.add_argument_group("data (--dataset, default ett_small_1h, or --csv)")
    common_cli.add_dataset_argument(source)
    common_cli.add_table_arguments(source)
    common_cli.add_covariate_arguments(source)
    common_cli.add_window_arguments(source)
    common_cli.add_prediction_length(backtest, what="the dataset's, or the --predictor's; else required with --csv")
    backtest.add_argument(
        "--baseline", action="store_true", help="also score the seasonal naive baseline (with --csv: always)"
    )
    common_cli.add_run_arguments(backtest, "output folder (default: out/informer/backtest/DATASET)")
    _add_model_arguments(backtest, "backtest")


def build_parser(prog: str = CONSOLE_SCRIPT) -> common_cli.Parser:
    parser = common_cli.Parser(
        prog=prog,
        description="Informer (Zhou et al., AAAI 2021) as a GluonTS estimator: ProbSparse self-attention, "
        "self-attention distilling and a generative decoder that emits the whole horizon in one pass, with "
        "a probabilistic (Student-t by default) output.",
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = common_cli.command_parsers(parser)
    common_cli.add_command(
        parser,
        subparsers,
        "forecast",
        lambda args: commands.forecast(ADAPTER, args),
        _forecast_options,
        aliases=["train-csv"],
        help="train on a table and forecast past its end",
        description=FORECAST_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common_cli.add_command(
        parser,
        subparsers,
        "backtest",
        lambda args: commands.backtest(ADAPTER, args),
        _backtest_options,
        help="train on a repository dataset (or a table) and backtest it",
        description=BACKTEST_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common_cli.add_command(
        parser,
        subparsers,
        "train",
        lambda args: commands.train(ADAPTER, args),
        lambda train: _forecast_options(train, "train"),
        help="train on a table (or a dataset) and save the predictor, for --predictor",
        description=TRAIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (2 on a user error)."""
    prog = common_cli.program_name(CONSOLE_SCRIPT, "informer_gluonts")
    return common_cli.main(build_parser, prog, argv)


if __name__ == "__main__":
    raise SystemExit(main())
