"""Autoregressive sampling: kv-cache decoding equals full recomputation, for every rope."""

import pytest
import torch

from lagllama_gluonts.layers import RotaryEmbedding
from lagllama_gluonts.module import LagLlamaModel

from conftest import LAG_LLAMA_FIXTURES


def make_model(rope_scaling, max_context_length=2048, scaling="robust", time_feat=True):
    torch.manual_seed(0)
    model = LagLlamaModel(
        context_length=16,
        max_context_length=max_context_length,
        scaling=scaling,
        input_size=1,
        n_layer=2,
        n_embd_per_head=8,
        n_head=2,
        lags_seq=[0, 1, 2, 6, 23],
        rope_scaling=rope_scaling,
        time_feat=time_feat,
    )
    # larger weights than the init so that a wrong position or a stale key shows clearly
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def inputs(batch=3, past=16 + 23, horizon=7, time_feat=True):
    g = torch.Generator().manual_seed(1)
    t = torch.arange(past + horizon, dtype=torch.float32)
    target = 10 + 3 * torch.sin(t / 3)[None].repeat(batch, 1) + torch.randn(batch, past + horizon, generator=g)
    observed = torch.ones(batch, past)
    observed[0, :5] = 0  # padding
    feats = torch.randn(batch, past + horizon, 6, generator=g) if time_feat else None
    return (
        target[:, :past],
        observed,
        feats[:, :past] if time_feat else None,
        feats[:, past:] if time_feat else None,
    )


def sample(model, args, use_kv_cache, seed=123, **kw):
    torch.manual_seed(seed)
    return model.sample(*args, prediction_length=7, num_samples=5, use_kv_cache=use_kv_cache, **kw)


@pytest.mark.parametrize(
    "rope_scaling, max_context_length",
    [
        (None, 2048),
        ({"type": "linear", "factor": 2.0}, 2048),
        # dynamic NTK only acts beyond max_context_length: make the run exceed it
        ({"type": "dynamic", "factor": 2.0}, 12),
    ],
    ids=["plain", "linear", "dynamic"],
)
def test_kv_cache_equals_recomputation(rope_scaling, max_context_length):
    model = make_model(rope_scaling, max_context_length)
    args = inputs()
    cached = sample(model, args, use_kv_cache=True)
    full = sample(model, args, use_kv_cache=False)
    assert cached.shape == (3, 5, 7)
    assert torch.isfinite(cached).all()
    torch.testing.assert_close(cached, full, rtol=1e-4, atol=1e-4)
    # and the samples really depend on the seed (the comparison is not vacuous)
    other = sample(model, args, use_kv_cache=True, seed=7)
    assert (other - cached).abs().max() > 1e-2


def test_rope_variants_differ():
    pos = torch.arange(40)
    plain = RotaryEmbedding(8, max_position_embeddings=12)(pos, 40, torch.float32)
    linear = RotaryEmbedding(8, 12, scaling_type="linear", scaling_factor=2.0)(pos, 40, torch.float32)
    dynamic = RotaryEmbedding(8, 12, scaling_type="dynamic", scaling_factor=2.0)(pos, 40, torch.float32)
    short = RotaryEmbedding(8, 12, scaling_type="dynamic", scaling_factor=2.0)(pos[:12], 12, torch.float32)
    assert not torch.allclose(plain[0], linear[0])
    assert not torch.allclose(plain[0], dynamic[0])
    # linear scaling by 2 puts position 2k where plain puts k
    torch.testing.assert_close(linear[0][::2][:10], plain[0][:10])
    # dynamic equals plain while the run stays within max_position_embeddings
    torch.testing.assert_close(short[0], plain[0][:12])


def test_paths_condition_on_their_own_history():
    model = make_model(None)
    samples = sample(model, inputs(), use_kv_cache=True)
    # paths of one series diverge (not one path repeated, not independent marginals only)
    assert samples[0].std(dim=0).min() > 0
    assert not torch.allclose(samples[0, 0], samples[0, 1])


