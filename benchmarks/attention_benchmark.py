"""Benchmark ProbSparse vs full self-attention (forward pass, CPU).

Usage::

    python benchmarks/attention_benchmark.py            # writes benchmarks/results/attention.{md,png}
    python benchmarks/attention_benchmark.py --lengths 96 1024 --out /tmp/a.md --plot ""

Everything runs with one intra-op thread (``torch.set_num_threads(1)``) so that the
benchmark does not fight other jobs for cores.

Time
    Median wall-clock time of the forward pass under ``torch.no_grad()`` after one
    warm-up call, over at least ``--min-repeats`` calls (more for fast configurations,
    up to ~``--target-seconds`` per configuration), in this process with the default
    allocator. Full and ProbSparse calls alternate, so that load from other jobs on a
    shared machine hits both alike.

Peak memory
    Extra resident memory (RSS) of one forward pass, measured in a fresh subprocess per
    configuration: Linux's peak-RSS counter ``VmHWM`` is reset right before the call
    (``echo 5 > /proc/self/clear_refs``) and read right after it, and the resident
    size just before the call (inputs allocated, warm-up done) is subtracted. The
    number thus covers every intermediate and the output, including buffers that
    PyTorch kernels allocate internally (which a tensor-level hook would not see).
    glibc is told to serve every block of 64 KiB or more with ``mmap``
    (``MALLOC_MMAP_THRESHOLD_``) so that freed memory goes back to the OS and cannot
    hide a later allocation; the resolution is a page (4 KiB), so numbers below
    ~0.1 MiB are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bench_common  # benchmarks/bench_common.py (light: no torch)
from bench_common import Timer, markdown_table

ROOT = bench_common.REPO_ROOT
DEFAULT_LENGTHS = [96, 192, 384, 768, 1024, 2048, 4096, 8192]


# --------------------------------------------------------------------------- worker


def _status_kib(field: str) -> int:
    """Read a ``kB`` field (e.g. ``VmRSS``) of ``/proc/self/status``."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _load_attention():
    """Import ``informer_gluonts/attention.py`` as a standalone module.

    Importing the ``informer_gluonts`` package would pull in GluonTS and Lightning
    (seconds of start-up per subprocess) for nothing.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("_attention", ROOT / "informer_gluonts" / "attention.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _setup(kind: str, L: int, masked: bool, args: argparse.Namespace):
    """Inputs and module of one configuration (single thread, fixed seed)."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    shape = (args.batch, L, args.heads, args.head_dim)
    q, k, v = torch.randn(shape), torch.randn(shape), torch.randn(shape)
    attn = _load_attention().make_attention(kind, factor=args.factor, masked=masked).eval()
    return attn, q, k, v


def _time_pair(L: int, masked: bool, args: argparse.Namespace) -> dict[str, tuple[float, int]]:
    """Median forward time (s) and number of timed calls of full and ProbSparse.

    The two kinds are called alternately, so that load from other jobs on the machine
    hits both alike.
    """
    import torch

    configs = {kind: _setup(kind, L, masked, args) for kind in ("full", "prob")}
    times: dict[str, list[float]] = {kind: [] for kind in configs}
    with torch.no_grad():
        for attn, q, k, v in configs.values():
            attn(q, k, v)  # warm-up: one-time allocations, kernel selection
        while True:
            n = len(times["full"])
            spent = sum(map(sum, times.values()))
            if n >= args.min_repeats and (spent >= args.target_seconds or n >= args.max_repeats):
                break
            for kind, (attn, q, k, v) in configs.items():
                start = time.perf_counter()
                attn(q, k, v)
                times[kind].append(time.perf_counter() - start)
    return {kind: (statistics.median(ts), len(ts)) for kind, ts in times.items()}


def _memory_worker(args: argparse.Namespace) -> None:
    """Print the peak extra RSS (MiB) of one forward call; runs in a fresh subprocess."""
    import gc

    import torch

    attn, q, k, v = _setup(args.worker, args.length, args.masked, args)
    with torch.no_grad():
        out = attn(q, k, v)  # warm-up
        del out
        gc.collect()
        rss_before = _status_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current RSS
        out = attn(q, k, v)
        peak_extra_kib = _status_kib("VmHWM") - rss_before
        del out
    print(json.dumps({"peak_mib": peak_extra_kib / 1024}))


