"""The covariate effect every covariate forecast and backtest reports (issue 24,
:mod:`lagllama_gluonts.common.covariate_effect`): the mean absolute change of the median relative
to the series' scale is 0 for a series without covariates and for a covariate projection still at
zero, positive for a planted effect; backtests carry the score with and without the covariates;
forecasts write the record beside the forecast.

(The issue's other tests live beside the code they test: a planted linear effect recovered, a
covariate-free series unchanged and pure noise costing no more than noise in
``tests/common/test_incontext.py``; the covariate projection's own learning rate in
``tests/lagllama/test_covariate_lr.py``.)"""

import json

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.model.forecast import QuantileForecast, SampleForecast

from informer_gluonts.cli import main as informer_main
from lagllama_gluonts import LagLlamaEstimator, load_predictor, save_checkpoint
from lagllama_gluonts.cli import main as lagllama_main
from lagllama_gluonts.common import covariate_effect as ce
from lagllama_gluonts.common.incontext import InContextCovariates

from conftest import INFORMER_FAST_OPTIONS
from conftest import LAGLLAMA_FAST_OPTIONS as FAST

H, T = 12, 200
START = pd.Period("2021-01-01 00:00", freq="h")


class Echo:
    """A stub predictor: quantile forecasts at the target's last value plus the first known
    covariate over the horizon (a model whose covariates enter as inputs)."""

    prediction_length = H

    def predict(self, dataset, **kwargs):
        for e in dataset:
            level = float(e["target"][-1])
            known = e.get("feat_dynamic_real")
            path = level + (np.asarray(known)[0, -H:] if known is not None else np.zeros(H))
            arrays = np.stack([path - 1, path, path + 1])
            yield QuantileForecast(arrays, e["start"] + len(e["target"]), ["0.1", "0.5", "0.9"], e.get("item_id"))


def entry(target, known=None):
    out = {"start": START, "target": np.asarray(target, dtype=np.float32), "item_id": "a"}
    if known is not None:
        out["feat_dynamic_real"] = np.atleast_2d(known).astype(np.float32)
    return out


