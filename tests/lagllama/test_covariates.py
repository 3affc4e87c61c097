"""Covariates in GluonTS's fields: identity at init, they are learnt, the horizon is respected,
exact kv-cache decoding, checkpoints record them, bad covariate data is named."""

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import Evaluator, make_evaluation_predictions

from lagllama_gluonts import CheckpointError, DataError, LagLlamaEstimator, load_predictor, save_checkpoint
from lagllama_gluonts.checkpoint import read_checkpoint
from lagllama_gluonts.module import LagLlamaModel

from conftest import LAG_LLAMA_FIXTURES

TOL = 1e-5
COVARIATES = dict(
    num_feat_dynamic_real=2,
    num_past_feat_dynamic_real=1,
    num_feat_static_real=1,
    num_feat_static_cat=1,
    cardinality=[3],
)


def covariate_inputs(batch, past, horizon, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        feat_dynamic_real=torch.randn(batch, past + horizon, 2, generator=g) * 5 + 20,
        past_feat_dynamic_real=torch.randn(batch, past, 1, generator=g),
        feat_static_real=torch.randn(batch, 1, generator=g),
        feat_static_cat=torch.randint(0, 3, (batch, 1), generator=g),
    )


@pytest.mark.parametrize("name", ["small", "released_arch"])
def test_covariate_support_at_init_reproduces_the_reference_fixtures(name):
    expected = torch.load(LAG_LLAMA_FIXTURES / f"{name}.expected.pt", weights_only=True)
    ckpt = read_checkpoint(LAG_LLAMA_FIXTURES / f"{name}.ckpt")
    model = LagLlamaModel(**ckpt.model_kwargs, **COVARIATES)
    ckpt.load_into(model)  # the checkpoint has no covariate weights: they keep their (zero) start
    model.eval()
    e = expected
    with torch.no_grad():
        P = e["predict_past_target"].shape[1]
        params, loc, scale = model.distribution_args(
            e["predict_past_target"],
            e["predict_past_observed_values"],
            e["predict_past_time_feat"],
            e["predict_future_time_feat"],
            **covariate_inputs(3, P, 24),
        )
        for ours, ref in zip(params, e["predict_params"]):
            assert float((ours - ref).abs().max()) <= TOL
        B, Pt = e["train_past_target"].shape
        nll, _ = model.nll_per_position(
            e["train_past_target"],
            e["train_past_observed_values"],
            e["train_past_time_feat"],
            e["train_future_time_feat"],
            e["train_future_target"],
            e["train_future_observed_values"],
            **covariate_inputs(B, Pt, e["train_future_target"].shape[1]),
        )
    assert float((nll - e["train_nll"]).abs().max()) <= TOL


def smooth_entries(n=2, length=300, horizon=6, with_covariates=True):
    t = np.arange(length + horizon)
    rng = np.random.default_rng(0)
    entries = []
    for i in range(n):
        entry = {
            "start": "2021-01-01",
            "target": (10 + np.sin(t / 6) + 0.1 * rng.normal(size=t.size))[:length],
            "item_id": f"s{i}",
            "feat_dynamic_real": rng.normal(size=(1, length + horizon)),
        }
        if not with_covariates:
            del entry["feat_dynamic_real"]
        entries.append(entry)
    return entries


def test_a_checkpoint_without_covariate_weights_forecasts_as_without_until_trained(base_checkpoint):
    entries = smooth_entries()
    plain = load_predictor(base_checkpoint, prediction_length=6, num_parallel_samples=10)
    covariate = load_predictor(base_checkpoint, prediction_length=6, num_parallel_samples=10, num_feat_dynamic_real=1)
    assert covariate.prediction_net.model.covariates is not None
    torch.manual_seed(3)
    a = np.stack([f.samples for f in plain.predict(ListDataset(smooth_entries(with_covariates=False), freq="h"))])
    torch.manual_seed(3)
    b = np.stack([f.samples for f in covariate.predict(ListDataset(entries, freq="h"))])
    np.testing.assert_array_equal(a, b)


