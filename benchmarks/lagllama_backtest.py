"""Lag-Llama trained per dataset vs GluonTS DeepAR (same budget) vs SeasonalNaive; plus the
bundled checkpoint zero-shot, and the two decoding choices (fixed scale + kv-cache vs the
reference's re-scaling at every step).

Same data (GluonTS repository datasets from the offline mirror, their own test splits),
same budget for the two trained models (epochs x batches x batch size, one CPU thread),
side by side in one run. Writes ``benchmarks/results/lagllama_backtest.md``.

    python benchmarks/lagllama_backtest.py --epochs 30 --datasets m4_hourly exchange_rate
"""

import argparse
import json
import warnings
from pathlib import Path

import bench_common  # benchmarks/bench_common.py; puts the repository root on sys.path
import lightning.pytorch as pl
import torch
from bench_common import Timer, backtest, markdown_table

warnings.filterwarnings("ignore")

from gluonts.torch.model.deepar import DeepAREstimator  # noqa: E402

from lagllama_gluonts import LagLlamaEstimator, load_predictor  # noqa: E402
from lagllama_gluonts.cli import BUNDLED_CHECKPOINT  # noqa: E402
from lagllama_gluonts.common.datasets import get_dataset  # noqa: E402
from lagllama_gluonts.common.evaluation import seasonal_naive_baseline  # noqa: E402
from lagllama_gluonts.defaults import GRADIENT_CLIP_VAL, SMALL_ARCHITECTURE, SMALL_CONTEXT_LENGTH  # noqa: E402
from lagllama_gluonts.estimator import DEFAULT_LAG_FREQUENCIES  # noqa: E402

RESULTS = bench_common.RESULTS
METRICS = ("mean_wQuantileLoss", "MASE", "ND", "NRMSE")
# The models trained here, each with the same budget (``build_trained``).
TRAINED = ("DeepAR (GluonTS)", "Lag-Llama (trained here)")


def timed_backtest(predictor, dataset, num_samples):
    """METRICS on the test split, the seconds it took (forecasting and scoring), the series."""
    result = backtest(predictor, dataset.test, num_samples, metrics=METRICS)
    return result.metrics, result.seconds, result.num_series


def trainer_budget(args, name: str) -> dict:
    """The Lightning trainer settings every trained model gets."""
    return dict(
        max_epochs=args.epochs,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=f"/tmp/lagllama_bench/{name}",
    )


def batch_budget(args) -> dict:
    """The estimator settings every trained model gets: windows per batch, batches per epoch."""
    return dict(batch_size=args.batch_size, num_batches_per_epoch=args.batches_per_epoch)


def build_trained(model: str, args, name: str, freq: str, h: int):
    """One of TRAINED for dataset ``name`` (horizon ``h``), with the shared budget."""
    budget = trainer_budget(args, name)
    if model == "DeepAR (GluonTS)":
        return DeepAREstimator(freq=freq, prediction_length=h, trainer_kwargs=budget, **batch_budget(args))
    if model == "Lag-Llama (trained here)":
        return LagLlamaEstimator(
            prediction_length=h,
            context_length=SMALL_CONTEXT_LENGTH,
            **SMALL_ARCHITECTURE,
            scaling="robust",
            lags_seq=list(DEFAULT_LAG_FREQUENCIES),  # the bundled checkpoint's lags
            num_parallel_samples=args.num_samples,
            trainer_kwargs=dict(budget, gradient_clip_val=GRADIENT_CLIP_VAL),
            **batch_budget(args),
        )
    raise ValueError(f"unknown model {model!r}; choose from {list(TRAINED)}")


