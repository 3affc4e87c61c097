"""benchmarks/lagllama_backtest.py: the models it trains get the same budget, whatever the flags."""

import lagllama_backtest
import pytest

from lagllama_gluonts.defaults import SMALL_ARCHITECTURE, SMALL_CONTEXT_LENGTH

FLAGS = ["--epochs", "3", "--batch-size", "7", "--batches-per-epoch", "5"]


@pytest.fixture(scope="module")
def estimators():
    args = lagllama_backtest.parse_args(FLAGS)
    return {
        model: lagllama_backtest.build_trained(model, args, "airpassengers", "M", 12)
        for model in lagllama_backtest.TRAINED
    }


def test_both_trained_models_get_the_flags_batch_size_and_batches_per_epoch(estimators):
    # A comment once swallowed Lag-Llama's batch_size= and num_batches_per_epoch=: it trained with
    # its defaults (32 x 50) while DeepAR followed the flags.
    assert set(estimators) == {"DeepAR (GluonTS)", "Lag-Llama (trained here)"}
    for model, estimator in estimators.items():
        assert estimator.batch_size == 7, model
        assert estimator.num_batches_per_epoch == 5, model
        assert estimator.trainer_kwargs["max_epochs"] == 3, model
        assert estimator.prediction_length == 12, model


def test_defaults_are_the_budget_of_the_committed_table():
    args = lagllama_backtest.parse_args([])
    for model in lagllama_backtest.TRAINED:
        estimator = lagllama_backtest.build_trained(model, args, "m4_hourly", "h", 48)
        assert (estimator.batch_size, estimator.num_batches_per_epoch) == (32, 50), model
        assert estimator.trainer_kwargs["max_epochs"] == 30, model


def test_lagllama_is_the_small_architecture(estimators):
    lagllama = estimators["Lag-Llama (trained here)"]
    assert lagllama.context_length == SMALL_CONTEXT_LENGTH
    assert {k: getattr(lagllama, k) for k in SMALL_ARCHITECTURE} == SMALL_ARCHITECTURE
    assert lagllama.scaling == "robust"


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        lagllama_backtest.build_trained("Prophet", lagllama_backtest.parse_args([]), "x", "h", 1)
