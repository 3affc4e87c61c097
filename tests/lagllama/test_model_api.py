"""The network's vocabulary (shared with Informer), the lag convention, and defects of the
estimator around it: context_length 1, a torch.device through GluonTS serde, bad sizes."""

import numpy as np
import pytest
import torch
from gluonts.core import serde
from gluonts.dataset.common import ListDataset
from gluonts.model.predictor import Predictor
from gluonts.time_feature import get_lags_for_frequency

from lagllama_gluonts import LagLlamaEstimator
from lagllama_gluonts.estimator import frequency_lags
from lagllama_gluonts.layers import lag_features
from lagllama_gluonts.module import LagLlamaModel

from conftest import LAG_LLAMA_FIXTURES


def tiny_model(**overrides) -> LagLlamaModel:
    kwargs = dict(
        context_length=8,
        max_context_length=64,
        scaling="robust",
        input_size=1,
        n_layer=1,
        n_embd_per_head=4,
        n_head=2,
        lags_seq=[0, 2, 5],
        prediction_length=3,
        num_parallel_samples=4,
    )
    kwargs.update(overrides)
    torch.manual_seed(0)
    return LagLlamaModel(**kwargs).eval()


def hourly(length=300, seed=0):
    rng = np.random.default_rng(seed)
    target = 5 + np.sin(np.arange(length) / 4) + 0.1 * rng.standard_normal(length)
    return ListDataset([{"start": "2021-01-01", "target": target}], freq="h")


@pytest.mark.parametrize("time_feat", [True, False])
def test_zeros_from_describe_inputs_run_through_forward(time_feat):
    """GluonTS's module test pattern: ``model(**model.describe_inputs(B).zeros())``."""
    model = tiny_model(time_feat=time_feat)
    spec = model.describe_inputs(batch_size=2)
    expected = {"past_target": (2, 8 + 5), "past_observed_values": (2, 8 + 5)}
    if time_feat:
        expected.update(past_time_feat=(2, 13, 6), future_time_feat=(2, 3, 6))
    assert spec.shapes == expected
    samples = model(**spec.zeros())
    assert samples.shape == (2, 4, 3) and torch.isfinite(samples).all()


def test_forward_is_sample_and_the_predictor_feeds_what_describe_inputs_names():
    model = tiny_model()
    inputs = {k: torch.randn(v.shape) for k, v in model.describe_inputs(3).items()}
    inputs["past_observed_values"] = torch.ones_like(inputs["past_target"])
    torch.manual_seed(5)
    via_forward = model(**inputs, num_samples=6)
    torch.manual_seed(5)
    via_sample = model.sample(**inputs, num_samples=6)
    torch.testing.assert_close(via_forward, via_sample, rtol=0, atol=0)
    assert via_forward.shape == (3, 6, 3)

    estimator = LagLlamaEstimator(
        prediction_length=3, context_length=8, n_layer=1, n_head=1, n_embd_per_head=4, freq="h"
    )
    module = estimator.create_lightning_module()
    predictor = estimator.create_predictor(estimator.create_transformation(), module)
    assert predictor.input_names == list(module.model.describe_inputs())


def test_the_model_needs_a_horizon_to_sample():
    model = tiny_model(prediction_length=None)
    with pytest.raises(ValueError, match="prediction_length"):
        model.describe_inputs()
    inputs = (torch.ones(1, 13), torch.ones(1, 13), torch.zeros(1, 13, 6), torch.zeros(1, 2, 6))
    assert model.sample(*inputs, prediction_length=2).shape == (1, 4, 2)


def test_lags_property_is_the_one_based_convention_of_gluonts_and_informer():
    model = tiny_model(lags_seq=[0, 2, 5])
    assert model.lags_seq == [0, 2, 5] and model.lags == [1, 3, 6]
    # GluonTS's own lags of a frequency come back unchanged, 1-based
    estimator = LagLlamaEstimator(
        prediction_length=3, context_length=8, n_layer=1, n_head=1, n_embd_per_head=4, freq="W"
    )
    lags = estimator.create_lightning_module().model.lags
    assert lags == sorted(get_lags_for_frequency("W")) and lags == [i + 1 for i in frequency_lags("W")]
    # lag L is the value L steps before the predicted position: the token predicting the
    # value after a series 0, 1, 2, ... reads, at lag L, the value (length - L)
    series = torch.arange(20.0)[None]
    last_token = lag_features(series, model.lag_index, 1)[0, 0]
    assert last_token.tolist() == [20.0 - lag for lag in model.lags]


