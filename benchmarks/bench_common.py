"""What every benchmark script writes about its own run, written once: the machine it ran on,
the command that made it, its date, timings, markdown tables, and a timed backtest.

The scripts are run as ``python benchmarks/X.py``; Python then puts ``benchmarks/`` first on
``sys.path``, so they ``import bench_common`` (tests put ``benchmarks/`` on ``sys.path`` the same
way). The name is not ``common``: in the test process that is the ``tests/common`` package.
Importing this module also puts the repository root on ``sys.path``, so that a script runs from
a checkout whether or not the package is installed, and makes the checkout's sibling
``shared/datasets/mirror`` the repository datasets' mirror (``$LAGLLAMA_GLUONTS_MIRROR``,
unless already set): the package assumes no mirror, the benchmarks measure on this one.

Nothing here imports torch, GluonTS or the package at import time: the attention benchmark's
memory workers import this module and must start fast.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

BENCHMARKS = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
# the shared data beside the checkout (CI's layout): the datasets' mirror and the corpus
SHARED = REPO_ROOT.parent / "shared"
MIRROR_ENV_VAR = "LAGLLAMA_GLUONTS_MIRROR"  # lagllama_gluonts.common.datasets', not imported here (see above)

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
# the scripts, and the command lines they start, read repository datasets from this mirror
os.environ.setdefault(MIRROR_ENV_VAR, str(SHARED / "datasets" / "mirror"))


# --------------------------------------------------------------------------- the machine


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (else what :mod:`platform` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def package_version(name: str) -> str:
    """An installed distribution's version, read without importing it."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(packages: Sequence[str] = ("torch", "gluonts")) -> str:
    """One line for a report: CPU, logical CPUs, OS, Python and the given packages' versions."""
    parts = [
        f"{cpu_model()}, {os.cpu_count()} logical CPUs (shared with other jobs)",
        f"{platform.system() or 'unknown OS'} {platform.release()}",
        f"Python {platform.python_version()}",
    ]
    parts += [f"{name} {package_version(name)}" for name in packages]
    return ", ".join(parts)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages as ``"a / b / c"`` (``"unknown"`` where there are none)."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# --------------------------------------------------------------------------- the command and the date


def script_argv(argv: Optional[Sequence[str]] = None) -> List[str]:
    """The script's arguments: ``argv`` when given (tests, other scripts), else the command line's."""
    return sys.argv[1:] if argv is None else [str(a) for a in argv]


def command(script: str, argv: Optional[Sequence[str]] = None) -> str:
    """The command that made a report, as run from the repository root: ``python benchmarks/X.py ARGS``.

    ``script`` is the script's ``__file__``; arguments are shell-quoted, so the line can be pasted.
    """
    path = Path(script).resolve()
    try:
        shown = path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        shown = str(path)
    return shlex.join(["python", shown, *script_argv(argv)])


def utc_stamp(when: Optional[datetime] = None) -> str:
    """``YYYY-MM-DD HH:MM UTC`` of ``when`` (default: now)."""
    when = when or datetime.now(timezone.utc)
    return f"{when.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


# --------------------------------------------------------------------------- timing


class Timer:
    """Wall-clock seconds (``time.perf_counter``).

    ``with Timer() as t: ...`` then ``t.seconds`` is the time the block took; a ``Timer()`` not
    used as a context manager runs from its creation, and ``seconds`` is the time so far.
    """

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._end: Optional[float] = None

    def __enter__(self) -> "Timer":
        self._start, self._end = time.perf_counter(), None
        return self

    def __exit__(self, *exc) -> bool:
        self._end = time.perf_counter()
        return False

    @property
    def seconds(self) -> float:
        end = self._end if self._end is not None else time.perf_counter()
        return end - self._start

    @property
    def minutes(self) -> float:
        return self.seconds / 60


# --------------------------------------------------------------------------- markdown


