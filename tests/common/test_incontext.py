"""In-context covariates (:mod:`lagllama_gluonts.common.incontext`): a planted linear effect is
recovered and carried over the horizon, a covariate-free series is forecast exactly as without
covariates, a covariate of pure noise costs no more than noise, past-only covariates enter lagged
by the horizon, and the command line uses them zero-shot, scored with and without."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.model.forecast import QuantileForecast

from lagllama_gluonts import load_predictor
from lagllama_gluonts.cli import main
from lagllama_gluonts.common.errors import DataError
from lagllama_gluonts.common.incontext import InContextCovariates, features, fit

from conftest import LAGLLAMA_FAST_OPTIONS as FAST

T, H = 240, 24
START = pd.Period("2021-01-01 00:00", freq="h")


@pytest.fixture(scope="module")
def lagllama():
    return load_predictor(None, prediction_length=H, context_length=32, num_parallel_samples=40, device="cpu")


def driver(rng, steps=T + H):
    """A smooth, slowly wandering covariate (a temperature-like signal)."""
    return np.sin(np.arange(steps) * 2 * np.pi / 24) + 0.3 * rng.normal(size=steps).cumsum() * 0.3


def entry(target, known=None, past=None, item="a"):
    out = {"start": START, "target": np.asarray(target, dtype=np.float32), "item_id": item}
    if known is not None:
        out["feat_dynamic_real"] = np.atleast_2d(known).astype(np.float32)
    if past is not None:
        out["past_feat_dynamic_real"] = np.atleast_2d(past).astype(np.float32)
    return out


def crps(samples: np.ndarray, truth: np.ndarray) -> float:
    """The sample estimate of CRPS, averaged over the horizon: E|X - y| - E|X - X'| / 2."""
    first = np.abs(samples - truth).mean(axis=0)
    second = np.abs(samples[:, None] - samples[None]).mean(axis=(0, 1))
    return float((first - second / 2).mean())


def test_a_planted_linear_effect_is_recovered_and_carried_over_the_horizon(lagllama):
    rng = np.random.default_rng(0)
    x = np.convolve(rng.normal(size=T + H + 2), np.ones(3) / 3, "valid")  # not foreseeable from the target's past
    y = 20 + 3 * x + rng.normal(scale=0.2, size=T + H)
    fitted = fit(entry(y[:T], known=x), H)
    assert fitted.used and fitted.coefficients["known[0]"] == pytest.approx(3.0, abs=0.05)
    wrapped = InContextCovariates(lagllama, compare=True)
    median = next(iter(wrapped.predict([entry(y[:T], known=x)]))).quantile(0.5)
    effect = 3 * x[T:]
    # the median follows the covariate's swing over the horizon: most of its variance explained
    assert np.corrcoef(median, effect)[0, 1] > 0.9
    assert np.mean(np.abs(median - y[T:])) < 0.25 * np.ptp(effect)
    plain = next(iter(lagllama.predict([entry(y[:T])]))).quantile(0.5)
    assert np.mean(np.abs(median - y[T:])) < 0.5 * np.mean(np.abs(plain - y[T:]))
    assert wrapped.records[0]["used"] and wrapped.records[0]["change"] > 0.01


@pytest.mark.parametrize("value", [0.0, 5.0])
def test_a_covariate_free_series_is_forecast_as_without_covariates(lagllama, value):
    y = 10 + np.sin(np.arange(T) / 4) + np.random.default_rng(1).normal(scale=0.1, size=T)
    torch.manual_seed(7)
    plain = next(iter(lagllama.predict([entry(y)]))).samples
    wrapped = InContextCovariates(lagllama)
    torch.manual_seed(7)
    samples = next(iter(wrapped.predict([entry(y, known=np.full(T + H, value))]))).samples
    np.testing.assert_allclose(samples, plain, atol=1e-6, rtol=0)
    assert not wrapped.records[0]["used"] and wrapped.records[0]["why"] == "constant covariates"


def test_a_covariate_of_pure_noise_costs_no_more_than_noise(lagllama):
    rng = np.random.default_rng(2)
    series, noise, truth = [], [], []
    for k in range(12):
        y = 50 + 5 * np.sin(np.arange(T + H) * 2 * np.pi / 24 + k) + rng.normal(scale=1.0, size=T + H)
        series.append(entry(y[:T], item=k))
        noise.append(entry(y[:T], known=rng.normal(size=T + H), item=k))
        truth.append(y[T:])
    torch.manual_seed(0)
    without = [crps(f.samples, t) for f, t in zip(lagllama.predict(series), truth)]
    wrapped = InContextCovariates(lagllama)
    torch.manual_seed(0)
    with_noise = [crps(f.samples, t) for f, t in zip(wrapped.predict(noise), truth)]
    # the gate drops most noise covariates; those kept are shrunk by the ridge
    assert sum(r["used"] for r in wrapped.records) <= 4
    assert np.mean(with_noise) <= 1.03 * np.mean(without)


def test_past_only_covariates_enter_lagged_by_the_horizon():
    rng = np.random.default_rng(3)
    p = driver(rng, T)
    y = np.full(T, 5.0)
    y[H:] += 2 * p[:-H]  # the target answers the covariate h steps later
    y += rng.normal(scale=0.05, size=T)
    raw, names = features(entry(y, past=p), H)
    assert names == [f"past[0] lag {H}"] and np.isnan(raw[0, :H]).all()
    np.testing.assert_array_equal(raw[0, H:], p.astype(np.float32))  # the horizon sees p[T - h ..]: known now
    fitted = fit(entry(y, past=p), H)
    assert fitted.used and fitted.coefficients[names[0]] == pytest.approx(2.0, abs=0.05)
    np.testing.assert_allclose(
        fitted.effect[T:] - fitted.effect[T:].mean(), 2 * (p[-H:] - p[-H:].mean()), rtol=0.02, atol=0.02
    )


