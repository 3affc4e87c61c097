"""Tests for the shared backtest, metrics-table and plotting helpers."""

import math

import numpy as np
import pytest

from lagllama_gluonts.common.datasets import get_dataset
from lagllama_gluonts.common.evaluation import (
    backtest_metrics_table,
    run_backtest,
    seasonal_naive_baseline,
)
from lagllama_gluonts.common.plots import plot_forecasts

from conftest import PNG_MAGIC


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gluonts_cache")


@pytest.fixture(scope="module")
def airpassengers(cache):
    return get_dataset("airpassengers", path=cache)


@pytest.fixture(scope="module")
def exchange_rate(cache):
    return get_dataset("exchange_rate", path=cache)


def baseline_for(ds):
    return seasonal_naive_baseline(ds.metadata.freq, ds.metadata.prediction_length)


def baseline_for_freq(freq):
    return seasonal_naive_baseline(freq, prediction_length=7)


def test_seasonal_naive_baseline_uses_frequency_seasonality():
    assert baseline_for_freq("1M").season_length == 12
    assert baseline_for_freq("1h").season_length == 24
    assert baseline_for_freq("1B").season_length == 5
    explicit = seasonal_naive_baseline("1h", 24, season_length=168)
    assert explicit.season_length == 168
    assert explicit.prediction_length == 24


def test_run_backtest_airpassengers(airpassengers):
    agg, forecasts, tss = run_backtest(baseline_for(airpassengers), airpassengers.test, progress=False)
    assert len(forecasts) == len(tss) == 1
    for key in ("mean_wQuantileLoss", "MASE", "sMAPE", "ND", "NRMSE", "MSE"):
        assert math.isfinite(agg[key]), key

    # Seasonal naive repeats the last observed year, so its error can be
    # recomputed from the raw series alone.
    target = np.asarray(list(airpassengers.test)[0]["target"], dtype=float)
    truth, last_year = target[-12:], target[-24:-12]
    np.testing.assert_allclose(forecasts[0].quantile(0.5), last_year)
    np.testing.assert_allclose(agg["abs_error"], np.abs(truth - last_year).sum())
    np.testing.assert_allclose(agg["ND"], np.abs(truth - last_year).sum() / np.abs(truth).sum(), rtol=1e-6)
    assert len(tss[0]) == 144
    assert forecasts[0].start_date == tss[0].index[-12]


def test_run_backtest_max_series(exchange_rate):
    agg, forecasts, tss = run_backtest(baseline_for(exchange_rate), exchange_rate.test, max_series=3, progress=False)
    assert len(forecasts) == len(tss) == 3
    assert forecasts[0].prediction_length == 30
    assert all(math.isfinite(v) for k, v in agg.items() if k != "OWA")
    with pytest.raises(ValueError):
        run_backtest(baseline_for(exchange_rate), exchange_rate.test, max_series=0)


def test_metrics_table(airpassengers):
    agg, _, _ = run_backtest(baseline_for(airpassengers), airpassengers.test, progress=False)
    table = backtest_metrics_table(agg)
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value"]
    assert "mean_wQuantileLoss" in table
    assert any(line.split()[0] == "MASE" for line in lines[2:])
    # Every row is aligned to the same width.
    assert len({len(line) for line in lines}) == 1
    shown = {line.split()[0]: float(line.split()[1]) for line in lines[2:]}
    assert shown["mean_wQuantileLoss"] == pytest.approx(agg["mean_wQuantileLoss"], rel=1e-5)
    with pytest.raises(ValueError):
        backtest_metrics_table({"unrelated": 1.0})


def test_plot_forecasts_writes_png(exchange_rate, tmp_path):
    _, forecasts, tss = run_backtest(baseline_for(exchange_rate), exchange_rate.test, max_series=5, progress=False)
    out = plot_forecasts(forecasts, tss, tmp_path / "plots" / "fc.png", num_series=3, title="test")
    assert out == tmp_path / "plots" / "fc.png"
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000

    single = plot_forecasts(forecasts, tss, tmp_path / "one.png", num_series=1, history=10)
    assert single.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError):
        plot_forecasts([], [], tmp_path / "none.png")


def test_holdout_last_window_is_the_one_rule():
    import pandas as pd

    from lagllama_gluonts.common.evaluation import holdout_last_window
    from lagllama_gluonts.common.validation import DataError

    start = pd.Period("2021-01-01", freq="D")
    data = [
        {"start": start, "target": np.arange(20.0), "item_id": "long"},
        {"start": start, "target": np.arange(8.0), "item_id": "short"},  # <= 2 * 4: left out
        {"start": start, "target": np.ones((3, 12)), "item_id": "multivariate"},  # time is the last axis
    ]
    fit, validation = holdout_last_window(data, prediction_length=4)
    assert [e["item_id"] for e in fit] == ["long", "multivariate"] == [e["item_id"] for e in validation]
    assert fit[0]["target"].tolist() == list(range(16)) and fit[1]["target"].shape == (3, 8)
    assert validation[0]["target"] is data[0]["target"]
    with pytest.raises(DataError, match="no series has 9 or more steps"):
        holdout_last_window(data[1:2], prediction_length=4)


def test_report_files_have_the_same_names_for_every_model(exchange_rate, tmp_path):
    import json

    from lagllama_gluonts.common.evaluation import FORECASTS_PNG, METRICS_FILE, backtest_side_by_side, write_report

    naive = seasonal_naive_baseline(exchange_rate.metadata.freq, exchange_rate.metadata.prediction_length)
    metrics, forecasts, tss = backtest_side_by_side(
        {"A": naive, "B": naive}, exchange_rate.test, max_series=2, progress=False
    )
    assert set(metrics) == {"A", "B"} and metrics["A"]["mean_wQuantileLoss"] == metrics["B"]["mean_wQuantileLoss"]
    write_report(tmp_path, {"metrics": metrics}, forecasts, tss, "t")
    assert (METRICS_FILE, FORECASTS_PNG) == ("metrics.json", "forecasts.png")
    assert json.loads((tmp_path / METRICS_FILE).read_text())["metrics"]["A"]["predict_seconds"] >= 0
    assert (tmp_path / FORECASTS_PNG).read_bytes()[:8] == PNG_MAGIC
