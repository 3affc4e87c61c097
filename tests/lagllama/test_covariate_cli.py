"""Covariates on the command line (``--known-covariates`` known over the horizon,
``--covariates`` past-only as informer's forecast): the columns reach GluonTS's fields with the
right shapes, a checkpoint with covariates forecasts, backtests and refuses tables without them,
and the bundled checkpoint (no covariate weights) uses them zero-shot by in-context regression
(issue 24; it used to refuse them). The real example is ERCOT's day-ahead price with Houston's
temperature."""

import json

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from lagllama_gluonts import LagLlamaEstimator, load_predictor, save_checkpoint
from lagllama_gluonts.cli import ADAPTER, build_parser, main
from lagllama_gluonts.common.commands import read_entries

from conftest import CORPUS
from conftest import LAGLLAMA_FAST_OPTIONS as FAST

H = 12
TEMP = "temp_celsius_houston"


def ercot(steps: int = 400, future: int = 0) -> pd.DataFrame:
    """The last ``steps`` hours of price_ercot_dam.csv; the last ``future`` prices left empty
    (the temperature's known future)."""
    frame = pd.read_csv(CORPUS / "price_ercot_dam.csv").iloc[-steps:].reset_index(drop=True)
    if future:
        frame.loc[len(frame) - future :, "y"] = np.nan
    return frame


@pytest.fixture
def future_csv(tmp_path):
    path = tmp_path / "ercot_future.csv"
    ercot(future=H).to_csv(path, index=False)
    return path


@pytest.fixture
def history_csv(tmp_path):
    path = tmp_path / "ercot.csv"
    ercot().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def covariate_ckpt(tmp_path_factory, base_checkpoint):
    """The bundled network (without its pretrained pathway) with a known-future covariate path at its
    initial (zero) weights, saved as fine-tuning would: a covariate checkpoint without training time."""
    estimator = LagLlamaEstimator.from_checkpoint(base_checkpoint, prediction_length=H, num_feat_dynamic_real=1)
    path = tmp_path_factory.mktemp("ckpt") / "with-temperature.ckpt"
    return save_checkpoint(
        path,
        estimator.create_lightning_module().model,
        estimator.model_kwargs(),
        extra={"training": {"known_covariates": [TEMP], "past_covariates": []}},
    )


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def one_line_error(code, err, message):
    assert code == 2 and err.startswith("lagllama-gluonts: error:") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_the_columns_arrive_in_gluonts_fields_with_the_horizon_for_the_known_ones(tmp_path):
    frame = ercot(future=H)
    frame["hour"] = pd.to_datetime(frame["ds"]).dt.hour.astype(float)
    path = tmp_path / "two.csv"
    frame.to_csv(path, index=False)
    args = build_parser().parse_args(
        [
            "zero-shot",
            "--csv",
            str(path),
            "--target",
            "y",
            "--prediction-length",
            str(H),
            "--known-covariates",
            TEMP,
            "--past-covariates",
            "hour",
        ]
    )
    _, (entry,), _ = read_entries(ADAPTER, args, H, forecasting=True)
    target_length = 400 - H
    assert entry["target"].shape == (target_length,)
    assert entry["feat_dynamic_real"].shape == (1, 400)  # the target's span and the horizon
    assert entry["past_feat_dynamic_real"].shape == (1, target_length)  # never beyond the forecast start
    np.testing.assert_allclose(entry["feat_dynamic_real"][0], frame[TEMP], rtol=1e-6)
    np.testing.assert_allclose(entry["past_feat_dynamic_real"][0], frame["hour"][:target_length])
    _, (entry,), _ = read_entries(ADAPTER, args, H, forecasting=False)  # training and backtests: the target's span
    assert entry["feat_dynamic_real"].shape == (1, target_length)


