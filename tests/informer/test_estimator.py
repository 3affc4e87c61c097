"""End-to-end tests of InformerEstimator: real data, serde, covariates, non-negative samples,
the device, multivariate targets refused."""

import math

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.core import serde
from gluonts.core.component import equals
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import backtest_metrics
from gluonts.model.predictor import Predictor
from gluonts.torch.model.predictor import PyTorchPredictor

from informer_gluonts import InformerEstimator
from lagllama_gluonts.common.datasets import get_dataset
from lagllama_gluonts.common.evaluation import run_backtest


def quiet_trainer(tmp_path, **extra):
    kwargs = dict(
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        default_root_dir=str(tmp_path),
    )
    kwargs.update(extra)
    return kwargs


@pytest.fixture(scope="module")
def ett(tmp_path_factory):
    return get_dataset("ett_small_1h", path=tmp_path_factory.mktemp("gluonts_cache"))


@pytest.mark.slow
def test_ett_train_backtest_and_serde_roundtrip(ett, tmp_path):
    pl.seed_everything(0, verbose=False)
    estimator = InformerEstimator(
        freq=ett.metadata.freq,
        prediction_length=ett.metadata.prediction_length,
        context_length=48,
        d_model=32,
        n_heads=4,
        d_ff=64,
        num_batches_per_epoch=8,
        num_parallel_samples=50,
        trainer_kwargs=quiet_trainer(tmp_path, max_epochs=2),
    )
    predictor = estimator.train(ett.train, validation_data=ett.test)
    assert isinstance(predictor, PyTorchPredictor)
    assert predictor.prediction_length == 24

    agg, forecasts, tss = run_backtest(predictor, ett.test, num_samples=50, progress=False)
    assert len(forecasts) == 14
    for key in ("MSE", "MASE", "mean_wQuantileLoss", "sMAPE"):
        assert math.isfinite(agg[key]), key
    # Forecasts are in the data's units (ETT loads/temperatures are O(10)),
    # not standardised values around 0.
    truth = np.array([ts.to_numpy().ravel()[-24:] for ts in tss])
    medians = np.array([f.median for f in forecasts])
    assert np.mean(np.abs(medians - truth)) < 3 * np.std(truth)

    agg2, _ = backtest_metrics(test_dataset=ett.test, predictor=predictor, num_samples=20)
    assert math.isfinite(agg2["mean_wQuantileLoss"])

    (tmp_path / "model").mkdir()
    predictor.serialize(tmp_path / "model")
    loaded = Predictor.deserialize(tmp_path / "model")
    assert isinstance(loaded, PyTorchPredictor)
    subset = list(ett.test)[:3]
    torch.manual_seed(123)
    before = [f.samples for f in predictor.predict(subset)]
    torch.manual_seed(123)
    after = [f.samples for f in loaded.predict(subset)]
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def shifted_covariate_data(num_steps=1700, shift=1, seed=0):
    """Target is white noise that a covariate shows ``shift`` steps early."""
    rng = np.random.default_rng(seed)
    covariate = rng.normal(size=num_steps + shift)
    target = covariate[:num_steps]  # target[t] = covariate_early[t - shift]
    covariate_early = covariate[shift:]
    return target, covariate_early


def train_and_score(with_covariate, tmp_path, H=8):
    target, covariate = shifted_covariate_data()
    start = pd.Period("2021-01-01", "h")

    def dataset(end, future=0):
        entry = {"start": start, "target": target[:end]}
        if with_covariate:
            entry["feat_dynamic_real"] = [covariate[: end + future]]
        return ListDataset([entry], freq="h")

    pl.seed_everything(0, verbose=False)
    estimator = InformerEstimator(
        freq="h",
        prediction_length=H,
        context_length=32,
        lags_seq=[],
        d_model=32,
        n_heads=2,
        d_ff=64,
        num_feat_dynamic_real=1 if with_covariate else 0,
        num_batches_per_epoch=80,
        lr=5e-3,
        trainer_kwargs=quiet_trainer(tmp_path / str(with_covariate)),
    )
    predictor = estimator.train(dataset(1400))
    errors = []
    for end in range(1400, 1400 + 20 * 12, 12):  # unseen windows
        (forecast,) = predictor.predict(dataset(end, future=H))
        errors.append(np.abs(forecast.median - target[end : end + H]).mean())
    return float(np.mean(errors))


@pytest.mark.slow
def test_known_future_covariate_is_used(tmp_path):
    """
    With the covariate the horizon is (almost) determined; without it the
    target is unpredictable white noise (MAE of the median ~0.8).
    """
    with_covariate = train_and_score(True, tmp_path)
    without = train_and_score(False, tmp_path)
    assert without > 0.6
    assert with_covariate < 0.3
    assert with_covariate < without / 3


