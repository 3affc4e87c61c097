"""Odd covariates and odd sizes, for both models through the one shared path (issue 23): one
line per case. Each is either a forecast (finite, for the right item) or one clear error from
our code naming the item, the field and the problem, raised before any work (training does
not start; the network does not run); on the command lines, one line and exit 2."""

import copy

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from tqdm.std import tqdm

from informer_gluonts import InformerEstimator
from informer_gluonts.cli import main as informer_main
from lagllama_gluonts import DataError, LagLlamaEstimator, predict_df
from lagllama_gluonts.checkpoint import CheckpointError, read_checkpoint
from lagllama_gluonts.cli import main as lagllama_main
from lagllama_gluonts.decoding import LONG_HORIZON, decoding_steps

from conftest import INFORMER_FAST_OPTIONS, LAG_LLAMA_FIXTURES

N, H = 96, 4
PERIOD = pd.Period("2021-01-01", "h")
SINE = np.sin(2 * np.pi * np.arange(N) / 24)
KNOWN = np.cos(np.arange(N + H) / 5)[None]  # known-future: the target's steps and the horizon's
PAST = np.sin(np.arange(N) / 7)[None]  # past-only: the target's steps
DROP = object()  # a field left out of the entry


def entry(**fields):
    """A valid entry with both kinds of dynamic covariate, with ``fields`` changed (DROP: removed)."""
    base = {"start": PERIOD, "target": SINE, "item_id": "a", "feat_dynamic_real": KNOWN, "past_feat_dynamic_real": PAST}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not DROP}


def with_value(array, value, step=5):
    array = np.array(array, dtype=np.float64)
    array[0, step] = value
    return array


class FitStarted(pl.Callback):
    def __init__(self) -> None:
        self.started = False

    def on_fit_start(self, trainer, pl_module) -> None:
        self.started = True


def trainer(recorder=None):
    return dict(max_steps=2, max_epochs=1, enable_progress_bar=False, enable_model_summary=False,
                callbacks=[recorder] if recorder else [])  # fmt: skip


def informer(recorder=None, **options):
    return InformerEstimator(
        **{
            "freq": "h", "prediction_length": H, "context_length": 16, "lags": [1, 24], "d_model": 8,
            "n_heads": 2, "d_ff": 16, "batch_size": 8, "num_batches_per_epoch": 2, "num_parallel_samples": 10,
            "num_feat_dynamic_real": 1, "num_past_feat_dynamic_real": 1, "device": "cpu",
            "trainer_kwargs": trainer(recorder), **options,
        }
    )  # fmt: skip


def lagllama(recorder=None, **options):
    return LagLlamaEstimator(
        **{
            "freq": "h", "prediction_length": H, "context_length": 16, "lags_seq": [0, 23], "n_layer": 1,
            "n_head": 1, "n_embd_per_head": 4, "batch_size": 4, "num_batches_per_epoch": 1,
            "num_parallel_samples": 10, "num_feat_dynamic_real": 1, "num_past_feat_dynamic_real": 1,
            "device": "cpu", "trainer_kwargs": trainer(recorder), **options,
        }
    )  # fmt: skip


MODELS = {"informer": informer, "lagllama": lagllama}


@pytest.fixture(scope="module")
def predictors():
    """One tiny predictor per model, trained with a known-future and a past-only covariate."""
    made = {}
    for name, build in MODELS.items():
        pl.seed_everything(0, verbose=False)
        made[name] = build().train([entry(feat_dynamic_real=KNOWN[:, :N])])
    return made


