"""Raw against calibrated intervals (``lagllama_gluonts.common.calibration``) on sets held out
from the bundled checkpoint's pretraining: the 80% and 90% intervals' coverage and width
(summed width / summed |target|) and the weighted quantile loss, for the bundled Lag-Llama
zero-shot and GluonTS's SeasonalNaive, each raw and calibrated on ``--calibrate-windows``
rolling windows before every origin. Writes ``benchmarks/results/calibration.md``.

Every model is scored by the shared ``rolling_backtest`` on the last ``--windows`` horizons of
each series; the calibrated model sees, for each window, only the windows that end before it.
Target (issue 22): calibrated 80% coverage within 80 +- 5% on every set, and the quantile loss
no worse than raw on the geometric mean. Informer trained here is not in this table yet.

    python benchmarks/calibration.py            # the held-out sets, full size
    python benchmarks/calibration.py --quick    # two small sets, few series and samples (tests)
"""

import argparse
import warnings
from pathlib import Path

import bench_common  # benchmarks/bench_common.py; puts the repository root on sys.path
import numpy as np
from bench_common import Timer, markdown_table

warnings.filterwarnings("ignore")

from lagllama_gluonts import load_predictor  # noqa: E402
from lagllama_gluonts.common.backtesting import rolling_backtest, seasonal_naive_baseline  # noqa: E402
from lagllama_gluonts.common.calibration import CalibratedPredictor  # noqa: E402
from lagllama_gluonts.common.datasets import get_dataset  # noqa: E402

OUTPUT = bench_common.RESULTS / "calibration.md"
SETS = ("ett_small_1h", "exchange_rate", "airpassengers")
QUICK_SETS = ("airpassengers", "exchange_rate")
COLUMNS = ("coverage_80", "width_80", "coverage_90", "width_90", "mean_wQuantileLoss")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two small sets, few series and samples")
    parser.add_argument("--windows", type=int, default=None, help="scored windows per series (default 4; quick 2)")
    parser.add_argument("--calibrate-windows", type=int, default=None, help="default 8; quick 4")
    parser.add_argument("--num-samples", type=int, default=None, help="default 100; quick 20")
    parser.add_argument("--max-series", type=int, default=None, help="default all; quick 4")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    quick = dict(windows=2, calibrate_windows=4, num_samples=20, max_series=4)
    full = dict(windows=4, calibrate_windows=8, num_samples=100, max_series=None)
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.sets = QUICK_SETS if args.quick else SETS
    return args


def score_set(name: str, args) -> dict:
    """Model -> metrics on the set's rolling windows (each series' full history: the test split)."""
    dataset = get_dataset(name)
    h = dataset.metadata.prediction_length
    entries = list(dataset.test)
    # the test split holds each series once per rolling test window: keep the longest of each
    longest = {}
    for entry in entries:
        key = entry.get("item_id", len(longest))
        if key not in longest or len(entry["target"]) > len(longest[key]["target"]):
            longest[key] = entry
    entries = list(longest.values())[: args.max_series]
    models = {
        "Lag-Llama zero-shot": load_predictor(prediction_length=h, num_parallel_samples=args.num_samples, device="cpu"),
        "SeasonalNaive": seasonal_naive_baseline(dataset.metadata.freq, h),
    }
    metrics = {}
    for label, predictor in models.items():
        result = rolling_backtest(
            entries,
            predictor,
            h,
            windows=args.windows,
            num_samples=args.num_samples,
            baseline=False,
            name=label,
            progress=False,
            derived={f"{label} calibrated": lambda p: CalibratedPredictor(p, args.calibrate_windows)},
        )
        metrics.update(result.metrics)
    return metrics


def rows_for(name: str, metrics: dict) -> list:
    return [[name, model] + [f"{values.get(c, np.nan):.3f}" for c in COLUMNS] for model, values in metrics.items()]


def main(argv=None) -> int:
    args = parse_args(argv)
    rows, losses = [], {}
    with Timer() as timer:
        for name in args.sets:
            metrics = score_set(name, args)
            rows += rows_for(name, metrics)
            for model, values in metrics.items():
                losses.setdefault(model, []).append(values["mean_wQuantileLoss"])
    geo = [[model, f"{float(np.exp(np.mean(np.log(v)))):.4f}"] for model, v in losses.items()]
    lines = [
        "# Calibrated intervals: raw against calibrated",
        "",
        f"Command: `{bench_common.command(__file__, argv)}`  ",
        f"Machine: {bench_common.machine()}; {timer.seconds:.0f} s.  ",
        f"{args.windows} scored windows per series, calibrated on {args.calibrate_windows} windows before each; "
        f"{args.num_samples} samples; width = summed interval width / summed |target|.",
        "",
        *markdown_table(["set", "model", *COLUMNS], rows),
        "",
        "Geometric mean of mean_wQuantileLoss over the sets:",
        "",
        *markdown_table(["model", "geometric mean wQL"], geo),
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