def test_past_covariates_flow_through_the_pipeline(tmp_path):
    rng = np.random.default_rng(0)
    train = ListDataset(
        [
            {
                "start": pd.Period("2021-01-01", "h"),
                "target": rng.normal(size=200),
                "past_feat_dynamic_real": rng.normal(size=(3, 200)),
            }
        ],
        freq="h",
    )
    estimator = InformerEstimator(
        freq="h",
        prediction_length=6,
        context_length=24,
        lags_seq=[1, 2],
        num_past_feat_dynamic_real=3,
        d_model=16,
        n_heads=2,
        d_ff=16,
        num_batches_per_epoch=2,
        trainer_kwargs=quiet_trainer(tmp_path),
    )
    predictor = estimator.train(train, validation_data=train)
    assert "past_feat_dynamic_real" in predictor.input_names
    (forecast,) = predictor.predict(train)
    assert forecast.samples.shape == (100, 6)
    assert forecast.start_date == pd.Period("2021-01-09 08:00", "h")


def test_early_stopping_and_callbacks_survive_retraining(tmp_path):
    rng = np.random.default_rng(0)
    data = ListDataset(
        [{"start": pd.Period("2021-01-01", "h"), "target": rng.normal(size=120)}],
        freq="h",
    )
    calls = []

    class Count(pl.Callback):
        def on_train_epoch_end(self, trainer, module):
            calls.append(trainer.current_epoch)

    estimator = InformerEstimator(
        freq="h",
        prediction_length=4,
        context_length=8,
        lags_seq=[],
        d_model=8,
        n_heads=2,
        d_ff=8,
        # No learning, no BatchNorm statistics (distil=False) and no random
        # key sampling (full attention): the validation loss stays flat.
        lr=0.0,
        distil=False,
        attention="full",
        num_batches_per_epoch=1,
        early_stopping_patience=1,
        trainer_kwargs=quiet_trainer(tmp_path, max_epochs=50, callbacks=[Count()]),
    )
    output = estimator.train_model(data, validation_data=data)
    assert output.trainer.current_epoch < 5
    first = len(calls)
    estimator.train(data, validation_data=data)
    assert 0 < first < len(calls)  # the user's callback ran both times


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "empty"),
        (
            [{"start": pd.Period("2021-01-01", "h"), "target": [1.0] * 4}],
            "has 7 or more time steps",
        ),
    ],
)
def test_bad_training_data_is_reported(data, message, tmp_path):
    estimator = InformerEstimator(freq="h", prediction_length=6, trainer_kwargs=quiet_trainer(tmp_path))
    with pytest.raises(ValueError, match=message):
        estimator.train(ListDataset(data, freq="h"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(freq="not-a-freq"), "frequency 'not-a-freq'"),
        (dict(attention="sparse"), "attention"),
        (dict(scaling="robst"), "scaling"),
        (dict(label_len=500), "label_len"),
        (dict(num_feat_static_cat=1), "cardinality"),
    ],
)
def test_bad_options_are_reported(kwargs, message):
    options = dict(freq="h", prediction_length=6)
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        InformerEstimator(**options)


def test_static_features_and_student_t_default(tmp_path):
    rng = np.random.default_rng(1)
    data = ListDataset(
        [
            {
                "start": pd.Period("2021-01-01", "D"),
                "target": rng.gamma(2.0, size=80) * (i + 1),
                "feat_static_cat": [i],
                "feat_static_real": [float(i), 1.0],
            }
            for i in range(3)
        ],
        freq="D",
    )
    estimator = InformerEstimator(
        freq="D",
        prediction_length=7,
        context_length=14,
        num_feat_static_cat=1,
        cardinality=[3],
        num_feat_static_real=2,
        scaling="mean",
        attention="full",
        distil=False,
        d_model=16,
        n_heads=2,
        d_ff=16,
        num_batches_per_epoch=2,
        trainer_kwargs=quiet_trainer(tmp_path),
    )
    predictor = estimator.train(data)
    forecasts = list(predictor.predict(data))
    assert len(forecasts) == 3
    assert all(np.isfinite(f.mean).all() for f in forecasts)
    model_kwargs = predictor.prediction_net.model
    assert type(model_kwargs.distr_output).__name__ == "StudentTOutput"


