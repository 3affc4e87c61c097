"""``python -m informer_gluonts`` with the official ``--features M|MS|S``, the model options
and ``--output-attention``."""

import numpy as np
import pandas as pd
import pytest

from informer_gluonts.cli import build_parser, main

from conftest import ETTH1

TINY = [
    "--max-steps",
    "4",
    "--batches-per-epoch",
    "2",
    "--d-model",
    "16",
    "--n-heads",
    "2",
    "--d-ff",
    "32",
    "--num-samples",
    "40",
    "--quiet",
    "--threads",
    "1",
    "--context-length",
    "48",
    "--lags",
    "1,24",
]
COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def forecast(tmp_path, *extra):
    out = tmp_path / "out"
    code = main(["forecast", "--csv", str(ETTH1), "--prediction-length", "12", "--out", str(out), *TINY, *extra])
    return code, out


@pytest.mark.slow
def test_features_m_forecasts_every_column_jointly_in_long_form(tmp_path):
    code, out = forecast(tmp_path, "--features", "M", "--output-attention")
    assert code == 0
    table = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    assert list(table.columns[:4]) == ["variable", "timestamp", "mean", "median"]
    assert list(pd.unique(table["variable"])) == COLUMNS
    assert (table.groupby("variable").size() == 12).all()
    last = pd.read_csv(ETTH1, parse_dates=["date"])
    expected = pd.date_range(last["date"].iloc[-1] + pd.Timedelta(hours=1), periods=12, freq="h")
    assert list(table[table["variable"] == "OT"]["timestamp"]) == list(expected)
    # each column in its own units: the forecast medians lie near each column's recent level
    recent = last[COLUMNS].iloc[-48:]
    medians = table.groupby("variable")["median"].mean()
    for column in COLUMNS:
        spread = recent[column].max() - recent[column].min()
        assert recent[column].min() - spread <= medians[column] <= recent[column].max() + spread, column
    assert (table["q0.1"] <= table["q0.9"]).all()
    for png in ("forecast.png", "attention.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert (out / "predictor").is_dir()


def test_features_m_with_named_targets_and_low_rank_normal(tmp_path):
    code, out = forecast(
        tmp_path,
        "--features",
        "M",
        "--target",
        "HUFL",
        "OT",
        "--distribution",
        "low-rank-normal",
        "--e-layers",
        "2",
        "1",
        "--embed",
        "learned",
        "--padding",
        "1",
        "--no-mix",
    )
    assert code == 0
    table = pd.read_csv(out / "forecast.csv")
    assert list(pd.unique(table["variable"])) == ["HUFL", "OT"] and len(table) == 24


def test_features_ms_uses_the_other_columns_as_covariates(tmp_path, capsys):
    code, out = forecast(tmp_path, "--features", "MS", "--target", "OT")
    assert code == 0
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns[:3]) == ["timestamp", "mean", "median"] and len(table) == 12
    from gluonts.model.predictor import Predictor

    predictor = Predictor.deserialize(out / "predictor")
    assert predictor.prediction_net.model.num_past_feat_dynamic_real == 6


def test_features_s_is_univariate(tmp_path):
    code, out = forecast(tmp_path, "--features", "S", "--target", "OT", "--embed", "fixed")
    assert code == 0
    assert list(pd.read_csv(out / "forecast.csv").columns[:3]) == ["timestamp", "mean", "median"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--features", "MS", "--target", "OT", "HUFL"], "--features MS forecasts one column"),
        (["--features", "S", "--target", "OT", "--covariates", "HUFL"], "--features S is univariate"),
        (["--features", "MS"], "forecast needs --csv FILE and --target"),
        (["--features", "M", "--target", "OT", "--covariates", "OT"], "cannot also be a covariate"),
        (["--target", "OT", "--distribution", "low-rank-normal"], "use --features M"),
        (["--features", "M", "--target", "OT", "XX"], "no target column 'XX'"),
        (["--features", "M", "--output-attention", "--attention-layer", "5"], "the encoder has 2 layers"),
    ],
)
def test_feature_errors_are_one_line(tmp_path, capsys, extra, message):
    code, _ = forecast(tmp_path, *extra)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_parser_takes_the_official_options():
    args = build_parser().parse_args(
        [
            "forecast",
            "--csv",
            "x.csv",
            "--features",
            "M",
            "--target",
            "A",
            "B",
            "--e-layers",
            "3",
            "2",
            "1",
            "--embed",
            "fixed",
            "--padding",
            "1",
        ]
    )
    assert args.target == ["A", "B"] and args.e_layers == [3, 2, 1]
    assert args.embed == "fixed" and args.padding == 1 and args.mix is True


def test_backtest_ms_is_refused(capsys):
    assert main(["backtest", "--features", "MS", "--quiet"]) == 2
    assert "--features MS needs covariate columns" in capsys.readouterr().err


@pytest.mark.slow
def test_backtest_m_groups_the_series_and_scores_them_jointly(tmp_path):
    import json

    out = tmp_path / "bt"
    code = main(
        [
            "backtest",
            "--dataset",
            "ett_small_1h",
            "--features",
            "M",
            "--max-series",
            "3",
            "--prediction-length",
            "12",
            "--out",
            str(out),
            *TINY,
        ]
    )
    assert code == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["features"] == "M" and record["target_dim"] == 3
    metrics = record["metrics"]["Informer"]
    assert np.isfinite(metrics["MSE"]) and "m_sum_MSE" in metrics
    assert (out / "forecasts.png").read_bytes()[:4] == b"\x89PNG"