def test_the_bundled_checkpoint_forecasts_as_its_network_alone_without_covariates_or_with_zeros(base_checkpoint):
    """Its pretrained pathway adds exactly nothing without covariates, or with covariates that do not vary."""
    plain = load_predictor(base_checkpoint, prediction_length=6, num_parallel_samples=10)
    bundled = load_predictor(None, prediction_length=6, num_parallel_samples=10)
    zeros = load_predictor(None, prediction_length=6, num_parallel_samples=10, num_feat_dynamic_real=1)
    assert bundled.prediction_net.model.covariate_regression is not None
    samples = []
    for predictor, entries in (
        (plain, smooth_entries(with_covariates=False)),
        (bundled, smooth_entries(with_covariates=False)),
        (zeros, [{**e, "feat_dynamic_real": np.zeros_like(e["feat_dynamic_real"])} for e in smooth_entries()]),
    ):
        torch.manual_seed(3)
        samples.append(np.stack([f.samples for f in predictor.predict(ListDataset(entries, freq="h"))]))
    np.testing.assert_array_equal(samples[0], samples[1])
    np.testing.assert_array_equal(samples[0], samples[2])


# -- a covariate the target's history cannot predict --------------------------------------------


H = 8


def driven_series(seed, n=6, length=400):
    rng = np.random.default_rng(seed)
    series = []
    for _ in range(n):
        x = rng.normal(size=length)  # white noise: nothing of it is in the target's past
        y = 10 + np.sin(np.arange(length) * 2 * np.pi / 24) + 3 * x + 0.1 * rng.normal(size=length)
        series.append((y, x))
    return series


def as_dataset(series, mode, cut=0):
    rng = np.random.default_rng(5)
    entries = []
    for y, x in series:
        entry = {"start": "2021-01-01", "target": y[: len(y) - cut]}
        if mode == "with":
            entry["feat_dynamic_real"] = x[None]
        elif mode == "shuffled":  # the same values in another order: no information about y
            entry["feat_dynamic_real"] = rng.permutation(x)[None]
        entries.append(entry)
    return ListDataset(entries, freq="h")


def crps_of(mode) -> float:
    torch.manual_seed(0)
    estimator = LagLlamaEstimator(
        prediction_length=H,
        context_length=32,
        freq="h",
        lags_seq=[0, 1, 2, 3, 4, 5, 6, 23],
        n_layer=1,
        n_head=2,
        n_embd_per_head=8,
        lr=1e-2,
        batch_size=32,
        num_batches_per_epoch=15,
        num_parallel_samples=50,
        trainer_kwargs=dict(max_epochs=3, enable_progress_bar=False, enable_model_summary=False),
        num_feat_dynamic_real=0 if mode == "without" else 1,
    )
    predictor = estimator.train(as_dataset(driven_series(0), mode, cut=H))
    torch.manual_seed(0)
    forecasts, series = make_evaluation_predictions(as_dataset(driven_series(1), mode), predictor)
    metrics, _ = Evaluator(quantiles=[0.1, 0.5, 0.9])(series, forecasts)
    return metrics["mean_wQuantileLoss"]


def test_a_known_future_covariate_is_learnt_and_a_shuffled_one_does_not_help():
    without, with_it, shuffled = crps_of("without"), crps_of("with"), crps_of("shuffled")
    print(f"CRPS without {without:.4f}, with {with_it:.4f}, shuffled {shuffled:.4f}")
    assert with_it < 0.5 * without  # measured: 0.03 vs 0.13
    assert shuffled > 0.8 * without  # an uninformative covariate buys nothing


# -- the horizon: past-only covariates stop at the forecast start; known ones step along -----


def trained_like_model(**covariates):
    torch.manual_seed(0)
    model = LagLlamaModel(
        context_length=16,
        max_context_length=2048,
        scaling="robust",
        input_size=1,
        n_layer=2,
        n_embd_per_head=8,
        n_head=2,
        lags_seq=[0, 1, 2, 6, 23],
        **covariates,
    )
    with torch.no_grad():  # weights away from their init, the covariate projection included
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def model_inputs(batch=3, past=16 + 23, horizon=7):
    g = torch.Generator().manual_seed(1)
    target = 10 + torch.randn(batch, past, generator=g).cumsum(1)
    observed = torch.ones(batch, past)
    observed[0, :5] = 0
    time_feat = torch.randn(batch, past + horizon, 6, generator=g)
    return target, observed, time_feat[:, :past], time_feat[:, past:]


