"""Training data that keeps up with long series: each series is transformed once, not every pass.

GluonTS's ``PyTorchLightningEstimator.train_model`` applies ``create_transformation()``
lazily, and the training loader cycles over the transformed dataset forever. Without
``cache_data`` every pass over the training set re-runs the whole per-series chain (time
features over the full length of each series, observed-value indicator, checks), only for
the instance splitter to keep one window of ``past_length + prediction_length`` steps.
On ``m4_hourly`` (414 series of ~900 steps) that is cheap; on ``ett_small_1h`` (14 series
of 17,420 steps, ~1 window per series per pass, so a batch of 32 needs two or three passes)
it re-read ~32 whole series from the dataset's gzipped JSON and re-computed their calendar
features per batch, which dominated the epoch (``benchmarks/results/speed.md`` has the
profile).

The per-series chain of both estimators is deterministic (no random draws; the instance
sampler and the augmentations come after it), so transforming each series once and
replaying the result gives exactly the same training windows in the same order: that is
GluonTS's own ``cache_data=True``, which these estimators make the default.

Memory: the transformed training (and validation) set is kept, i.e. per time step the
target, the observed-value indicator and the time features as float32 (Lag-Llama: 1 + 1 + 6
values, 32 bytes; Informer with hourly data: 1 + 1 + 5, 28 bytes), about 8 MB for
``ett_small_1h`` (7.4 MiB measured). Pass ``cache_data=False`` for a dataset that does not
fit in memory.
"""

from typing import Optional

from gluonts.dataset.common import Dataset
from gluonts.torch.model.estimator import PyTorchLightningEstimator, TrainOutput
from gluonts.torch.model.predictor import PyTorchPredictor


class TransformOnceEstimator(PyTorchLightningEstimator):
    """A ``PyTorchLightningEstimator`` whose ``train``/``train_from``/``train_model`` default to
    ``cache_data=True``: each series goes through ``create_transformation()`` once.

    Everything else is GluonTS's: pass ``cache_data=False`` to get its lazy, re-transform
    every pass behaviour back (for data larger than memory, or to measure the difference).
    """

    def train_model(
        self,
        training_data: Dataset,
        validation_data: Optional[Dataset] = None,
        cache_data: bool = True,
        **kwargs,
    ) -> TrainOutput:
        return super().train_model(training_data, validation_data, cache_data=cache_data, **kwargs)

    def train(
        self,
        training_data: Dataset,
        validation_data: Optional[Dataset] = None,
        shuffle_buffer_length: Optional[int] = None,
        cache_data: bool = True,
        ckpt_path: Optional[str] = None,
        **kwargs,
    ) -> PyTorchPredictor:
        return self.train_model(
            training_data,
            validation_data,
            shuffle_buffer_length=shuffle_buffer_length,
            cache_data=cache_data,
            ckpt_path=ckpt_path,
        ).predictor

    def train_from(
        self,
        predictor: PyTorchPredictor,
        training_data: Dataset,
        validation_data: Optional[Dataset] = None,
        shuffle_buffer_length: Optional[int] = None,
        cache_data: bool = True,
        ckpt_path: Optional[str] = None,
    ) -> PyTorchPredictor:
        return self.train_model(
            training_data,
            validation_data,
            from_predictor=predictor,
            shuffle_buffer_length=shuffle_buffer_length,
            cache_data=cache_data,
            ckpt_path=ckpt_path,
        ).predictor
