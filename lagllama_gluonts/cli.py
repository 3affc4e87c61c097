"""Command line: ``lagllama-gluonts`` (or ``python -m lagllama_gluonts``)
``{forecast,zero-shot,finetune,backtest,pretrain,info} --help``.

``forecast``, ``backtest`` and ``finetune`` are the shared commands
(:mod:`lagllama_gluonts.common.commands`, the same as Informer's) over Lag-Llama's adapter: a
predictor read from a checkpoint (default: the bundled one), trained with ``backtest --train``, or
fine-tuned (``finetune``: the shared ``train``). ``zero-shot`` is ``forecast``'s other name,
``train`` is ``finetune``'s. ``pretrain`` and ``info`` are Lag-Llama's own.
"""

import argparse
import textwrap
from pathlib import Path
from typing import List, Optional

from . import defaults, provenance
from .common import cli as common_cli
from .common import commands
from .common.adapter import ModelAdapter
from .common.cli import positive_int
from .defaults import BUNDLED_CHECKPOINT, SMALL_ARCHITECTURE, SMALL_CONTEXT_LENGTH
from .hub import SPEC_HELP, checkpoint_path  # --checkpoint: a file or a Hub reference, resolved when parsed
from .pretrain_cli import add_pretrain_parser

CONSOLE_SCRIPT = "lagllama-gluonts"

DESCRIPTION = """\
Lag-Llama forecasting on GluonTS datasets and your own tables, offline.

  forecast  forecast past the end of your table's series with a checkpoint (default: the
            bundled one), without training; or, with --dataset, score a GluonTS repository
            dataset's test split beside SeasonalNaive. Also called zero-shot.
  finetune  fine-tune a checkpoint on a dataset's train split or your table (early stopping on
            the last window), then compare fine-tuned, zero-shot and SeasonalNaive. Also called train.
  backtest  a checkpoint zero-shot, or a model trained (--train), on a repository dataset's test
            split or on rolling windows of your table, beside SeasonalNaive.
  pretrain  train a Lag-Llama from scratch on the allowed pretraining mixture (how the bundled
            checkpoint was made).
  info      describe a checkpoint (architecture, training record).
"""

COVARIATES_HELP = """\
covariates (with --csv): --covariates COL ... are past-only (GluonTS's past_feat_dynamic_real):
only their history is read. --known-covariates COL ... are known over the horizon
(feat_dynamic_real): forecasting needs --prediction-length rows after each series' last target
value, the covariates filled in and the target left empty. Fine-tuning learns their weights and
--save records them; one trained with covariates needs as many of each kind. One pretrained with a covariate
pathway (pretrain --covariate-slots) takes known-future ones zero-shot (--in-context-covariates: not); one without
uses them by in-context regression (past-only lagged). Both print how far they moved forecasts; backtests score both."""


