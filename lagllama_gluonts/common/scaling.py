"""The per-window scalers of both models, from one factory: ``make_scaler(name, dim)``.

Each returns ``(scaled, loc, scale)`` from the data and its observed-value indicator, like
GluonTS's scalers, with two differences that make odd data work:

* **The scale floor is relative to the data** (``RELATIVE_FLOOR`` times the largest observed
  magnitude of the row), not an absolute ``1e-10``: series of values around ``1e-30`` keep
  their shape instead of being divided by a floor thirty orders of magnitude too large and
  flattened to a constant. A row whose observed values are all zero gets the old absolute
  floor (any scale works there: every scaled value is 0).
* **Sums run in float64**: the mean, and the squares of the standard deviation, of float32
  values near ``1e30`` overflow float32; loc and scale come back in the data's dtype.

``robust`` is the reference Lag-Llama's scaler (median and interquartile range, with
``torch.nanmedian``'s lower middle value), so released weights see the inputs they were
trained on; ``mean`` is GluonTS's ``MeanScaler`` (weighted mean absolute value, the batch's
where a row has none); ``std`` standardises by the weighted mean and standard deviation;
``none`` leaves the data alone. Rows without any observed value get loc 0 and scale 1
(``mean``: the batch's scale).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

SCALINGS = ("robust", "mean", "std", "none")
RELATIVE_FLOOR = 1e-10
ABSOLUTE_FLOOR = 1e-10
_TINY = float(torch.finfo(torch.float32).tiny)

Scaled = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def scale_floor(data: torch.Tensor, observed: torch.Tensor, dim: int) -> torch.Tensor:
    """The smallest scale of each row: relative to its largest observed magnitude."""
    level = torch.where(observed == 1, data.abs(), torch.zeros_like(data)).amax(dim=dim, keepdim=True)
    relative = (RELATIVE_FLOOR * level.double()).clamp_min(_TINY)
    return torch.where(level > 0, relative, torch.full_like(relative, ABSOLUTE_FLOOR))


class _Scaler:
    def __init__(self, dim: int = 1, keepdim: bool = True) -> None:
        self.dim = dim
        self.keepdim = keepdim

    def _finish(self, data: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> Scaled:
        loc, scale = loc.to(data.dtype), scale.to(data.dtype)
        scaled = (data - loc) / scale
        if not self.keepdim:
            loc, scale = loc.squeeze(self.dim), scale.squeeze(self.dim)
        return scaled, loc, scale


class RobustScaler(_Scaler):
    """Centre on the median, divide by the interquartile range of the observed values."""

    @torch.no_grad()
    def __call__(self, data: torch.Tensor, weights: torch.Tensor) -> Scaled:
        observed = torch.where(weights == 1, data, torch.nan)
        med = torch.nanmedian(observed, dim=self.dim, keepdim=True).values
        q1 = torch.nanquantile(observed, 0.25, dim=self.dim, keepdim=True)
        q3 = torch.nanquantile(observed, 0.75, dim=self.dim, keepdim=True)
        iqr = q3 - q1
        loc = torch.where(torch.isnan(med), torch.zeros_like(med), med)
        scale = torch.where(torch.isnan(iqr), torch.ones_like(iqr), iqr)
        scale = torch.maximum(scale, scale_floor(data, weights, self.dim).to(scale.dtype))
        return self._finish(data, loc, scale)


class MeanScaler(_Scaler):
    """GluonTS's mean scaling: the weighted mean absolute value (loc 0)."""

    @torch.no_grad()
    def __call__(self, data: torch.Tensor, weights: torch.Tensor) -> Scaled:
        x, w = data.double(), weights.double()
        total = (x * w).abs().sum(self.dim, keepdim=True)
        count = w.sum(self.dim, keepdim=True)
        scale = total / count.clamp_min(1)
        default = total.sum(0) / count.sum(0).clamp_min(1)  # the batch's, for rows with nothing observed
        scale = torch.where(count > 0, scale, default.expand_as(scale))
        scale = torch.maximum(scale, scale_floor(data, weights, self.dim))
        return self._finish(data, torch.zeros_like(scale), scale)


class StdScaler(_Scaler):
    """Standardise by the weighted mean and standard deviation of the observed values."""

    @torch.no_grad()
    def __call__(self, data: torch.Tensor, weights: torch.Tensor) -> Scaled:
        x, w = data.double(), weights.double()
        count = w.sum(self.dim, keepdim=True)
        loc = (x * w).sum(self.dim, keepdim=True) / count.clamp_min(1)
        variance = (((x - loc) * w) ** 2).sum(self.dim, keepdim=True) / count.clamp_min(1)
        scale = torch.where(count > 0, variance.sqrt(), torch.ones_like(variance))
        scale = torch.maximum(scale, scale_floor(data, weights, self.dim))
        return self._finish(data, loc, scale)


class NOPScaler(_Scaler):
    @torch.no_grad()
    def __call__(self, data: torch.Tensor, weights: torch.Tensor) -> Scaled:
        shape = list(data.shape)
        shape[self.dim] = 1
        ones = data.new_ones(shape)
        return self._finish(data, torch.zeros_like(ones), ones)


def make_scaler(scaling: Optional[str], dim: int = 1, keepdim: bool = True) -> _Scaler:
    """The scaler called ``scaling`` (one of :data:`SCALINGS`; ``None`` means ``"none"``).

    The reference Lag-Llama took any other name silently as no scaling, so a typo
    (``"robst"``) trained an unscaled model; here it is an error.
    """
    kinds = {"robust": RobustScaler, "mean": MeanScaler, "std": StdScaler, "none": NOPScaler}
    if scaling is None:
        scaling = "none"
    if scaling not in kinds:
        raise ValueError(f"scaling must be one of {list(SCALINGS)} or None, got {scaling!r}")
    return kinds[scaling](dim=dim, keepdim=keepdim)
