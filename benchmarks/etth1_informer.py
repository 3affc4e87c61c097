"""
Reproduce the univariate ETTh1 / ETTh2 rows of the Informer paper (Zhou et
al., AAAI 2021, Table 1, setting S) with ``InformerEstimator`` on a CPU.

Protocol (as the official Informer2020 code, ``data/data_loader.py``):

* ``ETTh1.csv`` or ``ETTh2.csv`` (``--dataset``), target ``OT`` only
  (setting S); both files have the same 17,420 hourly rows and layout;
* train / validation / test borders at rows 8640 / 11520 / 14400
  (12 / 4 / 4 months); validation and test inputs may reach back before
  their border (the official code starts those splits ``seq_len`` rows
  early), so the forecast windows start at every row of the split;
* standardisation fitted on the train rows only;
* MSE and MAE of the point forecast on the standardised scale over EVERY
  test window (stride 1): forecast starts 11520 ... 14400 - H.

Ours: the point forecast is the forecast distribution's mean or median,
whichever has the lower validation MSE. Checkpoint choice and early
stopping use the validation NLL. CRPS is GluonTS' ``mean_wQuantileLoss``
(``Evaluator``, 100 sample paths) in OT's own units (degrees), on every
``--crps-stride``-th test window.

Usage (the settings of ``benchmarks/results/etth1.md`` are the defaults)::

    python benchmarks/etth1_informer.py --out benchmarks/results/etth1.md
    python benchmarks/etth1_informer.py --dataset ETTh2 --minutes 2 \
        --out benchmarks/results/etth2.md

One horizon takes at most ``--minutes`` of training (1 thread by default).
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

import bench_common  # benchmarks/bench_common.py; puts the repository root on sys.path
import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from bench_common import Timer, markdown_table
from gluonts.dataset.common import ListDataset
from gluonts.dataset.field_names import FieldName
from gluonts.evaluation import Evaluator
from gluonts.model.forecast import SampleForecast
from gluonts.transform import ExpectedNumInstanceSampler

from informer_gluonts import InformerEstimator
from lagllama_gluonts.common.datasets import mirror_path, resolve_mirror
from lagllama_gluonts.common.estimator import BestWeights
from lagllama_gluonts.common.evaluation import QUANTILES
from lagllama_gluonts.common.tables import load_table

# In the offline mirror (``$LAGLLAMA_GLUONTS_MIRROR``; bench_common defaults it to ../shared/datasets/mirror).
URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{}.csv"
# The official loader (Dataset_ETT_hour) uses the same 12/4/4-month borders for both files.
TRAIN_END, VAL_END, TEST_END = 8640, 11520, 14400
HORIZONS = (24, 48, 168, 336, 720)
FREQ = "h"


class PaperRow(NamedTuple):
    """The paper's univariate Informer (ProbSparse) numbers for one dataset and where they are read from."""

    numbers: Dict[int, Tuple[float, float]]  # horizon -> (MSE, MAE)
    source: str  # the report's wording


PAPERS = {
    # The wording of the committed etth1.md, kept so its command reproduces it.
    "ETTh1": PaperRow(
        {24: (0.098, 0.247), 48: (0.158, 0.319), 168: (0.183, 0.346), 336: (0.222, 0.387), 720: (0.269, 0.435)},
        "official Informer2020 README (univariate ETTh1, Informer)",
    ),
    # The README shows Table 1 only as an image; these were checked against the copy of Table 1
    # in the S4 paper's appendix (Gu, Goel & Re, ICLR 2022, Appendix D.3.5, Table 13, column
    # "Informer"), whose ETTh1 row is the same as the numbers above.
    "ETTh2": PaperRow(
        {24: (0.093, 0.240), 48: (0.155, 0.314), 168: (0.232, 0.389), 336: (0.263, 0.417), 720: (0.277, 0.431)},
        "Zhou et al., AAAI 2021, Table 1 (univariate ETTh2, Informer), as reproduced in "
        "Gu et al., ICLR 2022 (S4), Appendix D.3.5, Table 13",
    ),
}
DATASETS = tuple(PAPERS)


