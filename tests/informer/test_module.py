"""Unit tests of the Informer network: one-pass decoder, distilling, inputs."""

import numpy as np
import pandas as pd
import pytest
import torch

from gluonts.dataset.common import ListDataset

from informer_gluonts import InformerEstimator, InformerModel
from informer_gluonts.module import DistillingLayer


def small_model(**overrides) -> InformerModel:
    kwargs = dict(
        context_length=96,
        prediction_length=24,
        num_time_features=2,
        lags_seq=[1, 24],
        d_model=16,
        n_heads=2,
        d_ff=32,
        e_layers=3,
        dropout=0.0,
    )
    kwargs.update(overrides)
    return InformerModel(**kwargs)


def random_inputs(model: InformerModel, batch_size: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    inputs = model.describe_inputs(batch_size).zeros()
    for name, value in inputs.items():
        if value.dtype.is_floating_point:
            inputs[name] = torch.randn(value.shape, generator=generator)
    inputs["past_observed_values"] = torch.ones_like(inputs["past_target"])
    return inputs


def record_lengths(modules):
    lengths, handles = [], []
    for module in modules:
        handles.append(
            module.register_forward_hook(
                lambda mod, args, out: lengths.append(args[0].shape[1])
            )
        )
    return lengths, handles


@pytest.mark.parametrize("attention", ["prob", "full"])
def test_distilling_halves_length_per_encoder_layer(attention):
    model = small_model(attention=attention).eval()
    lengths, _ = record_lengths(model.encoder.layers)
    memory_lengths, _ = record_lengths([model.encoder.norm])
    with torch.no_grad():
        model.output_distribution(**random_inputs(model))
    assert lengths == [96, 48, 24]
    assert memory_lengths == [24]
    assert len(model.encoder.distilling_layers) == 2


def test_no_distilling_keeps_length():
    model = small_model(distil=False).eval()
    lengths, _ = record_lengths(model.encoder.layers)
    with torch.no_grad():
        model.output_distribution(**random_inputs(model))
    assert lengths == [96, 96, 96]
    assert model.encoder.distilling_layers is None
    assert not any(isinstance(m, DistillingLayer) for m in model.modules())


def test_distilling_layer_is_conv_batchnorm_elu_maxpool():
    layer = DistillingLayer(8)
    assert layer.conv.kernel_size == (3,)
    assert layer.conv.padding_mode == "circular"
    assert isinstance(layer.norm, torch.nn.BatchNorm1d)
    assert isinstance(layer.activation, torch.nn.ELU)
    assert (layer.pool.kernel_size, layer.pool.stride) == (3, 2)
    assert layer(torch.randn(2, 97, 8)).shape == (2, 49, 8)


def test_decoder_reads_start_token_plus_placeholders_once():
    model = small_model(label_len=40).eval()
    lengths, _ = record_lengths([model.decoder])
    with torch.no_grad():
        samples = model(**random_inputs(model), num_parallel_samples=7)
    assert samples.shape == (3, 7, 24)
    assert lengths == [40 + 24]  # one call: start token + whole horizon


def test_past_covariates_change_the_forecast():
    model = small_model(num_past_feat_dynamic_real=2).eval()
    inputs = random_inputs(model)
    with torch.no_grad():
        reference = model.output_distribution(**inputs).mean
        changed = dict(inputs)
        changed["past_feat_dynamic_real"] = torch.randn_like(
            inputs["past_feat_dynamic_real"]
        )
        moved = model.output_distribution(**changed).mean
    assert reference.shape == (3, 24)
    assert not torch.allclose(reference, moved)


def test_loss_is_masked_by_future_observed_values():
    model = small_model(attention="full").eval()
    inputs = random_inputs(model)
    target = torch.randn(3, 24)
    observed = torch.ones(3, 24)
    observed[:, 12:] = 0.0
    garbage = target.clone()
    garbage[:, 12:] = 1e6
    with torch.no_grad():
        a = model.loss(**inputs, future_target=target,
                       future_observed_values=observed)
        b = model.loss(**inputs, future_target=garbage,
                       future_observed_values=observed)
    assert a.shape == (3,)
    torch.testing.assert_close(a, b)


def test_predictor_calls_decoder_once_per_batch():
    """The horizon comes out of one pass: no autoregressive decoding."""
    estimator = InformerEstimator(
        freq="h",
        prediction_length=12,
        context_length=24,
        lags_seq=[1, 24],
        d_model=16,
        n_heads=2,
        d_ff=32,
        batch_size=2,
        num_parallel_samples=5,
    )
    module = estimator.create_lightning_module()
    predictor = estimator.create_predictor(
        estimator.create_transformation(), module
    )
    rng = np.random.default_rng(0)
    dataset = ListDataset(
        [
            {"start": pd.Period("2021-01-01", "h"), "target": rng.normal(
                size=100 + 7 * i)}
            for i in range(5)
        ],
        freq="h",
    )
    decoder_calls, encoder_calls = [], []
    module.model.decoder.register_forward_hook(
        lambda mod, args, out: decoder_calls.append(out.shape)
    )
    module.model.encoder.register_forward_hook(
        lambda mod, args, out: encoder_calls.append(out.shape)
    )
    forecasts = list(predictor.predict(dataset))

    num_batches = 3  # 5 series, batch size 2
    assert len(decoder_calls) == num_batches
    assert len(encoder_calls) == num_batches
    label_len = 24 // 2
    assert [shape[1] for shape in decoder_calls] == [label_len + 12] * 3
    assert len(forecasts) == 5
    assert all(f.samples.shape == (5, 12) for f in forecasts)


def test_short_series_are_padded():
    estimator = InformerEstimator(
        freq="D", prediction_length=5, context_length=30, d_model=16,
        n_heads=2, d_ff=32,
    )
    module = estimator.create_lightning_module()
    predictor = estimator.create_predictor(
        estimator.create_transformation(), module
    )
    dataset = ListDataset(
        [{"start": pd.Period("2021-01-01", "D"), "target": [1.0, 2.0, 3.0]}],
        freq="D",
    )
    (forecast,) = predictor.predict(dataset)
    assert forecast.samples.shape == (100, 5)
    assert np.isfinite(forecast.samples).all()
