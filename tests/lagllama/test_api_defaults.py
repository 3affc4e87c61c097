"""Lag-Llama's Python API: one place for training defaults (``defaults.py``), the ``Augmentations``
object, and the vocabulary it shares with Informer (lags, distribution names, devices, aliases)."""

import inspect
import random

import numpy as np
import pytest
import torch
from gluonts.core import serde
from gluonts.torch.distributions import NegativeBinomialOutput, StudentTOutput

from lagllama_gluonts import LagLlamaEstimator, defaults, load_predictor
from lagllama_gluonts.augmentations import AUGMENTATION_ARGUMENTS, Augmentations
from lagllama_gluonts.finetune import finetune
from lagllama_gluonts.lightning_module import LagLlamaLightningModule

from conftest import LAG_LLAMA_FIXTURES

SMALL = LAG_LLAMA_FIXTURES / "small.ckpt"


def test_the_api_clips_gradients_as_the_command_line_does():
    estimator = LagLlamaEstimator(prediction_length=4, freq="h")
    assert estimator.trainer_kwargs["gradient_clip_val"] == defaults.GRADIENT_CLIP_VAL == 1.0
    assert estimator.trainer_kwargs["max_epochs"] == defaults.TRAINING.max_epochs
    assert estimator.trainer_kwargs["precision"] == defaults.PRECISION
    tuned = LagLlamaEstimator.from_checkpoint(SMALL, prediction_length=4)
    assert tuned.trainer_kwargs["gradient_clip_val"] == defaults.FINE_TUNING.gradient_clip_val == 1.0
    # the user's settings win, None included (no clipping)
    off = LagLlamaEstimator(prediction_length=4, freq="h", trainer_kwargs={"gradient_clip_val": None})
    assert off.trainer_kwargs["gradient_clip_val"] is None


def test_estimator_and_finetune_read_the_same_defaults():
    estimator = LagLlamaEstimator(prediction_length=4, freq="h")
    assert (estimator.lr, estimator.batch_size, estimator.num_batches_per_epoch) == (
        defaults.TRAINING.lr,
        defaults.TRAINING.batch_size,
        defaults.TRAINING.num_batches_per_epoch,
    )
    tuned = LagLlamaEstimator.from_checkpoint(SMALL, prediction_length=4)
    assert tuned.lr == defaults.FINE_TUNING.lr == defaults.FINETUNE_LR
    assert tuned.num_batches_per_epoch == defaults.FINE_TUNING.num_batches_per_epoch == 25
    assert tuned.trainer_kwargs["max_epochs"] == defaults.FINE_TUNING.max_epochs
    given = LagLlamaEstimator.from_checkpoint(
        SMALL, prediction_length=4, num_batches_per_epoch=7, trainer_kwargs={"max_epochs": 2}
    )
    assert (given.num_batches_per_epoch, given.trainer_kwargs["max_epochs"]) == (7, 2)
    signature = inspect.signature(finetune).parameters
    assert signature["lr"].default == defaults.FINE_TUNING.lr
    assert signature["num_batches_per_epoch"].default == defaults.FINE_TUNING.num_batches_per_epoch
    assert signature["early_stopping_patience"].default == defaults.FINE_TUNING.early_stopping_patience


def test_api_entry_points_default_to_the_auto_device():
    assert LagLlamaEstimator(prediction_length=4, freq="h").device == defaults.DEVICE == "auto"
    assert inspect.signature(load_predictor).parameters["device"].default == "auto"
    assert LagLlamaEstimator.from_checkpoint(SMALL, prediction_length=4).device == "auto"


def test_finetune_patience_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="early_stopping_patience"):
        with pytest.raises(ValueError):  # the warning comes first, then the bad horizon fails fast
            finetune([], prediction_length=0, patience=2)


# --------------------------------------------------------------------------- augmentations


def _augmented(module, batch, seed=0):
    torch.manual_seed(seed)
    random.seed(seed)
    return module.augment(dict(batch))


def test_an_augmentations_object_is_the_flat_keywords():
    flat = dict(aug_prob=1.0, freq_mask_rate=0.2, jitter_prob=1.0, jitter_sigma=0.5, window_warp_scales=[0.5, 2.0])
    by_keywords = LagLlamaEstimator(prediction_length=4, lags_seq=[0, 1], **flat)
    by_object = LagLlamaEstimator(prediction_length=4, lags_seq=[0, 1], augmentations=Augmentations(**flat))
    assert by_keywords.augmentations == by_object.augmentations
    assert (by_object.aug_prob, by_object.freq_mask_rate) == (1.0, 0.2)
    a, b = by_keywords.create_lightning_module(), by_object.create_lightning_module()
    assert a.augmentations == b.augmentations and a.aug_prob == b.aug_prob == 1.0
    batch = {"past_target": torch.randn(3, 40), "future_target": torch.randn(3, 4)}
    out_a, out_b = _augmented(a, batch), _augmented(b, batch)
    for key in ("past_target", "future_target"):
        torch.testing.assert_close(out_a[key], out_b[key])
    assert not torch.equal(out_a["past_target"], batch["past_target"])


