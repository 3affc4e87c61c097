"""Pretraining runs compared on the selection set: whole series of the pretraining sources that
no run trains on (:mod:`lagllama_gluonts.selection`), so that choosing a run, a mixture or a size
does not use the held-out evaluation sets (benchmarks/zero_shot.py scores those once, at the end).

The set (``pretrain.selection_sources``): the series every run sets aside from ``m4_hourly`` and
the package series (a fixed share of each frequency, chosen by an item-id hash), and 30 fresh
series of each synthetic source drawn with ``selection.SELECTION_SEED``. Each checkpoint forecasts
the LAST horizon of every series zero-shot, its context the series before it; series are grouped
by (source, frequency) and each group is scored with GluonTS's ``Evaluator`` (mean weighted
quantile loss over the shared quantiles: CRPS; and MASE), beside SeasonalNaive on the same
windows. A checkpoint trained before the set existed has trained on its real series: its record
line says so.

    python benchmarks/selection.py --checkpoints NAME=PATH [NAME=PATH ...] \\
        [--num-samples 100] [--threads 1] [--out benchmarks/results/selection.md]

Writes the Markdown report and a JSON of every number beside it (same name, ``.json``).
"""

import argparse
import json
import logging
import warnings
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import bench_common  # benchmarks/bench_common.py; puts the repository root on sys.path
import numpy as np
import torch
from bench_common import Timer, backtest, geometric_mean, markdown_table

warnings.filterwarnings("ignore")

from lagllama_gluonts import load_predictor  # noqa: E402
from lagllama_gluonts.checkpoint import read_checkpoint  # noqa: E402
from lagllama_gluonts.common.evaluation import seasonal_naive_baseline  # noqa: E402
from lagllama_gluonts.common.jsonio import write_json  # noqa: E402
from lagllama_gluonts.pretrain import selection_sources  # noqa: E402
from lagllama_gluonts.selection import SELECTION_SEED, SELECTION_SYNTHETIC, SPLIT_SOURCES, frequency_of  # noqa: E402

