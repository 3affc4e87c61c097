"""Calibration from rolling windows (``common/calibration.py``) and the interval coverage every
report shows (``common/backtesting.py``): the no-look-ahead rule, a too-narrow and a too-wide
toy predictor brought to nominal coverage, coverage by hand, and ``--calibrate-windows`` on
both CLIs."""

import json

import numpy as np
import pandas as pd
import pytest
from gluonts.model.forecast import QuantileForecast, SampleForecast
from gluonts.model.predictor import RepresentablePredictor

from lagllama_gluonts.common.backtesting import interval_metrics, interval_tallies, rolling_backtest
from lagllama_gluonts.common.calibration import CalibratedPredictor, conformal_adjustment
from lagllama_gluonts.common.errors import DataError

from conftest import INFORMER_FAST_OPTIONS, LAGLLAMA_FAST_OPTIONS, corpus_tail

H = 6


class GaussianGuess(RepresentablePredictor):
    """Forecasts N(0, spread^2) for every step, deterministically (fixed normal scores)."""

    def __init__(self, prediction_length: int, spread: float):
        super().__init__(prediction_length=prediction_length)
        self.spread = spread

    def predict_item(self, item):
        draws = np.random.default_rng(0).standard_normal((200, self.prediction_length))
        start = item["start"] + len(item["target"])
        return SampleForecast(samples=self.spread * draws, start_date=start, item_id=item.get("item_id"))


