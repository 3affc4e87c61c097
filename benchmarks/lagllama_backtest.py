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
import sys
import time
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch

warnings.filterwarnings("ignore")

from gluonts.torch.model.deepar import DeepAREstimator  # noqa: E402

from lagllama_gluonts import LagLlamaEstimator, load_predictor  # noqa: E402
from lagllama_gluonts.cli import BUNDLED_CHECKPOINT  # noqa: E402
from lagllama_gluonts.common.datasets import get_dataset  # noqa: E402
from lagllama_gluonts.estimator import DEFAULT_LAG_FREQUENCIES  # noqa: E402
from lagllama_gluonts.common.evaluation import run_backtest, seasonal_naive_baseline  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("mean_wQuantileLoss", "MASE", "ND", "NRMSE")


def timed_backtest(predictor, dataset, num_samples):
    started = time.time()
    metrics, forecasts, _ = run_backtest(predictor, dataset.test, num_samples=num_samples, progress=False)
    seconds = time.time() - started
    return {k: float(metrics[k]) for k in METRICS}, seconds, len(forecasts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["m4_hourly", "exchange_rate"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batches-per-epoch", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--finetune-lr", type=float, default=3e-5)
    parser.add_argument("--decoding-dataset", default="exchange_rate",
                        help="dataset on which both decoding choices are compared")
    parser.add_argument("--out", type=Path, default=RESULTS / "lagllama_backtest.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows, decoding_rows = [], []
    for name in args.datasets:
        dataset = get_dataset(name)
        h, freq = dataset.metadata.prediction_length, dataset.metadata.freq
        budget = dict(max_epochs=args.epochs, enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=f"/tmp/lagllama_bench/{name}")

        naive = seasonal_naive_baseline(freq, h)
        m, s, n = timed_backtest(naive, dataset, args.num_samples)
        rows.append((name, "SeasonalNaive", m, 0.0, s, n))

        if BUNDLED_CHECKPOINT.exists():
            torch.manual_seed(args.seed)
            zs = load_predictor(BUNDLED_CHECKPOINT, prediction_length=h, num_parallel_samples=args.num_samples)
            m, s, n = timed_backtest(zs, dataset, args.num_samples)
            rows.append((name, "Lag-Llama bundled, zero-shot", m, 0.0, s, n))

        pl.seed_everything(args.seed, verbose=False)
        deepar = DeepAREstimator(
            freq=freq, prediction_length=h, batch_size=args.batch_size,
            num_batches_per_epoch=args.batches_per_epoch, trainer_kwargs=dict(budget),
        )
        started = time.time()
        deepar_predictor = deepar.train(dataset.train, cache_data=True)
        train_s = time.time() - started
        m, s, n = timed_backtest(deepar_predictor, dataset, args.num_samples)
        rows.append((name, "DeepAR (GluonTS)", m, train_s, s, n))

        pl.seed_everything(args.seed, verbose=False)
        lagllama = LagLlamaEstimator(
            prediction_length=h, context_length=64, n_layer=4, n_head=4, n_embd_per_head=16,
            scaling="robust", lags_seq=list(DEFAULT_LAG_FREQUENCIES),  # the bundled checkpoint's lags batch_size=args.batch_size, num_batches_per_epoch=args.batches_per_epoch,
            num_parallel_samples=args.num_samples, trainer_kwargs=dict(budget, gradient_clip_val=1.0),
        )
        started = time.time()
        ll_predictor = lagllama.train(dataset.train, cache_data=True)
        train_s = time.time() - started
        torch.manual_seed(args.seed)
        m, s, n = timed_backtest(ll_predictor, dataset, args.num_samples)
        rows.append((name, "Lag-Llama (trained here)", m, train_s, s, n))

        if BUNDLED_CHECKPOINT.exists():
            pl.seed_everything(args.seed, verbose=False)
            finetune = LagLlamaEstimator.from_checkpoint(
                BUNDLED_CHECKPOINT, prediction_length=h, batch_size=args.batch_size,
                num_batches_per_epoch=args.batches_per_epoch, num_parallel_samples=args.num_samples,
                lr=args.finetune_lr, trainer_kwargs=dict(budget, gradient_clip_val=1.0),
            )
            started = time.time()
            ft_predictor = finetune.train(dataset.train, cache_data=True)
            train_s = time.time() - started
            torch.manual_seed(args.seed)
            m, s, n = timed_backtest(ft_predictor, dataset, args.num_samples)
            rows.append((name, "Lag-Llama fine-tuned from bundled", m, train_s, s, n))

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

    lines = [
        "# Lag-Llama backtests",
        "",
        f"Command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        f"Budget for each trained model: {args.epochs} epochs x {args.batches_per_epoch} batches x "
        f"{args.batch_size} windows, {args.threads} CPU thread(s); {args.num_samples} sample paths; "
        "GluonTS `Evaluator` on each dataset's own test split. Lag-Llama here: 4 layers, 4 heads x 16, "
        "context 64, robust scaling, from scratch; fine-tuned: the bundled checkpoint's architecture "
        f"and weights, lr {args.finetune_lr}. DeepAR: GluonTS defaults. Zero-shot rows use no training data.",
        "",
        "| dataset | model | mean_wQuantileLoss (CRPS) | MASE | ND | NRMSE | train s | predict s | s / 100 series |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, model, m, train_s, pred_s, n in rows:
        lines.append(
            f"| {name} | {model} | {m['mean_wQuantileLoss']:.4f} | {m['MASE']:.3f} | {m['ND']:.4f} | "
            f"{m['NRMSE']:.4f} | {train_s:.0f} | {pred_s:.1f} | {100 * pred_s / max(n, 1):.1f} |"
        )
    if decoding_rows:
        lines += [
            "",
            f"## Decoding choice on {args.decoding_dataset} (same trained model, same seed)",
            "",
            "| decoding | mean_wQuantileLoss | MASE | ND | predict s |",
            "|---|---|---|---|---|",
        ]
        for label, m, s, n in decoding_rows:
            lines.append(f"| {label} | {m['mean_wQuantileLoss']:.4f} | {m['MASE']:.3f} | {m['ND']:.4f} | {s:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
