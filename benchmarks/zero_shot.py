"""The bundled Lag-Llama checkpoint, zero-shot, on every dataset held out from its pretraining,
next to GluonTS's SeasonalNaive, in one run. The held-out corpus series ``BeijingPM25_0.csv`` is
scored on its last 7 daily (24-step) windows. Writes ``benchmarks/results/zero_shot.md``.

    python benchmarks/zero_shot.py
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

from types import SimpleNamespace

import numpy as np
import torch

warnings.filterwarnings("ignore")

from lagllama_gluonts import load_predictor  # noqa: E402
from lagllama_gluonts.checkpoint import read_checkpoint  # noqa: E402
from lagllama_gluonts.cli import BUNDLED_CHECKPOINT  # noqa: E402
from lagllama_gluonts.datasets import get_dataset  # noqa: E402
from lagllama_gluonts.evaluation import run_backtest, seasonal_naive_baseline  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
HELD_OUT = ("ett_small_1h", "exchange_rate", "m4_weekly", "airpassengers", "BeijingPM25_0.csv")


class CorpusDataset:
    """A held-out corpus CSV as rolling test windows, shaped like a GluonTS TrainDatasets."""

    def __init__(self, filename: str, prediction_length: int = 24, windows: int = 7):
        from gluonts.dataset.split import split

        from lagllama_gluonts.corpus import read_series_csv
        from lagllama_gluonts.pretrain import default_corpus_dir

        entry = read_series_csv(default_corpus_dir() / filename)
        _, template = split([entry], offset=-prediction_length * windows)
        instances = template.generate_instances(prediction_length=prediction_length, windows=windows)
        self.test = [{**inp, "target": np.concatenate([inp["target"], lab["target"]])} for inp, lab in instances]
        self.metadata = SimpleNamespace(prediction_length=prediction_length, freq=entry["start"].freqstr)


def load(name: str):
    return CorpusDataset(name) if name.endswith(".csv") else get_dataset(name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=BUNDLED_CHECKPOINT)
    parser.add_argument("--datasets", nargs="+", default=list(HELD_OUT))
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "zero_shot.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    training = read_checkpoint(args.checkpoint)["hyper_parameters"].get("training", {})

    lines = [
        "# Lag-Llama zero-shot (bundled checkpoint) vs SeasonalNaive",
        "",
        f"Command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        f"Checkpoint: `{args.checkpoint.name}`; pretraining record: {training}. None of these datasets "
        f"was seen in pretraining. {args.num_samples} sample paths, {args.threads} CPU thread(s); GluonTS "
        "`Evaluator` on each dataset's own test split.",
        "",
        "| dataset | model | mean_wQuantileLoss (CRPS) | MASE | ND | NRMSE | predict s | s / 100 series |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets:
        dataset = load(name)
        h, freq = dataset.metadata.prediction_length, dataset.metadata.freq
        torch.manual_seed(0)
        candidates = [
            ("SeasonalNaive", seasonal_naive_baseline(freq, h)),
            ("Lag-Llama zero-shot", load_predictor(args.checkpoint, prediction_length=h,
                                                   num_parallel_samples=args.num_samples)),
        ]
        for label, predictor in candidates:
            started = time.time()
            m, forecasts, _ = run_backtest(predictor, dataset.test, num_samples=args.num_samples, progress=False)
            s = time.time() - started
            lines.append(
                f"| {name} | {label} | {m['mean_wQuantileLoss']:.4f} | {m['MASE']:.3f} | {m['ND']:.4f} | "
                f"{m['NRMSE']:.4f} | {s:.1f} | {100 * s / len(forecasts):.1f} |"
            )
            print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
