"""Autoregressive decoding of Lag-Llama's sample paths: one loop, four policies.

Every policy runs the same loop: at each step, the hidden state of the last token (the whole
window, or only the new token against a kv-cache), a draw from the distribution there, and the
drawn value (or, single pass, the mean) appended to the history. A :class:`DecodingPolicy`
says which variant runs:

* ``CACHED`` (default): loc and scale fixed from the observed past; the context runs once per
  series (the prefill), then one token per step against the kv-cache.
* ``RECOMPUTED``: the same decoding, the whole window again at every step (the cache's check:
  the same samples for the same seed).
* ``RESCALED``: the reference's decoding, loc and scale recomputed over each path's growing
  history at every step; every earlier token changes, so there is no cache.
* ``SINGLE_PASS``: the reference's ``use_single_pass_sampling``, one path per series fed its
  forecast mean, ``samples`` independent draws per step (not coherent sample paths).

The draws happen in the same order, on the same shapes, as in the four loops this replaces, so
seeded forecasts are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

import torch
import torch.nn.functional as F
from gluonts.torch.distributions import ImplicitQuantileNetworkOutput
from tqdm.auto import tqdm

from .layers import KVCache

if TYPE_CHECKING:  # (the model imports this module)
    from .module import LagLlamaModel


@dataclass(frozen=True)
class DecodingPolicy:
    """How sample paths are decoded (see the module docstring for the four named policies).

    ``kv_cache``: a decoding step feeds only the new token, against cached keys and values.
    ``rescale_every_step``: loc and scale are recomputed over each path's history at every step.
    ``single_pass``: one path per series fed its mean, with independent draws per step.
    """

    kv_cache: bool = True
    rescale_every_step: bool = False
    single_pass: bool = False

    def __post_init__(self) -> None:
        if self.single_pass and self.rescale_every_step:
            raise ValueError("single_pass and rescale_every_step are separate decodings: choose one")
        if self.rescale_every_step and self.kv_cache:
            # rescaling changes every earlier token at every step: nothing cached stays valid
            raise ValueError("rescale_every_step recomputes the whole window each step: it cannot use a kv-cache")

    @classmethod
    def from_options(
        cls, use_kv_cache: bool = True, rescale_every_step: bool = False, single_pass: bool = False
    ) -> "DecodingPolicy":
        """The policy of :meth:`LagLlamaModel.sample`'s flags (rescaling ignores ``use_kv_cache``)."""
        return cls(
            kv_cache=use_kv_cache and not rescale_every_step,
            rescale_every_step=rescale_every_step,
            single_pass=single_pass,
        )


CACHED = DecodingPolicy()
RECOMPUTED = DecodingPolicy(kv_cache=False)
RESCALED = DecodingPolicy(kv_cache=False, rescale_every_step=True)
SINGLE_PASS = DecodingPolicy(single_pass=True)


@dataclass
class DecodingInputs:
    """What a decoding run starts from; rows are series.

    ``past_target`` (B, P) with its unobserved values already filled, ``past_observed_values``
    (B, P), ``loc`` and ``scale`` (B, 1) from the observed past, ``past_time_feat`` the time
    features of the context's tokens (B, context_length, F) or None, ``future_time_feat``
    (B, horizon, F) or None, ``covariate_features`` of every token a run can meet
    (B, context_length + horizon - 1, K) or None, and the run's ``horizon``, ``samples`` per
    series, and whether draws are clipped at zero (``nonnegative``).
    """

    past_target: torch.Tensor
    past_observed_values: torch.Tensor
    loc: torch.Tensor
    scale: torch.Tensor
    past_time_feat: Optional[torch.Tensor]
    future_time_feat: Optional[torch.Tensor]
    covariate_features: Optional[torch.Tensor]
    horizon: int
    samples: int
    nonnegative: bool = False


