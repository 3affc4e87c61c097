"""The accuracy benchmark's command, in --quick mode on one dataset, writes a well-formed table."""

import json
import math
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "accuracy.py"
MODELS = ["SeasonalNaive", "DeepAR", "PatchTST", "Lag-Llama", "Informer"]
HEADER = ["dataset", "model", "CRPS", "MASE", "ND", "train s", "predict s"]


def _cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _results_table(text):
    """Rows of the markdown table whose header is HEADER."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|") and _cells(line) == HEADER)
    assert set(lines[start + 1].replace("|", "")) <= {"-"}, "header is not followed by a separator"
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(_cells(line))
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("accuracy")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--datasets", "airpassengers", "--out-dir", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_quick_run_writes_one_row_per_model_with_finite_numbers(quick_run):
    text = (quick_run / "accuracy.md").read_text()
    assert "python benchmarks/accuracy.py --quick --datasets airpassengers" in text
    rows = _results_table(text)
    assert [row[1] for row in rows] == MODELS
    for row in rows:
        assert len(row) == len(HEADER), row
        assert row[0] == "airpassengers"
        for cell in row[2:]:
            value = float(cell.split("±")[0])
            assert math.isfinite(value), row
            assert value >= 0, row


def test_quick_run_writes_chart_and_raw_runs(quick_run):
    png = (quick_run / "accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    raw = json.loads((quick_run / "accuracy.json").read_text())
    assert sorted({run["model"] for run in raw["runs"]}) == sorted(MODELS)
    # The table's CRPS is the raw runs' mean (one seed in quick mode: the value itself).
    table = {row[1]: float(row[2]) for row in _results_table((quick_run / "accuracy.md").read_text())}
    for run in raw["runs"]:
        assert table[run["model"]] == pytest.approx(run["mean_wQuantileLoss"], abs=1e-4)


def test_from_json_rebuilds_the_same_table_without_training(quick_run, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--from-json", str(quick_run / "accuracy.json"), "--out-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rebuilt = (tmp_path / "accuracy.md").read_text()
    assert "Rebuilt from the saved runs" in rebuilt
    assert _results_table(rebuilt) == _results_table((quick_run / "accuracy.md").read_text())
    assert (tmp_path / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_dataset_is_a_one_line_error():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--datasets", "nope"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "nope" in proc.stderr.strip().splitlines()[-1]


def test_keep_from_reruns_only_the_named_models(quick_run, tmp_path):
    saved = json.loads((quick_run / "accuracy.json").read_text())
    for run in saved["runs"]:
        if run["model"] == "DeepAR":
            run["mean_wQuantileLoss"] = 0.123456  # a marker: this cell must come from the saved run
    (tmp_path / "saved.json").write_text(json.dumps(saved))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--datasets",
            "airpassengers",
            "--models",
            "Lag-Llama",
            "--keep-from",
            str(tmp_path / "saved.json"),
            "--out-dir",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (out / "accuracy.md").read_text()
    assert "Runs of DeepAR, Informer, PatchTST are kept from the saved run" in text
    rows = {row[1]: row for row in _results_table(text)}
    assert list(rows) == MODELS
    assert rows["DeepAR"][2] == "0.1235"
    runs = json.loads((out / "accuracy.json").read_text())["runs"]
    assert sorted(r["model"] for r in runs) == sorted(MODELS)

    # a saved run with another budget is refused, not mixed in
    saved["config"]["steps"] += 1
    (tmp_path / "other.json").write_text(json.dumps(saved))
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--datasets",
            "airpassengers",
            "--models",
            "Lag-Llama",
            "--keep-from",
            str(tmp_path / "other.json"),
            "--out-dir",
            str(tmp_path / "refused"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0 and "budget" in proc.stderr
