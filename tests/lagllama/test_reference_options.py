"""The reference's remaining options: its run.py constructor call, its eight augmentations,
``load_from_checkpoint``, ``hparams``, ``loss=``, single-pass sampling, ``distr_output="iqn"``;
and its issue #129 (the first forecast step must continue from the last observation)."""

import numpy as np
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.transform import ExpectedNumInstanceSampler
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from lagllama_gluonts import LagLlamaEstimator, LagLlamaLightningModule, load_predictor
from lagllama_gluonts import augmentations as aug
from lagllama_gluonts.checkpoint import read_checkpoint

from conftest import LAG_LLAMA_FIXTURES

SMALL = LAG_LLAMA_FIXTURES / "small.ckpt"
QUIET = dict(enable_progress_bar=False, enable_model_summary=False)


def series_dataset(n=3, length=200):
    t = np.arange(length)
    return ListDataset(
        [{"start": "2021-01-01", "target": 10 + np.sin(t / (4 + i)) + 0.01 * t} for i in range(n)], freq="h"
    )


def test_the_reference_run_py_constructor_call_trains(tmp_path):
    """The keyword arguments of the reference's run.py (its argparse defaults where they matter),
    every augmentation switched on, with only the import changed; then what run.py does next."""
    checkpoint_dir = tmp_path / "checkpoints"
    estimator = LagLlamaEstimator(
        prediction_length=4,
        context_length=16,
        input_size=1,
        batch_size=8,
        n_layer=1,
        n_embd_per_head=8,
        n_head=2,
        max_context_length=2048,
        rope_scaling=None,
        scaling=None,
        lr=1e-3,
        weight_decay=1e-8,
        distr_output="studentT",
        # augmentations
        aug_prob=1.0,
        freq_mask_rate=0.1,
        freq_mixing_rate=0.1,
        jitter_prob=1.0,
        jitter_sigma=0.03,
        scaling_prob=1.0,
        scaling_sigma=0.1,
        rotation_prob=1.0,
        permutation_prob=1.0,
        permutation_max_segments=5,
        permutation_seg_mode="equal",
        magnitude_warp_prob=1.0,
        magnitude_warp_sigma=0.2,
        magnitude_warp_knot=4,
        time_warp_prob=1.0,
        time_warp_sigma=0.2,
        time_warp_knot=4,
        window_slice_prob=1.0,
        window_slice_reduce_ratio=0.9,
        window_warp_prob=1.0,
        window_warp_window_ratio=0.1,
        window_warp_scales=[0.5, 2.0],
        # others
        num_batches_per_epoch=2,
        num_parallel_samples=5,
        time_feat=True,
        dropout=0.0,
        lags_seq=["Q", "M", "W", "D", "H", "T", "S"],
        data_id_to_name_map={0: "toy"},
        use_cosine_annealing_lr=True,
        cosine_annealing_lr_args={"T_max": 10000, "eta_min": 1e-2},
        track_loss_per_series=True,
        ckpt_path=None,
        trainer_kwargs=dict(
            max_epochs=1,
            accelerator="cpu",
            devices=1,
            limit_val_batches=None,
            logger=False,
            # (run.py also adds a LearningRateMonitor, which needs its W&B logger)
            callbacks=[
                EarlyStopping(monitor="val_loss", min_delta=0.0, patience=50, mode="min"),
                ModelCheckpoint(
                    dirpath=checkpoint_dir, save_last=True, save_top_k=1, filename="best-{epoch}-{val_loss:.2f}"
                ),
            ],
            default_root_dir=str(tmp_path),
            **QUIET,
        ),
    )
    num_parameters = sum(p.numel() for p in estimator.create_lightning_module().parameters())
    assert num_parameters > 0
    history_length = estimator.context_length + max(estimator.lags_seq)
    estimator.train_sampler = ExpectedNumInstanceSampler(
        num_instances=1.0, min_past=0, min_future=estimator.prediction_length
    )
    data = series_dataset(length=history_length // 4)
    predictor = estimator.train(data, data)
    forecast = next(iter(predictor.predict(data)))
    assert forecast.samples.shape == (5, 4) and np.isfinite(forecast.samples).all()
    # the Lightning checkpoint ModelCheckpoint wrote: plain data, and the reference's way back in
    last = checkpoint_dir / "last.ckpt"
    raw = torch.load(last, map_location="cpu", weights_only=True)
    assert raw["hyper_parameters"]["model_kwargs"]["n_layer"] == 1
    module = LagLlamaLightningModule.load_from_checkpoint(last)
    assert module.hparams["window_warp_scales"] == [0.5, 2.0] and module.augmentations.jitter_prob == 1.0


def test_load_from_checkpoint_reads_the_released_layout_safely_and_forecasts_like_load_predictor(monkeypatch):
    seen = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: seen.append(k.get("weights_only")) or real(*a, **k))
    module = LagLlamaLightningModule.load_from_checkpoint(SMALL)
    assert seen == [True]
    assert module.hparams["model_kwargs"]["n_layer"] == 2  # readable, as in the reference
    assert module.hparams["model_kwargs"]["distr_output"]["class"].endswith("StudentTOutput")
    assert module.prediction_length == 24  # the reference's checkpoints record it
    predictor = load_predictor(SMALL, prediction_length=24, num_parallel_samples=10)  # as the file records
    e = torch.load(LAG_LLAMA_FIXTURES / "small.expected.pt", weights_only=True)
    inputs = dict(
        past_target=e["predict_past_target"],
        past_observed_values=e["predict_past_observed_values"],
        past_time_feat=e["predict_past_time_feat"],
        future_time_feat=e["predict_future_time_feat"],
    )
    torch.manual_seed(0)
    ours = module.eval()(**inputs)
    torch.manual_seed(0)
    reference = predictor.prediction_net(**inputs)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="prediction_length"):
        LagLlamaLightningModule.load_from_checkpoint(read_checkpoint(SMALL).path, prediction_length=None)


