"""Equivalence to the official Lag-Llama code on its own checkpoints (../shared/fixtures)."""

import numpy as np
import pytest
import torch
from gluonts.dataset.common import ListDataset

from lagllama_gluonts import LagLlamaEstimator
from lagllama_gluonts.checkpoint import read_checkpoint
from lagllama_gluonts.module import LagLlamaModel

from conftest import LAG_LLAMA_FIXTURES

TOL = 1e-5
NAMES = ["small", "released_arch"]


@pytest.fixture(scope="module", params=NAMES)
def case(request):
    name = request.param
    ckpt_path = LAG_LLAMA_FIXTURES / f"{name}.ckpt"
    expected = torch.load(LAG_LLAMA_FIXTURES / f"{name}.expected.pt", weights_only=True)
    ckpt = read_checkpoint(ckpt_path)
    model = LagLlamaModel(**ckpt.model_kwargs)
    ckpt.load_into(model)
    model.eval()
    return name, ckpt_path, expected, model


def max_err(a, b) -> float:
    return float((torch.as_tensor(a) - torch.as_tensor(b)).abs().max())


def test_released_layout_loads_with_weights_only(monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    ckpt = read_checkpoint(LAG_LLAMA_FIXTURES / "released_arch.ckpt")
    assert calls == [True]
    kwargs = ckpt.model_kwargs
    assert (kwargs["n_layer"], kwargs["n_head"], kwargs["n_embd_per_head"]) == (8, 9, 16)
    assert len(kwargs["lags_seq"]) == 84 and max(kwargs["lags_seq"]) == 1092
    model = LagLlamaModel(**kwargs)
    assert sum(p.numel() for p in model.parameters()) == 2_449_299
    assert set(model.state_dict()) == set(ckpt.state_dict)


def test_transformation_reproduces_reference_inputs(case):
    name, ckpt_path, expected, _ = case
    entries = [{"start": e["start"], "target": e["target"].numpy()} for e in expected["input_entries"]]
    dataset = ListDataset(entries, freq=expected["input_entries"][0]["freq"])
    estimator = LagLlamaEstimator.from_checkpoint(ckpt_path, prediction_length=24)
    module = estimator.create_lightning_module()
    chain = estimator.create_transformation() + estimator._create_instance_splitter(module, "test")
    instances = list(chain.apply(dataset, is_train=False))
    assert len(instances) == 3
    for field in ["past_target", "past_observed_values", "past_time_feat", "future_time_feat"]:
        ours = np.stack([inst[field] for inst in instances])
        ref = expected[f"predict_{field}"].numpy()
        assert ours.shape == ref.shape, field
        assert np.abs(ours - ref).max() <= TOL, field
    # the NaNs of series 0 (1400..1409 of 1500) are unobserved in the window
    assert expected["predict_past_observed_values"][0].sum() < 1124


def test_prediction_params_match(case):
    _, _, e, model = case
    with torch.no_grad():
        params, loc, scale = model.distribution_args(
            e["predict_past_target"],
            e["predict_past_observed_values"],
            e["predict_past_time_feat"],
            e["predict_future_time_feat"],
        )
    assert len(params) == 3 and params[0].shape == (3, 32)
    for ours, ref in zip(params, e["predict_params"]):
        assert max_err(ours, ref) <= TOL
    assert max_err(loc, e["predict_loc"]) <= TOL
    assert max_err(scale, e["predict_scale"]) <= TOL


def test_training_batch_matches(case):
    _, _, e, model = case
    with torch.no_grad():
        params, loc, scale = model.distribution_args(
            e["train_past_target"],
            e["train_past_observed_values"],
            e["train_past_time_feat"],
            e["train_future_time_feat"],
            e["train_future_target"],
        )
        distr = model.distr_output.distribution(params, loc, scale)
        target = torch.cat((e["train_past_target"][:, -31:], e["train_future_target"]), dim=1)
        nll = -distr.log_prob(target)
    assert params[0].shape == (16, 55)
    for ours, ref in zip(params, e["train_params"]):
        assert max_err(ours, ref) <= TOL
    assert max_err(loc, e["train_loc"]) <= TOL
    assert max_err(scale, e["train_scale"]) <= TOL
    assert max_err(nll, e["train_nll"]) <= TOL


def test_model_loss_is_the_reference_nll_at_every_position(case):
    _, _, e, model = case
    with torch.no_grad():
        nll, observed = model.nll_per_position(
            e["train_past_target"],
            e["train_past_observed_values"],
            e["train_past_time_feat"],
            e["train_future_time_feat"],
            e["train_future_target"],
            e["train_future_observed_values"],
        )
    assert nll.shape == observed.shape == (16, 55)
    assert max_err(nll, e["train_nll"]) <= TOL
    expected_observed = torch.cat((e["train_past_observed_values"][:, -31:], e["train_future_observed_values"]), 1)
    assert torch.equal(observed, expected_observed)


def test_lightning_loss_uses_reference_positions(case):
    name, ckpt_path, e, _ = case
    module = LagLlamaEstimator.from_checkpoint(ckpt_path, prediction_length=24).create_lightning_module()
    batch = {k[len("train_") :]: v for k, v in e.items() if k.startswith("train_") and torch.is_tensor(v)}
    with torch.no_grad():
        nll, observed = module.loss_per_position(batch)
    assert nll.shape == observed.shape == (16, 55)
    assert max_err(nll, e["train_nll"]) <= TOL
