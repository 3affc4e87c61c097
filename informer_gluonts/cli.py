"""
Command line interface: ``python -m informer_gluonts`` (or
``informer-gluonts``).

Two subcommands:

* ``forecast`` (alias ``train-csv``): train Informer on columns of a CSV
  file with a date column, then forecast the horizon *past the end of the
  data* and write ``forecast.csv`` (original units) and ``forecast.png``.
  On a table of many series (long with ``--item-column``, or wide with
  several ``--target`` columns and ``--features S``) one model trains on
  every item's history and forecasts every item: the shared long forecast
  table (CSV or Parquet, ``--output``), streamed, and a PNG of a few items.
* ``backtest``: train on a GluonTS repository dataset (read offline from
  the local mirror), forecast the held-out test windows, print the metrics
  table and write a plot; with ``--csv``, a rolling-origin backtest of the
  table (``--windows``, ``--distance``) through the shared
  ``rolling_backtest``, beside SeasonalNaive, as Lag-Llama's CLI does.

``--features`` takes the official code's vocabulary: ``S`` (one column,
univariate), ``MS`` (one target column, the other columns as past-only
covariates) and ``M`` (several columns forecast jointly by one model,
``InformerEstimator(target_dim=D)``; forecast.csv then has one row per
timestamp and variable, and forecast.png one panel per variable). Several
``--target`` columns without ``--features M`` are independent series.

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
            f"lags must be 'auto', 'none' or integers like 1,24,168; got {text!r}"
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
    model.add_argument("--d-model", type=positive_int, default=64, help="transformer width (default: 64; paper: 512)")
    model.add_argument("--n-heads", type=positive_int, default=4, help="attention heads (default: 4; paper: 8)")
    model.add_argument(
        "--e-layers",
        type=positive_int,
        nargs="+",
        default=[2],
        metavar="N",
        help="encoder layers (default: 2); several depths, e.g. 3 2 1, build the official "
        "InformerStack: one encoder per depth on the last 1/2^i of the context, outputs "
        "concatenated",
    )
    model.add_argument("--d-layers", type=positive_int, default=1, help="decoder layers (default: 1)")
    model.add_argument("--d-ff", type=positive_int, default=128, help="feed-forward width (default: 128; paper: 2048)")
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
    model.add_argument("--dropout", type=float, default=0.05, help="dropout rate (default: 0.05, as the paper)")
    model.add_argument(
        "--embed",
        choices=("timeF", "fixed", "learned"),
        default="timeF",
        help="calendar encoding, as the official --embed: time features as token inputs "
        "(timeF, default), or sinusoidal (fixed) / trained (learned) embeddings of month, "
        "day, weekday, hour, minute",
    )
    model.add_argument(
        "--no-mix",
        dest="mix",
        action="store_false",
        help="no mixing of the decoder self-attention outputs (the official --mix is on)",
    )
    model.add_argument(
        "--padding",
        type=int,
        choices=(0, 1),
        default=0,
        help="value of the decoder's horizon placeholders (official --padding; default: 0)",
    )
    model.add_argument(
        "--distribution",
        choices=("student-t", "low-rank-normal"),
        default="student-t",
        help="forecast distribution; with --features M: Student-t per variable (default) or "
        "a low-rank multivariate normal of the variables jointly",
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
        help="target lags used as features, lag L = the value L steps "
        "before the predicted one (default: auto = GluonTS's lags of the "
        "frequency; they lengthen the history read)",
    )

    train = parser.add_argument_group("training budget")
    common_cli.add_training_budget(
        train, epochs=10, batches_per_epoch=50, lr_help="Adam learning rate (default: %(default)s)"
    )
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
    parser.add_argument(
        "--output-attention",
        action="store_true",
        help="also write OUT/attention.png: one encoder layer's self-attention weights "
        "(head average) on the last window (the official --output_attention)",
    )
    parser.add_argument(
        "--attention-layer",
        type=nonnegative_int,
        default=0,
        help="encoder layer drawn by --output-attention (default: 0, the first)",
    )


def _make_estimator(args, freq: str, prediction_length: int, target_dim: Optional[int] = None, **extra):
    from .estimator import InformerEstimator

    if args.distribution == "low-rank-normal":
        if target_dim is None:
            raise CLIError("--distribution low-rank-normal models several variables jointly: use --features M")
        from .distributions import LowRankMultivariateNormalOutput

        extra["distr_output"] = LowRankMultivariateNormalOutput(dim=target_dim)

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
            target_dim=target_dim,
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
        raise CLIError(f"--d-model {args.d_model} is not divisible by --n-heads {args.n_heads}")
    layers = sum(args.e_layers)
    if args.output_attention and args.attention_layer >= layers:
        raise CLIError(f"--attention-layer {args.attention_layer}: the encoder has {layers} layers (0 .. {layers - 1})")
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


FEATURES = ("M", "MS", "S")


def _numeric_columns(path: Path, time_column: Optional[str], sep: Optional[str]) -> List[str]:
    """The table's numeric columns besides the timestamps (``--features M``/``MS`` without a
    list): those pandas reads as numbers."""
    import pandas as pd

    from lagllama_gluonts.common.tables import guess_time_column, read_frame

    frame = read_frame(path, sep=sep, nrows=1000)
    time_column = time_column or guess_time_column(list(frame.columns))
    return [c for c in frame.columns if c != time_column and pd.api.types.is_numeric_dtype(frame[c])]


def _roles(args) -> tuple:
    """``(features, targets, covariates)`` from --features, --target and --covariates, with the
    official meaning of M / MS / S; without --features: MS when covariates are named, else S."""
    targets = list(dict.fromkeys(args.target or []))
    covariates = list(dict.fromkeys(args.covariates or []))
    features = args.features or ("MS" if covariates else "S")
    if features == "MS" and len(targets) != 1:
        raise CLIError(
            "--features MS forecasts one column: give one --target COLUMN"
            + (" (several columns jointly: --features M; independently: --features S)" if targets else "")
        )
    if features == "S" and covariates:
        raise CLIError("--features S is univariate: drop --covariates, or use --features MS")
    if args.item_column is not None and features != "S":
        raise CLIError(
            f"--item-column forecasts each item from its own history (--features S); "
            f"--features {features} "
            + (
                "reads one wide table's columns jointly"
                if features == "M"
                else "(--covariates) reads one series' covariate columns"
            )
        )
    if features == "M" and not targets:
        targets = [c for c in _numeric_columns(args.csv, args.time_column, args.sep) if c not in covariates]
        if not targets:
            raise CLIError(f"{args.csv.name}: no numeric column to forecast")
    if features == "MS" and not covariates:
        covariates = [c for c in _numeric_columns(args.csv, args.time_column, args.sep) if c not in targets]
    overlap = [c for c in targets if c in covariates]
    if overlap:
        raise CLIError(f"the target {overlap[0]!r} cannot also be a covariate")
    return features, targets, covariates


def run_forecast(args) -> int:
    from gluonts.dataset.common import ListDataset

    from lagllama_gluonts.common.evaluation import write_forecast
    from lagllama_gluonts.common.tables import load_table

    if args.csv is None or (args.target is None and args.features != "M"):
        raise CLIError("forecast needs --csv FILE and --target COLUMN (or --features M: every numeric column)")
    H = args.prediction_length
    if args.patience and args.no_validation:
        raise CLIError("--patience stops on the validation loss: drop --no-validation")
    # Before reading: pandas warns about some of its own frequencies (e.g. the
    # deprecation of business-day periods), noise for a command-line user.
    common_cli.quiet_libraries()
    features, targets, covariates = _roles(args)
    if features == "S" and (args.item_column is not None or len(targets) > 1 or args.output is not None):
        return _forecast_table(args)
    if features == "MS" and args.output is not None:
        raise CLIError(
            "--output writes the long table of many series (--item-column, or several --target "
            "columns); with --covariates (MS) the forecast is OUT/forecast.csv"
        )
    multivariate = features == "M"
    # Check the input before loading torch: bad input fails fast.
    table = load_table(
        args.csv,
        [*targets, *covariates],
        time_column=args.time_column,
        freq=args.freq,
        sep=args.sep,
        roles=["target"] * len(targets) + ["covariate"] * len(covariates),
    )
    frame, freq = table.frame, table.period_freq
    if multivariate:
        for column in targets[1:]:  # the reader checks the first target only
            if frame[column].notna().sum() == 0:
                raise CLIError(f"{args.csv.name}: target column {column!r} has no values")
    _setup(args)
    estimator = _make_estimator(
        args,
        freq=freq,
        prediction_length=H,
        target_dim=len(targets) if multivariate else None,
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
    covariate_values = frame[covariates].ffill().bfill().fillna(0.0).to_numpy().T if covariates else None
    target_values = frame[targets].to_numpy(dtype="float32").T  # (D, T)

    def dataset(end: int) -> ListDataset:
        if multivariate:
            entry = {"start": table.start, "target": target_values[:, :end], "item_id": "+".join(targets)}
        else:
            entry = table.entry(targets[0], end=end)
        if covariate_values is not None:
            entry["past_feat_dynamic_real"] = covariate_values[:, :end]
        return ListDataset([entry], freq=freq, one_dim_target=not multivariate)

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
    title = f"Informer forecast of {', '.join(targets)} ({H} x {table.freq})"
    if multivariate:
        write_multivariate_forecast(
            common_cli.forecast_output(args, out),
            table,
            targets,
            forecast,
            title,
            quantiles=args.quantiles,
            history=max(4 * H, C),
        )
    else:
        write_forecast(out, table, targets[0], forecast, title, quantiles=args.quantiles, history=max(4 * H, C))
    if args.output_attention:
        write_attention(out / "attention.png", predictor, dataset(n), args.attention_layer)
    predictor.serialize(_fresh_dir(out / "predictor"))
    return 0


def _forecast_table(args) -> int:
    """``forecast`` on a table of many series (long with ``--item-column``, or wide: each
    ``--target`` column its own series): one model trained on every item's history, then every
    item forecast past its own end; the shared long table streams to ``--output`` (default
    OUT/forecast.csv) with forecast.png of a few items beside it, as Lag-Llama's zero-shot does."""
    from lagllama_gluonts.common.evaluation import forecast_table_file

    out = args.out or Path("out/informer/forecast") / args.csv.stem
    path = common_cli.forecast_output(args, out)
    table = common_cli.read_table_args(args)  # bad input fails here, before torch and the model
    H = args.prediction_length
    skipped = table.drop_short(H)  # the shared rule: fewer observed values than the horizon
    if skipped:
        print(
            f"skipped {len(skipped)} series with fewer observed values than the horizon ({H}): "
            f"{', '.join(map(repr, skipped[:3]))}{' ...' if len(skipped) > 3 else ''}"
        )
    entries = table.entries
    _setup(args)
    estimator = _make_estimator(args, freq=entries[0]["start"].freqstr, prediction_length=H)
    _check_longest(entries, estimator.context_length, H)
    train_data, validation_data = _training_split(entries, H, validate=not args.no_validation)
    began = time.time()
    predictor = estimator.train(train_data, validation_data=validation_data)
    predictor.batch_size = args.batch_size
    print(f"trained on {len(train_data)} series in {time.time() - began:.1f}s")
    count = len(entries)
    title = f"Informer forecast of {args.csv.name} ({H} x {table.freq}; {count} series)"
    path, rows, png = forecast_table_file(
        predictor, table, path, title, num_samples=args.num_samples, quantiles=args.quantiles, progress=not args.quiet
    )
    print(f"wrote {path} ({count} series x {H} steps, {rows} rows) and {png}")
    if args.output_attention:
        write_attention(out / "attention.png", predictor, entries[:1], args.attention_layer)
    predictor.serialize(_fresh_dir(out / "predictor"))
    return 0


