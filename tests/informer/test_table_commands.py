"""``python -m informer_gluonts`` on one's own table (long and wide, CSV and Parquet), built
from real hourly corpus files: forecast trains one model on every item's history and writes
the long forecast table and a PNG; backtest scores rolling windows beside SeasonalNaive
through the shared ``rolling_backtest``; bad input is one line and exit status 2, with the
same messages as Lag-Llama's table commands."""

import json

import numpy as np
import pandas as pd
import pytest

from informer_gluonts.cli import build_parser, main

from conftest import CORPUS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUANTILES = [f"q{q / 10:g}" for q in range(1, 10)]
ITEMS = ("SF_hospital_load", "SF_PV", "load_rte")  # BeijingPM25_0 stays held out
TINY = ["--max-steps", "4", "--batches-per-epoch", "2", "--d-model", "16", "--n-heads", "2", "--d-ff", "32",
        "--num-samples", "20", "--quiet", "--threads", "1", "--context-length", "48", "--lags", "1,24",
        "--device", "cpu"]


def tail(name: str, steps: int = 200) -> pd.DataFrame:
    return pd.read_csv(CORPUS / f"{name}.csv", usecols=["ds", "y"]).iloc[-steps:]


@pytest.fixture
def long_csv(tmp_path):
    frame = pd.concat([tail(name).assign(meter=name) for name in ITEMS], ignore_index=True)
    path = tmp_path / "meters.csv"
    frame[["meter", "ds", "y"]].sample(frac=1, random_state=1).to_csv(path, index=False)  # rows in any order
    return path


@pytest.fixture
def wide_csv(tmp_path):
    frame = tail("SF_hospital_load").rename(columns={"y": "hospital"})
    frame = frame.merge(tail("SF_PV", 150).rename(columns={"y": "pv"}), on="ds", how="left")  # pv starts later
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    return path


def in_units(values: pd.Series, history: pd.Series) -> bool:
    """Forecasts in the series' own units: within its recent range, widened by that range."""
    spread = history.max() - history.min()
    return bool(values.between(history.min() - spread, history.max() + spread).all())