# --------------------------------------------------------------------------- at prediction
FORECAST = "forecast"
PREDICTION = [
    pytest.param(entry(), FORECAST, id="plain"),
    pytest.param(entry(feat_dynamic_real=np.ones((1, N + H))), FORECAST, id="constant-covariate"),
    pytest.param(entry(past_feat_dynamic_real=1e30 * PAST), FORECAST, id="one-variable-1e30-others-1"),
    pytest.param(entry(feat_dynamic_real=np.cos(np.arange(N + 3 * H))[None]), FORECAST, id="known-longer-than-needed"),
    pytest.param(entry(item_id=7), FORECAST, id="integer-item-id"),
    pytest.param(entry(item_id="Zürich—東京"), FORECAST, id="unicode-item-id"),
    pytest.param(
        entry(target=SINE[:1], feat_dynamic_real=KNOWN[:, : 1 + H], past_feat_dynamic_real=PAST[:, :1]),
        FORECAST,
        id="one-step-series-and-covariates",
    ),  # fmt: skip
    pytest.param(
        entry(feat_dynamic_real=KNOWN[:, :N]),
        r"'feat_dynamic_real' covers 96 time steps, 100 are needed "
        r"\(the target's and the horizon's",
        id="known-short-of-the-horizon",
    ),  # fmt: skip
    pytest.param(
        entry(past_feat_dynamic_real=PAST[:, :50]),
        r"'past_feat_dynamic_real' covers 50 time steps, 96 are "
        r"needed \(as many as the target\)",
        id="past-shorter-than-target",
    ),  # fmt: skip
    pytest.param(
        entry(feat_dynamic_real=DROP),
        r"has no 'feat_dynamic_real' field; the model was built with 1 "
        "known-future",
        id="trained-with-missing-at-prediction",
    ),  # fmt: skip
    pytest.param(
        entry(past_feat_dynamic_real=[["x"] * N]),
        "'past_feat_dynamic_real' holds non-numeric values",
        id="text-in-covariate",
    ),  # fmt: skip
    pytest.param(
        entry(past_feat_dynamic_real=with_value(PAST, np.nan)),
        "'past_feat_dynamic_real' holds a missing or infinite value at row 0, time step 5",
        id="nan-in-covariate",
    ),  # fmt: skip
    pytest.param(
        entry(feat_dynamic_real=with_value(KNOWN, -np.inf, 98)),
        "'feat_dynamic_real' holds a missing or infinite value at row 0, time step 98",
        id="inf-in-the-horizon",
    ),  # fmt: skip
    pytest.param(
        entry(feat_dynamic_real=np.full((1, N + H), np.nan)),
        r"'feat_dynamic_real' row 0 has no value at "
        r"all \(all 100 are missing\)",
        id="all-nan-covariate",
    ),  # fmt: skip
    pytest.param(
        entry(feat_dynamic_real=5.0),
        r"'feat_dynamic_real' must have shape \(1, time\), got shape \(\)",
        id="covariate-of-one-value",
    ),  # fmt: skip
    pytest.param(
        entry(feat_dynamic_real=np.vstack([KNOWN, KNOWN])),
        "'feat_dynamic_real' has 2 rows, the model expects 1",
        id="two-covariates-for-one",
    ),  # fmt: skip
    pytest.param(
        entry(past_feat_dynamic_real=1e39 * PAST),
        "'past_feat_dynamic_real' reaches .* beyond what float32",
        id="covariate-beyond-float32",
    ),  # fmt: skip
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("data, expected", PREDICTION)
def test_prediction(predictors, model, data, expected):
    predictor = predictors[model]
    calls = []
    hook = predictor.prediction_net.register_forward_hook(lambda *args: calls.append(1))
    try:
        if expected != FORECAST:
            with pytest.raises(DataError, match=r"a series \(item_id=.*\)" + ".*" + expected) as caught:
                list(predictor.predict([data]))
            assert caught.value.field in ("feat_dynamic_real", "past_feat_dynamic_real")
            assert not calls  # refused before the network ran
            return
        torch.manual_seed(0)
        (forecast,) = predictor.predict([data])
    finally:
        hook.remove()
    assert forecast.item_id == str(data["item_id"]) and forecast.samples.shape == (10, H)
    assert np.isfinite(forecast.samples).all()
    assert forecast.start_date == PERIOD + len(data["target"])


# --------------------------------------------------------------------------- at training
TRAINING = [
    pytest.param(
        {},
        [entry(feat_dynamic_real=KNOWN[:, :50])],
        r"series 0 \(item_id='a'\): 'feat_dynamic_real' covers "
        r"50 time steps, 96 are needed \(as many as the target\)",
        id="known-shorter-than-target",
    ),  # fmt: skip
    pytest.param(
        {},
        [entry(), entry(item_id="b", past_feat_dynamic_real=[["1", "x"] * 48])],
        r"series 1 "
        r"\(item_id='b'\): 'past_feat_dynamic_real' holds non-numeric values",
        id="text-in-second-item",
    ),  # fmt: skip
    pytest.param(
        {},
        [entry(past_feat_dynamic_real=np.full((1, N), np.nan))],
        "'past_feat_dynamic_real' row 0 has no value at all",
        id="all-nan-covariate",
    ),  # fmt: skip
    pytest.param(
        {}, [entry(past_feat_dynamic_real=DROP)], "has no 'past_feat_dynamic_real' field", id="declared-but-absent"
    ),  # fmt: skip
    pytest.param(
        dict(num_feat_static_cat=1, cardinality=[2]),
        [entry(feat_static_cat=[5])],
        r"'feat_static_cat'\[0\] is 5; it must be an integer code in \[0, 2\)",
        id="code-beyond-cardinality",
    ),  # fmt: skip
    pytest.param(
        dict(num_feat_static_real=2),
        [entry(feat_static_real=[1.0])],
        "'feat_static_real' has 1 values, the model expects 2",
        id="static-real-count",
    ),  # fmt: skip
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("options, data, expected", TRAINING)
def test_training_refused_before_fit(model, options, data, expected):
    recorder = FitStarted()
    with pytest.raises(DataError, match=expected):
        MODELS[model](recorder, **options).train(data)
    assert not recorder.started


@pytest.mark.parametrize("model", MODELS)
def test_static_codes_that_do_not_all_occur_size_the_embedding_by_the_largest(model):
    build = {"informer": InformerEstimator, "lagllama": LagLlamaEstimator}[model]
    derived = build.derive_auto_fields([entry(feat_static_cat=[0]), entry(feat_static_cat=[5])])
    assert derived["num_feat_static_cat"] == 1 and derived["cardinality"] == [6]  # not 2 distinct codes
    with pytest.raises(DataError, match=r"series 1 \(item_id='a'\): 'feat_static_cat' must hold integer codes >= 0"):
        build.derive_auto_fields([entry(feat_static_cat=[0]), entry(feat_static_cat=[1.5])])


# --------------------------------------------------------------------------- sizes and settings
def long_frame():
    return pd.DataFrame({"item_id": "a", "timestamp": pd.date_range("2021-01-01", periods=N, freq="h"), "target": SINE})


SIZES = [
    pytest.param(
        lambda p: p.predict([entry()], num_samples=0),
        "num_samples must be a positive integer or None",
        id="predict-num-samples-0",
    ),  # fmt: skip
    pytest.param(
        lambda p: p.predict([entry()], num_samples=-3),
        "num_samples must be a positive integer .*got -3",
        id="predict-num-samples-negative",
    ),  # fmt: skip
    pytest.param(
        lambda p: predict_df(p, long_frame(), num_samples=0),
        "num_samples must be a positive integer",
        id="predict-df-num-samples-0",
    ),  # fmt: skip
    pytest.param(
        lambda p: setattr(p, "batch_size", 0) or p.predict([entry()]),
        "batch_size must be a positive integer, got 0",
        id="predictor-batch-size-0",
    ),  # fmt: skip
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("call, message", SIZES)
def test_sizes_refused_at_the_call(predictors, model, call, message):
    predictor = copy.copy(predictors[model])  # a shallow copy: setting batch_size leaves the fixture's
    with pytest.raises(ValueError, match=message):
        call(predictor)  # raised by the call itself, before a generator is handed back


@pytest.mark.parametrize("model", MODELS)
def test_num_samples_given_is_the_number_drawn(predictors, model):
    (forecast,) = predictors[model].predict([entry()], num_samples=3)
    assert forecast.samples.shape == (3, H)


def test_long_horizons_show_decoding_progress_short_ones_do_not():
    assert isinstance(decoding_steps(LONG_HORIZON - 1), range)
    bar = decoding_steps(LONG_HORIZON)
    assert isinstance(bar, tqdm) and bar.total == LONG_HORIZON and list(bar) == list(range(LONG_HORIZON))


# --------------------------------------------------------------------------- checkpoints
def damaged(tmp_path, name, change):
    ckpt = read_checkpoint(LAG_LLAMA_FIXTURES / "small.ckpt").to_dict()
    change(ckpt)
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def nan_weight(ckpt):
    ckpt["state_dict"]["model.param_proj.proj.0.weight"].view(-1)[3] = float("nan")


def inf_weight(ckpt):
    ckpt["state_dict"]["model.transformer.wte.weight"].view(-1)[0] = float("inf")


def unknown_class(ckpt):
    kind = {"__kind__": "instance", "class": "gluonts.torch.distributions.NotThere", "kwargs": {}}
    ckpt["hyper_parameters"]["model_kwargs"]["distr_output"] = kind


def bad_kwargs(ckpt):
    kind = {"__kind__": "instance", "class": "gluonts.torch.distributions.StudentTOutput", "kwargs": {"x": 1}}
    ckpt["hyper_parameters"]["model_kwargs"]["distr_output"] = kind


CHECKPOINTS = [
    pytest.param(nan_weight, r"weight 'param_proj.proj.0.weight' holds 1 non-finite value", id="nan-weight"),
    pytest.param(inf_weight, r"weight 'transformer.wte.weight' holds 1 non-finite value", id="inf-weight"),
    pytest.param(
        unknown_class,
        "cannot decode the stored distr_output 'gluonts.torch.distributions.NotThere'",
        id="distr-output-unknown-class",
    ),  # fmt: skip
    pytest.param(
        bad_kwargs,
        "cannot decode the stored distr_output 'gluonts.torch.distributions.StudentTOutput'",
        id="distr-output-bad-arguments",
    ),  # fmt: skip
]


@pytest.mark.parametrize("change, message", CHECKPOINTS)
def test_damaged_checkpoint_refused_when_read_and_by_info(tmp_path, capsys, change, message):
    path = damaged(tmp_path, "bad.ckpt", change)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)
    assert lagllama_main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lagllama-gluonts: error: ") and str(path) in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("record", [{"loss": torch.ones(2)}, {"tags": {1, 2}}], ids=["tensor", "set"])
def test_info_reports_a_training_record_that_is_not_plain_data_in_one_line(tmp_path, capsys, record):
    path = damaged(tmp_path, "odd.ckpt", lambda c: c["hyper_parameters"].__setitem__("training", record))
    assert lagllama_main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        [line for line in out.splitlines() if "training record" in line]
        == [line for line in out.splitlines() if line.startswith("training record: not plain data, not shown")]
        != []
    )


# --------------------------------------------------------------------------- command lines
def table(tmp_path, future=0, **columns):
    """An hourly table of ``y`` (its last ``future`` values blank) and ``columns`` (callables of the row count)."""
    rows = N + future
    frame = pd.DataFrame(
        {"ds": pd.date_range("2021-01-01", periods=rows, freq="h"), "y": np.r_[SINE, [np.nan] * future]}
    )
    for name, make in columns.items():
        frame[name] = make(rows)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return str(path)


def cosine(rows):
    return np.cos(np.arange(rows) / 5)


INFORMER = ["forecast", "--target", "y", "--prediction-length", str(H), *INFORMER_FAST_OPTIONS]
CLI = [
    pytest.param(lambda d: [*INFORMER, "--csv", table(d, t=cosine), "--covariates", "t"], 0, id="ms-past-covariate"),
    pytest.param(
        lambda d: [*INFORMER, "--csv", table(d, t=lambda r: 1e30 * cosine(r)), "--covariates", "t"],
        0,
        id="ms-covariate-1e30",
    ),  # fmt: skip
    pytest.param(lambda d: [*INFORMER, "--csv", table(d, t=np.ones), "--covariates", "t"], 0, id="constant-covariate"),
    pytest.param(
        lambda d: [*INFORMER, "--csv", table(d, H, t=cosine), "--known-covariates", "t"],
        0,
        id="known-covariate-over-the-horizon",
    ),  # fmt: skip
    pytest.param(lambda d: [*INFORMER, "--csv", table(d), "--features", "M"], 0, id="m-with-one-column"),
    pytest.param(
        lambda d: [*INFORMER, "--csv", table(d, t=cosine), "--known-covariates", "t"],
        "known-future covariates (--known-covariates) need the 4 rows after",
        id="known-not-covering-horizon",
    ),  # fmt: skip
    pytest.param(
        lambda d: [*INFORMER, "--csv", table(d, t=lambda r: np.full(r, np.nan)), "--covariates", "t"],
        "covariate column 't' has no value",
        id="all-nan-covariate-column",
    ),  # fmt: skip
    pytest.param(
        lambda d: [*INFORMER, "--csv", table(d, t=lambda r: ["x"] * r), "--covariates", "t"],
        "'t'",
        id="text-covariate-column",
    ),  # fmt: skip
    pytest.param(lambda d: [*INFORMER, "--csv", table(d), "--covariates", "y"], "'y'", id="covariate-named-as-target"),
    pytest.param(lambda d: [*INFORMER, "--csv", table(d), "--batch-size", "0"], "--batch-size", id="batch-size-0"),
    pytest.param(lambda d: [*INFORMER, "--csv", table(d), "--num-samples", "0"], "--num-samples", id="num-samples-0"),
]


@pytest.mark.parametrize("argv, expected", CLI)
def test_informer_command_line(tmp_path, capsys, argv, expected):
    out = tmp_path / "out"
    code = informer_main([*argv(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if expected == 0:
        assert code == 0, err
        forecast = pd.read_csv(next(out.glob("forecast*.csv")))
        assert len(forecast) >= H and np.isfinite(forecast.select_dtypes("number").to_numpy()).all()
        return
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("informer-gluonts: error:"), err
    assert expected in lines[0]
    assert not out.exists()


LAGLLAMA = ["forecast", "--target", "y", "--prediction-length", str(H), "--num-samples", "8", "--device", "cpu"]
LAGLLAMA_CLI = [
    pytest.param(lambda d: [*LAGLLAMA, "--csv", table(d), "--covariates", "y"], "'y'", id="covariate-named-as-target"),
    pytest.param(
        lambda d: [*LAGLLAMA, "--csv", table(d, t=lambda r: np.full(r, np.nan)), "--covariates", "t"],
        "covariate column 't' has no value",
        id="all-nan-covariate-column",
    ),  # fmt: skip
    pytest.param(
        lambda d: [*LAGLLAMA, "--csv", table(d, t=cosine), "--known-covariates", "t"],
        "known-future covariates (--known-covariates) need the 4 rows after",
        id="known-not-covering-horizon",
    ),  # fmt: skip
    pytest.param(lambda d: [*LAGLLAMA, "--csv", table(d), "--batch-size", "0"], "--batch-size", id="batch-size-0"),
]


@pytest.mark.parametrize("argv, expected", LAGLLAMA_CLI)
def test_lagllama_command_line(tmp_path, capsys, argv, expected):
    out = tmp_path / "out"
    code = lagllama_main([*argv(tmp_path), "--out", str(out)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("lagllama-gluonts: error:"), err
    assert expected in lines[0] and "Traceback" not in err
    assert not out.exists()