def noise(items: int, length: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    return [
        {"start": pd.Period("2021-01-01", "h"), "target": rng.standard_normal(length), "item_id": f"n{i}"}
        for i in range(items)
    ]


def coverage_80(predictor, data, windows):
    result = rolling_backtest(data, predictor, H, windows=windows, baseline=False, progress=False)
    return result.metrics["model"]


def test_too_narrow_predictor_is_widened_to_nominal_coverage():
    data = noise(items=30, length=40 * H)
    narrow = GaussianGuess(H, spread=0.1)  # a tenth of the true spread
    raw = coverage_80(narrow, data, windows=4)
    calibrated = coverage_80(CalibratedPredictor(narrow, windows=10), data, windows=4)
    assert raw["coverage_80"] < 0.2
    assert abs(calibrated["coverage_80"] - 0.8) <= 0.05
    assert abs(calibrated["coverage_90"] - 0.9) <= 0.05
    assert calibrated["width_80"] > 5 * raw["width_80"]
    assert calibrated["mean_wQuantileLoss"] < raw["mean_wQuantileLoss"]


def test_too_wide_predictor_is_narrowed():
    data = noise(items=30, length=40 * H, seed=2)
    wide = GaussianGuess(H, spread=5.0)
    raw = coverage_80(wide, data, windows=4)
    calibrated = coverage_80(CalibratedPredictor(wide, windows=10), data, windows=4)
    assert raw["coverage_80"] > 0.99
    assert abs(calibrated["coverage_80"] - 0.8) <= 0.05
    assert calibrated["width_80"] < raw["width_80"] / 2


def test_no_look_ahead_in_a_rolling_backtest():
    """Windows before a change in the data get the very same calibrated forecasts; the window
    whose past holds the change does not (the test can fail)."""
    windows = 4
    data = noise(items=3, length=30 * H, seed=3)
    wild = [dict(entry, target=entry["target"].copy()) for entry in data]
    wild[0]["target"][-2 * H :] += 1e3  # window 2's horizon and window 3's: wildly different
    calibrated = CalibratedPredictor(GaussianGuess(H, spread=0.5), windows=5)

    def forecasts(dataset):
        result = rolling_backtest(dataset, calibrated, H, windows=windows, baseline=False, progress=False, plot_items=3)
        return {(item, k): f for item, _, by in result.examples for k, f in enumerate(by["model"])}

    before, after = forecasts(data), forecasts(wild)
    for item in ("n0", "n1", "n2"):
        for k in range(windows - 1):  # windows 0-2 end before window 2's horizon reaches their past
            np.testing.assert_array_equal(before[item, k].forecast_array, after[item, k].forecast_array)
    # window 3 of n0 calibrates on window 2's horizon: its intervals move
    assert not np.allclose(before["n0", 3].forecast_array, after["n0", 3].forecast_array)


def test_calibrated_forecast_is_a_quantile_forecast_the_evaluator_reads():
    data = noise(items=2, length=20 * H)
    forecast = next(iter(CalibratedPredictor(GaussianGuess(H, 1.0), windows=3).predict(data)))
    assert isinstance(forecast, QuantileForecast)
    assert forecast.info["calibration_windows"] == 6  # both items' windows, pooled
    levels = [0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.975]
    stacked = np.stack([forecast.quantile(q) for q in levels])
    assert (np.diff(stacked, axis=0) >= 0).all()  # no crossing
    assert forecast.mean.shape == (H,)


def test_conformal_adjustment_is_the_finite_sample_quantile():
    # 9 scores 1..9 at level 0.8: k = ceil(10 * 0.8) = 8 -> 8; at 0.5: k = 5 -> 5
    scores = np.arange(1.0, 10.0)[:, None, None] * np.ones((1, 2, 1))
    np.testing.assert_allclose(conformal_adjustment(scores, (0.8, 0.5))[:, 0], [8.0, 5.0])
    # at 0.95 k = ceil(9.5) = 10 > 9: clipped to the largest; missing scores are not counted
    np.testing.assert_allclose(conformal_adjustment(scores[:, :1], (0.95,))[0], [9.0])
    with_gap = np.concatenate([scores[:, :1], np.full((3, 1, 1), np.nan)])
    np.testing.assert_allclose(conformal_adjustment(with_gap, (0.8,))[0], [8.0])
    assert conformal_adjustment(np.empty((0, 1, 3)), (0.8,)).tolist() == [[0.0, 0.0, 0.0]]


def test_coverage_and_width_from_quantiles_by_hand():
    """Quantiles 0.05/0.1/0.25/0.75/0.9/0.95 of a hand-made forecast, four steps."""
    keys = ["0.05", "0.1", "0.25", "0.5", "0.75", "0.9", "0.95"]
    arrays = np.array([[-3] * 4, [-2] * 4, [-1] * 4, [0] * 4, [1] * 4, [2] * 4, [3] * 4], dtype=float)
    forecast = QuantileForecast(arrays, pd.Period("2021-01-01", "h"), keys)
    truth = np.array([0.5, -1.0, 2.5, np.nan])  # in the 50% (end included), in 50%, only in 90%, missing
    tallies = interval_tallies(forecast, truth)
    metrics = interval_metrics(pd.DataFrame([tallies]))
    assert metrics["coverage_50"] == pytest.approx(2 / 3)
    assert metrics["coverage_80"] == pytest.approx(2 / 3)
    assert metrics["coverage_90"] == pytest.approx(1.0)
    # widths 2, 4, 6 on 3 observed steps over sum |y| = 4
    assert metrics["width_50"] == pytest.approx(6 / 4)
    assert metrics["width_90"] == pytest.approx(18 / 4)


def test_multivariate_series_is_a_clear_error():
    entry = {"start": pd.Period("2021-01-01", "h"), "target": np.zeros((2, 100)), "item_id": "m"}
    with pytest.raises(DataError, match="univariate") as error:
        list(CalibratedPredictor(GaussianGuess(H, 1.0), windows=2).predict([entry]))
    assert error.value.field == "target"


# --------------------------------------------------------------------------- the CLIs


@pytest.fixture
def meters(tmp_path):
    frame = pd.concat([corpus_tail(name, 260).assign(meter=name) for name in ("SF_hospital_load", "SF_PV")])
    path = tmp_path / "meters.csv"
    frame[["meter", "ds", "y"]].to_csv(path, index=False)
    return path


TABLE = ["--item-column", "meter", "--target", "y", "--prediction-length", "12", "--calibrate-windows", "3"]


@pytest.mark.parametrize(
    "module, options, name",
    [("lagllama_gluonts", LAGLLAMA_FAST_OPTIONS, "Lag-Llama"), ("informer_gluonts", INFORMER_FAST_OPTIONS, "Informer")],
)
def test_backtest_reports_the_calibrated_model_beside_the_raw_one(module, options, name, meters, tmp_path, capsys):
    import importlib

    cli = importlib.import_module(f"{module}.cli")
    out = tmp_path / "bt"
    code = cli.main(["backtest", "--csv", str(meters), *TABLE, "--windows", "2", "--out", str(out), *options])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"{name} calibrated" in printed and "coverage_80" in printed
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert set(metrics) == {name, f"{name} calibrated", "SeasonalNaive"}
    for model in metrics.values():
        assert 0.0 <= model["coverage_80"] <= 1.0 and model["width_80"] >= 0
    items = pd.read_csv(out / "item_metrics.csv")
    assert {"coverage_50", "coverage_90", "width_80"} <= set(items.columns)


@pytest.mark.parametrize(
    "module, options", [("lagllama_gluonts", LAGLLAMA_FAST_OPTIONS), ("informer_gluonts", INFORMER_FAST_OPTIONS)]
)
def test_forecast_with_calibration_writes_a_table(module, options, meters, tmp_path):
    import importlib

    cli = importlib.import_module(f"{module}.cli")
    output = tmp_path / "f.csv"
    code = cli.main(
        ["forecast", "--csv", str(meters), *TABLE, "--output", str(output), "--out", str(tmp_path), *options]
    )
    assert code == 0
    frame = pd.read_csv(output)
    assert len(frame) == 24
    quantiles = frame[[f"q{q / 10:g}" for q in range(1, 10)]].to_numpy()
    assert (np.diff(quantiles, axis=1) >= 0).all()
