"""benchmarks/statistical.py: statsforecast models as GluonTS predictors, scored like any other."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("statsforecast")

import bench_common  # noqa: E402
import statistical  # noqa: E402
import zero_shot  # noqa: E402

from lagllama_gluonts.common.datasets import get_dataset  # noqa: E402


@pytest.fixture(scope="module")
def airpassengers():
    return zero_shot.repository_dataset("airpassengers")


def test_interval_levels_are_the_quantiles_central_intervals():
    assert statistical._levels(statistical.QUANTILES) == [20, 40, 60, 80]


@pytest.mark.parametrize("model", statistical.MODELS)
def test_each_model_forecasts_ordered_quantiles_after_the_history(model, airpassengers):
    predictor = statistical.StatsForecastPredictor(model, "M", 12)
    assert predictor.season_length == 12
    entry = airpassengers.test[0]
    (forecast,) = predictor.predict([entry])
    assert forecast.start_date == entry["start"] + len(entry["target"])
    q = np.stack([forecast.quantile(level) for level in statistical.QUANTILES])
    assert q.shape == (9, 12) and np.all(np.diff(q, axis=0) >= -1e-6)
    assert np.allclose(forecast.quantile(0.5), forecast.mean)
    assert predictor.fallbacks == 0


def test_the_90_percent_interval_is_the_models_own_and_leaves_the_crps_unchanged(airpassengers):
    assert statistical._levels(statistical.FORECAST_QUANTILES) == [20, 40, 60, 80, 90]
    entry = airpassengers.test[0]
    (forecast,) = statistical.StatsForecastPredictor("AutoETS", "M", 12).predict([entry])
    ends = np.stack([forecast.quantile(q) for q in (0.05, 0.1, 0.9, 0.95)])
    assert np.all(ends[0] < ends[1]) and np.all(ends[2] < ends[3])  # wider than the 80% interval
    assert "0.05" in forecast.forecast_keys and "0.95" in forecast.forecast_keys  # stored, not extrapolated
    # the Evaluator scores 0.1 ... 0.9 only: the same CRPS with or without the 90% interval's ends
    both = statistical.StatsForecastPredictor("AutoTheta", "M", 12)
    scored = statistical.StatsForecastPredictor("AutoTheta", "M", 12, quantiles=statistical.QUANTILES)
    with_ends, without = (bench_common.backtest(p, airpassengers.test, 10).metrics for p in (both, scored))
    assert with_ends["mean_wQuantileLoss"] == without["mean_wQuantileLoss"]
    assert with_ends["coverage_90"] >= with_ends["coverage_80"]


def test_scored_by_the_shared_backtest_on_rolling_windows(airpassengers):
    assert len(airpassengers.test) == zero_shot.WINDOWS["airpassengers"]
    # the latest window is the official test window; training data ends before the earliest
    (official,) = list(get_dataset("airpassengers").test)
    assert len(airpassengers.test[-1]["target"]) == len(official["target"])
    assert len(airpassengers.train[0]["target"]) == len(official["target"]) - 12 * len(airpassengers.test)
    theta = bench_common.backtest(statistical.StatsForecastPredictor("AutoTheta", "M", 12), airpassengers.test, 10)
    naive = bench_common.backtest(zero_shot.seasonal_naive_baseline("M", 12), airpassengers.test, 10)
    assert theta.num_series == 4
    assert theta.metrics["mean_wQuantileLoss"] < naive.metrics["mean_wQuantileLoss"]  # trend + season beat naive


def test_a_failed_fit_falls_back_to_seasonal_naive_and_is_counted(monkeypatch):
    predictor = statistical.StatsForecastPredictor("AutoARIMA", "M", 6)

    def broken():
        raise RuntimeError("no fit")

    monkeypatch.setattr(predictor, "_make", broken)
    y = np.arange(30, dtype=float)
    y[-3] = np.nan  # a gap in the history is carried over, not propagated
    (forecast,) = predictor.predict([{"start": pd.Period("2000-01", freq="M"), "target": y}])
    assert predictor.fallbacks == 1
    assert np.allclose(forecast.mean, np.resize(np.r_[y[-12:-3], 26.0, 26.0, 29.0], 6))
    assert np.all(forecast.quantile(0.1) < forecast.quantile(0.9))


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="AutoETS"):
        statistical.StatsForecastPredictor("Prophet", "M", 12)


def test_pretraining_runs_are_compared_zero_shot_beside_the_statistical_models(tmp_path):
    from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT

    out, cache = tmp_path / "runs.md", tmp_path / "cache.json"
    zero_shot.main(
        [
            "--compare-checkpoints",
            f"a={BUNDLED_CHECKPOINT}",
            f"b={BUNDLED_CHECKPOINT}",
            "--datasets",
            "airpassengers",
            "--num-samples",
            "20",
            "--cache",
            str(cache),
            "--out",
            str(out),
        ]
    )
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| airpassengers"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert len(cells) == 7 and cells[5] == cells[6]  # one checkpoint twice, one seed: the same score
    assert all(float(c) > 0 for c in cells[1:4])  # SeasonalNaive, AutoETS, AutoTheta (AutoARIMA too: season 12)
    assert "| a " in text and "geometric mean" in text and f"- **b** (`{BUNDLED_CHECKPOINT.name}`)" in text
    assert "a CRPS below AutoETS's on" in text and cache.exists()  # the statistical scores were cached
