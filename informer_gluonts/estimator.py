"""``InformerEstimator``: data pipeline, training loop and predictor."""

from typing import Any, Dict, Iterable, List, Optional, Union

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from gluonts.core.component import validated
from gluonts.dataset.common import Dataset
from gluonts.dataset.field_names import FieldName
from gluonts.dataset.loader import as_stacked_batches
from gluonts.itertools import Cyclic
from gluonts.time_feature import (
    TimeFeature,
    get_lags_for_frequency,
    time_features_from_frequency_str,
)
from gluonts.torch.distributions import DistributionOutput
from gluonts.torch.model.predictor import PyTorchPredictor
from gluonts.transform import (
    AddAgeFeature,
    AddObservedValuesIndicator,
    AddTimeFeatures,
    AsNumpyArray,
    Chain,
    DummyValueImputation,
    ExpectedNumInstanceSampler,
    InstanceSplitter,
    RemoveFields,
    RenameFields,
    SetField,
    TestSplitSampler,
    Transformation,
    ValidationSplitSampler,
    VstackFeatures,
)
from gluonts.transform.sampler import InstanceSampler

from lagllama_gluonts.common.covariates import CheckCovariates, covariates_of
from lagllama_gluonts.common.estimator import ForecastEstimator, trainer_defaults
from lagllama_gluonts.common.predictor import CheckedPredictor
from lagllama_gluonts.common.validation import DataError, ValidateSeries, describe

from .arguments import check_arguments, make_distr_output, renamed_arguments
from .defaults import DEVICE, LR_PATIENCE, TRAINING
from .lightning_module import InformerLightningModule

TRAINING_TARGET_NAMES = ["future_target", "future_observed_values"]
TIME_MARKS = "time_marks"


# The official integer calendar marks (``timeenc=0``) for embed="fixed"/"learned", as GluonTS
# time features: plain module-level functions, which serde stores by name, so they travel
# with a serialized predictor's transformation.
def month_mark(index: pd.PeriodIndex) -> np.ndarray:
    return np.asarray(index.month, dtype=np.float32)  # 1 .. 12


def day_mark(index: pd.PeriodIndex) -> np.ndarray:
    return np.asarray(index.day, dtype=np.float32)  # 1 .. 31


def weekday_mark(index: pd.PeriodIndex) -> np.ndarray:
    return np.asarray(index.dayofweek, dtype=np.float32)  # Monday 0 .. Sunday 6


def hour_mark(index: pd.PeriodIndex) -> np.ndarray:
    return np.asarray(index.hour, dtype=np.float32)


