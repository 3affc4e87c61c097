"""What both CLIs' table commands promise alike, run through each: an item shorter than the
horizon is skipped with a count, naming it; backtest scores rolling windows beside
SeasonalNaive through the shared ``rolling_backtest`` and writes one report layout."""

import json

import numpy as np
import pandas as pd
import pytest

from informer_gluonts.cli import main as informer_main
from lagllama_gluonts.cli import main as lagllama_main

from conftest import HOURLY_ITEMS, INFORMER_FAST_OPTIONS, LAGLLAMA_FAST_OPTIONS, PNG_MAGIC, corpus_tail

# (CLI, its forecasting command, options that keep it fast, its model's name, its own record fields)
CLIS = {
    "informer": (informer_main, "forecast", INFORMER_FAST_OPTIONS, "Informer", {"model": "Informer"}),
    "lagllama": (lagllama_main, "zero-shot", LAGLLAMA_FAST_OPTIONS, "Lag-Llama", {}),
}


@pytest.mark.parametrize("cli", list(CLIS))
def test_forecast_skips_items_shorter_than_the_horizon_with_a_count(cli, meters_csv, tmp_path, capsys):
    main, command, fast, _, _ = CLIS[cli]
    frame = pd.read_csv(meters_csv)
    short = pd.DataFrame({"meter": "new", "ds": corpus_tail("SF_PV", 5)["ds"], "y": 1.0})
    path = tmp_path / "with_new.csv"
    pd.concat([frame, short]).to_csv(path, index=False)
    code = main(
        [
            command,
            "--csv",
            str(path),
            "--item-column",
            "meter",
            "--target",
            "y",
            "--prediction-length",
            "12",
            "--out",
            str(tmp_path / "o"),
            *fast,
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "skipped 1 series with fewer observed values than the horizon (12): 'new'" in printed
    assert set(pd.read_csv(tmp_path / "o" / "forecast.csv")["meter"]) == set(HOURLY_ITEMS)


@pytest.mark.parametrize("cli", list(CLIS))
def test_backtest_rolling_windows_beside_seasonal_naive(cli, meters_csv, tmp_path, capsys):
    main, _, fast, model, own_fields = CLIS[cli]
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
            "--prediction-length",
            "24",
            "--windows",
            "2",
            "--out",
            str(out),
            *fast,
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "metrics.json").read_text())
    assert record["windows"] == 2 and record["distance"] == 24 and record["items"] == 3 and record["skipped"] == 0
    assert set(record["metrics"]) == {model, "SeasonalNaive"}
    assert {k: record[k] for k in own_fields} == own_fields
    assert all(np.isfinite(m["mean_wQuantileLoss"]) for m in record["metrics"].values())
    items = pd.read_csv(out / "item_metrics.csv")
    assert len(items) == 6 and set(items["item_id"]) == set(HOURLY_ITEMS) and (items["windows"] == 2).all()
    assert (out / "backtest.png").read_bytes()[:8] == PNG_MAGIC
    assert "SeasonalNaive" in capsys.readouterr().out
