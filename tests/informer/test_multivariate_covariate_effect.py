"""Joint forecasts and backtests (Informer ``--features M``) with past-only covariates report the
covariate effect every covariate forecast and backtest reports
(:mod:`lagllama_gluonts.common.covariate_effect`): per variable, its median's change over its own
scale, and their mean; a forecast writes ``covariate_effect.json``, a backtest scores a
"... covariates zeroed" row beside the model. Without covariates nothing is added."""

import json

import numpy as np
import pandas as pd
import pytest
from gluonts.model.forecast import SampleForecast

from informer_gluonts.cli import main
from lagllama_gluonts.common import covariate_effect as ce

from conftest import INFORMER_FAST_OPTIONS

H, T = 6, 240
START = pd.Period("2021-01-01 00:00", freq="h")


# --------------------------------------------------------------------------- the measure, by hand


def test_a_joint_forecast_is_measured_per_variable_over_its_own_scale():
    # two variables: a median moved by 2 on a series of level 20, and by 1 on one of level -4
    target = np.stack([np.full(T, 20.0), np.full(T, -4.0)])
    target[1, :10] = np.nan  # unobserved values are not part of the scale
    moved = np.zeros((3, H, 2))
    moved[:, :, 0], moved[:, :, 1] = 2.0, np.where(np.arange(H) % 2, 0.0, 2.0)  # variable 1: 1 on average
    base = np.random.default_rng(0).normal(size=(3, H, 2))
    with_, without = SampleForecast(base + moved, START + T), SampleForecast(base, START + T)
    assert with_.quantile(0.5).shape == (H, 2)  # GluonTS's multivariate median: h x D
    np.testing.assert_allclose(ce.variable_changes(with_, without, target), [2 / 20, 1 / 4])
    assert ce.relative_change(with_, without, target) == pytest.approx((0.1 + 0.25) / 2)
    # a univariate forecast: one value, as before
    one = ce.variable_changes(with_.copy_dim(0), without.copy_dim(0), target[0])
    assert one.shape == (1,) and one[0] == pytest.approx(0.1)


class Shift:
    """A stub joint predictor: every variable's last value, plus its past covariate's last value
    (a model whose covariates enter as inputs)."""

    prediction_length = H

    def predict(self, dataset, **kwargs):
        for e in dataset:
            level = np.asarray(e["target"])[:, -1]
            push = np.asarray(e.get("past_feat_dynamic_real", np.zeros((1, 1))))[0, -1]
            yield SampleForecast(np.tile(level + push, (4, H, 1)), e["start"] + np.shape(e["target"])[1])


def test_the_recorder_keeps_each_variable_and_the_summary_names_them():
    target = np.stack([np.full(T, 10.0), np.full(T, 40.0)])
    entry = {"start": START, "target": target, "past_feat_dynamic_real": np.full((1, T), 2.0)}
    recorder = ce.with_and_without(Shift())
    (forecast,) = recorder.predict([entry])
    np.testing.assert_allclose(forecast.quantile(0.5)[0], [12.0, 42.0])  # the forecast shown: with them
    list(recorder.predict([{**entry, "past_feat_dynamic_real": np.full((1, T), 4.0)}]))
    assert recorder.records[0]["variables"] == pytest.approx([0.2, 0.05])
    assert recorder.records[1]["variables"] == pytest.approx([0.4, 0.1])
    record = ce.summary(recorder.records, recorder.method, names=["a", "b"])
    assert record["mean_relative_change"] == pytest.approx((0.125 + 0.25) / 2)
    assert record["max_relative_change"] == pytest.approx(0.25)
    assert record["variables"] == {
        "a": {"mean_relative_change": pytest.approx(0.3), "max_relative_change": pytest.approx(0.4)},
        "b": {"mean_relative_change": pytest.approx(0.075), "max_relative_change": pytest.approx(0.1)},
    }
    text = ce.effect_text(record)
    assert "they moved the median by 18.75% of the series' scale" in text
    assert "per variable (each of its own scale): a 30.00%, b 7.50%" in text
    # a univariate record has no per-variable line
    univariate = ce.summary([{"change": 0.1}], ce.INPUTS_ZEROED)
    assert "variables" not in univariate and "per variable" not in ce.effect_text(univariate)


# --------------------------------------------------------------------------- the commands


