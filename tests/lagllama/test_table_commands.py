"""The three commands on one's own table (long and wide, CSV and Parquet), built from real
hourly corpus files: zero-shot writes the long forecast table and a PNG, finetune keeps the
better weights and saves a checkpoint; bad input is one line and exit status 2. What both
CLIs' table commands share (skipping short items, backtest beside SeasonalNaive) is tested
in ``tests/common/test_table_commands.py``."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lagllama_gluonts.cli import main

from conftest import HOURLY_ITEMS, PNG_MAGIC, QUANTILE_COLUMNS, corpus_tail
from conftest import LAGLLAMA_FAST_OPTIONS as FAST


@pytest.mark.parametrize("output", ["forecast.csv", "forecast.parquet"])
def test_zero_shot_long_table_to_csv_or_parquet(meters_csv, tmp_path, capsys, output):
    if output.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    code = main(
        [
            "zero-shot",
            "--csv",
            str(meters_csv),
            "--item-column",
            "meter",
            "--target",
            "y",
            "--prediction-length",
            "12",
            "--out",
            str(out),
            "--output",
            str(out / output),
            *FAST,
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = (
        pd.read_parquet(out / output) if output.endswith(".parquet") else pd.read_csv(out / output, parse_dates=["ds"])
    )
    assert list(table.columns) == ["meter", "ds", "mean", "median", *QUANTILE_COLUMNS] and len(table) == 36
    for name in HOURLY_ITEMS:
        last = pd.Timestamp(corpus_tail(name)["ds"].iloc[-1])
        assert list(table.loc[table["meter"] == name, "ds"]) == list(pd.date_range(last, periods=13, freq="h")[1:])
    assert (np.diff(table[QUANTILE_COLUMNS].to_numpy(), axis=1) >= 0).all()
    assert (out / "forecast.png").read_bytes()[:8] == PNG_MAGIC


def test_zero_shot_wide_table_forecasts_each_target_column(hospital_pv_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "zero-shot",
            "--csv",
            str(hospital_pv_csv),
            "--target",
            "hospital",
            "pv",
            "--prediction-length",
            "6",
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns)[:2] == ["item_id", "ds"] and list(table["item_id"].unique()) == ["hospital", "pv"]
    hospital = table.loc[table["item_id"] == "hospital", "median"]
    assert hospital.between(300, 3000).all()  # the column's own units (a hospital's load, not scaled)


def test_finetune_on_a_table_saves_a_weights_only_checkpoint(hospital_pv_csv, tmp_path, capsys):
    saved = tmp_path / "tuned.ckpt"
    code = main(
        [
            "finetune",
            "--csv",
            str(hospital_pv_csv),
            "--target",
            "hospital",
            "pv",
            "--prediction-length",
            "12",
            "--epochs",
            "1",
            "--batches-per-epoch",
            "2",
            "--train-batch-size",
            "8",
            "--save",
            str(saved),
            "--out",
            str(tmp_path / "ft"),
            *FAST,
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert record["series"] == 2 and record["skipped"] == 0 and record["finetune"]["train_series"] == 2
    tuned = record["finetune"]
    # keep-if-better: the tuned weights only when they beat the checkpoint on validation (the
    # quantile loss and NLL of several windows per series, finetune.py); the record says which
    assert tuned["kept_candidate"] in tuned["candidates"]
    assert (tuned["kept"] == "fine-tuned") == (tuned["kept_candidate"] == "fine-tuned")
    assert tuned["kept"].startswith("checkpoint") == (tuned["kept_candidate"] == "zero-shot")
    assert torch.load(saved, weights_only=True)["hyper_parameters"]["training"]["csv"] == str(hospital_pv_csv)


@pytest.mark.parametrize(
    "command, options, message",
    [
        (
            "zero-shot",
            ["--item-column", "store", "--target", "y"],
            "no item column 'store' (--item-column); the table has: meter, ds, y",
        ),
        ("backtest", ["--item-column", "meter", "--target", "load"], "no target column 'load'"),
        ("backtest", ["--item-column", "meter", "--target", "y", "--windows", "50"], "no series has the 1224 steps"),
        (
            "finetune",
            ["--item-column", "meter", "--target", "y", "--time-column", "when"],
            "no timestamp column 'when'",
        ),
        ("zero-shot", ["--item-column", "meter", "--target", "y", "--output", "f.xlsx"], "name a .csv or .parquet"),
        ("backtest", ["--target", "y", "--dataset", "airpassengers"], "not both"),
        ("finetune", ["--item-column", "meter"], "needs --target"),
    ],
)
def test_bad_table_commands_are_one_line_and_exit_2(meters_csv, tmp_path, capsys, command, options, message):
    code = main(
        [command, "--csv", str(meters_csv), "--prediction-length", "24", "--out", str(tmp_path / "o"), *options]
    )
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
    assert (
        main(
            [
                "zero-shot",
                "--csv",
                str(path),
                "--item-column",
                "id",
                "--target",
                "y",
                "--prediction-length",
                "3",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "item 'daily' looks 'D' but item 'hourly' looks 'h'" in err and "--freq" in err
