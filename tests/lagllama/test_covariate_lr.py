"""The covariate projection's own learning rate (``covariate_lr``) and fine-tuning's report of
whether the learned covariates helped on validation (issue 24)."""

import math
import random

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset

from lagllama_gluonts import LagLlamaEstimator
from lagllama_gluonts.defaults import FINETUNE_COVARIATE_LR
from lagllama_gluonts.finetune import covariates_record, finetune


def estimator(covariates=True, **overrides):
    kwargs = dict(
        prediction_length=4,
        context_length=8,
        lags_seq=[0, 1, 23],
        n_layer=1,
        n_head=2,
        n_embd_per_head=8,
        lr=1e-5,
        num_batches_per_epoch=6,
        batch_size=4,
        num_parallel_samples=5,
        device="cpu",
        trainer_kwargs=dict(max_epochs=1, enable_progress_bar=False, enable_model_summary=False, logger=False),
        **({"num_feat_dynamic_real": 1} if covariates else {}),
    )
    return LagLlamaEstimator(**{**kwargs, **overrides})


def entries(covariates=True, length=120, n=4):
    """A target driven by a known-future covariate it cannot read from its own past."""
    rng = np.random.default_rng(0)
    data = []
    for i in range(n):
        x = rng.normal(size=length)
        entry = {"start": pd.Period("2021-01-01", freq="h"), "target": 10 + 3 * x + 0.1 * rng.normal(size=length)}
        if covariates:
            entry["feat_dynamic_real"] = x[None]
        data.append({**entry, "item_id": f"s{i}"})
    return ListDataset(data, freq="h")


def trained(est, data):
    random.seed(0)
    torch.manual_seed(0)
    np.random.seed(0)
    return est.train_model(data, cache_data=True).trained_net


def test_the_covariate_projection_gets_its_own_parameter_group():
    module = estimator(covariate_lr=1e-3).create_lightning_module()
    optimizer = module.configure_optimizers()["optimizer"]  # from scratch: with the run's cosine
    assert [group["lr"] for group in optimizer.param_groups] == [1e-5, 1e-3]
    projection = {id(p) for p in module.model.covariates.parameters()}
    assert {id(p) for p in optimizer.param_groups[1]["params"]} == projection
    assert not projection & {id(p) for p in optimizer.param_groups[0]["params"]}
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(module.model.parameters()))


def test_the_cosine_decays_each_group_from_its_own_rate():
    module = estimator(covariate_lr=1e-3).create_lightning_module()
    config = module.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    for _ in range(module.cosine_steps):
        optimizer.step()
        scheduler.step()
    for group, start in zip(optimizer.param_groups, (1e-5, 1e-3)):
        assert math.isclose(group["lr"], start / 100, rel_tol=1e-9)


def test_none_and_models_without_covariates_keep_one_group():
    assert len(estimator().create_lightning_module().configure_optimizers()["optimizer"].param_groups) == 1
    plain = estimator(covariates=False, covariate_lr=1e-3).create_lightning_module()
    assert len(plain.configure_optimizers()["optimizer"].param_groups) == 1


def test_the_projection_learns_at_its_own_rate_where_one_small_rate_barely_moves_it():
    data = entries()
    single = trained(estimator(), data).model.covariates.proj.weight.abs().mean().item()
    own = trained(estimator(covariate_lr=1e-3), data).model.covariates.proj.weight.abs().mean().item()
    assert 0 < single < 1e-4  # six AdamW steps at 1e-5, decaying
    assert own > 30 * single, (own, single)


def test_covariate_lr_none_trains_exactly_as_before():
    """Not passing it, passing None, and a rate for a model without covariates: the same numbers."""
    data = entries()
    a = trained(estimator(), data).state_dict()
    b = trained(estimator(covariate_lr=None), data).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain = entries(covariates=False)
    c = trained(estimator(covariates=False), plain).state_dict()
    d = trained(estimator(covariates=False, covariate_lr=1e-3), plain).state_dict()
    assert all(torch.equal(c[k], d[k]) for k in c)


def test_from_checkpoint_sets_the_covariate_rate_only_with_covariates():
    kwargs = dict(prediction_length=4, device="cpu")
    assert LagLlamaEstimator.from_checkpoint(None, **kwargs).covariate_lr is None
    with_covariates = LagLlamaEstimator.from_checkpoint(None, num_feat_dynamic_real=1, **kwargs)
    assert with_covariates.covariate_lr == FINETUNE_COVARIATE_LR
    assert (
        LagLlamaEstimator.from_checkpoint(None, num_feat_dynamic_real=1, covariate_lr=None, **kwargs).covariate_lr
        is None
    )


def test_bad_covariate_lr_fails_at_construction():
    with pytest.raises(ValueError, match="covariate_lr"):
        estimator(covariate_lr=-1.0)


def test_a_model_without_covariates_reports_nothing_about_them():
    est = estimator(covariates=False)
    assert covariates_record(est, est.create_lightning_module(), [], 1.0) == {}


def test_finetune_reports_whether_the_covariates_helped_on_validation():
    torch.manual_seed(0)
    result = finetune(
        entries(length=200),
        4,
        max_epochs=1,
        num_batches_per_epoch=2,
        batch_size=4,
        progress=False,
        num_parallel_samples=5,
        device="cpu",
        num_feat_dynamic_real=1,
    )
    record = result.record
    assert record["covariate_lr"] == FINETUNE_COVARIATE_LR
    assert record["val_loss_with_covariates"] == record["best_val_loss"]
    assert math.isfinite(record["val_loss_covariates_zeroed"])
    assert record["covariates_helped"] == (record["val_loss_with_covariates"] < record["val_loss_covariates_zeroed"])
    assert ("helped" in record["covariates_summary"]) and f"{record['val_loss_covariates_zeroed']:.4f}" in (
        record["covariates_summary"]
    )
    if record["kept"] == "fine-tuned":  # the learned projection is restored after the zeroed check
        assert result.module.model.covariates.proj.weight.abs().max() > 0
