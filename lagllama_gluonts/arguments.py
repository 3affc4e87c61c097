"""The arguments of ``LagLlamaEstimator``: its lags, its distribution by name, and the checks run
before anything is built (kept apart so that the estimator reads as the GluonTS protocol)."""

import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

from gluonts.time_feature import get_lags_for_frequency
from gluonts.torch.distributions import (
    DistributionOutput,
    ImplicitQuantileNetworkOutput,
    NegativeBinomialOutput,
    StudentTOutput,
)

from .checkpoint import COVARIATE_KWARGS
from .common.scaling import make_scaler
from .common.validation import check_positive
from .defaults import DISTRIBUTION_NAMES, FINETUNE_COVARIATE_LR
from .model_checks import check_architecture, check_covariates, validate_rope_scaling

# The reference's lag set: GluonTS's lags of every frequency, 84 of them: 0-based indices up to 1092 (lag 1093).
DEFAULT_LAG_FREQUENCIES = ("Q", "M", "W", "D", "H", "T", "S")


def _gluonts_lags(freq: str, num_default_lags: int) -> List[int]:
    """0-based indices (lag - 1) of GluonTS's 1-based ``get_lags_for_frequency(freq, num_default_lags)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return sorted({lag - 1 for lag in get_lags_for_frequency(freq_str=freq, num_default_lags=num_default_lags)})
        except Exception:
            raise ValueError(f"unknown frequency {freq!r} in lags_seq") from None


def resolve_lags(lags_seq: Sequence[Union[str, int]]) -> List[int]:
    """0-based lag indices (index ``i`` = lag ``i + 1``) from frequency strings or integers.

    Strings follow the reference: lags of ``get_lags_for_frequency(f, num_default_lags=1)``
    for every frequency, merged, minus one. Integers are taken as 0-based indices already,
    as the reference's ``lags_seq`` takes them (``0`` is the previous value, lag 1).
    """
    lags = set()
    for item in lags_seq:
        if isinstance(item, str):
            lags.update(_gluonts_lags(item, num_default_lags=1))
        else:
            if int(item) < 0:
                raise ValueError(f"lag indices must be >= 0, got {item}")
            lags.add(int(item))
    if not lags:
        raise ValueError("lags_seq is empty")
    return sorted(lags)


def frequency_lags(freq: str) -> List[int]:
    """The lags a model trained from scratch on data of frequency ``freq`` gets by default.

    GluonTS's own choice for ``freq`` (``get_lags_for_frequency``, as ``DeepAREstimator`` uses:
    lags 1-7 and the seasonal lags around each period), as 0-based indices (lag - 1). The
    reference's lags of all seven frequencies reach 1093 steps back: on series of a few hundred
    steps most of them point into padding.
    """
    return _gluonts_lags(freq, num_default_lags=7)


def make_distr_output(distr_output: Union[str, DistributionOutput]) -> DistributionOutput:
    """A ``DistributionOutput`` as given, or by name (``defaults.DISTRIBUTION_NAMES``, shared with Informer)."""
    if isinstance(distr_output, DistributionOutput):
        return distr_output
    outputs = {
        "student-t": StudentTOutput,
        "negative-binomial": NegativeBinomialOutput,
        "iqn": ImplicitQuantileNetworkOutput,
    }
    name = DISTRIBUTION_NAMES.get(distr_output) if isinstance(distr_output, str) else None
    if name == "low-rank-normal":
        raise ValueError(
            'distr_output="low-rank-normal" is a joint distribution of several variables: Lag-Llama forecasts '
            "each variable on its own (target_dim); Informer's estimator models them jointly"
        )
    if name not in outputs:
        known = sorted(k for k, v in DISTRIBUTION_NAMES.items() if v in outputs)
        raise ValueError(f"distr_output must be a DistributionOutput or one of {known}, got {distr_output!r}")
    return outputs[name]()


def initial_lags(lags_seq, lags, freq: Optional[str], ckpt_path: Optional[str]) -> Optional[List[int]]:
    """The 0-based lag indices an estimator starts with (None: read from the training data)."""
    if lags is not None:
        if lags_seq is not None:
            raise ValueError("give lags= (1-based lags) or lags_seq= (0-based indices), not both")
        if any(not isinstance(lag, str) and int(lag) < 1 for lag in lags):
            raise ValueError(f"lags are 1-based (lag 1 is the previous value), got {list(lags)}")
        lags_seq = [lag if isinstance(lag, str) else int(lag) - 1 for lag in lags]
    if lags_seq is not None:
        return resolve_lags(lags_seq)
    if freq is not None:
        return frequency_lags(freq)
    if ckpt_path is not None:
        return resolve_lags(DEFAULT_LAG_FREQUENCIES)
    return None


def finetune_covariate_lr(kwargs: Dict[str, Any]) -> Optional[float]:
    """``from_checkpoint``'s default ``covariate_lr``: ``FINETUNE_COVARIATE_LR`` when its ``kwargs``
    ask for covariates, else None (one rate, as without covariate support)."""
    counts = [kwargs.get(name) for name in COVARIATE_KWARGS if name.startswith("num_")]
    return FINETUNE_COVARIATE_LR if any(counts) else None


def check_arguments(args: Dict[str, Any]) -> None:
    """The arguments of ``LagLlamaEstimator`` (its ``locals()``), checked before anything is built."""
    if args["use_single_pass_sampling"] and args["rescale_every_step"]:
        raise ValueError("use_single_pass_sampling and rescale_every_step are separate decodings: choose one")
    if args["loss"] is not None and not callable(args["loss"]):
        raise ValueError(f"loss must be None or a callable loss(distribution, target), got {args['loss']!r}")
    check_covariates(**{name: args[name] for name in COVARIATE_KWARGS})
    check_positive(target_dim=args["target_dim"], early_stopping_patience=args["early_stopping_patience"])
    check_architecture(
        **{
            name: args[name]
            for name in (
                "prediction_length",
                "context_length",
                "n_layer",
                "n_head",
                "n_embd_per_head",
                "batch_size",
                "num_parallel_samples",
                "num_batches_per_epoch",
            )
        }
    )
    validate_rope_scaling(args["rope_scaling"])
    make_scaler(args["scaling"])  # an unknown name fails here, at construction, not at the first batch
    if not args["lr"] >= 0:
        raise ValueError(f"lr must be >= 0, got {args['lr']!r}")
    if args["covariate_lr"] is not None and not args["covariate_lr"] >= 0:
        raise ValueError(f"covariate_lr must be None or >= 0, got {args['covariate_lr']!r}")