def decode(model: "LagLlamaModel", inputs: DecodingInputs, policy: DecodingPolicy = CACHED) -> torch.Tensor:
    """Sample paths (B * samples, horizon), series-major, decoded as ``policy`` says."""
    run = _Run(model, inputs, policy)
    for t in decoding_steps(inputs.horizon):
        hidden, loc, scale, features = run.hidden_states(t)
        if run.per_series:  # one row per series: the head's arguments go to each of its paths
            params = first_step_params(model, hidden, inputs.samples, features)
            loc, scale = _repeat(loc, inputs.samples), _repeat(scale, inputs.samples)
        else:
            params = model.head(hidden, features)
        y = draw(model, params, loc, scale, inputs.nonnegative)
        run.paths[:, t : t + 1] = y
        if policy.single_pass:
            run.append(t, single_pass_mean(model, hidden, y, run.loc, run.scale, inputs.nonnegative, features))
        else:
            if run.per_series:  # after the kv-cache's prefill: each path continues on its own
                run.expand()
            run.append(t, y)
    return run.paths


# from this many steps a forecast runs long enough (minutes for 10,000 steps) to want a bar
LONG_HORIZON = 256


def decoding_steps(horizon: int):
    """The steps to decode: a plain range, or from :data:`LONG_HORIZON` steps a tqdm bar over
    them (on stderr, and only on a terminal: tqdm's ``disable=None``), with its time estimate."""
    if horizon < LONG_HORIZON:
        return range(horizon)
    return tqdm(range(horizon), desc="decoding", unit="step", leave=False, disable=None)


