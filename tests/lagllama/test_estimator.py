"""Lag-Llama as a GluonTS estimator: official-style usage, serialization, bad input, real data."""

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import make_evaluation_predictions
from gluonts.model.predictor import Predictor

from lagllama_gluonts import DataError, LagLlamaEstimator, load_predictor
from lagllama_gluonts.common.datasets import get_dataset
from lagllama_gluonts.common.evaluation import run_backtest
from lagllama_gluonts.common.frequency import check_frequency
from lagllama_gluonts.common.tables import read_series_csv
from lagllama_gluonts.estimator import frequency_lags

from conftest import LAG_LLAMA_FIXTURES

SMALL = LAG_LLAMA_FIXTURES / "small.ckpt"


def official_style_predictor(prediction_length, num_samples=20):
    """The reference README's recipe, with only the import changed."""
    estimator = LagLlamaEstimator(
        ckpt_path=str(SMALL),
        prediction_length=prediction_length,
        context_length=32,
        input_size=1,
        n_layer=2,
        n_embd_per_head=8,
        n_head=4,
        scaling="robust",
        time_feat=True,
        rope_scaling=None,
        batch_size=8,
        num_parallel_samples=num_samples,
    )
    module = estimator.create_lightning_module()
    transformation = estimator.create_transformation()
    return estimator.create_predictor(transformation, module)


def test_official_style_usage_forecasts_a_gluonts_dataset():
    dataset = get_dataset("airpassengers")
    predictor = official_style_predictor(prediction_length=12)
    forecast_it, ts_it = make_evaluation_predictions(dataset.test, predictor=predictor, num_samples=20)
    forecasts, tss = list(forecast_it), list(ts_it)
    assert len(forecasts) == 1
    f = forecasts[0]
    assert f.samples.shape == (20, 12)
    assert np.isfinite(f.samples).all()
    assert f.start_date == tss[0].index[-12]


def test_load_predictor_reads_architecture_and_serializes(tmp_path):
    torch.manual_seed(0)
    predictor = load_predictor(SMALL, prediction_length=6, num_parallel_samples=8)
    data = ListDataset([{"start": "2021-01-01", "target": np.sin(np.arange(300) / 4) + 5}], freq="h")
    torch.manual_seed(42)
    first = next(iter(predictor.predict(data))).samples
    predictor.serialize(tmp_path)
    restored = Predictor.deserialize(tmp_path)
    torch.manual_seed(42)
    again = next(iter(restored.predict(data))).samples
    assert first.shape == (8, 6)
    np.testing.assert_array_equal(first, again)


def test_longer_context_gets_linear_rope_scaling():
    predictor = load_predictor(SMALL, prediction_length=6, context_length=64, num_parallel_samples=4)
    attn = predictor.prediction_net.model.transformer.h[0].attn
    assert attn.rotary_emb.scaling_type == "linear"
    assert attn.rotary_emb.scaling_factor == pytest.approx((64 + 6) / 32)


def _forecast(entries, freq="h", horizon=6):
    predictor = load_predictor(SMALL, prediction_length=horizon, num_parallel_samples=10)
    torch.manual_seed(0)
    return list(predictor.predict(ListDataset(entries, freq=freq)))


def test_nans_short_and_constant_series_give_finite_forecasts():
    t = np.arange(400, dtype=float)
    with_nans = 10 + np.sin(t / 5)
    with_nans[100:130] = np.nan
    with_nans[-3:] = np.nan  # missing right before the horizon
    entries = [
        {"start": "2021-01-01", "target": with_nans},
        {"start": "2021-01-01", "target": 10 + np.sin(t[:5] / 5)},  # far shorter than the window
        {"start": "2021-01-01", "target": np.full(200, 3.0)},
        {"start": "2021-01-01", "target": np.zeros(200)},
    ]
    forecasts = _forecast(entries)
    assert len(forecasts) == 4
    for f in forecasts:
        assert f.samples.shape == (10, 6)
        assert np.isfinite(f.samples).all()
    # a constant series stays (essentially) at its value
    assert np.abs(forecasts[2].samples - 3.0).max() < 1e-3


def test_bad_series_are_named():
    with pytest.raises(DataError, match="infinite"):
        _forecast([{"start": "2021-01-01", "target": np.array([1.0, np.inf, 2.0] * 20)}])
    # a plain list of entries skips ListDataset's own checks: ours must still catch it
    predictor = load_predictor(SMALL, prediction_length=6, num_parallel_samples=10)
    with pytest.raises(DataError, match=r"shape \(time,\)"):
        list(predictor.predict([{"start": pd.Period("2021-01-01", freq="h"), "target": np.ones((2, 50))}]))