def test_zero_shot_with_a_covariate_checkpoint_forecasts_after_the_last_price(
    future_csv, tmp_path, capsys, covariate_ckpt
):
    out = tmp_path / "zs"
    code, err = run(
        capsys,
        "zero-shot",
        "--csv",
        future_csv,
        "--target",
        "y",
        "--known-covariates",
        TEMP,
        "--prediction-length",
        H,
        "--checkpoint",
        covariate_ckpt,
        "--out",
        out,
        *FAST,
    )
    assert code == 0, err
    forecast = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    last = pd.Timestamp(ercot()["ds"].iloc[-H - 1])
    assert list(forecast["timestamp"]) == list(pd.date_range(last, periods=H + 1, freq="h")[1:])
    # the covariate weights are still at zero: the bundled checkpoint's forecast of the same prices
    # without covariates, sampled from the same seed (the command seeds right before sampling)
    predictor = load_predictor(None, prediction_length=H, context_length=32, num_parallel_samples=8, device="cpu")
    prices = ercot()["y"].to_numpy(dtype=np.float32)[:-H]
    pl.seed_everything(0, verbose=False)
    (without,) = predictor.predict([{"start": pd.Period(ercot()["ds"].iloc[0], "h"), "target": prices}])
    np.testing.assert_allclose(forecast["mean"], without.mean, rtol=1e-5)


def test_a_checkpoint_with_covariates_refuses_a_table_without_them(history_csv, tmp_path, capsys, covariate_ckpt):
    for command in (["backtest", "--windows", "2"], ["finetune"]):
        code, err = run(
            capsys,
            *command,
            "--csv",
            history_csv,
            "--target",
            "y",
            "--prediction-length",
            H,
            "--checkpoint",
            covariate_ckpt,
            "--out",
            tmp_path / "o",
            *FAST,
        )
        one_line_error(
            code,
            err,
            f"with-temperature.ckpt was trained with covariates (--known-covariates {TEMP}) "
            "and this command gives no covariates",
        )
    code, err = run(
        capsys,
        "backtest",
        "--csv",
        history_csv,
        "--target",
        "y",
        "--prediction-length",
        H,
        "--covariates",
        TEMP,
        "--checkpoint",
        covariate_ckpt,
        "--out",
        tmp_path / "o",
        *FAST,
    )
    one_line_error(code, err, "(1 with --known-covariates, 0 with --covariates)")
    code, err = run(
        capsys,
        "backtest",
        "--csv",
        history_csv,
        "--target",
        "y",
        "--prediction-length",
        H,
        "--known-covariates",
        "wind",
        "--checkpoint",
        covariate_ckpt,
        "--out",
        tmp_path / "o",
        *FAST,
    )
    one_line_error(code, err, "no covariate column 'wind'; the table has: ds, y, temp_celsius_houston")


def test_forecasting_without_the_known_future_rows_is_one_line(history_csv, tmp_path, capsys, covariate_ckpt):
    code, err = run(
        capsys,
        "zero-shot",
        "--csv",
        history_csv,
        "--target",
        "y",
        "--known-covariates",
        TEMP,
        "--prediction-length",
        H,
        "--checkpoint",
        covariate_ckpt,
        "--out",
        tmp_path / "o",
        *FAST,
    )
    one_line_error(
        code,
        err,
        f"known-future covariates (--known-covariates) need the {H} rows after the last "
        "target value (2017-11-30 00:00:00), with the covariates filled in and the target left "
        "empty; the table has 0",
    )


def test_the_bundled_checkpoint_uses_known_covariates_through_its_pathway(future_csv, history_csv, tmp_path, capsys):
    for command, csv in ((["zero-shot"], future_csv), (["backtest", "--windows", "1"], history_csv)):
        code = main(
            [str(a) for a in (*command, "--csv", csv, "--target", "y", "--known-covariates", TEMP)]
            + [str(a) for a in ("--prediction-length", H, "--out", tmp_path / command[0], "--quiet", *FAST)]
        )
        out = capsys.readouterr().out
        assert code == 0 and "in-context" not in out and "moved the median by" in out
    record = json.loads((tmp_path / "backtest" / "metrics.json").read_text())
    assert list(record["metrics"]) == ["Lag-Llama", "Lag-Llama covariates zeroed", "SeasonalNaive"]
    assert record["covariate_effect"]["mean_relative_change"] > 0


