"""``LagLlamaEstimator``: Lag-Llama as a GluonTS ``PyTorchLightningEstimator``.

Lags follow one convention with ``informer_gluonts``: a lag ``L >= 1`` is the value ``L`` steps
before the predicted position (GluonTS's ``get_lags_for_frequency``). ``lags_seq`` keeps the
reference's 0-based indices (index ``i`` = lag ``i + 1``), because the reference's constructor
and every released checkpoint use them: :func:`resolve_lags` and :func:`frequency_lags` return
such indices, and ``LagLlamaModel.lags`` gives the network's set 1-based.
"""

import logging
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

import lightning.pytorch as pl
import torch
from gluonts.core.component import validated
from gluonts.dataset.common import Dataset
from gluonts.dataset.field_names import FieldName
from gluonts.dataset.loader import as_stacked_batches
from gluonts.itertools import Cyclic
from gluonts.time_feature import time_features_from_frequency_str
from gluonts.torch.distributions import DistributionOutput
from gluonts.torch.model.predictor import PyTorchPredictor
from gluonts.transform import (
    AddObservedValuesIndicator,
    AddTimeFeatures,
    Chain,
    DummyValueImputation,
    ExpectedNumInstanceSampler,
    InstanceSampler,
    InstanceSplitter,
    TestSplitSampler,
    Transformation,
    ValidationSplitSampler,
)

from .arguments import (  # noqa: F401 (resolve_lags: public here since the start)
    DEFAULT_LAG_FREQUENCIES,
    check_arguments,
    finetune_covariate_lr,
    frequency_lags,
    initial_lags,
    make_distr_output,
    resolve_lags,
)
from .augmentations import Augmentations
from .checkpoint import COVARIATE_KWARGS, Checkpoint, CheckpointError, describe_covariates, read_checkpoint
from .common.estimator import ForecastEstimator, trainer_defaults
from .common.predictor import CheckedPredictor
from .common.validation import DataError, ValidateSeries, check_positive
from .covariates import KNOWN, PAST_ONLY, JoinCovariates, ValidateCovariates, covariates_of
from .defaults import DEVICE, FINE_TUNING, TRAINING
from .lightning_module import LagLlamaLightningModule

logger = logging.getLogger(__name__)

PREDICTION_INPUT_NAMES = ["past_target", "past_observed_values"]
TRAINING_INPUT_NAMES = PREDICTION_INPUT_NAMES + ["future_target", "future_observed_values"]
TIME_FEAT_NAMES = ["past_time_feat", "future_time_feat"]

# one fine-tuning learning rate for the API and the `finetune` command (measured in
# benchmarks/results/finetune_settings.md; see defaults.py)
FINE_TUNING_LR = FINE_TUNING.lr

# the covariate inputs of the network and the estimator arguments that configure them
COVARIATE_NAMES = ["feat_dynamic_real", "past_feat_dynamic_real", "feat_static_real", "feat_static_cat"]


