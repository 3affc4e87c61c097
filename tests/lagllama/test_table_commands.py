"""The three commands on one's own table (long and wide, CSV and Parquet), built from real
hourly corpus files: zero-shot writes the long forecast table and a PNG, finetune keeps the
better weights and saves a checkpoint, backtest scores rolling windows beside SeasonalNaive;
bad input is one line and exit status 2."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lagllama_gluonts.cli import main

from conftest import CORPUS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUANTILES = [f"q{q / 10:g}" for q in range(1, 10)]
ITEMS = ("SF_hospital_load", "SF_PV", "load_rte")  # BeijingPM25_0 stays held out
FAST = ["--num-samples", "8", "--context-length", "32", "--device", "cpu"]


def tail(name: str, steps: int = 200) -> pd.DataFrame:
    return pd.read_csv(CORPUS / f"{name}.csv", usecols=["ds", "y"]).iloc[-steps:]


@pytest.fixture
def long_csv(tmp_path):
    frame = pd.concat([tail(name).assign(meter=name) for name in ITEMS], ignore_index=True)
    path = tmp_path / "meters.csv"
    frame[["meter", "ds", "y"]].sample(frac=1, random_state=1).to_csv(path, index=False)
    return path


@pytest.fixture
def wide_csv(tmp_path):
    frame = tail("SF_hospital_load").rename(columns={"y": "hospital"})
    frame = frame.merge(tail("SF_PV", 150).rename(columns={"y": "pv"}), on="ds", how="left")
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("output", ["forecast.csv", "forecast.parquet"])
def test_zero_shot_long_table_to_csv_or_parquet(long_csv, tmp_path, capsys, output):
    if output.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    code = main(["zero-shot", "--csv", str(long_csv), "--item-column", "meter", "--target", "y",
                 "--prediction-length", "12", "--out", str(out), "--output", str(out / output), *FAST])
    assert code == 0, capsys.readouterr().err
    table = pd.read_parquet(out / output) if output.endswith(".parquet") else pd.read_csv(out / output,
                                                                                         parse_dates=["ds"])
    assert list(table.columns) == ["meter", "ds", "mean", "median", *QUANTILES] and len(table) == 36
    for name in ITEMS:
        last = pd.Timestamp(tail(name)["ds"].iloc[-1])
        assert list(table.loc[table["meter"] == name, "ds"]) == list(pd.date_range(last, periods=13, freq="h")[1:])
    assert (np.diff(table[QUANTILES].to_numpy(), axis=1) >= 0).all()
    assert (out / "forecast.png").read_bytes()[:8] == PNG_MAGIC


def test_zero_shot_wide_table_forecasts_each_target_column(wide_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["zero-shot", "--csv", str(wide_csv), "--target", "hospital", "pv", "--prediction-length", "6",
                 "--out", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns)[:2] == ["item_id", "ds"] and list(table["item_id"].unique()) == ["hospital", "pv"]
    hospital = table.loc[table["item_id"] == "hospital", "median"]
    assert hospital.between(300, 3000).all()  # the column's own units (a hospital's load, not scaled)


def test_zero_shot_skips_items_shorter_than_the_horizon_with_a_count(long_csv, tmp_path, capsys):
    frame = pd.read_csv(long_csv)
    short = pd.DataFrame({"meter": "new", "ds": tail("SF_PV", 5)["ds"], "y": 1.0})
    path = tmp_path / "with_new.csv"
    pd.concat([frame, short]).to_csv(path, index=False)
    code = main(["zero-shot", "--csv", str(path), "--item-column", "meter", "--target", "y",
                 "--prediction-length", "12", "--out", str(tmp_path / "o"), *FAST])
    printed = capsys.readouterr().out
    assert code == 0 and "skipped 1 series with fewer observed values than the horizon (12): 'new'" in printed
    assert set(pd.read_csv(tmp_path / "o" / "forecast.csv")["meter"]) == set(ITEMS)


def test_backtest_rolling_windows_beside_seasonal_naive(long_csv, tmp_path, capsys):
    out = tmp_path / "bt"
    code = main(["backtest", "--csv", str(long_csv), "--item-column", "meter", "--target", "y",
                 "--prediction-length", "24", "--windows", "2", "--out", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "metrics.json").read_text())
    assert record["windows"] == 2 and record["items"] == 3 and record["skipped"] == 0
    assert set(record["metrics"]) == {"Lag-Llama", "SeasonalNaive"}
    assert all(np.isfinite(m["mean_wQuantileLoss"]) for m in record["metrics"].values())
    items = pd.read_csv(out / "item_metrics.csv")
    assert len(items) == 6 and set(items["item_id"]) == set(ITEMS) and (items["windows"] == 2).all()
    assert (out / "backtest.png").read_bytes()[:8] == PNG_MAGIC
    assert "SeasonalNaive" in capsys.readouterr().out


def test_finetune_on_a_table_saves_a_weights_only_checkpoint(wide_csv, tmp_path, capsys):
    saved = tmp_path / "tuned.ckpt"
    code = main(["finetune", "--csv", str(wide_csv), "--target", "hospital", "pv", "--prediction-length", "12",
                 "--epochs", "1", "--batches-per-epoch", "2", "--train-batch-size", "8", "--save", str(saved),
                 "--out", str(tmp_path / "ft"), *FAST])
    assert code == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert record["series"] == 2 and record["skipped"] == 0 and record["finetune"]["train_series"] == 2
    tuned = record["finetune"]
    # keep-if-better: the tuned weights only when they beat the checkpoint on validation
    assert tuned["kept"] == ("fine-tuned" if tuned["best_val_loss"] < tuned["start_val_loss"]
                             else "checkpoint (no epoch beat it on validation)")
    assert torch.load(saved, weights_only=True)["hyper_parameters"]["training"]["csv"] == str(wide_csv)


@pytest.mark.parametrize("command, options, message", [
    ("zero-shot", ["--item-column", "store", "--target", "y"], "no item column 'store' (--item-column); the table "
                                                              "has: meter, ds, y"),
    ("backtest", ["--item-column", "meter", "--target", "load"], "no target column 'load'"),
    ("backtest", ["--item-column", "meter", "--target", "y", "--windows", "50"], "no series has the 1224 steps"),
    ("finetune", ["--item-column", "meter", "--target", "y", "--time-column", "when"], "no timestamp column 'when'"),
    ("zero-shot", ["--item-column", "meter", "--target", "y", "--output", "f.xlsx"], "name a .csv or .parquet"),
    ("backtest", ["--target", "y", "--dataset", "airpassengers"], "not both"),
    ("finetune", ["--item-column", "meter"], "needs --target"),
])
def test_bad_table_commands_are_one_line_and_exit_2(long_csv, tmp_path, capsys, command, options, message):
    code = main([command, "--csv", str(long_csv), "--prediction-length", "24", "--out", str(tmp_path / "o"),
                 *options])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("lagllama-gluonts: error:") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_table_options_need_a_table(tmp_path, capsys):
    assert main(["backtest", "--dataset", "airpassengers", "--windows", "3", "--out", str(tmp_path)]) == 2
    assert "--windows works on a table: it needs --csv FILE" in capsys.readouterr().err


def test_mixed_frequencies_name_two_items(tmp_path, capsys):
    daily = pd.DataFrame({"id": "daily", "ds": pd.date_range("2021-01-01", periods=40, freq="D"), "y": 1.0})
    hourly = pd.DataFrame({"id": "hourly", "ds": pd.date_range("2021-01-01", periods=40, freq="h"), "y": 1.0})
    path = tmp_path / "mixed.csv"
    pd.concat([daily, hourly]).to_csv(path, index=False)
    assert main(["zero-shot", "--csv", str(path), "--item-column", "id", "--target", "y", "--prediction-length", "3",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "item 'daily' looks 'D' but item 'hourly' looks 'h'" in err and "--freq" in err
