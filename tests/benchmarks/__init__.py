"""Tests of the benchmark scripts (``benchmarks/*.py``), one module per script.

``benchmarks/`` goes on ``sys.path`` here, so the tests import a script (``import lagllama_backtest``)
and its helper (``import bench_common``) the way ``python benchmarks/X.py`` does.
"""

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))