def dataset_path(name: str) -> Path:
    """``ETTh1.csv`` / ``ETTh2.csv`` in the offline mirror."""
    if name not in PAPERS:
        raise ValueError(f"dataset {name!r}: expected one of {', '.join(DATASETS)}")
    return mirror_path(URL.format(name), resolve_mirror())


# Kept for callers of the ETTh1-only version of this script.
ETTH1_URL = URL.format("ETTh1")
ETTH1 = dataset_path("ETTh1")
PAPER = PAPERS["ETTh1"].numbers


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def load_ot(path: Path = ETTH1):
    """The hourly timestamps, OT standardised with the train rows' mean/std, and those stats."""
    table = load_table(path, ["OT"], time_column="date", freq=FREQ, roles=["target"])
    ot = table.frame["OT"].to_numpy(dtype=np.float64)
    mean, std = ot[:TRAIN_END].mean(), ot[:TRAIN_END].std()
    return table.frame.index, ((ot - mean) / std).astype(np.float32), mean, std


def entry(z: np.ndarray, end: int, start: pd.Period) -> dict:
    """A series holding rows [0, end): history always starts at row 0, so
    the age feature means the same thing in every split."""
    return {"start": start, "target": z[:end]}


def validation_dataset(z, start, H, stride) -> ListDataset:
    """One entry per validation window (forecast starts 8640 ... 11520-H);
    GluonTS' validation sampler forecasts the last H steps of each."""
    ends = range(TRAIN_END + H, VAL_END + 1, stride)
    return ListDataset([entry(z, e, start) for e in ends], freq=FREQ)


# --------------------------------------------------------------------------
# Direct batched evaluation of every window
# --------------------------------------------------------------------------


class WindowBatcher:
    """
    Runs the fitted network on arbitrary forecast starts of the one series.

    The features come from the estimator's own transformation applied once
    to the whole series (time features, age, observed indicator); windows
    are then plain slices, which makes scoring ~2,900 windows per horizon
    cheap.
    """

    def __init__(self, estimator, module, z: np.ndarray, start: pd.Period):
        self.model = module.model.eval()
        self.H = estimator.prediction_length
        self.past = self.model.past_length
        transformed = next(iter(estimator.create_transformation().apply([entry(z, len(z), start)], is_train=False)))
        self.target = torch.as_tensor(transformed[FieldName.TARGET])
        self.observed = torch.as_tensor(transformed[FieldName.OBSERVED_VALUES])
        self.time_feat = torch.as_tensor(transformed[FieldName.FEAT_TIME]).T.contiguous()  # (T + H, features)

    def batch(self, starts: np.ndarray) -> Dict[str, torch.Tensor]:
        B = len(starts)
        past = torch.stack([torch.arange(s - self.past, s) for s in starts])
        future = torch.stack([torch.arange(s, s + self.H) for s in starts])
        return {
            "feat_static_cat": torch.zeros(B, 1, dtype=torch.long),
            "feat_static_real": torch.zeros(B, 1),
            "past_time_feat": self.time_feat[past],
            "past_target": self.target[past],
            "past_observed_values": self.observed[past],
            "future_time_feat": self.time_feat[future],
        }

    @torch.no_grad()
    def point_forecasts(self, starts, batch_size=256, median_samples=200):
        """Distribution mean and median (B, H) for every start."""
        means, medians = [], []
        for i in range(0, len(starts), batch_size):
            distr = self.model.output_distribution(**self.batch(starts[i : i + batch_size]))
            mean = distr.mean
            means.append(mean)
            try:
                medians.append(distr.icdf(torch.full_like(mean, 0.5)))
            except (NotImplementedError, AttributeError):
                # Student-t has no icdf in torch: median of many samples.
                medians.append(distr.sample((median_samples,)).median(0)[0])
        return torch.cat(means).numpy(), torch.cat(medians).numpy()

    @torch.no_grad()
    def samples(self, starts, num_samples=100, batch_size=64):
        out = []
        for i in range(0, len(starts), batch_size):
            distr = self.model.output_distribution(**self.batch(starts[i : i + batch_size]))
            out.append(distr.sample((num_samples,)).transpose(0, 1))
        return torch.cat(out).numpy()  # (B, S, H)


