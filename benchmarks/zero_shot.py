"""The bundled Lag-Llama checkpoint on every dataset held out from its pretraining, in one run:
zero-shot, fine-tuned (the ``finetune`` command's defaults), the statistical models a user would
fit per series instead (statsforecast's AutoETS, AutoTheta, AutoARIMA: the ``bench`` extra),
GluonTS's SeasonalNaive and GluonTS's DeepAR trained on the dataset with a small fixed budget;
then a context-length study (zero-shot at 32/64/128/256 tokens, with and without linear rope
scaling). Writes ``benchmarks/results/zero_shot.md``.

Every model is scored on the same windows (``zero_shot_sets.py``: several rolling windows per
series where a set has few series). One more row, ``ett_small_1h (test split, 1 window)``, is
the README's main job's protocol (``zero-shot --dataset ett_small_1h``), scored by every model
but kept out of the geometric means: its windows are among ett_small_1h's. Besides the scores,
the coverage of each model's 10-90% and 5-95% central intervals (ideal 0.80 and 0.90), read from
its forecasts' quantiles 0.1/0.9 and 0.05/0.95 apart from the CRPS (which stays the mean weighted
quantile loss over 0.1 ... 0.9).

The statistical models do not depend on the checkpoint: their scores are cached in
``--cache`` (JSON, keyed by dataset, model and windows), so a rerun after pretraining a new
checkpoint only forecasts with Lag-Llama and DeepAR again; an entry without the interval
coverage (written before it was reported) is scored again. ``--only-statistical`` fills the cache
alone (no checkpoint needed).

``--finetune-study`` instead compares fine-tuning settings (learning rate, frozen layers) against
zero-shot and writes ``benchmarks/results/finetune_settings.md``: how the defaults were chosen.

    python benchmarks/zero_shot.py                  # ~40 min on one CPU thread (statistical scores cached)
    python benchmarks/zero_shot.py --quick          # a few minutes: fewer samples, series, epochs
    python benchmarks/zero_shot.py --finetune-study
    python benchmarks/zero_shot.py --only-statistical   # fill the statistical cache (~20 min)
"""

import argparse
import json
import logging
import tempfile
import warnings
from pathlib import Path

import bench_common  # benchmarks/bench_common.py; puts the repository root on sys.path
import numpy as np
import torch
from bench_common import Timer, backtest, geometric_mean, markdown_table

warnings.filterwarnings("ignore")

import lightning.pytorch as pl  # noqa: E402
from gluonts.time_feature import get_seasonality  # noqa: E402
from gluonts.torch.model.deepar import DeepAREstimator  # noqa: E402
from zero_shot_sets import (  # noqa: E402, F401  (HELD_OUT ... repository_dataset: read here by the tests)
    DEFAULT_SETS,
    HELD_OUT,
    PACKAGE_HELD_OUT,
    WINDOWS,
    base_name,
    limited,
    load,
    overlapping,
    repository_dataset,
    short_name,
    windows_note,
)

from lagllama_gluonts import load_predictor  # noqa: E402
from lagllama_gluonts.checkpoint import read_checkpoint  # noqa: E402
from lagllama_gluonts.common.evaluation import seasonal_naive_baseline  # noqa: E402
from lagllama_gluonts.common.jsonio import write_json  # noqa: E402
from lagllama_gluonts.common.leakage import pretraining_status  # noqa: E402
from lagllama_gluonts.defaults import (  # noqa: E402
    BUNDLED_CHECKPOINT,
    FINETUNE_BATCHES_PER_EPOCH,
    FINETUNE_FREEZE_LAYERS,
    FINETUNE_LR,
    FINETUNE_MAX_EPOCHS,
    FINETUNE_PATIENCE,
)
from lagllama_gluonts.finetune import finetune  # noqa: E402
from lagllama_gluonts.predictor import resolve_rope_scaling  # noqa: E402
from lagllama_gluonts.provenance import checkpoint_record  # noqa: E402

for _name in ("lightning", "lightning.pytorch", "lightning.fabric"):  # after lightning set its own
    logging.getLogger(_name).setLevel(logging.WARNING)