def _check_longest(entries: Sequence[dict], context_length: int, H: int) -> None:
    """The single-series rule on a table: the longest item fills one context and one horizon
    (shorter items are padded, but a model that never saw a full window has little to learn)."""
    lengths = [len(e["target"]) for e in entries]
    longest = max(range(len(entries)), key=lengths.__getitem__)
    if lengths[longest] < context_length + H:
        raise CLIError(
            f"too few rows: the longest series ({entries[longest].get('item_id', longest)!r}) has "
            f"{lengths[longest]} time steps, but context length {context_length} + prediction length {H} = "
            f"{context_length + H} are needed (lower --context-length or --prediction-length)"
        )


def _training_split(entries: Sequence[dict], H: int, validate: bool) -> tuple:
    """``(train, validation)`` for a model of many series. With ``validate``: each series
    without its last ``H`` steps to train on, and the full series to score those windows (the
    shared ``holdout_last_window``; a series too short to give its window up trains whole,
    unvalidated); validation drives checkpoint choice and ``--patience``."""
    import numpy as np

    from lagllama_gluonts.common.evaluation import holdout_last_window

    if not validate:
        return list(entries), None
    fit, validation = holdout_last_window(entries, H, keep_short=True)
    # a series observed only in its last H steps has nothing left to train on
    fit = [e for e in fit if not np.isnan(np.asarray(e["target"], dtype=float)).all()]
    return fit, validation or None


