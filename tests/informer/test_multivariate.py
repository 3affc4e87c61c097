"""The multivariate ("M") setting: ``InformerEstimator(target_dim=D)`` on GluonTS's D x T
targets — shapes through MultivariateGrouper, MultivariateEvaluator and serde, per-variable
missing values, the independent and low-rank heads, clear errors, and a joint model that
uses one variable to forecast another."""

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.dataset.multivariate_grouper import MultivariateGrouper
from gluonts.evaluation import MultivariateEvaluator, make_evaluation_predictions
from gluonts.evaluation.backtest import backtest_metrics
from gluonts.model.forecast import SampleForecast
from gluonts.model.predictor import Predictor

from informer_gluonts import InformerEstimator, InformerModel
from informer_gluonts.distributions import LowRankMultivariateNormalOutput
from lagllama_gluonts.common.validation import DataError

START = pd.Period("2021-01-01 00:00", freq="h")
TINY = dict(d_model=16, n_heads=2, d_ff=32, e_layers=2, dropout=0.0)


@pytest.fixture(autouse=True)
def quiet():
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def trainer(steps: int) -> dict:
    return {"max_steps": steps, "max_epochs": 1000, "enable_progress_bar": False, "enable_model_summary": False}


def estimator(D=3, H=6, steps=4, **overrides) -> InformerEstimator:
    kwargs = dict(
        freq="h",
        prediction_length=H,
        context_length=24,
        target_dim=D,
        lags_seq=[1, 24],
        batch_size=8,
        num_batches_per_epoch=2,
        trainer_kwargs=trainer(steps),
        **TINY,
    )
    kwargs.update(overrides)
    return InformerEstimator(**kwargs)


