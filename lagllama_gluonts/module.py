"""The Lag-Llama network: a decoder-only LLaMA over lagged values of one series.

Read top to bottom: scalers, rotary embeddings, attention with its kv-cache, the MLP,
the block, then :class:`LagLlamaModel`, which turns a window of a series into tokens
(lags + scale features + time features), runs the transformer and projects every
position onto the parameters of a distribution.

Parameter names equal the released checkpoint's ``state_dict`` (``transformer.wte``,
``transformer.h.{i}.{rms_1,attn,rms_2,mlp}``, ``transformer.ln_f``, ``param_proj``), so
its weights load without renaming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from gluonts.model import Input, InputSpec
from gluonts.torch.distributions import DistributionOutput, ImplicitQuantileNetworkOutput, StudentTOutput
from torch import nn

from .common.scaling import make_scaler
from .common.validation import check_positive

# --------------------------------------------------------------------------- rotary embeddings


class RotaryEmbedding(nn.Module):
    """Rotary position embedding, plain or with ``linear`` / ``dynamic`` (NTK) scaling.

    Stateless on purpose: cos/sin are a pure function of the positions and of the length
    the dynamic scaling is planned for. The reference caches them and, under dynamic
    scaling, permanently rewrites its frequencies the first time it meets a long sequence;
    that makes kv-cached keys stale. Here the caller names ``scaling_length`` (the longest
    sequence a decoding run will reach) so cached and recomputed keys rotate identically.
    """

    def __init__(
        self,
        dim: int,
        max_position_embeddings: int = 2048,
        base: float = 10000.0,
        scaling_type: Optional[str] = None,
        scaling_factor: float = 1.0,
    ):
        super().__init__()
        self.dim = dim
        self.max_position_embeddings = max_position_embeddings
        self.base = base
        self.scaling_type = scaling_type
        self.scaling_factor = scaling_factor
        self.register_buffer("inv_freq", self._inv_freq(base), persistent=False)

    def _inv_freq(self, base: float) -> torch.Tensor:
        return 1.0 / (base ** (torch.arange(0, self.dim, 2).float() / self.dim))

    def forward(
        self, positions: torch.Tensor, scaling_length: int, dtype: torch.dtype
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """cos and sin of shape (len(positions), dim) for integer ``positions``."""
        inv_freq = self.inv_freq
        t = positions.to(inv_freq.dtype)
        if self.scaling_type == "linear":
            t = t / self.scaling_factor
        elif self.scaling_type == "dynamic" and scaling_length > self.max_position_embeddings:
            ratio = self.scaling_factor * scaling_length / self.max_position_embeddings
            base = self.base * (ratio - (self.scaling_factor - 1)) ** (self.dim / (self.dim - 2))
            inv_freq = self._inv_freq(base).to(inv_freq.device)
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return x * cos + rotate_half(x) * sin


# --------------------------------------------------------------------------- transformer


@dataclass
class LagLlamaConfig:
    feature_size: int
    block_size: int = 2048
    n_layer: int = 8
    n_head: int = 9
    n_embd_per_head: int = 16
    rope_scaling: Optional[dict] = None
    dropout: float = 0.0

    @property
    def n_embd(self) -> int:
        return self.n_head * self.n_embd_per_head


class KVCache:
    """Keys and values of every layer for one decoding run of ``samples`` paths per series.

    The context is the same for all paths of a series, so its keys and values are computed
    once per series (the prefill) and kept at batch size ``B``; only the positions each path
    generates itself are stored per path, in buffers preallocated for the whole horizon.
    Decoding then never copies the context ``samples`` times, in time or in memory.
    """

    def __init__(self, samples: int, max_generated: int) -> None:
        self.samples = samples
        self.max_generated = max_generated
        self.context: dict = {}  # layer -> (keys, values), (B, heads, context, head_dim)
        self.generated: dict = {}  # layer -> (keys, values), (B * samples, heads, max_generated, head_dim)
        self.context_length = 0
        self.length = 0  # positions filled, context included

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Store this step's keys/values; attention of its queries over everything cached."""
        if self.length == 0:  # prefill: an ordinary causal pass over the context
            self.context[layer] = (k, v)
            return F.scaled_dot_product_attention(q, k, v, is_causal=q.shape[2] > 1)
        BS, H, T, D = q.shape
        if T != 1:
            raise ValueError("after the prefill, the cache decodes one position per call")
        if layer not in self.generated:
            # zeros, not empty: the unfilled positions enter the products below (masked out)
            shape = (BS, H, self.max_generated, D)
            self.generated[layer] = (q.new_zeros(shape), q.new_zeros(shape))
        gen_k, gen_v = self.generated[layer]
        g = self.length - self.context_length
        gen_k[:, :, g] = k[:, :, 0]
        gen_v[:, :, g] = v[:, :, 0]
        ctx_k, ctx_v = self.context[layer]
        B, S, C = ctx_k.shape[0], self.samples, ctx_k.shape[2]
        q = q * (1.0 / math.sqrt(D))  # (B * S, H, 1, D): one query per path
        # the S paths of a series against its shared context: one (S x D)(D x C) product per head
        q_by_series = q.view(B, S, H, D).transpose(1, 2)  # (B, H, S, D)
        scores_ctx = torch.matmul(q_by_series, ctx_k.transpose(-1, -2)).transpose(1, 2).reshape(BS, H, 1, C)
        # each path's own keys: the whole buffer, positions not generated yet masked out. A
        # slice [:, :, : g + 1] reads half as much on average, but batched matmul copies such
        # a strided view every step, which measured slower than reading the zeros.
        scores_own = torch.matmul(q, gen_k.transpose(-1, -2))  # (B * S, H, 1, max_generated)
        scores_own[..., g + 1 :] = -math.inf
        weights = torch.softmax(torch.cat((scores_ctx, scores_own), dim=-1), dim=-1)
        weights_ctx = weights[..., :C].reshape(B, S, H, C).transpose(1, 2)  # (B, H, S, C)
        y = torch.matmul(weights_ctx, ctx_v).transpose(1, 2).reshape(BS, H, 1, D)
        return y + torch.matmul(weights[..., C:], gen_v)

    def advance(self, steps: int) -> None:
        if self.length == 0:
            self.context_length = steps
        self.length += steps


