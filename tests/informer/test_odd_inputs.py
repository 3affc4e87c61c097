"""Odd inputs, one table for Informer's Python API and one for its command line: a new case is
one line. Valid inputs in the forms GluonTS users produce must forecast sensibly; invalid ones
must fail with one clear error naming the item, the field and the problem, before any
training (or, at prediction, before the network runs)."""

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest

from informer_gluonts import InformerEstimator
from informer_gluonts.cli import main

from .test_cli import TINY_BUDGET

PERIOD = pd.Period("2021-01-01", "h")
H = 4
SINE = np.sin(2 * np.pi * np.arange(120) / 24)


def with_inf(sign: float, position: int = 17) -> np.ndarray:
    values = SINE.copy()
    values[position] = sign * np.inf
    return values


class FitStarted(pl.Callback):
    """Records whether Lightning started fitting: invalid input must fail before."""

    def __init__(self) -> None:
        self.started = False

    def on_fit_start(self, trainer, pl_module) -> None:
        self.started = True


def estimator(recorder: FitStarted = None, **overrides) -> InformerEstimator:
    options = dict(
        freq="h",
        prediction_length=H,
        context_length=16,
        lags_seq=[1, 24],
        d_model=8,
        n_heads=2,
        d_ff=16,
        num_batches_per_epoch=3,
        batch_size=8,
        num_parallel_samples=50,
        trainer_kwargs=dict(
            max_epochs=1,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[recorder] if recorder else [],
        ),
    )
    options.update(overrides)
    return InformerEstimator(**options)


# --------------------------------------------------------------------------- Python API: valid

# (target, start): each trains a tiny model and forecasts the same series
VALID = {
    "float64 target": (SINE.astype(np.float64), PERIOD),
    "target as a Python list": (SINE.tolist(), PERIOD),
    "start as pd.Timestamp": (SINE, pd.Timestamp("2021-01-01 00:00")),
    "start as a string": (SINE, "2021-01-01 00:00"),
    "values around 1e-30": (SINE * 1e-30, PERIOD),
    "values around 1e30": (3e30 + SINE * 1e30, PERIOD),
    "int target": ((SINE * 10).astype(np.int64), PERIOD),
}


@pytest.mark.parametrize("target, start", VALID.values(), ids=VALID.keys())
def test_valid_input_gives_a_sensible_forecast(target, start):
    data = [{"start": start, "target": target, "item_id": "ok"}]
    pl.seed_everything(0, verbose=False)
    (forecast,) = estimator().train(data).predict(data)

    assert forecast.start_date == PERIOD + len(target)
    quantiles = np.array([forecast.quantile(q) for q in (0.1, 0.5, 0.9)], dtype=np.float64)
    assert np.isfinite(forecast.mean).all() and np.isfinite(quantiles).all()
    # The spread is of the data's magnitude: not collapsed to a constant (a scale floor far
    # above 1e-30 would flatten the series), not blown up. In float64: the squares of 1e-30
    # underflow float32, those of 1e30 overflow it.
    data_std = np.std(np.asarray(target, dtype=np.float64))
    spread = np.std(forecast.samples.astype(np.float64), axis=0).mean()
    assert 1e-3 * data_std < spread < 1e3 * data_std, (spread, data_std)
    level = np.abs(np.asarray(target, dtype=np.float64)).max()
    assert np.abs(forecast.mean.astype(np.float64)).max() < 1e3 * level


# --------------------------------------------------------------------------- Python API: invalid

BAD_TRAINING_DATA = {
    "no observed value": (
        [{"start": PERIOD, "target": np.full(120, np.nan), "item_id": "nan"}],
        r"series 0 \(item_id='nan'\): 'target' has no observed value \(all 120 values are NaN\)",
    ),
    "+inf in target": (
        [{"start": PERIOD, "target": with_inf(+1), "item_id": "inf"}],
        r"series 0 \(item_id='inf'\): 'target' holds an infinite value at position 17",
    ),
    "-inf in the second series": (
        [{"start": PERIOD, "target": SINE}, {"start": PERIOD, "target": with_inf(-1, 3), "item_id": "b"}],
        r"series 1 \(item_id='b'\): 'target' holds an infinite value at position 3",
    ),
    "text in target": (
        [{"start": PERIOD, "target": ["1.0", "x"] * 60, "item_id": "s"}],
        r"item_id='s'\): 'target' holds non-numeric values",
    ),
}

BAD_PREDICTION_DATA = {
    "length-0 target": (
        {"start": PERIOD, "target": [], "item_id": "empty"},
        r"item_id='empty'\): 'target' is empty \(length 0\)",
    ),
    "+inf in target": (
        {"start": PERIOD, "target": with_inf(+1, 5), "item_id": "inf"},
        r"item_id='inf'\): 'target' holds an infinite value at position 5",
    ),
    "no observed value": (
        {"start": PERIOD, "target": [np.nan] * 10, "item_id": "nan"},
        r"item_id='nan'\): 'target' has no observed value",
    ),
}