def tiny_estimator(tmp_path, **overrides):
    options = dict(
        freq="h",
        prediction_length=4,
        context_length=8,
        lags_seq=[1],
        d_model=8,
        n_heads=2,
        d_ff=8,
        num_batches_per_epoch=2,
        batch_size=4,
        num_parallel_samples=20,
        trainer_kwargs=quiet_trainer(tmp_path),
    )
    options.update(overrides)
    return InformerEstimator(**options)


def noise(length=60, level=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return [{"start": pd.Period("2021-01-01", "h"), "target": level + rng.normal(size=length), "item_id": "x"}]


# --------------------------------------------------------------------------- nonnegative_pred_samples


def test_estimator_survives_serde_like_gluonts_estimator_tests(tmp_path):
    """GluonTS's estimator tests build each estimator, then round-trip it through serde."""
    estimator = tiny_estimator(tmp_path, nonnegative_pred_samples=True)
    decoded = serde.decode(serde.encode(estimator))
    assert isinstance(decoded, InformerEstimator) and equals(estimator, decoded)
    assert decoded.nonnegative_pred_samples is True
    assert serde.load_json(serde.dump_json(estimator)).nonnegative_pred_samples is True
    assert InformerEstimator(freq="h", prediction_length=4).nonnegative_pred_samples is False  # GluonTS's default


def test_nonnegative_pred_samples_reaches_the_forecasts(tmp_path):
    # series around 0: a Student-t forecast has negative samples unless clipped
    data = noise(level=0.0)
    paths = {}
    for clip in (False, True):
        pl.seed_everything(0, verbose=False)
        predictor = tiny_estimator(tmp_path / str(clip), nonnegative_pred_samples=clip).train(data)
        assert predictor.prediction_net.model.nonnegative_pred_samples is clip
        torch.manual_seed(1)
        (forecast,) = predictor.predict(data)
        paths[clip] = forecast.samples
    assert (paths[False] < 0).any()
    assert (paths[True] >= 0).all() and (paths[True] > 0).any()
    np.testing.assert_allclose(paths[True], np.maximum(paths[False], 0), rtol=1e-6, atol=1e-6)

    # a serialized predictor keeps the setting
    (tmp_path / "model").mkdir()
    predictor.serialize(tmp_path / "model")
    assert Predictor.deserialize(tmp_path / "model").prediction_net.model.nonnegative_pred_samples is True


# --------------------------------------------------------------------------- device


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")], ids=["str", "torch.device"])
def test_device_is_honoured(device, tmp_path):
    estimator = tiny_estimator(tmp_path, device=device)
    assert estimator.trainer_kwargs["accelerator"] == "cpu"
    output = estimator.train_model(noise())
    assert type(output.trainer.accelerator).__name__ == "CPUAccelerator"
    assert torch.device(output.predictor.device) == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in output.predictor.prediction_net.parameters())
    (forecast,) = output.predictor.predict(noise())
    assert forecast.samples.shape == (20, 4)


def test_torch_device_estimator_survives_serde(tmp_path):
    estimator = tiny_estimator(tmp_path, device=torch.device("cpu"))
    for decoded in (serde.decode(serde.encode(estimator)), serde.load_json(serde.dump_json(estimator))):
        assert isinstance(decoded, InformerEstimator)
        assert str(decoded.device) == "cpu" and decoded.predictor_device() == "cpu"
        assert decoded.trainer_kwargs["accelerator"] == "cpu"
        predictor = decoded.create_predictor(decoded.create_transformation(), decoded.create_lightning_module())
        assert torch.device(predictor.device) == torch.device("cpu")
        assert serde.encode(decoded) == serde.encode(estimator)


# --------------------------------------------------------------------------- multivariate targets


def two_d(length=60):
    return [{"start": pd.Period("2021-01-01", "h"), "target": np.ones((3, length)), "item_id": "mv"}]


def test_2d_target_is_refused_at_training_with_the_shape(tmp_path):
    with pytest.raises(ValueError, match=r"item_id='mv'.*must have shape \(time,\), got shape \(3, 60\)") as error:
        tiny_estimator(tmp_path).train(two_d())
    assert "longer than" not in str(error.value) and "univariate" in str(error.value)
    # also as validation data next to valid training data
    with pytest.raises(ValueError, match=r"must have shape \(time,\)"):
        tiny_estimator(tmp_path).train(noise(), validation_data=two_d())


def test_2d_target_is_refused_at_prediction_with_the_shape(tmp_path):
    predictor = tiny_estimator(tmp_path).train(noise())
    with pytest.raises(ValueError, match=r"item_id='mv'.*must have shape \(time,\), got shape \(3, 60\)"):
        list(predictor.predict(two_d()))