for _name in ("lightning", "lightning.pytorch", "lightning.fabric"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# the horizon of each frequency: a day of (half-)hourly steps, two weeks of days and business days,
# two months of weeks, a year of months, two years of quarters, four years. Shorter than M4's
# (hourly 48, weekly 13, monthly 18, yearly 6) so that the short package series (yearly ones of
# 47 steps) keep two horizons of history
HORIZONS = {"h": 24, "30min": 48, "D": 14, "B": 10, "W": 8, "M": 12, "Q": 8, "Y": 4}
# pandas' other names of the same frequencies (anchors such as "-DEC" are dropped first)
_ALIASES = {"H": "h", "30T": "30min", "ME": "M", "QE": "Q", "A": "Y", "YE": "Y", "AE": "Y"}
# a series must leave this many horizons of history before the one forecast
MIN_HISTORY_HORIZONS = 2
BASELINE = "SeasonalNaive"


def frequency_key(freq: str) -> Optional[str]:
    """``"W-SUN"`` -> ``"W"``, ``"Q-DEC"`` -> ``"Q"``: the key of :data:`HORIZONS`, or None."""
    base = str(freq).split("-")[0]
    base = _ALIASES.get(base, base)
    return base if base in HORIZONS else None


def selection_groups(
    sources: Dict[str, List[Dict]], max_series: Optional[int] = None
) -> Tuple[Dict[str, List[Dict]], Counter]:
    """The series to score by group ``SOURCE/FREQ`` (real sources first, then by horizon), at most
    ``max_series`` per group (the first ones: the same series for every model); and how many
    series were skipped, by reason."""
    groups: Dict[Tuple[str, str], List[Dict]] = {}
    skipped: Counter = Counter()
    for source, entries in sources.items():
        for entry in entries:
            key = frequency_key(frequency_of(entry))
            if key is None:
                skipped[f"{source}: no horizon for frequency {frequency_of(entry)}"] += 1
                continue
            if len(entry["target"]) < (MIN_HISTORY_HORIZONS + 1) * HORIZONS[key]:
                skipped[f"{source}/{key}: shorter than {MIN_HISTORY_HORIZONS + 1} horizons"] += 1
                continue
            groups.setdefault((source, key), []).append(entry)
    order = list(HORIZONS)
    ordered = sorted(groups, key=lambda g: (g[0] not in SPLIT_SOURCES, list(sources).index(g[0]), order.index(g[1])))
    out = {}
    for source, key in ordered:
        entries = groups[(source, key)]
        if max_series is not None and len(entries) > max_series:
            skipped[f"{source}/{key}: beyond --max-series-per-group {max_series}"] += len(entries) - max_series
            entries = entries[:max_series]
        out[f"{source}/{key}"] = entries
    return out, skipped


def is_real(group: str) -> bool:
    return group.split("/")[0] in SPLIT_SOURCES


def evaluate(checkpoints: Dict[str, Path], groups: Dict[str, List[Dict]], num_samples: int) -> Dict:
    """``{group: {"series", "horizon", "freq", "models": {model: {"CRPS", "MASE", "seconds"}}}}``:
    SeasonalNaive and each checkpoint on every group's last horizons (seed 0 before each)."""
    results = {}
    predictors: Dict[Tuple[str, int], object] = {}
    for group, entries in groups.items():
        h, freq = HORIZONS[group.split("/")[1]], frequency_of(entries[0])
        models = {BASELINE: seasonal_naive_baseline(freq, h)}
        for name, path in checkpoints.items():
            if (name, h) not in predictors:  # read each checkpoint once per horizon
                predictors[(name, h)] = load_predictor(path, prediction_length=h, num_parallel_samples=num_samples)
            models[name] = predictors[(name, h)]
        scores = {}
        for name, predictor in models.items():
            # the scoring of benchmarks/zero_shot.py: the last horizon of each series, the shared
            # quantiles, torch seeded before forecasting
            result = backtest(predictor, entries, num_samples, metrics=("mean_wQuantileLoss", "MASE"), seed=0)
            scores[name] = {"CRPS": result.metrics["mean_wQuantileLoss"], "MASE": result.metrics["MASE"]}
            scores[name]["seconds"] = round(result.seconds, 2)
        results[group] = {"series": len(entries), "horizon": h, "freq": freq, "models": scores}
        print(" | ".join([group, str(len(entries))] + [f"{n} {s['CRPS']:.4f}" for n, s in scores.items()]), flush=True)
    return results


def relative_scores(results: Dict, models: Sequence[str]) -> Dict[str, Dict[str, Dict]]:
    """Each model's geometric mean over groups of CRPS / SeasonalNaive CRPS: over all groups, the
    real ones and the synthetic ones. A group where either CRPS is not a positive number (a
    constant series forecast exactly) has no ratio and is left out of every model's mean."""
    usable = [
        g
        for g, r in results.items()
        if all(np.isfinite(r["models"][m]["CRPS"]) and r["models"][m]["CRPS"] > 0 for m in [BASELINE, *models])
    ]
    out = {}
    for model in models:
        ratios = {g: results[g]["models"][model]["CRPS"] / results[g]["models"][BASELINE]["CRPS"] for g in usable}
        out[model] = {}
        for part, keep in (("all", lambda g: True), ("real", is_real), ("synthetic", lambda g: not is_real(g))):
            chosen = [r for g, r in ratios.items() if keep(g)]
            wins = sum(r < 1 for r in chosen)
            out[model][part] = {"geomean": geometric_mean(chosen), "groups": len(chosen), "wins": wins}
    return out


def training_record(path: Path) -> Dict:
    """The checkpoint's training record: ``<ckpt>.json`` beside it, else the one stored inside."""
    beside = Path(path).with_suffix(".json")
    if beside.is_file():
        return json.loads(beside.read_text())
    return read_checkpoint(Path(path)).training


def trained_on_selection(record: Dict) -> List[str]:
    """The split sources this run or a run it continued (``init_from``) trained on whole: a
    record without ``selection_series_set_aside`` for such a source predates the selection set
    (or set none aside), so that checkpoint has seen the real selection series."""
    seen = set()
    while record:
        for name, counts in (record.get("sources") or {}).items():
            if name in SPLIT_SOURCES and not (counts or {}).get("selection_series_set_aside"):
                seen.add(name)
        record = (record.get("init_from") or {}).get("training") or {}
    return sorted(seen)


def record_line(name: str, path: Path) -> str:
    """One line per checkpoint: steps, total steps, the mixture of its last run, and whether it
    saw the real selection series."""
    record = training_record(path)
    mixture = record.get("sources") or {}
    sources = ", ".join(f"{k} {(v or {}).get('weight', '?')}" for k, v in mixture.items())
    seen = trained_on_selection(record)
    if not mixture:
        caveat = "no pretraining sources recorded: whether it saw the selection series is unknown"
    elif seen:
        caveat = (
            f"trained on the selection series of {', '.join(seen)} (it predates the selection set or set none aside)"
        )
    else:
        caveat = "selection series set aside"
    return (
        f"- **{name}** (`{Path(path).name}`): steps {record.get('steps')}, total_steps "
        f"{record.get('total_steps', record.get('steps'))}; sources {sources or 'not recorded'}; {caveat}."
    )


def tables(results: Dict, models: Sequence[str]) -> List[str]:
    """The group x model tables of CRPS and MASE."""
    header = ["group", "series", "horizon", BASELINE, *models]
    crps, mase = [], []
    for group, r in results.items():
        cells = [group, r["series"], r["horizon"]]
        crps.append(cells + [f"{r['models'][m]['CRPS']:.4f}" for m in [BASELINE, *models]])
        mase.append(cells + [f"{r['models'][m]['MASE']:.3f}" for m in [BASELINE, *models]])
    align = "lrr" + "r" * (len(models) + 1)
    return (
        ["## CRPS (mean weighted quantile loss) by group", ""]
        + markdown_table(header, crps, align)
        + ["", "## MASE by group", ""]
        + markdown_table(header, mase, align)
    )


def relative_table(relative: Dict) -> List[str]:
    rows = []
    for model, parts in relative.items():
        cells = [model]
        for part in ("all", "real", "synthetic"):
            p = parts[part]
            value = "—" if p["geomean"] is None else f"{p['geomean']:.3f}"
            cells.append(f"{value} ({p['wins']}/{p['groups']} below 1)")
        rows.append(cells)
    header = ["model", "all groups", "real groups", "synthetic groups"]
    return (
        ["## Geometric mean of CRPS / SeasonalNaive CRPS over groups", ""]
        + ["(in brackets: groups where the model's CRPS is below SeasonalNaive's / groups)", ""]
        + markdown_table(header, rows, "lrrr")
    )


def skipped_text(skipped: Counter) -> str:
    """``"3 skipped (packages/M: shorter than 3 horizons: 2; ...)"``, or that none was."""
    if not skipped:
        return "none skipped"
    details = "; ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items()))
    return f"{sum(skipped.values())} skipped ({details})"


def description(args, results, skipped) -> str:
    """What was scored: the set, the windows, the series and groups, what was skipped."""
    total = sum(r["series"] for r in results.values())
    cap = f", at most {args.max_series_per_group} per group" if args.max_series_per_group else ""
    return (
        f"The selection set: the series pretraining sets aside whole from {' and '.join(SPLIT_SOURCES)} "
        f"(`--selection-fraction`), and {args.num_synthetic} fresh series of each synthetic source (seed "
        f"{SELECTION_SEED}). Each series' last horizon is forecast zero-shot from the series before it "
        f"({args.num_samples} sample paths, seed 0), grouped by source and frequency; horizons: "
        + ", ".join(f"{k} {h}" for k, h in HORIZONS.items())
        + f". {total} series in {len(results)} groups{cap}; {skipped_text(skipped)}. CRPS is GluonTS's mean "
        "weighted quantile loss over the group (large series weigh most); a group of one or two series decides "
        "little."
    )


def report(args, argv, results, relative, skipped, seconds) -> List[str]:
    timing = ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
    return (
        [
            "# Pretraining runs compared on the selection set",
            "",
            f"Command: `{bench_common.command(__file__, argv)}`",
            "",
            f"Machine: {bench_common.machine()}; {args.threads} CPU thread(s); date {bench_common.utc_stamp()}.",
            "",
            description(args, results, skipped),
            "",
            "## The checkpoints",
            "",
        ]
        + [record_line(name, path) for name, path in args.checkpoints.items()]
        + ["", *relative_table(relative), "", *tables(results, list(args.checkpoints)), "", f"Wall-clock: {timing}."]
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", nargs="+", metavar="NAME=PATH", required=True)
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=bench_common.RESULTS / "selection.md")
    parser.add_argument(
        "--max-series-per-group",
        type=int,
        default=None,
        help="score at most this many series of each group, the first ones (default: all)",
    )
    parser.add_argument(
        "--num-synthetic",
        type=int,
        default=SELECTION_SYNTHETIC,
        help="series of each synthetic source (default: %(default)s, the selection set's; a run's "
        "numbers compare with another's only at the same number)",
    )
    parser.add_argument(
        "--sources",
        nargs="+",
        default=None,
        help="only these sources of the set (default: all; quick checks leave out the slow package series)",
    )
    args = parser.parse_args(argv)
    checkpoints = {}
    for item in args.checkpoints:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"--checkpoints: expected NAME=PATH, got {item!r}")
        if name == BASELINE or name in checkpoints:
            parser.error(f"--checkpoints: the name {name!r} is taken")
        if not Path(path).is_file():
            parser.error(f"--checkpoints: no such file {path}")
        checkpoints[name] = Path(path)
    args.checkpoints = checkpoints
    return args


