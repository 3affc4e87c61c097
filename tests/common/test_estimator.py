"""Training transforms each series once (not every pass over the data), with the same batches."""

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.transform import AddTimeFeatures

from informer_gluonts import InformerEstimator
from lagllama_gluonts import LagLlamaEstimator

NUM_SERIES = 3


def long_series() -> ListDataset:
    # long compared with one training window, like ett_small_1h: ~1 window per series per pass
    rng = np.random.default_rng(0)
    return ListDataset(
        [
            {"start": pd.Period("2021-01-01", freq="h"), "target": 10 + rng.standard_normal(600).cumsum()}
            for _ in range(NUM_SERIES)
        ],
        freq="h",
    )


def make_estimator(kind: str, tmp_path):
    trainer = dict(max_epochs=3, enable_progress_bar=False, enable_model_summary=False,
                   logger=False, default_root_dir=str(tmp_path))
    common = dict(prediction_length=4, batch_size=4, num_batches_per_epoch=3, trainer_kwargs=trainer)
    if kind == "lagllama":
        return LagLlamaEstimator(context_length=8, lags_seq=[0, 1, 23], n_layer=1, n_head=1,
                                 n_embd_per_head=4, **common)
    return InformerEstimator(freq="h", context_length=8, lags_seq=[1, 24], d_model=8, n_heads=1,
                             d_ff=8, e_layers=1, **common)


@pytest.fixture
def time_feature_calls(monkeypatch):
    """Counts how often the time features of a whole series are computed."""
    calls = []
    original = AddTimeFeatures.map_transform

    def counting(self, data, is_train):
        calls.append(len(data["target"]))
        return original(self, data, is_train)

    monkeypatch.setattr(AddTimeFeatures, "map_transform", counting)
    return calls


@pytest.mark.parametrize("kind", ["lagllama", "informer"])
def test_each_series_is_featurised_once_over_several_epochs(kind, time_feature_calls, tmp_path):
    make_estimator(kind, tmp_path / "default").train(long_series())
    assert len(time_feature_calls) == NUM_SERIES

    # GluonTS's lazy path, still available, re-featurises every series at every pass
    time_feature_calls.clear()
    make_estimator(kind, tmp_path / "lazy").train(long_series(), cache_data=False)
    assert len(time_feature_calls) > 3 * NUM_SERIES


@pytest.mark.parametrize("kind", ["lagllama", "informer"])
def test_transforming_once_trains_on_the_same_batches(kind, tmp_path):
    weights = []
    for cache_data in (True, False):
        pl.seed_everything(0, verbose=False)
        output = make_estimator(kind, tmp_path / str(cache_data)).train_model(long_series(), cache_data=cache_data)
        weights.append(output.trained_net.state_dict())
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        torch.testing.assert_close(weights[0][name], weights[1][name], rtol=0, atol=0, msg=name)
