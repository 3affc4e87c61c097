"""
Distribution heads for the multivariate ("M") setting.

* :class:`PerVariableArgsProj`: any univariate GluonTS ``DistributionOutput`` (Student-t by
  default) applied independently to each of ``D`` variables: one linear projection per
  distribution argument to ``D`` values, then the output's own ``domain_map``. The arguments
  come out with batch shape ``(..., D)``.
* :class:`LowRankMultivariateNormalOutput`: a multivariate normal with covariance
  ``diag(d) + V V^T`` (``V`` of rank ``rank``), for correlated variables. GluonTS ships this
  output only for MXNet (``gluonts.mx.distribution.LowRankMultivariateGaussianOutput``); this
  is the same parametrisation as a GluonTS torch ``DistributionOutput`` (``args_dim``,
  ``domain_map``, ``event_shape``, ``get_args_proj``, ``distribution``, ``loss``), on
  ``torch.distributions.LowRankMultivariateNormal``.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from gluonts.core.component import validated
from gluonts.torch.distributions import DistributionOutput
from torch.distributions import Distribution, LowRankMultivariateNormal


class PerVariableArgsProj(nn.Module):
    """Arguments of ``distr_output`` (univariate) for each of ``target_dim`` variables."""

    def __init__(self, in_features: int, target_dim: int, distr_output: DistributionOutput) -> None:
        super().__init__()
        assert distr_output.event_shape == (), "a per-variable head takes a univariate output"
        self.target_dim = target_dim
        self.proj = nn.ModuleList(nn.Linear(in_features, target_dim * dim) for dim in distr_output.args_dim.values())
        self.domain_map = distr_output.domain_map

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        # (..., D * dim) -> (..., D, dim): the univariate domain_map then sees the trailing
        # argument axis it expects (and squeezes it), whatever D is, even 1.
        return self.domain_map(*(proj(x).unflatten(-1, (self.target_dim, -1)) for proj in self.proj))


class LowRankMultivariateNormalOutput(DistributionOutput):
    """
    A ``dim``-variate normal with covariance ``diag(d) + V V^T``, ``V`` of shape
    ``(dim, rank)``: ``dim * (rank + 2)`` arguments per step instead of a full covariance's
    ``dim * (dim + 3) / 2``.

    Parameters
    ----------
    dim
        Number of variables (the model's ``target_dim``).
    rank
        Rank of the low-rank part of the covariance (default: 2).
    sigma_init
        Initial standard deviation of the diagonal part (the softplus is shifted so that a
        zero pre-activation gives it), as GluonTS's MXNet output.
    sigma_minimum
        Floor of the diagonal's standard deviation, for a positive-definite covariance.
    """

    distr_cls: type = LowRankMultivariateNormal

    @validated()
    def __init__(self, dim: int, rank: int = 2, sigma_init: float = 1.0, sigma_minimum: float = 1e-3) -> None:
        super().__init__()
        if dim < 1 or rank < 0:
            raise ValueError(f"dim must be >= 1 and rank >= 0, got dim={dim}, rank={rank}")
        self.dim = dim
        self.rank = rank
        self.sigma_init = sigma_init
        self.sigma_minimum = sigma_minimum
        self.args_dim: Dict[str, int] = {"loc": dim, "cov_factor": dim * rank, "cov_diag": dim}

    def domain_map(self, loc: torch.Tensor, cov_factor: torch.Tensor, cov_diag: torch.Tensor):  # type: ignore
        # softplus(x + shift) == sigma_init at x = 0: training starts from unit variances
        shift = torch.log(torch.expm1(torch.tensor(self.sigma_init, dtype=cov_diag.dtype)))
        sigma = F.softplus(cov_diag + shift).clamp_min(self.sigma_minimum)
        return loc, cov_factor.unflatten(-1, (self.dim, self.rank)), sigma**2

    def distribution(
        self,
        distr_args,
        loc: Optional[torch.Tensor] = None,
        scale: Optional[torch.Tensor] = None,
    ) -> Distribution:
        """The normal of ``scale * X + loc`` for X of the arguments: an affine map of a
        low-rank normal is one again, so the result keeps ``mean``, ``covariance_matrix``..."""
        # In float64: in float32, the Cholesky of the capacitance matrix I + V^T D^-1 V (inside
        # torch's LowRankMultivariateNormal) gave NaN gradients on some training batches (1 of 10
        # seeds of a 4-step run), which then made every weight NaN; its cost is a D x D matrix.
        mean, cov_factor, cov_diag = (a.double() for a in distr_args)
        loc = None if loc is None else loc.double()
        scale = None if scale is None else scale.double()
        if scale is not None:
            mean = mean * scale
            cov_factor = cov_factor * scale.unsqueeze(-1)
            cov_diag = cov_diag * scale**2
        if loc is not None:
            mean = mean + loc
        return LowRankMultivariateNormal(mean, cov_factor, cov_diag)

    @property
    def event_shape(self) -> Tuple:
        return (self.dim,)

    @property
    def value_in_support(self) -> float:
        return 0.0
