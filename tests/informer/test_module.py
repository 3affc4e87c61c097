"""Unit tests of the Informer network: one-pass decoder, distilling, inputs, the vocabulary
shared with Lag-Llama (distribution_args / loss / sample, forward = sample), the lag
convention, non-negative samples, tracing."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.time_feature import get_lags_for_frequency

from informer_gluonts import InformerEstimator, InformerLightningModule, InformerModel
from informer_gluonts.layers import DistillingLayer


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
        handles.append(module.register_forward_hook(lambda mod, args, out: lengths.append(args[0].shape[1])))
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


def test_state_dict_keys_are_stable():
    # Saved models load by these keys: they name the submodules, in the order the model creates
    # them (which also fixes the seeded initial weights).
    keys = list(small_model(e_layers=2).state_dict())
    top_level = [key.split(".")[0] for key in keys]
    counts = {name: top_level.count(name) for name in dict.fromkeys(top_level)}
    assert counts == {
        "embedder": 1,
        "enc_embedding": 1,
        "dec_embedding": 1,
        "encoder": 41,
        "decoder": 28,
        "args_proj": 6,
    }
    for key in (
        "encoder.layers.1.self_attention.query_projection.weight",
        "encoder.distilling_layers.0.norm.running_var",
        "encoder.norm.bias",
        "decoder.layers.0.cross_attention.out_projection.bias",
        "decoder.layers.0.norm3.weight",
    ):
        assert key in keys
    stack = small_model(e_layers=[2, 1]).state_dict()
    assert "encoder.encoders.1.layers.0.feed_forward.conv2.weight" in stack
    assert "encoder.encoders.0.distilling_layers.0.conv.weight" in stack


def test_old_import_paths_still_work():
    from informer_gluonts import embedding, layers, module

    assert module.EMBEDS is embedding.EMBEDS
    assert module.InformerEncoderStack is layers.InformerEncoderStack
    assert module.TemporalEmbedding is embedding.TemporalEmbedding
    assert InformerModel.__module__ == "informer_gluonts.module"  # serialized predictors name it


def test_decoder_reads_start_token_plus_placeholders_once():
    model = small_model(label_len=40).eval()
    lengths, _ = record_lengths([model.decoder])
    with torch.no_grad():
        samples = model(**random_inputs(model), num_samples=7)
    assert samples.shape == (3, 7, 24)
    assert lengths == [40 + 24]  # one call: start token + whole horizon


def test_past_covariates_change_the_forecast():
    model = small_model(num_past_feat_dynamic_real=2).eval()
    inputs = random_inputs(model)
    with torch.no_grad():
        reference = model.output_distribution(**inputs).mean
        changed = dict(inputs)
        changed["past_feat_dynamic_real"] = torch.randn_like(inputs["past_feat_dynamic_real"])
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
        a = model.loss(**inputs, future_target=target, future_observed_values=observed)
        b = model.loss(**inputs, future_target=garbage, future_observed_values=observed)
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
    predictor = estimator.create_predictor(estimator.create_transformation(), module)
    rng = np.random.default_rng(0)
    dataset = ListDataset(
        [{"start": pd.Period("2021-01-01", "h"), "target": rng.normal(size=100 + 7 * i)} for i in range(5)],
        freq="h",
    )
    decoder_calls, encoder_calls = [], []
    module.model.decoder.register_forward_hook(lambda mod, args, out: decoder_calls.append(out.shape))
    module.model.encoder.register_forward_hook(lambda mod, args, out: encoder_calls.append(out.shape))
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
        freq="D",
        prediction_length=5,
        context_length=30,
        d_model=16,
        n_heads=2,
        d_ff=32,
    )
    module = estimator.create_lightning_module()
    predictor = estimator.create_predictor(estimator.create_transformation(), module)
    dataset = ListDataset(
        [{"start": pd.Period("2021-01-01", "D"), "target": [1.0, 2.0, 3.0]}],
        freq="D",
    )
    (forecast,) = predictor.predict(dataset)
    assert forecast.samples.shape == (100, 5)
    assert np.isfinite(forecast.samples).all()


# --------------------------------------------------------------------------- vocabulary


def test_forward_is_sample_with_num_samples():
    model = small_model(num_parallel_samples=4).eval()
    inputs = random_inputs(model)
    torch.manual_seed(3)
    via_forward = model(**inputs, num_samples=6)
    torch.manual_seed(3)
    via_sample = model.sample(**inputs, num_samples=6)
    torch.testing.assert_close(via_forward, via_sample, rtol=0, atol=0)
    assert via_forward.shape == (3, 6, 24)  # (B, S, H)
    assert model.sample(**inputs).shape == (3, 4, 24)  # default: num_parallel_samples
    # the samples are draws from distribution_args' distribution, in the data's units
    args, loc, scale = model.distribution_args(**inputs)
    assert all(a.shape == (3, 24) for a in args) and loc.shape == scale.shape == (3, 1)


def test_lightning_module_uses_model_loss_and_sample(monkeypatch):
    module = InformerLightningModule(
        model_kwargs=dict(
            context_length=16, prediction_length=4, lags_seq=[1], d_model=8, n_heads=2, d_ff=8, num_parallel_samples=5
        )
    )
    inputs = random_inputs(module.model, batch_size=2)
    calls = []
    real_loss, real_sample = module.model.loss, module.model.sample
    monkeypatch.setattr(module.model, "loss", lambda **kw: calls.append("loss") or real_loss(**kw))
    monkeypatch.setattr(module.model, "sample", lambda *a, **kw: calls.append("sample") or real_sample(*a, **kw))
    batch = dict(inputs, future_target=torch.randn(2, 4), future_observed_values=torch.ones(2, 4))
    loss = module._loss(batch)
    assert calls == ["loss"] and loss.shape == ()
    assert module(**inputs).shape == (2, 5, 4)
    assert calls == ["loss", "sample"]


def test_lag_means_steps_before_the_predicted_position():
    """Lag L of the token predicting step t is y[t - L] (GluonTS's get_lags_for_frequency
    convention); lags reaching into the horizon, and lag 0 there, are unobserved zeros."""
    C, H, lags = 8, 3, [1, 3]
    model = small_model(
        context_length=C, prediction_length=H, lags_seq=lags, scaling="none", num_time_features=1, e_layers=1
    )
    inputs = random_inputs(model, batch_size=1)
    past_length = C + max(lags)
    inputs["past_target"] = 100.0 + torch.arange(past_length, dtype=torch.float32).unsqueeze(0)
    tokens, _, _ = model._tokens(**inputs)
    all_lags = [0] + lags  # columns: the value at each lag, then its observed flag
    for h in range(H):
        t = past_length + h  # the absolute position the horizon token predicts
        for column, lag in enumerate(all_lags):
            value, flag = tokens[0, C + h, column], tokens[0, C + h, len(all_lags) + column]
            if t - lag < past_length:
                assert (value.item(), flag.item()) == (100.0 + t - lag, 1.0), (h, lag)
            else:
                assert (value.item(), flag.item()) == (0.0, 0.0), (h, lag)
    # the estimator's default lags are GluonTS's, in the same convention
    estimator = InformerEstimator(freq="h", prediction_length=H)
    assert estimator.lags_seq == get_lags_for_frequency("h")
    assert estimator.create_lightning_module().model.lags_seq == [0] + sorted(get_lags_for_frequency("h"))


def test_nonnegative_pred_samples_clips_the_paths_at_zero():
    inputs = None
    paths = {}
    for clip in (False, True):
        torch.manual_seed(0)
        model = small_model(nonnegative_pred_samples=clip).eval()
        if inputs is None:
            inputs = random_inputs(model)
            inputs["past_target"] = inputs["past_target"] * 0.1  # around 0: both signs likely
        torch.manual_seed(1)
        paths[clip] = model.sample(**inputs, num_samples=50)
    assert (paths[False] < 0).any() and (paths[False] > 0).any()
    assert (paths[True] >= 0).all()
    torch.testing.assert_close(paths[True], paths[False].clamp_min(0), rtol=0, atol=0)
    # the per-call override of Lag-Llama's sample(nonnegative=...)
    torch.manual_seed(1)
    torch.testing.assert_close(model.sample(**inputs, num_samples=50, nonnegative=False), paths[False])


# --------------------------------------------------------------------------- tracing


class _DistributionArgs(torch.nn.Module):
    """distribution_args as a function of positional tensors, for torch.jit.trace."""

    def __init__(self, model: InformerModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        args, loc, scale = self.model.distribution_args(*inputs)
        return (*args, loc, scale)


@pytest.mark.parametrize("attention", ["prob", "full"])
def test_traced_model_runs_with_grad_and_matches_eager(attention):
    """torch.jit.trace outside torch.no_grad(): the ProbSparse layers (encoder and masked
    decoder self-attention) used to fail when the traced graph ran."""
    torch.manual_seed(0)
    model = small_model(attention=attention).eval()
    wrapped = _DistributionArgs(model)
    example = tuple(random_inputs(model, seed=0).values())
    assert torch.is_grad_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # check_trace would re-run and compare: ProbSparse samples its keys at random
        traced = torch.jit.trace(wrapped, example, check_trace=False)
    inputs = tuple(random_inputs(model, seed=1).values())
    torch.manual_seed(5)  # the same key samples in both runs
    out_traced = traced(*inputs)
    torch.manual_seed(5)
    out_eager = wrapped(*inputs)
    for a, b in zip(out_traced, out_eager):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert out_traced[0].requires_grad
    out_traced[0].sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
