"""The pretrained covariate pathway (lagllama_gluonts/covariate_regression.py): its features, its
invariants in the model, and pretraining it (pretrain --covariate-slots --pathway-only)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

import lagllama_gluonts.pretrain as pretrain_module
from lagllama_gluonts.checkpoint import read_checkpoint
from lagllama_gluonts.checkpoint_covariates import checked_covariates, pathway_zero_shot, zero_shot_in_context
from lagllama_gluonts.common.covariate_effect import PATHWAY_ZEROED
from lagllama_gluonts.covariate_regression import FIT_WINDOW, NUM_FEATURES, regression_features
from lagllama_gluonts.estimator import LagLlamaEstimator
from lagllama_gluonts.module import LagLlamaModel
from lagllama_gluonts.pretrain import PretrainConfig, pretrain
from lagllama_gluonts.pretrain_covariates import with_covariate_slots
from lagllama_gluonts.synthetic_drivers import driven_series

from .test_pretrain import TINY
from conftest import CORPUS
from conftest import LAGLLAMA_FAST_OPTIONS as FAST

P, H = 300, 24


def planted(seed=0, coefficient=2.0, noise=0.3, K=2):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, P + H, K, generator=g)
    y = coefficient * x[..., 0] + noise * torch.randn(1, P + H, generator=g)
    return x, y


def test_recovers_a_planted_linear_effect_over_the_horizon():
    x, y = planted()
    first = P - 64
    features = regression_features(y[:, :P], torch.ones(1, P), x, first, 64 + H - 1)
    assert features.shape == (1, 64 + H - 1, NUM_FEATURES)
    ahead = features[0, -(H - 1) :, 0]  # the horizon's steps P + 1 .. P + H - 1
    fit = x[0, P - FIT_WINDOW : P, 0]
    truth = 2.0 * (x[0, P + 1 : P + H, 0] - fit.mean()) / fit.std(unbiased=False) * fit.std(unbiased=False)
    assert (ahead - truth).abs().mean() < 0.1  # noise 0.3 on a signal of spread 2
    assert features[0, 0, 2] > 0.9  # the leave-one-out R^2


@pytest.mark.parametrize("covariates", ["zeros", "constant"])
def test_no_varying_covariates_give_exactly_zero_features(covariates):
    _, y = planted()
    x = torch.zeros(1, P + H, 3) if covariates == "zeros" else torch.full((1, P + H, 2), 7.0)
    features = regression_features(y[:, :P], torch.ones(1, P), x, P - 64, 64 + H - 1)
    assert torch.equal(features, torch.zeros_like(features))


def test_a_covariate_of_pure_noise_is_not_trusted():
    g = torch.Generator().manual_seed(1)
    y, x = torch.randn(1, P + H, generator=g), torch.randn(1, P + H, 1, generator=g)
    features = regression_features(y[:, :P], torch.ones(1, P), x, P - 64, 64)
    assert features[0, 0, 2] < 0.02


def test_a_context_token_never_reads_a_fit_of_its_own_value():
    x, y = planted()
    first, t = P - 64, P - 10  # token t - first - 1 predicts step t, inside the fit rows
    before = regression_features(y[:, :P], torch.ones(1, P), x, first, 63)
    y2 = y.clone()
    y2[0, t] += 50.0
    after = regression_features(y2[:, :P], torch.ones(1, P), x, first, 63)
    token = t - first - 1
    assert after[0, token, 0] == pytest.approx(before[0, token, 0].item(), abs=1e-5)
    assert after[0, token + 1, 1] == after[0, token, 0]  # the same step, read as the current one
    assert not torch.allclose(after[0, :, 0], before[0, :, 0], atol=1e-3)  # the other rows' fits did move


def test_unobserved_rows_stay_out_of_the_fit():
    x, y = planted()
    observed = torch.ones(1, P)
    observed[0, P - 100 : P - 50] = 0
    y2 = y.clone()
    y2[0, P - 100 : P - 50] = 1e6  # what padding or a gap holds
    a = regression_features(y[:, :P], observed, x, P - 64, 64 + H - 1)
    b = regression_features(y2[:, :P], observed, x, P - 64, 64 + H - 1)
    assert torch.allclose(a[0, -H:], b[0, -H:], atol=1e-6)


def small_model(pathway=True, known=0):
    torch.manual_seed(0)
    return LagLlamaModel(
        context_length=16,
        max_context_length=64,
        scaling="robust",
        input_size=1,
        n_layer=1,
        n_embd_per_head=8,
        n_head=2,
        lags_seq=[0, 1, 30],  # a past of 46 steps: enough rows to fit
        time_feat=False,
        prediction_length=4,
        num_feat_dynamic_real=known,
        covariate_regression=pathway,
    ).eval()


def inputs(known=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    Pm = 16 + 30
    x = torch.randn(2, Pm + 4, known, generator=g)
    target = 5 + x[..., 0] + 0.1 * torch.randn(2, Pm + 4, generator=g)
    return dict(past_target=target[:, :Pm], past_observed_values=torch.ones(2, Pm), feat_dynamic_real=x)


def test_zero_initialised_pathway_changes_nothing_and_trained_one_only_with_covariates():
    base, model = small_model(pathway=False, known=2), small_model(pathway=True, known=2)
    model.load_state_dict(base.state_dict(), strict=False)
    batch = inputs()

    def args(m, b):
        return m.distribution_args(
            b["past_target"], b["past_observed_values"], feat_dynamic_real=b["feat_dynamic_real"]
        )[0]

    for a, b in zip(args(base, batch), args(model, batch)):
        assert torch.equal(a, b)
    torch.nn.init.normal_(model.covariate_regression.out.weight)  # as if pretrained
    changed = args(model, batch)
    assert not torch.allclose(changed[1], args(base, batch)[1])
    torch.nn.init.zeros_(model.covariate_regression.out.weight)  # the location term alone moves loc only
    torch.nn.init.normal_(model.covariate_regression.shift.weight)
    moved, plain_args = args(model, batch), args(base, batch)
    assert torch.equal(moved[0], plain_args[0]) and torch.equal(moved[2], plain_args[2])  # df, scale
    assert not torch.allclose(moved[1], plain_args[1])
    torch.nn.init.normal_(model.covariate_regression.out.weight)
    # without known covariates (or with all-zero ones) the trained pathway adds exactly nothing
    zero = dict(batch, feat_dynamic_real=torch.zeros_like(batch["feat_dynamic_real"]))
    no_known = small_model(pathway=True, known=0)
    no_known.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("covariates.")})
    plain = small_model(pathway=False, known=0)
    plain.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith("covariates.")})
    expected = args(base, zero)
    for a, b in zip(args(model, zero), expected):
        assert torch.equal(a, b)
    got = no_known.distribution_args(batch["past_target"], batch["past_observed_values"])[0]
    for a, b in zip(got, plain.distribution_args(batch["past_target"], batch["past_observed_values"])[0]):
        assert torch.equal(a, b)


def test_cached_and_recomputed_decoding_agree_with_the_pathway():
    model = small_model(pathway=True, known=2)
    torch.nn.init.normal_(model.covariate_regression.out.weight, std=0.1)
    torch.nn.init.normal_(model.covariate_regression.shift.weight, std=0.1)
    batch = inputs()
    samples = []
    for cache in (True, False):
        torch.manual_seed(3)
        samples.append(model.sample(**batch, num_samples=5, use_kv_cache=cache))
    assert torch.allclose(samples[0], samples[1], atol=1e-5)
    # the location term is in every sampled step: the same seed without it samples other paths
    torch.nn.init.zeros_(model.covariate_regression.shift.weight)
    torch.manual_seed(3)
    assert not torch.allclose(model.sample(**batch, num_samples=5), samples[0])


def test_driven_series_are_deterministic_and_padded_to_the_slots():
    base = {"start": pd.Period("2020-01-01", freq="h"), "target": np.linspace(1, 2, 500), "item_id": "b"}
    a, b = driven_series([base], 40, seed=3, slots=3), driven_series([base], 40, seed=3, slots=3)
    assert all(np.array_equal(x["target"], y["target"]) for x, y in zip(a, b))
    for entry in a:
        assert entry["feat_dynamic_real"].shape == (3, len(entry["target"]))
        assert np.isfinite(entry["target"]).all()
    effects = [np.std(e["target"] - np.linspace(1, 2, 500)) for e in a]
    assert min(effects) < 1e-6 < max(effects)  # some series with noise drivers only, most driven
    with pytest.raises(ValueError, match="no base series"):
        driven_series([{**base, "target": np.ones(10)}], 1)


def test_covariate_slots_pad_and_cut():
    entries = [{"target": np.ones(5)}, {"target": np.ones(4), "feat_dynamic_real": np.ones((1, 6))}]
    out = with_covariate_slots(entries, 2)
    assert out[0]["feat_dynamic_real"].shape == (2, 5) and not out[0]["feat_dynamic_real"].any()
    assert out[1]["feat_dynamic_real"].shape == (2, 4) and out[1]["feat_dynamic_real"][0].all()


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    out = tmp_path_factory.mktemp("parent") / "p.ckpt"
    pretrain(PretrainConfig(out=out, max_steps=2, **TINY))
    return out


def test_pathway_only_pretraining_trains_the_pathway_alone(parent, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain_module, "DRIVER_BASES", ("corpus", "kernel_synth"))
    out = tmp_path / "pathway.ckpt"
    cfg = dict(TINY, weights={"drivers": 1.0}, lr=1e-2)
    pretrain(PretrainConfig(out=out, max_steps=4, covariate_slots=3, pathway_only=True, init_from=parent, **cfg))
    before, after = read_checkpoint(parent), read_checkpoint(out)
    assert after.model_kwargs["covariate_regression"] is True and after.covariates == {}
    assert not any(k.startswith("covariates.") for k in after.state_dict)  # the slot-wide encoder left out
    for name, value in before.state_dict.items():
        assert torch.equal(value, after.state_dict[name]), name  # frozen
    assert after.state_dict["covariate_regression.out.weight"].abs().sum() > 0
    assert after.training["parameters"] == sum(v.numel() for v in after.state_dict.values())
    # the checkpoint takes any number of known covariates, and none
    for known in (0, 1, 4):
        estimator = LagLlamaEstimator.from_checkpoint(out, prediction_length=4, num_feat_dynamic_real=known)
        module = estimator.create_lightning_module()
        assert module.model.covariate_regression is not None
    with pytest.raises(ValueError, match="--pathway-only"):
        PretrainConfig(out=out, covariate_slots=3, pathway_only=True, **cfg).check()
    with pytest.raises(ValueError, match="drivers"):
        PretrainConfig(out=out, **cfg).check()


def test_the_commands_route_known_covariates_to_the_pathway(parent, tmp_path, monkeypatch):
    plain = read_checkpoint(parent)
    with_pathway = read_checkpoint(parent)
    with_pathway.model_kwargs["covariate_regression"] = True
    assert pathway_zero_shot(with_pathway, ["temp"], []) and not pathway_zero_shot(plain, ["temp"], [])
    assert not zero_shot_in_context(with_pathway, ["temp"], [], trains=False)
    assert zero_shot_in_context(with_pathway, ["temp"], ["load"], trains=False)  # past-only: in context
    assert zero_shot_in_context(plain, ["temp"], [], trains=False)
    assert checked_covariates(with_pathway, ["a", "b"], [], trains=False)["num_feat_dynamic_real"] == 2
    assert checked_covariates(plain, ["a", "b"], [], trains=False) == {}


@pytest.fixture(scope="module")
def pathway_ckpt(tmp_path_factory):
    """The bundled checkpoint with a pathway of small random weights (as if pretrained)."""
    from lagllama_gluonts.checkpoint import Checkpoint

    base = read_checkpoint(None)
    g = torch.Generator().manual_seed(0)
    width = base.state_dict["transformer.wte.weight"].shape[0]
    pathway = {
        "covariate_regression.hidden.weight": torch.randn(64, NUM_FEATURES, generator=g),
        "covariate_regression.out.weight": 0.05 * torch.randn(width, 64, generator=g),
    }
    path = tmp_path_factory.mktemp("pathway") / "pathway.ckpt"
    kwargs = dict(base.model_kwargs, covariate_regression=True)
    torch.save(Checkpoint(path, kwargs, {**base.state_dict, **pathway}).to_dict(), path)
    return path


def test_a_pathway_checkpoint_takes_known_covariates_zero_shot_on_the_command_line(pathway_ckpt, tmp_path, capsys):
    from lagllama_gluonts.cli import main

    frame = pd.read_csv(CORPUS / "price_ercot_dam.csv").iloc[-400:].reset_index(drop=True)
    frame.loc[len(frame) - 12 :, "y"] = np.nan
    csv = tmp_path / "ercot.csv"
    frame.to_csv(csv, index=False)
    argv = ["zero-shot", "--csv", csv, "--target", "y", "--known-covariates", "temp_celsius_houston"]
    argv += ["--checkpoint", pathway_ckpt, "--prediction-length", 12, "--out", tmp_path / "o", "--quiet", *FAST]
    assert main([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    assert "in-context regression" not in out  # the pathway, not the wrapper
    effect = json.loads((tmp_path / "o" / "covariate_effect.json").read_text())
    assert effect["mean_relative_change"] > 0  # against the pathway zeroed, on the same draws
    assert effect["without_covariates"] == PATHWAY_ZEROED


def test_fine_tuning_zeroes_the_pathway_with_the_projection(pathway_ckpt):
    from lagllama_gluonts.finetune import zeroed_covariates

    estimator = LagLlamaEstimator.from_checkpoint(pathway_ckpt, prediction_length=12, num_feat_dynamic_real=1)
    module = estimator.create_lightning_module()
    zeroed = zeroed_covariates(estimator, module)
    assert not zeroed.model.covariate_regression.out.weight.any()
    assert not zeroed.model.covariate_regression.shift.weight.any()
    assert module.model.covariate_regression.out.weight.any()  # the original keeps its pathway
