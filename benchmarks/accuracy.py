"""Accuracy with the same budget for everyone: Lag-Llama (from scratch) and Informer against
the models a GluonTS user would otherwise pick (SeasonalNaive, DeepAR, PatchTST).

Five GluonTS repository datasets (offline mirror), each with its own test split and
``prediction_length``. Every neural model gets the same number of gradient steps and the
same batch size, the same context length per dataset, ``cache_data=True``, one CPU thread
and 100 sample paths; three seeds each. Scores are GluonTS ``Evaluator`` metrics.
Writes ``accuracy.md`` (table, command, machine, date), ``accuracy.png`` (chart) and
``accuracy.json`` (every run's numbers) into ``--out-dir``.

    python benchmarks/accuracy.py            # the full run (about an hour on 2 cores)
    python benchmarks/accuracy.py --quick --datasets airpassengers --out-dir /tmp/acc
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

import bench_common  # benchmarks/bench_common.py; puts the repository root on sys.path
from bench_common import Timer, backtest, markdown_table

warnings.filterwarnings("ignore")

import lightning.pytorch as pl  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from gluonts.torch.model.deepar import DeepAREstimator  # noqa: E402
from gluonts.torch.model.patch_tst import PatchTSTEstimator  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from informer_gluonts import InformerEstimator  # noqa: E402
from lagllama_gluonts import LagLlamaEstimator  # noqa: E402
from lagllama_gluonts.common.datasets import MIRRORED_DATASETS, get_dataset  # noqa: E402
from lagllama_gluonts.common.evaluation import QUANTILES, seasonal_naive_baseline  # noqa: E402

RESULTS = bench_common.RESULTS
MODELS = ("SeasonalNaive", "DeepAR", "PatchTST", "Lag-Llama", "Informer")
METRICS = ("mean_wQuantileLoss", "MASE", "ND")
# Context length of every neural model, in horizons: a few horizons is the usual
# choice (Informer's default ratio is 4) and keeps the shortest series (airpassengers:
# 108 training months) able to hold a context and a horizon.
CONTEXT_HORIZONS = 4
PATCH_LEN = 16  # PatchTST's patch (GluonTS' examples), stride 8 (its default)

# 300 steps: the 5 datasets x 3 seeds x 4 neural models (and Lag-Llama's autoregressive
# sampling) then take about an hour on the 2 shared cores; measured with a 200-step probe.
FULL = dict(steps=300, batch_size=32, seeds=(0, 1, 2))
QUICK = dict(steps=10, batch_size=8, seeds=(0,))


def build_estimator(
    model: str,
    freq: str,
    prediction_length: int,
    context_length: int,
    steps: int,
    batch_size: int,
    num_samples: int,
    root_dir: str,
):
    """One neural model with the shared budget; everything else is the model's default."""
    batches_per_epoch = min(50, steps)
    trainer = dict(
        # max_steps makes the budget exact when it is not a whole number of epochs
        max_epochs=math.ceil(steps / batches_per_epoch),
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root_dir,
    )
    common = dict(
        prediction_length=prediction_length,
        context_length=context_length,
        batch_size=batch_size,
        num_batches_per_epoch=batches_per_epoch,
    )
    if model == "DeepAR":
        return DeepAREstimator(freq=freq, num_parallel_samples=num_samples, trainer_kwargs=trainer, **common)
    if model == "PatchTST":
        # PatchTST forecasts a distribution per step in one pass (no num_parallel_samples
        # argument); the predictor draws num_samples paths from it like the others.
        return PatchTSTEstimator(patch_len=PATCH_LEN, trainer_kwargs=trainer, **common)
    if model == "Lag-Llama":
        return LagLlamaEstimator(num_parallel_samples=num_samples, trainer_kwargs=trainer, **common)
    if model == "Informer":
        return InformerEstimator(freq=freq, num_parallel_samples=num_samples, trainer_kwargs=trainer, **common)
    raise ValueError(f"unknown model {model!r}; choose from {list(MODELS)}")


def forecast_and_score(predictor, test_data, num_samples: int):
    """Metrics and the seconds spent forecasting (scoring excluded: it is the same for all)."""
    result = backtest(predictor, test_data, num_samples, metrics=METRICS)
    return result.metrics, result.predict_s


def run_one(model: str, dataset, seed: int, config: dict, num_samples: int) -> Dict:
    freq, h = dataset.metadata.freq, dataset.metadata.prediction_length
    if model == "SeasonalNaive":
        metrics, predict_s = forecast_and_score(seasonal_naive_baseline(freq, h), dataset.test, num_samples)
        return dict(metrics, train_s=0.0, predict_s=predict_s)
    with tempfile.TemporaryDirectory(prefix="accuracy_bench_") as root:
        pl.seed_everything(seed, verbose=False)
        estimator = build_estimator(
            model, freq, h, CONTEXT_HORIZONS * h, config["steps"], config["batch_size"], num_samples, root
        )
        with Timer() as training:
            predictor = estimator.train(dataset.train, cache_data=True)
        torch.manual_seed(seed)
        metrics, predict_s = forecast_and_score(predictor, dataset.test, num_samples)
    return dict(metrics, train_s=training.seconds, predict_s=predict_s)