RESULTS = bench_common.RESULTS
STATISTICAL = ("AutoETS", "AutoTheta", "AutoARIMA")
# AutoARIMA's seasonal search at season 24 (hourly) took ~60 s per 300-step window on this machine
# (42 ETT windows: 40 min); it runs on every set with a season of at most this
ARIMA_MAX_SEASON = 12
CONTEXT_LENGTHS = (32, 64, 128, 256)
# DeepAR's fixed budget: as many steps as fine-tuning's upper bound (10 epochs x 25 batches x 32).
DEEPAR_EPOCHS, DEEPAR_BATCHES = 10, 25
# (lr, frozen layers) compared by --finetune-study
FINETUNE_SETTINGS = ((1e-5, 0), (3e-5, 0), (1e-4, 0), (3e-5, 2))
# central intervals whose coverage is reported (``common.backtesting.interval_metrics``: q(0.1)..q(0.9)
# and q(0.05)..q(0.95) of each forecast), with their nominal coverage
COVERAGE = (("coverage_80", 0.8), ("coverage_90", 0.9))
LAG_LLAMA_AND_DEEPAR = ("Lag-Llama zero-shot", "Lag-Llama fine-tuned", "DeepAR (trained here)")  # the rows' labels


def score(predictor, dataset, num_samples, seed=0):
    """All metrics on the test split, the seconds it took (forecasting and scoring), the series."""
    result = backtest(predictor, dataset.test, num_samples, seed=seed)
    return result.metrics, result.seconds, result.num_series


def zero_shot_scores(checkpoint, name, dataset, num_samples):
    """:func:`score` of the checkpoint zero-shot. On a dataset's own test split it is seeded as the
    ``zero-shot --dataset`` command seeds it (seed 0 before the checkpoint is read, not again before
    forecasting), so that its row is the command's number; elsewhere seed 0 right before forecasting."""
    command = overlapping(name)
    if command:
        pl.seed_everything(0, verbose=False)
    h = dataset.metadata.prediction_length
    predictor = load_predictor(checkpoint, prediction_length=h, num_parallel_samples=num_samples)
    return score(predictor, dataset, num_samples, seed=None if command else 0)


MAIN_HEADER = [
    "dataset",
    "model",
    "mean_wQuantileLoss (CRPS)",
    "MASE",
    "ND",
    "NRMSE",
    "train s",
    "predict s",
    "s / 100 windows",
]


def main_cells(name, label, m, train_s, predict_s, n):
    return [
        name,
        label,
        f"{m['mean_wQuantileLoss']:.4f}",
        f"{m['MASE']:.3f}",
        f"{m['ND']:.4f}",
        f"{m['NRMSE']:.4f}",
        f"{train_s:.0f}",
        f"{predict_s:.1f}",
        f"{100 * predict_s / n:.1f}",
    ]


def progress(cells):
    print(" | ".join(map(str, cells)), flush=True)


def finetuned(args, dataset, h, lr, freeze, epochs):
    pl.seed_everything(0, verbose=False)
    result = finetune(
        dataset.train,
        h,
        checkpoint=args.checkpoint,
        lr=lr,
        max_epochs=epochs,
        early_stopping_patience=FINETUNE_PATIENCE,
        freeze_layers=freeze,
        num_batches_per_epoch=FINETUNE_BATCHES_PER_EPOCH,
        progress=False,
        num_parallel_samples=args.num_samples,
    )
    return result.predictor, result.record