def sample(model, args, covariates, use_kv_cache=True, seed=11, **options):
    torch.manual_seed(seed)
    return model.sample(*args, prediction_length=7, num_samples=5, use_kv_cache=use_kv_cache, **options, **covariates)


def test_kv_cache_equals_recomputation_with_covariates():
    model = trained_like_model(**COVARIATES)
    args = model_inputs()
    covariates = covariate_inputs(3, 39, 7)
    cached = sample(model, args, covariates)
    full = sample(model, args, covariates, use_kv_cache=False)
    torch.testing.assert_close(cached, full, rtol=1e-4, atol=1e-4)
    # the covariates matter (the comparison is not vacuous), each horizon row at its own step
    later = {**covariates, "feat_dynamic_real": covariates["feat_dynamic_real"].clone()}
    later["feat_dynamic_real"][:, -3:] += 50.0  # only the last three horizon rows
    moved = sample(model, args, later)
    assert torch.equal(moved[..., :3], cached[..., :3])  # rows 39 + 4.. are read from step 4 on
    assert (moved[..., -2:] - cached[..., -2:]).abs().max() > 1e-2


def test_past_only_covariates_are_never_read_beyond_the_forecast_start():
    model = trained_like_model(num_past_feat_dynamic_real=1)
    args = model_inputs()
    past = torch.randn(3, 39, 1)
    reference = sample(model, args, {"past_feat_dynamic_real": past})
    longer = torch.cat((past, 1e3 * torch.randn(3, 7, 1)), dim=1)  # values after the forecast start
    assert torch.equal(sample(model, args, {"past_feat_dynamic_real": longer}), reference)
    changed = past.clone()
    changed[:, -1] += 5.0  # the last value before the start is read
    assert (sample(model, args, {"past_feat_dynamic_real": changed}) - reference).abs().max() > 1e-3
    # the training batch carries the window's past only: its horizon part is dropped at the split
    estimator = LagLlamaEstimator(prediction_length=4, context_length=8, lags_seq=[0, 1], num_past_feat_dynamic_real=1)
    entry = {
        "start": pd.Period("2021-01-01", freq="h"),
        "target": np.arange(40.0),
        "past_feat_dynamic_real": np.arange(40.0)[None],
    }
    module = estimator.create_lightning_module()
    chain = estimator.create_transformation() + estimator._create_instance_splitter(module, "validation")
    instance = next(iter(chain.apply([entry], is_train=True)))
    assert instance["past_feat_dynamic_real"].shape == (9, 1)
    assert instance["past_feat_dynamic_real"][-1, 0] == instance["past_target"][-1] == 35.0
    assert not any("future" in k and "covariates" in k for k in instance)


# -- checkpoints and the estimator --------------------------------------------------------------


def covariate_estimator(**overrides):
    kwargs = dict(
        prediction_length=4,
        context_length=8,
        lags_seq=[0, 1, 23],
        n_layer=1,
        n_head=2,
        n_embd_per_head=8,
        num_batches_per_epoch=2,
        batch_size=4,
        num_parallel_samples=5,
        trainer_kwargs=dict(max_epochs=1, enable_progress_bar=False, enable_model_summary=False),
        num_feat_dynamic_real=1,
        num_feat_static_cat=1,
        cardinality=[2],
    )
    return LagLlamaEstimator(**{**kwargs, **overrides})


def covariate_entries(horizon=0, length=80):
    rng = np.random.default_rng(0)
    return [
        {
            "start": pd.Period("2021-01-01", freq="h"),
            "target": 5 + rng.normal(size=length),
            "feat_dynamic_real": rng.normal(size=(1, length + horizon)),
            "feat_static_cat": [i % 2],
            "item_id": f"item{i}",
        }
        for i in range(3)
    ]


