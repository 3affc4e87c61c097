"""Odd inputs, as two tables per interface (a new case is one line): valid inputs in the forms
users produce must work; invalid ones must fail with a clear error before any work starts."""

import numpy as np
import pandas as pd
import pytest
import torch

from lagllama_gluonts import DataError, LagLlamaEstimator, load_predictor
from lagllama_gluonts.cli import main
from lagllama_gluonts.module import LagLlamaModel

from conftest import LAG_LLAMA_FIXTURES

H, PATHS = 8, 100
T = np.arange(240)
SINE = np.sin(T / 4)
START = pd.Period("2021-01-01 00:00", freq="h")


@pytest.fixture(scope="module")
def predictor():
    """The bundled checkpoint zero-shot, told the data's frequency (so a timestamp start works)."""
    return load_predictor(None, prediction_length=H, num_parallel_samples=PATHS, freq="h")


def forecast(predictor, **entry):
    torch.manual_seed(0)
    return next(iter(predictor.predict([{"start": START, **entry}])))


# --------------------------------------------------------------------------- Python API: valid


def finite(f, target):
    for values in (f.samples, f.mean, f.quantile(0.1), f.quantile(0.5), f.quantile(0.9)):
        assert np.isfinite(values).all()


def shaped_like_the_data(f, target):
    """Not collapsed to a constant: spread across paths and over time, within a few data ranges."""
    finite(f, target)
    target = np.asarray(target, dtype=np.float64)
    low, high = target.min(), target.max()
    span = high - low
    samples = f.samples.astype(np.float64)  # float32 squares of 1e-30 underflow to 0
    assert samples.std(axis=0).min() > 1e-3 * span
    assert np.median(samples, axis=0).std() > 1e-3 * span
    q10, q90 = np.quantile(samples, [0.1, 0.9], axis=0)
    # in the data's units, not blown up by the scaling: the network sees log(scale) as a feature,
    # and at 1e-30 that is ~60 e-folds outside every pretraining scale, so the bundled model's
    # 80% band widens (about 16 data ranges measured, 0.7 for the same sine at scale 1); this
    # guards the arithmetic, not the calibration
    bound = 3 * span if np.abs(target).max() > 1e-6 else 25 * span
    assert q10.min() > low - bound and q90.max() < high + bound


VALID = [
    pytest.param(dict(target=(10 + SINE).astype(np.float64)), finite, id="float64-target"),
    pytest.param(dict(target=(10 + SINE).tolist()), finite, id="python-list-target"),
    pytest.param(dict(target=10 + SINE, start=pd.Timestamp("2021-01-01")), finite, id="start-timestamp"),
    pytest.param(dict(target=10 + SINE, start="2021-01-01 00:00"), finite, id="start-string"),
    pytest.param(dict(target=(10 + SINE).astype(np.int64)), finite, id="int-target"),
    pytest.param(dict(target=SINE * 1e-30), shaped_like_the_data, id="values-1e-30"),
    pytest.param(dict(target=SINE * 1e30), finite, id="values-1e30"),
    pytest.param(dict(target=10 + SINE), shaped_like_the_data, id="plain-sine"),
]


@pytest.mark.parametrize("entry, check", VALID)
def test_valid_input_forecasts(predictor, entry, check):
    f = forecast(predictor, **entry)
    assert f.samples.shape == (PATHS, H)
    check(f, entry["target"])


@pytest.mark.parametrize(
    "start", [pd.Timestamp("2021-01-01"), "2021-01-01", START], ids=["timestamp", "string", "period"]
)
def test_valid_input_trains(start):
    estimator = LagLlamaEstimator(
        prediction_length=4,
        context_length=8,
        n_layer=1,
        n_head=1,
        n_embd_per_head=4,
        batch_size=4,
        num_batches_per_epoch=1,
        num_parallel_samples=4,
        freq="h",
        trainer_kwargs={"max_steps": 1, "max_epochs": 1, "enable_progress_bar": False},
    )
    data = [{"start": start, "target": (10 + SINE).tolist()}]
    f = next(iter(estimator.train(data).predict(data)))
    assert f.samples.shape == (4, 4) and np.isfinite(f.samples).all()


# --------------------------------------------------------------------------- Python API: invalid