@pytest.mark.parametrize("output", ["forecast.csv", "forecast.parquet"])
def test_forecast_long_table_trains_on_every_item_and_forecasts_each(long_csv, tmp_path, capsys, output):
    if output.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    code = main(["forecast", "--csv", str(long_csv), "--item-column", "meter", "--target", "y",
                 "--prediction-length", "12", "--out", str(out), "--output", str(out / output), *TINY])
    assert code == 0, capsys.readouterr().err
    table = pd.read_parquet(out / output) if output.endswith(".parquet") else pd.read_csv(out / output,
                                                                                         parse_dates=["ds"])
    assert list(table.columns) == ["meter", "ds", "mean", "median", *QUANTILES] and len(table) == 36
    for name in ITEMS:
        rows = table[table["meter"] == name]
        last = pd.Timestamp(tail(name)["ds"].iloc[-1])
        assert list(rows["ds"]) == list(pd.date_range(last, periods=13, freq="h")[1:])
        assert in_units(rows["median"], tail(name)["y"]), name
    assert (np.diff(table[QUANTILES].to_numpy(), axis=1) >= 0).all()
    assert (out / "forecast.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "predictor").is_dir()
    assert "trained on 3 series" in capsys.readouterr().out


@pytest.mark.parametrize("features", [[], ["--features", "S"]])
def test_forecast_wide_table_several_targets_are_independent_series(wide_csv, tmp_path, capsys, features):
    out = tmp_path / "out"
    code = main(["forecast", "--csv", str(wide_csv), "--target", "hospital", "pv", *features,
                 "--prediction-length", "6", "--out", str(out), "--quantiles", "0.1", "0.9", *TINY])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv", parse_dates=["ds"])
    assert list(table.columns) == ["item_id", "ds", "mean", "median", "q0.1", "q0.9"]
    assert list(table["item_id"].unique()) == ["hospital", "pv"] and len(table) == 12
    hospital = table.loc[table["item_id"] == "hospital", "median"]
    assert hospital.between(300, 3000).all()  # the column's own units (a hospital's load, not scaled)


def test_features_m_keeps_its_joint_meaning_on_a_wide_table(wide_csv, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    code = main(["forecast", "--csv", str(wide_csv), "--target", "hospital", "pv", "--features", "M",
                 "--prediction-length", "6", "--out", str(out), "--output", str(out / "joint.parquet"), *TINY])
    assert code == 0, capsys.readouterr().err
    table = pd.read_parquet(out / "joint.parquet")
    assert list(table.columns[:2]) == ["timestamp", "variable"] and list(table["variable"].unique()) == ["hospital",
                                                                                                      "pv"]
    assert (out / "forecast.png").read_bytes()[:8] == PNG_MAGIC


def test_forecast_skips_items_shorter_than_the_horizon_with_a_count(long_csv, tmp_path, capsys):
    frame = pd.read_csv(long_csv)
    short = pd.DataFrame({"meter": "new", "ds": tail("SF_PV", 5)["ds"], "y": 1.0})
    path = tmp_path / "with_new.csv"
    pd.concat([frame, short]).to_csv(path, index=False)
    code = main(["forecast", "--csv", str(path), "--item-column", "meter", "--target", "y",
                 "--prediction-length", "12", "--out", str(tmp_path / "o"), *TINY])
    printed = capsys.readouterr().out
    assert code == 0 and "skipped 1 series with fewer observed values than the horizon (12): 'new'" in printed
    assert set(pd.read_csv(tmp_path / "o" / "forecast.csv")["meter"]) == set(ITEMS)


def test_backtest_rolling_windows_beside_seasonal_naive(long_csv, tmp_path, capsys):
    out = tmp_path / "bt"
    code = main(["backtest", "--csv", str(long_csv), "--item-column", "meter", "--target", "y",
                 "--prediction-length", "24", "--windows", "2", "--out", str(out), *TINY])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "metrics.json").read_text())
    assert record["windows"] == 2 and record["distance"] == 24 and record["items"] == 3 and record["skipped"] == 0
    assert set(record["metrics"]) == {"Informer", "SeasonalNaive"} and record["model"] == "Informer"
    assert all(np.isfinite(m["mean_wQuantileLoss"]) for m in record["metrics"].values())
    items = pd.read_csv(out / "item_metrics.csv")
    assert len(items) == 6 and set(items["item_id"]) == set(ITEMS) and (items["windows"] == 2).all()
    assert (out / "backtest.png").read_bytes()[:8] == PNG_MAGIC
    assert "SeasonalNaive" in capsys.readouterr().out


def test_backtest_trains_before_the_first_window_and_validates_with_patience(long_csv, tmp_path, monkeypatch,
                                                                               capsys):
    """Informer trains on each item's part before the first window only; --patience holds out
    the last horizon of that part to validate on (the shared rule); --distance and --max-series
    reach the windows."""
    from informer_gluonts.estimator import InformerEstimator

    real_train, seen = InformerEstimator.train, []

    def train(self, training_data, validation_data=None, **kwargs):
        seen.append((list(training_data), validation_data))
        return real_train(self, training_data, validation_data=validation_data, **kwargs)

    monkeypatch.setattr(InformerEstimator, "train", train)
    out = tmp_path / "bt"
    code = main(["backtest", "--csv", str(long_csv), "--item-column", "meter", "--target", "y", "--patience", "1",
                 "--prediction-length", "24", "--windows", "2", "--distance", "12", "--max-series", "2",
                 "--out", str(out), *TINY])
    assert code == 0, capsys.readouterr().err
    [(fit, validation)] = seen
    span = 12 + 24  # two windows 12 steps apart cover the last 36 steps of each item
    assert [len(e["target"]) for e in validation] == [200 - span] * 2
    assert [len(e["target"]) for e in fit] == [200 - span - 24] * 2
    record = json.loads((out / "metrics.json").read_text())
    assert record["items"] == 2 and record["distance"] == 12


