"""benchmarks/bench_common.py: machine line, command line, date, timer, markdown tables, timed backtest."""

import os
import platform
import re
import sys
import time
from datetime import datetime, timedelta, timezone

import bench_common
import numpy as np
import pandas as pd
import pytest
import torch
from bench_common import Timer, backtest, markdown_table

from conftest import REPO_ROOT

# --------------------------------------------------------------------------- machine


def release(version: str) -> str:
    """``2.13.0`` of ``2.13.0+cu126``: the distribution's version string and ``torch.__version__``
    differ in the local part on some builds (PyPI's CUDA wheels say ``2.13.0``, the module
    ``2.13.0+cu126``), so only the release is compared."""
    return version.split("+")[0]


@pytest.mark.parametrize("local", ["", "+cu126"], ids=["as-installed", "cuda-build"])
def test_machine_names_cpu_cores_os_python_and_package_versions(local, monkeypatch):
    if local:  # a CUDA build, whatever this machine has: the module's version has a local part
        monkeypatch.setattr(torch, "__version__", release(torch.__version__) + local)
    line = bench_common.machine()
    assert "\n" not in line
    assert bench_common.cpu_model() in line
    assert f"{os.cpu_count()} logical CPUs" in line
    assert f"Python {platform.python_version()}" in line
    shown = re.search(r"torch (\S+?)(,|$)", line).group(1)
    assert release(shown) == release(torch.__version__), (shown, torch.__version__)
    import gluonts

    assert f"gluonts {gluonts.__version__}" in line


def test_machine_lists_only_the_packages_asked_for():
    line = bench_common.machine(packages=("no-such-distribution-xyz",))
    assert "torch" not in line
    assert line.endswith("no-such-distribution-xyz not installed")


def test_cpu_model_and_load_average_are_plain_text():
    assert bench_common.cpu_model().strip()
    load = bench_common.load_average()
    assert load == "unknown" or re.fullmatch(r"\d+\.\d\d / \d+\.\d\d / \d+\.\d\d", load), load


# --------------------------------------------------------------------------- command and date


def test_command_is_the_script_path_from_the_repository_root_and_quoted_arguments():
    script = REPO_ROOT / "benchmarks" / "accuracy.py"
    assert bench_common.command(str(script), ["--quick", "--datasets", "airpassengers"]) == (
        "python benchmarks/accuracy.py --quick --datasets airpassengers"
    )
    assert bench_common.command(str(script), []) == "python benchmarks/accuracy.py"
    assert bench_common.command(str(script), ["--plot", "", "--out", "a b.md"]) == (
        "python benchmarks/accuracy.py --plot '' --out 'a b.md'"
    )


def test_command_defaults_to_the_command_lines_arguments(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["benchmarks/speed.py", "--quick"])
    assert bench_common.script_argv() == ["--quick"]
    assert bench_common.script_argv(["--x", 1]) == ["--x", "1"]
    assert bench_common.command(str(REPO_ROOT / "benchmarks" / "speed.py")) == "python benchmarks/speed.py --quick"


def test_utc_stamp():
    when = datetime(2026, 1, 2, 3, 4, 59, tzinfo=timezone.utc)
    assert bench_common.utc_stamp(when) == "2026-01-02 03:04 UTC"
    assert bench_common.utc_stamp(when.astimezone(timezone(timedelta(hours=2)))) == "2026-01-02 03:04 UTC"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", bench_common.utc_stamp())


# --------------------------------------------------------------------------- timer


def test_timer_measures_the_block_and_then_stands_still():
    with Timer() as t:
        time.sleep(0.05)
    assert 0.05 <= t.seconds < 5
    frozen = t.seconds
    time.sleep(0.01)
    assert t.seconds == frozen
    assert t.minutes == pytest.approx(frozen / 60)


def test_timer_outside_a_block_runs_from_its_creation():
    t = Timer()
    first = t.seconds
    time.sleep(0.02)
    assert t.seconds >= first + 0.02


# --------------------------------------------------------------------------- markdown


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_markdown_table_pads_every_column_to_its_widest_cell():
    lines = markdown_table(["model", "CRPS"], [["SeasonalNaive", 0.1], ["DeepAR", "0.0123"]])
    assert lines == [
        "| model         | CRPS   |",
        "|---------------|--------|",
        "| SeasonalNaive | 0.1    |",
        "| DeepAR        | 0.0123 |",
    ]
    assert len({len(line) for line in lines}) == 1
    assert [_cells(line) for line in lines[2:]] == [["SeasonalNaive", "0.1"], ["DeepAR", "0.0123"]]