_SEPARATORS = {
    None: lambda w: "-" * (w + 2),
    "l": lambda w: ":" + "-" * (w + 1),
    "r": lambda w: "-" * (w + 1) + ":",
    "c": lambda w: ":" + "-" * w + ":",
}


def geometric_mean(values: Sequence[float]) -> Optional[float]:
    """The geometric mean of positive ``values`` (how every benchmark averages ratios to a
    baseline over datasets); None when there are none."""
    import numpy as np  # here: bench_common's other helpers run before numpy is wanted

    values = list(values)
    return float(np.exp(np.mean(np.log(values)))) if values else None


def markdown_table(header: Sequence, rows: Sequence[Sequence], align: Optional[Sequence] = None) -> List[str]:
    """The lines of a markdown table, every column padded to its widest cell.

    Parameters
    ----------
    header
        Column titles.
    rows
        One sequence of cells per row, as many as the header; cells are shown with ``str``.
    align
        Per column ``"l"``, ``"r"``, ``"c"`` or ``None`` (markdown's default, no colon), e.g.
        ``"lrr"``; ``None`` for all columns. Right-aligned columns are also padded on the left.
    """
    header = [str(c) for c in header]
    rows = [[str(c) for c in row] for row in rows]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header {len(header)}: {row}")
    align = [None] * len(header) if align is None else [a or None for a in align]
    if len(align) != len(header):
        raise ValueError(f"{len(align)} alignments for {len(header)} columns")
    unknown = set(align) - set(_SEPARATORS)
    if unknown:
        raise ValueError(f"unknown alignment {sorted(map(str, unknown))}; use 'l', 'r', 'c' or None")
    widths = [max(3, *(len(r[i]) for r in [header] + rows)) for i in range(len(header))]

    def line(cells):
        padded = [
            cell.rjust(w) if a == "r" else cell.center(w) if a == "c" else cell.ljust(w)
            for cell, w, a in zip(cells, widths, align)
        ]
        return "| " + " | ".join(padded) + " |"

    separator = "|" + "|".join(_SEPARATORS[a](w) for a, w in zip(align, widths)) + "|"
    return [line(header), separator] + [line(row) for row in rows]


# --------------------------------------------------------------------------- backtests


class Backtest(NamedTuple):
    """One scored backtest: metrics, seconds spent forecasting alone, seconds in all (with
    scoring), and how many series were forecast."""

    metrics: Dict[str, float]
    predict_s: float
    seconds: float
    num_series: int


class _ClockedPredictor:
    """A predictor that adds the time spent producing each forecast to ``seconds``."""

    def __init__(self, predictor) -> None:
        self._predictor = predictor
        self.seconds = 0.0

    def __getattr__(self, name):  # prediction_length, lead_time ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._predictor, name)

    def predict(self, dataset, **kwargs):
        forecasts = iter(self._predictor.predict(dataset, **kwargs))
        while True:
            started = time.perf_counter()
            try:
                forecast = next(forecasts)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - started
            yield forecast


def backtest(
    predictor, test_data, num_samples: int, metrics: Optional[Sequence[str]] = None, seed: Optional[int] = None
) -> Backtest:
    """:func:`lagllama_gluonts.common.evaluation.run_backtest` (the last ``prediction_length``
    steps of each test series, GluonTS ``Evaluator`` with the shared quantiles), timed, quiet.

    ``metrics``: keep only these aggregate metrics, as floats (all when ``None``). ``seed``:
    ``torch.manual_seed`` right before forecasting, so sampled paths repeat.
    """
    from lagllama_gluonts.common.evaluation import run_backtest

    if seed is not None:
        import torch

        torch.manual_seed(seed)
    clocked = _ClockedPredictor(predictor)
    with Timer() as total:
        agg, forecasts, _ = run_backtest(clocked, test_data, num_samples=num_samples, progress=False)
    if metrics is not None:
        agg = {name: float(agg[name]) for name in metrics}
    return Backtest(agg, clocked.seconds, total.seconds, len(forecasts))