def _read_cache(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _cached(entry) -> bool:
    """A cache entry with everything the report reads (older ones lack the interval coverage)."""
    return entry is not None and all(metric in entry["metrics"] for metric, _ in COVERAGE)


def statistical_scores(args, name, dataset):
    """AutoETS / AutoTheta / AutoARIMA on the dataset's windows, from ``--cache`` when scored before
    (with the interval coverage; older entries are scored again)."""
    from statistical import StatsForecastPredictor

    cache = _read_cache(args.cache)
    h, freq = dataset.metadata.prediction_length, dataset.metadata.freq
    results = {}
    for model in STATISTICAL:
        if model == "AutoARIMA" and get_seasonality(freq) > ARIMA_MAX_SEASON:
            args.notes.append(
                f"{short_name(name)}: AutoARIMA not run (season {get_seasonality(freq)}: its seasonal "
                "search took ~60 s per window here)"
            )
            continue
        key = f"{name}|{model}|{len(dataset.test)} windows|h={h}|max_series={args.max_series}"
        if not _cached(cache.get(key)):
            predictor = StatsForecastPredictor(model, freq, h)
            result = backtest(predictor, dataset.test, args.num_samples)
            entry = {
                "metrics": {k: float(v) for k, v in result.metrics.items()},
                "seconds": result.seconds,
                "series": result.num_series,
                "fallbacks": predictor.fallbacks,
                "quantiles": list(predictor.quantiles),
            }
            # read again before writing: another run may have added entries meanwhile
            cache = {**_read_cache(args.cache), key: entry}
            write_json(args.cache, cache, indent=1)  # whole or not at all; NaN (OWA) as null
        c = cache[key]
        results[f"{model} (statsforecast)"] = (c["metrics"], c["seconds"], c["seconds"], c["series"])
        if c["fallbacks"]:
            args.notes.append(f"{name}: {model} fell back to seasonal naive on {c['fallbacks']} windows")
    return results


def held_out_only(summary):
    """The summary without the sets that overlap another (kept out of the geometric means)."""
    return {name: s for name, s in summary.items() if not overlapping(name)}


def geometric_mean_table(summary):
    """Each model's CRPS relative to SeasonalNaive's, geometric mean over the held-out sets."""
    summary = held_out_only(summary)
    models = [m for m in dict.fromkeys(m for s in summary.values() for m in s) if m != "SeasonalNaive"]
    rows = []
    for model in models:
        ratios = [s[model]["CRPS"] / s["SeasonalNaive"]["CRPS"] for s in summary.values() if model in s]
        rows.append([model, f"{geometric_mean(ratios):.3f}", len(ratios)])
    return markdown_table(["model", "geometric mean of CRPS / SeasonalNaive CRPS", "held-out sets"], rows)


def win_lines(summary, models):
    """For each model: on how many held-out sets its CRPS is below each statistical model's."""
    summary = held_out_only(summary)
    lines = []
    for model in models:
        if not all(model in s for s in summary.values()):
            continue
        for rival in ("AutoETS (statsforecast)", "AutoTheta (statsforecast)", "AutoARIMA (statsforecast)"):
            compared = {n: s for n, s in summary.items() if rival in s}
            wins = [n for n, s in compared.items() if s[model]["CRPS"] < s[rival]["CRPS"]]
            lost = [n for n in compared if n not in wins]
            lines.append(
                f"- {model} CRPS below {rival.split()[0]}'s on {len(wins)} of {len(compared)} sets"
                + (f" (not on: {', '.join(lost)})" if lost else "")
                + "."
            )
    return lines


def overlapping_lines(summary):
    """Each set kept out of the geometric means, on its own line: every model's CRPS and its ratio
    to SeasonalNaive's."""
    lines = []
    for name, s in summary.items():
        if not overlapping(name):
            continue
        naive = s["SeasonalNaive"]["CRPS"]
        cells = [
            f"{model} {r['CRPS']:.4f}" + ("" if model == "SeasonalNaive" else f" ({r['CRPS'] / naive:.3f})")
            for model, r in s.items()
        ]
        lines.append(f"- `{name}` (not in the means above), CRPS (/ SeasonalNaive's): " + "; ".join(cells) + ".")
    return lines


def coverage_table(summary):
    """The share of observations inside each model's 10-90% and 5-95% central intervals, per set;
    their mean over the held-out sets; the overlapping sets last."""
    order = ["SeasonalNaive"] + [f"{m} (statsforecast)" for m in STATISTICAL] + list(LAG_LLAMA_AND_DEEPAR)
    found = dict.fromkeys(m for s in summary.values() for m in s)
    models = sorted(found, key=lambda m: order.index(m) if m in order else len(order))
    metrics = [metric for metric, _ in COVERAGE]

    def cell(values):
        return " / ".join(f"{v:.2f}" for v in values) if values else "—"

    rows = [
        [name] + [cell([s[m][k] for k in metrics] if m in s else []) for m in models] for name, s in summary.items()
    ]
    held = held_out_only(summary)
    means = []
    for m in models:
        sets = [s[m] for s in held.values() if m in s]
        means.append(cell([float(np.mean([r[k] for r in sets])) for k in metrics] if sets else []) + f" ({len(sets)})")
    if held:  # none when only overlapping sets were scored
        rows.insert(len(held), [f"**mean over the {len(held)} held-out sets** (how many a model ran on)"] + means)
    nominal = " / ".join(f"{level:.2f}" for _, level in COVERAGE)
    return markdown_table([f"dataset: 10-90% / 5-95% (ideal {nominal})"] + models, rows)


def compare_checkpoints(args, names):
    """Zero-shot CRPS of several checkpoints (``--compare-checkpoints LABEL=PATH``) on every
    held-out set beside the cached statistical models: how pretraining runs are compared."""
    checkpoints = dict(item.split("=", 1) for item in args.compare_checkpoints)
    baselines = ["SeasonalNaive"] + [f"{m} (statsforecast)" for m in STATISTICAL]
    rows, summary = [], {}
    for name in names:
        dataset = limited(load(name), args.max_series)
        h, freq = dataset.metadata.prediction_length, dataset.metadata.freq
        results = {"SeasonalNaive": score(seasonal_naive_baseline(freq, h), dataset, args.num_samples)[0]}
        results.update({label: r[0] for label, r in statistical_scores(args, name, dataset).items()})
        for label, path in checkpoints.items():
            results[label] = zero_shot_scores(Path(path), name, dataset, args.num_samples)[0]
        summary[short_name(name)] = {k: summarized(m) for k, m in results.items()}
        rows.append(
            [short_name(name)]
            + [
                f"{results[k]['mean_wQuantileLoss']:.4f}" if k in results else "—"
                for k in baselines + list(checkpoints)
            ]
        )
        progress(rows[-1])
    records = []
    for label, path in checkpoints.items():
        t = read_checkpoint(Path(path)).training
        parent = (t.get("init_from") or {}).get("checkpoint")
        weights = ", ".join(f"{k} {v['weight']:g}" for k, v in (t.get("sources") or {}).items())
        records.append(
            f"- **{label}** (`{Path(path).name}`): {t.get('total_steps', t.get('steps'))} steps in all"
            + (f" ({t.get('steps')} of them continuing `{parent}`)" if parent else "")
            + f"; final validation NLL {t.get('final_val_loss')}; mixture of its last run: {weights}."
        )
    short_baselines = [b.split()[0] for b in baselines]
    return (
        ["Zero-shot CRPS (mean_wQuantileLoss) on each held-out set:", ""]
        + markdown_table(["dataset"] + short_baselines + list(checkpoints), rows)
        + ["", "## Relative to SeasonalNaive", ""]
        + geometric_mean_table(summary)
        + [""]
        + win_lines(summary, list(checkpoints))
        + overlapping_lines(summary)
        + ["", "## The checkpoints", ""]
        + records
    )


def summarized(metrics):
    """What the summaries compare of one model on one set."""
    return {"CRPS": metrics["mean_wQuantileLoss"], "MASE": metrics["MASE"]} | {k: metrics[k] for k, _ in COVERAGE}


def deepar_scores(args, dataset, h, freq):
    """GluonTS's DeepAR trained on the set's train split for the fixed budget, then scored."""
    pl.seed_everything(0, verbose=False)
    deepar = DeepAREstimator(
        freq=freq,
        prediction_length=h,
        batch_size=32,
        num_batches_per_epoch=args.deepar_batches,
        trainer_kwargs=dict(
            max_epochs=args.deepar_epochs,
            enable_progress_bar=False,
            enable_model_summary=False,
            logger=False,
            default_root_dir=tempfile.mkdtemp(prefix="deepar-"),
        ),
    )
    with Timer() as training:
        deepar_predictor = deepar.train(dataset.train, cache_data=True)
    m, s, n = score(deepar_predictor, dataset, args.num_samples)
    return m, training.seconds, s, n


def set_scores(args, name, dataset):
    """Every model on one set: label -> (metrics, train s, predict s, windows)."""
    h, freq = dataset.metadata.prediction_length, dataset.metadata.freq
    results = {}
    m, s, n = score(seasonal_naive_baseline(freq, h), dataset, args.num_samples)
    results["SeasonalNaive"] = (m, 0.0, s, n)
    results.update(statistical_scores(args, name, dataset))

    m, s, n = zero_shot_scores(args.checkpoint, name, dataset, args.num_samples)
    results["Lag-Llama zero-shot"] = (m, 0.0, s, n)

    if not args.no_finetune:
        predictor, record = finetuned(args, dataset, h, FINETUNE_LR, FINETUNE_FREEZE_LAYERS, args.epochs)
        m, s, n = score(predictor, dataset, args.num_samples)
        results["Lag-Llama fine-tuned"] = (m, record["train_seconds"], s, n)
        args.notes.append(
            f"{short_name(name)}: validation NLL {record['start_val_loss']:.3f} -> "
            f"{record['best_val_loss']:.3f} in {record['epochs_run']} epochs, kept {record['kept']}"
        )
    if not args.no_deepar:
        results["DeepAR (trained here)"] = deepar_scores(args, dataset, h, freq)
    return results


def main_table(args, names):
    rows, summary = [], {}
    for name in names:
        results = set_scores(args, name, limited(load(name), args.max_series))
        for label, (m, train_s, s, n) in results.items():
            rows.append(main_cells(short_name(name), label, m, train_s, s, n))
            progress(rows[-1] + [f"coverage {m['coverage_80']:.2f} / {m['coverage_90']:.2f}"])
        summary[short_name(name)] = {label: summarized(r[0]) for label, r in results.items()}
    return markdown_table(MAIN_HEADER, rows), summary


def context_study(args, names):
    stored = read_checkpoint(args.checkpoint).model_kwargs
    header = [
        "dataset",
        "context",
        "CRPS, no rope scaling",
        "CRPS, linear rope scaling (factor)",
        "MASE, none",
        "MASE, linear",
    ]
    rows = []
    for name in names:
        dataset = limited(load(name), args.max_series)
        h = dataset.metadata.prediction_length
        for context in args.context_lengths:
            cells = {}
            for label, rope in (("none", {"type": "linear", "factor": 1.0}), ("linear", {"type": "linear"})):
                rope = resolve_rope_scaling(rope, stored, context, h)
                predictor = load_predictor(
                    args.checkpoint,
                    prediction_length=h,
                    context_length=context,
                    rope_scaling=rope,
                    num_parallel_samples=args.num_samples,
                )
                cells[label] = (score(predictor, dataset, args.num_samples)[0], rope["factor"])
            (none, _), (linear, factor) = cells["none"], cells["linear"]
            rows.append(
                [
                    name,
                    context,
                    f"{none['mean_wQuantileLoss']:.4f}",
                    f"{linear['mean_wQuantileLoss']:.4f} ({factor:.2f})",
                    f"{none['MASE']:.3f}",
                    f"{linear['MASE']:.3f}",
                ]
            )
            progress(rows[-1])
    return markdown_table(header, rows)


def finetune_study(args, names):
    header = ["dataset", "setting", "CRPS", "MASE", "val NLL start -> best", "epochs", "kept", "train s"]
    rows, wins = [], {}
    for name in names:
        dataset = limited(load(name), args.max_series)
        h = dataset.metadata.prediction_length
        zs = load_predictor(args.checkpoint, prediction_length=h, num_parallel_samples=args.num_samples)
        base, _, _ = score(zs, dataset, args.num_samples)
        rows.append([name, "zero-shot", f"{base['mean_wQuantileLoss']:.4f}", f"{base['MASE']:.3f}", "", "", "", ""])
        progress(rows[-1])
        for lr, freeze in FINETUNE_SETTINGS:
            predictor, rec = finetuned(args, dataset, h, lr, freeze, args.epochs)
            m, _, _ = score(predictor, dataset, args.num_samples)
            label = f"lr {lr:g}, {freeze} frozen"
            if not overlapping(name):  # its windows are another set's
                wins.setdefault(label, []).append(m["mean_wQuantileLoss"] / base["mean_wQuantileLoss"])
            rows.append(
                [
                    name,
                    label,
                    f"{m['mean_wQuantileLoss']:.4f}",
                    f"{m['MASE']:.3f}",
                    f"{rec['start_val_loss']:.3f} -> {rec['best_val_loss']:.3f}",
                    rec["epochs_run"],
                    "fine-tuned" if rec["kept"] == "fine-tuned" else "checkpoint",
                    f"{rec['train_seconds']:.0f}",
                ]
            )
            progress(rows[-1])
    ratio = markdown_table(
        ["setting", "geometric mean of CRPS / zero-shot CRPS over the datasets", "datasets where it beats zero-shot"],
        [[label, f"{geometric_mean(r):.3f}", f"{sum(x < 1 for x in r)} of {len(r)}"] for label, r in wins.items()],
    )
    return markdown_table(header, rows) + [""] + ratio


def preamble(args, title, argv):
    if args.compare_checkpoints:
        checkpoint = "Checkpoints: those named in the command (their records below)."
    else:
        training = read_checkpoint(args.checkpoint).training
        checkpoint = f"Checkpoint: `{args.checkpoint.name}`; pretraining record: `{json.dumps(training)}`."
    return [
        f"# {title}",
        "",
        f"Command: `{bench_common.command(__file__, argv)}`",
        "",
        f"Machine: {bench_common.machine()}; {args.threads} CPU thread(s); date {bench_common.utc_stamp()}.",
        "",
        f"{checkpoint} {args.num_samples} sample paths; GluonTS `Evaluator` on each "
        "held-out set's windows (below)" + (f", first {args.max_series} series only" if args.max_series else "") + ".",
        "",
    ] + leakage_notes(args)


def leakage_notes(args):
    """Each set's leakage flag against each checkpoint's pretraining record (``common.leakage``):
    a score on a set seen in pretraining is not zero-shot."""
    paths = dict(item.split("=", 1) for item in args.compare_checkpoints or ()) or {"": args.checkpoint}
    records = {label: checkpoint_record(read_checkpoint(Path(path))) for label, path in paths.items()}
    lines = ["Seen in pretraining? Each set against the checkpoint's pretraining record:", ""]
    for name in args.datasets:
        flags = [(label, pretraining_status(record, base_name(name))) for label, record in records.items()]
        cells = "; ".join(f"{label + ': ' if label else ''}**{s.label}** ({s.reason})" for label, s in flags)
        lines.append(f"- `{short_name(name)}`: {cells}")
    return lines + [""]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=BUNDLED_CHECKPOINT)
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(DEFAULT_SETS),
        help="sets to score; NAME (test split, 1 window) is a repository dataset's own test split "
        "(default: the 10 held-out sets and %(default)s's last)",
    )
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--quick", action="store_true", help="20 samples, 20 series, 2 epochs, contexts 32 and 128: checks that it runs"
    )
    parser.add_argument(
        "--max-series", type=int, default=None, help="score only the first N series (windows) of each set"
    )
    parser.add_argument(
        "--finetune-study",
        action="store_true",
        help="compare fine-tuning settings instead (writes finetune_settings.md)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--cache",
        type=Path,
        default=RESULTS / "zero_shot_statistical.json",
        help="statistical models' scores, reused across runs (default: %(default)s)",
    )
    parser.add_argument("--no-finetune", action="store_true", help="zero-shot and baselines only")
    parser.add_argument("--no-deepar", action="store_true", help="without the DeepAR rows")
    parser.add_argument("--no-context-study", action="store_true", help="skip the context-length study")
    parser.add_argument(
        "--compare-checkpoints",
        nargs="+",
        metavar="LABEL=PATH",
        default=None,
        help="zero-shot only, these checkpoints side by side (writes pretraining_runs.md)",
    )
    parser.add_argument(
        "--only-statistical",
        action="store_true",
        help="only fill --cache with the statistical models' scores (no checkpoint needed)",
    )
    args = parser.parse_args(argv)
    args.notes = []
    args.epochs = FINETUNE_MAX_EPOCHS
    args.deepar_epochs, args.deepar_batches = DEEPAR_EPOCHS, DEEPAR_BATCHES
    args.context_lengths = CONTEXT_LENGTHS
    if args.quick:
        args.num_samples, args.max_series, args.epochs = 20, args.max_series or 20, 2
        args.deepar_epochs, args.deepar_batches, args.context_lengths = 2, 5, (32, 128)
    return args