def targets(z, starts, H):
    return np.stack([z[s : s + H] for s in starts])


def crps(batcher, z, dates, starts, mean, std, H, num_samples=100):
    """GluonTS mean_wQuantileLoss in OT's units on the given windows."""
    samples = batcher.samples(starts, num_samples) * std + mean
    ot = z.astype(np.float64) * std + mean
    index = pd.PeriodIndex(dates, freq=FREQ)
    forecasts, tss = [], []
    for s, paths in zip(starts, samples):
        forecasts.append(SampleForecast(samples=paths, start_date=index[s]))
        lo = max(0, s - 4 * H)
        tss.append(pd.DataFrame(ot[lo : s + H], index=index[lo : s + H]))
    warnings.filterwarnings("ignore")
    agg, _ = Evaluator(quantiles=QUANTILES, num_workers=0)(iter(tss), iter(forecasts), num_series=len(tss))
    return float(agg["mean_wQuantileLoss"])


# --------------------------------------------------------------------------
# One horizon
# --------------------------------------------------------------------------


def run_horizon(H: int, args, z, dates, mean, std) -> dict:
    start = pd.Period(dates[0], freq=FREQ)
    context = args.context_length
    lags = [int(x) for x in args.lags.split(",")] if args.lags else []
    root = Path(args.work_dir) / args.dataset / f"H{H}"  # scratch (Lightning's root dir) only
    estimator = InformerEstimator(
        freq=FREQ,
        prediction_length=H,
        context_length=context,
        label_len=context // 2,
        d_model=args.d_model,
        n_heads=args.n_heads,
        e_layers=args.e_layers,
        d_layers=args.d_layers,
        d_ff=args.d_ff,
        attention=args.attention,
        factor=5,
        distil=True,
        dropout=args.dropout,
        scaling=args.scaling,
        lags=lags,
        batch_size=args.batch_size,
        num_batches_per_epoch=args.batches_per_epoch,
        lr=args.lr,
        lr_patience=args.lr_patience,
        early_stopping_patience=args.patience,
        # Whole training windows only (no padding), as the official loader.
        train_sampler=ExpectedNumInstanceSampler(
            num_instances=1.0,
            min_past=context + max(lags, default=0),
            min_future=H,
        ),
        trainer_kwargs={
            "max_epochs": args.max_epochs,
            "max_time": {"minutes": args.minutes},
            "default_root_dir": str(root),
            "logger": False,
            "enable_progress_bar": args.progress,
            "enable_model_summary": False,
        },
    )
    past = context + max(lags, default=0)
    train = ListDataset([entry(z, TRAIN_END, start)], freq=FREQ)
    val = validation_dataset(z, start, H, args.val_stride)

    pl.seed_everything(args.seed, verbose=False)
    with Timer() as training:
        output = estimator.train_model(train, validation_data=val, cache_data=True)
    train_seconds = training.seconds
    trainer = output.trainer
    module = output.trained_net

    batcher = WindowBatcher(estimator, module, z, start)
    val_starts = np.arange(TRAIN_END, VAL_END - H + 1)
    test_starts = np.arange(VAL_END, TEST_END - H + 1)
    assert test_starts[0] - past >= 0

    val_mean, val_median = batcher.point_forecasts(val_starts)
    y_val = targets(z, val_starts, H)
    val_mse = {
        "mean": float(((val_mean - y_val) ** 2).mean()),
        "median": float(((val_median - y_val) ** 2).mean()),
    }
    # Ties (symmetric distributions) keep the mean.
    choice = "median" if val_mse["median"] < val_mse["mean"] else "mean"

    test_mean, test_median = batcher.point_forecasts(test_starts)
    point = test_mean if choice == "mean" else test_median
    y_test = targets(z, test_starts, H)
    crps_starts = test_starts[:: args.crps_stride]
    result = {
        "H": H,
        "context_length": context,
        "label_len": context // 2,
        "lags": lags,
        "windows": len(test_starts),
        "mse": float(((point - y_test) ** 2).mean()),
        "mae": float(np.abs(point - y_test).mean()),
        "point": choice,
        "val_mse": val_mse,
        "crps": crps(batcher, z, dates, crps_starts, mean, std, H),
        "crps_windows": len(crps_starts),
        "train_seconds": train_seconds,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        # the shared training loop keeps the best epoch's weights in memory (BestWeights, on
        # val_loss) and restores them; Lightning's own checkpoint callback monitors nothing
        "best_val_nll": next(cb.best_score for cb in trainer.callbacks if isinstance(cb, BestWeights)),
        "persistence_mse": float(((z[test_starts - 1][:, None] - y_test) ** 2).mean()),
        "persistence_mae": float(np.abs(z[test_starts - 1][:, None] - y_test).mean()),
    }
    return result


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _pair(ours: float, theirs: float) -> Tuple[str, str]:
    """Ours and the paper's number as table cells, the lower (better) one in bold; compared as
    shown (3 decimals), so a tie bolds both."""
    a, b = f"{ours:.3f}", f"{theirs:.3f}"
    return (f"**{a}**" if float(a) <= float(b) else a), (f"**{b}**" if float(b) <= float(a) else b)


