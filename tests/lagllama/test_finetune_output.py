"""Fine-tuning's output shows one validation loss: the progress bar's ``val_loss`` is the number
the summary reports ("validation loss A -> B", the record's ``best_val_loss``)."""

import re

import numpy as np
import pandas as pd
from gluonts.dataset.common import ListDataset

from lagllama_gluonts.finetune import finetune


def hourly_series(count=3, steps=200):
    rng = np.random.default_rng(0)
    t = np.arange(steps)
    targets = [10 * np.sin(2 * np.pi * t / 24 + k) + 50 + rng.normal(size=steps) for k in range(count)]
    return ListDataset([{"start": pd.Period("2020-01-01", "h"), "target": y.astype("float32")} for y in targets], "h")


def test_the_progress_bar_shows_the_validation_loss_the_summary_reports(capsys):
    result = finetune(
        hourly_series(),
        12,
        max_epochs=2,
        num_batches_per_epoch=2,
        batch_size=8,
        progress=True,
        num_parallel_samples=10,
        device="cpu",
        early_stopping_patience=5,
    )
    bar = capsys.readouterr().out  # Lightning draws its bars on stdout
    assert "val_horizon_loss" not in bar
    shown = {float(value) for value in re.findall(r"val_loss=([0-9.]+)", bar)}
    assert shown, bar[-2000:]
    # the bar rounds to 3 significant digits; the restored epoch's loss is one it showed
    best = result.record["best_val_loss"]
    assert any(abs(value - best) <= 0.005 * best for value in shown), (shown, result.record)
    assert min(shown) >= float(f"{best:.3g}") - 1e-9, (shown, result.record)
