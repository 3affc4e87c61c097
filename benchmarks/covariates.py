"""Covariates for Lag-Llama: does the same budget forecast better with them? CRPS on real data.

Three studies, each model trained with the same budget (batch size x batches x epochs) with and
without covariates, over several seeds so that "beyond noise" is measurable (mean ± std of the
seeds' CRPS, and the paired difference to the model without covariates):

(a) ETTh1, target ``OT`` with the six load columns (HUFL ... LULL) as covariates, either past-only
    (``past_feat_dynamic_real``: what is honestly known at forecast time) or known over the
    horizon (``feat_dynamic_real``: an oracle of the loads, the Informer paper's MS setting),
    side by side with ``InformerEstimator`` given the same covariates (informer_gluonts' own route).
(b) ``price_ercot_dam.csv``: ERCOT day-ahead price with Houston temperature known over the horizon
    (the actual temperature standing in for a forecast: an upper bound of its value), and the
    same temperature shuffled in time (an uninformative covariate of the same distribution).
(c) the bundled checkpoint fine-tuned on (b) with and without the temperature, beside (b)'s
    models trained from scratch.

CRPS is GluonTS's ``mean_wQuantileLoss`` over rolling windows of the test period (each window:
the history up to its start, the next ``prediction_length`` steps scored). Train, validation
and test periods do not overlap; nothing is tuned on the test windows.

    python benchmarks/covariates.py            # writes benchmarks/results/covariates.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import bench_common
from bench_common import RESULTS, Timer, machine, markdown_table

SHARED = bench_common.SHARED
ETTH1 = (
    SHARED
    / "datasets"
    / "mirror"
    / "raw.githubusercontent.com"
    / "zhouhaoyi"
    / "ETDataset"
    / "main"
    / "ETT-small"
    / "ETTh1.csv"
)
ERCOT = SHARED / "datasets" / "corpus" / "price_ercot_dam.csv"
LOADS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]
QUIET = dict(enable_progress_bar=False, enable_model_summary=False, logger=False)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batches-per-epoch", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--windows", type=int, default=30, help="rolling test windows per dataset")
    parser.add_argument("--prediction-length", type=int, default=24)
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--studies", nargs="+", default=["etth1", "ercot", "finetune"])
    parser.add_argument("--out", default=str(RESULTS / "covariates.md"))
    return parser.parse_args(bench_common.script_argv(argv))


# --------------------------------------------------------------------------- data


def read_frame(path: Path, columns: List[str]):
    import pandas as pd

    frame = pd.read_csv(path)
    time = frame.columns[0]
    frame[time] = pd.to_datetime(frame[time])
    frame = frame.set_index(time).asfreq("h")
    return frame[columns].interpolate(limit_direction="both")  # a handful of gaps in ERCOT's clock


def split_points(n: int, train: float, test: float):
    return int(n * train), int(n * (1 - test))


def entry(frame, target: str, covariates: List[str], mode: str, end: int, horizon: int = 0, seed: int = 0):
    """One series: the target up to ``end`` (+ ``horizon`` scored steps) and its covariates by ``mode``:
    "none", "past" (past_feat_dynamic_real), "known" (feat_dynamic_real), "shuffled" (known, permuted)."""
    import numpy as np
    import pandas as pd

    values = frame[covariates].to_numpy(dtype=np.float64).T
    if mode == "shuffled":
        rng = np.random.default_rng(1000 + seed)
        values = values[:, rng.permutation(values.shape[1])]
    item = {"start": pd.Period(frame.index[0], freq="h"), "target": frame[target].to_numpy()[: end + horizon]}
    if mode == "past":
        item["past_feat_dynamic_real"] = values[:, : end + horizon]
    elif mode in ("known", "shuffled"):
        item["feat_dynamic_real"] = values[:, : end + horizon]
    return item


def test_windows(frame, target, covariates, mode, start, stop, count, horizon, seed=0):
    """Rolling windows over [start, stop): each the history to its start plus ``horizon`` scored steps."""
    step = max(1, (stop - start - horizon) // count)
    starts = range(start, stop - horizon, step)
    return [entry(frame, target, covariates, mode, s, horizon, seed) for s in starts][:count]


# --------------------------------------------------------------------------- models


def counts(mode: str, k: int) -> Dict[str, int]:
    return {"none": {}, "past": {"num_past_feat_dynamic_real": k}}.get(mode, {"num_feat_dynamic_real": k})


def lagllama_scratch(args, mode: str, k: int):
    from lagllama_gluonts import LagLlamaEstimator

    return LagLlamaEstimator(
        prediction_length=args.prediction_length,
        context_length=64,
        freq="h",
        n_layer=2,
        n_head=4,
        n_embd_per_head=16,
        batch_size=args.batch_size,
        num_batches_per_epoch=args.batches_per_epoch,
        num_parallel_samples=args.num_samples,
        trainer_kwargs=dict(max_epochs=args.epochs, **QUIET),
        **counts(mode, k),
    )


def lagllama_finetuned(args, mode: str, k: int):
    from lagllama_gluonts import LagLlamaEstimator

    # 1e-4, not the fine-tuning default of 1e-5: the covariate projection starts at zero and has
    # to be learnt within the same small budget; the same rate with and without covariates
    return LagLlamaEstimator.from_checkpoint(
        None,
        prediction_length=args.prediction_length,
        lr=1e-4,
        batch_size=args.batch_size,
        num_batches_per_epoch=args.batches_per_epoch,
        num_parallel_samples=args.num_samples,
        trainer_kwargs=dict(max_epochs=args.epochs, **QUIET),
        **counts(mode, k),
    )


def informer(args, mode: str, k: int):
    from informer_gluonts import InformerEstimator

    return InformerEstimator(
        prediction_length=args.prediction_length,
        context_length=96,
        freq="h",
        d_model=32,
        n_heads=4,
        e_layers=2,
        d_layers=1,
        d_ff=64,
        batch_size=args.batch_size,
        num_batches_per_epoch=args.batches_per_epoch,
        num_parallel_samples=args.num_samples,
        trainer_kwargs=dict(max_epochs=args.epochs, **QUIET),
        device="cpu",
        **counts(mode, k),
    )


def run(build, args, frame, target, covariates, mode, seed, bounds) -> float:
    import lightning.pytorch as pl

    from lagllama_gluonts.common.evaluation import run_backtest

    train_end, test_start = bounds
    pl.seed_everything(seed, verbose=False)
    train = [entry(frame, target, covariates, mode, train_end, seed=seed)]
    predictor = build(args, mode, len(covariates)).train(train)
    windows = test_windows(
        frame, target, covariates, mode, test_start, len(frame), args.windows, args.prediction_length, seed
    )
    import torch

    torch.manual_seed(seed)
    metrics, _, _ = run_backtest(predictor, windows, num_samples=args.num_samples, progress=False)
    return float(metrics["mean_wQuantileLoss"])


# --------------------------------------------------------------------------- report


def summarise(rows: Dict[str, List[float]], baseline: str) -> List[List[str]]:
    """mean ± std of each model's CRPS over seeds, and its paired difference to ``baseline``."""
    out = []
    for name, values in rows.items():
        mean = statistics.mean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        if name == baseline:
            diff = "—"
        else:
            deltas = [v - b for v, b in zip(values, rows[baseline])]
            d_mean = statistics.mean(deltas)
            d_sd = statistics.stdev(deltas) if len(deltas) > 1 else 0.0
            verdict = (
                "better"
                if d_mean + 2 * d_sd / max(1, len(deltas)) ** 0.5 < 0
                else ("worse" if d_mean - 2 * d_sd / max(1, len(deltas)) ** 0.5 > 0 else "within noise")
            )
            diff = f"{d_mean:+.4f} ± {d_sd:.4f} ({verdict})"
        out.append([name, f"{mean:.4f} ± {spread:.4f}", " ".join(f"{v:.4f}" for v in values), diff])
    return out