class LagLlamaEstimator(ForecastEstimator):
    """Lag-Llama (Rasul et al., 2023) as a GluonTS estimator.

    Constructor arguments follow the reference package, so code written for it runs by
    changing the import: an estimator with ``ckpt_path`` gives a zero-shot predictor via
    ``create_lightning_module()`` → ``create_transformation()`` → ``create_predictor()``,
    and its ``train()`` fine-tunes the checkpoint's weights.

    Training runs through the shared :class:`~lagllama_gluonts.common.estimator.ForecastEstimator`:
    each series transformed once, the data checked first, the best epoch's weights kept in
    memory, nothing written to the working directory unless ``trainer_kwargs`` asks for it.

    Parameters
    ----------
    prediction_length
        Length of the forecast horizon.
    context_length
        Tokens the model attends over (32 for the released model). The window read from
        each series is ``context_length + max(lags_seq)`` long, left-padded if shorter.
    input_size
        Must be 1.
    n_layer, n_embd_per_head, n_head
        Transformer depth and width.
    max_context_length
        Length the rotary embeddings are built for; dynamic rope scaling acts beyond it.
    rope_scaling
        None or ``{"type": "linear" | "dynamic", "factor": float >= 1}``.
    scaling
        "robust", "mean", "std", "none" or None (no scaling); any other name is an error.
    scaling_window
        Compute loc and scale from only the last ``scaling_window`` past values; None (the
        reference) uses all ``context_length + max(lags_seq)`` of them. See ``LagLlamaModel``.
        The default, "context", means ``context_length`` when training from scratch (on
        trending or short series the whole window's median and IQR lie far from the current
        level; the accuracy of these defaults is measured in ``benchmarks/results/accuracy.md``)
        and None with ``ckpt_path``, as reference checkpoints were trained (``from_checkpoint``
        reads it from the file).
    unobserved_as_loc
        Feed missing and padded past values as ``loc`` (0 after scaling) instead of the
        reference's raw 0. See ``LagLlamaModel``.
    lr, weight_decay
        AdamW settings (``defaults.TRAINING``: 1e-3 and 1e-8; ``from_checkpoint``: 1e-5).
    covariate_lr
        The covariate projection's own learning rate (None: ``lr``; ``from_checkpoint`` with
        covariates: ``defaults.FINETUNE_COVARIATE_LR``, as the projection starts at zero).
    augmentations
        Every augmentation setting below as one :class:`~lagllama_gluonts.augmentations.Augmentations`
        (``Augmentations(jitter_prob=0.5)``); the flat keywords stay the reference's compatibility
        path and build the same object. Giving both is an error.
    aug_prob, freq_mask_rate, freq_mixing_rate
        Frequency-masking and frequency-mixing augmentation.
    jitter_prob, jitter_sigma, scaling_prob, scaling_sigma, rotation_prob, permutation_prob,
    permutation_max_segments, permutation_seg_mode, magnitude_warp_prob, magnitude_warp_sigma,
    magnitude_warp_knot, time_warp_prob, time_warp_sigma, time_warp_knot, window_slice_prob,
    window_slice_reduce_ratio, window_warp_prob, window_warp_window_ratio, window_warp_scales
        The reference's eight time-domain augmentations, with its names and defaults (all
        off): see :class:`~lagllama_gluonts.augmentations.Augmentations`.
    distr_output
        "studentT" (default; also "student-t", Informer's and the command lines' spelling),
        "neg_bin" (also "negative-binomial"), "iqn" (GluonTS's implicit quantile network: trained
        on the quantile loss at random levels, each sample path drawing its own levels) or
        any GluonTS ``DistributionOutput``.
    loss
        None (the distribution's own: NLL, or the quantile loss for "iqn") or a callable
        ``loss(distribution, target)`` per position (the reference's ``loss=``).
    num_parallel_samples
        Sample paths per series at prediction time.
    batch_size, num_batches_per_epoch
        Training batches (32 and 50; ``from_checkpoint``: 25 batches per epoch).
    trainer_kwargs
        Passed to ``lightning.pytorch.Trainer`` over ``defaults.TRAINING``'s (100 epochs, gradient
        norms clipped at 1.0 as every command line and ``finetune`` run clips, 32-bit precision);
        ``{"gradient_clip_val": None}`` turns clipping off.
    early_stopping_patience
        With validation data given to ``train``: stop once ``val_loss`` has not improved for
        this many epochs (the best epoch is kept either way); None (default): no early stopping.
        Informer's name for the same; ``finetune`` stops on its held-out window's loss instead.
    train_sampler, validation_sampler
        Instance samplers for training and validation windows.
    time_feat
        Feed GluonTS's six time features of frequency "S" (whatever the data's frequency),
        as the released model was trained.
    dropout
        Attention dropout.
    lags_seq
        Frequency strings (their GluonTS lags, merged) or 0-based lag indices: index ``i`` is
        lag ``i + 1``, the value ``i + 1`` steps before the predicted position (the reference's
        indices; ``LagLlamaModel.lags`` gives them 1-based, as GluonTS and Informer count).
        By default: with ``ckpt_path``, the reference's lags of all frequencies (84 indices up
        to 1092, as released checkpoints were trained); from scratch, :func:`frequency_lags` of
        ``freq``, i.e. GluonTS's lags for the data's frequency, as ``DeepAREstimator`` picks
        them. The all-frequency lags of a pretrained model reach 1093 steps back; trained from
        scratch on one dataset they mostly point into padding (the from-scratch defaults'
        accuracy: ``benchmarks/results/accuracy.md``).
    lags
        The same lags 1-based (lag ``L`` is the value ``L`` steps back), as ``InformerEstimator``
        and GluonTS count them; ``lags=[1, 24]`` is ``lags_seq=[0, 23]``. Give one of the two.
        The :attr:`lags` property reads them back 1-based, :attr:`past_length` the window read
        from each series (``context_length + max(lags_seq)``).
    freq
        Frequency of the data (pandas alias), used only to pick the default ``lags_seq``.
        When neither is given, ``train()`` reads it from the training data's ``start``.
    use_cosine_annealing_lr, cosine_annealing_lr_args
        Cosine learning-rate decay. The default (None) decays from scratch and keeps ``lr``
        constant with ``ckpt_path``. Without ``cosine_annealing_lr_args`` the cosine spans the
        whole run (:meth:`planned_steps`), stepped every batch, down to ``lr / 100``; with them
        it is the reference's per-epoch ``CosineAnnealingLR(**cosine_annealing_lr_args)``.
        Trained from scratch for a few hundred steps, the last weights of a constant 1e-3
        depend on where the run happens to stop; a decayed rate ends on settled weights (the
        from-scratch results with it: ``benchmarks/results/accuracy.md``).
    ckpt_path
        A Lag-Llama checkpoint to start from; its shapes must match the architecture.
    nonnegative_pred_samples
        Clip sample paths at zero.
    use_kv_cache
        Exact kv-cache decoding at prediction time.
    rescale_every_step
        The reference's decoding, which re-runs the scaler over each path's growing
        history at every step (slower, no cache). Off by default: loc and scale are fixed
        from the observed history, which makes the cache exact.
    use_single_pass_sampling
        The reference's fast decoding: one pass per series fed its forecast mean, and
        ``num_parallel_samples`` independent draws per step. Its paths are **not coherent
        sample paths**: every step is conditioned on the mean path, so the spread does not
        compound over the horizon and path-level statistics (sums, maxima) are wrong; the
        per-step quantiles are only approximately right. Off by default.
    device
        Device of the predictor and trainer: "auto" (default, as for every API entry point) or
        None (CUDA when available), "cpu", "cuda", "cuda:N" or a ``torch.device``.
    num_feat_dynamic_real, num_past_feat_dynamic_real, num_feat_static_real, num_feat_static_cat, cardinality
        Covariates in GluonTS's fields, with ``DeepAREstimator``'s names: ``feat_dynamic_real``
        (known over the horizon: at prediction it must reach ``prediction_length`` steps past
        the target), ``past_feat_dynamic_real`` (known only up to the forecast start: never
        read beyond it), ``feat_static_real``, ``feat_static_cat`` (integer codes below
        ``cardinality``; without categorical features None and GluonTS's ``[1]`` both mean
        "none", in both models). ``from_inputs(dataset, ...)`` reads them from the data. They enter
        through a separate zero-initialised projection added to each token
        (``LagLlamaModel``'s ``CovariateEncoder``): with its initial weights the model
        forecasts exactly as without covariates, so a checkpoint trained without them
        fine-tunes with them. A checkpoint trained with covariates records them and refuses
        data without them.
    embedding_dimension, covariate_scaling
        Embedding size per static categorical feature (default ``min(50, (cardinality+1)//2)``);
        "std" (default: each dynamic covariate standardised by its own context window) or "none".
    covariate_regression
        The pretrained covariate pathway (``covariate_regression.py``); ``from_checkpoint`` reads it.
    target_dim
        None: univariate targets ``(time,)``. An integer ``D``: multivariate targets
        ``(D, time)``, forecast channel by channel with the univariate model (each variable
        scaled on its own; covariates shared); forecasts have samples
        ``(num_samples, prediction_length, D)``, what ``MultivariateEvaluator`` scores.
        ``from_inputs`` reads it from the data.

    Training minimises the negative log-likelihood averaged over every observed predicted
    position of a batch (a token-weighted mean, as the reference trains); ``LagLlamaModel.loss``
    and Informer's loss average per series first, so a long series weighs no more than a short
    one there. The two agree when every series of a batch has the same observed length.
    """

    @validated()
    def __init__(
        self,
        prediction_length: int,
        context_length: int = 32,
        input_size: int = 1,
        n_layer: int = 1,
        n_embd_per_head: int = 32,
        n_head: int = 4,
        max_context_length: int = 2048,
        rope_scaling: Any = None,  # a dict or None; checked below, naming the forms (pydantic would not)
        scaling: Optional[str] = "robust",
        scaling_window: Union[int, str, None] = "context",
        unobserved_as_loc: bool = False,
        lr: float = TRAINING.lr,
        weight_decay: float = TRAINING.weight_decay,
        covariate_lr: Optional[float] = None,
        aug_prob: float = 0.1,
        freq_mask_rate: float = 0.1,
        freq_mixing_rate: float = 0.1,
        jitter_prob: float = 0.0,
        jitter_sigma: float = 0.03,
        scaling_prob: float = 0.0,
        scaling_sigma: float = 0.1,
        rotation_prob: float = 0.0,
        permutation_prob: float = 0.0,
        permutation_max_segments: int = 5,
        permutation_seg_mode: str = "equal",
        magnitude_warp_prob: float = 0.0,
        magnitude_warp_sigma: float = 0.2,
        magnitude_warp_knot: int = 4,
        time_warp_prob: float = 0.0,
        time_warp_sigma: float = 0.2,
        time_warp_knot: int = 4,
        window_slice_prob: float = 0.0,
        window_slice_reduce_ratio: float = 0.9,
        window_warp_prob: float = 0.0,
        window_warp_window_ratio: float = 0.1,
        window_warp_scales: Optional[List[float]] = None,
        distr_output: Union[str, DistributionOutput] = "studentT",
        num_parallel_samples: int = 100,
        batch_size: int = TRAINING.batch_size,
        num_batches_per_epoch: int = TRAINING.num_batches_per_epoch,
        trainer_kwargs: Optional[Dict[str, Any]] = None,
        train_sampler: Optional[InstanceSampler] = None,
        validation_sampler: Optional[InstanceSampler] = None,
        time_feat: bool = True,
        dropout: float = 0.0,
        lags_seq: Optional[list] = None,
        freq: Optional[str] = None,
        use_cosine_annealing_lr: Optional[bool] = None,
        cosine_annealing_lr_args: Optional[dict] = None,
        ckpt_path: Optional[str] = None,
        nonnegative_pred_samples: bool = False,
        use_kv_cache: bool = True,
        rescale_every_step: bool = False,
        device: Union[str, torch.device, None] = DEVICE,
        # accepted for source compatibility with the reference; they only tune its logging
        data_id_to_name_map: Optional[dict] = None,
        track_loss_per_series: bool = False,
        use_single_pass_sampling: bool = False,
        loss: Any = None,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 0,
        num_feat_static_cat: int = 0,
        cardinality: Optional[List[int]] = None,
        embedding_dimension: Optional[List[int]] = None,
        covariate_scaling: str = "std",
        covariate_regression: bool = False,
        target_dim: Optional[int] = None,
        augmentations: Any = None,  # an Augmentations or a mapping of its fields: checked, not coerced
        lags: Optional[List[int]] = None,
        early_stopping_patience: Optional[int] = TRAINING.early_stopping_patience,
    ) -> None:
        super().__init__(trainer_kwargs=trainer_defaults(trainer_kwargs, device, **TRAINING.trainer_kwargs()))
        # one record of the augmentation settings, checked here (a bad probability fails at
        # construction, not at the first augmented batch): the object, or the flat keywords
        self.augmentations = Augmentations.resolve(augmentations, locals())
        if num_feat_static_cat == 0:
            cardinality = None  # DeepAREstimator's callers pass [1] for "none"
        check_arguments(locals())
        self.prediction_length = prediction_length
        self.context_length = context_length
        self.input_size = input_size
        self.n_layer = n_layer
        self.n_embd_per_head = n_embd_per_head
        self.n_head = n_head
        self.max_context_length = max_context_length
        self.rope_scaling = rope_scaling
        self.scaling = scaling
        if scaling_window == "context":
            scaling_window = None if ckpt_path is not None else context_length
        elif isinstance(scaling_window, str):
            raise ValueError(f'scaling_window must be a positive int, None or "context", got {scaling_window!r}')
        self.scaling_window = scaling_window
        self.unobserved_as_loc = unobserved_as_loc
        self.lr, self.covariate_lr = lr, covariate_lr
        self.weight_decay = weight_decay
        self.aug_prob = self.augmentations.aug_prob
        self.freq_mask_rate = self.augmentations.freq_mask_rate
        self.freq_mixing_rate = self.augmentations.freq_mixing_rate
        self.distr_output = make_distr_output(distr_output)
        self.num_parallel_samples = num_parallel_samples
        self.batch_size = batch_size
        self.num_batches_per_epoch = num_batches_per_epoch
        self.early_stopping_patience = early_stopping_patience
        self.time_feat = time_feat
        self.dropout = dropout
        self.freq = freq
        # None until training reads the data's frequency (see ``prepare``)
        self._lags_from_data = lags_seq is None and lags is None and freq is None and ckpt_path is None
        self.lags_seq: Optional[List[int]] = initial_lags(lags_seq, lags, freq, ckpt_path)
        # by default: decay from scratch, a constant rate when fine-tuning (see the docstring)
        self.use_cosine_annealing_lr = (
            (ckpt_path is None) if use_cosine_annealing_lr is None else use_cosine_annealing_lr
        )
        self.cosine_annealing_lr_args = cosine_annealing_lr_args
        self.ckpt_path = ckpt_path
        self.nonnegative_pred_samples = nonnegative_pred_samples
        self.use_kv_cache = use_kv_cache
        self.rescale_every_step = rescale_every_step
        self.use_single_pass_sampling = use_single_pass_sampling
        self.loss = loss
        self.device = device
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.num_feat_static_real = num_feat_static_real
        self.num_feat_static_cat = num_feat_static_cat
        self.cardinality = list(cardinality) if cardinality else None
        self.embedding_dimension = embedding_dimension
        self.covariate_scaling = covariate_scaling
        self.covariate_regression = bool(covariate_regression)
        self.target_dim = target_dim
        self.train_sampler = train_sampler or ExpectedNumInstanceSampler(
            num_instances=1.0, min_future=prediction_length, min_instances=1
        )
        self.validation_sampler = validation_sampler or ValidationSplitSampler(min_future=prediction_length)

    # -- the shared vocabulary ----------------------------------------------------------------

    @property
    def lags(self) -> List[int]:
        """The lags in the 1-based convention shared with Informer (``lags_seq`` + 1)."""
        return [index + 1 for index in self._known_lags()]

    @property
    def past_length(self) -> int:
        """Past values one window holds: the context and the longest lag's reach before it."""
        return self.context_length + max(self._known_lags())

    # -- from a checkpoint ---------------------------------------------------------------------

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: Union[str, Path, Checkpoint, None],
        prediction_length: int,
        context_length: Optional[int] = None,
        **kwargs,
    ) -> "LagLlamaEstimator":
        """An estimator with the checkpoint's architecture and weights.

        ``checkpoint`` is a path, None for the bundled checkpoint, a Hugging Face Hub reference
        ``OWNER/NAME[@REVISION][:FILE]`` (:mod:`~lagllama_gluonts.hub`), or a
        :class:`~lagllama_gluonts.checkpoint.Checkpoint` already read (nothing is read again). ``train()``
        fine-tunes its weights; ``create_predictor`` on its untrained module forecasts
        zero-shot. ``context_length`` None is the checkpoint's; ``kwargs`` override anything
        but the architecture.

        Training defaults are fine-tuning's (``defaults.FINE_TUNING``, as for ``finetune``): 25
        batches per epoch, at most 10 epochs, and a learning rate of ``FINE_TUNING_LR`` (1e-5),
        not the 1e-3 of training from scratch: AdamW's first steps move every weight by about
        ``lr``, and larger rates undo the pretraining. Of 1e-5, 3e-5 and 1e-4, only 1e-5 improved
        on zero-shot on all five held-out sets in every run (``benchmarks/results/finetune_settings.md``).
        """
        check_positive(context_length=context_length)  # 0 is an error, not "the checkpoint's"
        ckpt = read_checkpoint(checkpoint)  # None: the bundled checkpoint
        # fine-tuning's defaults (defaults.FINE_TUNING), as `finetune` and the command line use them
        kwargs.setdefault("lr", FINE_TUNING.lr)
        kwargs.setdefault("num_batches_per_epoch", FINE_TUNING.num_batches_per_epoch)
        kwargs["trainer_kwargs"] = {"max_epochs": FINE_TUNING.max_epochs, **(kwargs.get("trainer_kwargs") or {})}
        model_kwargs = ckpt.model_kwargs
        arch = dict(
            input_size=model_kwargs.get("input_size", 1),
            n_layer=model_kwargs["n_layer"],
            n_embd_per_head=model_kwargs["n_embd_per_head"],
            n_head=model_kwargs["n_head"],
            max_context_length=model_kwargs.get("max_context_length", 2048),
            scaling=model_kwargs.get("scaling", "robust"),
            time_feat=model_kwargs.get("time_feat", True),
            lags_seq=list(model_kwargs["lags_seq"]),
            distr_output=model_kwargs["distr_output"],
            covariate_regression=bool(model_kwargs.get("covariate_regression", False)),
        )
        kwargs.setdefault("scaling_window", model_kwargs.get("scaling_window"))
        kwargs.setdefault("unobserved_as_loc", model_kwargs.get("unobserved_as_loc", False))
        clash = sorted(set(arch) & set(kwargs) - {"scaling"})
        if clash:
            raise ValueError(f"{clash} are read from the checkpoint and cannot be overridden")
        kwargs.setdefault("rope_scaling", model_kwargs.get("rope_scaling"))
        # A checkpoint trained with covariates has them in its architecture: the same ones or an
        # error. One trained without takes any (their projection starts at zero).
        stored = ckpt.covariates
        if stored:
            asked = {k: kwargs[k] for k in COVARIATE_KWARGS if k in kwargs}
            differ = {k: v for k, v in asked.items() if v != stored.get(k, 0 if k.startswith("num_") else None)}
            if differ:
                raise CheckpointError(
                    f"{ckpt.path} was trained with covariates ({describe_covariates(stored)}); the estimator asks for "
                    f"{describe_covariates(differ)}: a covariate model needs the covariates it was trained with"
                )
            kwargs.update(stored)
        kwargs.setdefault("covariate_lr", finetune_covariate_lr(kwargs))
        estimator = cls(
            prediction_length=prediction_length,
            context_length=context_length or ckpt.context_length,
            ckpt_path=str(ckpt.path),
            **{**arch, **kwargs},
        )
        estimator._checkpoint = ckpt  # the weights, so that building the module reads nothing
        return estimator

    @classmethod
    def derive_auto_fields(cls, train_iter) -> Dict[str, Any]:
        """What ``from_inputs(dataset, ...)`` reads from the data: its covariates (``num_feat_dynamic_real``,
        ``num_past_feat_dynamic_real``, ``num_feat_static_real``, ``num_feat_static_cat``,
        ``cardinality``) and, for a multivariate target, ``target_dim``."""
        return covariates_of(train_iter)

    @property
    def covariate_config(self) -> Dict[str, Any]:
        """The covariate entries of :meth:`model_kwargs` ({} without covariates)."""
        counts = dict(
            num_feat_dynamic_real=self.num_feat_dynamic_real,
            num_past_feat_dynamic_real=self.num_past_feat_dynamic_real,
            num_feat_static_real=self.num_feat_static_real,
            num_feat_static_cat=self.num_feat_static_cat,
        )
        if not any(counts.values()):
            return {}
        return {
            **counts,
            "cardinality": self.cardinality,
            "embedding_dimension": self.embedding_dimension,
            "covariate_scaling": self.covariate_scaling,
        }

    def _validate_covariates(self) -> ValidateCovariates:
        return ValidateCovariates.for_estimator(self)

    def check_training_data(self, training_data: Dataset, validation_data: Optional[Dataset]) -> None:
        super().check_training_data(training_data, validation_data)
        checks = self._validate_covariates()
        checks.check_dataset(training_data)
        if validation_data is not None:
            checks.check_dataset(validation_data)

    # -- GluonTS hooks ------------------------------------------------------------------------

    def create_transformation(self) -> Transformation:
        steps: List[Transformation] = [
            ValidateSeries(target_dim=self.target_dim, freq=self.freq),
            self._validate_covariates(),
        ]
        if self.time_feat:
            steps.append(
                AddTimeFeatures(
                    start_field=FieldName.START,
                    target_field=FieldName.TARGET,
                    output_field=FieldName.FEAT_TIME,
                    time_features=time_features_from_frequency_str("s"),
                    pred_length=self.prediction_length,
                )
            )
        steps.append(
            AddObservedValuesIndicator(
                target_field=FieldName.TARGET,
                output_field=FieldName.OBSERVED_VALUES,
                imputation_method=DummyValueImputation(0.0),
            )
        )
        return Chain(steps)

    def model_kwargs(self) -> Dict[str, Any]:
        return {
            "input_size": self.input_size,
            "context_length": self.context_length,
            "max_context_length": self.max_context_length,
            "lags_seq": self._known_lags(),
            "n_layer": self.n_layer,
            "n_embd_per_head": self.n_embd_per_head,
            "n_head": self.n_head,
            "scaling": self.scaling,
            "scaling_window": self.scaling_window,
            "unobserved_as_loc": self.unobserved_as_loc,
            "distr_output": self.distr_output,
            "num_parallel_samples": self.num_parallel_samples,
            "rope_scaling": self.rope_scaling,
            "time_feat": self.time_feat,
            "dropout": self.dropout,
            # only when there are covariates: a model without them records what it always did
            **self.covariate_config,
            **({"covariate_regression": True} if self.covariate_regression else {}),
        }

    def create_lightning_module(self, use_kv_cache: Optional[bool] = None) -> LagLlamaLightningModule:
        module = LagLlamaLightningModule(
            model_kwargs=self.model_kwargs(),
            context_length=self.context_length,
            prediction_length=self.prediction_length,
            lr=self.lr,
            weight_decay=self.weight_decay,
            covariate_lr=self.covariate_lr,
            augmentations=self.augmentations,
            use_cosine_annealing_lr=self.use_cosine_annealing_lr,
            cosine_annealing_lr_args=self.cosine_annealing_lr_args,
            cosine_steps=(
                self.planned_steps() if self.use_cosine_annealing_lr and not self.cosine_annealing_lr_args else None
            ),
            nonnegative_pred_samples=self.nonnegative_pred_samples,
            use_kv_cache=self.use_kv_cache if use_kv_cache is None else use_kv_cache,
            rescale_every_step=self.rescale_every_step,
            use_single_pass_sampling=self.use_single_pass_sampling,
            loss=self.loss,
        )
        if self.ckpt_path is not None:
            self._load_checkpoint_into(module)
        return module

    def extra_callbacks(self, validation_data: Optional[Dataset]) -> List[pl.Callback]:
        """Early stopping on ``val_loss`` when ``early_stopping_patience`` is set and there is validation data."""
        if self.early_stopping_patience is None or validation_data is None:
            return []
        return [pl.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=self.early_stopping_patience)]

    def checkpoint(self) -> Optional[Checkpoint]:
        """The checkpoint of ``ckpt_path`` (None without one), read once per estimator: every
        module built (zero-shot, fine-tuning, the checkpoint kept by ``finetune``) shares it."""
        if self.ckpt_path is None:
            return None
        cached = getattr(self, "_checkpoint", None)
        if cached is None or str(cached.path) != str(self.ckpt_path):
            cached = self._checkpoint = read_checkpoint(self.ckpt_path)
        return cached

    def _load_checkpoint_into(self, module: LagLlamaLightningModule) -> None:
        ckpt = self.checkpoint()
        stored = ckpt.model_kwargs
        if "lags_seq" in stored and list(stored["lags_seq"]) != list(self.lags_seq):
            raise CheckpointError(
                f"{self.ckpt_path} was trained with lags_seq of {len(stored['lags_seq'])} lags "
                f"(max {max(stored['lags_seq'])}); the estimator asks for {len(self.lags_seq)} "
                f"(max {max(self.lags_seq)})"
            )
        trained, asked = ckpt.covariates, self.covariate_config
        if trained and trained != {k: v for k, v in asked.items() if k in trained}:
            raise CheckpointError(
                f"{self.ckpt_path} was trained with covariates ({describe_covariates(trained)}); the estimator "
                f"has {describe_covariates(asked) if asked else 'none'}: give it the covariates the checkpoint was "
                "trained with"
            )
        if stored.get("scaling") != self.scaling:
            logger.warning(
                "checkpoint was trained with scaling=%r; using scaling=%r", stored.get("scaling"), self.scaling
            )
        ckpt.load_into(module.model)

    def _create_instance_splitter(self, module, mode: str) -> Transformation:
        sampler = {
            "training": self.train_sampler,
            "validation": self.validation_sampler,
            "test": TestSplitSampler(),
        }[mode]
        fields = [FieldName.OBSERVED_VALUES] + ([FieldName.FEAT_TIME] if self.time_feat else [])
        known, past_only = self.num_feat_dynamic_real > 0, self.num_past_feat_dynamic_real > 0
        fields += ([KNOWN] if known else []) + ([PAST_ONLY] if past_only else [])
        splitter = InstanceSplitter(
            target_field=FieldName.TARGET,
            is_pad_field=FieldName.IS_PAD,
            start_field=FieldName.START,
            forecast_start_field=FieldName.FORECAST_START,
            instance_sampler=sampler,
            past_length=self.context_length + max(self._known_lags()),
            future_length=self.prediction_length,
            time_series_fields=fields,
            dummy_value=self.distr_output.value_in_support,
        )
        return splitter + JoinCovariates(known=known, past_only=past_only) if known or past_only else splitter

    def _field_names(self, names: List[str]) -> List[str]:
        counts = (
            self.num_feat_dynamic_real,
            self.num_past_feat_dynamic_real,
            self.num_feat_static_real,
            self.num_feat_static_cat,
        )
        covariates = [name for name, count in zip(COVARIATE_NAMES, counts) if count > 0]
        return names + (TIME_FEAT_NAMES if self.time_feat else []) + covariates

    def create_training_data_loader(
        self, data: Dataset, module, shuffle_buffer_length: Optional[int] = None, **kwargs
    ) -> Iterable:
        instances = self._create_instance_splitter(module, "training").apply(Cyclic(data).stream(), is_train=True)
        return as_stacked_batches(
            instances,
            batch_size=self.batch_size,
            shuffle_buffer_length=shuffle_buffer_length,
            field_names=self._field_names(TRAINING_INPUT_NAMES),
            output_type=torch.tensor,
            num_batches_per_epoch=self.num_batches_per_epoch,
        )

    def create_validation_data_loader(self, data: Dataset, module, **kwargs) -> Iterable:
        instances = self._create_instance_splitter(module, "validation").apply(data, is_train=True)
        return as_stacked_batches(
            instances,
            batch_size=self.batch_size,
            field_names=self._field_names(TRAINING_INPUT_NAMES),
            output_type=torch.tensor,
        )

    def create_predictor(self, transformation: Transformation, module) -> PyTorchPredictor:
        return CheckedPredictor(
            input_transform=transformation + self._create_instance_splitter(module, "test"),
            input_names=list(module.model.describe_inputs()),  # what the network's forward takes
            prediction_net=module,
            batch_size=self.batch_size,
            prediction_length=self.prediction_length,
            device=self.predictor_device(),
        )

    def planned_steps(self) -> int:
        """Optimizer steps of a training run: the trainer's ``max_steps`` or ``max_epochs``, whichever ends it first."""
        max_steps = self.trainer_kwargs.get("max_steps") or -1
        max_epochs = self.trainer_kwargs.get("max_epochs")
        by_epochs = max_epochs * self.num_batches_per_epoch if max_epochs and max_epochs > 0 else None
        candidates = [n for n in (max_steps if max_steps > 0 else None, by_epochs) if n]
        if not candidates:
            raise ValueError(
                "the default cosine learning-rate schedule spans the training run, which has no end: "
                "give trainer_kwargs max_epochs or max_steps, or pass use_cosine_annealing_lr=False"
            )
        return min(candidates)

    def _known_lags(self) -> List[int]:
        if self.lags_seq is None:
            raise ValueError(
                "lags_seq is not known yet: pass freq= (GluonTS's lags for it) or lags_seq=, "
                "or call train(), which takes the frequency from the training data"
            )
        return self.lags_seq

    def prepare(self, training_data: Dataset, from_predictor: Optional[PyTorchPredictor]) -> None:
        if self._lags_from_data:
            self.lags_seq = self._lags_of(training_data, from_predictor)

    @staticmethod
    def _lags_of(training_data: Dataset, from_predictor: Optional[PyTorchPredictor]) -> List[int]:
        """The lags of the network being continued, else GluonTS's lags for the data's frequency."""
        if from_predictor is not None:
            return list(from_predictor.prediction_net.model.lags_seq)
        start = next(iter(training_data))["start"]
        freq = getattr(start, "freqstr", None)
        if freq is None:
            raise DataError(
                f"cannot tell the training data's frequency from its start {start!r} (a pandas "
                "Period carries it, as ListDataset(..., freq=...) makes): pass freq= or lags_seq="
            )
        lags = frequency_lags(freq)
        logger.info("Lag-Llama lags for frequency %s: %d lags up to %d", freq, len(lags), max(lags) + 1)
        return lags