def test_reference_rescaling_mode_runs_without_cache():
    model = make_model(None)
    args = inputs()
    ref = sample(model, args, use_kv_cache=True, rescale_every_step=True)
    full = sample(model, args, use_kv_cache=False, rescale_every_step=True)
    torch.testing.assert_close(ref, full)  # the flag disables the cache
    assert torch.isfinite(ref).all()


@pytest.mark.parametrize("scaling", ["robust", "mean", "std", "none"])
def test_constant_series_gives_finite_forecasts(scaling):
    model = make_model(None, scaling=scaling)
    past = torch.full((2, 39), 5.0)
    past[1] = 0.0
    out = model.sample(
        past, torch.ones_like(past), torch.zeros(2, 39, 6), torch.zeros(2, 7, 6), prediction_length=7, num_samples=4
    )
    assert torch.isfinite(out).all()


def test_released_architecture_cache_equals_recomputation():
    from lagllama_gluonts.checkpoint import read_checkpoint

    ckpt = read_checkpoint(LAG_LLAMA_FIXTURES / "released_arch.ckpt")
    model = LagLlamaModel(**ckpt.model_kwargs)
    ckpt.load_into(model)
    model.eval()
    e = torch.load(LAG_LLAMA_FIXTURES / "released_arch.expected.pt", weights_only=True)
    args = (
        e["predict_past_target"],
        e["predict_past_observed_values"],
        e["predict_past_time_feat"],
        e["predict_future_time_feat"][:, :7],
    )
    cached = sample(model, args, use_kv_cache=True)
    full = sample(model, args, use_kv_cache=False)
    torch.testing.assert_close(cached, full, rtol=1e-4, atol=1e-3)


def test_scaling_window_scales_on_the_recent_past_and_keeps_the_cache_exact():
    model = make_model(None)
    args = inputs()
    past_target, observed = args[0], args[1]
    # a trend makes the whole window's median differ from the recent one
    past_target = past_target + torch.arange(past_target.shape[1], dtype=torch.float32)
    args = (past_target,) + args[1:]
    whole_loc, _ = model.scale(past_target, observed)
    model.scaling_window = 10
    loc, scale = model.scale(past_target, observed)
    ref_loc, ref_scale = model.scaler(past_target[:, -10:], observed[:, -10:])[1:]
    torch.testing.assert_close(loc, ref_loc)
    torch.testing.assert_close(scale, ref_scale)
    assert (loc > whole_loc + 5).all()
    cached = sample(model, args, use_kv_cache=True)
    recomputed = sample(model, args, use_kv_cache=False)
    torch.testing.assert_close(cached, recomputed, rtol=1e-4, atol=1e-4)


def test_scaling_window_must_be_positive():
    with pytest.raises(ValueError, match="scaling_window"):
        LagLlamaModel(
            context_length=4,
            max_context_length=64,
            scaling="robust",
            input_size=1,
            n_layer=1,
            n_embd_per_head=4,
            n_head=1,
            lags_seq=[0, 1],
            scaling_window=0,
        )


def test_unobserved_as_loc_makes_padding_values_irrelevant():
    model = make_model(None)
    past_target, observed, past_tf, future_tf = inputs()
    garbage = past_target.clone()
    garbage[observed == 0] = 1e4  # whatever stands in the padded positions

    def params(target):
        torch.manual_seed(0)
        return model.distribution_args(target, observed, past_tf)[0][0]

    assert not torch.allclose(params(past_target), params(garbage))  # the reference's raw padding leaks
    model.unobserved_as_loc = True
    torch.testing.assert_close(params(past_target), params(garbage))
    cached = sample(model, (garbage, observed, past_tf, future_tf), use_kv_cache=True)
    torch.testing.assert_close(cached, sample(model, (past_target, observed, past_tf, future_tf), use_kv_cache=True))