def fill_statistical_cache(args):
    """``--only-statistical``: the statistical models on every set, into ``--cache``."""
    for name in args.datasets:
        dataset = limited(load(name), args.max_series)
        for model, (m, _, seconds, n) in statistical_scores(args, name, dataset).items():
            cells = [short_name(name), model, f"{m['mean_wQuantileLoss']:.4f}", f"{m['MASE']:.3f}"]
            cells += [f"coverage {m['coverage_80']:.2f} / {m['coverage_90']:.2f}", f"{seconds:.0f} s", f"{n} windows"]
            progress(cells)


def main_report(args, argv):
    """The default report: every model on every set, the means, coverage, the context study."""
    table, summary = main_table(args, args.datasets)
    lines = preamble(args, "Lag-Llama zero-shot and fine-tuned vs statistical models, SeasonalNaive and DeepAR", argv)
    lines += [
        f"Fine-tuned: the `finetune` command's defaults (lr {FINETUNE_LR:g}, up to {args.epochs} epochs x "
        f"{FINETUNE_BATCHES_PER_EPOCH} batches of 32 windows, patience {FINETUNE_PATIENCE}, "
        f"{FINETUNE_FREEZE_LAYERS} frozen layers; validation = last prediction-length steps of each training "
        "series; settings compared in [finetune_settings.md](finetune_settings.md)). Statistical models: "
        "statsforecast's AutoETS, AutoTheta and AutoARIMA fitted per window on its own history (the last "
        "1000 steps at most; AutoARIMA 300, not run at season 24), season length GluonTS's seasonality of "
        "the frequency, quantiles from the prediction intervals (benchmarks/statistical.py). DeepAR: GluonTS's "
        f"`DeepAREstimator` defaults, trained on the train split for a fixed {args.deepar_epochs} epochs x "
        f"{args.deepar_batches} batches of 32. 'train s' and 'predict s' are wall-clock seconds (a "
        "statistical model's fit is in its 'predict s').",
        "",
        windows_note(),
        "",
    ]
    lines += table + ["", "## Relative to SeasonalNaive", ""] + geometric_mean_table(summary) + [""]
    lines += win_lines(summary, ("Lag-Llama zero-shot", "Lag-Llama fine-tuned")) + overlapping_lines(summary)
    lines += [
        "",
        "## Calibration: coverage of the central intervals",
        "",
        "Share of the observations inside each forecast's 10-90% interval / its 5-95% interval (ideal "
        "0.80 / 0.90; below: intervals too narrow, above: too wide), pooled over the set's windows and "
        "steps, read from each forecast's own quantiles 0.1, 0.9, 0.05 and 0.95 (sample quantiles for "
        "Lag-Llama and DeepAR, the 80% and 90% prediction intervals for the statistical models); the "
        "CRPS above stays the mean weighted quantile loss over 0.1 ... 0.9. SeasonalNaive is a point "
        "forecast (its intervals have no width): its coverage is the share of exact hits. The mean row: "
        "unweighted over the held-out sets a model ran on (their number in brackets).",
        "",
    ] + coverage_table(summary)
    lines += ["", "Notes:", ""] + [f"- {note}" for note in args.notes]
    if not args.no_context_study:
        lines += [
            "",
            "## Context length (zero-shot)",
            "",
            f"The checkpoint was trained at context {read_checkpoint(args.checkpoint).context_length}. "
            "'linear' divides rotary positions by (context + horizon) / trained context (at least 1), "
            "what `load_predictor` applies by default to contexts longer than the trained one.",
            "",
        ] + context_study(args, args.datasets)
    return lines