def test_loss_is_the_per_series_mean_of_the_nll_per_position():
    model = tiny_model()
    g = torch.Generator().manual_seed(0)
    batch = dict(
        past_target=torch.randn(2, 13, generator=g),
        past_observed_values=torch.ones(2, 13),
        past_time_feat=torch.randn(2, 13, 6, generator=g),
        future_time_feat=torch.randn(2, 3, 6, generator=g),
        future_target=torch.randn(2, 3, generator=g),
        future_observed_values=torch.ones(2, 3),
    )
    batch["future_observed_values"][1, 2] = 0
    nll, observed = model.nll_per_position(**batch)
    assert nll.shape == observed.shape == (2, 8 - 1 + 3)
    # loss: one mean per series over its observed positions, as InformerModel.loss
    expected = torch.stack([nll[0].mean(), nll[1][observed[1] == 1].mean()])
    torch.testing.assert_close(model.loss(**batch), expected)
    assert observed[1, -1] == 0 and observed.sum() == 2 * 10 - 1
    # the same numbers as the distribution of the teacher-forced pass
    args, loc, scale = model.distribution_args(
        batch["past_target"],
        batch["past_observed_values"],
        batch["past_time_feat"],
        batch["future_time_feat"],
        batch["future_target"],
    )
    target = torch.cat((batch["past_target"][:, -7:], batch["future_target"]), dim=1)
    torch.testing.assert_close(nll, -model.distr_output.distribution(args, loc, scale).log_prob(target))


def test_training_loss_is_the_token_mean_of_the_model_loss(monkeypatch):
    """The Lightning module trains on LagLlamaModel.loss (as GluonTS's DeepAR module), with the
    token-weighted mean the reference trains on, which differs from the per-series mean."""
    from lagllama_gluonts.lightning_module import LagLlamaLightningModule

    model_kwargs = dict(
        max_context_length=64,
        scaling="robust",
        input_size=1,
        n_layer=1,
        n_embd_per_head=4,
        n_head=2,
        lags_seq=[0, 2, 5],
    )
    module = LagLlamaLightningModule(model_kwargs=model_kwargs, context_length=8, prediction_length=3, aug_prob=0.0)
    g = torch.Generator().manual_seed(0)
    batch = dict(
        past_target=torch.randn(2, 13, generator=g),
        past_observed_values=torch.ones(2, 13),
        past_time_feat=torch.randn(2, 13, 6, generator=g),
        future_time_feat=torch.randn(2, 3, 6, generator=g),
        future_target=torch.randn(2, 3, generator=g),
        future_observed_values=torch.ones(2, 3),
    )
    batch["past_observed_values"][1, -6:] = 0  # series 1 has fewer observed positions: the means differ
    nll, observed = module.model.nll_per_position(**batch)
    token = module.model.loss(**batch, reduction="token")
    torch.testing.assert_close(token, (nll * observed).sum() / observed.sum())
    assert not torch.isclose(token, module.model.loss(**batch).mean())
    with pytest.raises(ValueError, match="reduction"):
        module.model.loss(**batch, reduction="sum")

    calls = []
    model_loss = module.model.loss
    monkeypatch.setattr(module.model, "loss", lambda **kw: calls.append(kw["reduction"]) or model_loss(**kw))
    module.log = lambda *args, **kwargs: None
    torch.testing.assert_close(module.training_step(batch, 0), token)
    assert calls == ["token"]
    torch.testing.assert_close(module.validation_step(batch, 0), token)


