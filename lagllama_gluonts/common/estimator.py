"""The estimator base both models share: GluonTS's ``PyTorchLightningEstimator`` with the
training loop written once, here, for what GluonTS's leaves to chance.

* **Each series is transformed once** (``cache_data=True`` by default). GluonTS applies
  ``create_transformation()`` lazily and its training loader cycles over the transformed
  data forever: without the cache every pass re-runs the per-series chain (time features
  over the whole length of each series, observed indicators, checks) only for the instance
  splitter to keep one window; on ``ett_small_1h`` (17,420-step series) that dominated the
  epoch (``benchmarks/results/speed.md``). Both models' per-series chains are deterministic
  (the sampler and augmentations come after), so replaying the result gives the same windows
  in the same order. ``cache_data=False`` restores the lazy path for data larger than memory.
* **The data is checked before training starts** (:func:`check_dataset`): an empty set, or one
  without a series longer than the horizon, would make GluonTS's cycling loader hang.
* **Nothing is written into the working directory unless asked.** GluonTS adds a
  ``ModelCheckpoint`` that writes ``./checkpoints/*.ckpt`` (or ``lightning_logs/``) on every
  run, and reloads the best epoch from it, which on GluonTS < 0.17 is not ``weights_only``-safe.
  Here the best epoch's weights (lowest ``val_loss``, else ``train_loss``) are kept in memory
  and restored after fitting (:class:`BestWeights`); logging and Lightning checkpointing are off
  by default, and come back when the user passes ``logger=``, ``enable_checkpointing=True``,
  a ``ModelCheckpoint`` callback or ``default_root_dir=``.
* **The user's callbacks survive repeated ``train()`` calls** (GluonTS pops them out of
  ``trainer_kwargs`` on the first).
* **One device policy** (:func:`resolve_device`): ``"auto"`` (or None) is CUDA when available,
  else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device`` name it. The trainer gets
  the matching accelerator unless ``trainer_kwargs`` names one, and the predictor runs there.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import lightning.pytorch as pl
import torch
from gluonts.core import serde
from gluonts.core.settings import let
from gluonts.dataset.common import Dataset
from gluonts.env import env
from gluonts.itertools import Cached
from gluonts.torch.model.estimator import PyTorchLightningEstimator, TrainOutput
from gluonts.torch.model.predictor import PyTorchPredictor

from .validation import check_dataset

DeviceLike = Union[str, torch.device, None]


def _encode_device(device: torch.device) -> str:
    return str(device)


def register_device_encoder() -> None:
    """Teach GluonTS serde to encode a ``torch.device`` as its name; idempotent.

    serde cannot encode a torch.device, so an estimator built with
    ``device=torch.device("cpu")`` (as the reference's demos do) could not be serialized. Its
    name is all the estimators need (they accept "cpu", "cuda:1"...), and serde decodes a
    string without having to allow torch.device as a class to instantiate. serde's registry
    is its one extension point, so this is called where a device can enter an estimator
    (:class:`ForecastEstimator`'s constructor), not as a side effect of importing this module.
    """
    if serde.encode.dispatch(torch.device) is not _encode_device:
        serde.encode.register(torch.device)(_encode_device)


def resolve_device(device: DeviceLike) -> str:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"``...: ``None``/``"auto"`` is CUDA when available, else CPU."""
    if device is None or str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return str(torch.device(device))
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}") from None


def _accelerator(device: DeviceLike) -> Dict[str, Any]:
    if device is None or str(device) == "auto":
        return {}
    kind = torch.device(resolve_device(device))
    if kind.type == "cpu":
        return {"accelerator": "cpu"}
    if kind.type == "cuda":
        return {"accelerator": "gpu", "devices": [kind.index or 0]}
    return {"accelerator": kind.type}


def trainer_defaults(
    trainer_kwargs: Optional[Dict[str, Any]], device: DeviceLike = None, **model_defaults: Any
) -> Dict[str, Any]:
    """Trainer settings: ``model_defaults`` (e.g. ``max_epochs``), then quiet and write-nothing
    defaults, then the device's accelerator, each overridden by what the user gave."""
    user = dict(trainer_kwargs or {})
    callbacks = list(user.get("callbacks", []))
    asks_checkpoints = any(isinstance(cb, pl.callbacks.ModelCheckpoint) for cb in callbacks)
    quiet = {"logger": False, "enable_checkpointing": asks_checkpoints or "default_root_dir" in user}
    return {**model_defaults, **quiet, **_accelerator(device), **user}


class BestWeights(pl.Callback):
    """Keep, in memory, a copy of the weights of the epoch with the lowest ``monitor``.

    Monitors at the end of each validation run, or of each training epoch when there is no
    validation loop (as Lightning's ``ModelCheckpoint`` does), so ``train_loss`` works too.
    """

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.best_score = float("inf")
        self.best_state: Optional[Dict[str, torch.Tensor]] = None

    def _consider(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or score is None or not float(score) < self.best_score:
            return
        self.best_score = float(score)
        self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in pl_module.state_dict().items()}

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.monitor.startswith("val"):
            self._consider(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.monitor.startswith("val"):
            self._consider(trainer, pl_module)


class ForecastEstimator(PyTorchLightningEstimator):
    """Base of ``LagLlamaEstimator`` and ``InformerEstimator`` (see the module docstring).

    Subclasses set ``prediction_length``, ``device`` and ``freq`` and may override
    :meth:`check_training_data`; everything else is GluonTS's estimator protocol.
    """

    prediction_length: int
    device: DeviceLike = None
    freq: Optional[str] = None
    target_dim: Optional[int] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        register_device_encoder()  # the estimator's own arguments may hold a torch.device
        super().__init__(*args, **kwargs)

    # -- data checks --------------------------------------------------------------------------

    def check_training_data(self, training_data: Dataset, validation_data: Optional[Dataset]) -> None:
        check_dataset(
            training_data, "training", target_dim=self.target_dim, freq=self.freq, min_length=self.prediction_length + 1
        )
        if validation_data is not None:
            check_dataset(validation_data, "validation", target_dim=self.target_dim, freq=self.freq)

    # -- the training loop --------------------------------------------------------------------

    def prepare(self, training_data: Dataset, from_predictor: Optional[PyTorchPredictor]) -> None:
        """Settle what depends on the training data (e.g. lags of its frequency); after the checks."""

    def extra_callbacks(self, validation_data: Optional[Dataset]) -> List[pl.Callback]:
        """Callbacks a model adds to every run (e.g. early stopping); none by default."""
        return []

    def train_model(
        self,
        training_data: Dataset,
        validation_data: Optional[Dataset] = None,
        from_predictor: Optional[PyTorchPredictor] = None,
        shuffle_buffer_length: Optional[int] = None,
        cache_data: bool = True,
        ckpt_path: Optional[str] = None,
        **kwargs,
    ) -> TrainOutput:
        self.check_training_data(training_data, validation_data)
        self.prepare(training_data, from_predictor)
        transformation = self.create_transformation()
        with let(env, max_idle_transforms=max(len(training_data), 100)):
            transformed = transformation.apply(training_data, is_train=True)
            if cache_data:
                transformed = Cached(transformed)
            network = self.create_lightning_module()
            training_loader = self.create_training_data_loader(
                transformed, network, shuffle_buffer_length=shuffle_buffer_length
            )
        validation_loader = None
        if validation_data is not None:
            with let(env, max_idle_transforms=max(len(validation_data), 100)):
                transformed_validation = transformation.apply(validation_data, is_train=True)
                if cache_data:
                    transformed_validation = Cached(transformed_validation)
                validation_loader = self.create_validation_data_loader(transformed_validation, network)
        if from_predictor is not None:
            network.load_state_dict(from_predictor.network.state_dict())

        best = BestWeights("train_loss" if validation_data is None else "val_loss")
        settings = dict(self.trainer_kwargs)  # a copy: the user's callbacks stay for the next run
        callbacks = [best, *self.extra_callbacks(validation_data), *settings.pop("callbacks", [])]
        trainer = pl.Trainer(**{"accelerator": "auto", **settings, "callbacks": callbacks})
        trainer.fit(
            model=network, train_dataloaders=training_loader, val_dataloaders=validation_loader, ckpt_path=ckpt_path
        )
        if best.best_state is not None:
            network.load_state_dict(best.best_state)
        return TrainOutput(
            transformation=transformation,
            trained_net=network,
            trainer=trainer,
            predictor=self.create_predictor(transformation, network),
        )

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
            **kwargs,
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

    # -- the predictor ------------------------------------------------------------------------

    def predictor_device(self) -> str:
        return resolve_device(self.device)
