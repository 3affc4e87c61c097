"""Command line: ``python -m lagllama_gluonts {backtest,pretrain,info} --help``."""

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import List, Optional

from .datasets import MIRRORED_DATASETS
from .validation import positive_int

BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "lag-llama-small.ckpt"
DESCRIPTION = """\
Lag-Llama forecasting on GluonTS datasets, offline.

  backtest  evaluate a checkpoint zero-shot (default: the bundled one) or a model trained
            for a given budget on a GluonTS repository dataset (read from the local mirror),
            print GluonTS's metrics and write a PNG of forecasts with prediction intervals.
  pretrain  train a Lag-Llama from scratch on the allowed pretraining mixture and write a
            checkpoint (how the bundled one was made).
  info      describe a checkpoint (architecture, training record).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lagllama_gluonts",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bt = commands.add_parser(
        "backtest",
        help="zero-shot or trained backtest on a repository dataset",
        description="Backtest Lag-Llama with GluonTS's backtest machinery on a repository dataset. "
        "Without --train, the checkpoint forecasts zero-shot; with --train, a model is trained "
        "on the dataset's train split (starting from --checkpoint when given, i.e. fine-tuning).",
    )
    bt.add_argument("--dataset", default="ett_small_1h", choices=MIRRORED_DATASETS,
                    help="GluonTS repository dataset, materialized offline from the mirror (default: %(default)s)")
    bt.add_argument("--checkpoint", type=Path, default=None,
                    help=f"Lag-Llama checkpoint (default: the bundled {BUNDLED_CHECKPOINT.name}; "
                    "the released lag-llama.ckpt works too)")
    bt.add_argument("--from-scratch", action="store_true",
                    help="with --train: ignore any checkpoint and train a new model")
    bt.add_argument("--prediction-length", type=positive_int, default=None,
                    help="horizon (default: the dataset's)")
    bt.add_argument("--context-length", type=positive_int, default=None,
                    help="tokens of context (default: the checkpoint's; longer contexts get linear rope scaling)")
    bt.add_argument("--num-samples", type=positive_int, default=100, help="sample paths per series (default: %(default)s)")
    bt.add_argument("--max-series", type=positive_int, default=None, help="evaluate only the first N test series")
    bt.add_argument("--batch-size", type=positive_int, default=64, help="series per prediction batch")
    bt.add_argument("--no-kv-cache", action="store_true", help="recompute the whole window at each step (slower, same samples)")
    bt.add_argument("--rescale-every-step", action="store_true",
                    help="the reference's decoding: re-run the scaler over each path's growing history (no cache)")
    bt.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    bt.add_argument("--out", type=Path, default=Path("out/lagllama"), help="folder for metrics.json and the PNG")
    bt.add_argument("--baseline", action="store_true", help="also report GluonTS's SeasonalNaivePredictor")
    train = bt.add_argument_group("training (with --train)")
    train.add_argument("--train", action="store_true", help="train (or fine-tune) on the dataset's train split first")
    train.add_argument("--epochs", type=positive_int, default=10, help="max epochs (default: %(default)s)")
    train.add_argument("--batches-per-epoch", type=positive_int, default=50, help="(default: %(default)s)")
    train.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget for training")
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default: 1e-3 from scratch, 3e-5 when fine-tuning a checkpoint)")
    train.add_argument("--n-layer", type=positive_int, default=4, help="from scratch only (default: %(default)s)")
    train.add_argument("--n-head", type=positive_int, default=4, help="from scratch only (default: %(default)s)")
    train.add_argument("--n-embd-per-head", type=positive_int, default=16, help="from scratch only (default: %(default)s)")

    pt = commands.add_parser(
        "pretrain",
        help="pretrain on the allowed mixture and write a checkpoint",
        description="Pretrain Lag-Llama on m4_hourly's train split and the corpus series allowed "
        "for pretraining (BeijingPM25_0.csv stays held out), then write a checkpoint of plain data.",
    )
    pt.add_argument("--out", type=Path, default=Path("out/lag-llama-pretrained.ckpt"))
    pt.add_argument("--epochs", type=positive_int, default=40)
    pt.add_argument("--batches-per-epoch", type=positive_int, default=100)
    pt.add_argument("--max-minutes", type=float, default=38.0)
    pt.add_argument("--context-length", type=positive_int, default=64)
    pt.add_argument("--n-layer", type=positive_int, default=4)
    pt.add_argument("--n-head", type=positive_int, default=4)
    pt.add_argument("--n-embd-per-head", type=positive_int, default=16)
    pt.add_argument("--synthetic", type=int, default=200, help="synthetic series added to the mixture (default: %(default)s)")
    pt.add_argument("--seed", type=int, default=0)

    info = commands.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint", type=Path, nargs="?", default=BUNDLED_CHECKPOINT)
    return parser


def _quiet_libraries() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in ("lightning", "lightning.pytorch", "gluonts", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def cmd_backtest(args) -> int:
    import lightning.pytorch as pl

    from .datasets import get_dataset
    from .estimator import LagLlamaEstimator, load_predictor
    from .evaluation import backtest_metrics_table, plot_forecasts, run_backtest, seasonal_naive_baseline

    pl.seed_everything(args.seed, verbose=False)
    dataset = get_dataset(args.dataset)
    freq = dataset.metadata.freq
    horizon = args.prediction_length or dataset.metadata.prediction_length
    checkpoint = None if args.from_scratch else (args.checkpoint or BUNDLED_CHECKPOINT)
    common = dict(
        num_parallel_samples=args.num_samples,
        batch_size=args.batch_size,
        use_kv_cache=not args.no_kv_cache,
        rescale_every_step=args.rescale_every_step,
    )
    started = time.time()
    if not args.train:
        mode = f"zero-shot with {checkpoint}"
        predictor = load_predictor(checkpoint, prediction_length=horizon, context_length=args.context_length, **common)
        train_seconds = 0.0
    else:
        trainer_kwargs = {"max_epochs": args.epochs, "gradient_clip_val": 1.0}
        if args.max_minutes:
            trainer_kwargs["max_time"] = {"minutes": args.max_minutes}
        common.update(trainer_kwargs=trainer_kwargs, num_batches_per_epoch=args.batches_per_epoch)
        if args.lr is not None:
            common["lr"] = args.lr
        if checkpoint is not None:
            mode = f"fine-tuned from {checkpoint}"
            estimator = LagLlamaEstimator.from_checkpoint(
                checkpoint, prediction_length=horizon, context_length=args.context_length, **common
            )
        else:
            mode = "trained from scratch"
            estimator = LagLlamaEstimator(
                prediction_length=horizon, context_length=args.context_length or 64,
                n_layer=args.n_layer, n_head=args.n_head, n_embd_per_head=args.n_embd_per_head, **common,
            )
        predictor = estimator.train(dataset.train, cache_data=True)
        train_seconds = time.time() - started
    print(f"Lag-Llama {mode} on {args.dataset} (freq {freq}, horizon {horizon})", flush=True)

    predict_started = time.time()
    metrics, forecasts, tss = run_backtest(predictor, dataset.test, num_samples=args.num_samples, max_series=args.max_series)
    predict_seconds = time.time() - predict_started
    print(backtest_metrics_table(metrics))
    print(f"prediction: {predict_seconds:.1f}s for {len(forecasts)} series "
          f"({100 * predict_seconds / max(1, len(forecasts)):.1f}s per 100 series); training: {train_seconds:.1f}s")

    args.out.mkdir(parents=True, exist_ok=True)
    record = {"dataset": args.dataset, "mode": mode, "prediction_length": horizon, "metrics": metrics,
              "predict_seconds": predict_seconds, "train_seconds": train_seconds, "series": len(forecasts)}
    if args.baseline:
        naive = seasonal_naive_baseline(freq, horizon)
        naive_metrics, _, _ = run_backtest(naive, dataset.test, num_samples=args.num_samples,
                                           max_series=args.max_series, progress=False)
        print("SeasonalNaive baseline:")
        print(backtest_metrics_table(naive_metrics))
        record["seasonal_naive"] = naive_metrics
    (args.out / "metrics.json").write_text(json.dumps(record, indent=2, default=float))
    png = plot_forecasts(forecasts, tss, args.out / f"{args.dataset}_forecasts.png", num_series=4,
                         title=f"Lag-Llama {mode.split(' with ')[0]} — {args.dataset}")
    print(f"wrote {args.out / 'metrics.json'} and {png}")
    return 0


def cmd_pretrain(args) -> int:

    from .pretrain import pretrain

    path = pretrain(
        args.out, context_length=args.context_length, n_layer=args.n_layer, n_head=args.n_head,
        n_embd_per_head=args.n_embd_per_head, max_epochs=args.epochs,
        num_batches_per_epoch=args.batches_per_epoch, max_time_minutes=args.max_minutes, seed=args.seed,
        num_synthetic=args.synthetic,
    )
    print(f"wrote {path}")
    return 0


def cmd_info(args) -> int:
    from .checkpoint import read_checkpoint
    from .module import LagLlamaModel

    ckpt = read_checkpoint(args.checkpoint)
    hp = ckpt["hyper_parameters"]
    kwargs = hp["model_kwargs"]
    model = LagLlamaModel(**kwargs)
    shown = {k: v for k, v in kwargs.items() if k != "lags_seq"}
    shown["lags_seq"] = f"{len(kwargs['lags_seq'])} lags, max {max(kwargs['lags_seq'])}"
    shown["parameters"] = sum(p.numel() for p in model.parameters())
    for key, value in shown.items():
        print(f"{key:>22}: {value}")
    if "training" in hp:
        print(json.dumps(hp["training"], indent=2))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    from .checkpoint import CheckpointError
    from .datasets import MirrorFileMissing
    from .validation import DataError

    try:
        return {"backtest": cmd_backtest, "pretrain": cmd_pretrain, "info": cmd_info}[args.command](args)
    except (CheckpointError, DataError, MirrorFileMissing) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