def markdown(results: List[dict], args, command: str, wall: float, load: str = "unknown") -> str:
    """The report; ``load`` is the machine's load average when the run ended (the training budget
    is wall-clock time, so on a shared machine it buys fewer steps when others are busy)."""
    paper = PAPERS[args.dataset]
    lines = [
        f"# Informer on {args.dataset}, univariate (setting S)",
        "",
        f"Paper protocol: `{args.dataset}.csv`, target `OT`, train/val/test borders "
        f"at rows {TRAIN_END}/{VAL_END}/{TEST_END}, standardisation fitted on the train rows, "
        "MSE/MAE of the point forecast on the standardised scale over every "
        f"test window (stride 1). Paper numbers: {paper.source}; the paper reports no CRPS.",
        "",
    ]
    lines += markdown_table(
        [
            "horizon",
            "MSE ours",
            "MSE paper",
            "MAE ours",
            "MAE paper",
            "CRPS ours",
            "point",
            "context",
            "train time",
            "epochs (steps)",
            "test windows",
        ],
        [
            [
                r["H"],
                *_pair(r["mse"], paper.numbers[r["H"]][0]),
                *_pair(r["mae"], paper.numbers[r["H"]][1]),
                f"{r['crps']:.4f}",
                r["point"],
                r["context_length"],
                f"{r['train_seconds'] / 60:.1f} min",
                f"{r['epochs']} ({r['steps']})",
                r["windows"],
            ]
            for r in results
        ],
        align="rrrrrrlrrrr",
    )
    lines += [
        "",
        "For scale, the last-value (persistence) forecast on the same "
        "windows: "
        + ", ".join(f"H={r['H']}: MSE {r['persistence_mse']:.3f} / MAE {r['persistence_mae']:.3f}" for r in results)
        + ".",
        "",
        "## Settings",
        "",
        f"- Model: d_model {args.d_model}, {args.n_heads} heads, "
        f"{args.e_layers} encoder layers (ProbSparse={args.attention == 'prob'}"
        f", factor 5, distilling), {args.d_layers} decoder layer, d_ff "
        f"{args.d_ff}, dropout {args.dropout}, Student-t output, "
        f"`{args.scaling}` scaling of each window's context, label_len = "
        f"context/2 with context {args.context_length}, target lags "
        f"{args.lags or 'none'} besides the value itself (so the history "
        "read is context + largest lag), hour/day-of-week/day-of-month/"
        "day-of-year + age features.",
        f"- Training: Adam lr {args.lr} (halved after {args.lr_patience} "
        f"epochs without improvement), batch {args.batch_size}, "
        f"{args.batches_per_epoch} batches/epoch of random whole windows "
        f"from the train rows, early stopping on the validation NLL "
        f"(patience {args.patience}, windows every {args.val_stride} h), "
        f"at most {args.max_epochs} epochs and {args.minutes} min per "
        "horizon; the best-validation checkpoint is restored.",
        "- Point forecast: mean or median of the forecast distribution, "
        "picked per horizon by validation MSE over every validation window "
        "(both exact: GluonTS' Student-t has an icdf; being symmetric, its "
        "median equals its mean, so the two tie and the mean is kept).",
        f"- CRPS: GluonTS `Evaluator` `mean_wQuantileLoss` (quantiles "
        f"{QUANTILES[0]:g} ... {QUANTILES[-1]:g}) from 100 sample paths, in OT's own units (degrees), "
        f"on every {args.crps_stride}th test window (subsampled to keep "
        "the sample arrays small).",
        f"- Budget: {torch.get_num_threads()} CPU thread(s), seed {args.seed}; "
        f"whole run {wall / 60:.1f} min wall time (training plus scoring); load average "
        f"(1 / 5 / 15 min) at the end {load}.",
        f"- Machine: {bench_common.machine()}.",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        "Raw results (JSON):",
        "",
        "```json",
        json.dumps(results, indent=1),
        "```",
        "",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--dataset", choices=DATASETS, default="ETTh1", help="which ETT-small hourly file (same borders, target OT)"
    )
    p.add_argument("--horizons", type=int, nargs="+", default=list(HORIZONS))
    p.add_argument("--context-length", type=int, default=96, help="encoder length (official default seq_len 96)")
    p.add_argument("--lags", default="24,168", help="comma-separated target lags ('' for none)")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--e-layers", type=int, default=2)
    p.add_argument("--d-layers", type=int, default=1)
    p.add_argument("--d-ff", type=int, default=128)
    p.add_argument("--attention", choices=("prob", "full"), default="prob")
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--scaling", default="std")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--batches-per-epoch", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-patience", type=int, default=2)
    p.add_argument("--patience", type=int, default=4, help="early stopping patience (epochs)")
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--minutes", type=float, default=5.0, help="training time limit per horizon")
    p.add_argument("--val-stride", type=int, default=24)
    p.add_argument("--crps-stride", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", default="/tmp/etth_informer")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--out", type=Path, help="markdown report, e.g. benchmarks/results/etth1.md or etth2.md")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    command = bench_common.command(__file__, argv)
    dates, z, mean, std = load_ot(dataset_path(args.dataset))
    paper = PAPERS[args.dataset].numbers
    clock = Timer()
    results = []
    for H in args.horizons:
        r = run_horizon(H, args, z, dates, mean, std)
        results.append(r)
        print(
            f"{args.dataset} H={H}: MSE {r['mse']:.4f} (paper {paper[H][0]}) MAE "
            f"{r['mae']:.4f} (paper {paper[H][1]}) CRPS {r['crps']:.4f} "
            f"point={r['point']} val={r['val_mse']} "
            f"train {r['train_seconds']:.0f}s, {r['epochs']} epochs, "
            f"{r['steps']} steps, best val NLL {r['best_val_nll']:.3f}",
            flush=True,
        )
    wall = clock.seconds
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(results, args, command, wall, bench_common.load_average()))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