def table(path, steps=T):
    rng = np.random.default_rng(5)
    x = np.sin(np.arange(steps) * 2 * np.pi / 24) + 0.1 * rng.normal(size=steps).cumsum()
    frame = pd.DataFrame(
        {
            "ds": pd.date_range("2021-01-01", periods=steps, freq="h"),
            "y": 40 + 6 * x + rng.normal(scale=0.3, size=steps),
            "x": x,
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_the_change_is_the_median_moved_relative_to_the_series_scale():
    start = START + T
    a = SampleForecast(np.full((4, H), 12.0), start)
    b = SampleForecast(np.full((4, H), 10.0), start)
    assert ce.relative_change(a, b, np.full(T, -20.0)) == pytest.approx(0.1)  # |12 - 10| / mean |y|
    assert ce.relative_change(a, b, np.zeros(T)) == pytest.approx(2.0)  # scale 0: in the series' units
    assert ce.relative_change(a, a, [np.nan, 5.0]) == 0.0
    record = ce.summary([{"change": 0.1}, {"change": 0.3, "used": False}], ce.PROJECTION_ZEROED)
    assert record["forecasts"] == 2 and record["used"] == 1
    assert record["mean_relative_change"] == pytest.approx(0.2) and record["max_relative_change"] == pytest.approx(0.3)
    assert "20.00% of the series' scale" in ce.effect_text(record) and ce.score_text(record) == ""


def test_a_series_without_covariates_reports_no_change():
    rng = np.random.default_rng(0)
    y = 10 + rng.normal(size=T)
    recorder = ce.with_and_without(Echo())  # no covariate fields: nothing to zero
    (forecast,) = recorder.predict([entry(y)])
    assert recorder.records[0]["change"] == 0.0 and recorder.method == ce.INPUTS_ZEROED
    np.testing.assert_array_equal(forecast.quantile(0.5), np.full(H, np.float32(y[-1])))
    regression = InContextCovariates(Echo(), compare=True)  # constant covariates: the regression is not used
    list(regression.predict([entry(y, known=np.full(T + H, 3.0))]))
    assert regression.records[0]["change"] == 0.0 and not regression.records[0]["used"]


def test_covariate_inputs_are_zeroed_for_a_model_without_a_projection():
    y, x = np.full(T, 5.0), np.arange(T + H, dtype=float)
    recorder = ce.with_and_without(Echo())
    (forecast,) = recorder.predict([entry(y, known=x)])
    np.testing.assert_allclose(forecast.quantile(0.5), 5 + x[-H:])  # the forecast shown: with them
    assert recorder.records[0]["change"] == pytest.approx(np.mean(x[-H:]) / 5)  # against 5 + 0


@pytest.fixture(scope="module")
def lagllama(base_checkpoint):
    """The bundled network (without its pathway) with a known-covariate projection at its initial (zero) weights."""
    return load_predictor(
        base_checkpoint,
        prediction_length=H,
        context_length=32,
        num_parallel_samples=8,
        device="cpu",
        num_feat_dynamic_real=1,
    )


def test_a_zero_projection_reports_no_change_and_the_forecast_is_untouched(lagllama):
    y = 40 + np.sin(np.arange(T) / 4)
    item = entry(y, known=np.cos(np.arange(T + H) / 3))
    assert list(ce.covariate_pathway(lagllama)) == [lagllama.prediction_net.model.covariates]
    pl.seed_everything(0, verbose=False)
    (alone,) = lagllama.predict([item])
    pl.seed_everything(0, verbose=False)
    recorder = ce.with_and_without(lagllama)
    (shown,) = recorder.predict([item])
    assert recorder.method == ce.PROJECTION_ZEROED and recorder.records[0]["change"] == 0.0  # the same draws
    np.testing.assert_array_equal(shown.samples, alone.samples)  # reporting changes nothing
    assert torch.rand(1).item() == pytest.approx(_after_one_forecast(lagllama, item))  # nor the draws after it


def _after_one_forecast(predictor, item):
    pl.seed_everything(0, verbose=False)
    list(predictor.predict([item]))
    return torch.rand(1).item()


def test_a_planted_projection_moves_the_median_and_is_restored(lagllama):
    y = 40 + np.sin(np.arange(T) / 4)
    item = entry(y, known=np.cos(np.arange(T + H) / 3))
    projection = lagllama.prediction_net.model.covariates.proj
    with torch.no_grad():
        projection.weight.fill_(0.05)  # a planted effect of the covariate
    try:
        recorder = ce.with_and_without(lagllama)
        list(recorder.predict([item]))
        assert recorder.records[0]["change"] > 1e-3
        assert torch.all(projection.weight == 0.05)  # zeroed only while forecasting without
    finally:
        with torch.no_grad():
            projection.weight.zero_()


@pytest.fixture(scope="module")
def planted_ckpt(tmp_path_factory, base_checkpoint):
    """A covariate checkpoint whose projection is not zero (a planted effect), as finetune --save writes."""
    estimator = LagLlamaEstimator.from_checkpoint(base_checkpoint, prediction_length=H, num_feat_dynamic_real=1)
    model = estimator.create_lightning_module().model
    with torch.no_grad():
        model.covariates.proj.weight.fill_(0.05)
    path = tmp_path_factory.mktemp("ckpt") / "planted.ckpt"
    extra = {"training": {"known_covariates": ["x"], "past_covariates": []}}
    return save_checkpoint(path, model, estimator.model_kwargs(), extra=extra)


def test_a_backtest_with_a_covariate_checkpoint_scores_with_and_without(tmp_path, capsys, planted_ckpt):
    csv = table(tmp_path / "t.csv")
    argv = ["backtest", "--csv", csv, "--target", "y", "--known-covariates", "x", "--prediction-length", H]
    argv += ["--windows", 2, "--checkpoint", planted_ckpt, "--out", tmp_path / "bt", "--quiet", *FAST]
    assert lagllama_main([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    effect = record["covariate_effect"]
    assert list(record["metrics"]) == ["Lag-Llama", "Lag-Llama covariates zeroed", "SeasonalNaive"]
    assert effect["models"] == {"with": "Lag-Llama", "without": "Lag-Llama covariates zeroed"}
    assert effect["without_covariates"] == ce.PROJECTION_ZEROED and effect["forecasts"] == 2
    scores = {k: record["metrics"][v]["mean_wQuantileLoss"] for k, v in effect["models"].items()}
    assert effect["mean_wQuantileLoss"] == pytest.approx(scores)
    assert effect["helped"] == (scores["with"] < scores["without"]) and effect["mean_relative_change"] > 0
    assert "against the covariate projection zeroed, they moved the median by" in out
    assert f"mean_wQuantileLoss {scores['with']:.4f} with them, {scores['without']:.4f} without" in out


def test_a_forecast_with_a_zero_projection_writes_no_change(tmp_path, capsys, planted_ckpt, base_checkpoint):
    estimator = LagLlamaEstimator.from_checkpoint(base_checkpoint, prediction_length=H, num_feat_dynamic_real=1)
    zero = save_checkpoint(
        tmp_path / "zero.ckpt",
        estimator.create_lightning_module().model,
        estimator.model_kwargs(),
        extra={"training": {"known_covariates": ["x"], "past_covariates": []}},
    )
    frame = pd.read_csv(table(tmp_path / "t.csv"))
    frame.loc[T - H :, "y"] = np.nan  # the covariate's known future
    frame.to_csv(tmp_path / "future.csv", index=False)
    changes = {}
    for name, ckpt in (("zero", zero), ("planted", planted_ckpt)):
        argv = ["forecast", "--csv", tmp_path / "future.csv", "--target", "y", "--known-covariates", "x"]
        argv += ["--prediction-length", H, "--checkpoint", ckpt, "--out", tmp_path / name, "--quiet", *FAST]
        assert lagllama_main([str(a) for a in argv]) == 0
        record = json.loads((tmp_path / name / "covariate_effect.json").read_text())
        assert record["forecasts"] == 1 and record["without_covariates"] == ce.PROJECTION_ZEROED
        changes[name] = record["mean_relative_change"]
    assert changes["zero"] == 0.0 and changes["planted"] > 0
    assert "covariate_effect.json" in capsys.readouterr().out


def test_an_in_context_backtest_records_the_score_with_and_without(tmp_path, capsys, base_checkpoint):
    csv = table(tmp_path / "t.csv")
    argv = ["backtest", "--csv", csv, "--target", "y", "--known-covariates", "x", "--prediction-length", H]
    argv += ["--checkpoint", base_checkpoint]  # without covariate weights (the bundled one has its pathway)
    assert lagllama_main([str(a) for a in [*argv, "--windows", 2, "--out", tmp_path / "b", "--quiet", *FAST]]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "b" / "metrics.json").read_text())
    effect = record["covariate_effect"]
    assert effect["without_covariates"] == ce.IN_CONTEXT
    assert effect["models"] == {"with": "Lag-Llama in-context covariates", "without": "Lag-Llama"}
    assert (
        effect["mean_wQuantileLoss"]["with"]
        == record["metrics"]["Lag-Llama in-context covariates"]["mean_wQuantileLoss"]
    )
    assert effect["mean_relative_change"] == record["in_context_covariates"]["mean_relative_change"]
    assert "in-context covariates: used in" in out and "covariates: mean_wQuantileLoss" in out


def test_informer_ms_backtests_a_file_with_and_without_its_covariates(tmp_path, capsys):
    csv = table(tmp_path / "t.csv")
    argv = ["backtest", "--csv", csv, "--target", "y", "--features", "MS", "--covariates", "x"]
    argv += ["--prediction-length", H, "--windows", 2, "--out", tmp_path / "ms", *INFORMER_FAST_OPTIONS]
    assert informer_main([str(a) for a in argv]) == 0
    record = json.loads((tmp_path / "ms" / "metrics.json").read_text())
    effect = record["covariate_effect"]
    assert record["features"] == "MS" and set(record["metrics"]) == {
        "Informer",
        "Informer covariates zeroed",
        "SeasonalNaive",
    }
    assert effect["without_covariates"] == ce.INPUTS_ZEROED and effect["forecasts"] == 2
    assert all(np.isfinite(v) for v in effect["mean_wQuantileLoss"].values())
    assert "covariates: mean_wQuantileLoss" in capsys.readouterr().out