def refuse_series(**entry):
    """A prediction on this series, counting the network's calls (none may happen)."""

    def run(predictor, calls):
        list(predictor.predict([{"start": START, **entry}]))

    return run


def refuse(build):
    def run(predictor, calls):
        build()

    return run


ARCH = dict(prediction_length=4, n_layer=1, n_head=1, n_embd_per_head=4)
MODEL = dict(
    context_length=4,
    max_context_length=64,
    scaling="robust",
    input_size=1,
    n_layer=1,
    n_embd_per_head=4,
    n_head=1,
    lags_seq=[0, 1],
)

INVALID = [
    pytest.param(refuse_series(target=np.full(50, np.nan)), DataError, "no observed value", id="all-nan"),
    pytest.param(refuse_series(target=np.array([])), DataError, "empty", id="length-0"),
    pytest.param(
        refuse_series(target=np.r_[np.ones(5), np.inf, np.ones(40)]),
        DataError,
        "infinite value at position 5",
        id="+inf",
    ),
    pytest.param(
        refuse_series(target=np.r_[np.ones(9), -np.inf]), DataError, "infinite value at position 9", id="-inf"
    ),
    pytest.param(
        refuse(lambda: load_predictor(None, prediction_length=4, num_parallel_samples=0)),
        ValueError,
        "num_parallel_samples must be a positive integer, got 0",
        id="load-num-samples-0",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator(**ARCH, num_parallel_samples=0)),
        ValueError,
        "num_parallel_samples must be a positive integer",
        id="estimator-num-samples-0",
    ),
    pytest.param(
        refuse(lambda: load_predictor(None, prediction_length=4, batch_size=0)),
        ValueError,
        "batch_size must be a positive integer, got 0",
        id="load-batch-size-0",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator(**ARCH, batch_size=0)),
        ValueError,
        "batch_size must be a positive integer",
        id="estimator-batch-size-0",
    ),
    pytest.param(
        refuse(lambda: load_predictor(None, prediction_length=4, context_length=0)),
        ValueError,
        "context_length must be a positive integer, got 0",
        id="load-context-0",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator(**ARCH, context_length=0)),
        ValueError,
        "context_length must be a positive integer",
        id="estimator-context-0",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator.from_checkpoint(None, prediction_length=4, context_length=0)),
        ValueError,
        "context_length must be a positive integer",
        id="from-checkpoint-context-0",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator(**ARCH, scaling="robst")),
        ValueError,
        r"scaling must be one of \['robust', 'mean', 'std', 'none'\]",
        id="unknown-scaling",
    ),
    pytest.param(
        refuse(lambda: load_predictor(None, prediction_length=4, rope_scaling="linear")),
        ValueError,
        r"rope_scaling must be None, \{'type': 'linear'\}, .*'dynamic'",
        id="load-rope-string",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator(**ARCH, rope_scaling="dynamic:2")),
        ValueError,
        r"did you mean \{'type': 'dynamic', 'factor': 2.0\}",
        id="estimator-rope-string",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator(**{**ARCH, "n_embd_per_head": 7})),
        ValueError,
        "n_embd_per_head must be even",
        id="estimator-odd-head",
    ),
    pytest.param(
        refuse(lambda: LagLlamaModel(**{**MODEL, "n_embd_per_head": 5})),
        ValueError,
        "n_embd_per_head must be even",
        id="model-odd-head",
    ),
    pytest.param(
        refuse(lambda: LagLlamaEstimator(**{**ARCH, "n_head": 0})),
        ValueError,
        "n_head must be a positive integer",
        id="estimator-n-head-0",
    ),
    pytest.param(
        refuse(lambda: LagLlamaModel(**{**MODEL, "n_head": 0})),
        ValueError,
        "n_head must be a positive integer",
        id="model-n-head-0",
    ),
]


@pytest.mark.parametrize("run, error, message", INVALID)
def test_invalid_input_is_a_clear_error_before_any_work(predictor, monkeypatch, run, error, message):
    calls = []
    net = predictor.prediction_net
    real_forward = net.forward
    monkeypatch.setattr(net, "forward", lambda *a, **k: calls.append(1) or real_forward(*a, **k))
    with pytest.raises(error, match=message):
        run(predictor, calls)
    assert calls == []  # refused before the network ran


