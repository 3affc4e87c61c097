"""Strict JSON: every JSON file the package writes parses with any JSON reader (no bare NaN)."""

import ast
import json

import numpy as np
import pandas as pd
import pytest
from gluonts.dataset.common import ListDataset

from lagllama_gluonts.common import evaluation, jsonio
from lagllama_gluonts.common.reporting import write_report

from conftest import REPO_ROOT


def strict_loads(text: str):
    """``json.loads`` as a reader that knows only JSON: NaN, Infinity and -Infinity are errors."""

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_the_strict_reader_refuses_what_pythons_json_writes():
    with pytest.raises(ValueError, match="NaN"):
        strict_loads(json.dumps({"MASE": float("nan")}))


def test_non_finite_numbers_are_null_and_the_rest_unchanged():
    value = {
        "nan": float("nan"),
        "inf": [float("inf"), -np.inf],
        "numpy": (np.float32("nan"), np.float64(1.5), np.int64(3), np.float32(0.25)),
        "nested": {"x": [1, "a", None, True]},
    }
    assert strict_loads(jsonio.dumps(value)) == {
        "nan": None,
        "inf": [None, None],
        "numpy": [None, 1.5, 3, 0.25],
        "nested": {"x": [1, "a", None, True]},
    }
    with pytest.raises(TypeError):  # what default=float refused before, it still refuses
        jsonio.dumps({"object": object()})


def test_a_metrics_file_with_a_nan_metric_is_strict_json(tmp_path):
    """A constant series: GluonTS scores OWA (and MASE's scale) as NaN; metrics.json says null."""
    series = ListDataset([{"start": pd.Period("2020-01-01", "h"), "target": np.ones(60, "float32")}], freq="h")
    models = {"SeasonalNaive": evaluation.seasonal_naive_baseline("h", 12)}
    metrics, forecasts, tss = evaluation.backtest_side_by_side(models, series, num_samples=10, progress=False)
    assert np.isnan(metrics["SeasonalNaive"]["OWA"])
    path, _ = write_report(tmp_path, {"metrics": metrics}, forecasts, tss, "constant")
    assert strict_loads(path.read_text())["metrics"]["SeasonalNaive"]["OWA"] is None


def json_writes(path):
    """Lines of ``path`` that call ``json.dump`` or ``json.dumps``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("dump", "dumps"):
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "json":
                yield node.lineno


def test_every_json_the_packages_write_goes_through_the_strict_writer():
    jsonio_file = REPO_ROOT / "lagllama_gluonts" / "common" / "jsonio.py"
    files = sorted(
        p for package in ("lagllama_gluonts", "informer_gluonts") for p in (REPO_ROOT / package).rglob("*.py")
    )
    found = [f"{p.relative_to(REPO_ROOT)}:{line}" for p in files if p != jsonio_file for line in json_writes(p)]
    assert found == [], "write JSON with lagllama_gluonts.common.jsonio (NaN as null): " + ", ".join(found)
    assert list(json_writes(jsonio_file))  # the check sees a call where there is one