def summarize(values: List[float]) -> str:
    """``mean ± sample std`` (just the mean for a single run)."""
    values = np.asarray(values, dtype=float)
    digits = 4 if np.abs(values).max() < 1 else 3
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def summarize_seconds(values: List[float]) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def group(runs: List[Dict]) -> Dict:
    """Runs keyed by (dataset, model), in the order they ran."""
    groups: Dict = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["model"]), []).append(run)
    return groups


def wins(groups: Dict, datasets: List[str], model: str, reference: str) -> str:
    """ "k/n": on k of the n datasets where both ran, ``model``'s mean CRPS is below ``reference``'s."""
    crps = lambda key: np.mean([r["mean_wQuantileLoss"] for r in groups[key]])  # noqa: E731
    both = [d for d in datasets if (d, model) in groups and (d, reference) in groups]
    return f"{sum(crps((d, model)) < crps((d, reference)) for d in both)}/{len(both)}"


def markdown(
    runs: List[Dict],
    datasets: List[str],
    settings: Dict,
    config: dict,
    argv: List[str],
    num_samples: int,
    started: datetime,
    minutes: float,
) -> str:
    groups = group(runs)
    n_seeds = len(config["seeds"])
    lines = [
        "# Accuracy: same budget for everyone",
        "",
        f"Command: `{bench_common.command(__file__, argv)}`",
        "",
        f"Date: {bench_common.utc_stamp(started)}"
        + (f", {minutes:.0f} minutes" if math.isfinite(minutes) else "")
        + f". Machine: {bench_common.machine()}.",
        "",
        *(
            [
                f"Runs of {', '.join(config['kept']['models'])} are kept from the saved run of "
                f"{config['kept']['started'][:16].replace('T', ' ')} "
                f"(`{bench_common.command(__file__, config['kept']['argv'])}`): their code did not change; "
                "the others ran now.",
                "",
            ]
            if config.get("kept")
            else []
        ),
        f"Every neural model: {config['steps']} gradient steps of batch {config['batch_size']}, "
        f"context length {CONTEXT_HORIZONS} x the horizon, `cache_data=True`, 1 CPU thread, "
        f"{num_samples} sample paths, seeds {list(config['seeds'])}; otherwise each model's defaults "
        f"(PatchTST: patch {PATCH_LEN}, stride 8; Lag-Llama trained from scratch). SeasonalNaive is "
        "deterministic (one run). Cells: mean ± sample standard deviation over seeds. "
        f"CRPS is GluonTS' `mean_wQuantileLoss` (quantiles {QUANTILES[0]:g} ... {QUANTILES[-1]:g}); "
        "train s is `estimator.train`, predict s is forecasting the test split (scoring excluded).",
        "",
    ]
    lines += markdown_table(
        ["dataset", "freq", "horizon", "context", "series (train/test)"],
        [
            [name, s["freq"], s["h"], s["context"], f"{s['train']}/{s['test']}"]
            for name, s in ((name, settings[name]) for name in datasets)
        ],
    )
    rows = []
    for name in datasets:
        for model in MODELS:
            rs = groups.get((name, model))
            if not rs:
                continue
            cells = [summarize([r[m] for r in rs]) for m in METRICS]
            cells += [summarize_seconds([r[k] for r in rs]) for k in ("train_s", "predict_s")]
            rows.append([name, model, *cells])
    lines += [""] + markdown_table(["dataset", "model", "CRPS", "MASE", "ND", "train s", "predict s"], rows)
    lines += ["", "Datasets on which the mean CRPS is lower than the reference's (k/n):", ""]
    lines += markdown_table(
        ["model", "vs SeasonalNaive", "vs DeepAR"],
        [
            [model, wins(groups, datasets, model, "SeasonalNaive"), wins(groups, datasets, model, "DeepAR")]
            for model in MODELS[2:]
        ],
    )
    lines += ["", "![CRPS relative to SeasonalNaive](accuracy.png)", ""]
    if n_seeds == 1:
        lines.insert(2, "*Smoke run (one seed); not a result.*\n")
    return "\n".join(lines)