def test_without_covariate_weights_or_with_past_only_ones_they_enter_in_context(
    future_csv, history_csv, tmp_path, capsys, base_checkpoint
):
    runs = (
        (["zero-shot", "--checkpoint", base_checkpoint], future_csv, "--known-covariates"),
        (["backtest", "--windows", "1", "--checkpoint", base_checkpoint], history_csv, "--known-covariates"),
        (["zero-shot"], history_csv, "--covariates"),  # the bundled pathway reads no past-only covariates
    )
    for k, (command, csv, flag) in enumerate(runs):
        code = main(
            [str(a) for a in (*command, "--csv", csv, "--target", "y", flag, TEMP)]
            + [str(a) for a in ("--prediction-length", H, "--out", tmp_path / str(k), "--quiet", *FAST)]
        )
        out = capsys.readouterr().out
        assert code == 0 and "enter by in-context regression" in out and "in-context covariates: used in" in out
    record = json.loads((tmp_path / "1" / "metrics.json").read_text())
    assert {"Lag-Llama", "Lag-Llama in-context covariates"} <= set(record["metrics"])


@pytest.mark.parametrize(
    "options, message",
    [
        (["--dataset", "airpassengers", "--known-covariates", TEMP], "--known-covariates works on a table"),
        (["--dataset", "airpassengers", "--covariates", TEMP], "--covariates works on a table"),
        (
            ["--csv", "{csv}", "--target", "y", "--known-covariates", TEMP, "--covariates", TEMP],
            "is given as both --known-covariates and --covariates",
        ),
        (["--csv", "{csv}", "--target", "y", "--covariates", "y"], "the target 'y' cannot also be a covariate"),
    ],
)
def test_bad_covariate_options_are_one_line(history_csv, tmp_path, capsys, options, message):
    options = [str(history_csv) if o == "{csv}" else o for o in options]
    code, err = run(capsys, "finetune", *options, "--prediction-length", H, "--out", tmp_path / "o")
    one_line_error(code, err, message)


@pytest.mark.slow
def test_finetune_save_then_backtest_and_forecast_with_the_same_covariates(future_csv, history_csv, tmp_path, capsys):
    saved = tmp_path / "tuned.ckpt"
    code, err = run(
        capsys,
        "finetune",
        "--csv",
        history_csv,
        "--target",
        "y",
        "--known-covariates",
        TEMP,
        "--prediction-length",
        H,
        "--epochs",
        "1",
        "--batches-per-epoch",
        "2",
        "--train-batch-size",
        "8",
        "--save",
        saved,
        "--out",
        tmp_path / "ft",
        *FAST,
    )
    assert code == 0, err
    stored = torch.load(saved, weights_only=True)["hyper_parameters"]
    assert stored["model_kwargs"]["num_feat_dynamic_real"] == 1
    assert stored["training"]["known_covariates"] == [TEMP]
    assert json.loads((tmp_path / "ft" / "metrics.json").read_text())["known_covariates"] == [TEMP]
    code, err = run(
        capsys,
        "backtest",
        "--csv",
        history_csv,
        "--target",
        "y",
        "--known-covariates",
        TEMP,
        "--prediction-length",
        H,
        "--windows",
        "2",
        "--checkpoint",
        saved,
        "--out",
        tmp_path / "bt",
        *FAST,
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    assert np.isfinite(metrics["metrics"]["Lag-Llama"]["mean_wQuantileLoss"])
    code, err = run(
        capsys,
        "zero-shot",
        "--csv",
        future_csv,
        "--target",
        "y",
        "--known-covariates",
        TEMP,
        "--prediction-length",
        H,
        "--checkpoint",
        saved,
        "--out",
        tmp_path / "zs",
        *FAST,
    )
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "zs" / "forecast.csv")) == H