def test_a_custom_loss_is_used_per_position():
    e = torch.load(LAG_LLAMA_FIXTURES / "small.expected.pt", weights_only=True)
    batch = {k[len("train_") :]: v for k, v in e.items() if k.startswith("train_") and torch.is_tensor(v)}
    plain = LagLlamaLightningModule.load_from_checkpoint(SMALL)
    doubled = LagLlamaLightningModule.load_from_checkpoint(SMALL, loss=lambda d, target: -2 * d.log_prob(target))
    with torch.no_grad():
        torch.testing.assert_close(doubled.loss_per_position(batch)[0], 2 * plain.loss_per_position(batch)[0])
    with pytest.raises(ValueError, match="loss must be"):
        LagLlamaEstimator(prediction_length=4, freq="h", loss="crps")


def test_single_pass_sampling_feeds_the_mean_and_its_cache_is_exact():
    module = LagLlamaLightningModule.load_from_checkpoint(SMALL, use_single_pass_sampling=True).eval()
    e = torch.load(LAG_LLAMA_FIXTURES / "small.expected.pt", weights_only=True)
    args = (
        e["predict_past_target"],
        e["predict_past_observed_values"],
        e["predict_past_time_feat"],
        e["predict_future_time_feat"],
    )

    def draw(**options):
        torch.manual_seed(1)
        return module.model.sample(*args, prediction_length=24, num_samples=50, single_pass=True, **options)

    cached, full = draw(use_kv_cache=True), draw(use_kv_cache=False)
    assert cached.shape == (3, 50, 24)
    torch.testing.assert_close(cached, full, rtol=1e-4, atol=1e-4)
    # the paths differ from coherent sampling (the comparison is not vacuous)
    torch.manual_seed(1)
    coherent = module.model.sample(*args, prediction_length=24, num_samples=50)
    assert (coherent - cached).abs().max() > 1e-2
    with pytest.raises(ValueError, match="choose one"):
        LagLlamaEstimator(prediction_length=4, freq="h", use_single_pass_sampling=True, rescale_every_step=True)