def test_the_lightning_module_takes_the_object_or_a_mapping():
    model_kwargs = LagLlamaEstimator(prediction_length=2, context_length=8, lags_seq=[0, 1]).model_kwargs()
    kwargs = dict(model_kwargs=model_kwargs)
    module = LagLlamaLightningModule(
        context_length=8, prediction_length=2, augmentations={"jitter_prob": 0.5, "aug_prob": 0.3}, **kwargs
    )
    assert module.augmentations == Augmentations(jitter_prob=0.5, aug_prob=0.3) and module.aug_prob == 0.3
    # its plain-data hyper-parameters hold the flat keywords, as checkpoints always did, and rebuild it
    assert "augmentations" not in module.hparams and module.hparams["jitter_prob"] == 0.5
    flat = {name: module.hparams[name] for name in AUGMENTATION_ARGUMENTS}
    again = LagLlamaLightningModule(context_length=8, prediction_length=2, **flat, **kwargs)
    assert again.augmentations == module.augmentations


def test_augmentations_and_flat_keywords_together_are_an_error():
    with pytest.raises(ValueError, match="not both"):
        LagLlamaEstimator(prediction_length=4, freq="h", jitter_prob=0.5, augmentations=Augmentations())
    with pytest.raises(ValueError, match="aug_prob"):
        Augmentations(aug_prob=1.5)
    with pytest.raises(ValueError, match="unknown"):
        LagLlamaEstimator(prediction_length=4, freq="h", augmentations={"jitter": 0.5})


def test_an_estimator_with_augmentations_serializes():
    estimator = LagLlamaEstimator(prediction_length=4, freq="h", augmentations=Augmentations(scaling_prob=0.4))
    again = serde.decode(serde.encode(estimator))
    assert again.augmentations == estimator.augmentations


# --------------------------------------------------------------------------- vocabulary


@pytest.mark.parametrize(
    "name, kind", [("studentT", StudentTOutput), ("student-t", StudentTOutput), ("neg_bin", NegativeBinomialOutput)]
)
def test_distribution_names_shared_with_informer(name, kind):
    assert isinstance(LagLlamaEstimator(prediction_length=4, freq="h", distr_output=name).distr_output, kind)


def test_a_joint_distribution_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="each variable on its own"):
        LagLlamaEstimator(prediction_length=4, freq="h", distr_output="low-rank-normal")
    with pytest.raises(ValueError, match="student-t"):
        LagLlamaEstimator(prediction_length=4, freq="h", distr_output="gaussian")


def test_one_based_lags_are_the_zero_based_indices_plus_one():
    by_lags = LagLlamaEstimator(prediction_length=4, lags=[1, 24])
    by_indices = LagLlamaEstimator(prediction_length=4, lags_seq=[0, 23])
    assert by_lags.lags_seq == by_indices.lags_seq == [0, 23]
    assert by_lags.lags == [1, 24]
    assert by_lags.past_length == 32 + 23 == by_lags.create_lightning_module().model.past_length
    with pytest.raises(ValueError, match="not both"):
        LagLlamaEstimator(prediction_length=4, lags=[1], lags_seq=[0])
    with pytest.raises(ValueError, match="1-based"):
        LagLlamaEstimator(prediction_length=4, lags=[0, 1])


def test_no_categorical_feature_is_none_or_one():
    for cardinality in (None, [1]):
        assert LagLlamaEstimator(prediction_length=4, freq="h", cardinality=cardinality).cardinality is None


def test_early_stopping_patience_adds_early_stopping_with_validation_data():
    import lightning.pytorch as pl

    estimator = LagLlamaEstimator(prediction_length=4, freq="h", early_stopping_patience=2)
    assert estimator.extra_callbacks(None) == []
    (stop,) = estimator.extra_callbacks([{"target": np.ones(10)}])
    assert isinstance(stop, pl.callbacks.EarlyStopping) and stop.patience == 2
    with pytest.raises(ValueError, match="early_stopping_patience"):
        LagLlamaEstimator(prediction_length=4, freq="h", early_stopping_patience=0)