# --------------------------------------------------------------------------- command line: valid


def csv_of(freq, sep=",", periods=60):
    index = pd.date_range("2015-01-01", periods=periods, freq=freq)
    values = 100 + 10 * np.sin(np.arange(periods) / 3)
    lines = [f"ds{sep}y"] + [f"{t:%Y-%m-%d}{sep}{v:.3f}" for t, v in zip(index, values)]
    return "\n".join(lines) + "\n", index


CLI_VALID = [
    pytest.param("ME", ",", [], id="month-end"),
    pytest.param("MS", ",", [], id="month-start"),
    pytest.param("B", ",", [], id="business-day"),
    pytest.param("D", ";", [], id="semicolon-sniffed"),
    pytest.param("D", "\t", [], id="tab-sniffed"),
    pytest.param("D", "\t", ["--sep", "tab"], id="tab-named"),
    pytest.param("W-SUN", ";", ["--sep", ";"], id="weekly-semicolon-named"),
]


@pytest.mark.parametrize("freq, sep, options", CLI_VALID)
def test_cli_zero_shot_csv_valid(tmp_path, capsys, freq, sep, options):
    text, index = csv_of(freq, sep)
    csv = tmp_path / "in.csv"
    csv.write_text(text)
    out = tmp_path / "out"
    code = main(
        [
            "zero-shot",
            "--csv",
            str(csv),
            "--target",
            "y",
            "--prediction-length",
            "4",
            "--num-samples",
            "20",
            "--out",
            str(out),
            *options,
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv", parse_dates=["timestamp"])
    # the steps right after the last row, on the table's own grid (month ends stay month ends)
    expected = pd.date_range(index[-1], periods=5, freq=index.freq)[1:]
    assert list(table["timestamp"]) == list(expected)
    values = table.drop(columns="timestamp").to_numpy()
    assert np.isfinite(values).all() and ((values > 50) & (values < 150)).all()


# --------------------------------------------------------------------------- command line: invalid


def tiny_csv(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(csv_of("D")[0])
    return str(path)


def a_file(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("not a folder")
    return str(path)


def truncated_checkpoint(tmp_path):
    path = tmp_path / "cut.ckpt"
    path.write_bytes((LAG_LLAMA_FIXTURES / "small.ckpt").read_bytes()[:100_000])
    return str(path)


ZERO_SHOT = ["zero-shot", "--target", "y", "--prediction-length", "3"]
FINETUNE = ["finetune", "--dataset", "airpassengers", "--epochs", "1"]

CLI_INVALID = [
    pytest.param(lambda d: [*ZERO_SHOT, "--csv", str(d)], "is a directory", id="csv-folder"),
    pytest.param(
        lambda d: [*ZERO_SHOT, "--csv", tiny_csv(d), "--checkpoint", str(d)],
        "is a folder, not a checkpoint",
        id="checkpoint-folder",
    ),
    pytest.param(
        lambda d: [*ZERO_SHOT, "--csv", tiny_csv(d), "--checkpoint", truncated_checkpoint(d)],
        "cut.ckpt is not a PyTorch zip checkpoint",
        id="checkpoint-truncated",
    ),
    pytest.param(
        lambda d: [*ZERO_SHOT, "--csv", tiny_csv(d), "--out", a_file(d) + "/sub"],
        "which is a file",
        id="out-under-a-file",
    ),
    pytest.param(lambda d: [*FINETUNE, "--lr", "-0.001"], "a learning rate must be >= 0", id="negative-lr"),
    pytest.param(lambda d: [*FINETUNE, "--freeze-layers", "99"], "cannot freeze 99 layers", id="freeze-beyond-layers"),
    pytest.param(lambda d: ["info", str(d)], "is a folder", id="info-folder"),
    pytest.param(
        lambda d: [*ZERO_SHOT, "--csv", tiny_csv(d), "--num-samples", "0"], "must be >= 1", id="num-samples-0"
    ),
]


@pytest.mark.parametrize("argv, message", CLI_INVALID)
def test_cli_invalid_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    code = main(argv(tmp_path))
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lagllama-gluonts: error:"), captured.err
    assert message in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""  # nothing started