def study(title, specs, args, frame, target, covariates, bounds, baseline, log) -> List[str]:
    rows: Dict[str, List[float]] = {}
    with Timer() as clock:
        for name, build, mode in specs:
            rows[name] = []
            for seed in range(args.seeds):
                rows[name].append(run(build, args, frame, target, covariates, mode, seed, bounds))
                log(f"{title} | {name} | seed {seed}: {rows[name][-1]:.4f}")
    lines = [f"### {title}", ""]
    lines += markdown_table(
        ["model", "CRPS mean ± std", "per seed", f"paired Δ vs {baseline}"], summarise(rows, baseline)
    )
    lines += ["", f"({clock.minutes:.1f} min)", ""]
    return lines


def main(argv: Optional[Sequence[str]] = None) -> None:
    import torch

    torch.set_num_threads(1)
    args = parse_args(argv)

    def log(message):
        print(message, flush=True)

    lines = [
        "# Covariates: the same budget with and without them (CRPS, lower is better)",
        "",
        f"Command: `{bench_common.command(__file__, argv)}`",
        "",
        f"Machine: {machine()}",
        "",
        f"Budget of every model: {args.epochs} epochs x {args.batches_per_epoch} batches x {args.batch_size} "
        f"windows; horizon {args.prediction_length} h; CRPS (mean_wQuantileLoss) over {args.windows} rolling "
        f"test windows with {args.num_samples} samples; {args.seeds} seeds (0..{args.seeds - 1}: training "
        "and sampling). Paired Δ: the per-seed difference to the model without covariates, mean ± std; "
        '"better"/"worse" when its mean is more than two standard errors from 0.',
        "",
    ]
    if "etth1" in args.studies:
        frame = read_frame(ETTH1, ["OT", *LOADS])
        # the Informer paper's split: 12 months train, 4 validation (unused here), 4 test
        bounds = (12 * 30 * 24, 16 * 30 * 24)
        frame = frame.iloc[: 20 * 30 * 24]
        specs = [
            ("Lag-Llama, no covariates", lagllama_scratch, "none"),
            ("Lag-Llama, loads past-only", lagllama_scratch, "past"),
            ("Lag-Llama, loads known-future", lagllama_scratch, "known"),
            ("Informer, no covariates", informer, "none"),
            ("Informer MS, loads past-only", informer, "past"),
            ("Informer MS, loads known-future", informer, "known"),
        ]
        lines += study(
            "(a) ETTh1 OT with the six load columns (trained from scratch)",
            specs,
            args,
            frame,
            "OT",
            LOADS,
            bounds,
            "Lag-Llama, no covariates",
            log,
        )
    if "ercot" in args.studies or "finetune" in args.studies:
        frame = read_frame(ERCOT, ["y", "temp_celsius_houston"])
        bounds = split_points(len(frame), train=0.7, test=0.15)
        specs = []
        if "ercot" in args.studies:
            specs += [
                ("Lag-Llama scratch, no covariate", lagllama_scratch, "none"),
                ("Lag-Llama scratch, temperature", lagllama_scratch, "known"),
                ("Lag-Llama scratch, temperature shuffled", lagllama_scratch, "shuffled"),
            ]
        if "finetune" in args.studies:
            specs += [
                ("bundled checkpoint fine-tuned, no covariate", lagllama_finetuned, "none"),
                ("bundled checkpoint fine-tuned, temperature", lagllama_finetuned, "known"),
                ("bundled checkpoint fine-tuned, temperature shuffled", lagllama_finetuned, "shuffled"),
            ]
        baseline = specs[0][0]
        lines += study(
            "(b, c) ERCOT day-ahead price with Houston temperature",
            specs,
            args,
            frame,
            "y",
            ["temp_celsius_houston"],
            bounds,
            baseline,
            log,
        )
    lines += [
        "Design: the covariates enter through a separate linear projection added to each token's embedding,",
        "initialised at zero (weights and bias), each dynamic covariate standardised by its own context",
        "window (its window mean and spread fed beside it). A model with covariate support and its initial",
        "weights forecasts exactly as without (the released checkpoint is unchanged until trained; the",
        "reference fixtures hold to 1e-5 with covariate support on), so fine-tuning a checkpoint starts from",
        "its own forecasts; a separate projection keeps `transformer.wte`'s shape, so every checkpoint loads.",
        "Known-future covariates are read at the predicted position (each decoding step its own horizon row);",
        "past-only ones up to the forecast start, zeros with an availability flag after it.",
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    log(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
