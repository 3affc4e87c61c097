"""The arguments of ``InformerEstimator``: its distribution by name, the deprecated names, and the
checks run before anything is built (kept apart so that the estimator reads as the GluonTS protocol)."""

import warnings
from typing import Any, Dict, Optional, Union

from gluonts.torch.distributions import DistributionOutput, StudentTOutput

from lagllama_gluonts.common.scaling import SCALINGS
from lagllama_gluonts.common.validation import check_positive

from .defaults import DISTRIBUTION_NAMES, INFORMER_DISTRIBUTIONS
from .distributions import LowRankMultivariateNormalOutput
from .module import EMBEDS


def make_distr_output(distr_output: Union[str, DistributionOutput], target_dim: Optional[int]) -> DistributionOutput:
    """A ``DistributionOutput`` as given, or by name: ``"studentT"``/``"student-t"``, or
    ``"low-rank-normal"`` (a joint normal of the ``target_dim`` variables)."""
    if isinstance(distr_output, DistributionOutput):
        return distr_output
    name = DISTRIBUTION_NAMES.get(distr_output) if isinstance(distr_output, str) else None
    if name == "student-t":
        return StudentTOutput()
    if name == "low-rank-normal":
        if target_dim is None:
            raise ValueError('distr_output="low-rank-normal" models several variables jointly: it needs target_dim')
        return LowRankMultivariateNormalOutput(dim=target_dim)
    known = sorted(k for k, v in DISTRIBUTION_NAMES.items() if v in INFORMER_DISTRIBUTIONS)
    raise ValueError(f"distr_output must be a DistributionOutput or one of {known}, got {distr_output!r}")


def renamed_arguments(lags, lags_seq, lr_patience: int, patience: Optional[int]):
    """``lags`` and ``lr_patience`` from their deprecated names (which warn)."""
    if lags_seq is not None:
        if lags is not None:
            raise ValueError("give lags= (lags_seq= is its deprecated name), not both")
        warnings.warn(
            "InformerEstimator(lags_seq=) is deprecated: use lags= (the same 1-based lags; Lag-Llama's "
            "lags_seq are 0-based indices)",
            DeprecationWarning,
            stacklevel=3,
        )
        lags = lags_seq
    if patience is not None:
        warnings.warn(
            "InformerEstimator(patience=) is deprecated: it is the learning-rate plateau's patience, now "
            "lr_patience= (early stopping is early_stopping_patience=)",
            DeprecationWarning,
            stacklevel=3,
        )
        lr_patience = patience
    return lags, lr_patience


def _check_network(args: Dict[str, Any]) -> None:
    """The architecture arguments among a constructor's ``locals()``."""
    depths = args["e_layers"] if isinstance(args["e_layers"], (list, tuple)) else [args["e_layers"]]
    if not depths:
        raise ValueError("e_layers must be a positive integer or a non-empty list of them, got []")
    for depth in depths:
        check_positive(e_layers=depth)
    if args["embed"] not in EMBEDS:
        raise ValueError(f"embed must be one of {EMBEDS}, got {args['embed']!r}")
    if args["padding"] not in (0, 1):
        raise ValueError(f"padding must be 0 or 1 (the decoder placeholders' value), got {args['padding']!r}")
    target_dim, event_shape = args["target_dim"], args["distr_output"].event_shape
    if target_dim is None and event_shape != ():
        raise ValueError(
            f"distr_output has event shape {event_shape}: a multivariate output needs target_dim (the number of "
            "variables)"
        )
    if target_dim is not None and event_shape not in ((), (target_dim,)):
        raise ValueError(
            f"distr_output has event shape {event_shape}, but target_dim={target_dim}: "
            f"use a univariate output (one per variable) or one of event shape ({target_dim},)"
        )
    if args["d_model"] % args["n_heads"]:
        raise ValueError(f"d_model={args['d_model']} is not divisible by n_heads={args['n_heads']}")
    if not 0 <= args["dropout"] < 1:
        raise ValueError(f"dropout must lie in [0, 1), got {args['dropout']!r}")
    if args["activation"] not in ("gelu", "relu"):
        raise ValueError(f"activation must be 'gelu' or 'relu', got {args['activation']!r}")
    if args["attention"] not in ("prob", "full"):
        raise ValueError(f"attention must be 'prob' or 'full', got {args['attention']!r}")
    if args["scaling"] not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {args['scaling']!r}")


def check_arguments(args: Dict[str, Any]) -> None:
    """Every argument of ``InformerEstimator`` (its ``locals()``), before anything is built."""
    check_positive(
        **{
            name: args[name]
            for name in (
                "prediction_length",
                "context_length",
                "d_model",
                "n_heads",
                "d_layers",
                "target_dim",
                "d_ff",
                "factor",
                "num_parallel_samples",
                "batch_size",
                "num_batches_per_epoch",
            )
        }
    )
    _check_network(args)
    if not args["lr"] >= 0:
        raise ValueError(f"lr must be >= 0, got {args['lr']!r}")
    if not args["weight_decay"] >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {args['weight_decay']!r}")
    # 0 is a valid patience for the scheduler (halve at every stall),
    # not for early stopping (stop after the first epoch).
    lr_patience = args["lr_patience"]
    if isinstance(lr_patience, bool) or not isinstance(lr_patience, int) or lr_patience < 0:
        raise ValueError(f"lr_patience must be an integer >= 0, got {lr_patience!r}")
    check_positive(early_stopping_patience=args["early_stopping_patience"])
    num_cat, cardinality = args["num_feat_static_cat"], args["cardinality"]
    if num_cat > 0 and (cardinality is None or len(cardinality) != num_cat):
        raise ValueError(
            f"cardinality must list one value per static categorical feature ({num_cat}), got {cardinality!r}"
        )