def main(argv=None):
    args = parse_args(argv)
    argv = bench_common.script_argv(argv)
    torch.set_num_threads(args.threads)
    clock = Timer()
    if args.only_statistical:
        return fill_statistical_cache(args)
    if args.compare_checkpoints:
        out = args.out or RESULTS / "pretraining_runs.md"
        lines = preamble(
            args, "Pretraining runs compared: zero-shot on every held-out set", argv
        ) + compare_checkpoints(args, args.datasets)
    elif args.finetune_study:
        out = args.out or RESULTS / "finetune_settings.md"
        lines = (
            preamble(args, "Lag-Llama fine-tuning settings vs zero-shot", argv)
            + [
                f"Each setting fine-tunes the checkpoint on the dataset's train split with up to {args.epochs} epochs "
                f"x {FINETUNE_BATCHES_PER_EPOCH} batches of 32 windows, early stopping (patience "
                f"{FINETUNE_PATIENCE}) on the last prediction-length steps of every training series, the best "
                "epoch kept, or the checkpoint itself when no epoch lowers the validation loss ('kept').",
                "",
            ]
            + finetune_study(args, args.datasets)
        )
    else:
        out = args.out or RESULTS / "zero_shot.md"
        lines = main_report(args, argv)
    lines += ["", f"Total wall-clock: {clock.minutes:.1f} min."]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