class _Run:
    """The state of one decoding run: each row's history and inputs, and the kv-cache.

    Rows are series (``per_series``) while the paths of a series share their computation: the
    prefill of a cached run, and every step of a single-pass run. Otherwise each of the
    ``samples`` paths of a series has its own row, series-major.
    """

    def __init__(self, model: "LagLlamaModel", inputs: DecodingInputs, policy: DecodingPolicy) -> None:
        self.model = model
        self.policy = policy
        self.samples = inputs.samples
        B, self.past = inputs.past_target.shape
        H = inputs.horizon
        self.context_length = C = model.context_length
        self.scaling_length = C + H - 1  # the longest sequence of the run: fixes dynamic rope scaling
        self.loc, self.scale = inputs.loc, inputs.scale
        # the history, scaled by the fixed loc and scale, or raw when it is rescaled every step;
        # its first past + t columns are valid at step t
        self.history = inputs.past_target.new_zeros(B, self.past + H)
        if policy.rescale_every_step:
            self.history[:, : self.past] = inputs.past_target
            # the sampled values count as observed when re-scaling
            self.observed = inputs.past_observed_values.new_ones(B, self.past + H)
            self.observed[:, : self.past] = inputs.past_observed_values
        else:
            self.history[:, : self.past] = (inputs.past_target - self.loc) / self.scale
        self.past_tf, self.future_tf = inputs.past_time_feat, inputs.future_time_feat
        self.features = inputs.covariate_features
        self.paths = inputs.past_target.new_zeros(B * inputs.samples, H)
        self.per_series = True
        samples_in_cache = 1 if policy.single_pass else inputs.samples
        self.cache = KVCache(samples=samples_in_cache, max_generated=H) if policy.kv_cache else None
        if not (policy.kv_cache or policy.single_pass):  # nothing shared: one row per path from the start
            self.expand()

    def expand(self) -> None:
        """One row per path: each row repeated ``samples`` times (the cache keeps the context per series)."""
        S = self.samples
        self.history, self.loc, self.scale = _repeat(self.history, S), _repeat(self.loc, S), _repeat(self.scale, S)
        self.past_tf, self.future_tf = _repeat(self.past_tf, S), _repeat(self.future_tf, S)
        self.features = _repeat(self.features, S)
        if self.policy.rescale_every_step:
            self.observed = _repeat(self.observed, S)
        self.per_series = False

    def hidden_states(self, t: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """The hidden states of step ``t``'s tokens, with the loc and scale they were made with and
        their covariate features (for the head)."""
        model, C, n = self.model, self.context_length, self.past + t
        if self.cache is not None and t > 0:
            # the token of the value appended last, at position C + t - 1, with its own covariate row
            tf = self.future_tf[:, t - 1 : t] if self.future_tf is not None else None
            token = model.tokens(self.history[:, :n], self.loc, self.scale, tf, 1)
            features = _slice(self.features, C + t - 1, C + t)
            hidden = model.hidden_states(token, C + t - 1, self.scaling_length, self.cache, features)
            return hidden, self.loc, self.scale, features
        # the whole window: the prefill, or every step without a cache
        loc, scale, scaled = self.loc, self.scale, self.history[:, :n]
        if self.policy.rescale_every_step:
            loc, scale = model.scale(self.history[:, :n], self.observed[:, :n])
            scaled = (self.history[:, :n] - loc) / scale
        tf = self.past_tf
        if self.future_tf is not None and t > 0:
            tf = torch.cat((self.past_tf, self.future_tf[:, :t]), dim=1)
        tokens = model.tokens(scaled, loc, scale, tf, C + t)
        features = _slice(self.features, 0, C + t)
        return model.hidden_states(tokens, 0, self.scaling_length, self.cache, features), loc, scale, features

    def append(self, t: int, value: torch.Tensor) -> None:
        """``value`` (one per row) becomes position ``past + t`` of the history."""
        n = self.past + t
        if self.policy.rescale_every_step:
            self.history[:, n : n + 1] = value
        else:
            self.history[:, n : n + 1] = (value - self.loc) / self.scale


def draw(model: "LagLlamaModel", params, loc, scale, nonnegative: bool) -> torch.Tensor:
    """One value per path from the distribution at the last position, (B * S, 1)."""
    y = model.distr_output.distribution(tuple(p[:, -1:] for p in params), loc, scale).sample()
    return F.relu(y) if nonnegative else y


def first_step_params(
    model: "LagLlamaModel", hidden: torch.Tensor, samples: int, features: Optional[torch.Tensor] = None
) -> Tuple[torch.Tensor, ...]:
    """The next-step arguments of each of the ``samples`` paths of a series from its last state.

    A distribution head is deterministic, so its arguments are computed once per series and
    repeated; the implicit quantile network draws its quantile level inside the head, so it
    runs once per path (else the paths of a series would share their first value).
    """
    if isinstance(model.distr_output, ImplicitQuantileNetworkOutput):
        return model.param_proj(hidden[:, -1:].repeat_interleave(samples, dim=0))
    # the head over every position, then the last: the same matrix product as before the
    # split into hidden_states and head, so released checkpoints forecast bit for bit as they did
    return tuple(p[:, -1:].repeat_interleave(samples, dim=0) for p in model.head(hidden, features))


def single_pass_mean(
    model: "LagLlamaModel", hidden, draws, loc, scale, nonnegative: bool, features=None
) -> torch.Tensor:
    """The value a single-pass run feeds back: the forecast mean of each series, (B, 1)."""
    params = tuple(p[:, -1:] for p in model.head(hidden[:, -1:], None if features is None else features[:, -1:]))
    try:
        mean = model.distr_output.distribution(params, loc, scale).mean
    except NotImplementedError:  # (the implicit quantile network has no closed-form mean)
        mean = draws.view(loc.shape[0], -1).mean(dim=1, keepdim=True)
    return F.relu(mean) if nonnegative else mean


def _slice(features: Optional[torch.Tensor], start: int, stop: int) -> Optional[torch.Tensor]:
    """Tokens ``start .. stop - 1`` of the covariate features (None without covariates)."""
    return None if features is None else features[:, start:stop]


def _repeat(t: Optional[torch.Tensor], samples: int) -> Optional[torch.Tensor]:
    """Each row ``samples`` times in a row (series-major, as the paths are laid out)."""
    return None if t is None else t.repeat_interleave(samples, dim=0)