def load_sources(names: Optional[Sequence[str]], num_synthetic: int) -> Dict[str, List[Dict]]:
    if names is None:
        return selection_sources(num_synthetic=num_synthetic)
    real = [n for n in names if n in SPLIT_SOURCES]
    synthetic = [n for n in names if n not in SPLIT_SOURCES]
    return selection_sources(num_synthetic=num_synthetic, real=real, synthetic=synthetic)


def main(argv=None) -> int:
    args = parse_args(argv)
    argv = bench_common.script_argv(argv)
    torch.set_num_threads(args.threads)
    clock = Timer()
    with Timer() as loading:
        groups, skipped = selection_groups(load_sources(args.sources, args.num_synthetic), args.max_series_per_group)
    results = evaluate(args.checkpoints, groups, args.num_samples)
    models = list(args.checkpoints)
    relative = relative_scores(results, models)
    seconds = {"loading the set": loading.seconds}
    seconds.update({m: sum(r["models"][m]["seconds"] for r in results.values()) for m in [BASELINE, *models]})
    seconds["in all"] = clock.seconds
    lines = report(args, argv, results, relative, skipped, seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    record = {
        "command": bench_common.command(__file__, argv),
        "machine": bench_common.machine(),
        "date": bench_common.utc_stamp(),
        "num_samples": args.num_samples,
        "num_synthetic": args.num_synthetic,
        "max_series_per_group": args.max_series_per_group,
        "threads": args.threads,
        "checkpoints": {
            name: {"path": str(path), "record": record_line(name, path)} for name, path in args.checkpoints.items()
        },
        "skipped": dict(skipped),
        "groups": results,
        "relative_to_seasonal_naive": relative,
        "seconds": seconds,
    }
    write_json(args.out.with_suffix(".json"), record)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