class CausalSelfAttention(nn.Module):
    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        width = config.n_embd
        self.q_proj = nn.Linear(width, width, bias=False)
        self.kv_proj = nn.Linear(width, 2 * width, bias=False)
        self.c_proj = nn.Linear(width, width, bias=False)
        self.n_head = config.n_head
        self.head_dim = config.n_embd_per_head
        self.dropout = config.dropout
        scaling = config.rope_scaling or {}
        kind = scaling.get("type")
        self.rotary_emb = (
            None
            if kind == "nope"
            else RotaryEmbedding(
                self.head_dim,
                max_position_embeddings=config.block_size,
                scaling_type=kind,
                scaling_factor=float(scaling.get("factor", 1.0)),
            )
        )

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        scaling_length: int,
        cache: Optional[KVCache] = None,
        layer: int = 0,
    ) -> torch.Tensor:
        B, T, C = x.shape
        q = self.q_proj(x)
        k, v = self.kv_proj(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if self.rotary_emb is not None:
            cos, sin = self.rotary_emb(positions, scaling_length, dtype=x.dtype)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)

        if cache is not None:
            y = cache.attend(layer, q, k, v)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=T > 1
            )
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


def find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - (n % k)


class MLP(nn.Module):
    """SwiGLU feed-forward, hidden size 2/3 of 4x width rounded up to a multiple of 256."""

    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        hidden = find_multiple(int(2 * 4 * config.n_embd / 3), 256)
        self.c_fc1 = nn.Linear(config.n_embd, hidden, bias=False)
        self.c_fc2 = nn.Linear(config.n_embd, hidden, bias=False)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.silu(self.c_fc1(x)) * self.c_fc2(x))


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the statistic in float32 even when the activations are not
        norm = x.to(torch.float32).pow(2).mean(dim=-1, keepdim=True)
        return (self.scale * (x * torch.rsqrt(norm + self.eps))).type_as(x)


class Block(nn.Module):
    def __init__(self, config: LagLlamaConfig) -> None:
        super().__init__()
        self.rms_1 = RMSNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.rms_2 = RMSNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, positions, scaling_length, cache=None, layer=0):
        x = x + self.attn(self.rms_1(x), positions, scaling_length, cache, layer)
        return x + self.mlp(self.rms_2(x))


# --------------------------------------------------------------------------- the model