def train_and_score(model: str, args, name: str, dataset, predict_seed=None):
    """Train one of TRAINED (``args.seed``) and backtest it (after ``torch.manual_seed(predict_seed)``
    when given): its table row and the predictor."""
    h, freq = dataset.metadata.prediction_length, dataset.metadata.freq
    pl.seed_everything(args.seed, verbose=False)
    with Timer() as training:
        predictor = build_trained(model, args, name, freq, h).train(dataset.train, cache_data=True)
    if predict_seed is not None:
        torch.manual_seed(predict_seed)
    m, s, n = timed_backtest(predictor, dataset, args.num_samples)
    return (name, model, m, training.seconds, s, n), predictor


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["m4_hourly", "exchange_rate"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batches-per-epoch", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--finetune-lr", type=float, default=3e-5)
    parser.add_argument(
        "--decoding-dataset", default="exchange_rate", help="dataset on which both decoding choices are compared"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "lagllama_backtest.md")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)

    rows, decoding_rows = [], []
    for name in args.datasets:
        dataset = get_dataset(name)
        h, freq = dataset.metadata.prediction_length, dataset.metadata.freq
        budget = trainer_budget(args, name)

        naive = seasonal_naive_baseline(freq, h)
        m, s, n = timed_backtest(naive, dataset, args.num_samples)
        rows.append((name, "SeasonalNaive", m, 0.0, s, n))

        if BUNDLED_CHECKPOINT.exists():
            torch.manual_seed(args.seed)
            zs = load_predictor(BUNDLED_CHECKPOINT, prediction_length=h, num_parallel_samples=args.num_samples)
            m, s, n = timed_backtest(zs, dataset, args.num_samples)
            rows.append((name, "Lag-Llama bundled, zero-shot", m, 0.0, s, n))

        row, _ = train_and_score("DeepAR (GluonTS)", args, name, dataset)
        rows.append(row)
        row, ll_predictor = train_and_score("Lag-Llama (trained here)", args, name, dataset, predict_seed=args.seed)
        rows.append(row)

        if BUNDLED_CHECKPOINT.exists():
            pl.seed_everything(args.seed, verbose=False)
            finetune = LagLlamaEstimator.from_checkpoint(
                BUNDLED_CHECKPOINT,
                prediction_length=h,
                batch_size=args.batch_size,
                num_batches_per_epoch=args.batches_per_epoch,
                num_parallel_samples=args.num_samples,
                lr=args.finetune_lr,
                trainer_kwargs=dict(budget, gradient_clip_val=GRADIENT_CLIP_VAL),
            )
            with Timer() as training:
                ft_predictor = finetune.train(dataset.train, cache_data=True)
            torch.manual_seed(args.seed)
            m, s, n = timed_backtest(ft_predictor, dataset, args.num_samples)
            rows.append((name, "Lag-Llama fine-tuned from bundled", m, training.seconds, s, n))

        if name == args.decoding_dataset:
            net = ll_predictor.prediction_net
            for label, cache, rescale in [
                ("fixed loc/scale, kv-cache (default)", True, False),
                ("re-scale every step (reference), no cache", False, True),
            ]:
                net.use_kv_cache, net.rescale_every_step = cache, rescale
                torch.manual_seed(args.seed)
                m, s, n = timed_backtest(ll_predictor, dataset, args.num_samples)
                decoding_rows.append((label, m, s, n))
            net.use_kv_cache, net.rescale_every_step = True, False
        print(json.dumps(rows[-1][:3], default=float), flush=True)

    arch = SMALL_ARCHITECTURE
    lines = [
        "# Lag-Llama backtests",
        "",
        f"Command: `{bench_common.command(__file__, argv)}`",
        "",
        f"Budget for each trained model: {args.epochs} epochs x {args.batches_per_epoch} batches x "
        f"{args.batch_size} windows, {args.threads} CPU thread(s); {args.num_samples} sample paths; "
        f"GluonTS `Evaluator` on each dataset's own test split. Lag-Llama here: {arch['n_layer']} layers, "
        f"{arch['n_head']} heads x {arch['n_embd_per_head']}, context {SMALL_CONTEXT_LENGTH}, robust scaling, "
        "from scratch; fine-tuned: the bundled checkpoint's architecture "
        f"and weights, lr {args.finetune_lr}. DeepAR: GluonTS defaults. Zero-shot rows use no training data.",
        "",
        f"Machine: {bench_common.machine()}; {bench_common.utc_stamp()}.",
        "",
    ]
    lines += markdown_table(
        [
            "dataset",
            "model",
            "mean_wQuantileLoss (CRPS)",
            "MASE",
            "ND",
            "NRMSE",
            "train s",
            "predict s",
            "s / 100 series",
        ],
        [
            [
                name,
                model,
                f"{m['mean_wQuantileLoss']:.4f}",
                f"{m['MASE']:.3f}",
                f"{m['ND']:.4f}",
                f"{m['NRMSE']:.4f}",
                f"{train_s:.0f}",
                f"{pred_s:.1f}",
                f"{100 * pred_s / max(n, 1):.1f}",
            ]
            for name, model, m, train_s, pred_s, n in rows
        ],
    )
    if decoding_rows:
        lines += [
            "",
            f"## Decoding choice on {args.decoding_dataset} (same trained model, same seed)",
            "",
        ]
        lines += markdown_table(
            ["decoding", "mean_wQuantileLoss", "MASE", "ND", "predict s"],
            [
                [label, f"{m['mean_wQuantileLoss']:.4f}", f"{m['MASE']:.3f}", f"{m['ND']:.4f}", f"{s:.1f}"]
                for label, m, s, n in decoding_rows
            ],
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