def minute_mark(index: pd.PeriodIndex) -> np.ndarray:
    return np.asarray(index.minute // 15, dtype=np.float32)  # quarter of the hour


CALENDAR_MARK_FEATURES = (month_mark, day_mark, weekday_mark, hour_mark, minute_mark)


def _frequency_features(freq: str, time_features, lags):
    """Resolve calendar features and lags, naming the frequency on error."""
    try:
        if time_features is None:
            time_features = time_features_from_frequency_str(freq)
        if lags is None:
            lags = get_lags_for_frequency(freq_str=freq)
    except Exception as error:
        raise ValueError(
            f"unknown or unsupported frequency {freq!r} (use a pandas offset alias such as 'h', 'D', 'W', 'M'): {error}"
        ) from None
    return time_features, lags


class InformerEstimator(ForecastEstimator):
    """
    Estimator class to train an Informer model (Zhou et al., AAAI 2021,
    "Informer: Beyond Efficient Transformer for Long Sequence Time-Series
    Forecasting") with a probabilistic output.

    This class uses the model defined in ``InformerModel``, and wraps it
    into an ``InformerLightningModule`` for training purposes: training is
    performed using PyTorch Lightning's ``pl.Trainer`` class. The decoder
    is generative: the whole horizon comes out of one forward pass.
    Training runs through the shared
    :class:`~lagllama_gluonts.common.estimator.ForecastEstimator`: each
    series transformed once, the data checked first, the best epoch's
    weights kept in memory, nothing written to the working directory
    unless ``trainer_kwargs`` asks for it.

    Parameters
    ----------
    freq
        Frequency of the data to train on and predict.
    prediction_length
        Length of the prediction horizon.
    context_length
        Number of time steps the encoder reads (default:
        ``4 * prediction_length``, the ratio of the official defaults
        96/24).
    label_len
        Length of the decoder's start token, taken from the end of the
        context (default: ``context_length // 2``, as in the paper).
    d_model
        Width of the transformer (default: 64; paper: 512).
    n_heads
        Number of attention heads (default: 4; paper: 8).
    e_layers
        Number of encoder layers (default: 2), or a list of depths such as
        ``[3, 2, 1]``: the official ``InformerStack``, one encoder per entry
        on the last ``1 / 2**i`` of the context, outputs concatenated.
    d_layers
        Number of decoder layers (default: 1).
    d_ff
        Width of the feed-forward blocks (default: 128; paper: 2048).
    attention
        ``"prob"`` (ProbSparse self-attention, default) or ``"full"``.
    factor
        ProbSparse sampling factor (default: 5).
    distil
        Whether to use self-attention distilling between encoder layers
        (default: True).
    dropout
        Dropout rate (default: 0.05).
    activation
        ``"gelu"`` (default) or ``"relu"``.
    embed
        Calendar information, the official ``--embed``: ``"timeF"``
        (default: GluonTS's time features of ``freq`` as token inputs),
        ``"fixed"`` (frozen sinusoidal tables) or ``"learned"`` (trained
        tables) of the integer month, day, weekday, hour and minute // 15,
        added to the token embedding (the calendar time features are then
        left out unless ``time_features`` names some).
    mix
        The official ``--mix`` (default True): decoder self-attention
        outputs mixed across heads and positions.
    padding
        The official ``--padding``: value of the decoder's horizon
        placeholders, 0 (default) or 1.
    target_dim
        ``None`` (default): univariate series, targets of shape ``(T,)``.
        An integer ``D``: the official "M" setting, targets of shape
        ``(D, T)`` (GluonTS's multivariate form, e.g. from
        ``MultivariateGrouper``) forecast jointly; forecasts are
        ``SampleForecast`` with samples ``(num_samples, prediction_length,
        D)``, scored with GluonTS's ``MultivariateEvaluator``. Lags and
        scaling are per variable; NaN marks a missing value of one variable
        (observed mask per variable, left out of the loss); a variable
        without any observed value in a training series is an error.
    num_feat_dynamic_real
        Number of covariates known in the future (``feat_dynamic_real``,
        which must then extend ``prediction_length`` steps past the target
        at prediction time) (default: 0).
    num_past_feat_dynamic_real
        Number of covariates known only in the past
        (``past_feat_dynamic_real``) (default: 0).
    num_feat_static_cat
        Number of static categorical features (default: 0).
    num_feat_static_real
        Number of static real features (default: 0).
    cardinality
        Number of values of each categorical feature; required if
        ``num_feat_static_cat > 0``. Without categorical features it is
        ignored: ``None`` and GluonTS's ``[1]`` both mean "none", as in
        ``LagLlamaEstimator`` (the attribute is then ``None``).
    embedding_dimension
        Dimension of the embeddings for categorical features (default:
        ``[min(50, (cat+1)//2) for cat in cardinality]``).
    distr_output
        Distribution to use to evaluate observations and sample predictions:
        a GluonTS ``DistributionOutput`` or a name, ``"studentT"`` (default;
        also ``"student-t"``) or ``"low-rank-normal"`` (with ``target_dim``:
        ``LowRankMultivariateNormalOutput(dim=target_dim)``), the names
        ``LagLlamaEstimator`` and the command lines take. With ``target_dim``, a univariate output
        is applied independently per variable; a multivariate one (event
        shape ``(D,)``, e.g. ``informer_gluonts.distributions.
        LowRankMultivariateNormalOutput(dim=D)``) models their correlations.
    scaling
        ``"std"`` (default), ``"mean"``, ``"robust"`` or ``"none"``: scaler
        fitted on the observed context of each window; ``log(scale)`` is fed
        as a static feature.
    lags
        Target lags (>= 1) fed as features besides the current value: lag
        ``L`` is the value ``L`` steps before the predicted position, the
        convention of GluonTS's ``get_lags_for_frequency(freq)``, which is
        the default (``[]`` to disable). The network reads
        ``past_length = context_length + max(lags)`` past steps.
        ``LagLlamaEstimator`` takes the same 1-based ``lags``.
    lags_seq
        Deprecated name of ``lags`` (warns): the same 1-based lags. The name
        is Lag-Llama's, whose ``lags_seq`` are the reference's 0-based
        indices (index ``i`` = lag ``i + 1``), so one name had two meanings.
    time_features
        Calendar features (default:
        ``time_features_from_frequency_str(freq)``); an age feature is
        always added.
    num_parallel_samples
        Number of sample paths per series the predictor draws (default:
        100).
    nonnegative_pred_samples
        Clip the predicted sample paths at 0 (default: False), for data
        that cannot be negative; training is unaffected. GluonTS's option
        of the same name.
    batch_size
        Size of the training batches (default: 32).
    num_batches_per_epoch
        Number of batches per training epoch (default: 50).
    lr
        Adam's learning rate (default: ``1e-3``).
    weight_decay
        Weight decay regularization parameter (default: ``1e-8``).
    lr_patience
        Epochs without a lower loss before ``ReduceLROnPlateau`` halves the
        learning rate (default: 10).
    patience
        Deprecated name of ``lr_patience`` (warns): everywhere else
        (``finetune``, the command lines' ``--patience``) patience means
        early stopping, which is ``early_stopping_patience`` here.
    early_stopping_patience
        If set and validation data is given to ``train``, stop once
        ``val_loss`` has not improved for this many epochs (the best
        checkpoint is restored either way).
    trainer_kwargs
        Additional arguments to provide to ``pl.Trainer`` for construction.
    train_sampler
        Controls the sampling of windows during training.
    validation_sampler
        Controls the sampling of windows during validation.
    device
        Where training and prediction run: ``"auto"`` (CUDA when
        available, the default), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
        ``torch.device``.

    Training defaults (batch size, batches per epoch, learning rate, the
    trainer's 100 epochs, gradient clipping at 10, precision) are
    ``informer_gluonts.defaults.TRAINING``, which the command line reads
    too. The loss is the negative log-likelihood of the horizon, averaged
    over each series' observed steps and then over the series of a batch
    (a per-series mean; Lag-Llama trains on a mean over all observed
    tokens of the batch).
    """

    @validated()
    def __init__(
        self,
        freq: str,
        prediction_length: int,
        context_length: Optional[int] = None,
        label_len: Optional[int] = None,
        d_model: int = 64,
        n_heads: int = 4,
        e_layers: Union[int, List[int]] = 2,
        d_layers: int = 1,
        d_ff: int = 128,
        attention: str = "prob",
        factor: int = 5,
        distil: bool = True,
        dropout: float = 0.05,
        activation: str = "gelu",
        embed: str = "timeF",
        mix: bool = True,
        padding: float = 0.0,
        target_dim: Optional[int] = None,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_cat: int = 0,
        num_feat_static_real: int = 0,
        cardinality: Optional[List[int]] = None,
        embedding_dimension: Optional[List[int]] = None,
        distr_output: Union[str, DistributionOutput] = "studentT",
        scaling: str = "std",
        lags: Optional[List[int]] = None,
        time_features: Optional[List[TimeFeature]] = None,
        num_parallel_samples: int = 100,
        nonnegative_pred_samples: bool = False,
        batch_size: int = TRAINING.batch_size,
        num_batches_per_epoch: int = TRAINING.num_batches_per_epoch,
        lr: float = TRAINING.lr,
        weight_decay: float = TRAINING.weight_decay,
        lr_patience: int = LR_PATIENCE,
        early_stopping_patience: Optional[int] = TRAINING.early_stopping_patience,
        trainer_kwargs: Optional[Dict[str, Any]] = None,
        train_sampler: Optional[InstanceSampler] = None,
        validation_sampler: Optional[InstanceSampler] = None,
        device: Union[str, torch.device, None] = DEVICE,
        # deprecated names, kept working (they warn): see ``lags`` and ``lr_patience``
        lags_seq: Optional[List[int]] = None,
        patience: Optional[int] = None,
    ) -> None:
        super().__init__(trainer_kwargs=trainer_defaults(trainer_kwargs, device, **TRAINING.trainer_kwargs()))
        lags, lr_patience = renamed_arguments(lags, lags_seq, lr_patience, patience)
        distr_output = make_distr_output(distr_output, target_dim)
        check_arguments({**locals(), "distr_output": distr_output, "lr_patience": lr_patience})

        self.freq = freq
        self.device = device
        self.prediction_length = prediction_length
        self.context_length = context_length if context_length is not None else 4 * prediction_length
        self.label_len = label_len if label_len is not None else self.context_length // 2
        if not 0 <= self.label_len <= self.context_length:
            raise ValueError(f"label_len must lie in [0, context_length={self.context_length}], got {self.label_len}")
        self.time_features, lags = _frequency_features(freq, time_features, lags)
        if embed != "timeF" and time_features is None:
            # the temporal embedding carries the calendar; no second copy as token inputs
            self.time_features = []
        self.lags = list(lags)
        if any(lag < 1 for lag in self.lags):
            raise ValueError(f"lags must be >= 1, got {self.lags}")

        self.d_model = d_model
        self.n_heads = n_heads
        self.e_layers = list(e_layers) if isinstance(e_layers, (list, tuple)) else e_layers
        self.d_layers = d_layers
        self.d_ff = d_ff
        self.attention = attention
        self.factor = factor
        self.distil = distil
        self.dropout = dropout
        self.activation = activation
        self.embed = embed
        self.mix = mix
        self.padding = padding
        self.target_dim = target_dim
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.num_feat_static_cat = num_feat_static_cat
        self.num_feat_static_real = num_feat_static_real
        # None or [1]: no categorical feature, one meaning for both models (see the docstring)
        self.cardinality = list(cardinality) if cardinality and num_feat_static_cat > 0 else None
        self.embedding_dimension = embedding_dimension
        self.distr_output = distr_output
        self.scaling = scaling
        self.num_parallel_samples = num_parallel_samples
        self.nonnegative_pred_samples = nonnegative_pred_samples
        self.batch_size = batch_size
        self.num_batches_per_epoch = num_batches_per_epoch
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_patience = lr_patience
        self.early_stopping_patience = early_stopping_patience

        self.train_sampler = train_sampler or ExpectedNumInstanceSampler(
            num_instances=1.0, min_future=prediction_length
        )
        self.validation_sampler = validation_sampler or ValidationSplitSampler(min_future=prediction_length)

    # -- the shared vocabulary: public and deprecated names -------------------------------------

    @property
    def past_length(self) -> int:
        """Past values one window holds: the context and the longest lag's reach before it."""
        return self.context_length + max(self.lags, default=0)

    @property
    def lags_seq(self) -> List[int]:
        """Deprecated name of :attr:`lags` (1-based; Lag-Llama's ``lags_seq`` are 0-based indices)."""
        return self.lags

    @property
    def patience(self) -> int:
        """Deprecated name of :attr:`lr_patience`."""
        return self.lr_patience

    @classmethod
    def derive_auto_fields(cls, train_iter):
        # the largest code + 1, not the number of distinct codes: codes {0, 5} need six embeddings
        config = covariates_of(train_iter)
        keys = ("num_feat_dynamic_real", "num_past_feat_dynamic_real", "num_feat_static_cat", "cardinality")
        return {key: config[key] for key in keys}

    def _check_covariates(self) -> CheckCovariates:
        return CheckCovariates.for_estimator(self)

    def check_training_data(self, training_data: Dataset, validation_data: Optional[Dataset]) -> None:
        super().check_training_data(training_data, validation_data)
        for dataset in (training_data, validation_data or []):
            self._check_covariates().check_dataset(dataset)  # every item, before any training
        if self.target_dim is None:
            return
        # NaNs in some variables are missing values (masked per variable); a variable that is
        # never observed in a series has nothing to scale it by or learn from: almost always a
        # wrong column or an upstream bug, so it is named rather than silently trained on.
        for index, entry in enumerate(training_data):
            target = np.asarray(entry["target"], dtype=np.float64)
            empty = np.flatnonzero(np.isnan(target).all(axis=1))
            if empty.size:
                raise DataError(
                    f"{describe(entry, index)}: variable {int(empty[0])} of 'target' has no observed value "
                    f"(all {target.shape[1]} values are NaN); drop it or give it data"
                )

    # ----------------------------------------------------------------------
    # Data pipeline
    # ----------------------------------------------------------------------

    def create_transformation(self) -> Transformation:
        return Chain(
            [ValidateSeries(target_dim=self.target_dim, freq=self.freq), self._check_covariates()]
            + self._static_field_steps()
            + self._target_and_time_steps()
            + self._covariate_steps()
        )

    def _static_field_steps(self) -> List[Transformation]:
        """Drop the covariate fields the model does not use; a constant static feature where none is given."""
        remove_field_names = []
        if self.num_feat_static_real == 0:
            remove_field_names.append(FieldName.FEAT_STATIC_REAL)
        if self.num_feat_dynamic_real == 0:
            remove_field_names.append(FieldName.FEAT_DYNAMIC_REAL)
        if self.num_past_feat_dynamic_real == 0:
            remove_field_names.append(FieldName.PAST_FEAT_DYNAMIC_REAL)
        steps: List[Transformation] = [RemoveFields(field_names=remove_field_names)]
        if not self.num_feat_static_cat > 0:
            steps.append(SetField(output_field=FieldName.FEAT_STATIC_CAT, value=[0]))
        if not self.num_feat_static_real > 0:
            steps.append(SetField(output_field=FieldName.FEAT_STATIC_REAL, value=[0.0]))
        return steps + [
            AsNumpyArray(field=FieldName.FEAT_STATIC_CAT, expected_ndim=1, dtype=int),
            AsNumpyArray(field=FieldName.FEAT_STATIC_REAL, expected_ndim=1),
        ]

    def _target_and_time_steps(self) -> List[Transformation]:
        """The target, its observed mask, calendar features and the age feature."""
        return [
            AsNumpyArray(
                field=FieldName.TARGET,
                expected_ndim=1 if self.target_dim is None else 2,
            ),
            AddObservedValuesIndicator(
                target_field=FieldName.TARGET,
                output_field=FieldName.OBSERVED_VALUES,
                imputation_method=DummyValueImputation(self.distr_output.value_in_support),
            ),
            AddTimeFeatures(
                start_field=FieldName.START,
                target_field=FieldName.TARGET,
                output_field=FieldName.FEAT_TIME,
                time_features=self.time_features,
                pred_length=self.prediction_length,
            ),
            AddAgeFeature(
                target_field=FieldName.TARGET,
                output_field=FieldName.FEAT_AGE,
                pred_length=self.prediction_length,
                log_scale=True,
            ),
        ]

    def _covariate_steps(self) -> List[Transformation]:
        """Known-future covariates stacked with the time features, calendar marks, past-only covariates."""
        known = self.num_feat_dynamic_real > 0
        steps: List[Transformation] = []
        if known:
            steps.append(AsNumpyArray(field=FieldName.FEAT_DYNAMIC_REAL, expected_ndim=2))
        steps += [
            # Known-future covariates ride along with the calendar
            # features (they come last, see InformerModel).
            VstackFeatures(
                output_field=FieldName.FEAT_TIME,
                input_fields=[FieldName.FEAT_TIME, FieldName.FEAT_AGE]
                + ([FieldName.FEAT_DYNAMIC_REAL] if known else []),
            ),
            AsNumpyArray(FieldName.FEAT_TIME, expected_ndim=2),
        ]
        if self.embed != "timeF":
            steps.append(
                AddTimeFeatures(
                    start_field=FieldName.START,
                    target_field=FieldName.TARGET,
                    output_field=TIME_MARKS,
                    time_features=list(CALENDAR_MARK_FEATURES),
                    pred_length=self.prediction_length,
                )
            )
        if self.num_past_feat_dynamic_real > 0:
            steps.append(AsNumpyArray(field=FieldName.PAST_FEAT_DYNAMIC_REAL, expected_ndim=2))
        return steps

    def _create_instance_splitter(self, module: InformerLightningModule, mode: str) -> Transformation:
        assert mode in ["training", "validation", "test"]

        instance_sampler = {
            "training": self.train_sampler,
            "validation": self.validation_sampler,
            "test": TestSplitSampler(),
        }[mode]

        past_covariates = self.num_past_feat_dynamic_real > 0
        splitter = InstanceSplitter(
            target_field=FieldName.TARGET,
            is_pad_field=FieldName.IS_PAD,
            start_field=FieldName.START,
            forecast_start_field=FieldName.FORECAST_START,
            instance_sampler=instance_sampler,
            past_length=self.past_length,
            future_length=self.prediction_length,
            time_series_fields=[FieldName.FEAT_TIME, FieldName.OBSERVED_VALUES]
            + ([FieldName.PAST_FEAT_DYNAMIC_REAL] if past_covariates else [])
            + ([TIME_MARKS] if self.embed != "timeF" else []),
            dummy_value=self.distr_output.value_in_support,
        )
        if not past_covariates:
            return splitter
        # The splitter names the past slice "past_past_feat_dynamic_real";
        # only that slice is used, under the field's own name.
        return splitter + Chain(
            [
                RemoveFields(field_names=[f"future_{FieldName.PAST_FEAT_DYNAMIC_REAL}"]),
                RenameFields({f"past_{FieldName.PAST_FEAT_DYNAMIC_REAL}": (FieldName.PAST_FEAT_DYNAMIC_REAL)}),
            ]
        )

    def _input_names(self, module: InformerLightningModule) -> List[str]:
        return list(module.model.describe_inputs().keys())

    def create_training_data_loader(
        self,
        data: Dataset,
        module: InformerLightningModule,
        shuffle_buffer_length: Optional[int] = None,
        **kwargs,
    ) -> Iterable:
        data = Cyclic(data).stream()
        instances = self._create_instance_splitter(module, "training").apply(data, is_train=True)
        return as_stacked_batches(
            instances,
            batch_size=self.batch_size,
            shuffle_buffer_length=shuffle_buffer_length,
            field_names=self._input_names(module) + TRAINING_TARGET_NAMES,
            output_type=torch.tensor,
            num_batches_per_epoch=self.num_batches_per_epoch,
        )

    def create_validation_data_loader(
        self,
        data: Dataset,
        module: InformerLightningModule,
        **kwargs,
    ) -> Iterable:
        instances = self._create_instance_splitter(module, "validation").apply(data, is_train=True)
        return as_stacked_batches(
            instances,
            batch_size=self.batch_size,
            field_names=self._input_names(module) + TRAINING_TARGET_NAMES,
            output_type=torch.tensor,
        )

    # ----------------------------------------------------------------------
    # Network and predictor
    # ----------------------------------------------------------------------

    def create_lightning_module(self) -> InformerLightningModule:
        return InformerLightningModule(
            lr=self.lr,
            weight_decay=self.weight_decay,
            lr_patience=self.lr_patience,
            model_kwargs={
                "context_length": self.context_length,
                "prediction_length": self.prediction_length,
                "num_time_features": len(self.time_features) + 1,  # + age
                "num_feat_dynamic_real": self.num_feat_dynamic_real,
                "num_past_feat_dynamic_real": self.num_past_feat_dynamic_real,
                "num_feat_static_real": max(1, self.num_feat_static_real),
                "num_feat_static_cat": max(1, self.num_feat_static_cat),
                # the network always has one categorical input: a constant 0 of one value without any
                "cardinality": self.cardinality or [1],
                "embedding_dimension": self.embedding_dimension,
                "lags_seq": self.lags,  # InformerModel's own name: 1-based, lag 0 added there
                "label_len": self.label_len,
                "d_model": self.d_model,
                "n_heads": self.n_heads,
                "e_layers": self.e_layers,
                "d_layers": self.d_layers,
                "d_ff": self.d_ff,
                "attention": self.attention,
                "factor": self.factor,
                "distil": self.distil,
                "dropout": self.dropout,
                "activation": self.activation,
                "embed": self.embed,
                "mix": self.mix,
                "padding": self.padding,
                "target_dim": self.target_dim,
                "distr_output": self.distr_output,
                "scaling": self.scaling,
                "num_parallel_samples": self.num_parallel_samples,
                "nonnegative_pred_samples": self.nonnegative_pred_samples,
            },
        )

    def create_predictor(
        self,
        transformation: Transformation,
        module: InformerLightningModule,
    ) -> PyTorchPredictor:
        prediction_splitter = self._create_instance_splitter(module, "test")
        return CheckedPredictor(
            input_transform=transformation + prediction_splitter,
            input_names=self._input_names(module),
            prediction_net=module,
            batch_size=self.batch_size,
            prediction_length=self.prediction_length,
            device=self.predictor_device(),
        )

    # ----------------------------------------------------------------------
    # Training
    # ----------------------------------------------------------------------

    def extra_callbacks(self, validation_data: Optional[Dataset]) -> List[pl.Callback]:
        if self.early_stopping_patience is None or validation_data is None:
            return []
        return [
            pl.callbacks.EarlyStopping(
                monitor="val_loss",
                mode="min",
                patience=self.early_stopping_patience,
            )
        ]
