"""Informer trained once and used again: ``train --save DIR`` writes a GluonTS predictor that
``forecast --predictor DIR`` and ``backtest --predictor DIR`` use without training, and a
predictor that does not fit the command's data is one line naming the problem, before any work."""

import json
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
from gluonts.model.predictor import Predictor

from informer_gluonts.cli import InformerAdapter, main
from lagllama_gluonts.common.cli import CLIError

from conftest import INFORMER_FAST_OPTIONS, corpus_tail

H = "12"


def write(frame: pd.DataFrame, path):
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Hourly tables: one series (``y``), the same with a covariate column ``pv``, the same
    values on a daily grid, and two columns to forecast jointly."""
    folder = tmp_path_factory.mktemp("tables")
    load = corpus_tail("SF_hospital_load").reset_index(drop=True)
    both = load.assign(pv=corpus_tail("SF_PV")["y"].to_numpy())
    daily = load.assign(ds=pd.date_range("2015-01-01", periods=len(load), freq="D"))
    return {
        "load": write(load, folder / "load.csv"),
        "both": write(both, folder / "both.csv"),
        "daily": write(daily, folder / "daily.csv"),
        "wide": write(both.rename(columns={"y": "a", "pv": "b"}), folder / "wide.csv"),
    }


def train(table: str, folder, *options) -> str:
    saved = folder / "model"
    argv = ["train", "--csv", table, "--prediction-length", H, "--save", str(saved), "--out", str(folder / "o")]
    assert main([*argv, *options, *INFORMER_FAST_OPTIONS]) == 0
    return str(saved)


@pytest.fixture(scope="module")
def predictors(tables, tmp_path_factory):
    """Saved predictors: univariate, with one past-only covariate (MS), joint over 2 columns (M)."""
    folder = tmp_path_factory.mktemp
    return {
        "plain": train(tables["load"], folder("plain"), "--target", "y"),
        "covariate": train(tables["both"], folder("covariate"), "--target", "y", "--covariates", "pv"),
        "joint": train(tables["wide"], folder("joint"), "--features", "M"),
    }


def test_train_writes_the_predictor_and_its_record(predictors):
    record = json.loads((Path(predictors["plain"]).parent / "o" / "metrics.json").read_text())
    assert (
        record["model"] == "Informer" and record["prediction_length"] == 12 and record["saved"] == predictors["plain"]
    )
    assert record["train"]["train_series"] == 1 and record["train"]["validated_series"] == 1
    assert Predictor.deserialize(Path(predictors["plain"])).prediction_length == 12


def test_forecast_with_a_saved_predictor_is_the_predictor_loaded_in_python(tables, predictors, tmp_path, monkeypatch):
    monkeypatch.setattr(InformerAdapter, "estimator", lambda *a, **k: pytest.fail("trained instead of loading"))
    out = tmp_path / "f"
    argv = ["forecast", "--csv", tables["load"], "--target", "y", "--predictor", predictors["plain"]]
    assert main([*argv, "--out", str(out), "--num-samples", "20", "--device", "cpu", "--seed", "3"]) == 0
    table = pd.read_csv(out / "forecast.csv")
    assert len(table) == 12 and list(table.columns[:3]) == ["timestamp", "mean", "median"]
    assert not (out / "predictor").exists()  # nothing was trained: nothing to keep

    frame = pd.read_csv(tables["load"])
    entry = {"start": pd.Period(frame["ds"].iloc[0], "h"), "target": frame["y"].to_numpy(dtype=np.float32)}
    predictor = Predictor.deserialize(Path(predictors["plain"]), device="cpu")
    pl.seed_everything(3, verbose=False)
    (forecast,) = predictor.predict([entry], num_samples=20)
    np.testing.assert_allclose(table["mean"], forecast.mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(table["q0.9"], forecast.quantile(0.9), rtol=1e-6, atol=1e-6)


def test_backtest_and_joint_forecast_with_saved_predictors(tables, predictors, tmp_path, monkeypatch):
    monkeypatch.setattr(InformerAdapter, "estimator", lambda *a, **k: pytest.fail("trained instead of loading"))
    argv = ["backtest", "--csv", tables["both"], "--target", "y", "--covariates", "pv", "--windows", "2"]
    assert main([*argv, "--predictor", predictors["covariate"], "--out", str(tmp_path / "b"), "--device", "cpu"]) == 0
    record = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert record["predictor"] == predictors["covariate"] and "SeasonalNaive" in record["metrics"]
    argv = ["forecast", "--csv", tables["wide"], "--features", "M", "--predictor", predictors["joint"]]
    assert main([*argv, "--out", str(tmp_path / "m"), "--device", "cpu", "--num-samples", "10"]) == 0
    assert list(pd.unique(pd.read_csv(tmp_path / "m" / "forecast.csv")["variable"])) == ["a", "b"]
    argv = ["backtest", "--csv", tables["wide"], "--features", "M", "--predictor", predictors["joint"]]
    assert main([*argv, "--out", str(tmp_path / "mb"), "--device", "cpu", "--num-samples", "10"]) == 0
    assert json.loads((tmp_path / "mb" / "metrics.json").read_text())["variables"] == ["a", "b"]


# (the table, the options after --csv TABLE, which predictor, the message)
BAD_PREDICTORS = [
    pytest.param("load", ["--target", "y"], None, "no such folder", id="missing"),
    pytest.param("load", ["--target", "y"], "file", "is a file; name the folder", id="a-file"),
    pytest.param("load", ["--target", "y"], "folder", "is not a saved predictor", id="not-a-predictor"),
    pytest.param(
        "daily", ["--target", "y"], "plain", "was trained on frequency 'h'; this data's is 'D'", id="frequency"
    ),
    pytest.param(
        "load",
        ["--target", "y", "--prediction-length", "24"],
        "plain",
        "forecasts 12 steps; --prediction-length is 24",
        id="horizon",
    ),
    pytest.param(
        "both",
        ["--target", "y", "--covariates", "pv"],
        "plain",
        "was trained with no covariates; this table gives 1 past-only covariate(s)",
        id="covariates-added",
    ),
    pytest.param(
        "load",
        ["--target", "y"],
        "covariate",
        "was trained with 1 past-only covariate(s); this table gives no covariates",
        id="covariates-missing",
    ),
    pytest.param(
        "wide",
        ["--target", "a"],
        "joint",
        "forecasts 2 variables jointly (--features M); this command one series",
        id="joint-as-univariate",
    ),
]


@pytest.mark.parametrize("command", ["forecast", "backtest"])
@pytest.mark.parametrize("table, options, which, message", BAD_PREDICTORS)
def test_a_predictor_that_does_not_fit_is_one_line(
    command, table, options, which, message, tables, predictors, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(InformerAdapter, "estimator", lambda *a, **k: pytest.fail("trained"))
    (tmp_path / "file").write_text("not a predictor")
    (tmp_path / "folder").mkdir()
    path = predictors.get(which) or str(tmp_path / (which or "nowhere"))
    argv = [command, "--csv", tables[table], *options, "--predictor", path, "--out", str(tmp_path / "o")]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and f"--predictor {path!r}" in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_a_predictor_of_another_model_is_refused(predictors, tmp_path):
    from informer_gluonts.trained import read_saved

    folder = tmp_path / "other"
    folder.mkdir()
    for name in ("gluonts-config.json", "predictor.json"):
        text = (Path(predictors["plain"]) / name).read_text()
        (folder / name).write_text(text.replace("informer_gluonts.lightning_module", "somewhere.else"))
    with pytest.raises(CLIError, match="not an Informer"):
        read_saved(folder)


def test_short_series_train_whole_unvalidated_and_are_counted(tmp_path, capsys):
    frame = pd.concat(
        [corpus_tail("SF_hospital_load").assign(meter="long"), corpus_tail("SF_PV", 20).assign(meter="short")]
    )
    table = write(frame, tmp_path / "meters.csv")
    argv = ["train", "--csv", table, "--item-column", "meter", "--target", "y", "--prediction-length", H]
    assert main([*argv, "--out", str(tmp_path / "o"), *INFORMER_FAST_OPTIONS]) == 0
    record = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert record["series"] == 2 and record["unvalidated"] == 1 and record["skipped"] == 0
    assert record["train"]["validated_series"] == 1 and (tmp_path / "o" / "predictor" / "predictor.json").is_file()
    assert "1 series shorter than 25 steps" in capsys.readouterr().out


def test_train_on_a_dataset_scores_its_test_split(tmp_path):
    out = tmp_path / "d"
    assert main(["train", "--dataset", "airpassengers", "--out", str(out), *INFORMER_FAST_OPTIONS]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert set(record["metrics"]) == {"Informer", "SeasonalNaive"} and (out / "predictor").is_dir()


def test_joint_training_on_a_dataset_is_refused(tmp_path, capsys):
    assert main(["train", "--dataset", "airpassengers", "--features", "M", "--out", str(tmp_path)]) == 2
    assert "give --csv FILE" in capsys.readouterr().err