def multivariate(T=200, D=3, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    return np.stack([np.sin(t / (3 + d)) * (d + 1) + 10 * d + 0.1 * rng.standard_normal(T) for d in range(D)]).astype(
        np.float32
    )


def dataset(target, **fields) -> ListDataset:
    return ListDataset([{"start": START, "target": target, **fields}], freq="h", one_dim_target=False)


# --------------------------------------------------------------------------- the network


def test_model_shapes_per_variable():
    model = InformerModel(context_length=24, prediction_length=6, lags_seq=[1, 24], target_dim=3, **TINY)
    inputs = model.describe_inputs(2).zeros()
    assert inputs["past_target"].shape == (2, 48, 3) == inputs["past_observed_values"].shape
    inputs["past_target"] = torch.randn(2, 48, 3) * torch.tensor([1.0, 10.0, 100.0]) + 50
    inputs["past_observed_values"] = torch.ones(2, 48, 3)
    distr_args, loc, scale = model.distribution_args(**inputs)
    assert loc.shape == scale.shape == (2, 1, 3)
    # per-variable scaling: each variable's own spread
    assert scale[0, 0, 0] < scale[0, 0, 1] < scale[0, 0, 2]
    assert all(arg.shape == (2, 6, 3) for arg in distr_args)
    distr = model.output_distribution(**inputs)
    assert distr.batch_shape == (2, 6) and distr.event_shape == (3,)
    assert model.sample(**inputs, num_samples=5).shape == (2, 5, 6, 3)
    loss = model.loss(**inputs, future_target=torch.zeros(2, 6, 3), future_observed_values=torch.ones(2, 6, 3))
    assert loss.shape == (2,) and torch.isfinite(loss).all()


def test_loss_ignores_unobserved_values_of_one_variable():
    # full attention: ProbSparse samples keys at random on every pass
    model = InformerModel(
        context_length=24, prediction_length=6, lags_seq=[1], target_dim=2, attention="full", **TINY
    ).eval()
    inputs = model.describe_inputs(1).zeros()
    inputs["past_target"] = torch.randn(1, 25, 2)
    inputs["past_observed_values"] = torch.ones(1, 25, 2)
    observed = torch.ones(1, 6, 2)
    observed[0, :3, 1] = 0  # variable 1 missing in the first three horizon steps
    target = torch.randn(1, 6, 2)
    changed = target.clone()
    changed[0, :3, 1] = 1e3  # whatever stands there is not scored
    first = model.loss(**inputs, future_target=target, future_observed_values=observed)
    second = model.loss(**inputs, future_target=changed, future_observed_values=observed)
    torch.testing.assert_close(first, second)
    changed[0, 3, 1] = 1e3  # an observed value is
    assert model.loss(**inputs, future_target=changed, future_observed_values=observed) > first


def test_low_rank_head_is_a_correlated_normal_in_the_data_units():
    output = LowRankMultivariateNormalOutput(dim=3, rank=2)
    model = InformerModel(
        context_length=24, prediction_length=6, lags_seq=[1], target_dim=3, distr_output=output, **TINY
    )
    inputs = model.describe_inputs(4).zeros()
    inputs["past_target"] = torch.randn(4, 25, 3) * 5 + 100
    inputs["past_observed_values"] = torch.ones(4, 25, 3)
    distr = model.output_distribution(**inputs)
    assert isinstance(distr, torch.distributions.LowRankMultivariateNormal)
    assert distr.covariance_matrix.shape == (4, 6, 3, 3)
    assert (distr.mean - 100).abs().max() < 50  # shifted and scaled back to the data
    assert model.sample(**inputs, num_samples=3).shape == (4, 3, 6, 3)
    observed = torch.ones(4, 6, 3)
    observed[:, 0, 1] = 0  # a step with a missing variable is left out
    loss = model.loss(**inputs, future_target=torch.full((4, 6, 3), 100.0), future_observed_values=observed)
    assert loss.shape == (4,) and torch.isfinite(loss).all()


# --------------------------------------------------------------------------- the estimator


def test_grouped_dataset_through_predictor_evaluator_and_serde(tmp_path):
    series = ListDataset([{"start": START, "target": row} for row in multivariate(T=160)], freq="h")
    grouped = MultivariateGrouper(max_target_dim=3)(series)
    assert next(iter(grouped))["target"].shape == (3, 160)
    torch.manual_seed(0)
    predictor = estimator().train(grouped)
    forecasts, tss = make_evaluation_predictions(grouped, predictor, num_samples=20)
    forecasts, tss = list(forecasts), list(tss)
    assert isinstance(forecasts[0], SampleForecast)
    assert forecasts[0].samples.shape == (20, 6, 3)
    assert forecasts[0].start_date == START + 154
    metrics, per_variable = MultivariateEvaluator(quantiles=[0.1, 0.5, 0.9], target_agg_funcs={"sum": np.sum})(
        iter(tss), iter(forecasts), num_series=1
    )
    for name in ("MSE", "0_MSE", "2_MSE", "m_sum_MSE", "mean_wQuantileLoss"):
        assert np.isfinite(metrics[name]), name
    metrics2, _ = backtest_metrics(grouped, predictor, evaluator=MultivariateEvaluator(quantiles=[0.5]))
    assert np.isfinite(metrics2["MSE"])

    predictor.serialize(tmp_path)
    loaded = Predictor.deserialize(tmp_path)
    torch.manual_seed(1)
    a = next(iter(predictor.predict(grouped, num_samples=10))).samples
    torch.manual_seed(1)
    b = next(iter(loaded.predict(grouped, num_samples=10))).samples
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_train_from_continues_a_multivariate_predictor():
    data = dataset(multivariate())
    first = estimator(steps=2).train(data)
    second = estimator(steps=2).train_from(first, data)
    assert next(iter(second.predict(data, num_samples=4))).samples.shape == (4, 6, 3)


def test_missing_values_in_one_variable_are_masked_not_refused():
    target = multivariate()
    target[1, 50:80] = np.nan
    target[2, -10:] = np.nan
    predictor = estimator(steps=3).train(dataset(target))
    samples = next(iter(predictor.predict(dataset(target), num_samples=8))).samples
    assert samples.shape == (8, 6, 3) and np.isfinite(samples).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_low_rank_estimator_trains_and_forecasts(seed):
    # numpy too: GluonTS's instance sampler draws the training windows from numpy's global state.
    # Seed 1's windows once gave NaN gradients in float32 (the low-rank normal's capacitance
    # Cholesky) and then NaN weights; the head now computes in float64.
    torch.manual_seed(seed)
    np.random.seed(seed)
    data = dataset(multivariate())
    predictor = estimator(distr_output=LowRankMultivariateNormalOutput(dim=3), steps=4).train(data)
    samples = next(iter(predictor.predict(data, num_samples=8))).samples
    assert samples.shape == (8, 6, 3) and np.isfinite(samples).all()


@pytest.mark.parametrize(
    "target_dim, target, message",
    [
        (3, multivariate(D=2), "'target' has 2 variables, the model expects 3"),
        (3, multivariate(D=1)[0], "'target' must have shape (3, time), got shape (200,)"),
        (None, multivariate(D=3), "must have shape (time,), got shape (3, 200)"),
    ],
)
def test_wrong_target_shape_is_a_clear_error(target_dim, target, message):
    data = [{"start": START, "target": target, "item_id": "x"}]  # a plain list: no ListDataset check first
    with pytest.raises(DataError) as error:
        estimator(target_dim=target_dim).train(data)
    assert message in str(error.value)
    assert "item_id='x'" in str(error.value)


def test_wrong_shape_at_prediction_is_a_clear_error():
    predictor = estimator(steps=1).train(dataset(multivariate()))
    with pytest.raises(DataError, match="'target' has 2 variables, the model expects 3"):
        list(predictor.predict([{"start": START, "target": multivariate(D=2)}]))


def test_variable_never_observed_is_named():
    target = multivariate()
    target[2] = np.nan
    with pytest.raises(DataError, match="variable 2 of 'target' has no observed value"):
        estimator().train(dataset(target))


def test_output_and_target_dim_must_agree():
    with pytest.raises(ValueError, match="needs target_dim"):
        InformerEstimator(freq="h", prediction_length=4, distr_output=LowRankMultivariateNormalOutput(dim=3))
    with pytest.raises(ValueError, match="event shape"):
        InformerEstimator(
            freq="h", prediction_length=4, target_dim=2, distr_output=LowRankMultivariateNormalOutput(dim=3)
        )
    with pytest.raises(ValueError, match="target_dim must be a positive integer"):
        InformerEstimator(freq="h", prediction_length=4, target_dim=0)


# --------------------------------------------------------------------------- joint beats univariate


def lagged_copy(T=1200, lag=3, seed=0) -> np.ndarray:
    """Variable 0 is white noise (unpredictable from its own past), variable 1 is variable 0
    ``lag`` steps later, variable 2 a sine: variable 1's next ``lag`` values are already in
    variable 0's history."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(T + lag)
    return np.stack([noise[lag:], noise[:-lag], np.sin(np.arange(T) / 4)]).astype(np.float32)


def test_joint_model_forecasts_a_lagged_copy_the_univariate_model_cannot():
    lag, H, T = 3, 3, 1200
    z = lagged_copy(T, lag)
    common = dict(
        freq="h",
        prediction_length=H,
        context_length=12,
        lags_seq=[1, 2, 3],
        batch_size=32,
        num_batches_per_epoch=50,
        lr=3e-3,
        trainer_kwargs=trainer(80),
        **TINY,
    )
    train_end = 1000
    starts = range(train_end, T - H + 1, 7)
    truth = np.stack([z[1, s : s + H] for s in starts])

    torch.manual_seed(0)
    joint = InformerEstimator(target_dim=3, **common).train(dataset(z[:, :train_end]))
    test = ListDataset([{"start": START, "target": z[:, : s + H]} for s in starts], freq="h", one_dim_target=False)
    joint_mean = np.stack([f.mean[:, 1] for f in make_evaluation_predictions(test, joint, num_samples=50)[0]])

    torch.manual_seed(0)
    alone = InformerEstimator(**common).train(ListDataset([{"start": START, "target": z[1, :train_end]}], freq="h"))
    test1 = ListDataset([{"start": START, "target": z[1, : s + H]} for s in starts], freq="h")
    alone_mean = np.stack([f.mean for f in make_evaluation_predictions(test1, alone, num_samples=50)[0]])

    joint_mse = ((joint_mean - truth) ** 2).mean()
    alone_mse = ((alone_mean - truth) ** 2).mean()
    assert alone_mse > 0.7  # white noise: nothing to learn from its own past
    assert joint_mse < 0.3 * alone_mse, (joint_mse, alone_mse)