def test_empty_dataset_is_a_clear_error():
    estimator = LagLlamaEstimator(prediction_length=4, n_layer=1, trainer_kwargs={"max_epochs": 1})
    with pytest.raises(DataError, match="empty"):
        estimator.train(ListDataset([], freq="h"))


def test_unknown_frequency_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="unknown frequency 'XYZ'"):
        check_frequency("XYZ")
    csv = tmp_path / "s.csv"
    pd.DataFrame({"ds": pd.date_range("2020", periods=10, freq="D"), "y": range(10)}).to_csv(csv, index=False)
    with pytest.raises(DataError, match="unknown frequency"):
        read_series_csv(csv, freq="XYZ")
    with pytest.raises(ValueError, match="unknown frequency"):
        LagLlamaEstimator(prediction_length=4, lags_seq=["XYZ"])


def test_start_without_frequency_is_named():
    est = LagLlamaEstimator(prediction_length=4, n_layer=1)
    chain = est.create_transformation()
    with pytest.raises(DataError, match="Period"):
        list(chain.apply([{"start": pd.Timestamp("2020-01-01"), "target": np.ones(10)}], is_train=False))


@pytest.mark.parametrize("name, max_series", [("m4_hourly", 40), ("exchange_rate", None)])
def test_brief_training_on_real_data_backtests(name, max_series, tmp_path):
    dataset = get_dataset(name)
    estimator = LagLlamaEstimator(
        prediction_length=dataset.metadata.prediction_length,
        context_length=32,
        n_layer=1,
        n_head=2,
        n_embd_per_head=8,
        batch_size=16,
        num_batches_per_epoch=8,
        num_parallel_samples=20,
        trainer_kwargs={"max_epochs": 2, "default_root_dir": str(tmp_path), "enable_progress_bar": False},
    )
    predictor = estimator.train(dataset.train)
    # no freq given: the lags are GluonTS's for the data's own frequency
    assert predictor.prediction_net.model.lags_seq == frequency_lags(dataset.metadata.freq)
    metrics, forecasts, _ = run_backtest(predictor, dataset.test, num_samples=20, max_series=max_series, progress=False)
    for key in ("mean_wQuantileLoss", "MASE", "ND"):
        assert np.isfinite(metrics[key]), key
    assert all(np.isfinite(f.samples).all() for f in forecasts)


def test_from_checkpoint_train_fine_tunes_the_checkpoint_weights(tmp_path):
    from lagllama_gluonts.checkpoint import read_checkpoint

    dataset = get_dataset("airpassengers")
    estimator = LagLlamaEstimator.from_checkpoint(
        SMALL,
        prediction_length=12,
        batch_size=8,
        num_batches_per_epoch=3,
        num_parallel_samples=10,
        lr=1e-3,
        trainer_kwargs={"max_epochs": 1, "default_root_dir": str(tmp_path), "enable_progress_bar": False},
    )
    start = read_checkpoint(SMALL).state_dict
    predictor = estimator.train(dataset.train)
    tuned = predictor.prediction_net.model.state_dict()
    # started from the checkpoint (tiny steps away from it), not from a fresh init
    drift = max(float((tuned[k] - start[k]).abs().max()) for k in start)
    assert 0 < drift < 0.05
    assert np.isfinite(next(iter(predictor.predict(dataset.test))).samples).all()


def test_fine_tuning_uses_a_small_learning_rate_unless_told():
    from lagllama_gluonts.estimator import FINE_TUNING_LR

    assert LagLlamaEstimator.from_checkpoint(SMALL, prediction_length=4).lr == FINE_TUNING_LR
    assert LagLlamaEstimator.from_checkpoint(SMALL, prediction_length=4, lr=1e-3).lr == 1e-3
    assert LagLlamaEstimator(prediction_length=4).lr == 1e-3


