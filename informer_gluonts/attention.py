"""Attention mechanisms of Informer (Zhou et al., AAAI 2021).

This module provides

* :class:`ProbSparseAttention` -- the ProbSparse self-attention of the paper, with the
  semantics of the official Informer2020 implementation (``models/attn.py``,
  ``ProbAttention``) but an implementation that really is :math:`O(L \\log L)` in time
  and memory;
* :class:`FullAttention` -- canonical softmax attention (the paper's *Informer†*
  ablation), backed by :func:`torch.nn.functional.scaled_dot_product_attention`;
* :class:`AttentionLayer` -- the official multi-head wrapper with input/output
  projections;
* :func:`make_attention` -- a small factory used by the model code.

All attention modules take ``(batch, length, heads, head_dim)`` tensors and return a
``(batch, L_Q, heads, head_dim)`` tensor, like the official code.

ProbSparse in a nutshell
------------------------
For every query, ``U_part = factor * ceil(ln L_K)`` randomly sampled keys are scored
and the query's *sparsity measurement* ``M = max_j(q k_j) - sum_j(q k_j) / L_K`` is
computed from those sampled scores only. The ``u = factor * ceil(ln L_Q)`` queries with
the largest ``M`` ("active" queries) attend to all keys with ordinary scaled softmax
attention. The other ("lazy") queries output ``mean(V)`` (or, under the causal mask,
the running sum ``cumsum(V)``, exactly as in the official code).

Why this implementation is faster than the official one
-------------------------------------------------------
The official code builds ``K.unsqueeze(-3).expand(B, H, L_Q, L_K, D)`` and indexes it
with advanced indexing, and its causal ``ProbMask`` starts from a dense ``L x L``
triangular matrix. In practice that makes it slower than full attention (Informer2020
issue #20). Here

* the sampled scores ``q_i . k_j`` are computed only for the sampled pairs: on CPU
  with a sampled dense-dense matmul (``torch.sparse.sampled_addmm`` on a CSR pattern
  holding the sampled key indices), elsewhere by gathering, per block of queries, only
  their sampled key rows (``index_select`` on the ``(B, L_K, H * D)`` layout). Both
  work in query blocks of bounded size, no ``(B, H, L_Q, L_K, D)`` view or
  ``(L_Q, L_K)`` matrix ever exists, and the step runs on detached inputs without
  autograd (it only feeds ``topk``, whose integer indices carry no gradient anyway), so
  it also runs in a ``torch.jit.trace`` graph replayed with grad enabled;
* the causal mask is built only for the ``u`` selected rows (``u x L_K``);
* the lazy-query context is produced directly in the output layout
  ``(B, L_Q, H, D)`` (a blocked cumsum for long causal sequences) and the active rows
  are scattered into it in place, so no transposed copy is needed at the end.

Memory is therefore ``O(L log L)`` (dominated by the ``u x L_K`` scores of the active
queries and the ``O(L * D)`` inputs/outputs) and time ``O(L log L * D)``; the measured
time and peak memory against full attention are in ``benchmarks/results/attention.md``.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ProbSparseAttention",
    "FullAttention",
    "AttentionLayer",
    "make_attention",
    "prob_sparse_sizes",
]

# Working-set size (in elements; 2**20 fp32 = 4 MiB) of one block of the sampled-score
# step (a block of queries in the gather path, a group of heads in the SDDMM path):
# small enough to stay cache-friendly and to bound memory, large enough that the
# Python loop over blocks costs nothing measurable.
_BLOCK_ELEMENTS = 1 << 20
# Causal context: plain cumsum up to this length, blocked cumsum beyond (see _causal_cumsum).
_CUMSUM_PLAIN_MAX_LEN = 128
_CUMSUM_BLOCK = 64


def prob_sparse_sizes(factor: int, L_Q: int, L_K: int) -> tuple[int, int]:
    """Number of sampled keys per query and number of active queries.

    Parameters
    ----------
    factor
        Sampling factor ``c`` of the paper.
    L_Q, L_K
        Query and key lengths.

    Returns
    -------
    tuple of int
        ``(U_part, u)`` with ``U_part = min(factor * ceil(ln L_K), L_K)`` and
        ``u = min(factor * ceil(ln L_Q), L_Q)``, as in the official code.

    Notes
    -----
    For a length of 1 the official formula gives 0 (``ln 1 = 0``) and the official code
    crashes; we use at least one sample / one active query there, which is the only
    sensible value.
    """
    U_part = min(factor * math.ceil(math.log(L_K)), L_K)
    u = min(factor * math.ceil(math.log(L_Q)), L_Q)
    return max(U_part, 1), max(u, 1)


def _sparsity_gather(queries: torch.Tensor, keys: torch.Tensor, index_sample: torch.Tensor) -> torch.Tensor:
    """Sparsity measurement by gathering the sampled keys block-wise (any device/dtype).

    Parameters
    ----------
    queries
        ``(B, L_Q, H, D)``.
    keys
        ``(B, L_K, H, D)``.
    index_sample
        ``(L_Q, U)`` key indices sampled for each query.

    Returns
    -------
    torch.Tensor
        ``(B, H, L_Q)``: ``max(sampled scores) - sum(sampled scores) / L_K``.
    """
    B, L_Q, H, D = queries.shape
    L_K = keys.shape[1]
    U = index_sample.shape[1]
    # Gathering rows of a contiguous (B, L_K, H*D) tensor copies whole rows of H*D
    # floats, which is much faster than gathering D-float rows per head.
    keys = keys.contiguous()
    M = queries.new_empty(B, L_Q, H)
    block = max(1, min(L_Q, _BLOCK_ELEMENTS // (B * U * H * D)))
    for start in range(0, L_Q, block):
        stop = min(start + block, L_Q)
        n = stop - start
        # (B, n, U, H, D): only the sampled keys of these n queries.
        k_sample = keys.index_select(1, index_sample[start:stop].reshape(-1)).view(B, n, U, H, D)
        # In-place product then reduce over D: one temporary of block size, no
        # (L_Q, L_K) scores and no (B, H, L_Q, L_K, D) expand as in the official code.
        k_sample.mul_(queries[:, start:stop].unsqueeze(2))
        qk_sample = k_sample.sum(-1)  # (B, n, U, H)
        # Divide by L_K (not U): this is what the official code does.
        M[:, start:stop] = qk_sample.amax(2) - qk_sample.sum(2) / L_K
    return M.transpose(1, 2)


def _head_groups(B: int, H: int, per_head: int):
    """Split the (batch, head) pairs into groups of about ``_BLOCK_ELEMENTS`` elements.

    Yields ``(batch_slice, head_slice)`` pairs: whole batch elements per group when a
    group holds at least ``H`` heads, otherwise chunks of heads of one batch element.
    Either way the group is a contiguous range of the flattened ``B * H`` index.
    """
    cap = max(1, _BLOCK_ELEMENTS // per_head)
    if cap >= H:
        step = min(B, cap // H)
        for b0 in range(0, B, step):
            yield slice(b0, min(b0 + step, B)), slice(0, H)
    else:
        for b in range(B):
            for h0 in range(0, H, cap):
                yield slice(b, b + 1), slice(h0, min(h0 + cap, H))


def _sparsity_sddmm(queries: torch.Tensor, keys: torch.Tensor, index_sample: torch.Tensor) -> torch.Tensor:
    """Sparsity measurement with a sampled dense-dense matmul (CPU, float32/float64).

    ``torch.sparse.sampled_addmm`` evaluates ``q_i . k_j`` only at the non-zeros of a
    sparse CSR pattern -- exactly the sampled (query, key) pairs -- with a vectorised
    dot product per pair, without copying the sampled keys; on CPU it beats
    :func:`_sparsity_gather` (``benchmarks/results/attention.md``). Same arguments and result.
    """
    B, L_Q, H, D = queries.shape
    L_K = keys.shape[1]
    U = index_sample.shape[1]
    # int32 indices halve the pattern's memory (the kernel accepts both).
    itype = torch.int32 if max(L_K, L_Q * U) < 2**31 else torch.int64
    # Row i of the pattern holds the U key indices sampled for query i, for every head.
    crow = torch.arange(0, L_Q * U + 1, U, dtype=itype, device=queries.device)
    col = index_sample.to(itype).reshape(L_Q * U)
    q_bh = queries.transpose(1, 2)  # (B, H, L_Q, D) views
    k_bh = keys.transpose(1, 2)
    M = queries.new_empty(B, H, L_Q)
    # All queries of a head go into one call so that the head's keys are reused from
    # cache; heads are grouped to bound the per-call copies (the kernel needs
    # contiguous (heads, L, D) operands) and the sampled-score buffer.
    per_head = L_Q * (D + U) + L_K * D
    with warnings.catch_warnings():
        # "Sparse CSR tensor support is in beta state": irrelevant for this internal use.
        warnings.simplefilter("ignore", UserWarning)
        for bs, hs in _head_groups(B, H, per_head):
            q = q_bh[bs, hs].reshape(-1, L_Q, D)
            n = q.shape[0]
            # (n, D, L_K) whose transpose (n, L_K, D) is contiguous: the layout the kernel uses.
            k_t = k_bh[bs, hs].reshape(n, L_K, D).transpose(1, 2)
            # Expanded (stride-0) index arrays: shared by the heads, never materialised.
            # Values are zeros, not empty: the kernel computes beta * value + dot and
            # 0 * NaN = NaN.
            pattern = torch.sparse_csr_tensor(
                crow.expand(n, L_Q + 1), col.expand(n, L_Q * U), q.new_zeros(n, L_Q * U), size=(n, L_Q, L_K)
            )
            # out=pattern: computed in place instead of into a full copy of the pattern.
            torch.sparse.sampled_addmm(pattern, q, k_t, beta=0.0, out=pattern)
            qk_sample = pattern.values().view(bs.stop - bs.start, hs.stop - hs.start, L_Q, U)
            # Divide by L_K (not U): this is what the official code does.
            M[bs, hs] = qk_sample.amax(-1) - qk_sample.sum(-1) / L_K
    return M


def _sparsity_measurement(queries: torch.Tensor, keys: torch.Tensor, index_sample: torch.Tensor) -> torch.Tensor:
    """Sparsity measurement ``M`` of every query from its sampled keys, ``(B, H, L_Q)``."""
    # M only feeds top-k (integer indices), so no gradient flows through it in the
    # official code either; skipping autograd saves its buffers. The inputs are detached as
    # well as the block run under no_grad: a graph recorded by torch.jit.trace keeps the ops
    # but not the no_grad block, and replayed with grad enabled the out= form of
    # sampled_addmm refuses operands that require grad. detach() is recorded, so the traced
    # graph computes M exactly as eager mode does (same kernels, same result).
    queries, keys = queries.detach(), keys.detach()
    with torch.no_grad():
        if (
            queries.device.type == "cpu"
            and queries.dtype in (torch.float32, torch.float64)
            # The CSR kernel rejects more samples per row than columns (only possible
            # with a user-supplied index_sample; U_part is capped at L_K).
            and index_sample.shape[1] <= keys.shape[1]
        ):
            return _sparsity_sddmm(queries, keys, index_sample)
        return _sparsity_gather(queries, keys, index_sample)


def _causal_cumsum(values: torch.Tensor) -> torch.Tensor:
    """``values.cumsum(dim=1)``, blocked for long sequences.

    PyTorch's CPU cumsum along a strided dimension is slow; cumsum within blocks of
    rows plus a carry of the block totals does the same in less time (it only
    changes the rounding of the carries). Short sequences use plain ``cumsum``, i.e.
    exactly the official arithmetic.
    """
    B, L = values.shape[:2]
    if L <= _CUMSUM_PLAIN_MAX_LEN:
        return values.cumsum(dim=1)
    b = _CUMSUM_BLOCK
    nb = L // b
    head = values[:, : nb * b].reshape(B, nb, b, *values.shape[2:]).cumsum(dim=2)
    totals = head[:, :, -1].cumsum(dim=1)  # running sum at the end of each block
    # In place on a fresh tensor (cumsum's backward does not need its output).
    head[:, 1:] += totals[:, :-1].unsqueeze(2)
    head = head.view(B, nb * b, *values.shape[2:])
    if nb * b == L:
        return head
    tail = values[:, nb * b :].cumsum(dim=1) + totals[:, -1:]
    return torch.cat([head, tail], dim=1)


class ProbSparseAttention(nn.Module):
    """ProbSparse self-attention of Informer.

    Parameters
    ----------
    factor
        Sampling factor ``c``: ``U_part = c * ceil(ln L_K)`` keys are sampled per query and
        the top ``u = c * ceil(ln L_Q)`` queries are computed exactly (both capped at the
        respective length).
    masked
        Apply the causal mask (decoder self-attention). Requires ``L_Q == L_K``.
    scale
        Score scale of the active queries; defaults to ``1 / sqrt(head_dim)``.
    dropout
        Dropout on the attention weights of the active queries (training mode only).
        The official ``ProbAttention`` creates a dropout module but never applies it;
        with the default ``0.0`` both behave identically.

    Notes
    -----
    The sparsity measurement uses the *unscaled* sampled scores and, under the causal
    mask, also samples future keys -- both exactly like the official code. Query
    selection therefore depends on future keys; the output at position ``i`` still
    depends only on values at positions ``<= i``.

    When ``index_sample`` is not given it is drawn with
    ``torch.randint(L_K, (L_Q, U_part))`` from the default CPU generator, the same call
    the official code makes, so with the same seed both draw the same keys.
    """

    def __init__(
        self,
        factor: int = 5,
        masked: bool = False,
        scale: float | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor}")
        self.factor = int(factor)
        self.masked = masked
        self.scale = scale
        self.dropout = nn.Dropout(dropout)
        # Set by InformerModel.encoder_attention: keep the next pass's weights (off: no cost).
        self.record_attention = False
        self.attention_map: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return f"factor={self.factor}, masked={self.masked}, scale={self.scale}"

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        index_sample: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Apply ProbSparse attention.

        Parameters
        ----------
        queries
            ``(B, L_Q, H, D)``.
        keys
            ``(B, L_K, H, D)``.
        values
            ``(B, L_K, H, D_V)``.
        index_sample
            Optional ``(L_Q, U_part)`` integer tensor of sampled key indices per query,
            shared across batch and heads (as in the official code); another number of
            samples per query is accepted too. Drawn at random when omitted.

        Returns
        -------
        torch.Tensor
            ``(B, L_Q, H, D_V)``.
        """
        B, L_Q, H, D = queries.shape
        L_K = keys.shape[1]
        L_V = values.shape[1]
        if keys.shape[0] != B or keys.shape[2] != H or keys.shape[3] != D:
            raise ValueError(f"keys shape {tuple(keys.shape)} incompatible with queries {tuple(queries.shape)}")
        if L_V != L_K:
            raise ValueError(f"keys and values must have the same length, got {L_K} and {L_V}")
        if self.masked and L_Q != L_V:
            raise ValueError(f"the causal mask requires L_Q == L_V, got L_Q={L_Q} and L_V={L_V}")

        U_part, u = prob_sparse_sizes(self.factor, L_Q, L_K)
        if index_sample is None:
            # Same call (and CPU generator) as the official code, see class notes.
            index_sample = torch.randint(L_K, (L_Q, U_part))
        elif index_sample.dim() != 2 or index_sample.shape[0] != L_Q:
            raise ValueError(
                f"index_sample must have shape (L_Q, U_part) = ({L_Q}, {U_part}), got {tuple(index_sample.shape)}"
            )
        index_sample = index_sample.to(device=queries.device, dtype=torch.long)

        # 1) Select the u most "active" queries per (batch, head).
        M = _sparsity_measurement(queries, keys, index_sample)  # (B, H, L_Q)
        top = M.topk(u, dim=-1, sorted=False).indices  # (B, H, u)

        # 2) Exact attention for the active queries only: u x L_K scores.
        q_bh = queries.transpose(1, 2)  # (B, H, L_Q, D) view
        k_bh = keys.transpose(1, 2)  # (B, H, L_K, D) view
        v_bh = values.transpose(1, 2)  # (B, H, L_K, D_V) view
        q_top = q_bh.gather(2, top.unsqueeze(-1).expand(B, H, u, D))  # (B, H, u, D)
        scores = torch.matmul(q_top, k_bh.transpose(-2, -1))  # (B, H, u, L_K)
        # The scale is applied to the active queries' scores only (the sparsity
        # measurement above is unscaled), as in the official code.
        scale = self.scale or 1.0 / math.sqrt(D)
        # In place: the matmul's backward needs its inputs, not its output.
        scores.mul_(scale)
        if self.masked:
            # Causal mask for the selected rows only: key j is hidden from query i if j > i.
            future = torch.arange(L_K, device=scores.device) > top.unsqueeze(-1)
            scores.masked_fill_(future, float("-inf"))
        attn = self.dropout(torch.softmax(scores, dim=-1))
        active = torch.matmul(attn, v_bh)  # (B, H, u, D_V)
        if self.record_attention:
            self.attention_map = self._full_map(attn.detach(), top, L_Q)

        # 3) Lazy queries: mean of the values, or their running sum under the causal mask.
        #    Built directly in the output layout (B, L_Q, H, D_V).
        if self.masked:
            context = _causal_cumsum(values)
        else:
            context = values.mean(dim=1, keepdim=True).expand(B, L_Q, H, values.shape[3]).clone()

        # 4) Overwrite the active rows in place through a (B, H, L_Q, D_V) view.
        context.transpose(1, 2).scatter_(
            2, top.unsqueeze(-1).expand(B, H, u, values.shape[3]), active.to(context.dtype)
        )
        return context

    def _full_map(self, attn: torch.Tensor, top: torch.Tensor, L_Q: int) -> torch.Tensor:
        """The (B, H, L_Q, L_K) weights: the active rows' softmax, uniform rows for the lazy
        queries (their output is the mean of the values, or the running sum of the visible
        ones under the causal mask: uniform over the keys they see), as the official
        ``_update_context`` with ``output_attention``."""
        B, H, u, L_K = attn.shape
        visible = torch.ones(L_Q, L_K, device=attn.device, dtype=attn.dtype)
        if self.masked:
            visible = visible.tril()
        weights = (visible / visible.sum(-1, keepdim=True)).expand(B, H, L_Q, L_K).clone()
        weights.scatter_(2, top.unsqueeze(-1).expand(B, H, u, L_K), attn)
        return weights


