"""
The multivariate ETTh tables of the Informer paper (Zhou et al., "Informer: Beyond Efficient
Transformer for Long Sequence Time-Series Forecasting", AAAI 2021, Table 3, setting M) with
``InformerEstimator(target_dim=7)`` on a CPU, beside persistence and GluonTS's
``DLinearEstimator`` and ``PatchTSTEstimator`` trained with the same budget and scored on the
same windows.

Protocol (as the official Informer2020 code, ``data/data_loader.py``, ``--features M``):

* ``ETTh1.csv`` and ``ETTh2.csv``, all seven columns (HUFL ... OT) forecast jointly;
* train / validation / test borders at rows 8640 / 11520 / 14400 (12 / 4 / 4 months); the
  inputs of a validation or test window may reach back before its border, so forecast windows
  start at every row of the split;
* each column standardised with the mean and standard deviation of its train rows;
* MSE and MAE of the point forecast on the standardised scale over EVERY test window (stride 1,
  forecast starts 11520 ... 14400 - H), every variable and every horizon step.

Models (one CPU thread, at most ``--minutes`` of training per model and horizon, early stopping
on the validation NLL, the best validation epoch restored):

* Informer: one joint model of the 7 variables (enc_in = dec_in = c_out = 7), Student-t per
  variable, point forecast = its mean.
* DLinear and PatchTST (GluonTS 0.17): univariate models, trained channel-independently on the
  7 columns as 7 series (the setting their papers use for multivariate data), Student-t mean.
* Persistence: the last observed value of each variable.

Results are written after every (dataset, horizon, model) to ``--json`` and the markdown
``--out``; a rerun skips the rows already in the JSON (so the script can run in the background
with ``nohup`` and be resumed).

Usage::

    python benchmarks/etth_multivariate.py --out benchmarks/results/etth_multivariate.md
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from pathlib import Path
from typing import Dict, List, Tuple

import bench_common  # benchmarks/bench_common.py; puts the repository root on sys.path
import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from bench_common import Timer, markdown_table
from etth1_informer import TEST_END, TRAIN_END, VAL_END, dataset_path  # the paper's protocol, written once
from gluonts.dataset.common import ListDataset
from gluonts.dataset.field_names import FieldName
from gluonts.transform import ExpectedNumInstanceSampler

from informer_gluonts import InformerEstimator
from lagllama_gluonts.common.tables import load_table

COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
HORIZONS = (24, 48, 168, 336, 720)
DATASETS = ("ETTh1", "ETTh2")
MODELS = ("Informer", "DLinear", "PatchTST", "Persistence")
FREQ = "h"
# Zhou et al. (AAAI 2021), Table 3 (multivariate, Informer with ProbSparse attention): (MSE, MAE).
PAPER = {
    "ETTh1": {24: (0.577, 0.549), 48: (0.685, 0.625), 168: (0.931, 0.752), 336: (1.128, 0.873), 720: (1.215, 0.896)},
    "ETTh2": {24: (0.720, 0.665), 48: (1.457, 1.001), 168: (3.489, 1.515), 336: (2.723, 1.340), 720: (3.467, 1.473)},
}


# --------------------------------------------------------------------------- data


def load_standardised(name: str, path: Path = None) -> Tuple[pd.DatetimeIndex, np.ndarray]:
    """The hourly timestamps and the 7 columns (7, T), each standardised on its train rows."""
    path = path or dataset_path(name)
    table = load_table(path, list(COLUMNS), time_column="date", freq=FREQ, roles=["target"] * len(COLUMNS))
    values = table.frame[list(COLUMNS)].to_numpy(dtype=np.float64).T
    mean = values[:, :TRAIN_END].mean(axis=1, keepdims=True)
    std = values[:, :TRAIN_END].std(axis=1, keepdims=True)
    return table.frame.index, ((values - mean) / std).astype(np.float32)


def test_starts(H: int) -> np.ndarray:
    return np.arange(VAL_END, TEST_END - H + 1)


def truth(z: np.ndarray, starts: np.ndarray, H: int) -> np.ndarray:
    """(windows, H, D) targets."""
    return np.stack([z[:, s : s + H].T for s in starts])


def scores(point: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    return {"mse": float(((point - y) ** 2).mean()), "mae": float(np.abs(point - y).mean())}


def trainer_kwargs(args, root: Path) -> dict:
    return {
        "max_epochs": args.max_epochs,
        "max_time": {"minutes": args.minutes},
        "default_root_dir": str(root),
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [pl.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=args.patience)],
    }


# --------------------------------------------------------------------------- Informer (joint)


def informer(z: np.ndarray, start: pd.Period, H: int, args) -> dict:
    lags = [24, 168]
    context = args.context_length
    D = z.shape[0]
    estimator = InformerEstimator(
        freq=FREQ,
        prediction_length=H,
        context_length=context,
        label_len=context // 2,
        target_dim=D,
        d_model=args.d_model,
        n_heads=4,
        e_layers=2,
        d_layers=1,
        d_ff=args.d_model * 2,
        dropout=0.05,
        lags=lags,
        batch_size=32,
        num_batches_per_epoch=args.batches_per_epoch,
        lr=1e-3,
        lr_patience=2,
        train_sampler=ExpectedNumInstanceSampler(num_instances=1.0, min_past=context + max(lags), min_future=H),
        trainer_kwargs={**trainer_kwargs(args, Path(args.work_dir) / f"informer{H}"), "callbacks": []},
        early_stopping_patience=args.patience,
    )
    train = ListDataset([{"start": start, "target": z[:, :TRAIN_END]}], freq=FREQ, one_dim_target=False)
    validation = ListDataset(
        [{"start": start, "target": z[:, :end]} for end in range(TRAIN_END + H, VAL_END + 1, args.val_stride)],
        freq=FREQ,
        one_dim_target=False,
    )
    with Timer() as clock:
        output = estimator.train_model(train, validation_data=validation)
    model = output.trained_net.model.eval()
    transformed = next(iter(estimator.create_transformation().apply([{"start": start, "target": z}], is_train=False)))
    target = torch.as_tensor(transformed[FieldName.TARGET])  # (D, T)
    observed = torch.as_tensor(transformed[FieldName.OBSERVED_VALUES])
    time_feat = torch.as_tensor(transformed[FieldName.FEAT_TIME]).T.contiguous()  # (T + H, F)
    past = model.past_length
    means = []
    starts = test_starts(H)
    with torch.no_grad():
        for i in range(0, len(starts), 128):
            chunk = starts[i : i + 128]
            past_index = torch.stack([torch.arange(s - past, s) for s in chunk])
            future_index = torch.stack([torch.arange(s, s + H) for s in chunk])
            batch = {
                "feat_static_cat": torch.zeros(len(chunk), 1, dtype=torch.long),
                "feat_static_real": torch.zeros(len(chunk), 1),
                "past_time_feat": time_feat[past_index],
                "past_target": target[:, past_index].permute(1, 2, 0),
                "past_observed_values": observed[:, past_index].permute(1, 2, 0),
                "future_time_feat": time_feat[future_index],
            }
            means.append(model.output_distribution(**batch).mean)
    point = torch.cat(means).numpy()
    return {
        **scores(point, truth(z, starts, H)),
        "train_seconds": clock.seconds,
        "epochs": output.trainer.current_epoch,
        "steps": output.trainer.global_step,
    }


# --------------------------------------------------------------------------- DLinear / PatchTST


def channel_independent(kind: str, z: np.ndarray, start: pd.Period, H: int, args) -> dict:
    from gluonts.torch.model.d_linear import DLinearEstimator
    from gluonts.torch.model.patch_tst import PatchTSTEstimator

    context = args.baseline_context
    common = dict(
        prediction_length=H,
        context_length=context,
        scaling="std",
        batch_size=32,
        num_batches_per_epoch=args.batches_per_epoch,
        lr=1e-3,
        train_sampler=ExpectedNumInstanceSampler(num_instances=1.0, min_past=context, min_future=H),
        trainer_kwargs=trainer_kwargs(args, Path(args.work_dir) / f"{kind}{H}"),
    )
    if kind == "DLinear":
        estimator = DLinearEstimator(hidden_dimension=20, **common)
    else:
        estimator = PatchTSTEstimator(
            patch_len=16,
            stride=8,
            d_model=32,
            nhead=4,
            dim_feedforward=128,
            num_encoder_layers=2,
            dropout=0.1,
            **common,
        )
    D = z.shape[0]
    train = ListDataset([{"start": start, "target": z[d, :TRAIN_END]} for d in range(D)], freq=FREQ)
    validation = ListDataset(
        [
            {"start": start, "target": z[d, :end]}
            for end in range(TRAIN_END + H, VAL_END + 1, args.val_stride)
            for d in range(D)
        ],
        freq=FREQ,
    )
    with Timer() as clock:
        output = estimator.train_model(train, validation_data=validation)
    model = output.trained_net.model.eval()
    starts = test_starts(H)
    series = torch.as_tensor(z)
    means = []
    with torch.no_grad():
        for i in range(0, len(starts), 64):
            chunk = starts[i : i + 64]
            index = torch.stack([torch.arange(s - context, s) for s in chunk])  # (B, context)
            past = series[:, index].permute(1, 0, 2).reshape(-1, context)  # (B * D, context)
            distr_args, loc, scale = model(past_target=past, past_observed_values=torch.ones_like(past))
            mean = model.distr_output.distribution(distr_args, loc=loc, scale=scale).mean  # (B * D, H)
            means.append(mean.reshape(len(chunk), D, H).transpose(1, 2))
    point = torch.cat(means).numpy()
    return {
        **scores(point, truth(z, starts, H)),
        "train_seconds": clock.seconds,
        "epochs": output.trainer.current_epoch,
        "steps": output.trainer.global_step,
    }


def persistence(z: np.ndarray, H: int) -> dict:
    starts = test_starts(H)
    last = z[:, starts - 1].T[:, None, :]  # (windows, 1, D)
    y = truth(z, starts, H)
    return {**scores(np.broadcast_to(last, y.shape), y), "train_seconds": 0.0, "epochs": 0, "steps": 0}


# --------------------------------------------------------------------------- report


def verdict(by_key: dict) -> List[str]:
    """What the table says, computed from it: Informer against the paper and against the baselines."""
    informer, lines = MODELS[0], ["## Verdict", ""]
    for dataset in DATASETS:
        horizons = sorted(H for (d, H, m) in by_key if d == dataset and m == informer)
        if not horizons:
            continue
        below = [
            H
            for H in horizons
            if by_key[(dataset, H, informer)]["mse"] < PAPER[dataset][H][0]
            and by_key[(dataset, H, informer)]["mae"] < PAPER[dataset][H][1]
        ]
        lines.append(
            f"- {dataset}: Informer below the paper's MSE and MAE at {len(below)} of {len(horizons)} "
            f"horizons"
            + (
                ""
                if len(below) == len(horizons)
                else f" (not at {', '.join(str(H) for H in horizons if H not in below)})"
            )
            + "."
        )
        for rival in MODELS[1:3]:
            better = [
                H
                for H in horizons
                if (dataset, H, rival) in by_key
                and by_key[(dataset, H, rival)]["mse"] < by_key[(dataset, H, informer)]["mse"]
            ]
            if better:
                lines.append(
                    f"  - {rival} has the lower MSE at {len(better)} of {len(horizons)} horizons "
                    f"({', '.join(map(str, better))})."
                )
    return lines + [""]


def markdown(rows: List[dict], args, command: str) -> str:
    lines = [
        "# Informer on ETTh1 / ETTh2, multivariate (setting M)",
        "",
        "Paper protocol: all 7 columns forecast jointly, train/val/test borders at rows "
        "8640/11520/14400 (12/4/4 months), each column standardised on its train rows, MSE/MAE "
        "of the point forecast on the standardised scale over every test window (stride 1), "
        'every variable and step. Paper: Zhou et al., "Informer: Beyond Efficient Transformer '
        'for Long Sequence Time-Series Forecasting", AAAI 2021, Table 3 (multivariate, Informer).',
        "",
        "Bold: the best of our rows (Informer, DLinear, PatchTST, persistence) at that horizon.",
        "",
    ]
    by_key = {(r["dataset"], r["H"], r["model"]): r for r in rows}
    for dataset in DATASETS:
        horizons = sorted({r["H"] for r in rows if r["dataset"] == dataset})
        if not horizons:
            continue
        lines += [f"## {dataset}", ""]
        table = []
        for H in horizons:
            found = {m: by_key.get((dataset, H, m)) for m in MODELS}
            best_mse = min((r["mse"] for r in found.values() if r), default=None)
            best_mae = min((r["mae"] for r in found.values() if r), default=None)

            def cell(model, metric, best):
                r = found[model]
                if r is None:
                    return "—"
                text = f"{r[metric]:.3f}"
                return f"**{text}**" if r[metric] == best else text

            paper = PAPER[dataset][H]
            table.append(
                [H, f"{paper[0]:.3f}", f"{paper[1]:.3f}"]
                + [cell(m, "mse", best_mse) + " / " + cell(m, "mae", best_mae) for m in MODELS]
                + [" / ".join(f"{found[m]['train_seconds'] / 60:.1f}" if found[m] else "—" for m in MODELS[:3])]
            )
        lines += markdown_table(
            ["horizon", "paper MSE", "paper MAE"]
            + [f"{m} MSE / MAE" for m in MODELS]
            + ["train min (Inf / DLin / PTST)"],
            table,
            align="rrrrrrrr",
        )
        lines.append("")
    lines += verdict(by_key) + [
        "## Settings",
        "",
        f"- Informer: `InformerEstimator(target_dim=7)`, d_model {args.d_model}, 4 heads, 2 encoder layers "
        f"(ProbSparse, factor 5, distilling), 1 decoder layer, d_ff {2 * args.d_model}, dropout 0.05, "
        f"Student-t per variable, `std` scaling of each variable's context, context {args.context_length}, "
        "label_len context/2, lags 24 and 168 of every variable besides its value, hour/day-of-week/"
        "day-of-month/day-of-year + age features; point forecast = the distribution's mean.",
        f"- DLinear (`hidden_dimension` 20) and PatchTST (patch 16, stride 8, d_model 32, 4 heads, 2 layers): "
        f"GluonTS 0.17's estimators, context {args.baseline_context} (their papers' look-back), `std` scaling, "
        "Student-t, trained channel-independently on the 7 columns as 7 univariate series; point forecast "
        "= the mean.",
        f"- Same budget for every trained model: Adam lr 1e-3, batch 32, {args.batches_per_epoch} batches/epoch "
        f"of random whole windows of the train rows, at most {args.max_epochs} epochs and {args.minutes} min "
        f"per model and horizon, early stopping on the validation NLL (patience {args.patience}; validation "
        f"windows every {args.val_stride} h), the best validation epoch restored; seed {args.seed}.",
        f"- Budget: {torch.get_num_threads()} CPU thread; machine: {bench_common.machine()}.",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        "Raw results (JSON): `benchmarks/results/etth_multivariate.json`.",
        "",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--horizons", type=int, nargs="+", default=list(HORIZONS))
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--context-length", type=int, default=96, help="Informer's encoder length (official 96)")
    p.add_argument("--baseline-context", type=int, default=336, help="DLinear/PatchTST look-back")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--batches-per-epoch", type=int, default=50)
    p.add_argument("--max-epochs", type=int, default=40)
    p.add_argument("--minutes", type=float, default=1.5, help="training time limit per model and horizon")
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--val-stride", type=int, default=24)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", default="/tmp/etth_multivariate")
    p.add_argument("--json", type=Path, default=bench_common.RESULTS / "etth_multivariate.json")
    p.add_argument("--out", type=Path, help="markdown report, e.g. benchmarks/results/etth_multivariate.md")
    return p


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    command = bench_common.command(__file__, argv)
    rows = json.loads(args.json.read_text()) if args.json.is_file() else []
    done = {(r["dataset"], r["H"], r["model"]) for r in rows}
    data = {name: load_standardised(name) for name in args.datasets}
    # Short horizons of both datasets first: a run cut short still has complete rows.
    for H in args.horizons:
        for name in args.datasets:
            dates, z = data[name]
            start = pd.Period(dates[0], freq=FREQ)
            for model in args.models:
                if (name, H, model) in done:
                    continue
                pl.seed_everything(args.seed, verbose=False)
                if model == "Informer":
                    result = informer(z, start, H, args)
                elif model == "Persistence":
                    result = persistence(z, H)
                else:
                    result = channel_independent(model, z, start, H, args)
                row = {"dataset": name, "H": H, "model": model, "windows": len(test_starts(H)), **result}
                rows.append(row)
                print(
                    f"{name} H={H} {model}: MSE {row['mse']:.3f} MAE {row['mae']:.3f} "
                    f"(paper {PAPER[name][H]}) train {row['train_seconds']:.0f}s",
                    flush=True,
                )
                args.json.write_text(json.dumps(rows, indent=1))
                if args.out:
                    args.out.write_text(markdown(rows, args, command))
    if args.out:  # also when every row was already in the JSON: the report follows the code
        args.out.write_text(markdown(rows, args, command))


if __name__ == "__main__":
    main()
