"""``python -m informer_gluonts`` on one's own table (long and wide, CSV and Parquet), built
from real hourly corpus files: forecast trains one model on every item's history and writes
the long forecast table and a PNG; backtest trains before its first window; bad input is one
line and exit status 2, with the same messages as Lag-Llama's table commands. What both CLIs'
table commands share (skipping short items, backtest beside SeasonalNaive) is tested in
``tests/common/test_table_commands.py``."""

import json

import numpy as np
import pandas as pd
import pytest

from informer_gluonts.cli import build_parser, main

from conftest import HOURLY_ITEMS, PNG_MAGIC, QUANTILE_COLUMNS, corpus_tail
from conftest import INFORMER_FAST_OPTIONS as TINY


def in_units(values: pd.Series, history: pd.Series) -> bool:
    """Forecasts in the series' own units: within its recent range, widened by that range."""
    spread = history.max() - history.min()
    return bool(values.between(history.min() - spread, history.max() + spread).all())


@pytest.mark.parametrize("output", ["forecast.csv", "forecast.parquet"])
def test_forecast_long_table_trains_on_every_item_and_forecasts_each(meters_csv, tmp_path, capsys, output):
    if output.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    code = main(
        [
            "forecast",
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
            *TINY,
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = (
        pd.read_parquet(out / output) if output.endswith(".parquet") else pd.read_csv(out / output, parse_dates=["ds"])
    )
    assert list(table.columns) == ["meter", "ds", "mean", "median", *QUANTILE_COLUMNS] and len(table) == 36
    for name in HOURLY_ITEMS:
        rows = table[table["meter"] == name]
        last = pd.Timestamp(corpus_tail(name)["ds"].iloc[-1])
        assert list(rows["ds"]) == list(pd.date_range(last, periods=13, freq="h")[1:])
        assert in_units(rows["median"], corpus_tail(name)["y"]), name
    assert (np.diff(table[QUANTILE_COLUMNS].to_numpy(), axis=1) >= 0).all()
    assert (out / "forecast.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "predictor").is_dir()
    assert "trained on 3 series" in capsys.readouterr().out


@pytest.mark.parametrize("features", [[], ["--features", "S"]])
def test_forecast_wide_table_several_targets_are_independent_series(hospital_pv_csv, tmp_path, capsys, features):
    out = tmp_path / "out"
    code = main(
        [
            "forecast",
            "--csv",
            str(hospital_pv_csv),
            "--target",
            "hospital",
            "pv",
            *features,
            "--prediction-length",
            "6",
            "--out",
            str(out),
            "--quantiles",
            "0.1",
            "0.9",
            *TINY,
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv", parse_dates=["ds"])
    assert list(table.columns) == ["item_id", "ds", "mean", "median", "q0.1", "q0.9"]
    assert list(table["item_id"].unique()) == ["hospital", "pv"] and len(table) == 12
    hospital = table.loc[table["item_id"] == "hospital", "median"]
    assert hospital.between(300, 3000).all()  # the column's own units (a hospital's load, not scaled)


def test_features_m_keeps_its_joint_meaning_on_a_wide_table(hospital_pv_csv, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    code = main(
        [
            "forecast",
            "--csv",
            str(hospital_pv_csv),
            "--target",
            "hospital",
            "pv",
            "--features",
            "M",
            "--prediction-length",
            "6",
            "--out",
            str(out),
            "--output",
            str(out / "joint.parquet"),
            *TINY,
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_parquet(out / "joint.parquet")
    assert list(table.columns[:2]) == ["variable", "timestamp"] and list(table["variable"].unique()) == [
        "hospital",
        "pv",
    ]
    assert (out / "forecast.png").read_bytes()[:8] == PNG_MAGIC


def test_backtest_trains_before_the_first_window_and_validates_with_patience(meters_csv, tmp_path, monkeypatch, capsys):
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
    code = main(
        [
            "backtest",
            "--csv",
            str(meters_csv),
            "--item-column",
            "meter",
            "--target",
            "y",
            "--patience",
            "1",
            "--prediction-length",
            "24",
            "--windows",
            "2",
            "--distance",
            "12",
            "--max-series",
            "2",
            "--out",
            str(out),
            *TINY,
        ]
    )
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


@pytest.mark.parametrize(
    "command, options, message",
    [
        (
            "forecast",
            ["--item-column", "store", "--target", "y"],
            "no item column 'store' (--item-column); the table has: meter, ds, y",
        ),
        ("backtest", ["--item-column", "meter", "--target", "load"], "no target column 'load'"),
        ("backtest", ["--item-column", "meter", "--target", "y", "--windows", "50"], "no series has the 1224 steps"),
        (
            "forecast",
            ["--item-column", "meter", "--target", "y", "--time-column", "when"],
            "no timestamp column 'when'",
        ),
        ("forecast", ["--item-column", "meter", "--target", "y", "--output", "f.xlsx"], "name a .csv or .parquet"),
        (
            "forecast",
            ["--item-column", "meter", "--target", "y", "--prediction-length", "201"],
            "every item (of 3) has fewer than 201 observed values",
        ),
        (
            "forecast",
            ["--item-column", "meter", "--target", "y", "--context-length", "190"],
            "too few rows: the longest series",
        ),
        (
            "forecast",
            ["--item-column", "meter", "--target", "y", "--features", "M"],
            "--item-column forecasts each item",
        ),
        (
            "forecast",
            ["--item-column", "meter", "--target", "y", "--covariates", "ds"],
            "--item-column forecasts each item",
        ),
        ("backtest", ["--target", "y", "--dataset", "airpassengers"], "not both"),
        ("backtest", ["--item-column", "meter"], "needs --target"),
        (
            "backtest",
            ["--item-column", "meter", "--target", "y", "--features", "M"],
            "--item-column forecasts each item",
        ),
    ],
)
def test_bad_table_commands_are_one_line_and_exit_2(meters_csv, tmp_path, capsys, command, options, message):
    code = main(
        [
            command,
            "--csv",
            str(meters_csv),
            "--prediction-length",
            "24",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
            *options,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("informer-gluonts: error:") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # refused before any work


def test_table_options_need_a_table(tmp_path, capsys):
    assert main(["backtest", "--dataset", "airpassengers", "--windows", "3", "--out", str(tmp_path)]) == 2
    assert "--windows works on a table: it needs --csv FILE" in capsys.readouterr().err
    assert main(["backtest", "--csv", str(tmp_path / "t.csv"), "--target", "y", "--out", str(tmp_path)]) == 2
    assert "--csv needs --prediction-length H" in capsys.readouterr().err


def test_output_with_covariates_writes_the_one_long_layout(tmp_path, capsys):
    """--features MS (--covariates) is a shared forecast like any other: --output gets the one
    long layout, the item column first."""
    path = tmp_path / "one.csv"
    corpus_tail("SF_hospital_load").assign(x=1.0).to_csv(path, index=False)
    output = tmp_path / "f.csv"
    argv = ["forecast", "--csv", str(path), "--target", "y", "--covariates", "x", "--output", str(output)]
    assert main([*argv, "--prediction-length", "6", "--out", str(tmp_path / "o"), *TINY]) == 0, capsys.readouterr().err
    table = pd.read_csv(output)
    assert list(table.columns[:4]) == ["item_id", "ds", "mean", "median"] and len(table) == 6


def test_mixed_frequencies_name_two_items(tmp_path, capsys):
    daily = pd.DataFrame({"id": "daily", "ds": pd.date_range("2021-01-01", periods=40, freq="D"), "y": 1.0})
    hourly = pd.DataFrame({"id": "hourly", "ds": pd.date_range("2021-01-01", periods=40, freq="h"), "y": 1.0})
    path = tmp_path / "mixed.csv"
    pd.concat([daily, hourly]).to_csv(path, index=False)
    assert (
        main(
            [
                "forecast",
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