def rope_scaling_arg(text: str) -> Optional[dict]:
    """argparse type of --rope-scaling: auto | none | linear[:FACTOR] | dynamic[:FACTOR]."""
    kind, _, factor = text.partition(":")
    if kind == "auto" and not factor:
        return None  # load_predictor decides: linear when the context exceeds the trained one
    if kind == "none" and not factor:
        return {"type": "linear", "factor": 1.0}  # factor 1 is the identity: no scaling at all
    if kind not in ("linear", "dynamic"):
        raise argparse.ArgumentTypeError(f"expected auto, none, linear[:FACTOR] or dynamic[:FACTOR], got {text!r}")
    if not factor:
        return {"type": kind} if kind == "linear" else {"type": kind, "factor": 1.0}
    try:
        value = float(factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rope scaling factor is not a number: {factor!r}") from None
    if not value >= 1.0:
        raise argparse.ArgumentTypeError(f"rope scaling factor must be >= 1, got {value}")
    return {"type": kind, "factor": value}


# --------------------------------------------------------------------------- the adapter


class LagLlamaAdapter(ModelAdapter):
    """Lag-Llama for the shared commands: a checkpoint's predictor, or (``backtest --train``)
    an estimator trained from scratch or fine-tuned from the checkpoint."""

    name, key = "Lag-Llama", "lagllama"
    pretraining_record = provenance.adapter_record  # the leakage flags' record: trained here, or the checkpoint's

    # a checkpoint file; keep-if-better validates every series it trains on
    saves_folder, train_short_series, trained_label = False, False, "fine-tuned"

    def checkpoint(self, args):
        """The command's checkpoint, read once per command (None: trained from scratch)."""
        from .checkpoint import read_checkpoint

        if self.checkpoint_free(args):
            return None
        if getattr(args, "read_checkpoint", None) is None:  # fine-tuning and the zero-shot row share it
            args.read_checkpoint = read_checkpoint(args.checkpoint or BUNDLED_CHECKPOINT)
        return args.read_checkpoint

    def predictor(self, checkpoint, args, horizon: int, **covariates):
        from .predictor import load_predictor

        return load_predictor(
            checkpoint,
            prediction_length=horizon,
            context_length=args.context_length,
            rope_scaling=getattr(args, "rope_scaling", None),  # backtest has none: load_predictor's auto
            num_parallel_samples=args.num_samples,
            batch_size=args.batch_size,
            device=args.device,
            use_kv_cache=not getattr(args, "no_kv_cache", False),  # finetune decodes the default way
            rescale_every_step=getattr(args, "rescale_every_step", False),
            nonnegative_pred_samples=getattr(args, "nonnegative", False),
            **covariates,
        )

    def forecaster(self, args, entries, freq, horizon, **covariates):
        import lightning.pytorch as pl

        ckpt = self.checkpoint(args)
        predictor = self.predictor(ckpt, args, horizon, **self.checked_covariates(ckpt, args, trains=False))
        # the samples depend on the seed alone, not on the random numbers building the network drew
        pl.seed_everything(args.seed, verbose=False)
        return predictor

    def backtester(self, args, freq, horizon, **covariates):
        from .estimator import LagLlamaEstimator

        ckpt = self.checkpoint(args)
        if ckpt is not None:
            covariates = self.checked_covariates(ckpt, args, trains=getattr(args, "train", False))
        if not getattr(args, "train", False):
            return f"zero-shot with {ckpt.path}", self.predictor(ckpt, args, horizon, **covariates)
        kwargs = dict(
            num_parallel_samples=args.num_samples,
            batch_size=args.batch_size,
            use_kv_cache=not args.no_kv_cache,
            rescale_every_step=args.rescale_every_step,
            device=args.device,
            nonnegative_pred_samples=args.nonnegative,
            trainer_kwargs=_trainer_kwargs(args),
            early_stopping_patience=args.patience,
            **covariates,
        )
        fine_tuning = ckpt is not None
        kwargs["num_batches_per_epoch"] = args.batches_per_epoch or (
            defaults.FINETUNE_BATCHES_PER_EPOCH if fine_tuning else defaults.NUM_BATCHES_PER_EPOCH
        )
        if args.lr is not None:
            kwargs["lr"] = args.lr
        if fine_tuning:
            mode = f"fine-tuned from {ckpt.path}"
            estimator = LagLlamaEstimator.from_checkpoint(
                ckpt, prediction_length=horizon, context_length=args.context_length, **kwargs
            )
        else:
            mode = "trained from scratch"
            sizes = {k: getattr(args, k) for k in SMALL_ARCHITECTURE}
            context = args.context_length or SMALL_CONTEXT_LENGTH
            estimator = LagLlamaEstimator(prediction_length=horizon, context_length=context, **sizes, **kwargs)
        return mode, commands.TrainBeforeWindows(estimator, horizon, bool(args.patience), args.batch_size)

    def training_covariates(self, args, covariates):
        from .finetune import check_freeze_layers

        ckpt = self.checkpoint(args)
        check_freeze_layers(ckpt, args.freeze_layers)
        return self.checked_covariates(ckpt, args, trains=True) if args.csv is not None else {}

    def fit(self, args, train, validation, freq, horizon, **covariates):
        """Fine-tune the checkpoint (keep-if-better, :func:`~lagllama_gluonts.finetune.finetune`)."""
        from .common.adapter import Trained
        from .finetune import finetune

        ckpt = self.checkpoint(args)
        print(
            f"fine-tuning {ckpt.path}; lr {args.lr}, up to {args.epochs} epochs x {args.batches_per_epoch} "
            f"batches, patience {args.patience}, {args.freeze_layers} frozen layers",
            flush=True,
        )
        result = finetune(
            train, horizon, checkpoint=ckpt, validation_data=validation, **_finetune_kwargs(args), **covariates
        )
        result.predictor.batch_size = args.batch_size
        rec = result.record
        print(
            f"validation loss {rec['start_val_loss']:.4f} -> {rec['best_val_loss']:.4f} after "
            f"{rec['epochs_run']} epochs ({rec['train_seconds']:.0f}s); kept: {rec['kept']}"
        )
        return Trained(result.predictor, rec, model=result)

    def save_model(self, args, trained, path, source):
        """A checkpoint file (``save_checkpoint``), its record naming the data and covariates."""
        from .checkpoint import save_checkpoint

        covariates = {k: v for k, v in self.record(args).items() if k.endswith("covariates")}
        training = {"fine_tuned_from": str(self.checkpoint(args).path), **source, **trained.record, **covariates}
        # model_kwargs() holds the covariate configuration; the record adds the columns' names
        result = trained.model
        return save_checkpoint(path, result.module.model, result.estimator.model_kwargs(), extra={"training": training})

    def references(self, args, freq, horizon):
        return {"zero-shot": self.predictor(self.checkpoint(args), args, horizon)}

    def record(self, args) -> dict:
        known, past = self.covariates(args)
        record = {"checkpoint": None if self.checkpoint_free(args) else str(args.checkpoint or BUNDLED_CHECKPOINT)}
        record.update(context_length=args.context_length, rope_scaling=getattr(args, "rope_scaling", None))
        return {**record, **({"known_covariates": known, "past_covariates": past} if known or past else {})}

    @staticmethod
    def checkpoint_free(args) -> bool:
        return getattr(args, "from_scratch", False) and getattr(args, "train", False)

    def dataset_label(self, args, mode: str) -> str:
        return "Lag-Llama zero-shot" if args.canonical_command == "forecast" else self.name

    def in_context(self, args) -> bool:
        from .checkpoint_covariates import route, zero_shot_in_context

        return zero_shot_in_context(self.checkpoint(args), *self.covariates(args), *route(args))

    def checked_covariates(self, ckpt, args, trains: bool) -> dict:
        """The covariate arguments of a model built on ``ckpt`` for the command's covariates,
        checked against what it was trained with (:func:`~.checkpoint_covariates.checked_covariates`)."""
        from .checkpoint_covariates import checked_covariates, route

        return checked_covariates(ckpt, *self.covariates(args), trains=trains, in_context=route(args)[1])


def _trainer_kwargs(args) -> dict:
    """The budget's Trainer settings; clipping and precision are the estimator's (``defaults``)."""
    trainer_kwargs = {"max_epochs": args.epochs}
    if args.max_steps:
        trainer_kwargs["max_steps"] = args.max_steps
    if args.max_minutes:
        trainer_kwargs["max_time"] = {"minutes": args.max_minutes}
    return trainer_kwargs


ADAPTER = LagLlamaAdapter()


def _finetune_kwargs(args) -> dict:
    return dict(
        context_length=args.context_length,
        rope_scaling=args.rope_scaling,
        lr=args.lr,
        max_epochs=args.epochs,
        max_steps=args.max_steps,
        early_stopping_patience=args.patience,
        freeze_layers=args.freeze_layers,
        num_batches_per_epoch=args.batches_per_epoch,
        batch_size=args.train_batch_size,
        max_minutes=args.max_minutes,
        num_parallel_samples=args.num_samples,
        nonnegative_pred_samples=args.nonnegative,
        device=args.device,
    )


def cmd_info(args) -> int:
    from .checkpoint import read_checkpoint, training_text
    from .module import LagLlamaModel

    ckpt = read_checkpoint(args.checkpoint)
    kwargs = ckpt.model_kwargs
    model = LagLlamaModel(**kwargs)
    shown = {k: v for k, v in kwargs.items() if k != "lags_seq"}
    shown["lags_seq"] = (
        f"{len(model.lags)} lags, 1 .. {max(model.lags)} steps before the predicted "
        f"position (0-based indices up to {model.max_lag})"
    )
    shown["parameters"] = sum(p.numel() for p in model.parameters())
    for key, value in shown.items():
        print(f"{key:>22}: {value}")
    if ckpt.training:
        print(training_text(ckpt))
    return 0


# --------------------------------------------------------------------------- the parser


def _add_checkpoint_arguments(p, rope: bool = True) -> None:
    """Which checkpoint, how it reads and samples, where it runs."""
    p.add_argument(
        "--checkpoint",
        type=checkpoint_path,
        default=None,
        help=f"Lag-Llama checkpoint: a file (default: the bundled {BUNDLED_CHECKPOINT.name}) or a Hugging Face "
        f"Hub repository, {SPEC_HELP}, e.g. time-series-foundation-models/Lag-Llama (pip install "
        "'lagllama-gluonts[hub]'; cached where huggingface_hub caches)",
    )
    p.add_argument(
        "--context-length",
        type=positive_int,
        default=None,
        help="tokens of context (default: the checkpoint's; longer contexts get linear rope scaling)",
    )
    if rope:
        p.add_argument(
            "--rope-scaling",
            type=rope_scaling_arg,
            default=None,
            metavar="{auto,none,linear[:F],dynamic[:F]}",
            help="rotary-position scaling: auto (default) is linear by (context + horizon) / trained context "
            "when the context is longer than the checkpoint's, else none; linear without F uses that ratio; "
            "dynamic acts only beyond the model's max_context_length",
        )
    common_cli.add_sampling_arguments(p)


def _add_decoding_arguments(p) -> None:
    p.add_argument(
        "--no-kv-cache", action="store_true", help="recompute the whole window at each step (slower, same samples)"
    )
    p.add_argument(
        "--rescale-every-step",
        action="store_true",
        help="the reference's decoding: re-run the scaler over each path's growing history (no cache)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or warnings")


def _add_architecture_arguments(p, prefix: str = "") -> None:
    """--n-layer, --n-head (or --n-heads), --n-embd-per-head: the small size by default."""
    bundled = defaults.bundled_architecture()  # from the checkpoint's JSON record: --help loads no torch
    for name in SMALL_ARCHITECTURE:
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=positive_int,
            default=SMALL_ARCHITECTURE[name],
            help=f"{prefix}default: %(default)s; the bundled checkpoint has {bundled.get(name, '?')}"
            + ("; or --n-heads" if name == "n_head" else ""),
        )
    common_cli.add_spelling(p, "--n-heads", "n_head", positive_int)


