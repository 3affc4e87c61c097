"""benchmarks/etth_multivariate.py: the paper's data protocol, the persistence row and the
report, without training."""

import argparse

import etth_multivariate as bench
import numpy as np
import pandas as pd
import pytest

from conftest import ETTH1


def test_columns_are_standardised_on_the_train_rows():
    dates, z = bench.load_standardised("ETTh1", ETTH1)
    raw = pd.read_csv(ETTH1, parse_dates=["date"])
    assert z.shape == (7, 17420) and len(dates) == 17420
    ot = raw["OT"].to_numpy(dtype=np.float64)
    expected = (ot - ot[: bench.TRAIN_END].mean()) / ot[: bench.TRAIN_END].std()
    np.testing.assert_allclose(z[6], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z[:, : bench.TRAIN_END].mean(axis=1), 0, atol=1e-4)


def test_every_test_window_and_persistence():
    H = 24
    starts = bench.test_starts(H)
    assert starts[0] == 11520 and starts[-1] == 14400 - H and len(starts) == 2857
    z = np.tile(np.arange(20000, dtype=np.float32), (2, 1))  # a ramp: persistence is off by 1 .. H
    result = bench.persistence(z, H)
    assert result["mae"] == pytest.approx(np.mean(np.arange(1, H + 1)))
    assert result["mse"] == pytest.approx(np.mean(np.arange(1, H + 1) ** 2))


def test_report_marks_the_best_row_and_cites_the_paper():
    rows = [
        {"dataset": "ETTh1", "H": 24, "model": m, "mse": mse, "mae": mae, "train_seconds": 60.0}
        for m, mse, mae in (("Informer", 0.3, 0.4), ("DLinear", 0.2, 0.5), ("Persistence", 1.2, 0.7))
    ]
    args = argparse.Namespace(
        d_model=64,
        context_length=96,
        baseline_context=336,
        batches_per_epoch=50,
        max_epochs=40,
        minutes=1.0,
        patience=3,
        val_stride=24,
        seed=0,
    )
    text = bench.markdown(rows, args, "python benchmarks/etth_multivariate.py")
    line = next(row for row in text.splitlines() if row.startswith("|      24") or row.startswith("| 24"))
    assert "0.577" in line and "0.300 / **0.400**" in line and "**0.200** / 0.500" in line
    assert "AAAI 2021, Table 3" in text and "python benchmarks/etth_multivariate.py" in text