def test_forecast_target_is_the_shared_option():
    args = build_parser().parse_args(["forecast", "--csv", "x.csv", "--target", "a", "b", "--output", "f.parquet"])
    assert args.target == ["a", "b"] and str(args.output) == "f.parquet" and args.item_column is None
    args = build_parser().parse_args(["backtest", "--csv", "x.csv", "--target", "y", "--windows", "3"])
    assert args.windows == 3 and args.distance is None and args.dataset is None


@pytest.mark.parametrize("command, options, message", [
    ("forecast", ["--item-column", "store", "--target", "y"], "no item column 'store' (--item-column); the table "
                                                             "has: meter, ds, y"),
    ("backtest", ["--item-column", "meter", "--target", "load"], "no target column 'load'"),
    ("backtest", ["--item-column", "meter", "--target", "y", "--windows", "50"], "no series has the 1224 steps"),
    ("forecast", ["--item-column", "meter", "--target", "y", "--time-column", "when"], "no timestamp column 'when'"),
    ("forecast", ["--item-column", "meter", "--target", "y", "--output", "f.xlsx"], "name a .csv or .parquet"),
    ("forecast", ["--item-column", "meter", "--target", "y", "--prediction-length", "201"],
     "every item has fewer than 201 observed values"),
    ("forecast", ["--item-column", "meter", "--target", "y", "--context-length", "190"],
     "too few rows: the longest series"),
    ("forecast", ["--item-column", "meter", "--target", "y", "--features", "M"], "--item-column forecasts each item"),
    ("forecast", ["--item-column", "meter", "--target", "y", "--covariates", "ds"],
     "--item-column forecasts each item"),
    ("backtest", ["--target", "y", "--dataset", "airpassengers"], "not both"),
    ("backtest", ["--item-column", "meter"], "needs --target"),
    ("backtest", ["--item-column", "meter", "--target", "y", "--features", "M"], "backtest --csv scores every series"),
])
def test_bad_table_commands_are_one_line_and_exit_2(long_csv, tmp_path, capsys, command, options, message):
    code = main([command, "--csv", str(long_csv), "--prediction-length", "24", "--out", str(tmp_path / "o"),
                 "--quiet", *options])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("informer-gluonts: error:") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # refused before any work


def test_table_options_need_a_table(tmp_path, capsys):
    assert main(["backtest", "--dataset", "airpassengers", "--windows", "3", "--out", str(tmp_path)]) == 2
    assert "--windows works on a table: it needs --csv FILE" in capsys.readouterr().err
    assert main(["backtest", "--csv", str(tmp_path / "t.csv"), "--target", "y", "--out", str(tmp_path)]) == 2
    assert "--csv needs --prediction-length H" in capsys.readouterr().err


def test_output_with_covariates_is_refused(tmp_path, capsys):
    path = tmp_path / "one.csv"
    tail("SF_hospital_load").assign(x=1.0).to_csv(path, index=False)
    assert main(["forecast", "--csv", str(path), "--target", "y", "--covariates", "x", "--output",
                 str(tmp_path / "f.csv"), "--quiet"]) == 2
    assert "--output writes the long table of many series" in capsys.readouterr().err


def test_mixed_frequencies_name_two_items(tmp_path, capsys):
    daily = pd.DataFrame({"id": "daily", "ds": pd.date_range("2021-01-01", periods=40, freq="D"), "y": 1.0})
    hourly = pd.DataFrame({"id": "hourly", "ds": pd.date_range("2021-01-01", periods=40, freq="h"), "y": 1.0})
    path = tmp_path / "mixed.csv"
    pd.concat([daily, hourly]).to_csv(path, index=False)
    assert main(["forecast", "--csv", str(path), "--item-column", "id", "--target", "y", "--prediction-length", "3",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "item 'daily' looks 'D' but item 'hourly' looks 'h'" in err and "--freq" in err