def test_categorical_covariates_are_one_hot():
    rng = np.random.default_rng(4)
    days = rng.integers(0, 3, size=T + H)
    y = 10 + np.array([0.0, 4.0, -2.0])[days] + rng.normal(scale=0.1, size=T + H)
    fitted = fit({**entry(y[:T]), "feat_dynamic_cat": days[None]}, H)
    c = fitted.coefficients
    assert fitted.used and sorted(c) == ["cat[0]=0", "cat[0]=1", "cat[0]=2"]
    assert c["cat[0]=1"] - c["cat[0]=0"] == pytest.approx(4.0, abs=0.2)
    assert c["cat[0]=2"] - c["cat[0]=0"] == pytest.approx(-2.0, abs=0.2)


def test_known_covariates_without_the_horizon_are_a_data_error(lagllama):
    with pytest.raises(DataError, match=r"item 'a': feat_dynamic_real has 240 steps; .* the horizon's 24") as error:
        list(InContextCovariates(lagllama).predict([entry(np.ones(T), known=np.ones(T))]))
    assert error.value.field == "feat_dynamic_real"


def test_the_command_line_uses_them_zero_shot_and_scores_with_and_without(tmp_path, capsys, base_checkpoint):
    rng = np.random.default_rng(5)
    x = driver(rng, 200)
    frame = pd.DataFrame(
        {
            "ds": pd.date_range("2021-01-01", periods=200, freq="h"),
            "y": 40 + 6 * x + rng.normal(scale=0.3, size=200),
            "x": x,
        }
    )
    frame.to_csv(tmp_path / "history.csv", index=False)
    frame.loc[188:, "y"] = np.nan
    frame.to_csv(tmp_path / "future.csv", index=False)
    # a checkpoint without covariate weights (the bundled one's pathway takes known covariates itself)
    common = ["--target", "y", "--known-covariates", "x", "--prediction-length", "12", "--quiet", *FAST]
    common += ["--checkpoint", str(base_checkpoint)]
    assert main(["forecast", "--csv", str(tmp_path / "future.csv"), "--out", str(tmp_path / "f"), *common]) == 0
    out = capsys.readouterr().out
    assert "enter by in-context regression" in out and "in-context covariates: used in 1 of 1 forecasts" in out
    assert len(pd.read_csv(tmp_path / "f" / "forecast.csv")) == 12
    argv = ["backtest", "--csv", str(tmp_path / "history.csv"), "--windows", "2", "--out", str(tmp_path / "b")]
    assert main([*argv, *common]) == 0
    assert "in-context covariates: used in 2 of 2 forecasts" in capsys.readouterr().out
    record = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert list(record["metrics"]) == ["Lag-Llama", "Lag-Llama in-context covariates", "SeasonalNaive"]
    assert record["in_context_covariates"]["used"] == 2 and record["in_context_covariates"]["mean_relative_change"] > 0
    loss = {name: m["mean_wQuantileLoss"] for name, m in record["metrics"].items()}
    assert loss["Lag-Llama in-context covariates"] < loss["Lag-Llama"]


class LastValue:
    """A stub predictor: quantile forecasts at the target's last value (0.1, 0.5 and 0.9 alike)."""

    prediction_length = H

    def predict(self, dataset, **kwargs):
        for e in dataset:
            arrays = np.full((3, H), float(e["target"][-1]))
            yield QuantileForecast(arrays, e["start"] + len(e["target"]), ["0.1", "0.5", "0.9"], e.get("item_id"))


def test_quantile_forecasts_get_the_point_effect():
    rng = np.random.default_rng(6)
    x = rng.normal(size=T + H)
    y = 7 + 2 * x + rng.normal(scale=0.01, size=T + H)
    forecast = next(iter(InContextCovariates(LastValue()).predict([entry(y[:T], known=x)])))
    assert isinstance(forecast, QuantileForecast)
    # the residual's last value, y - 2 (x - mean x), plus the effect 2 (x - mean x) over the horizon
    expected = y[T - 1] + 2 * (x[T:] - x[T - 1])
    np.testing.assert_allclose(forecast.quantile(0.5), expected, atol=0.05)


def test_the_held_out_gate_rejects_a_relation_that_does_not_hold_over_the_horizon_and_keeps_a_real_one():
    rng = np.random.default_rng(8)
    level = np.repeat([0.0, 8.0, -6.0, 4.0], [40, 60, 50, T + H - 150])  # regimes: shared in the long run
    y = 50 + level + rng.normal(scale=0.1, size=T + H)
    spurious = level + rng.normal(scale=3.0, size=T + H)  # within a 24-step window: noise
    assert fit(entry(y[:T], known=spurious), H).used  # the leave-one-out gate (5a) alone keeps it
    wrapped = InContextCovariates(LastValue())
    forecast = next(iter(wrapped.predict([entry(y[:T], known=spurious)])))
    assert not wrapped.records[0]["used"] and wrapped.records[0]["why"] == "no gain in held-out backtest"
    np.testing.assert_allclose(forecast.quantile(0.5), np.full(H, np.float32(y[T - 1])), atol=1e-4)
    real = np.convolve(rng.normal(size=T + H + 2), np.ones(3) / 3, "valid")
    y = 50 + 4 * real + rng.normal(scale=0.1, size=T + H)
    wrapped = InContextCovariates(LastValue())
    next(iter(wrapped.predict([entry(y[:T], known=real)])))
    assert wrapped.records[0]["used"] and wrapped.records[0]["coefficients"]["known[0]"] == pytest.approx(4, abs=0.3)
