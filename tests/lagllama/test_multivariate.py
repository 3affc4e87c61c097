"""Multivariate data (targets D x T): channel-independent forecasts with the univariate model,
samples (num_samples, prediction_length, D) that MultivariateEvaluator scores."""

import numpy as np
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import MultivariateEvaluator, make_evaluation_predictions

from lagllama_gluonts import DataError, LagLlamaEstimator
from lagllama_gluonts.lightning_module import fold_channels

QUIET = dict(enable_progress_bar=False, enable_model_summary=False)


def multivariate(n=2, D=3, length=240, covariates=False):
    t = np.arange(length)
    entries = []
    for i in range(n):
        entry = {"start": "2021-01-01", "target": np.stack([10 * (d + 1) + np.sin(t / (3 + d + i)) for d in range(D)])}
        if covariates:
            entry["feat_dynamic_real"] = np.sin(t / 5)[None]
        entries.append(entry)
    return ListDataset(entries, freq="h", one_dim_target=False)


def test_zero_shot_multivariate_forecasts_have_a_variable_axis_and_are_scored():
    estimator = LagLlamaEstimator.from_checkpoint(None, prediction_length=6, num_parallel_samples=20, target_dim=3)
    predictor = estimator.create_predictor(estimator.create_transformation(), estimator.create_lightning_module())
    forecasts, series = make_evaluation_predictions(multivariate(), predictor, num_samples=20)
    forecasts, series = list(forecasts), list(series)
    assert len(forecasts) == 2 and forecasts[0].samples.shape == (20, 6, 3)
    # each variable at its own level: channel-independent scaling
    medians = np.median(forecasts[0].samples, axis=0).mean(axis=0)
    np.testing.assert_allclose(medians, [10, 20, 30], rtol=0.1)
    metrics, _ = MultivariateEvaluator(quantiles=[0.1, 0.5, 0.9])(series, forecasts)
    assert np.isfinite(metrics["mean_wQuantileLoss"]) and metrics["mean_wQuantileLoss"] < 0.1


def test_a_multivariate_batch_is_its_univariate_channels():
    estimator = LagLlamaEstimator.from_checkpoint(None, prediction_length=4)
    module = estimator.create_lightning_module()
    g = torch.Generator().manual_seed(0)
    P = module.model.past_length
    batch = {
        "past_target": 5 + torch.randn(2, P, 3, generator=g),
        "past_observed_values": torch.ones(2, P, 3),
        "future_target": 5 + torch.randn(2, 4, 3, generator=g),
        "future_observed_values": torch.ones(2, 4, 3),
        "past_time_feat": torch.randn(2, P, 6, generator=g),
        "future_time_feat": torch.randn(2, 4, 6, generator=g),
    }
    with torch.no_grad():
        folded, _ = module.loss_per_position(batch)
        for b in range(2):
            for d in range(3):
                one = {
                    k: (v[b : b + 1, :, d] if v.dim() == 3 and "time_feat" not in k else v[b : b + 1])
                    for k, v in batch.items()
                }
                alone, _ = module.loss_per_position(one)
                torch.testing.assert_close(folded[b * 3 + d], alone[0])
    assert fold_channels(batch)["past_time_feat"].shape == (6, P, 6)


def test_multivariate_training_with_covariates_runs_and_the_shape_is_checked():
    estimator = LagLlamaEstimator.from_inputs(
        multivariate(covariates=True),
        prediction_length=4,
        freq="h",
        context_length=16,
        n_layer=1,
        n_head=2,
        n_embd_per_head=8,
        batch_size=4,
        num_batches_per_epoch=2,
        num_parallel_samples=5,
        trainer_kwargs=dict(max_epochs=1, **QUIET),
    )
    assert estimator.target_dim == 3 and estimator.num_feat_dynamic_real == 1
    train = multivariate(covariates=True)
    predictor = estimator.train(train)
    test = ListDataset(
        [{**e, "feat_dynamic_real": np.sin(np.arange(244) / 5)[None]} for e in train], freq="h", one_dim_target=False
    )
    forecast = next(iter(predictor.predict(test)))
    assert forecast.samples.shape == (5, 4, 3)
    with pytest.raises(DataError, match="'target' has 2 variables, the model expects 3"):
        list(
            predictor.predict(
                ListDataset(
                    [{"start": "2021-01-01", "target": np.ones((2, 100)), "feat_dynamic_real": np.ones((1, 104))}],
                    freq="h",
                    one_dim_target=False,
                )
            )
        )