def test_context_length_one_trains_a_step_and_forecasts(tmp_path):
    """The predicted context positions are the last context_length - 1: none at 1 (a [-0:]
    slice took the whole window, so the target no longer matched the predictions)."""
    estimator = LagLlamaEstimator(
        prediction_length=3,
        context_length=1,
        n_layer=1,
        n_head=1,
        n_embd_per_head=4,
        batch_size=4,
        num_batches_per_epoch=1,
        num_parallel_samples=5,
        freq="h",
        trainer_kwargs={"max_epochs": 1, "max_steps": 1, "enable_progress_bar": False, "enable_model_summary": False},
    )
    module = estimator.create_lightning_module()
    batch = next(
        iter(
            estimator.create_training_data_loader(
                estimator.create_transformation().apply(hourly(), is_train=True), module
            )
        )
    )
    nll, observed = module.loss_per_position(batch)
    assert nll.shape == observed.shape == (4, 3)  # the horizon only
    torch.testing.assert_close(observed, batch["future_observed_values"])

    predictor = estimator.train(hourly())
    forecast = next(iter(predictor.predict(hourly())))
    assert forecast.samples.shape == (5, 3) and np.isfinite(forecast.samples).all()


def test_estimator_with_a_torch_device_goes_through_gluonts_serde(tmp_path):
    estimator = LagLlamaEstimator(
        prediction_length=4,
        context_length=8,
        n_layer=1,
        n_head=1,
        n_embd_per_head=4,
        num_parallel_samples=6,
        freq="h",
        device=torch.device("cpu"),
    )
    for restored in (serde.decode(serde.encode(estimator)), serde.load_json(serde.dump_json(estimator))):
        assert torch.device(restored.device) == torch.device("cpu")
        assert restored.trainer_kwargs == estimator.trainer_kwargs
        assert restored.lags_seq == estimator.lags_seq and restored.predictor_device() == "cpu"

    predictor = estimator.create_predictor(estimator.create_transformation(), estimator.create_lightning_module())
    predictor.serialize(tmp_path)
    again = Predictor.deserialize(tmp_path)
    torch.manual_seed(3)
    first = next(iter(predictor.predict(hourly()))).samples
    torch.manual_seed(3)
    second = next(iter(again.predict(hourly()))).samples
    assert first.shape == (6, 4)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"n_head": 0}, "n_head must be a positive integer"),
        ({"n_layer": 0}, "n_layer must be a positive integer"),
        ({"n_embd_per_head": 7}, "n_embd_per_head must be even"),
        ({"context_length": 0}, "context_length must be a positive integer"),
        ({"rope_scaling": "linear"}, r"rope_scaling must be None, \{'type': 'linear'\}.*did you mean"),
        ({"rope_scaling": {"type": "linear", "factor": 0.5}}, "factor must be a number >= 1"),
        ({"scaling": "robst"}, "scaling must be one of"),
    ],
    ids=["n_head-0", "n_layer-0", "odd-head", "context-0", "rope-string", "rope-factor", "scaling-typo"],
)
def test_the_model_itself_refuses_sizes_it_cannot_build(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_model(**overrides)


def test_sampling_modes_are_separate_and_agree_where_they_should():
    """cached == recomputed (fixed scale); the rescaling mode ignores the cache flag."""
    model = tiny_model(n_layer=2, lags_seq=[0, 1, 3])
    g = torch.Generator().manual_seed(2)
    inputs = dict(
        past_target=10 + torch.randn(2, 11, generator=g),
        past_observed_values=torch.ones(2, 11),
        past_time_feat=torch.randn(2, 11, 6, generator=g),
        future_time_feat=torch.randn(2, 3, 6, generator=g),
    )

    def run(**options):
        torch.manual_seed(0)
        return model.sample(**inputs, num_samples=5, **options)

    torch.testing.assert_close(run(use_kv_cache=True), run(use_kv_cache=False), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(
        run(rescale_every_step=True, use_kv_cache=True),
        run(rescale_every_step=True, use_kv_cache=False),
        rtol=0,
        atol=0,
    )
    assert (run(nonnegative=True) >= 0).all()


def test_released_checkpoint_kwargs_build_a_model_without_a_horizon():
    from lagllama_gluonts.checkpoint import read_checkpoint

    ckpt = read_checkpoint(LAG_LLAMA_FIXTURES / "small.ckpt")
    assert "prediction_length" not in ckpt.model_kwargs
    model = LagLlamaModel(**ckpt.model_kwargs)
    assert model.prediction_length is None and len(model.lags) == 84 and max(model.lags) == 1093
