"""The decoding policies (lagllama_gluonts/decoding.py): one loop, and the policies agree where
they must: the kv-cache is exact, rescaling without a scale to change is recomputation."""

import pytest
import torch

from lagllama_gluonts.decoding import (
    CACHED,
    RECOMPUTED,
    RESCALED,
    SINGLE_PASS,
    DecodingInputs,
    DecodingPolicy,
    decode,
)
from lagllama_gluonts.module import LagLlamaModel

TOL = dict(rtol=1e-5, atol=1e-5)
COVARIATES = dict(
    num_feat_dynamic_real=2,
    num_past_feat_dynamic_real=1,
    num_feat_static_real=1,
    num_feat_static_cat=1,
    cardinality=[3],
)


def make_model(scaling="robust", covariates=True):
    torch.manual_seed(0)
    model = LagLlamaModel(
        context_length=12,
        max_context_length=2048,
        scaling=scaling,
        input_size=1,
        n_layer=2,
        n_embd_per_head=8,
        n_head=2,
        lags_seq=[0, 1, 2, 6, 11],
        **(COVARIATES if covariates else {}),
    )
    with torch.no_grad():  # larger weights than the init, so that a wrong token shows clearly
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def inputs(batch=3, past=23, horizon=6, covariates=True):
    g = torch.Generator().manual_seed(1)
    target = 10 + torch.randn(batch, past, generator=g).cumsum(1)
    observed = torch.ones(batch, past)
    observed[0, :4] = 0
    tf = torch.randn(batch, past + horizon, 6, generator=g)
    args = (target, observed, tf[:, :past], tf[:, past:])
    extra = {}
    if covariates:
        extra = dict(
            feat_dynamic_real=torch.randn(batch, past + horizon, 2, generator=g) * 5 + 20,
            past_feat_dynamic_real=torch.randn(batch, past, 1, generator=g),
            feat_static_real=torch.randn(batch, 1, generator=g),
            feat_static_cat=torch.randint(0, 3, (batch, 1), generator=g),
        )
    return args, extra


def sample(model, policy, seed=5, covariates=True):
    args, extra = inputs(covariates=covariates)
    flags = dict(
        use_kv_cache=policy.kv_cache, rescale_every_step=policy.rescale_every_step, single_pass=policy.single_pass
    )
    torch.manual_seed(seed)
    return model.sample(*args, prediction_length=6, num_samples=4, **flags, **extra)


def test_the_flags_name_the_policies():
    assert DecodingPolicy.from_options() == CACHED
    assert DecodingPolicy.from_options(use_kv_cache=False) == RECOMPUTED
    # rescaling changes every earlier token: it never uses the cache, whatever use_kv_cache says
    assert DecodingPolicy.from_options(use_kv_cache=True, rescale_every_step=True) == RESCALED
    assert DecodingPolicy.from_options(single_pass=True) == SINGLE_PASS
    with pytest.raises(ValueError, match="choose one"):
        DecodingPolicy.from_options(single_pass=True, rescale_every_step=True)
    with pytest.raises(ValueError, match="kv-cache"):
        DecodingPolicy(kv_cache=True, rescale_every_step=True)


def test_cached_equals_recomputed_with_covariates():
    model = make_model()
    cached = sample(model, CACHED)
    assert cached.shape == (3, 4, 6) and torch.isfinite(cached).all()
    torch.testing.assert_close(cached, sample(model, RECOMPUTED), **TOL)
    # not vacuous: another seed gives other paths
    assert (sample(model, CACHED, seed=6) - cached).abs().max() > 1e-2


def test_single_pass_is_the_same_with_and_without_the_cache():
    model = make_model()
    cached = sample(model, SINGLE_PASS)
    torch.testing.assert_close(cached, sample(model, DecodingPolicy(kv_cache=False, single_pass=True)), **TOL)
    # its paths are the draws around one mean path: they differ from the coherent paths
    assert (cached - sample(model, CACHED)).abs().max() > 1e-2


def test_rescaling_is_recomputation_when_the_scale_cannot_change():
    # without a scaler loc and scale are 0 and 1 at every step: rescaling changes nothing
    model = make_model(scaling="none", covariates=False)
    torch.testing.assert_close(
        sample(model, RESCALED, covariates=False), sample(model, RECOMPUTED, covariates=False), **TOL
    )
    # with one, the reference's rescaling is another decoding
    model = make_model(scaling="robust", covariates=False)
    rescaled = sample(model, RESCALED, covariates=False)
    assert (rescaled - sample(model, RECOMPUTED, covariates=False)).abs().max() > 1e-3


def test_decode_takes_its_inputs_as_one_object():
    model = make_model(covariates=False)
    (past_target, observed, past_tf, future_tf), _ = inputs(covariates=False)
    loc, scale = model.scale(past_target, observed)
    run = DecodingInputs(
        past_target=past_target,
        past_observed_values=observed,
        loc=loc,
        scale=scale,
        past_time_feat=past_tf[:, model.max_lag :],
        future_time_feat=future_tf,
        covariate_features=None,
        horizon=6,
        samples=4,
        nonnegative=True,
    )
    torch.manual_seed(5)
    with torch.inference_mode():
        paths = decode(model, run, CACHED)
    assert paths.shape == (3 * 4, 6) and (paths >= 0).all()
    torch.manual_seed(5)
    expected = model.sample(
        past_target, observed, past_tf, future_tf, prediction_length=6, num_samples=4, nonnegative=True
    )
    assert torch.equal(paths.reshape(3, 4, 6), expected)