def test_lags_come_from_the_frequency_when_training_from_scratch(tmp_path):
    from gluonts.time_feature import get_lags_for_frequency

    from lagllama_gluonts.estimator import DEFAULT_LAG_FREQUENCIES, resolve_lags

    # DeepAR's lags for the frequency (1-based there), as 0-based indices
    weekly = sorted(lag - 1 for lag in get_lags_for_frequency("W"))
    assert frequency_lags("W") == weekly and weekly[:7] == list(range(7)) and 51 in weekly
    assert LagLlamaEstimator(prediction_length=4, freq="W").lags_seq == weekly
    assert LagLlamaEstimator(prediction_length=4, freq="W", lags_seq=[0, 3]).lags_seq == [0, 3]
    # a checkpoint keeps the reference's 84 lags of every frequency unless told otherwise
    released = LagLlamaEstimator(prediction_length=4, ckpt_path=str(SMALL)).lags_seq
    assert released == resolve_lags(DEFAULT_LAG_FREQUENCIES) and len(released) == 84
    with pytest.raises(ValueError, match="unknown frequency"):
        LagLlamaEstimator(prediction_length=4, freq="XYZ")

    # neither given: unknown until train() reads the data's frequency, and a clear error before
    estimator = LagLlamaEstimator(
        prediction_length=4,
        context_length=8,
        n_layer=1,
        n_head=1,
        n_embd_per_head=4,
        batch_size=4,
        num_batches_per_epoch=2,
        trainer_kwargs={
            "max_epochs": 1,
            "default_root_dir": str(tmp_path),
            "enable_progress_bar": False,
            "logger": False,
        },
    )
    with pytest.raises(ValueError, match="lags_seq is not known yet"):
        estimator.create_lightning_module()
    daily = ListDataset([{"start": "2020-01-01", "target": np.sin(np.arange(400) / 3.0) + 2}], freq="D")
    predictor = estimator.train(daily)
    assert predictor.prediction_net.model.lags_seq == frequency_lags("D") == estimator.lags_seq
    # continuing a trained predictor keeps its network's lags, whatever the new data's frequency
    hourly = ListDataset([{"start": "2020-01-01", "target": np.cos(np.arange(400) / 3.0) + 2}], freq="h")
    continued = estimator.train_from(predictor, hourly)
    assert continued.prediction_net.model.lags_seq == frequency_lags("D")
    # a plain entry whose start carries no frequency
    with pytest.raises(DataError, match="frequency"):
        estimator.train([{"start": "2020-01-01", "target": np.ones(50)}])


def test_from_scratch_scales_on_the_context_and_checkpoints_keep_their_own_scaling():
    assert LagLlamaEstimator(prediction_length=4, context_length=16).scaling_window == 16
    module = LagLlamaEstimator(prediction_length=4, context_length=16, freq="h").create_lightning_module()
    assert module.model.scaling_window == 16
    assert LagLlamaEstimator(prediction_length=4, scaling_window=None).scaling_window is None
    assert LagLlamaEstimator(prediction_length=4, scaling_window=8).scaling_window == 8
    # reference-style construction with a checkpoint keeps the reference's whole-window scaling
    assert LagLlamaEstimator(prediction_length=4, ckpt_path=str(SMALL)).scaling_window is None
    with pytest.raises(ValueError, match="scaling_window"):
        LagLlamaEstimator(prediction_length=4, scaling_window="recent")


def test_from_scratch_the_learning_rate_decays_over_the_whole_run(tmp_path):
    from lightning.pytorch.callbacks import Callback

    seen = []

    class RecordLR(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    data = ListDataset([{"start": "2020-01-01", "target": np.sin(np.arange(400) / 3.0) + 2}], freq="D")

    def run(**trainer):
        seen.clear()
        estimator = LagLlamaEstimator(
            prediction_length=4,
            context_length=8,
            n_layer=1,
            n_head=1,
            n_embd_per_head=4,
            batch_size=4,
            num_batches_per_epoch=5,
            trainer_kwargs=dict(
                logger=False,
                enable_progress_bar=False,
                default_root_dir=str(tmp_path),
                callbacks=[RecordLR()],
                **trainer,
            ),
        )
        estimator.train(data)
        return estimator, np.array(seen)

    estimator, lrs = run(max_epochs=3)
    assert estimator.planned_steps() == 15 and len(lrs) == 15
    assert lrs[0] == pytest.approx(1e-3) and np.all(np.diff(lrs) < 0) and lrs[-1] < 3e-5
    # max_steps ends the run first: the cosine spans those steps, not the epochs
    estimator, lrs = run(max_epochs=10, max_steps=7)
    assert estimator.planned_steps() == 7 and len(lrs) == 7 and lrs[-1] < 1e-4

    # a checkpoint keeps a constant rate; a run without an end cannot be planned
    assert not LagLlamaEstimator.from_checkpoint(SMALL, prediction_length=4).use_cosine_annealing_lr
    with pytest.raises(ValueError, match="has no end"):
        LagLlamaEstimator(prediction_length=4, trainer_kwargs={"max_epochs": -1}).planned_steps()