def test_markdown_table_alignment_markers_and_right_padding():
    lines = markdown_table(["L", "time (ms)", "note"], [[96, "1.50", "x"], [8192, "120.25", "long note"]], align="rrc")
    assert lines[1] == "|-----:|----------:|:---------:|"
    assert lines[2] == "|   96 |      1.50 |     x     |"
    assert lines[3] == "| 8192 |    120.25 | long note |"
    assert len({len(line) for line in lines}) == 1
    left = markdown_table(["a"], [["b"]], align=["l"])
    assert left == ["| a   |", "|:----|", "| b   |"]


def test_markdown_table_without_rows_is_a_header_and_a_separator():
    assert markdown_table(["a", "bb"], []) == ["| a   | bb  |", "|-----|-----|"]


@pytest.mark.parametrize(
    "header, rows, align",
    [
        (["a", "b"], [["1"]], None),  # a row with too few cells
        (["a", "b"], [["1", "2"]], "r"),  # an alignment per column is needed
        (["a"], [["1"]], "x"),  # an unknown alignment
    ],
)
def test_markdown_table_refuses_a_malformed_table(header, rows, align):
    with pytest.raises(ValueError):
        markdown_table(header, rows, align=align)


# --------------------------------------------------------------------------- backtest


@pytest.fixture(scope="module")
def tiny_test_split():
    rng = np.random.default_rng(0)
    start = pd.Period("2020-01-01", freq="D")
    return [
        {
            "start": start,
            "target": (10 + np.sin(np.arange(60) / 7 * 2 * np.pi) + rng.normal(0, 0.1, 60)).astype(np.float32),
            "item_id": str(i),
        }
        for i in range(3)
    ]


def test_backtest_is_the_shared_run_backtest_timed(tiny_test_split):
    from lagllama_gluonts.common.evaluation import run_backtest, seasonal_naive_baseline

    predictor = seasonal_naive_baseline("D", 7)
    expected, _, _ = run_backtest(predictor, tiny_test_split, num_samples=10, progress=False)
    result = backtest(predictor, tiny_test_split, num_samples=10)
    assert result.num_series == 3
    assert result.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, nan_ok=True), name
    assert 0 < result.predict_s <= result.seconds

    chosen = backtest(predictor, tiny_test_split, num_samples=10, metrics=("mean_wQuantileLoss", "MASE"))
    assert list(chosen.metrics) == ["mean_wQuantileLoss", "MASE"]
    assert all(type(v) is float for v in chosen.metrics.values())
    assert chosen.metrics["MASE"] == pytest.approx(expected["MASE"])


def test_backtest_seed_repeats_sampled_forecasts(tiny_test_split):
    from gluonts.model.forecast import SampleForecast
    from gluonts.model.predictor import RepresentablePredictor

    class Noise(RepresentablePredictor):
        def predict_item(self, item):
            paths = torch.randn(20, self.prediction_length).numpy() + item["target"][-1]
            return SampleForecast(paths, start_date=item["start"] + len(item["target"]))

    predictor = Noise(prediction_length=7)
    first = backtest(predictor, tiny_test_split, num_samples=20, seed=3).metrics
    again = backtest(predictor, tiny_test_split, num_samples=20, seed=3).metrics
    other = backtest(predictor, tiny_test_split, num_samples=20, seed=4).metrics
    assert first["mean_wQuantileLoss"] == again["mean_wQuantileLoss"]
    assert first["mean_wQuantileLoss"] != other["mean_wQuantileLoss"]


# --------------------------------------------------------------------------- one copy


def test_no_script_keeps_its_own_machine_description_or_markdown_separator():
    # the scripts (helper modules such as statistical.py write no report of their own)
    scripts = [
        p
        for p in (REPO_ROOT / "benchmarks").glob("*.py")
        if p.name != "bench_common.py" and "__main__" in p.read_text()
    ]
    assert len(scripts) >= 6
    for script in scripts:
        text = script.read_text()
        assert "import bench_common" in text, script.name
        assert "/proc/cpuinfo" not in text, script.name
        assert "platform." not in text, script.name
        assert "|---" not in text, script.name