def _add_source(p, title: str, windows: bool = False, output: bool = False) -> None:
    source = p.add_argument_group(title)
    common_cli.add_dataset_argument(source)
    common_cli.add_table_arguments(source)
    common_cli.add_prediction_length(source, what="the dataset's; required with --csv")
    if windows:
        common_cli.add_window_arguments(source)
    if output:
        common_cli.add_forecast_output(source)
    common_cli.add_covariate_arguments(source, in_context=True)


def _command(parser, subparsers, name, run, configure, help_text, description, examples, **kwargs):
    return common_cli.add_command(
        parser,
        subparsers,
        name,
        run,
        configure,
        help=help_text,
        description=textwrap.fill(description, 92),
        epilog="examples:\n" + "".join(f"  {parser.prog} {name} {e}\n" for e in examples) + "\n" + COVARIATES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )


def _forecast_options(fc) -> None:
    _add_source(fc, "data (one of --dataset or --csv)", output=True)
    _add_checkpoint_arguments(fc)
    _add_decoding_arguments(fc)
    common_cli.add_run_arguments(fc, "output folder (default: out/lagllama/COMMAND/DATASET or CSV-NAME)")


def _finetune_options(ft) -> None:
    _add_source(ft, "data (one of --dataset or --csv)")
    _add_checkpoint_arguments(ft)
    budget = ft.add_argument_group("training budget")
    common_cli.add_training_budget(
        budget,
        epochs=defaults.FINETUNE_MAX_EPOCHS,
        batches_per_epoch=defaults.FINETUNE_BATCHES_PER_EPOCH,
        lr=defaults.FINETUNE_LR,
        batch_size=defaults.BATCH_SIZE,
        lr_help="AdamW learning rate (default: %(default)s)",
    )
    common_cli.add_patience(budget, defaults.FINETUNE_PATIENCE, "on each series' held-out last window")
    budget.add_argument(
        "--freeze-layers",
        type=common_cli.nonnegative_int,
        default=defaults.FINETUNE_FREEZE_LAYERS,
        help="keep the input projection and the first N transformer blocks fixed (default: %(default)s)",
    )
    ft.add_argument("--save", type=Path, metavar="FILE", help="the fine-tuned checkpoint to write (default: none)")
    common_cli.add_run_arguments(ft, "output folder (default: out/lagllama/COMMAND/DATASET or CSV-NAME)")