def test_iqn_trains_and_every_path_draws_its_own_first_value():
    estimator = LagLlamaEstimator(
        prediction_length=4,
        freq="h",
        context_length=16,
        distr_output="iqn",
        n_layer=1,
        n_head=2,
        n_embd_per_head=8,
        batch_size=8,
        num_batches_per_epoch=3,
        num_parallel_samples=20,
        trainer_kwargs=dict(max_epochs=1, **QUIET),
    )
    predictor = estimator.train(series_dataset())
    forecast = next(iter(predictor.predict(series_dataset())))
    assert forecast.samples.shape == (20, 4) and np.isfinite(forecast.samples).all()
    assert np.unique(forecast.samples[:, 0]).size == 20  # not one shared first value per series


# -- the augmentations ---------------------------------------------------------------------------

AUGMENTATIONS = {
    "jitter": aug.jitter,
    "scaling": aug.scaling,
    "rotation": aug.rotation,
    "permutation": aug.permutation,
    "magnitude_warp": aug.magnitude_warp,
    "time_warp": aug.time_warp,
    "window_slice": aug.window_slice,
    "window_warp": aug.window_warp,
}


def window(batch=4, length=60):
    g = torch.Generator().manual_seed(0)
    return 5 + torch.randn(batch, length, generator=g).cumsum(1)


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_each_augmentation_keeps_the_shape_changes_the_values_and_is_seeded(name):
    x = window()
    first = AUGMENTATIONS[name](x, generator=torch.Generator().manual_seed(3))
    again = AUGMENTATIONS[name](x, generator=torch.Generator().manual_seed(3))
    assert first.shape == x.shape and torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, x)
    # through the reference's switchboard: probability 1 applies it (when the list is applied
    # at all: the reference's RandomApply(p=0.5)), probability 0 never does
    past, future = x[:, :48], x[:, 48:]
    on = aug.Augmentations(**{f"{name}_prob": 1.0})
    outs = [on(past, future, generator=torch.Generator().manual_seed(s)) for s in range(8)]
    assert all(p.shape == past.shape and f.shape == future.shape for p, f in outs)
    assert any(not torch.equal(p, past) for p, _ in outs)
    off = aug.Augmentations(**{f"{name}_prob": 0.0})
    assert all(off(past, future, generator=torch.Generator().manual_seed(s))[0] is past for s in range(8))


def test_augmentation_settings_are_checked():
    with pytest.raises(ValueError, match="jitter_prob must be a probability"):
        LagLlamaEstimator(prediction_length=4, freq="h", jitter_prob=1.5)
    with pytest.raises(ValueError, match="permutation_seg_mode"):
        LagLlamaEstimator(prediction_length=4, freq="h", permutation_prob=0.5, permutation_seg_mode="odd")


def test_magnitude_warp_curves_pass_through_their_knots():
    knots = torch.tensor([[1.0, 2.0, 0.0, 1.0]])
    curve = aug.smooth_curves(knots, 7)  # knots at steps 0, 2, 4, 6
    torch.testing.assert_close(curve[:, ::2], knots)


# -- the reference's issue #129 -------------------------------------------------------------------


def test_first_forecast_step_continues_from_the_last_observation():
    """Reference issue #129: forecasts "jump" at t = 0. On a smooth series the first step's median
    must lie within a small fraction of the series' range of its last value."""
    t = np.arange(600)
    y = 50 + 10 * np.sin(2 * np.pi * t / 150)
    predictor = load_predictor(None, prediction_length=12, num_parallel_samples=100)
    torch.manual_seed(0)
    forecast = next(iter(predictor.predict(ListDataset([{"start": "2021-01-01", "target": y}], freq="h"))))
    first = np.median(forecast.samples[:, 0])
    step = np.abs(np.diff(y)).max()  # the largest move of the series in one step: 0.42
    assert abs(first - y[-1]) < 2 * step