def joint_table(path, driven: bool = True):
    """Two targets and one past covariate ``x``: with ``driven``, both targets follow ``x`` one step
    later (strongly); else ``x`` is constant (its inputs zeroed, exactly, by the per-window
    standardisation)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=T).cumsum() if driven else np.ones(T)
    lagged = np.concatenate([[0.0], x[:-1]]) if driven else np.zeros(T)
    frame = pd.DataFrame(
        {
            "ds": pd.date_range("2021-01-01", periods=T, freq="h"),
            "a": 50 + 5 * lagged + 0.1 * rng.normal(size=T),
            "b": 20 - 3 * lagged + 0.1 * rng.normal(size=T),
            "x": x,
        }
    )
    frame.to_csv(path, index=False)
    return path


def run(command, csv, out, *extra):
    argv = [command, "--csv", csv, "--features", "M", "--prediction-length", H, "--out", out, "--seed", 0]
    return main([str(a) for a in [*argv, *extra, *INFORMER_FAST_OPTIONS]])


def test_a_joint_forecast_writes_the_effect_per_variable(tmp_path, capsys):
    changes = {}
    for name, driven in (("constant", False), ("driven", True)):
        csv = joint_table(tmp_path / f"{name}.csv", driven)
        assert run("forecast", csv, tmp_path / name, "--target", "a", "b", "--covariates", "x") == 0
        record = json.loads((tmp_path / name / "covariate_effect.json").read_text())
        assert record["forecasts"] == 1 and record["without_covariates"] == ce.INPUTS_ZEROED
        assert set(record["variables"]) == {"a", "b"}
        per_variable = [v["mean_relative_change"] for v in record["variables"].values()]
        assert all(np.isfinite(per_variable))
        assert record["mean_relative_change"] == pytest.approx(np.mean(per_variable))
        changes[name] = record["mean_relative_change"]
        assert (tmp_path / name / "forecast.csv").exists()
    assert changes["constant"] == 0.0  # the model's covariate inputs are zeros either way: the same forecast
    assert changes["driven"] > 0
    out = capsys.readouterr().out
    assert f"against {ce.INPUTS_ZEROED}, they moved the median by" in out
    assert "covariates: per variable (each of its own scale): a " in out and "covariate_effect.json" in out


def test_a_joint_backtest_scores_the_model_with_its_covariates_zeroed(tmp_path, capsys):
    csv = joint_table(tmp_path / "t.csv")
    assert run("backtest", csv, tmp_path / "bt", "--target", "a", "b", "--covariates", "x", "--windows", 2) == 0
    record = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    effect = record["covariate_effect"]
    assert list(record["metrics"]) == ["Informer", "Informer covariates zeroed"]
    assert effect["models"] == {"with": "Informer", "without": "Informer covariates zeroed"}
    assert effect["without_covariates"] == ce.INPUTS_ZEROED and effect["forecasts"] == 2
    scores = {k: record["metrics"][v]["mean_wQuantileLoss"] for k, v in effect["models"].items()}
    assert effect["mean_wQuantileLoss"] == pytest.approx(scores) and all(np.isfinite(list(scores.values())))
    assert set(effect["variables"]) == {"a", "b"} and effect["mean_relative_change"] > 0
    out = capsys.readouterr().out
    assert f"mean_wQuantileLoss {scores['with']:.4f} with them, {scores['without']:.4f} without" in out


def test_a_joint_backtest_of_a_constant_covariate_scores_both_rows_alike(tmp_path):
    # zeroed or not, the model's covariate inputs are zeros and both rows draw the same numbers
    csv = joint_table(tmp_path / "t.csv", driven=False)
    assert run("backtest", csv, tmp_path / "bt", "--target", "a", "b", "--covariates", "x", "--windows", 2) == 0
    record = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    effect = record["covariate_effect"]
    assert effect["mean_relative_change"] == 0.0 and effect["max_relative_change"] == 0.0
    assert record["metrics"]["Informer"] == record["metrics"]["Informer covariates zeroed"]
    assert effect["helped"] is False


def test_a_joint_backtest_without_covariates_is_unchanged(tmp_path):
    csv = joint_table(tmp_path / "t.csv")
    assert run("backtest", csv, tmp_path / "bt", "--target", "a", "b", "--windows", 2) == 0
    record = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    assert list(record["metrics"]) == ["Informer"] and "covariate_effect" not in record
    assert run("forecast", csv, tmp_path / "f", "--target", "a", "b") == 0
    assert not (tmp_path / "f" / "covariate_effect.json").exists()
