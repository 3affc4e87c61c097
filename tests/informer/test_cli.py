"""Tests of ``python -m informer_gluonts``: CSV forecasting and bad input."""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from informer_gluonts.cli import build_parser, main
from lagllama_gluonts.common.tables import load_table

from conftest import ETTH1, REPO_ROOT

TINY_BUDGET = [
    "--max-steps",
    "6",
    "--batches-per-epoch",
    "3",
    "--d-model",
    "16",
    "--n-heads",
    "2",
    "--d-ff",
    "32",
    "--num-samples",
    "50",
    "--quiet",
    "--threads",
    "1",
]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def hourly_frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=rows, freq="h"),
            "load": np.arange(rows, dtype=float) % 24,
            "temp": np.linspace(0, 1, rows),
        }
    )


def test_help_explains_the_subcommands():
    result = subprocess.run(
        [sys.executable, "-m", "informer_gluonts", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0
    for word in ("forecast", "train-csv", "backtest", "ProbSparse"):
        assert word in result.stdout
    forecast_help = subprocess.run(
        [sys.executable, "-m", "informer_gluonts", "forecast", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    ).stdout
    for flag in ("--csv", "--target", "--covariates", "--freq", "--out"):
        assert flag in forecast_help


@pytest.mark.slow
def test_csv_forecast_continues_etth1_in_ot_units(tmp_path):
    out = tmp_path / "out"
    code = main(
        [
            "forecast",
            "--csv",
            str(ETTH1),
            "--target",
            "OT",
            "--covariates",
            "HUFL",
            "LUFL",
            "--prediction-length",
            "24",
            "--context-length",
            "48",
            "--out",
            str(out),
            *TINY_BUDGET,
        ]
    )
    assert code == 0
    table = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    quantiles = [f"q{q}" for q in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    assert list(table.columns) == ["timestamp", "mean", "median", *quantiles]

    data = pd.read_csv(ETTH1, parse_dates=["date"])
    last = data["date"].iloc[-1]
    expected = pd.date_range(last + pd.Timedelta(hours=1), periods=24, freq="h")
    assert list(table["timestamp"]) == list(expected)

    # Original units: OT's last week lies in [3.7, 12.4] degrees, its last
    # two days (the context) average 9.8. A standardised forecast (OT's
    # train mean 13.3, std 8.6) would sit near -0.5 +- 1.
    recent = data["OT"].iloc[-168:]
    spread = recent.max() - recent.min()
    context = data["OT"].iloc[-48:]
    assert table["mean"].between(recent.min() - spread / 4, recent.max() + spread / 4).all()
    assert abs(table["mean"].mean() - context.mean()) < 0.3 * context.mean()
    assert abs(table["median"].mean() - context.mean()) < 0.3 * context.mean()
    assert (table["q0.1"] <= table["q0.9"]).all()
    assert (out / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "predictor").is_dir()


def test_csv_forecast_on_small_custom_file(tmp_path):
    csv = tmp_path / "data.csv"
    frame = hourly_frame(120)
    frame = frame.drop(index=[50, 51])  # a gap: becomes missing values
    frame.to_csv(csv, index=False)
    out = tmp_path / "out"
    code = main(
        [
            "train-csv",
            "--csv",
            str(csv),
            "--target",
            "load",
            "--prediction-length",
            "6",
            "--context-length",
            "24",
            "--lags",
            "1,24",
            "--quantiles",
            "0.05",
            "0.5",
            "0.95",
            "--freq",
            "h",
            "--out",
            str(out),
            *TINY_BUDGET,
        ]
    )
    assert code == 0
    table = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    assert list(table.columns) == ["timestamp", "mean", "median", "q0.05", "q0.5", "q0.95"]
    assert table["timestamp"].iloc[0] == pd.Timestamp("2021-01-06 00:00")


@pytest.mark.parametrize(
    "text, extra, message",
    [
        ("x,OT\n1,2\n2,3\n", ["--time-column", "date"], "no timestamp column 'date'"),
        ("date,OT\n2021-01-01,1\n", ["--target", "XX"], "no target column 'XX'"),
        ("date,OT,a\n2021-01-01,1,2\n", ["--covariates", "b"], "no covariate column 'b'"),
        (
            "date,OT\n2021-01-01 00:00,1\n2021-01-01 01:00,abc\n2021-01-01 02:00,3\n",
            [],
            "has a non-numeric value 'abc' in data row 2",
        ),
        ("date,OT\nyesterday,1\n", [], "cannot parse the timestamps"),
        ("date,OT\n2021-01-01 00:00,1\n2021-01-01 00:00,2\n2021-01-01 01:00,2\n", [], "duplicate timestamp"),
        (
            "date,OT\n2021-01-01 00:00,1\n2021-01-01 01:00,2\n2021-01-01 05:00,2\n2021-01-01 06:00,2\n",
            [],
            "cannot infer a regular frequency",
        ),
    ],
)
def test_bad_csv_gives_one_line_error(tmp_path, capsys, text, extra, message):
    csv = write_csv(tmp_path / "bad.csv", text)
    args = ["forecast", "--csv", str(csv), "--target", "OT", "--out", str(tmp_path / "out"), *extra]
    # argparse keeps the last --target
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_too_few_rows_is_reported(tmp_path, capsys):
    csv = tmp_path / "short.csv"
    hourly_frame(40).to_csv(csv, index=False)
    code = main(
        [
            "forecast",
            "--csv",
            str(csv),
            "--target",
            "load",
            "--prediction-length",
            "24",
            "--context-length",
            "24",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "too few rows: 40" in err and "48" in err


def test_missing_file_and_bad_frequency(tmp_path, capsys):
    assert main(["forecast", "--csv", str(tmp_path / "nope.csv"), "--target", "OT", "--quiet"]) == 2
    assert "not found" in capsys.readouterr().err
    csv = tmp_path / "ok.csv"
    hourly_frame(100).to_csv(csv, index=False)
    assert (
        main(
            [
                "forecast",
                "--csv",
                str(csv),
                "--target",
                "load",
                "--freq",
                "fortnightly",
                "--quiet",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert "frequency" in capsys.readouterr().err


def test_cli_error_exits_nonzero_without_traceback(tmp_path):
    csv = write_csv(tmp_path / "bad.csv", "when,OT\n1,2\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "informer_gluonts",
            "forecast",
            "--csv",
            str(csv),
            "--target",
            "OT",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    # the program as the user started it
    assert result.stderr.strip().startswith("python -m informer_gluonts: error:")
    assert "Traceback" not in result.stderr


def test_load_csv_series_fills_gaps_on_the_grid(tmp_path):
    csv = tmp_path / "gap.csv"
    frame = hourly_frame(10).drop(index=[3])
    frame.to_csv(csv, index=False)
    table = load_table(csv, ["load", "temp"], freq="h")
    assert table.freq == "h"
    assert len(table.frame) == 10
    assert np.isnan(table.frame["load"].iloc[3])


# --------------------------------------------------------------------------- calendars and separators

# (pandas alias of the user's grid, length, separator): the forecast continues on that grid
GRIDS = {
    "month start (MS)": ("MS", 60, ","),
    "month end (ME)": ("ME", 60, ","),
    "business days (B)": ("B", 120, ","),
    "semicolon-separated": ("h", 120, ";"),
    "tab-separated": ("h", 120, "\t"),
}


@pytest.mark.parametrize("freq, rows, sep", GRIDS.values(), ids=GRIDS.keys())
def test_forecast_continues_on_the_users_grid(tmp_path, capsys, freq, rows, sep):
    times = pd.date_range("2015-01-01", periods=rows, freq=freq)
    values = 10 + np.sin(np.arange(rows) / 2) + 0.01 * np.arange(rows)
    csv = tmp_path / "data.csv"
    pd.DataFrame({"date": times, "sales": values}).to_csv(csv, sep=sep, index=False)
    out = tmp_path / "out"
    H = 6
    code = main(
        [
            "forecast",
            "--csv",
            str(csv),
            "--target",
            "sales",
            "--prediction-length",
            str(H),
            "--context-length",
            "12",
            "--out",
            str(out),
            *TINY_BUDGET,
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    expected = pd.date_range(times[-1], periods=H + 1, freq=freq)[1:]  # e.g. the next month ends
    assert list(table["timestamp"]) == list(expected)
    assert np.isfinite(table.drop(columns="timestamp").to_numpy()).all()
    assert table["mean"].between(values.min() - 5, values.max() + 5).all()  # the data's units


def test_business_day_forecast_prints_no_library_warning(tmp_path):
    """pandas warns that business-day periods are deprecated (the shared reader makes one):
    noise on the command line, where pytest's warning capture does not hide it."""
    csv = tmp_path / "b.csv"
    times = pd.date_range("2015-01-01", periods=80, freq="B")
    pd.DataFrame({"date": times, "y": np.sin(np.arange(80) / 3)}).to_csv(csv, index=False)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "informer_gluonts",
            "forecast",
            "--csv",
            str(csv),
            "--target",
            "y",
            "--prediction-length",
            "5",
            "--context-length",
            "10",
            "--out",
            str(tmp_path / "out"),
            *TINY_BUDGET,
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    table = pd.read_csv(tmp_path / "out" / "forecast.csv", parse_dates=["timestamp"])
    assert table["timestamp"].iloc[0] == times[-1] + pd.offsets.BDay(1)


def test_subcommand_help_reads_well():
    for command, flags in [
        ("forecast", ("--csv", "--target", "--sep", "--freq", "--covariates", "--patience", "--factor")),
        ("backtest", ("--dataset", "--baseline", "--max-series", "--patience", "--factor")),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "informer_gluonts", command, "--help"], capture_output=True, text=True, cwd=REPO_ROOT
        )
        assert result.returncode == 0 and not result.stderr
        for text in (*flags, "model (defaults sized for a CPU):", "training budget:", "prediction:"):
            assert text in result.stdout, (command, text)
    # every option says what it does, and what it defaults to when it has a default
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        for action in parser._actions:
            assert action.help, (name, action.option_strings)
            if action.default not in (None, False, argparse.SUPPRESS) and action.nargs != 0:
                assert "default" in action.help, (name, action.option_strings)


def test_usage_errors_are_one_line_with_the_subcommand(capsys):
    assert main(["forecast", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "informer-gluonts: error: forecast: argument --epochs: must be >= 1, got 0\n"
    assert main(["backtest", "--help"]) == 0  # --help still exits 0
    assert "usage: informer-gluonts backtest" in capsys.readouterr().out


def test_backtest_patience_validates_on_a_held_out_window(tmp_path, monkeypatch, capsys):
    """--patience stops on a validation loss: the backtest holds out each training series'
    last window for it (the shared rule), instead of silently never stopping."""
    from informer_gluonts.estimator import InformerEstimator
    from lagllama_gluonts.common import datasets

    real_get, real_train = datasets.get_dataset, InformerEstimator.train
    monkeypatch.setattr(datasets, "get_dataset", lambda name, **kw: real_get(name, path=tmp_path / "cache", **kw))
    seen = []

    def train(self, training_data, validation_data=None, **kwargs):
        seen.append((list(training_data), validation_data))
        return real_train(self, training_data, validation_data=validation_data, **kwargs)

    monkeypatch.setattr(InformerEstimator, "train", train)
    out = tmp_path / "out"
    args = [
        "backtest",
        "--dataset",
        "airpassengers",
        "--prediction-length",
        "6",
        "--context-length",
        "12",
        "--out",
        str(out),
        *TINY_BUDGET,
    ]
    assert main([*args, "--patience", "1"]) == 0, capsys.readouterr().err
    assert main(args) == 0, capsys.readouterr().err
    (fit, validation), (full, no_validation) = seen
    assert no_validation is None and validation is not None
    assert [len(e["target"]) for e in fit] == [len(e["target"]) - 6 for e in full]
    assert (out / "metrics.json").is_file()