def write_multivariate_forecast(
    path: Path, table, columns: Sequence[str], forecast, title: str, quantiles: Sequence[float], history: int
):
    """The forecast table at ``path`` (.csv or .parquet) in long form (timestamp, variable, mean,
    median, ``q0.1`` ..., in each column's own units: the model forecasts raw values) and
    ``forecast.png`` beside it, one panel per variable: the shared ``forecast_table`` of each
    variable's marginal, and the shared ``plot_items`` grid."""
    import pandas as pd

    from lagllama_gluonts.common.plots import plot_items
    from lagllama_gluonts.common.tables import forecast_table, write_forecast_frames

    timestamps = table.future_timestamps(forecast.prediction_length)
    parts = []
    for d, column in enumerate(columns):
        part = forecast_table(forecast.copy_dim(d), quantiles, timestamps=timestamps)
        part.insert(1, "variable", column)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    csv_path, _ = write_forecast_frames(path, [frame])
    recent = {column: table.frame[column].iloc[-history:] for column in columns}
    png = plot_items(
        recent,
        frame,
        csv_path.parent / "forecast.png",
        title,
        max_items=len(columns),
        id_column="variable",
        time_column="timestamp",
    )
    print(f"wrote {csv_path} and {png} ({len(columns)} variables, forecast {timestamps[0]} .. {timestamps[-1]})")
    return csv_path, png