class FullAttention(nn.Module):
    """Canonical scaled dot-product attention (the paper's Informer† ablation).

    Parameters
    ----------
    factor
        Unused; accepted so that both attention kinds share one signature.
    masked
        Apply the causal mask (key ``j`` hidden from query ``i`` if ``j > i``).
    scale
        Score scale; defaults to ``1 / sqrt(head_dim)``.
    dropout
        Dropout on the attention weights (training mode only).

    Notes
    -----
    Uses :func:`torch.nn.functional.scaled_dot_product_attention`, which picks a fused
    (flash / memory-efficient) kernel when it can, so the ``L x L`` attention map is not
    necessarily materialised.
    """

    def __init__(
        self,
        factor: int = 5,
        masked: bool = False,
        scale: float | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.factor = factor
        self.masked = masked
        self.scale = scale
        self.dropout_p = float(dropout)
        # Set by InformerModel.encoder_attention: keep the next pass's weights (off: no cost).
        self.record_attention = False
        self.attention_map: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return f"masked={self.masked}, scale={self.scale}, dropout={self.dropout_p}"

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        index_sample: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Apply full softmax attention.

        Parameters
        ----------
        queries
            ``(B, L_Q, H, D)``.
        keys
            ``(B, L_K, H, D)``.
        values
            ``(B, L_K, H, D_V)``.
        index_sample
            Ignored (present for signature compatibility with ProbSparse).

        Returns
        -------
        torch.Tensor
            ``(B, L_Q, H, D_V)``.
        """
        D = queries.shape[-1]
        if self.record_attention:
            # SDPA's fused kernels never form the weights: computed explicitly, only when asked.
            scores = queries.transpose(1, 2) @ keys.permute(0, 2, 3, 1) * (self.scale or 1.0 / math.sqrt(D))
            if self.masked:
                L_Q, L_K = scores.shape[-2:]
                hidden = torch.ones(L_Q, L_K, dtype=torch.bool, device=scores.device).triu(1)
                scores = scores.masked_fill(hidden, float("-inf"))
            self.attention_map = torch.softmax(scores, dim=-1).detach()
        out = F.scaled_dot_product_attention(
            queries.transpose(1, 2),
            keys.transpose(1, 2),
            values.transpose(1, 2),
            dropout_p=self.dropout_p if self.training else 0.0,
            # SDPA's causal mask is tril(ones(L_Q, L_K)), i.e. the official
            # TriangularCausalMask (triu(1) masked out).
            is_causal=self.masked,
            scale=self.scale or 1.0 / math.sqrt(D),
        )
        return out.transpose(1, 2).contiguous()


class AttentionLayer(nn.Module):
    """Multi-head attention layer with projections (official ``AttentionLayer``).

    Parameters
    ----------
    attention
        Inner attention module (:class:`ProbSparseAttention` or :class:`FullAttention`)
        taking and returning ``(B, L, H, head_dim)`` tensors.
    d_model
        Model width.
    n_heads
        Number of heads.
    d_keys, d_values
        Per-head key and value widths; default ``d_model // n_heads``.
    mix
        Reproduce the official decoder self-attention quirk: the inner output
        ``(B, L, H, D)`` is transposed to ``(B, H, L, D)`` and then *viewed* as
        ``(B, L, H * D)``, which mixes positions and heads. The official Informer uses
        ``mix=True`` in the decoder self-attention and ``mix=False`` elsewhere.
    """

    def __init__(
        self,
        attention: nn.Module,
        d_model: int,
        n_heads: int,
        d_keys: int | None = None,
        d_values: int | None = None,
        mix: bool = False,
    ) -> None:
        super().__init__()
        d_keys = d_keys or d_model // n_heads
        d_values = d_values or d_model // n_heads
        self.inner_attention = attention
        self.query_projection = nn.Linear(d_model, d_keys * n_heads)
        self.key_projection = nn.Linear(d_model, d_keys * n_heads)
        self.value_projection = nn.Linear(d_model, d_values * n_heads)
        self.out_projection = nn.Linear(d_values * n_heads, d_model)
        self.n_heads = n_heads
        self.mix = mix

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        index_sample: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Project, attend per head, and project back.

        Parameters
        ----------
        queries
            ``(B, L, d_model)``.
        keys, values
            ``(B, S, d_model)``.
        index_sample
            Passed to the inner attention (see :class:`ProbSparseAttention`).

        Returns
        -------
        torch.Tensor
            ``(B, L, d_model)``.
        """
        B, L, _ = queries.shape
        S = keys.shape[1]
        H = self.n_heads
        q = self.query_projection(queries).view(B, L, H, -1)
        k = self.key_projection(keys).view(B, S, H, -1)
        v = self.value_projection(values).view(B, S, H, -1)
        out = self.inner_attention(q, k, v, index_sample=index_sample)
        if self.mix:
            # Deliberately reproduces the official reshaping (see class docstring).
            out = out.transpose(2, 1).contiguous()
        return self.out_projection(out.reshape(B, L, -1))


_KINDS = {"prob": ProbSparseAttention, "full": FullAttention}


def make_attention(kind: str, factor: int = 5, masked: bool = False, dropout: float = 0.0) -> nn.Module:
    """Build an inner attention module by name.

    Parameters
    ----------
    kind
        ``"prob"`` (ProbSparse, Informer) or ``"full"`` (canonical attention, Informer†).
    factor
        ProbSparse sampling factor (ignored by ``"full"``).
    masked
        Causal mask (decoder self-attention).
    dropout
        Attention dropout.

    Returns
    -------
    nn.Module
        The attention module.

    Raises
    ------
    ValueError
        If ``kind`` is not one of ``"prob"``, ``"full"``.
    """
    try:
        cls = _KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown attention kind {kind!r}; expected one of {sorted(_KINDS)}") from None
    return cls(factor=factor, masked=masked, dropout=dropout)