def plot(runs: List[Dict], datasets: List[str], path: Path) -> None:
    """CRPS of each model divided by SeasonalNaive's, per dataset, with the seed spread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = group(runs)
    models = [m for m in MODELS if any((d, m) in groups for d in datasets)]
    fig = Figure(figsize=(1.8 * len(datasets) + 3, 4))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        means, errs = [], []
        for d in datasets:
            base = np.mean([r["mean_wQuantileLoss"] for r in groups[(d, "SeasonalNaive")]])
            vals = np.array([r["mean_wQuantileLoss"] for r in groups.get((d, model), [])]) / base
            means.append(vals.mean() if len(vals) else np.nan)
            errs.append(vals.std(ddof=1) if len(vals) > 1 else 0.0)
        ax.bar(
            np.arange(len(datasets)) + (i - (len(models) - 1) / 2) * width,
            means,
            width,
            yerr=errs,
            capsize=2,
            label=model,
        )
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(np.arange(len(datasets)), datasets)
    ax.set_ylabel("CRPS / SeasonalNaive CRPS (lower is better)")
    ax.set_title("Accuracy with the same training budget")
    ax.legend(fontsize=8, ncol=len(models), loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(MIRRORED_DATASETS), choices=MIRRORED_DATASETS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK['steps']} steps of batch {QUICK['batch_size']}, one seed",
    )
    parser.add_argument("--steps", type=int, help="gradient steps per neural model (overrides the mode's)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (overrides the mode's)")
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--keep-from",
        type=Path,
        metavar="ACCURACY_JSON",
        help="take the runs of the models not in --models from this saved accuracy.json "
        "(same settings) instead of rerunning them; the table says so",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="ACCURACY_JSON",
        help="train nothing: rebuild accuracy.md and accuracy.png in --out-dir from the "
        "runs an earlier (possibly interrupted) run saved",
    )
    args = parser.parse_args(argv)
    for name in ("steps", "num_samples"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def rebuild(args, argv) -> str:
    """The report of a saved run; an interrupted run reports the runs it finished."""
    if not args.from_json.is_file():
        raise SystemExit(f"--from-json: no such file {args.from_json}")
    saved = json.loads(args.from_json.read_text())
    started = datetime.fromtimestamp(args.from_json.stat().st_mtime, timezone.utc)
    if "started" in saved:
        started = datetime.fromisoformat(saved["started"])
    text = markdown(
        saved["runs"],
        list(saved["settings"]),
        saved["settings"],
        saved["config"],
        saved["argv"],
        saved.get("num_samples", 100),
        started,
        saved.get("minutes", float("nan")),
    )
    note = f"Rebuilt from the saved runs with `{bench_common.command(__file__, argv)}` ({len(saved['runs'])} runs)."
    text = text.replace("\n\nDate: ", f"\n\n{note}\n\nDate: ", 1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "accuracy.md").write_text(text)
    plot(saved["runs"], list(saved["settings"]), args.out_dir / "accuracy.png")
    return text


def ordered(runs: List[Dict], datasets: List[str]) -> List[Dict]:
    """Runs by dataset, then model in table order, then seed."""
    return sorted(runs, key=lambda r: (datasets.index(r["dataset"]), MODELS.index(r["model"]), r["seed"]))


def main(argv=None):
    argv = bench_common.script_argv(argv)
    args = parse_args(argv)
    if args.from_json:
        print(rebuild(args, argv))
        return
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    config = dict(QUICK if args.quick else FULL)
    if args.steps:
        config["steps"] = args.steps
    if args.seeds:
        config["seeds"] = tuple(args.seeds)
    models = [m for m in MODELS if m in args.models or m == "SeasonalNaive"]
    started, clock = datetime.now(timezone.utc), Timer()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    runs, settings = [], {}
    kept = []
    if args.keep_from:
        saved = json.loads(args.keep_from.read_text())
        if saved["config"]["steps"] != config["steps"] or saved["config"]["batch_size"] != config["batch_size"]:
            raise SystemExit(f"--keep-from {args.keep_from}: its budget {saved['config']} differs from {config}")
        kept = [r for r in saved["runs"] if r["model"] not in models and r["dataset"] in args.datasets]
        config["kept"] = dict(
            models=sorted({r["model"] for r in kept}),
            argv=saved["argv"],
            started=saved.get("started") or saved.get("date") or f"{args.keep_from}",
        )
    jobs = [
        (d, m, s)
        for d in args.datasets
        for m in models
        for s in (config["seeds"][:1] if m == "SeasonalNaive" else config["seeds"])
    ]
    datasets = {}
    for name, model, seed in tqdm(jobs, desc="accuracy benchmark", unit="run"):
        if name not in datasets:
            datasets[name] = ds = get_dataset(name)
            h = ds.metadata.prediction_length
            settings[name] = dict(
                freq=ds.metadata.freq, h=h, context=CONTEXT_HORIZONS * h, train=len(ds.train), test=len(ds.test)
            )
        result = run_one(model, datasets[name], seed, config, args.num_samples)
        runs.append(dict(dataset=name, model=model, seed=seed, **result))
        tqdm.write(json.dumps(runs[-1]))
        runs = ordered(runs + [k for k in kept if k not in runs and k["dataset"] == name], args.datasets)
        # Rewritten after every run so an interrupted run still leaves its numbers.
        minutes = clock.minutes
        (args.out_dir / "accuracy.json").write_text(
            json.dumps(
                dict(
                    argv=argv,
                    config=config,
                    settings=settings,
                    num_samples=args.num_samples,
                    started=started.isoformat(),
                    minutes=minutes,
                    runs=runs,
                ),
                indent=1,
            )
        )

    names = list(settings)
    text = markdown(runs, names, settings, config, argv, args.num_samples, started, minutes)
    (args.out_dir / "accuracy.md").write_text(text)
    plot(runs, names, args.out_dir / "accuracy.png")
    print(text)


if __name__ == "__main__":
    main()