def _backtest_options(bt) -> None:
    _add_source(bt, "data (--dataset, default ett_small_1h, or --csv)", windows=True)
    _add_checkpoint_arguments(bt, rope=False)
    _add_decoding_arguments(bt)
    common_cli.add_run_arguments(bt, "output folder (default: out/lagllama/backtest/DATASET or CSV-NAME)")
    bt.add_argument("--baseline", action="store_true", help="also report GluonTS's SeasonalNaivePredictor")
    train = bt.add_argument_group("training (with --train)")
    train.add_argument("--train", action="store_true", help="train (or fine-tune) on the dataset's train split first")
    train.add_argument(
        "--from-scratch", action="store_true", help="with --train: ignore any checkpoint and train a new model"
    )
    common_cli.add_training_budget(
        train,
        epochs=defaults.CLI_MAX_EPOCHS,
        batches_per_epoch=None,
        lr=None,
        batch_size=defaults.BATCH_SIZE,
        lr_help=f"learning rate (default: {defaults.LR:g} from scratch, {defaults.FINETUNE_LR:g} fine-tuning)",
        batches_help=f"training batches per epoch (default: {defaults.NUM_BATCHES_PER_EPOCH} from scratch, "
        f"{defaults.FINETUNE_BATCHES_PER_EPOCH} fine-tuning a checkpoint)",
    )
    common_cli.add_patience(train, None, "on each series' held-out last window")
    _add_architecture_arguments(train, "from scratch only; ")