# --------------------------------------------------------------------------- driver


def _memory_config(kind: str, L: int, masked: bool, args: argparse.Namespace) -> float:
    """Peak extra RSS (MiB) of one forward call, measured in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--worker", kind, "--length", str(L)]
    cmd += ["--batch", str(args.batch), "--heads", str(args.heads), "--head-dim", str(args.head_dim)]
    cmd += ["--factor", str(args.factor)] + (["--masked"] if masked else [])
    # Every block >= 64 KiB is mmap-ed and unmapped on free, so RSS follows live memory.
    # (Only here: it slows allocation down, so timings run with the default allocator.)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"memory worker failed for {kind} L={L} masked={masked}:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])["peak_mib"]


def _wins_from(rows: list[tuple[int, dict, dict]]) -> int | None:
    """Smallest L from which ProbSparse is faster at that and every larger L."""
    wins_from = None
    for L, full, prob in reversed(rows):
        if prob["time_s"] < full["time_s"]:
            wins_from = L
        else:
            break
    return wins_from


TABLE_HEADER = [
    "L",
    "time full (ms)",
    "time prob (ms)",
    "speed-up full/prob",
    "peak mem full (MiB)",
    "peak mem prob (MiB)",
    "mem ratio full/prob",
    "one dense L×L fp32 score map, all heads (MiB)",
]


def _table(rows: list[tuple[int, dict, dict]], batch: int, heads: int) -> list[str]:
    cells = []
    for L, full, prob in rows:
        dense = batch * heads * L * L * 4 / 2**20
        mem_ratio = full["peak_mib"] / prob["peak_mib"] if prob["peak_mib"] > 0 else float("nan")
        cells.append(
            [
                L,
                f"{full['time_s'] * 1e3:.2f}",
                f"{prob['time_s'] * 1e3:.2f}",
                f"{full['time_s'] / prob['time_s']:.2f}×",
                f"{full['peak_mib']:.2f}",
                f"{prob['peak_mib']:.2f}",
                f"{mem_ratio:.2f}×",
                f"{dense:.1f}",
            ]
        )
    return markdown_table(TABLE_HEADER, cells, align="r" * len(TABLE_HEADER))


def _plot(results: dict, path: Path, args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for masked, style in ((False, "-"), (True, "--")):
        for kind, color in (("full", "tab:red"), ("prob", "tab:blue")):
            pts = sorted((L, r) for (k, L, m), r in results.items() if k == kind and m == masked)
            Ls = [L for L, _ in pts]
            label = f"{'ProbSparse' if kind == 'prob' else 'full (SDPA)'}{' causal' if masked else ''}"
            axes[0].plot(Ls, [r["time_s"] * 1e3 for _, r in pts], style, marker="o", color=color, label=label)
            axes[1].plot(Ls, [max(r["peak_mib"], 1e-2) for _, r in pts], style, marker="o", color=color, label=label)
    axes[0].set_ylabel("forward time (ms, median)")
    axes[1].set_ylabel("peak extra RSS (MiB)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length L")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"Self-attention forward, B={args.batch}, H={args.heads}, D={args.head_dim}, factor={args.factor}, 1 thread"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=DEFAULT_LENGTHS)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--factor", type=int, default=5)
    p.add_argument("--min-repeats", type=int, default=3)
    p.add_argument("--max-repeats", type=int, default=30)
    p.add_argument("--target-seconds", type=float, default=3.0, help="time budget per (L, masked) pair")
    p.add_argument("--out", default=str(ROOT / "benchmarks/results/attention.md"))
    p.add_argument("--plot", default=str(ROOT / "benchmarks/results/attention.png"), help="'' for no plot")
    # Internal: measure one configuration in this process.
    p.add_argument("--worker", choices=["prob", "full"], help=argparse.SUPPRESS)
    p.add_argument("--length", type=int, help=argparse.SUPPRESS)
    p.add_argument("--masked", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        _memory_worker(args)
        return

    clock = Timer()
    results: dict[tuple[str, int, bool], dict] = {}
    for masked in (False, True):
        for L in args.lengths:
            timing = _time_pair(L, masked, args)
            for kind in ("full", "prob"):
                time_s, repeats = timing[kind]
                r = {"time_s": time_s, "repeats": repeats, "peak_mib": _memory_config(kind, L, masked, args)}
                results[(kind, L, masked)] = r
                print(
                    f"{kind:4s} L={L:5d} masked={masked!s:5s} time={r['time_s'] * 1e3:9.2f} ms "
                    f"(n={r['repeats']}) peak={r['peak_mib']:8.2f} MiB",
                    flush=True,
                )
    elapsed = clock.seconds

    cmd = bench_common.command(__file__, argv)
    lines = [
        "# ProbSparse vs full self-attention: forward time and peak memory",
        "",
        f"Produced by `{cmd}` (from the repository root, {elapsed:.0f} s in total).",
        "",
        f"- Machine: {bench_common.machine(packages=('torch',))}.",
        "- **One thread**: `torch.set_num_threads(1)` in every measurement.",
        f"- Shapes: batch B={args.batch}, heads H={args.heads}, head dim D={args.head_dim}, fp32, "
        f"ProbSparse factor c={args.factor}; queries = keys = values (self-attention), random normal.",
        "- *full* = `FullAttention` (`torch.nn.functional.scaled_dot_product_attention`, which on CPU "
        "picks a fused flash-attention kernel that never materialises the L×L map); *prob* = "
        "`ProbSparseAttention` (random key sampling, as in training/inference).",
        "- Time: median of ≥ "
        f"{args.min_repeats} forward calls (up to {args.max_repeats}, ~{args.target_seconds:g} s per "
        "configuration) under `torch.no_grad()` after one warm-up call; full and ProbSparse calls "
        "alternate so that load from other jobs hits both alike. "
        f"Load average when the run ended: {bench_common.load_average()} (1/5/15 min) (other jobs were "
        "running on this shared machine, so absolute times are noisy; ratios are more robust).",
        "- Peak memory (each configuration in a fresh subprocess): extra resident memory (RSS) of one "
        "forward call = peak RSS during the call "
        "(Linux `VmHWM`, reset just before it via `/proc/self/clear_refs`) minus RSS just before it. "
        "It counts every intermediate and the output, including buffers allocated inside kernels; "
        "glibc is forced to `mmap` every block ≥ 64 KiB (`MALLOC_MMAP_THRESHOLD_=65536`) so freed "
        "memory is returned and cannot be silently reused. Page granularity: values below ~0.1 MiB "
        "are noise. The last column is what a naive attention (like the official Informer code's "
        "`einsum` FullAttention) would hold for the score matrix alone.",
        "",
    ]
    for masked in (False, True):
        rows = [(L, results[("full", L, masked)], results[("prob", L, masked)]) for L in args.lengths]
        title = "Causal (masked) self-attention (decoder)" if masked else "Unmasked self-attention (encoder)"
        lines += [f"## {title}", ""] + _table(rows, args.batch, args.heads) + [""]
        w = _wins_from(rows)
        if w is None:
            lines.append("ProbSparse is not faster than full attention at the largest length measured.")
        elif w == rows[0][0]:
            lines.append(f"ProbSparse is faster than full attention at every measured length (from L = {w} on).")
        else:
            lines.append(f"ProbSparse is faster than full attention from L = {w} on (and at every larger L measured).")
        L, full, prob = rows[-1]
        out_mib = args.batch * L * args.heads * args.head_dim * 4 / 2**20
        dense_mib = args.batch * args.heads * L * L * 4 / 2**20
        lines.append(
            f"Memory: at L = {L} the fused SDPA kernel needs little more than its output tensor "
            f"({out_mib:.1f} MiB), i.e. O(L); ProbSparse needs {prob['peak_mib'] / full['peak_mib']:.1f}× as "
            "much (output, the u × L_K scores of the active queries and their softmax, the sampled "
            f"scores: O(L log L)), which is still {dense_mib / prob['peak_mib']:.0f}× less than one dense "
            "L×L score map."
        )
        lines.append("")
    if args.plot:
        _plot(results, Path(args.plot), args)
        lines += [f"![time and memory vs L]({Path(args.plot).name})", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))


if __name__ == "__main__":
    main()
