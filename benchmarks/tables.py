"""Scale of the table path: a long CSV of many items (10,000 x 1,000 steps = 10M rows by
default) made by a generator in a temporary folder, read with the shared reader, forecast
with a progress bar and written as the forecasts stream, the way ``zero-shot --csv F
--item-column ...`` does it. Records rows/s and peak RSS of each phase, for two sizes, in
``benchmarks/results/tables.md``.

    python benchmarks/tables.py                         # 2,000 and 10,000 items x 1,000 steps
    python benchmarks/tables.py --items 200 1000 --steps 200 --out /tmp/t.md   # quick

Each size runs in its own process (a fresh peak); each phase's peak RSS is sampled from
``/proc/self/statm`` by a thread. The model: the bundled Lag-Llama checkpoint with few
sample paths (``--num-samples``, default 4) and a short context, so 10,000 items fit in a
few CPU minutes: the point is the data path around the model, not the model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import bench_common
import numpy as np
from bench_common import RESULTS, Timer, markdown_table

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRSS:
    """The largest resident set size seen while the block runs (sampled every 10 ms)."""

    def __enter__(self) -> "PeakRSS":
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        return False


def write_long_csv(path: Path, items: int, steps: int, seed: int = 0, chunk_items: int = 500) -> int:
    """``item_id,timestamp,target`` rows of ``items`` hourly series (each its own start, a
    daily cycle on its own level, noise), written chunk by chunk; returns the rows."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2020-01-01", periods=steps + 24 * 30, freq="h")
    rows = 0
    with open(path, "w") as handle:
        handle.write("item_id,timestamp,target\n")
        for first in range(0, items, chunk_items):
            count = min(chunk_items, items - first)
            offsets = rng.integers(0, 24 * 30, count)
            level = rng.uniform(10, 1000, count)[:, None]
            phase = np.arange(steps)[None, :] + offsets[:, None]
            values = level * (1 + 0.2 * np.sin(2 * np.pi * phase / 24)) + rng.normal(0, 1, (count, steps))
            frame = pd.DataFrame(
                {
                    "item_id": np.repeat([f"item{k:05d}" for k in range(first, first + count)], steps),
                    "timestamp": stamps[(offsets[:, None] + np.arange(steps)[None, :]).ravel()],
                    "target": values.ravel().round(3),
                }
            )
            frame.to_csv(handle, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S")
            rows += len(frame)
    return rows


def run_size(items: int, steps: int, horizon: int, num_samples: int, batch_size: int, folder: Path) -> Dict:
    """One size, in this process: generate, read, forecast + write; the numbers."""
    import torch

    torch.set_num_threads(1)
    from lagllama_gluonts import load_predictor
    from lagllama_gluonts.common.dataframes import predict_series
    from lagllama_gluonts.common.tables import read_series_table, write_forecast_frames

    csv = folder / f"long_{items}x{steps}.csv"
    with Timer() as made:
        rows = write_long_csv(csv, items, steps)
    predictor = load_predictor(
        None,
        prediction_length=horizon,
        context_length=32,
        num_parallel_samples=num_samples,
        batch_size=batch_size,
        device="cpu",
    )
    base = rss_bytes()
    with PeakRSS() as read_peak, Timer() as read:
        table = read_series_table(csv, ["target"], item_column="item_id")
    after_read = rss_bytes()
    produced = [0.0]

    def timed(pieces):  # the time spent forecasting; the rest of the stream is writing
        iterator = iter(pieces)
        while True:
            began = time.perf_counter()
            piece = next(iterator, None)
            produced[0] += time.perf_counter() - began
            if piece is None:
                return
            yield piece

    out = folder / f"forecast_{items}.parquet"
    with PeakRSS() as stream_peak, Timer() as stream:
        _, written = write_forecast_frames(
            out, timed(predict_series(predictor, table.series, num_samples=num_samples, progress=True, chunk_items=500))
        )
    write_seconds = stream.seconds - produced[0]
    csv_bytes = csv.stat().st_size
    csv.unlink()
    return {
        "items": items,
        "steps": steps,
        "rows": rows,
        "csv_mb": csv_bytes / 2**20,
        "generate_s": made.seconds,
        "read_s": read.seconds,
        "read_rows_per_s": rows / read.seconds,
        "read_peak_mb": read_peak.peak / 2**20,
        "read_growth_mb": (read_peak.peak - base) / 2**20,
        "forecast_s": produced[0],
        "forecast_series_per_s": items / produced[0],
        "write_s": write_seconds,
        "write_rows_per_s": written / max(write_seconds, 1e-9),
        "written_rows": written,
        "stream_peak_mb": stream_peak.peak / 2**20,
        "stream_growth_mb": (stream_peak.peak - after_read) / 2**20,
    }


def report(results: List[Dict], args, argv: Optional[Sequence[str]]) -> str:
    header = [
        "items x steps",
        "rows",
        "CSV MB",
        "phase",
        "seconds",
        "rows/s (series/s)",
        "peak RSS MB",
        "peak above phase start MB",
    ]
    rows = []
    for r in results:
        size = f"{r['items']:,} x {r['steps']:,}"
        rows.append(
            [
                size,
                f"{r['rows']:,}",
                f"{r['csv_mb']:.0f}",
                "read (CSV -> checked entries)",
                f"{r['read_s']:.1f}",
                f"{r['read_rows_per_s']:,.0f}",
                f"{r['read_peak_mb']:.0f}",
                f"{r['read_growth_mb']:.0f}",
            ]
        )
        rows.append(
            [
                size,
                "",
                "",
                "forecast (streamed)",
                f"{r['forecast_s']:.1f}",
                f"({r['forecast_series_per_s']:,.1f} series/s)",
                f"{r['stream_peak_mb']:.0f}",
                f"{r['stream_growth_mb']:.0f} (with the write)",
            ]
        )
        rows.append(
            [
                size,
                f"{r['written_rows']:,}",
                "",
                "write (Parquet, per piece)",
                f"{r['write_s']:.1f}",
                f"{r['write_rows_per_s']:,.0f}",
                "same stream",
                "",
            ]
        )
    lines = [
        "# Tables of many series: read, forecast, write",
        "",
        f"Made by `{bench_common.command(__file__, argv)}` on {bench_common.utc_stamp()}.",
        "",
        f"Machine: {bench_common.machine(('torch', 'gluonts', 'pandas', 'pyarrow'))}; "
        f"load {bench_common.load_average()}; torch on 1 thread.",
        "",
        f"A long CSV `item_id,timestamp,target` (hourly, each item its own start) from a generator, "
        f"read by `read_series_table` (pandas' pyarrow engine, then the checks of `dataset_from_df`), "
        f"forecast by the bundled Lag-Llama checkpoint (context 32, {args.num_samples} sample paths, "
        f"horizon {args.prediction_length}, batches of {args.batch_size} series) through `predict_series`, "
        "written by `write_forecast_frames` as Parquet piece by piece (500 items a piece), as "
        "`zero-shot --csv F --item-column item_id --output forecast.parquet` does. Peak RSS: sampled every 10 ms "
        "in the process of that size; 'above phase start' is the peak minus the RSS when the phase began.",
        "",
        *markdown_table(header, rows, align=["l", "r", "r", "l", "r", "r", "r", "r"]),
        "",
        "What it shows: reading costs memory in proportion to the rows (the table and its entries are "
        "held: every item is needed for the frequency check and the forecasts' order); the forecast and "
        "write phase does not grow with the number of items: only one batch of sample paths and one "
        "piece of the output table exist at a time.",
        "",
        "Raw numbers: " + json.dumps(results),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--prediction-length", type=int, default=24)
    parser.add_argument("--num-samples", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--out", type=Path, default=RESULTS / "tables.md")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one size, JSON out
    args = parser.parse_args(bench_common.script_argv(argv))
    if args.one:
        with tempfile.TemporaryDirectory(prefix="tables-bench-") as folder:
            result = run_size(
                args.items[0], args.steps, args.prediction_length, args.num_samples, args.batch_size, Path(folder)
            )
        print("RESULT " + json.dumps(result))
        return 0
    results = []
    for items in args.items:
        child = [
            sys.executable,
            __file__,
            "--one",
            "--items",
            str(items),
            "--steps",
            str(args.steps),
            "--prediction-length",
            str(args.prediction_length),
            "--num-samples",
            str(args.num_samples),
            "--batch-size",
            str(args.batch_size),
        ]
        done = subprocess.run(child, stdout=subprocess.PIPE, text=True, check=True)
        line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT ") :]))
        print(json.dumps(results[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(results, args, argv))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
