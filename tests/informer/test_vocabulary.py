"""Informer's Python API in the vocabulary it shares with Lag-Llama: ``lags`` (1-based), ``lr_patience``
(the learning-rate plateau) beside ``early_stopping_patience``, distribution names, ``past_length``,
"no categorical feature", and its training defaults in ``informer_gluonts/defaults.py``."""

import pytest
from gluonts.core import serde
from gluonts.torch.distributions import StudentTOutput

from informer_gluonts import InformerEstimator, InformerLightningModule, defaults
from informer_gluonts.distributions import LowRankMultivariateNormalOutput


def small(**kwargs):
    return InformerEstimator(freq="h", prediction_length=4, d_model=8, n_heads=2, d_ff=8, **kwargs)


def test_training_defaults_live_in_defaults():
    estimator = small()
    assert estimator.trainer_kwargs["gradient_clip_val"] == defaults.GRADIENT_CLIP_VAL == 10.0
    assert estimator.trainer_kwargs["max_epochs"] == defaults.TRAINING.max_epochs
    assert (estimator.lr, estimator.batch_size, estimator.num_batches_per_epoch) == (
        defaults.TRAINING.lr,
        defaults.TRAINING.batch_size,
        defaults.TRAINING.num_batches_per_epoch,
    )
    assert estimator.lr_patience == defaults.LR_PATIENCE
    assert estimator.device == defaults.DEVICE == "auto"


def test_patience_is_a_deprecated_alias_of_lr_patience():
    with pytest.warns(DeprecationWarning, match="lr_patience"):
        estimator = small(patience=3)
    assert estimator.lr_patience == estimator.patience == 3
    assert estimator.create_lightning_module().lr_patience == 3
    assert small(lr_patience=4).create_lightning_module().lr_patience == 4
    with pytest.warns(DeprecationWarning, match="lr_patience"):
        module = InformerLightningModule(
            model_kwargs=small().create_lightning_module().__init_args__["model_kwargs"], patience=2
        )
    assert module.lr_patience == 2
    with pytest.raises(ValueError, match="lr_patience"):
        small(lr_patience=-1)


def test_lags_seq_is_a_deprecated_alias_of_lags():
    with pytest.warns(DeprecationWarning, match="lags="):
        old = small(lags_seq=[1, 24])
    new = small(lags=[1, 24])
    assert old.lags == new.lags == new.lags_seq == [1, 24]
    model = new.create_lightning_module().model
    assert model.lags_seq == [0, 1, 24]  # the network's own list, lag 0 added
    assert new.past_length == 16 + 24 == model.past_length == model._past_length
    with pytest.raises(ValueError, match="not both"):
        small(lags=[1], lags_seq=[2])


@pytest.mark.parametrize("name", ["studentT", "student-t"])
def test_distribution_names_as_lagllama_takes_them(name):
    assert isinstance(small(distr_output=name).distr_output, StudentTOutput)


def test_low_rank_normal_by_name_needs_target_dim():
    joint = small(distr_output="low-rank-normal", target_dim=3)
    assert isinstance(joint.distr_output, LowRankMultivariateNormalOutput)
    assert joint.distr_output.event_shape == (3,)
    with pytest.raises(ValueError, match="target_dim"):
        small(distr_output="low-rank-normal")
    with pytest.raises(ValueError, match="student-t"):
        small(distr_output="gaussian")


def test_no_categorical_feature_is_none_or_one():
    none, one = small(cardinality=None), small(cardinality=[1])
    assert none.cardinality is None and one.cardinality is None
    # the network's constant categorical input either way
    for estimator in (none, one):
        assert estimator.create_lightning_module().__init_args__["model_kwargs"]["cardinality"] == [1]


def test_renamed_estimators_serialize():
    estimator = small(lags=[1, 2], lr_patience=2, distr_output="student-t")
    again = serde.decode(serde.encode(estimator))
    assert (again.lags, again.lr_patience) == ([1, 2], 2)


def test_both_models_share_one_defaults_shape_device_and_distribution_names():
    from lagllama_gluonts import defaults as lagllama_defaults

    assert defaults.TrainingDefaults is lagllama_defaults.TrainingDefaults
    assert defaults.DEVICE == lagllama_defaults.DEVICE == "auto"
    assert defaults.DISTRIBUTION_NAMES is lagllama_defaults.DISTRIBUTION_NAMES
    assert set(defaults.INFORMER_DISTRIBUTIONS) <= set(defaults.DISTRIBUTION_NAMES.values())


def test_informer_refuses_a_distribution_it_cannot_train_naming_the_ones_it_can():
    with pytest.raises(ValueError, match="low-rank-normal") as error:
        small(distr_output="iqn")
    assert "neg_bin" not in str(error.value)