BAD_OPTIONS = {
    "num_parallel_samples=0": (dict(num_parallel_samples=0), "num_parallel_samples must be a positive integer, got 0"),
    "batch_size=0": (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    "context_length=0": (dict(context_length=0), "context_length must be a positive integer, got 0"),
    "n_heads=0": (dict(n_heads=0), "n_heads must be a positive integer, got 0"),
    "unknown scaling": (dict(scaling="robst"), r"scaling must be one of .*'std'.*, got 'robst'"),
    "prediction_length=0": (dict(prediction_length=0), "prediction_length must be a positive integer, got 0"),
    "dropout=1.5": (dict(dropout=1.5), r"dropout must lie in \[0, 1\), got 1.5"),
    "unknown activation": (dict(activation="tanh"), "activation must be 'gelu' or 'relu', got 'tanh'"),
    "negative lr": (dict(lr=-1e-3), "lr must be >= 0, got -0.001"),
    "early_stopping_patience=0": (dict(early_stopping_patience=0), "early_stopping_patience must be a positive"),
}


@pytest.mark.parametrize("data, message", BAD_TRAINING_DATA.values(), ids=BAD_TRAINING_DATA.keys())
def test_invalid_training_data_fails_before_training(data, message):
    recorder = FitStarted()
    with pytest.raises(ValueError, match=message):
        estimator(recorder).train(data)
    assert not recorder.started


@pytest.fixture(scope="module")
def predictor():
    pl.seed_everything(0, verbose=False)
    return estimator().train([{"start": PERIOD, "target": SINE}])


@pytest.mark.parametrize("entry, message", BAD_PREDICTION_DATA.values(), ids=BAD_PREDICTION_DATA.keys())
def test_invalid_prediction_data_fails_before_the_network_runs(predictor, entry, message):
    calls = []
    hook = predictor.prediction_net.register_forward_hook(lambda *args: calls.append(1))
    try:
        with pytest.raises(ValueError, match=message):
            list(predictor.predict([entry]))
    finally:
        hook.remove()
    assert not calls


@pytest.mark.parametrize("options, message", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_invalid_option_fails_at_construction(options, message):
    with pytest.raises(ValueError, match=message):
        estimator(**options)


# --------------------------------------------------------------------------- command line


def csv_file(tmp_path):
    path = tmp_path / "ok.csv"
    pd.DataFrame({"date": pd.date_range("2021-01-01", periods=120, freq="h"), "y": SINE}).to_csv(path, index=False)
    return path


def a_file(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("not a folder")
    return path


# extra arguments (from tmp_path) and the message the one error line must contain
BAD_COMMAND_LINES = {
    "a directory as --csv": (lambda tmp: ["--csv", str(tmp)], "is a directory, not a table file"),
    "--out under an existing file": (lambda tmp: ["--out", str(a_file(tmp) / "out")], "which is a file, not a folder"),
    "--out is an existing file": (lambda tmp: ["--out", str(a_file(tmp))], "is a file, not a folder"),
    "negative --lr": (lambda tmp: ["--lr", "-0.1"], "forecast: argument --lr: a learning rate must be >= 0, got -0.1"),
    "--prediction-length 0": (
        lambda tmp: ["--prediction-length", "0"],
        "forecast: argument --prediction-length: must be >= 1, got 0",
    ),
    "--n-heads 0": (lambda tmp: ["--n-heads", "0"], "argument --n-heads: must be >= 1, got 0"),
    "--d-model not divisible": (lambda tmp: ["--d-model", "10", "--n-heads", "4"], "--d-model 10 is not divisible"),
    "--dropout 1.5": (lambda tmp: ["--dropout", "1.5"], r"dropout must lie in [0, 1), got 1.5"),
    "--label-len -1": (lambda tmp: ["--label-len", "-1"], "argument --label-len: must be >= 0, got -1"),
    "--patience without validation": (lambda tmp: ["--patience", "2", "--no-validation"], "drop --no-validation"),
    "unknown option": (lambda tmp: ["--bogus"], "unrecognized arguments: --bogus"),
}


@pytest.mark.parametrize("extra, message", BAD_COMMAND_LINES.values(), ids=BAD_COMMAND_LINES.keys())
def test_bad_command_line_is_one_error_line(tmp_path, capsys, extra, message):
    # a valid command line, then the odd argument (argparse keeps the last of a repeated option)
    argv = [
        "forecast",
        "--csv",
        str(csv_file(tmp_path)),
        "--target",
        "y",
        "--prediction-length",
        "4",
        "--out",
        str(tmp_path / "out"),
        *TINY_BUDGET,
        *extra(tmp_path),
    ]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("informer-gluonts: error:")
    assert message in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written
