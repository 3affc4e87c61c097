"""The covariate encoder: GluonTS's covariate fields, per token, added to the token embedding.

The data side (the entries' fields, their checks) is :mod:`lagllama_gluonts.covariates`.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

# The model's covariate inputs, in GluonTS's field names (as its TFT model takes them):
# ``feat_dynamic_real`` (batch, past + horizon, K) known over the horizon, ``past_feat_dynamic_real``
# (batch, past, K) known only before the forecast start, ``feat_static_real`` (batch, K) and
# ``feat_static_cat`` (batch, K) integer codes.
COVARIATE_INPUTS = ("feat_dynamic_real", "past_feat_dynamic_real", "feat_static_real", "feat_static_cat")
# scaled covariates are clipped to this many window standard deviations: a covariate that was
# constant over the context (a promotion flag that was off) would otherwise read as 1e6 sigmas
COVARIATE_CLIP = 10.0


def default_embedding_dimension(cardinality: List[int]) -> List[int]:
    """GluonTS's ``DeepAREstimator`` rule: ``min(50, (cardinality + 1) // 2)`` per feature."""
    return [min(50, (cat + 1) // 2) for cat in cardinality]


class CovariateEncoder(nn.Module):
    """The covariates of each token, projected to the transformer's width and added to its embedding.

    The projection starts at exactly zero (weight and bias), so a model with covariate support
    and its weights at their initial value computes what the same model without it computes,
    bit for bit: the released checkpoint's forecasts are unchanged until fine-tuning moves
    the projection. A separate projection, rather than more columns of ``transformer.wte``,
    keeps ``wte``'s shape (and every released checkpoint) as it is.

    Token ``j`` sits at position ``q = first + j`` of the window (``first = max_lag``) and
    predicts ``q + 1``; it gets

    * the known-future covariates of the predicted position, ``feat_dynamic_real[q + 1]``: the
      covariate at the time the value is forecast (the temperature of the hour whose price is
      predicted). During decoding each step reads its own row of the horizon;
    * the past-only covariates of ``q`` while ``q`` is before the forecast start, and zeros with
      an availability flag of 0 after it: like GluonTS's models, nothing of
      ``past_feat_dynamic_real`` beyond the forecast start is ever read;
    * ``feat_static_real`` as given, and one embedding per ``feat_static_cat``;
    * with ``scaling="std"``, per dynamic covariate its window's ``asinh(mean)`` and ``log(std)``.

    Dynamic covariates are standardised by their own window, the context positions
    ``[first, past)`` (the target's unobserved positions, padding included, left out and fed
    as 0), as the target is scaled by its own window; a standard deviation below ``1e-3`` of
    the window's mean magnitude is raised to it (to 1 when the window is all zeros).
    """

    def __init__(
        self,
        width: int,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 0,
        cardinality: Optional[List[int]] = None,
        embedding_dimension: Optional[List[int]] = None,
        scaling: str = "std",
    ) -> None:
        super().__init__()
        cardinality = list(cardinality or [])
        embedding_dimension = list(embedding_dimension or default_embedding_dimension(cardinality))
        self.num_known = num_feat_dynamic_real
        self.num_past = num_past_feat_dynamic_real
        self.num_static_real = num_feat_static_real
        self.scaling = scaling
        self.embed = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cardinality, embedding_dimension))
        dynamic = self.num_known + self.num_past
        self.size = (
            dynamic
            + (1 if self.num_past else 0)
            + self.num_static_real
            + sum(embedding_dimension)
            + (2 * dynamic if scaling == "std" else 0)
        )
        self.proj = nn.Linear(self.size, width)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def _standardise(self, values: torch.Tensor, window: torch.Tensor, observed: torch.Tensor):
        """``values`` scaled by the statistics of ``window`` (B, C, K) over its ``observed`` (B, C, 1)."""
        if self.scaling == "none":
            return values, []
        w = observed.double()
        x = window.double()
        count = w.sum(1, keepdim=True)
        loc = (x * w).sum(1, keepdim=True) / count.clamp_min(1)
        std = ((((x - loc) * w) ** 2).sum(1, keepdim=True) / count.clamp_min(1)).sqrt()
        level = (x.abs() * w).sum(1, keepdim=True) / count.clamp_min(1)
        floor = torch.where(level > 0, 1e-3 * level, torch.ones_like(level))
        scale = torch.maximum(std, floor)
        loc, scale = loc.to(values.dtype), scale.to(values.dtype)
        scaled = ((values - loc) / scale).clamp(-COVARIATE_CLIP, COVARIATE_CLIP)
        return scaled, [torch.asinh(loc), torch.log(scale)]

    def features(
        self,
        past_observed_values: torch.Tensor,
        first: int,
        num_tokens: int,
        feat_dynamic_real: Optional[torch.Tensor] = None,
        past_feat_dynamic_real: Optional[torch.Tensor] = None,
        feat_static_real: Optional[torch.Tensor] = None,
        feat_static_cat: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Covariate features of tokens ``0 .. num_tokens - 1`` (positions ``first + j``): (B, num_tokens, size)."""
        B, P = past_observed_values.shape
        observed = past_observed_values[:, first:P].unsqueeze(-1)  # the context positions
        parts, stats = [], []
        if self.num_known:
            end = first + 1 + num_tokens
            if feat_dynamic_real.shape[1] < end:
                raise ValueError(
                    f"feat_dynamic_real covers {feat_dynamic_real.shape[1]} steps of the window; these tokens "
                    f"need {end} (the past and the horizon but its last step)"
                )
            rows = feat_dynamic_real[:, first + 1 : end]
            scaled, s = self._standardise(rows, feat_dynamic_real[:, first:P], observed)
            # a row inside the past counts where the target is observed; the horizon's rows always do
            in_past = max(0, min(num_tokens, P - first - 1))
            row_observed = torch.cat(
                (
                    past_observed_values[:, first + 1 : first + 1 + in_past],
                    past_observed_values.new_ones(B, num_tokens - in_past),
                ),
                dim=1,
            )
            parts.append(scaled * row_observed.unsqueeze(-1))
            stats += s
        if self.num_past:
            available = min(num_tokens, P - first)
            scaled, s = self._standardise(
                past_feat_dynamic_real[:, first : first + available], past_feat_dynamic_real[:, first:P], observed
            )
            scaled = scaled * observed[:, :available]
            flag = scaled.new_ones(B, available, 1)
            known = torch.cat((scaled, flag), dim=-1)
            missing = known.new_zeros(B, num_tokens - available, known.shape[-1])
            parts.append(torch.cat((known, missing), dim=1))
            stats += s
        static = []
        if self.num_static_real:
            static.append(feat_static_real.to(past_observed_values.dtype))
        if len(self.embed):
            codes = feat_static_cat.long()
            static += [embed(codes[:, i]) for i, embed in enumerate(self.embed)]
        static += [s.squeeze(1) for s in stats]
        if static:
            parts.append(torch.cat(static, dim=-1).unsqueeze(1).expand(-1, num_tokens, -1))
        return torch.cat(parts, dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)
