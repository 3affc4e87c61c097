"""Seeded forecasts and metrics of both models, pinned before the "one product" redesign: the
code may move, the numbers may not. Each case runs a public entry point (the CLIs' table
forecast and backtest, fine-tuning, the Python estimators) on real corpus data with a fixed
seed and compares every number it writes with ``pinned_forecasts.json``.

``PIN_FORECASTS=1 pytest tests/common/test_pinned_forecasts.py`` rewrites the file; do that only
when a change is meant to move forecasts, and say so in the commit."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import INFORMER_FAST_OPTIONS, LAGLLAMA_FAST_OPTIONS, corpus_tail

PINNED = Path(__file__).with_name("pinned_forecasts.json")
REGENERATE = os.environ.get("PIN_FORECASTS") == "1"
RTOL, ATOL = 1e-5, 1e-6


def check_pinned(name: str, values: dict) -> None:
    """Compare ``values`` (name -> list of numbers) with the pinned ones, or pin them."""
    values = {key: [float(v) for v in np.asarray(vals, dtype=float).ravel()] for key, vals in values.items()}
    pinned = json.loads(PINNED.read_text()) if PINNED.exists() else {}
    if REGENERATE:
        pinned[name] = values
        PINNED.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
        return
    assert name in pinned, f"nothing pinned for {name}; run with PIN_FORECASTS=1 once"
    assert set(values) == set(pinned[name])
    for key, expected in pinned[name].items():
        np.testing.assert_allclose(values[key], expected, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {key}")


def table_values(path: Path) -> dict:
    frame = pd.read_csv(path)
    return {column: frame[column].to_numpy() for column in frame.columns if column.startswith("q") or column == "mean"}


def metric_values(path: Path) -> dict:
    record = json.loads(path.read_text())
    return {
        f"{model}/{key}": [value]
        for model, metrics in sorted(record["metrics"].items())
        for key, value in sorted(metrics.items())
        if key in ("mean_wQuantileLoss", "MASE", "sMAPE", "MSE") and np.isfinite(value)
    }


@pytest.fixture
def two_meters(tmp_path):
    frame = pd.concat([corpus_tail(name).assign(meter=name) for name in ("SF_hospital_load", "SF_PV")])
    path = tmp_path / "meters.csv"
    frame[["meter", "ds", "y"]].to_csv(path, index=False)
    return path


def test_lagllama_zero_shot_table(two_meters, tmp_path):
    from lagllama_gluonts.cli import main

    out = tmp_path / "o"
    args = ["zero-shot", "--csv", str(two_meters), "--item-column", "meter", "--target", "y"]
    assert main([*args, "--prediction-length", "12", "--out", str(out), *LAGLLAMA_FAST_OPTIONS]) == 0
    check_pinned("lagllama_zero_shot_table", table_values(out / "forecast.csv"))


def test_lagllama_backtest_table(two_meters, tmp_path):
    from lagllama_gluonts.cli import main

    out = tmp_path / "bt"
    args = ["backtest", "--csv", str(two_meters), "--item-column", "meter", "--target", "y", "--windows", "2"]
    assert main([*args, "--prediction-length", "12", "--out", str(out), *LAGLLAMA_FAST_OPTIONS]) == 0
    check_pinned("lagllama_backtest_table", metric_values(out / "metrics.json"))


def test_informer_forecast_table(two_meters, tmp_path):
    from informer_gluonts.cli import main

    out = tmp_path / "o"
    args = ["forecast", "--csv", str(two_meters), "--item-column", "meter", "--target", "y"]
    assert main([*args, "--prediction-length", "12", "--out", str(out), *INFORMER_FAST_OPTIONS]) == 0
    check_pinned("informer_forecast_table", table_values(out / "forecast.csv"))


def test_informer_backtest_table(two_meters, tmp_path):
    from informer_gluonts.cli import main

    out = tmp_path / "bt"
    args = ["backtest", "--csv", str(two_meters), "--item-column", "meter", "--target", "y", "--windows", "2"]
    assert main([*args, "--prediction-length", "12", "--out", str(out), *INFORMER_FAST_OPTIONS]) == 0
    check_pinned("informer_backtest_table", metric_values(out / "metrics.json"))


def test_informer_multivariate_forecast(tmp_path):
    from informer_gluonts.cli import main

    frame = corpus_tail("SF_hospital_load").rename(columns={"y": "a"})
    frame["b"] = corpus_tail("SF_PV")["y"].to_numpy()
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "m"
    args = ["forecast", "--csv", str(path), "--features", "M", "--prediction-length", "6", "--out", str(out)]
    assert main([*args, *INFORMER_FAST_OPTIONS]) == 0
    check_pinned("informer_multivariate_forecast", table_values(out / "forecast.csv"))


def test_lagllama_finetune_table(two_meters, tmp_path):
    from lagllama_gluonts.cli import main

    out = tmp_path / "ft"
    args = [
        "finetune",
        "--csv",
        str(two_meters),
        "--item-column",
        "meter",
        "--target",
        "y",
        "--epochs",
        "2",
        "--batches-per-epoch",
        "2",
    ]
    assert main([*args, "--prediction-length", "12", "--out", str(out), *LAGLLAMA_FAST_OPTIONS]) == 0
    record = json.loads((out / "metrics.json").read_text())["finetune"]
    check_pinned("lagllama_finetune_table", {key: [record[key]] for key in ("start_val_loss", "best_val_loss")})


def _entries():
    return [
        {"start": pd.Period(corpus_tail(name)["ds"].iloc[0], "h"), "target": corpus_tail(name)["y"].to_numpy()}
        for name in ("SF_hospital_load", "SF_PV")
    ]


def test_lagllama_estimator_api():
    """The Python API with its own defaults (whatever they are now: clipping included)."""
    import lightning.pytorch as pl
    from gluonts.dataset.common import ListDataset

    from lagllama_gluonts import LagLlamaEstimator

    pl.seed_everything(0, workers=True)
    data = ListDataset(_entries(), freq="h")
    estimator = LagLlamaEstimator(
        prediction_length=6,
        context_length=32,
        n_layer=1,
        n_head=2,
        n_embd_per_head=4,
        batch_size=4,
        num_batches_per_epoch=3,
        num_parallel_samples=8,
        trainer_kwargs={"max_epochs": 1, "accelerator": "cpu", "logger": False, "enable_checkpointing": False},
    )
    predictor = estimator.train(data)
    pl.seed_everything(1)
    forecasts = list(predictor.predict(data))
    check_pinned("lagllama_estimator_api", {f"item{i}": f.samples for i, f in enumerate(forecasts)})


def test_informer_estimator_api():
    import lightning.pytorch as pl
    from gluonts.dataset.common import ListDataset

    from informer_gluonts import InformerEstimator

    pl.seed_everything(0, workers=True)
    data = ListDataset(_entries(), freq="h")
    estimator = InformerEstimator(
        freq="h",
        prediction_length=6,
        context_length=24,
        d_model=8,
        n_heads=2,
        d_ff=16,
        batch_size=4,
        num_batches_per_epoch=3,
        num_parallel_samples=8,
        trainer_kwargs={"max_epochs": 1, "accelerator": "cpu", "logger": False, "enable_checkpointing": False},
    )
    predictor = estimator.train(data)
    pl.seed_everything(1)
    forecasts = list(predictor.predict(data))
    check_pinned("informer_estimator_api", {f"item{i}": f.samples for i, f in enumerate(forecasts)})