def test_checkpoints_record_the_covariates_and_refuse_data_without_them(tmp_path):
    estimator = covariate_estimator()
    predictor = estimator.train(ListDataset(covariate_entries(), freq="h"))
    path = save_checkpoint(tmp_path / "cov.ckpt", predictor.prediction_net.model, estimator.model_kwargs())
    ckpt = read_checkpoint(path)
    assert ckpt.covariates["num_feat_dynamic_real"] == 1 and ckpt.covariates["cardinality"] == [2]
    # loaded back: the covariate configuration comes from the file
    again = load_predictor(path, prediction_length=4, num_parallel_samples=5)
    assert again.prediction_net.model.covariate_inputs == ["feat_dynamic_real", "feat_static_cat"]
    forecasts = list(again.predict(covariate_entries(horizon=4)))
    assert forecasts[0].samples.shape == (5, 4)
    with pytest.raises(DataError, match=r"item0.*no 'feat_dynamic_real' field.*num_feat_dynamic_real=1"):
        list(again.predict([{k: v for k, v in e.items() if k != "feat_dynamic_real"} for e in covariate_entries()]))
    with pytest.raises(CheckpointError, match="trained with covariates"):
        LagLlamaEstimator.from_checkpoint(path, prediction_length=4, num_feat_dynamic_real=0)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda e: e.update(feat_dynamic_real=e["feat_dynamic_real"][:, :-4]),
            r"item0.*'feat_dynamic_real' covers 80 time steps, 84 are needed.*extend over the forecast horizon",
        ),
        (lambda e: e.update(feat_dynamic_real=np.ones((2, 84))), r"item0.*'feat_dynamic_real' has 2 rows.*expects 1"),
        (
            lambda e: e["feat_dynamic_real"].__setitem__((0, 7), np.nan),
            r"item0.*missing or infinite value at row 0, time step 7",
        ),
        (lambda e: e.update(feat_static_cat=[2]), r"item0.*'feat_static_cat'\[0\] is 2.*\[0, 2\)"),
        (lambda e: e.pop("feat_static_cat"), r"item0'\) has no 'feat_static_cat' field"),
    ],
)
def test_bad_covariates_are_named_before_any_work(change, message):
    entries = covariate_entries(horizon=4)
    change(entries[0])
    predictor = covariate_estimator().create_predictor(
        covariate_estimator().create_transformation(), covariate_estimator().create_lightning_module()
    )
    with pytest.raises(DataError, match=message):
        list(predictor.predict(entries))


def test_bad_training_covariates_fail_before_training():
    entries = covariate_entries()
    entries[2]["feat_dynamic_real"] = np.ones((1, 10))
    with pytest.raises(DataError, match=r"series 2 \(item_id='item2'\).*covers 10 time steps, 80 are needed"):
        covariate_estimator().train(entries)


def test_from_inputs_reads_the_covariates_from_the_data():
    entries = covariate_entries()
    for i, entry in enumerate(entries):
        entry["past_feat_dynamic_real"] = np.ones((3, 80))
        entry["feat_static_real"] = [1.0, 2.0]
        entry["feat_static_cat"] = [i, 4]
    estimator = LagLlamaEstimator.from_inputs(entries, prediction_length=4, freq="h")
    assert (
        estimator.num_feat_dynamic_real,
        estimator.num_past_feat_dynamic_real,
        estimator.num_feat_static_real,
        estimator.num_feat_static_cat,
        estimator.cardinality,
    ) == (1, 3, 2, 2, [3, 5])
    assert estimator.target_dim is None


def test_fine_tuning_the_bundled_checkpoint_learns_the_covariate_projection():
    estimator = LagLlamaEstimator.from_checkpoint(
        None,
        prediction_length=4,
        num_feat_dynamic_real=1,
        lr=1e-3,
        batch_size=4,
        num_batches_per_epoch=3,
        trainer_kwargs=dict(max_epochs=1, enable_progress_bar=False, enable_model_summary=False),
    )
    predictor = estimator.train(ListDataset(covariate_entries(length=200), freq="h"))
    weights = predictor.prediction_net.model.covariates.proj.weight
    assert weights.abs().max() > 0  # moved from its zero start
