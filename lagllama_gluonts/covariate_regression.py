"""The pretrained covariate pathway: known-future covariates used zero-shot, by a network that
learned in pretraining how far to trust an in-context regression on them.

Why this shape. A checkpoint pretrained on series with covariates must take any number of
them, of any kind, at forecast time, while the network's input has a fixed width. So the
covariates do not enter the network one column per covariate; what enters is what a
regression of the series on them says, which has the same width whatever the covariates are:

1. **Fit, per series, in the model's own units.** The scaled target ``y`` (the model's
   ``(value - loc) / scale``) over the last :data:`FIT_WINDOW` observed steps of the window's
   past is regressed by ridge on a basis of the known-future covariates: each covariate
   standardised over those steps, ``z``, and its centred square, ``z**2 - mean`` (a
   temperature's effect on demand is U-shaped: heating below a threshold, cooling above it),
   with an intercept. Penalty ``RIDGE * n`` on the standardised basis (``n`` fit rows). A
   series with fewer than :data:`MIN_ROWS` observed fit rows, or covariates that are constant
   over them (all-zero padding included), gets no fit: all its features are 0.
2. **Effects.** The fitted covariate effect of a step is ``e_t = b_t . beta`` (``b`` the
   centred basis, so the intercept stays out). For a step inside the fit rows the
   **leave-one-out** value is used instead: the prediction of the fit without that row less
   the mean of the other rows, ``(y_t - r_t / (1 - h_t)) - (n mean - y_t) / (n - 1)`` (``r``
   the residual, ``h`` the hat matrix's diagonal), which does not depend on ``y_t`` at all: a
   token never reads a fit of its own value, so in training the context tokens see effects as
   honest as the horizon's, which are out of sample by construction.
3. **Trust.** ``quality = max(0, 1 - sum(loo residual**2) / sum((y - mean)**2))``, the
   regression's leave-one-out R^2 over the fit rows; 0 when the covariates explain nothing.

Token ``j`` (window position ``q = first + j``, predicting ``q + 1``) gets
``[e(q + 1), e(q), quality, quality * e(q + 1), quality * e(q)]`` (effects clipped to
``+-COVARIATE_CLIP``): the effect at the step it forecasts, and at the step whose value it
holds, so that the network can see how far the last value sits from what the covariates
explain. A two-layer network without biases maps them to the transformer's width and adds
them to the token's embedding and to the location of the forecast distribution (the
distribution's ``loc`` argument, when it has one: Student's t, the normal ...); both output
layers start at zero. Without biases, features of 0
(no covariates, or none that vary) add exactly 0: the model forecasts a series without
covariates exactly as the same network without the pathway does, before and after training.
Past-only covariates do not enter here (they have no value over the horizon).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .covariate_encoder import COVARIATE_CLIP

FIT_WINDOW = 256  # the last observed past steps the regression is fitted on
RIDGE = 1e-2  # the penalty per fit row on the standardised basis
MIN_ROWS = 24  # fewer observed fit rows: no regression
NUM_FEATURES = 5
HIDDEN = 64


def regression_features(
    scaled_past: torch.Tensor,
    past_observed_values: torch.Tensor,
    feat_dynamic_real: torch.Tensor,
    first: int,
    num_tokens: int,
) -> torch.Tensor:
    """The pathway's features of tokens ``0 .. num_tokens - 1`` (see the module docstring):
    (B, num_tokens, :data:`NUM_FEATURES`).

    ``scaled_past`` (B, P) is the window's past in the model's scaled units, ``feat_dynamic_real``
    (B, >= first + num_tokens + 1, K) the known covariates over the past and the horizon.
    """
    B, P = scaled_past.shape
    K = feat_dynamic_real.shape[-1]
    steps = max(P, first + num_tokens + 1)  # the fit's rows and the tokens' steps
    if feat_dynamic_real.shape[1] < steps:
        raise ValueError(
            f"feat_dynamic_real covers {feat_dynamic_real.shape[1]} steps of the window; the covariate "
            f"regression needs {steps} (the past and the tokens' horizon)"
        )
    dtype = scaled_past.dtype
    start = max(0, P - FIT_WINDOW)
    x = feat_dynamic_real[:, :steps].double()
    y = scaled_past[:, start:P].double()
    w = past_observed_values[:, start:P].double()  # (B, W): the fit rows
    n = w.sum(1, keepdim=True)  # (B, 1)

    def weighted_mean(values):  # over the fit rows: (B, W, F) -> (B, 1, F)
        return (values * w.unsqueeze(-1)).sum(1, keepdim=True) / n.clamp_min(1).unsqueeze(-1)

    # the basis over every step the tokens read, standardised by the fit rows
    fit_x = x[:, start:P]
    mean = weighted_mean(fit_x)
    std = weighted_mean((fit_x - mean) ** 2).sqrt()
    varies = std > 1e-9 * (weighted_mean(fit_x.abs()) + 1e-12)  # (B, 1, K)
    z = torch.where(varies, (x - mean) / std.clamp_min(1e-30), torch.zeros_like(x))
    z = z.clamp(-COVARIATE_CLIP, COVARIATE_CLIP)
    basis = torch.cat((z, z**2), dim=-1)  # (B, T, 2K)
    fit_b = basis[:, start:P]
    b_mean = weighted_mean(fit_b)
    b_std = weighted_mean((fit_b - b_mean) ** 2).sqrt()
    usable = torch.cat((varies, varies), dim=-1) & (b_std > 1e-9)
    basis = torch.where(usable, (basis - b_mean) / b_std.clamp_min(1e-30), torch.zeros_like(basis))

    # ridge with an intercept: the centred basis against the centred target, on the fit rows
    fit_b = basis[:, start:P] * w.unsqueeze(-1)
    y_mean = (y * w).sum(1, keepdim=True) / n.clamp_min(1)
    yc = (y - y_mean) * w
    eye = torch.eye(2 * K, dtype=torch.float64, device=x.device)
    gram = fit_b.transpose(1, 2) @ fit_b + RIDGE * n.unsqueeze(-1).clamp_min(1) * eye
    inverse = torch.linalg.inv(gram)  # (B, 2K, 2K); small and well conditioned by the ridge
    beta = inverse @ (fit_b.transpose(1, 2) @ yc.unsqueeze(-1))  # (B, 2K, 1)
    effect = (basis @ beta).squeeze(-1)  # (B, T): the full fit's effect at every step

    residual = yc - effect[:, start:P] * w  # y - mean - effect on the fit rows, 0 elsewhere
    hat = ((fit_b @ inverse) * fit_b).sum(-1) + w / n.clamp_min(1)  # leverage, intercept included
    loo_residual = residual / (1 - hat).clamp_min(1e-3)
    # a fit row's effect without it: its leave-one-out prediction less the mean of the other rows,
    # (y - r / (1 - h)) - (n mean - y) / (n - 1), which does not depend on its own value at all
    loo = yc - residual / (1 - hat).clamp_min(1e-3) + yc / (n - 1).clamp_min(1)
    loo_effect = effect.clone()
    loo_effect[:, start:P] = torch.where(w > 0, loo, effect[:, start:P])
    total = (yc**2).sum(1, keepdim=True)
    quality = (1 - (loo_residual**2).sum(1, keepdim=True) / total.clamp_min(1e-12)).clamp(0, 1)

    fitted = (n >= max(MIN_ROWS, 3 * K)) & usable.any(-1) & (total > 0)  # (B, 1)
    loo_effect = torch.where(fitted, loo_effect, torch.zeros_like(loo_effect)).clamp(-COVARIATE_CLIP, COVARIATE_CLIP)
    quality = torch.where(fitted, quality, torch.zeros_like(quality))
    ahead = loo_effect[:, first + 1 : first + 1 + num_tokens]
    now = loo_effect[:, first : first + num_tokens]
    q = quality.expand(-1, num_tokens)
    return torch.stack((ahead, now, q, q * ahead, q * now), dim=-1).to(dtype)


class CovariateRegression(nn.Module):
    """The pathway's network: :func:`regression_features` -> the transformer's width, no biases,
    output layer at zero (see the module docstring)."""

    def __init__(self, width: int, hidden: int = HIDDEN) -> None:
        super().__init__()
        # initialised on a fork of the random state: building a model with the pathway draws no
        # number the same model without it would not, so the same seed samples the same paths
        with torch.random.fork_rng(devices=[]):
            self.hidden = nn.Linear(NUM_FEATURES, hidden, bias=False)
            self.out = nn.Linear(hidden, width, bias=False)
            self.shift = nn.Linear(hidden, 1, bias=False)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """What the features add to each token's embedding: (B, T, width)."""
        return self.out(nn.functional.silu(self.hidden(features)))

    def loc_shift(self, features: torch.Tensor) -> torch.Tensor:
        """What they add to the forecast distribution's location, in scaled units: (B, T).

        An embedding added to a network trained without it steers its output only so far; this
        term moves the forecast by as much as the covariates explain, where the pathway trusts them."""
        return self.shift(nn.functional.silu(self.hidden(features))).squeeze(-1)


def pathway_features(
    model_has_pathway: bool,
    scaled_past: Optional[torch.Tensor],
    past_observed_values: torch.Tensor,
    feat_dynamic_real: Optional[torch.Tensor],
    first: int,
    num_tokens: int,
) -> Optional[torch.Tensor]:
    """:func:`regression_features`, or None for a model without the pathway or without known covariates."""
    if not model_has_pathway or feat_dynamic_real is None or feat_dynamic_real.shape[-1] == 0:
        return None
    return regression_features(scaled_past, past_observed_values, feat_dynamic_real, first, num_tokens)
