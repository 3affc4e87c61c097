"""The two CLIs run the shared commands of ``lagllama_gluonts.common.commands`` and re-implement
none: a table forecast, a table backtest and a dataset backtest of either CLI go through the
same function (replaced here by a recorder), the CLIs' modules define no parser class or error
type and call none of the shared layer's forecasting and scoring functions themselves; and
every shared command works for every mode of each model (Informer's M and MS on a table)."""

import ast
import json

import numpy as np
import pandas as pd
import pytest

from informer_gluonts.cli import main as informer_main
from lagllama_gluonts.cli import main as lagllama_main
from lagllama_gluonts.common import commands

from conftest import INFORMER_FAST_OPTIONS, LAGLLAMA_FAST_OPTIONS, REPO_ROOT, corpus_tail

CLIS = {"informer": (informer_main, "Informer"), "lagllama": (lagllama_main, "Lag-Llama")}
TABLE = ["--item-column", "meter", "--target", "y", "--prediction-length", "12"]
# (command line, the shared function it must reach)
RUNS = [
    (["forecast", "--csv", "{csv}", *TABLE], "forecast_table"),
    (["backtest", "--csv", "{csv}", *TABLE, "--windows", "2"], "backtest_table"),
    (["backtest", "--dataset", "airpassengers"], "backtest_dataset"),
]


@pytest.mark.parametrize("cli", list(CLIS))
@pytest.mark.parametrize("argv, shared", RUNS, ids=[shared for _, shared in RUNS])
def test_both_clis_run_the_shared_command(cli, argv, shared, meters_csv, tmp_path, monkeypatch):
    main, model = CLIS[cli]
    calls = []

    def record(adapter, args, *rest, **kwargs):
        calls.append((adapter.name, args.canonical_command))
        return 0

    monkeypatch.setattr(commands, shared, record)
    assert main([a.format(csv=meters_csv) for a in argv] + ["--out", str(tmp_path / "o")]) == 0
    assert calls == [(model, argv[0])]


def test_lagllama_zero_shot_is_the_shared_forecast(meters_csv, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(commands, "forecast_table", lambda adapter, args: calls.append(args.command) or 0)
    assert lagllama_main(["zero-shot", "--csv", str(meters_csv), *TABLE, "--out", str(tmp_path)]) == 0
    assert calls == ["zero-shot"]


# what only the shared layer may do: forecast, score and report a table or a dataset
SHARED_ONLY = {"rolling_backtest", "forecast_table_file", "write_backtest_report", "write_forecast", "run_backtest"}


@pytest.mark.parametrize("package", ["lagllama_gluonts", "informer_gluonts"])
def test_the_clis_define_no_command_of_their_own(package):
    tree = ast.parse((REPO_ROOT / package / "cli.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & SHARED_ONLY, f"{package}/cli.py calls {sorted(names & SHARED_ONLY)} itself"
    classes = {n.name: [ast.unparse(b) for b in n.bases] for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    assert "CLIError" not in classes and not any("ArgumentParser" in b for bases in classes.values() for b in bases)
    assert all(bases == ["ModelAdapter"] for bases in classes.values()), classes


@pytest.mark.parametrize("cli", list(CLIS))
def test_nonnegative_clips_the_forecast_of_both_models(cli, tmp_path):
    main, _ = CLIS[cli]
    fast = INFORMER_FAST_OPTIONS if cli == "informer" else LAGLLAMA_FAST_OPTIONS
    path = tmp_path / "pv.csv"
    corpus_tail("SF_PV").to_csv(path, index=False)  # solar power: zero every night
    out = tmp_path / "o"
    argv = ["forecast", "--csv", str(path), "--target", "y", "--prediction-length", "12", "--out", str(out)]
    assert main([*argv, "--nonnegative", "--threads", "1", *fast]) == 0
    table = pd.read_csv(out / "forecast.csv")
    assert (table["q0.1"] >= 0).all() and (table["mean"] >= 0).all()


@pytest.fixture
def wide_csv(tmp_path):
    frame = corpus_tail("SF_hospital_load").rename(columns={"y": "a"})
    frame["b"] = corpus_tail("SF_PV")["y"].to_numpy()
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("features", ["M", "MS"])
def test_informer_backtests_a_table_in_every_mode(features, wide_csv, tmp_path, capsys):
    """--features M (every numeric column, no --target needed) and MS (one target, the other
    columns past-only covariates) backtest a table as forecast reads it."""
    out = tmp_path / "bt"
    target = [] if features == "M" else ["--target", "a"]
    argv = ["backtest", "--csv", str(wide_csv), "--features", features, *target, "--prediction-length", "6"]
    assert informer_main([*argv, "--windows", "2", "--out", str(out), *INFORMER_FAST_OPTIONS]) == 0, (
        capsys.readouterr().err
    )
    record = json.loads((out / "metrics.json").read_text())
    assert record["features"] == features and record["windows"] == 2
    metrics = record["metrics"]["Informer"]
    assert np.isfinite(metrics["mean_wQuantileLoss"])
    if features == "M":
        assert record["variables"] == ["a", "b"] and "m_sum_MSE" in metrics
    else:
        assert "SeasonalNaive" in record["metrics"]


def test_informer_forecasts_with_known_covariates(tmp_path):
    frame = corpus_tail("SF_hospital_load", 212).reset_index(drop=True)
    frame["hour"] = pd.to_datetime(frame["ds"]).dt.hour.astype(float)
    frame.loc[len(frame) - 12 :, "y"] = np.nan  # the known future: the hours, not the load
    path = tmp_path / "known.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "o"
    argv = ["forecast", "--csv", str(path), "--target", "y", "--known-covariates", "hour", "--out", str(out)]
    assert informer_main([*argv, "--prediction-length", "12", *INFORMER_FAST_OPTIONS]) == 0
    table = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    assert len(table) == 12 and table["timestamp"].iloc[0] == pd.Timestamp(frame["ds"].iloc[-12])


def test_default_output_folders_name_model_command_and_data(meters_csv, monkeypatch, tmp_path):
    """out/MODEL/COMMAND/NAME, the command as typed."""
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(
        commands,
        "forecast_table",
        lambda adapter, args: seen.append(commands.default_out(args, adapter.key, args.csv.stem)) or 0,
    )
    for main, command in ((lagllama_main, "zero-shot"), (lagllama_main, "forecast"), (informer_main, "forecast")):
        assert main([command, "--csv", str(meters_csv), *TABLE]) == 0
    assert [str(p) for p in seen] == [
        "out/lagllama/zero-shot/meters",
        "out/lagllama/forecast/meters",
        "out/informer/forecast/meters",
    ]