@pytest.mark.slow
def test_backtest_trains_from_scratch_with_past_only_covariates_on_a_long_table(tmp_path, capsys):
    frame = pd.concat([ercot(300).assign(zone="a"), ercot(250).assign(zone="b")])
    path = tmp_path / "zones.csv"
    frame.to_csv(path, index=False)
    code, err = run(
        capsys,
        "backtest",
        "--csv",
        path,
        "--item-column",
        "zone",
        "--target",
        "y",
        "--covariates",
        TEMP,
        "--prediction-length",
        H,
        "--windows",
        "2",
        "--train",
        "--from-scratch",
        "--epochs",
        "1",
        "--batches-per-epoch",
        "2",
        "--train-batch-size",
        "8",
        "--n-layer",
        "1",
        "--n-head",
        "2",
        "--n-embd-per-head",
        "8",
        "--out",
        tmp_path / "bt",
        *FAST,
    )
    assert code == 0, err
    record = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    assert record["past_covariates"] == [TEMP] and "trained from scratch" in record["mode"]


def test_in_context_covariates_can_be_asked_for_with_the_bundled_pathway(future_csv, tmp_path, capsys):
    argv = ["zero-shot", "--csv", future_csv, "--target", "y", "--known-covariates", TEMP, "--in-context-covariates"]
    code = main(
        [str(a) for a in argv] + [str(a) for a in ("--prediction-length", H, "--out", tmp_path, "--quiet", *FAST)]
    )
    out = capsys.readouterr().out
    assert code == 0 and "enter by in-context regression" in out and "in-context covariates: used in" in out


@pytest.fixture
def day_csv(tmp_path):
    """An hourly table whose known covariate is text: 'work' raises the level by 3, 'rest' does not."""
    n = 300
    stamps = pd.date_range("2021-01-01", periods=n + H, freq="h")
    day = np.where((stamps.dayofweek < 5) & (stamps.hour >= 8) & (stamps.hour < 18), "work", "rest")
    rng = np.random.default_rng(0)
    y = 10 + np.sin(np.arange(n + H) / 5) + np.where(day == "work", 3.0, 0.0) + 0.1 * rng.normal(size=n + H)
    frame = pd.DataFrame({"ds": stamps, "y": y, "day": day, "shift": np.where(day == "work", "on", "off")})
    frame.loc[n:, "y"] = np.nan
    path = tmp_path / "day.csv"
    frame.to_csv(path, index=False)
    return path


def test_text_covariates_go_in_by_in_context_regression(day_csv, tmp_path, capsys):
    common = ["--csv", day_csv, "--target", "y", "--prediction-length", H, *FAST]
    argv = ["zero-shot", *common, "--known-covariates", "day", "--covariates", "shift", "--in-context-covariates"]
    argv += ["--quiet"]
    assert main([str(a) for a in [*argv, "--out", tmp_path / "ic"]]) == 0
    out = capsys.readouterr().out
    assert "enter by in-context regression" in out and "in-context covariates: used in" in out
    # the bundled pathway and fine-tuning learn numbers only: a clear error naming the column and its levels
    for command in (["zero-shot"], ["finetune"]):
        code, err = run(capsys, *command, *common, "--known-covariates", "day", "--out", tmp_path / command[0])
        assert code == 2 and "covariate column 'day' holds text ('rest', 'work')" in err and "one-hot" in err


def test_a_table_reads_a_text_covariate_as_codes_and_past_text_as_one_hot(day_csv):
    from lagllama_gluonts.common.tables import read_series_table

    table = read_series_table(day_csv, ["y"], covariates=["day", "shift"])
    assert table.categorical == {"day": ["rest", "work"], "shift": ["off", "on"]}
    (entry,) = table.add_covariate_fields(known=["day"], past=["shift"], horizon=H)
    frame = pd.read_csv(day_csv)
    assert entry["feat_dynamic_cat"].shape == (1, len(frame)) and "feat_dynamic_real" not in entry
    np.testing.assert_array_equal(entry["feat_dynamic_cat"][0], (frame["day"] == "work").to_numpy().astype(int))
    past = entry["past_feat_dynamic_real"]  # one 0/1 row per level of the past-only text column
    assert past.shape == (2, len(frame) - H)
    np.testing.assert_array_equal(past[1], (frame["shift"][: len(frame) - H] == "on").to_numpy().astype(np.float32))