def write_attention(path: Path, predictor, dataset, layer: int) -> Path:
    """A heat map of encoder layer ``layer``'s self-attention (averaged over heads) on the last
    window of the first series: ``InformerModel.encoder_attention``."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    model = predictor.prediction_net.model
    entry = next(iter(predictor.input_transform.apply(dataset, is_train=False)))
    device = next(model.parameters()).device
    batch = {name: torch.as_tensor(entry[name]).unsqueeze(0).to(device) for name in predictor.input_names}
    weights = model.encoder_attention(**batch)[layer][0].mean(0).cpu().numpy()  # (L_Q, L_K)
    fig = Figure(figsize=(6, 5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(weights, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="attention weight")
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    ax.set_title(f"encoder layer {layer} self-attention (mean over heads)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    print(f"wrote {path}")
    return path


def _fresh_dir(path: Path) -> Path:
    import shutil

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# --------------------------------------------------------------------------
# backtest
# --------------------------------------------------------------------------


class _TrainBeforeWindows:
    """The estimator as ``rolling_backtest`` trains it, on each series' part before the first
    window: with ``validate`` (``--patience``) the last horizon of each part is held out to
    validate on, as on a repository dataset; the predictor forecasts ``batch_size`` series a
    batch."""

    def __init__(self, estimator, prediction_length: int, validate: bool, batch_size: int):
        self.estimator, self.prediction_length = estimator, prediction_length
        self.validate, self.batch_size = validate, batch_size
        self.seconds = 0.0

    def train(self, training_data):
        fit, validation = _training_split(list(training_data), self.prediction_length, self.validate)
        began = time.time()
        predictor = self.estimator.train(fit, validation_data=validation)
        self.seconds = time.time() - began
        predictor.batch_size = self.batch_size
        return predictor


TABLE_ONLY = ("item_column", "target", "windows", "distance")


def _check_source(args) -> None:
    """backtest reads one of --dataset and --csv (the check both CLIs share); a table only in
    setting S."""
    common_cli.check_table_source(args, TABLE_ONLY)
    if args.csv is None:
        return
    if (args.features or "S") != "S":
        raise CLIError(
            f"backtest --csv scores every series on its own (--features S); --features "
            f"{args.features} backtests run on --dataset"
        )


def _backtest_csv(args) -> int:
    """``backtest --csv``: rolling-origin windows on every item of the table through the shared
    ``rolling_backtest`` (Informer trained on each item's part before the first window), beside
    SeasonalNaive; the shared report (metrics.json, item_metrics.csv, backtest.png)."""
    from lagllama_gluonts.common.evaluation import compare_metrics_table, rolling_backtest, write_backtest_report

    table = common_cli.read_table_args(args)  # bad input fails here, before torch and the model
    H, windows = args.prediction_length, args.windows or 1
    entries = table.entries[: args.max_series] if args.max_series else table.entries
    _setup(args)
    estimator = _make_estimator(args, freq=entries[0]["start"].freqstr, prediction_length=H)
    model = _TrainBeforeWindows(estimator, H, validate=bool(args.patience), batch_size=args.batch_size)
    print(
        f"Informer on {args.csv.name}: {len(entries)} series (freq {table.freq}), {windows} window(s) of {H}",
        flush=True,
    )
    started = time.time()
    result = rolling_backtest(
        entries,
        model,
        H,
        windows=windows,
        distance=args.distance,
        num_samples=args.num_samples,
        name="Informer",
        progress=not args.quiet,
    )
    if result.skipped:
        print(
            f"skipped {len(result.skipped)} series too short for {windows} window(s) of {H} "
            f"(e.g. {', '.join(map(repr, result.skipped[:3]))})"
        )
    print(compare_metrics_table(result.metrics), flush=True)
    extra = {
        "csv": str(args.csv),
        "model": "Informer",
        "train_seconds": model.seconds,
        "seconds": time.time() - started,
    }
    write_backtest_report(
        args.out or Path("out/informer/backtest") / args.csv.stem,
        result,
        f"Informer — {args.csv.name}, {windows} window(s)",
        extra,
    )
    return 0


def run_backtest_command(args) -> int:
    from lagllama_gluonts.common.evaluation import (
        backtest_side_by_side,
        holdout_last_window,
        seasonal_naive_baseline,
        write_report,
    )

    _check_source(args)
    if args.csv is not None:
        return _backtest_csv(args)
    args.dataset = args.dataset or "ett_small_1h"
    features = args.features or "S"
    if features == "MS":
        raise CLIError(
            "--features MS needs covariate columns: repository datasets have none; use S or M "
            "(or forecast --csv --features MS)"
        )
    _setup(args)
    dataset, freq, H = common_cli.dataset_and_horizon(args)
    if features == "M":
        return _backtest_multivariate(args, dataset, freq, H)
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


def _backtest_multivariate(args, dataset, freq: str, H: int) -> int:
    """``--features M``: the dataset's series as the variables of one multivariate series
    (GluonTS's ``MultivariateGrouper``), one joint model, scored by ``MultivariateEvaluator``."""
    import numpy as np
    from gluonts.dataset.multivariate_grouper import MultivariateGrouper
    from gluonts.evaluation import MultivariateEvaluator, make_evaluation_predictions

    from lagllama_gluonts.common.evaluation import (
        QUANTILES,
        backtest_metrics_table,
        holdout_last_window,
        write_report,
    )

    train_series = list(dataset.train)
    if args.max_series:
        train_series = train_series[: args.max_series]
    D = len(train_series)
    test_series = (
        [e for e in dataset.test if any(e.get("item_id") == t.get("item_id") for t in train_series)]
        if args.max_series
        else list(dataset.test)
    )
    rolls = max(1, len(test_series) // D)
    train = MultivariateGrouper(max_target_dim=D)(train_series)
    test = MultivariateGrouper(max_target_dim=D, num_test_dates=rolls)(test_series)
    estimator = _make_estimator(args, freq=freq, prediction_length=H, target_dim=D)
    train_data, validation_data = train, None
    if args.patience:
        train_data, validation_data = holdout_last_window(train, H)
    began = time.time()
    predictor = estimator.train(train_data, validation_data=validation_data)
    predictor.batch_size = args.batch_size
    train_seconds = time.time() - began
    print(f"\nInformer (M, {D} variables) on {args.dataset} (H={H}, trained {train_seconds:.0f}s)")
    forecast_it, ts_it = make_evaluation_predictions(test, predictor, num_samples=args.num_samples)
    forecasts, tss = list(forecast_it), list(ts_it)
    metrics, _ = MultivariateEvaluator(quantiles=QUANTILES, target_agg_funcs={"sum": np.sum}, num_workers=0)(
        iter(tss), iter(forecasts), num_series=len(tss)
    )
    print(backtest_metrics_table(metrics))
    record = {
        "dataset": args.dataset,
        "features": "M",
        "target_dim": D,
        "prediction_length": H,
        "windows": len(forecasts),
        "train_seconds": train_seconds,
        "metrics": {"Informer": metrics},
    }
    write_report(
        args.out or Path("out/informer/backtest") / f"{args.dataset}_M",
        record,
        forecasts,
        tss,
        f"Informer (M) on {args.dataset}, variable 0",
    )
    if args.output_attention:
        write_attention(
            (args.out or Path("out/informer/backtest") / f"{args.dataset}_M") / "attention.png",
            predictor,
            test,
            args.attention_layer,
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
            "  python -m informer_gluonts forecast --csv stores.csv --item-column store "
            "--target sales --prediction-length 12 --output forecast.parquet\n"
            "  python -m informer_gluonts forecast --csv meters.csv --target m1 m2 m3 --features S "
            "--prediction-length 24\n"
            "  python -m informer_gluonts backtest --dataset ett_small_1h "
            "--max-steps 200 --baseline\n"
            "  python -m informer_gluonts backtest --csv stores.csv --item-column store --target sales "
            "--prediction-length 24 --windows 3\n"
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
            "stopping) unless --no-validation is given. With --item-column (a "
            "long table) or several --target columns and --features S (a wide "
            "table), one model trains on every series' history (validated on "
            "each one's last prediction length) and forecasts every series: the "
            "long form (item column first) goes to --output (.csv or .parquet; "
            "default OUT/forecast.csv) as the forecasts stream, and "
            "OUT/forecast.png shows up to 4 series. Series with fewer observed "
            "values than the prediction length are skipped (counted)."
        ),
    )
    common_cli.add_table_arguments(
        forecast,
        several=True,
        target_help="the column(s) to forecast, e.g. OT (with --features M: "
        "forecast jointly; none: every numeric column)",
    )
    common_cli.add_forecast_output(forecast)
    forecast.add_argument(
        "--features",
        choices=FEATURES,
        default=None,
        help="the official setting: S = univariate (several --target columns: independent series), MS = one "
        "--target with the other columns (or --covariates) as past-only covariates, M = several columns "
        "jointly (--target A B C, default: every numeric column); default: MS with --covariates, else S",
    )
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
        help="train on a repository dataset (or a table) and backtest it",
        description=(
            "Train Informer on the train split of a GluonTS repository "
            "dataset (materialised offline from the local mirror), forecast "
            "the test split, print GluonTS' metrics (MASE, CRPS as "
            "mean_wQuantileLoss, ...) and write a plot and a JSON of the "
            "metrics to OUT. With --csv: a rolling-origin backtest on your "
            "table (GluonTS split/generate_instances): --windows windows of "
            "--prediction-length per item, Informer trained on each item's part "
            "before the first window, beside SeasonalNaive. Writes "
            "OUT/metrics.json (aggregates), OUT/item_metrics.csv (per model and "
            "item) and OUT/backtest.png; items too short for the windows are "
            "skipped (counted)."
        ),
    )
    source = backtest.add_argument_group("data (--dataset, default ett_small_1h, or --csv)")
    common_cli.add_dataset_argument(source)
    common_cli.add_table_arguments(source, several=True)
    common_cli.add_window_arguments(source)
    backtest.add_argument(
        "--features",
        choices=FEATURES,
        default=None,
        help="S (default): one univariate model of every series; M: the series as the "
        "variables of one multivariate series, forecast jointly (MultivariateEvaluator; "
        "--dataset only)",
    )
    common_cli.add_prediction_length(backtest, what="the dataset's; required with --csv")
    backtest.add_argument(
        "--baseline", action="store_true", help="also score the seasonal naive baseline (with --csv: always)"
    )
    common_cli.add_run_arguments(backtest, "output folder (default: out/informer/backtest/DATASET)")
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
