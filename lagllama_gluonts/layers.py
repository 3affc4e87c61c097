"""The layers of the Lag-Llama network, as in nanoGPT's ``model.py``: rotary embeddings, the
kv-cache, causal self-attention, the SwiGLU MLP, RMSNorm, the block, and the lag features a
token is made of. :class:`~lagllama_gluonts.module.LagLlamaModel` stacks them.

Parameter names equal the released checkpoint's ``state_dict`` (``attn.q_proj``, ``mlp.c_fc1``,
``rms_1.scale``, ...), so its weights load without renaming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

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


# --------------------------------------------------------------------------- tokens


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