def lag_features(series: torch.Tensor, lag_index: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """Lagged values for the last ``num_tokens`` positions of ``series``.

    ``series`` is (batch, length); the result is (batch, num_tokens, len(lag_index)) where
    token ``k`` (position ``p = length - num_tokens + k``, which predicts ``p + 1``) holds
    ``series[p - i]`` for each 0-based index ``i``: lag ``i + 1`` of the predicted position.
    The same values as GluonTS's ``lagged_sequence_values``, in one gather.
    """
    length = series.shape[1]
    positions = torch.arange(length - num_tokens, length, device=series.device)
    return series[:, positions[:, None] - lag_index[None, :]]


# GluonTS's time features of frequency "S" (second, minute, hour, day of week/month/year)
NUM_TIME_FEATURES = 6

# The model's covariate inputs, in GluonTS's field names (as its TFT model takes them):
# ``feat_dynamic_real`` (batch, past + horizon, K) known over the horizon, ``past_feat_dynamic_real``
# (batch, past, K) known only before the forecast start, ``feat_static_real`` (batch, K) and
# ``feat_static_cat`` (batch, K) integer codes.
COVARIATE_INPUTS = ("feat_dynamic_real", "past_feat_dynamic_real", "feat_static_real", "feat_static_cat")
COVARIATE_SCALINGS = ("std", "none")
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


class LagLlamaModel(nn.Module):
    """Lag-Llama: a decoder-only transformer over lag features of a univariate series.

    The same vocabulary as ``informer_gluonts``' ``InformerModel``:
    :meth:`distribution_args` (one teacher-forced pass: ``(distr_args, loc, scale)``),
    :meth:`loss` (the negative log-likelihood at every predicted position),
    :meth:`sample` (autoregressive sample paths), ``forward`` = :meth:`sample` (what a
    GluonTS predictor calls), and :meth:`describe_inputs` (the prediction inputs, GluonTS's
    ``InputSpec``).

    **Lags.** One convention with Informer: a lag ``L >= 1`` is the value ``L`` steps before
    the predicted position (GluonTS's ``get_lags_for_frequency``). ``lags_seq`` keeps the
    reference's 0-based indices, index ``i`` = lag ``i + 1``, because the reference's
    constructor and every released checkpoint use them; :attr:`lags` gives the same set in
    the 1-based convention.

    Parameters
    ----------
    context_length
        Number of tokens the model attends over before the horizon.
    max_context_length
        Length the rotary embeddings are built for (``block_size`` of the reference);
        dynamic rope scaling kicks in beyond it.
    scaling
        "robust", "mean", "std", "none" or None (see ``common.scaling``).
    input_size
        Must be 1 (univariate), as in the released model.
    n_layer, n_embd_per_head, n_head
        Transformer depth and width (width = n_head * n_embd_per_head; the head size must be
        even: rotary embeddings rotate pairs of channels).
    lags_seq
        0-based lag indices (index ``i`` = lag ``i + 1``); the window fed to the model holds
        ``context_length + max(lags_seq)`` past values.
    distr_output
        Any GluonTS ``DistributionOutput``; Student-t by default.
    rope_scaling
        None, or ``{"type": "linear" | "dynamic", "factor": float >= 1}``.
    num_parallel_samples
        Sample paths drawn per series at prediction time.
    time_feat
        Whether six time features (GluonTS's features of frequency "S") are fed.
    dropout
        Attention dropout probability (training only).
    scaling_window
        How many of the most recent past values loc and scale are computed from. ``None``
        (the reference, and the released checkpoint) uses the whole window of
        ``context_length + max(lags_seq)`` values: on a trending series its median lies far
        below the current level, and a model pretrained on mostly mean-reverting data then
        pulls forecasts back towards it. The bundled checkpoint scales on its context.
    unobserved_as_loc
        Feed unobserved past values (missing, or the padding before a short series' start)
        as ``loc``, i.e. 0 after scaling. The reference feeds them as raw 0, which after
        scaling is ``-loc / scale``: for a short series far from 0 every long lag then reads
        as a huge negative value.
    prediction_length
        Default horizon of :meth:`sample` and of :meth:`describe_inputs` (the Lightning module
        sets it; checkpoints do not store it: the horizon is not part of the architecture).
    num_feat_dynamic_real, num_past_feat_dynamic_real, num_feat_static_real, num_feat_static_cat
        Covariates in GluonTS's fields (the names of ``DeepAREstimator``): known over the
        horizon, known only in the past, static real, static categorical (see
        :class:`CovariateEncoder`). All 0 (the default, and every released checkpoint): no
        covariate weights at all, the state dict of the reference.
    cardinality, embedding_dimension
        Per static categorical feature: its number of values, and its embedding size
        (default ``min(50, (cardinality + 1) // 2)``, as ``DeepAREstimator``).
    covariate_scaling
        "std" (each dynamic covariate standardised by its own context window, its window's
        mean and spread fed alongside) or "none" (fed as given, e.g. calendar features).
    """

    def __init__(
        self,
        context_length: int,
        max_context_length: int,
        scaling: Optional[str],
        input_size: int,
        n_layer: int,
        n_embd_per_head: int,
        n_head: int,
        lags_seq: List[int],
        distr_output: Optional[DistributionOutput] = None,
        rope_scaling: Optional[dict] = None,
        num_parallel_samples: int = 100,
        time_feat: bool = True,
        dropout: float = 0.0,
        scaling_window: Optional[int] = None,
        unobserved_as_loc: bool = False,
        prediction_length: Optional[int] = None,
        num_feat_dynamic_real: int = 0,
        num_past_feat_dynamic_real: int = 0,
        num_feat_static_real: int = 0,
        num_feat_static_cat: int = 0,
        cardinality: Optional[List[int]] = None,
        embedding_dimension: Optional[List[int]] = None,
        covariate_scaling: str = "std",
    ) -> None:
        super().__init__()
        check_architecture(
            context_length=context_length,
            max_context_length=max_context_length,
            n_layer=n_layer,
            n_head=n_head,
            n_embd_per_head=n_embd_per_head,
            num_parallel_samples=num_parallel_samples,
            prediction_length=prediction_length,
        )
        if scaling_window is not None and scaling_window < 1:
            raise ValueError(f"scaling_window must be None or a positive number of steps, got {scaling_window}")
        if input_size != 1:
            raise ValueError(f"Lag-Llama is univariate: input_size must be 1, got {input_size}")
        if not lags_seq or min(lags_seq) < 0:
            raise ValueError(f"lags_seq must be non-empty 0-based lag indices, got {lags_seq}")
        validate_rope_scaling(rope_scaling)
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.lags_seq = sorted(int(lag) for lag in lags_seq)
        self.max_lag = max(self.lags_seq)
        self.num_parallel_samples = num_parallel_samples
        self.time_feat = time_feat
        self.scaler = make_scaler(scaling, dim=1)
        self.scaling_window = scaling_window
        self.unobserved_as_loc = unobserved_as_loc
        self.distr_output = distr_output if distr_output is not None else StudentTOutput()
        # not persistent: the released state_dict has no such entry
        self.register_buffer("lag_index", torch.tensor(self.lags_seq), persistent=False)

        feature_size = len(self.lags_seq) + 2 + (NUM_TIME_FEATURES if time_feat else 0)
        self.config = LagLlamaConfig(
            feature_size=feature_size,
            block_size=max_context_length,
            n_layer=n_layer,
            n_head=n_head,
            n_embd_per_head=n_embd_per_head,
            rope_scaling=rope_scaling,
            dropout=dropout,
        )
        self.param_proj = self.distr_output.get_args_proj(self.config.n_embd)
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Linear(feature_size, self.config.n_embd),
                h=nn.ModuleList([Block(self.config) for _ in range(n_layer)]),
                ln_f=RMSNorm(self.config.n_embd),
            )
        )
        self.num_feat_dynamic_real = num_feat_dynamic_real
        self.num_past_feat_dynamic_real = num_past_feat_dynamic_real
        self.num_feat_static_real = num_feat_static_real
        self.num_feat_static_cat = num_feat_static_cat
        self.cardinality = list(cardinality or [])
        check_covariates(
            num_feat_dynamic_real=num_feat_dynamic_real,
            num_past_feat_dynamic_real=num_past_feat_dynamic_real,
            num_feat_static_real=num_feat_static_real,
            num_feat_static_cat=num_feat_static_cat,
            cardinality=self.cardinality,
            embedding_dimension=embedding_dimension,
            covariate_scaling=covariate_scaling,
        )
        # None without covariates: no parameter the released state dict lacks
        self.covariates = None
        if self.covariate_inputs:
            self.covariates = CovariateEncoder(
                self.config.n_embd,
                num_feat_dynamic_real,
                num_past_feat_dynamic_real,
                num_feat_static_real,
                self.cardinality,
                embedding_dimension,
                covariate_scaling,
            )

    @property
    def past_length(self) -> int:
        """Past values one window holds: the context and the longest lag's reach before it."""
        return self.context_length + self.max_lag

    @property
    def lags(self) -> List[int]:
        """The lags in the 1-based convention shared with Informer (``lags_seq`` + 1)."""
        return [index + 1 for index in self.lags_seq]

    @property
    def covariate_inputs(self) -> List[str]:
        """The covariate inputs (of :data:`COVARIATE_INPUTS`) the model was built with."""
        counts = (
            self.num_feat_dynamic_real,
            self.num_past_feat_dynamic_real,
            self.num_feat_static_real,
            self.num_feat_static_cat,
        )
        return [name for name, count in zip(COVARIATE_INPUTS, counts) if count > 0]

    def _covariate_config(self) -> str:
        return (
            f"num_feat_dynamic_real={self.num_feat_dynamic_real}, "
            f"num_past_feat_dynamic_real={self.num_past_feat_dynamic_real}, "
            f"num_feat_static_real={self.num_feat_static_real}, num_feat_static_cat={self.num_feat_static_cat}"
        )

    def describe_inputs(self, batch_size: int = 1) -> InputSpec:
        """The prediction inputs (what ``forward`` takes), as GluonTS's ``InputSpec``."""
        horizon = self._horizon(None)
        P = self.past_length
        inputs = {
            "past_target": Input(shape=(batch_size, P), dtype=torch.float),
            "past_observed_values": Input(shape=(batch_size, P), dtype=torch.float),
        }
        if self.time_feat:
            inputs["past_time_feat"] = Input(shape=(batch_size, P, NUM_TIME_FEATURES), dtype=torch.float)
            inputs["future_time_feat"] = Input(shape=(batch_size, horizon, NUM_TIME_FEATURES), dtype=torch.float)
        shapes = {
            "feat_dynamic_real": ((batch_size, P + horizon, self.num_feat_dynamic_real), torch.float),
            "past_feat_dynamic_real": ((batch_size, P, self.num_past_feat_dynamic_real), torch.float),
            "feat_static_real": ((batch_size, self.num_feat_static_real), torch.float),
            "feat_static_cat": ((batch_size, self.num_feat_static_cat), torch.long),
        }
        for name in self.covariate_inputs:
            shape, dtype = shapes[name]
            inputs[name] = Input(shape=shape, dtype=dtype)
        return InputSpec(inputs, zeros_fn=torch.zeros)

    def _horizon(self, prediction_length: Optional[int]) -> int:
        horizon = prediction_length or self.prediction_length
        if horizon is None:
            raise ValueError("no prediction_length: pass it, or build the model with prediction_length=")
        return horizon

    # -- inputs --------------------------------------------------------------------------------

    def scale(self, past_target, past_observed_values):
        """loc and scale of each row, shape (batch, 1), from its observed past."""
        if self.scaling_window is not None:
            past_target = past_target[:, -self.scaling_window :]
            past_observed_values = past_observed_values[:, -self.scaling_window :]
        _, loc, scale = self.scaler(past_target, past_observed_values)
        return loc, scale

    def fill_unobserved(self, past_target, past_observed_values, loc):
        if not self.unobserved_as_loc:
            return past_target
        return torch.where(past_observed_values == 1, past_target, loc)

    def tokens(
        self,
        scaled_series: torch.Tensor,
        loc: torch.Tensor,
        scale: torch.Tensor,
        time_feat: Optional[torch.Tensor],
        num_tokens: int,
    ) -> torch.Tensor:
        """Features of the last ``num_tokens`` positions of a scaled series.

        Each token is [lags of the value at that position, log1p|loc|, log scale,
        time features of that position]; ``time_feat`` covers exactly those positions.
        """
        lags = lag_features(scaled_series, self.lag_index, num_tokens)
        static = torch.cat((loc.abs().log1p(), scale.log()), dim=-1)
        parts = [lags, static.unsqueeze(1).expand(-1, num_tokens, -1)]
        if self.time_feat:
            if time_feat is None:
                raise ValueError("this model was built with time_feat=True: time features are required")
            parts.append(time_feat)
        return torch.cat(parts, dim=-1)

    def covariate_features(
        self, past_observed_values: torch.Tensor, num_tokens: int, covariates: dict
    ) -> Optional[torch.Tensor]:
        """The covariate features of the first ``num_tokens`` tokens (see :class:`CovariateEncoder`),
        or None for a model without covariates (whatever ``covariates`` holds)."""
        if self.covariates is None:
            return None
        unknown = sorted(set(covariates) - set(COVARIATE_INPUTS))
        if unknown:
            raise TypeError(f"unknown covariate inputs {unknown}; the model takes {list(COVARIATE_INPUTS)}")
        for name in self.covariate_inputs:
            if covariates.get(name) is None:
                raise ValueError(
                    f"this model was built with {name} covariates ({self._covariate_config()}): {name} is required"
                )
        return self.covariates.features(past_observed_values, self.max_lag, num_tokens, **covariates)

    # -- the transformer ----------------------------------------------------------------------

    def hidden_states(
        self,
        tokens: torch.Tensor,
        start: int = 0,
        scaling_length: Optional[int] = None,
        cache: Optional[KVCache] = None,
        covariate_features: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The final (normalised) hidden state of tokens at positions ``start, start+1, ...``."""
        T = tokens.shape[1]
        positions = torch.arange(start, start + T, device=tokens.device)
        scaling_length = scaling_length or start + T
        x = self.transformer.wte(tokens)
        if covariate_features is not None:
            x = x + self.covariates(covariate_features)
        for i, block in enumerate(self.transformer.h):
            x = block(x, positions, scaling_length, cache, i)
        if cache is not None:
            cache.advance(T)
        return self.transformer.ln_f(x)

    def transformer_forward(
        self,
        tokens: torch.Tensor,
        start: int = 0,
        scaling_length: Optional[int] = None,
        cache: Optional[KVCache] = None,
        covariate_features: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, ...]:
        """Distribution arguments for tokens at positions ``start, start+1, ...``."""
        return self.param_proj(self.hidden_states(tokens, start, scaling_length, cache, covariate_features))

    # -- one teacher-forced pass: training, validation, the reference's outputs ---------------

    def distribution_args(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        future_target: Optional[torch.Tensor] = None,
        **covariates: torch.Tensor,
    ) -> Tuple[Tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
        """Teacher-forced distribution arguments, with the reference's semantics.

        Without ``future_target`` there is one output per context position (the last one
        is the next-step forecast); with it, the horizon's values but its last are appended
        as inputs, giving ``context_length + prediction_length - 1`` outputs.
        Returns ``(distr_args, loc, scale)``; the arguments are in scaled space.
        ``covariates``: the inputs of :data:`COVARIATE_INPUTS` the model was built with.
        """
        loc, scale = self.scale(past_target, past_observed_values)
        past_target = self.fill_unobserved(past_target, past_observed_values, loc)
        series = (past_target - loc) / scale
        time_feat = past_time_feat[:, self.max_lag :] if past_time_feat is not None else None
        if future_target is not None:
            series = torch.cat((series, (future_target[:, :-1] - loc) / scale), dim=1)
            if time_feat is not None:
                time_feat = torch.cat((time_feat, future_time_feat[:, :-1]), dim=1)
        num_tokens = series.shape[1] - self.max_lag
        tokens = self.tokens(series, loc, scale, time_feat, num_tokens)
        features = self.covariate_features(past_observed_values, num_tokens, covariates)
        return self.transformer_forward(tokens, covariate_features=features), loc, scale

    def loss(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor],
        future_time_feat: Optional[torch.Tensor],
        future_target: torch.Tensor,
        future_observed_values: torch.Tensor,
        **covariates: torch.Tensor,
    ) -> torch.Tensor:
        """Mean negative log-likelihood over each series' observed predicted positions, shape
        (batch,): the same contract as ``InformerModel.loss`` (and GluonTS's models)."""
        nll, observed = self.nll_per_position(
            past_target,
            past_observed_values,
            past_time_feat,
            future_time_feat,
            future_target,
            future_observed_values,
            **covariates,
        )
        return (nll * observed).sum(dim=1) / observed.sum(dim=1).clamp_min(1.0)

    def nll_per_position(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor],
        future_time_feat: Optional[torch.Tensor],
        future_target: torch.Tensor,
        future_observed_values: torch.Tensor,
        loss=None,
        **covariates: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Negative log-likelihood at every predicted position, and whether it was observed.

        The teacher-forced pass predicts the context but its first value, then the horizon:
        returns ``(nll, observed)``, both (batch, context_length - 1 + prediction_length).
        Averaging ``nll`` over the batch's observed positions is the training loss; the last
        ``prediction_length`` columns are the horizon alone.

        The value is the distribution output's own ``loss`` (the NLL; for ``"iqn"`` its
        quantile loss at the sampled levels), or ``loss(distribution, target)`` when a loss
        is given (the reference's ``DistributionLoss`` protocol).
        """
        distr_args, loc, scale = self.distribution_args(
            past_target, past_observed_values, past_time_feat, future_time_feat, future_target, **covariates
        )
        # the context positions that have a prediction: all but the first. Sliced from the
        # end by length, not with [-keep:], which for keep = 0 (context_length 1) is everything.
        P, keep = past_target.shape[1], self.context_length - 1
        target = torch.cat((past_target[:, P - keep :], future_target), dim=1)
        observed = torch.cat((past_observed_values[:, P - keep :], future_observed_values), dim=1)
        if loss is not None:
            return loss(self.distr_output.distribution(distr_args, loc=loc, scale=scale), target), observed
        if isinstance(self.distr_output, ImplicitQuantileNetworkOutput):
            return self.distr_output.loss(target, distr_args, loc, scale), observed
        distr = self.distr_output.distribution(distr_args, loc=loc, scale=scale)
        return -distr.log_prob(target), observed

    # -- sampling -----------------------------------------------------------------------------

    def forward(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        **options,
    ) -> torch.Tensor:
        """Sample paths (GluonTS's convention: ``forward`` is what the predictor calls); see :meth:`sample`."""
        return self.sample(past_target, past_observed_values, past_time_feat, future_time_feat, **options)

    @torch.inference_mode()
    def sample(
        self,
        past_target: torch.Tensor,
        past_observed_values: torch.Tensor,
        past_time_feat: Optional[torch.Tensor] = None,
        future_time_feat: Optional[torch.Tensor] = None,
        prediction_length: Optional[int] = None,
        num_samples: Optional[int] = None,
        use_kv_cache: bool = True,
        rescale_every_step: bool = False,
        nonnegative: bool = False,
        single_pass: bool = False,
        **covariates: torch.Tensor,
    ) -> torch.Tensor:
        """Autoregressive sample paths, shape (batch, num_samples, prediction_length).

        Every path conditions on its own sampled history. By default loc and scale are
        fixed from the observed history, so every earlier token is unchanged as the path
        grows and the kv-cache is exact: cached (:meth:`_sample_cached`) and recomputed
        (:meth:`_sample_recomputed`) decoding give the same samples for the same seed.
        ``rescale_every_step=True`` reproduces the reference (:meth:`_sample_rescaled`),
        which re-runs its scaler over the growing history at every step; the tokens of the
        whole window then change each step, so it recomputes everything (no cache).

        ``single_pass=True`` is the reference's ``use_single_pass_sampling``
        (:meth:`_sample_single_pass`): one path per series, fed its own forecast mean, and at
        each step ``num_samples`` independent draws from that step's distribution. Each
        step's marginal is then conditioned on the mean path, not on a sampled history: the
        "paths" are not coherent sample paths (no dependence between steps, and too narrow
        at long horizons where the uncertainty of earlier steps should compound). It is
        ``num_samples`` times cheaper.

        ``covariates``: the inputs of :data:`COVARIATE_INPUTS` the model was built with; they
        do not depend on the paths, so their features are computed once per call.
        """
        S = num_samples or self.num_parallel_samples
        H = self._horizon(prediction_length)
        if single_pass and rescale_every_step:
            raise ValueError("single_pass and rescale_every_step are separate decodings: choose one")
        loc, scale = self.scale(past_target, past_observed_values)
        past_target = self.fill_unobserved(past_target, past_observed_values, loc)
        past_tf = past_time_feat[:, self.max_lag :] if past_time_feat is not None else None
        # every token a run can meet: the context's and the horizon's but the last
        features = self.covariate_features(past_observed_values, self.context_length + H - 1, covariates)
        if single_pass:
            paths = self._sample_single_pass(
                past_target, loc, scale, past_tf, future_time_feat, features, H, S, nonnegative, use_kv_cache
            )
        elif rescale_every_step:
            paths = self._sample_rescaled(
                past_target, past_observed_values, past_tf, future_time_feat, features, H, S, nonnegative
            )
        elif use_kv_cache:
            paths = self._sample_cached(past_target, loc, scale, past_tf, future_time_feat, features, H, S, nonnegative)
        else:
            paths = self._sample_recomputed(
                past_target, loc, scale, past_tf, future_time_feat, features, H, S, nonnegative
            )
        return paths.reshape(past_target.shape[0], S, H)

    def _draw(self, params, loc, scale, nonnegative: bool) -> torch.Tensor:
        """One value per path from the distribution at the last position, (B * S, 1)."""
        y = self.distr_output.distribution(tuple(p[:, -1:] for p in params), loc, scale).sample()
        return F.relu(y) if nonnegative else y

    def _first_step_params(self, hidden: torch.Tensor, S: int) -> Tuple[torch.Tensor, ...]:
        """The next-step arguments of each of the ``S`` paths of a series from its context's last state.

        A distribution head is deterministic, so its arguments are computed once per series and
        repeated; the implicit quantile network draws its quantile level inside the head, so it
        runs once per path (else the paths of a series would share their first value).
        """
        if isinstance(self.distr_output, ImplicitQuantileNetworkOutput):
            return self.param_proj(hidden[:, -1:].repeat_interleave(S, dim=0))
        # the head over every position, then the last: the same matrix product as before the
        # split into hidden_states and head, so released checkpoints forecast bit for bit as they did
        return tuple(p[:, -1:].repeat_interleave(S, dim=0) for p in self.param_proj(hidden))

    def _sample_cached(self, past_target, loc, scale, past_tf, future_tf, features, H, S, nonnegative):
        """Fixed loc and scale, kv-cache: the context once per series, then one token per step."""
        B, P = past_target.shape
        C = self.context_length
        scaling_length = C + H - 1  # the longest sequence of the run: fixes dynamic rope scaling
        scaled_past = (past_target - loc) / scale
        # the context is the same for all paths of a series: prefill it once per series
        cache = KVCache(samples=S, max_generated=H)
        tokens = self.tokens(scaled_past, loc, scale, past_tf, C)
        hidden = self.hidden_states(tokens, 0, scaling_length, cache, _slice(features, 0, C))
        params = self._first_step_params(hidden, S)
        future_tf, features = _repeat(future_tf, S), _repeat(features, S)
        loc, scale = _repeat(loc, S), _repeat(scale, S)
        # each path's scaled history; its first P + t columns are valid at step t
        series = past_target.new_zeros(B * S, P + H)
        series[:, :P] = _repeat(scaled_past, S)
        paths = past_target.new_zeros(B * S, H)
        for t in range(H):
            if t > 0:  # the token of the value sampled last, at position C + t - 1, with its own covariate row
                tf = future_tf[:, t - 1 : t] if future_tf is not None else None
                token = self.tokens(series[:, : P + t], loc, scale, tf, 1)
                params = self.transformer_forward(
                    token, C + t - 1, scaling_length, cache, _slice(features, C + t - 1, C + t)
                )
            y = self._draw(params, loc, scale, nonnegative)
            paths[:, t : t + 1] = y
            series[:, P + t : P + t + 1] = (y - loc) / scale
        return paths

    def _sample_recomputed(self, past_target, loc, scale, past_tf, future_tf, features, H, S, nonnegative):
        """Fixed loc and scale, no cache: the whole window again at every step (the check of the cache)."""
        B, P = past_target.shape
        C = self.context_length
        scaling_length = C + H - 1
        past_tf, future_tf, features = _repeat(past_tf, S), _repeat(future_tf, S), _repeat(features, S)
        loc, scale = _repeat(loc, S), _repeat(scale, S)
        series = past_target.new_zeros(B * S, P + H)
        series[:, :P] = (_repeat(past_target, S) - loc) / scale
        paths = past_target.new_zeros(B * S, H)
        for t in range(H):
            tf = past_tf if future_tf is None or t == 0 else torch.cat((past_tf, future_tf[:, :t]), dim=1)
            tokens = self.tokens(series[:, : P + t], loc, scale, tf, C + t)
            params = self.transformer_forward(tokens, 0, scaling_length, None, _slice(features, 0, C + t))
            y = self._draw(params, loc, scale, nonnegative)
            paths[:, t : t + 1] = y
            series[:, P + t : P + t + 1] = (y - loc) / scale
        return paths

    def _sample_rescaled(self, past_target, observed_past, past_tf, future_tf, features, H, S, nonnegative):
        """The reference's decoding: loc and scale re-computed over each path's growing history.

        (The covariates keep the scaling of their context window.)"""
        B, P = past_target.shape
        C = self.context_length
        scaling_length = C + H - 1
        past_tf, future_tf, features = _repeat(past_tf, S), _repeat(future_tf, S), _repeat(features, S)
        # raw history; the sampled values count as observed when re-scaling
        target = past_target.new_zeros(B * S, P + H)
        target[:, :P] = _repeat(past_target, S)
        observed = observed_past.new_ones(B * S, P + H)
        observed[:, :P] = _repeat(observed_past, S)
        for t in range(H):
            n = P + t
            loc, scale = self.scale(target[:, :n], observed[:, :n])
            tf = past_tf if future_tf is None or t == 0 else torch.cat((past_tf, future_tf[:, :t]), dim=1)
            tokens = self.tokens((target[:, :n] - loc) / scale, loc, scale, tf, C + t)
            params = self.transformer_forward(tokens, 0, scaling_length, None, _slice(features, 0, C + t))
            target[:, n : n + 1] = self._draw(params, loc, scale, nonnegative)
        return target[:, P:]

    def _sample_single_pass(
        self, past_target, loc, scale, past_tf, future_tf, features, H, S, nonnegative, use_kv_cache
    ):
        """The reference's single-pass mode: one path per series fed its mean, ``S`` draws per step."""
        B, P = past_target.shape
        C = self.context_length
        scaling_length = C + H - 1
        cache = KVCache(samples=1, max_generated=H) if use_kv_cache else None
        series = past_target.new_zeros(B, P + H)
        series[:, :P] = (past_target - loc) / scale
        paths = past_target.new_zeros(B * S, H)
        loc_s, scale_s = _repeat(loc, S), _repeat(scale, S)
        for t in range(H):
            if cache is None or t == 0:  # the whole window (the prefill, or every step without a cache)
                tf = past_tf if future_tf is None or t == 0 else torch.cat((past_tf, future_tf[:, :t]), dim=1)
                tokens = self.tokens(series[:, : P + t], loc, scale, tf, C + t)
                hidden = self.hidden_states(tokens, 0, scaling_length, cache, _slice(features, 0, C + t))
            else:
                tf = future_tf[:, t - 1 : t] if future_tf is not None else None
                token = self.tokens(series[:, : P + t], loc, scale, tf, 1)
                hidden = self.hidden_states(token, C + t - 1, scaling_length, cache, _slice(features, C + t - 1, C + t))
            y = self._draw(self._first_step_params(hidden, S), loc_s, scale_s, nonnegative)
            paths[:, t : t + 1] = y
            params = tuple(p[:, -1:] for p in self.param_proj(hidden[:, -1:]))
            try:
                mean = self.distr_output.distribution(params, loc, scale).mean
            except NotImplementedError:  # (the implicit quantile network has no closed-form mean)
                mean = y.view(B, S).mean(dim=1, keepdim=True)
            if nonnegative:
                mean = F.relu(mean)
            series[:, P + t : P + t + 1] = (mean - loc) / scale
        return paths


def _slice(features: Optional[torch.Tensor], start: int, stop: int) -> Optional[torch.Tensor]:
    """Tokens ``start .. stop - 1`` of the covariate features (None without covariates)."""
    return None if features is None else features[:, start:stop]


def _repeat(t: Optional[torch.Tensor], samples: int) -> Optional[torch.Tensor]:
    """Each row ``samples`` times in a row (series-major, as the paths are laid out)."""
    return None if t is None else t.repeat_interleave(samples, dim=0)


def check_architecture(**sizes) -> None:
    """Sizes are positive integers (``prediction_length`` may be None) and the head size is even."""
    check_positive(**sizes)
    head = sizes.get("n_embd_per_head")
    if head is not None and head % 2:
        raise ValueError(f"n_embd_per_head must be even (rotary embeddings rotate pairs of channels), got {head}")


def check_covariates(
    num_feat_dynamic_real: int = 0,
    num_past_feat_dynamic_real: int = 0,
    num_feat_static_real: int = 0,
    num_feat_static_cat: int = 0,
    cardinality: Optional[List[int]] = None,
    embedding_dimension: Optional[List[int]] = None,
    covariate_scaling: str = "std",
) -> None:
    """The covariate configuration can build a model, else a ValueError naming the argument."""
    counts = dict(
        num_feat_dynamic_real=num_feat_dynamic_real,
        num_past_feat_dynamic_real=num_past_feat_dynamic_real,
        num_feat_static_real=num_feat_static_real,
        num_feat_static_cat=num_feat_static_cat,
    )
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    cardinality = list(cardinality or [])
    if len(cardinality) != num_feat_static_cat or not all(isinstance(c, int) and c >= 1 for c in cardinality):
        raise ValueError(
            f"cardinality must list one positive integer per static categorical feature "
            f"(num_feat_static_cat={num_feat_static_cat}), got {cardinality!r}"
        )
    if embedding_dimension is not None and (
        len(embedding_dimension) != num_feat_static_cat
        or not all(isinstance(d, int) and d >= 1 for d in embedding_dimension)
    ):
        raise ValueError(
            f"embedding_dimension must list one positive integer per static categorical feature, "
            f"got {embedding_dimension!r}"
        )
    if covariate_scaling not in COVARIATE_SCALINGS:
        raise ValueError(f"covariate_scaling must be one of {list(COVARIATE_SCALINGS)}, got {covariate_scaling!r}")


ROPE_SCALING_FORMS = (
    "None, {'type': 'linear'}, {'type': 'linear', 'factor': F} or {'type': 'dynamic', 'factor': F} with F >= 1"
)


def validate_rope_scaling(rope_scaling: Optional[dict]) -> None:
    """``rope_scaling`` is one of :data:`ROPE_SCALING_FORMS`, else a ValueError naming them."""
    if rope_scaling is None:
        return
    if isinstance(rope_scaling, str):
        # the command line's spelling ("linear:2") is not the API's: say what the API takes
        kind, _, factor = rope_scaling.partition(":")
        hint = {"type": kind, **({"factor": float(factor)} if factor.replace(".", "", 1).isdigit() else {})}
        raise ValueError(
            f"rope_scaling must be {ROPE_SCALING_FORMS}; got the string {rope_scaling!r}"
            + (f" (did you mean {hint!r}?)" if kind in ("linear", "dynamic") else "")
        )
    if not isinstance(rope_scaling, dict) or rope_scaling.get("type") not in ("linear", "dynamic", "nope"):
        raise ValueError(f"rope_scaling must be {ROPE_SCALING_FORMS}; got {rope_scaling!r}")
    factor = rope_scaling.get("factor", 1.0)
    if rope_scaling["type"] != "nope" and (
        isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1.0
    ):
        raise ValueError(f"rope_scaling factor must be a number >= 1, got {factor!r}")