def _info_options(info) -> None:
    info.add_argument(
        "checkpoint",
        type=checkpoint_path,
        nargs="?",
        default=BUNDLED_CHECKPOINT,
        help=f"the checkpoint (default: the bundled one), a file or a Hub repository ({SPEC_HELP})",
    )


def build_parser(prog: str = CONSOLE_SCRIPT) -> common_cli.Parser:
    parser = common_cli.Parser(prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = common_cli.command_parsers(parser)
    _command(
        parser,
        subparsers,
        "forecast",
        lambda args: commands.forecast(ADAPTER, args),
        _forecast_options,
        "forecast your table with a checkpoint, or score it on a dataset",
        "Forecast with a Lag-Llama checkpoint, without training (zero-shot). With --csv: --prediction-length "
        "steps past the end of each series; one --target column writes OUT/forecast.csv (timestamp, mean, "
        "median, q0.1 ... q0.9, in the column's units) and OUT/forecast.png; a long table (--item-column) or "
        "several --target columns (a wide table) write the long form, the item column first, to --output "
        "(.csv or .parquet; default OUT/forecast.csv) as the forecasts stream, and a PNG of up to 4 series. "
        "Series with fewer observed values than the horizon (at least 8) are skipped, counted. With "
        "--dataset: GluonTS's backtest of the dataset's test split, Lag-Llama and SeasonalNaive side by "
        "side, OUT/metrics.json and a PNG. Default OUT: out/lagllama/COMMAND/DATASET or CSV-NAME.",
        [
            "--dataset ett_small_1h",
            "--csv sales.csv --target y --prediction-length 12",
            "--csv stores.csv --item-column store --target sales --prediction-length 12 --output f.parquet",
            "--csv prices.csv --target y --known-covariates temp --prediction-length 24 --checkpoint tuned.ckpt",
        ],
        aliases=["zero-shot"],
    )
    _command(
        parser,
        subparsers,
        "finetune",
        lambda args: commands.train(ADAPTER, args),
        _finetune_options,
        "fine-tune a checkpoint on a dataset's train split or a table (also called train)",
        "Fine-tune a Lag-Llama checkpoint (default: the bundled one); the shared train command. The last "
        "prediction-length steps of every training series are held out as validation (never the test windows): "
        "training stops early (--patience) when their loss stops improving and the best epoch is kept, or the "
        "checkpoint itself when no epoch beats it. With --csv: your table, read as forecast reads it (series "
        "too short to give up a window are skipped, counted). With --dataset: its train split, then fine-tuned, "
        "zero-shot and SeasonalNaive side by side on its test split (and a PNG). OUT/metrics.json holds the "
        "record; --save FILE writes the fine-tuned checkpoint (checked before training), for --checkpoint. "
        "Default OUT: out/lagllama/COMMAND/DATASET or CSV-NAME.",
        [
            "--dataset m4_hourly --save tuned.ckpt",
            "--csv prices.csv --target y --prediction-length 24 --save tuned.ckpt",
        ],
        aliases=["train"],
    )
    _command(
        parser,
        subparsers,
        "backtest",
        lambda args: commands.backtest(ADAPTER, args),
        _backtest_options,
        "zero-shot or trained backtest on a repository dataset or a table",
        "Backtest Lag-Llama with GluonTS's backtest machinery. Without --train, the checkpoint forecasts "
        "zero-shot; with --train a model trains first (fine-tuning --checkpoint, or --from-scratch). On "
        "--dataset (default ett_small_1h): its test split, OUT/metrics.json and OUT/forecasts.png. With "
        "--csv: a rolling-origin backtest on your table (GluonTS split/generate_instances): --windows "
        "windows of --prediction-length per item, beside SeasonalNaive, the model trained on each item's "
        "part before the first window; OUT/metrics.json, OUT/item_metrics.csv and OUT/backtest.png; items "
        "too short for the windows are skipped (counted). Default OUT: out/lagllama/backtest/NAME.",
        ["--dataset ett_small_1h --baseline", "--csv prices.csv --target y --prediction-length 24 --windows 5"],
    )
    add_pretrain_parser(parser, subparsers, _add_architecture_arguments)
    common_cli.add_command(parser, subparsers, "info", cmd_info, _info_options, help="describe a checkpoint")
    return parser


def _user_errors() -> tuple:
    from .checkpoint import CheckpointError

    return (CheckpointError,)


def main(argv: Optional[List[str]] = None) -> int:
    prog = common_cli.program_name(CONSOLE_SCRIPT, "lagllama_gluonts")
    return common_cli.main(build_parser, prog, argv, user_errors=_user_errors)
