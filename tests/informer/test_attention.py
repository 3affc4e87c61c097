"""Tests of Informer's attention: fidelity to the official code, complexity, causality."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from informer_gluonts import attention as attention_module
from informer_gluonts.attention import (
    AttentionLayer,
    FullAttention,
    ProbSparseAttention,
    make_attention,
    prob_sparse_sizes,
)

from conftest import INFORMER_FIXTURES

FIXTURE = INFORMER_FIXTURES / "probsparse_official.pt"
CASES = ["encoder_L96", "decoder_self_L72", "encoder_L24_factor3", "encoder_L8_full", "encoder_L512"]
TOL = 1e-5


@pytest.fixture(params=["sddmm", "gather"])
def sparsity_path(request, monkeypatch):
    """Run a test with each implementation of the sampled-score step.

    On CPU float32 the module uses the SDDMM path; the block-gather path (used on other
    devices/dtypes) is forced here so that it is tested too.
    """
    if request.param == "gather":
        monkeypatch.setattr(attention_module, "_sparsity_sddmm", attention_module._sparsity_gather)
    return request.param


@pytest.fixture(scope="module")
def official():
    # a missing fixture is a failure, not a skip: CI must run the equivalence
    assert FIXTURE.is_file(), f"fixture {FIXTURE} not found (../shared/fixtures beside the repository)"
    return torch.load(FIXTURE, weights_only=True)


def _rand_qkv(B, L, H, D, L_K=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    L_K = L if L_K is None else L_K
    q = torch.randn(B, L, H, D, generator=g)
    k = torch.randn(B, L_K, H, D, generator=g)
    v = torch.randn(B, L_K, H, D, generator=g)
    return q, k, v


def _dense_reference(q, k, v, factor, masked, index_sample):
    """Straightforward O(L^2) ProbSparse written from the paper/official semantics."""
    B, L_Q, H, D = q.shape
    L_K = k.shape[1]
    _, u = prob_sparse_sizes(factor, L_Q, L_K)
    Q, K, V = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, L, D)
    qk = Q @ K.transpose(-2, -1)  # (B, H, L_Q, L_K), full scores: fine for a test oracle
    sampled = qk[:, :, torch.arange(L_Q)[:, None], index_sample]  # (B, H, L_Q, U)
    M = sampled.max(-1).values - sampled.sum(-1) / L_K
    top = M.topk(u, dim=-1).indices
    out = V.cumsum(-2) if masked else V.mean(-2, keepdim=True).expand(B, H, L_Q, V.shape[-1]).clone()
    for b in range(B):
        for h in range(H):
            s = qk[b, h, top[b, h]] / math.sqrt(D)
            if masked:
                s = s.masked_fill(torch.arange(L_K)[None, :] > top[b, h][:, None], float("-inf"))
            out[b, h, top[b, h]] = torch.softmax(s, -1) @ V[b, h]
    return out.transpose(1, 2)


# --------------------------------------------------------------------------- fidelity


@pytest.mark.parametrize("case", CASES)
def test_matches_official_output(official, case, sparsity_path):
    c = official[case]
    attn = ProbSparseAttention(factor=c["factor"], masked=c["mask_flag"])
    out = attn(c["queries"], c["keys"], c["values"], index_sample=c["index_sample"])
    assert out.shape == c["output"].shape
    err = (out - c["output"]).abs().max().item()
    print(f"{case} [{sparsity_path}]: max abs error vs official ProbAttention = {err:.3e}")
    assert err <= TOL, f"{case}: max abs error {err:.3e} > {TOL}"


@pytest.mark.parametrize("case", CASES)
def test_full_attention_matches_official(official, case):
    c = official[case]
    out = FullAttention(masked=c["mask_flag"])(c["queries"], c["keys"], c["values"])
    err = (out - c["full_attention_output"]).abs().max().item()
    assert err <= TOL, f"{case}: FullAttention max abs error {err:.3e} > {TOL}"


def test_L8_probsparse_equals_full(official):
    c = official["encoder_L8_full"]
    L = c["queries"].shape[1]
    assert prob_sparse_sizes(c["factor"], L, L) == (L, L)
    prob = ProbSparseAttention(c["factor"])(c["queries"], c["keys"], c["values"], index_sample=c["index_sample"])
    full = FullAttention()(c["queries"], c["keys"], c["values"])
    assert (prob - c["full_attention_output"]).abs().max().item() <= TOL
    assert (full - c["full_attention_output"]).abs().max().item() <= TOL
    assert (prob - full).abs().max().item() <= TOL


def test_fixture_sizes_follow_official_formula(official):
    for case in CASES:
        c = official[case]
        L_Q, L_K = c["queries"].shape[1], c["keys"].shape[1]
        U_part, _ = prob_sparse_sizes(c["factor"], L_Q, L_K)
        assert c["index_sample"].shape == (L_Q, U_part), case


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("L,factor", [(50, 5), (200, 2), (333, 5), (1100, 1)])
def test_matches_dense_reference(masked, L, factor, sparsity_path):
    q, k, v = _rand_qkv(2, L, 3, 8, seed=L)
    U_part, _ = prob_sparse_sizes(factor, L, L)
    idx = torch.randint(L, (L, U_part), generator=torch.Generator().manual_seed(1))
    out = ProbSparseAttention(factor, masked=masked)(q, k, v, index_sample=idx)
    ref = _dense_reference(q, k, v, factor, masked, idx)
    assert (out - ref).abs().max().item() <= TOL


@pytest.mark.parametrize("block_elements", [None, 50_000, 16_200, 1])  # default, batches, 2 heads, 1
@pytest.mark.parametrize("B,L_Q,L_K,H,D", [(1, 7, 7, 1, 4), (2, 300, 300, 3, 8), (3, 257, 1000, 2, 5)])
def test_sparsity_paths_agree_with_dense_scores(B, L_Q, L_K, H, D, block_elements, monkeypatch):
    """Both sampled-score implementations, including their blocking/grouping loops."""
    if block_elements is not None:
        monkeypatch.setattr(attention_module, "_BLOCK_ELEMENTS", block_elements)
    g = torch.Generator().manual_seed(L_Q)
    q, k = torch.randn(B, L_Q, H, D, generator=g), torch.randn(B, L_K, H, D, generator=g)
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k)
    for U in (min(11, L_K), 11):  # U > L_K (possible with a given index_sample) at L_K=7
        idx = torch.randint(L_K, (L_Q, U), generator=g)
        sampled = scores[:, :, torch.arange(L_Q)[:, None], idx]
        expected = sampled.amax(-1) - sampled.sum(-1) / L_K  # (B, H, L_Q)
        fns = [attention_module._sparsity_measurement, attention_module._sparsity_gather]
        if U <= L_K:
            fns.append(attention_module._sparsity_sddmm)
        for fn in fns:
            got = fn(q, k, idx)
            assert got.shape == (B, H, L_Q)
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("L", [5, 1024, 1025, 1088, 1100, 4096 + 7])
def test_causal_cumsum(L):
    v = torch.randn(2, L, 3, 4, dtype=torch.float64)
    torch.testing.assert_close(attention_module._causal_cumsum(v), v.cumsum(1), rtol=1e-12, atol=1e-12)
    v32 = v.float().requires_grad_(True)
    out = attention_module._causal_cumsum(v32)
    assert out.is_contiguous()
    (out * torch.arange(L).view(1, L, 1, 1)).sum().backward()
    # d/dv_j sum_i i * cumsum_i = sum_{i >= j} i
    expected_grad = torch.arange(L, dtype=torch.float64).flip(0).cumsum(0).flip(0)
    torch.testing.assert_close(v32.grad[0, :, 0, 0].double(), expected_grad, rtol=1e-6, atol=1e-3)


def test_cross_attention_shapes_and_reference():
    q, k, v = _rand_qkv(2, 40, 2, 8, L_K=130)
    U_part, _ = prob_sparse_sizes(5, 40, 130)
    idx = torch.randint(130, (40, U_part))
    out = ProbSparseAttention(5)(q, k, v, index_sample=idx)
    assert out.shape == (2, 40, 2, 8)
    assert (out - _dense_reference(q, k, v, 5, False, idx)).abs().max().item() <= TOL


def test_random_sampling_uses_official_draw():
    """Without index_sample the keys come from torch.randint(L_K, (L_Q, U_part))."""
    q, k, v = _rand_qkv(1, 120, 2, 8)
    U_part, _ = prob_sparse_sizes(5, 120, 120)
    torch.manual_seed(123)
    drawn = ProbSparseAttention(5)(q, k, v)
    torch.manual_seed(123)
    idx = torch.randint(120, (120, U_part))
    given = ProbSparseAttention(5)(q, k, v, index_sample=idx)
    torch.testing.assert_close(drawn, given, rtol=0, atol=0)


@pytest.mark.parametrize("masked", [False, True])
def test_all_selected_equals_full_attention(masked):
    q, k, v = _rand_qkv(2, 30, 4, 16)
    U_part, u = prob_sparse_sizes(20, 30, 30)
    assert (U_part, u) == (30, 30)
    prob = ProbSparseAttention(20, masked=masked)(q, k, v)
    full = FullAttention(masked=masked)(q, k, v)
    assert (prob - full).abs().max().item() <= TOL


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("L", [40, 300])  # 300: blocked causal cumsum
def test_backward_and_contiguous_output(masked, L):
    q, k, v = _rand_qkv(2, L, 2, 8)
    for t in (q, k, v):
        t.requires_grad_(True)
    out = ProbSparseAttention(5, masked=masked)(q, k, v)
    assert out.is_contiguous() and out.shape == (2, L, 2, 8)
    (out * torch.randn_like(out)).sum().backward()
    for t in (q, k, v):
        assert t.grad is not None and torch.isfinite(t.grad).all()
    # Lazy queries' outputs do not depend on queries, so some query rows get no gradient,
    # but every value row does (mean / cumsum reach all of them).
    assert (v.grad.abs().sum(dim=(0, 2, 3)) > 0).all()


def test_explicit_scale_and_backward():
    q, k, v = _rand_qkv(1, 64, 2, 8)
    q.requires_grad_(True)
    v.requires_grad_(True)
    idx = torch.randint(64, (64, prob_sparse_sizes(5, 64, 64)[0]))
    out = ProbSparseAttention(5, scale=0.5)(q, k, v, index_sample=idx)
    out.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()
    assert v.grad is not None and torch.isfinite(v.grad).all()
    default = ProbSparseAttention(5)(q, k, v, index_sample=idx)
    assert not torch.allclose(out, default)


def test_dropout_only_in_training():
    q, k, v = _rand_qkv(1, 64, 2, 8)
    idx = torch.randint(64, (64, prob_sparse_sizes(5, 64, 64)[0]))
    attn = ProbSparseAttention(5, dropout=0.5)
    ref = ProbSparseAttention(5)(q, k, v, index_sample=idx)
    attn.eval()
    torch.testing.assert_close(attn(q, k, v, index_sample=idx), ref)
    attn.train()
    assert not torch.allclose(attn(q, k, v, index_sample=idx), ref)


def test_invalid_inputs():
    q, k, v = _rand_qkv(1, 10, 2, 4, L_K=12)
    with pytest.raises(ValueError, match="L_Q == L_V"):
        ProbSparseAttention(5, masked=True)(q, k, v)
    with pytest.raises(ValueError, match="index_sample"):
        ProbSparseAttention(5)(q, k, v, index_sample=torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="factor"):
        ProbSparseAttention(0)


# --------------------------------------------------------------------------- causality


@pytest.mark.parametrize("L", [8, 96])
def test_masked_output_does_not_depend_on_future_values(L):
    """Output at i must not change when values at positions > i change.

    At L=8 every query is active (u == L_Q), at L=96 most are lazy (cumsum path).
    """
    q, k, v = _rand_qkv(2, L, 2, 8)
    U_part, u = prob_sparse_sizes(5, L, L)
    if L == 8:
        assert u == L
    idx = torch.randint(L, (L, U_part), generator=torch.Generator().manual_seed(3))
    attn = ProbSparseAttention(5, masked=True)
    base = attn(q, k, v, index_sample=idx)
    for i in [0, L // 3, L - 2]:
        v2 = v.clone()
        v2[:, i + 1 :] += 10 * torch.randn_like(v2[:, i + 1 :])
        out = attn(q, k, v2, index_sample=idx)
        torch.testing.assert_close(out[:, : i + 1], base[:, : i + 1], rtol=0, atol=1e-6)
        assert not torch.allclose(out[:, i + 1 :], base[:, i + 1 :])


def test_unmasked_does_depend_on_future_values():
    """Sanity check that the causality test above can fail."""
    q, k, v = _rand_qkv(1, 8, 2, 8)
    attn = ProbSparseAttention(5, masked=False)
    base = attn(q, k, v)
    v2 = v.clone()
    v2[:, 5:] += 1.0
    assert not torch.allclose(attn(q, k, v2)[:, :5], base[:, :5])


# --------------------------------------------------------------------------- complexity


class _TensorSizeRecorder(TorchDispatchMode):
    """Records the element count and storage size of every tensor an aten op produces.

    Views (e.g. ``expand``) are recorded with their logical element count, so even a
    zero-copy ``(L_Q, L_K)``-shaped view is flagged. Sparse CSR tensors (the sampled
    (query, key) pattern of the CPU path) are recorded by their stored arrays.
    """

    def __init__(self):
        super().__init__()
        self.max_numel = 0
        self.max_storage_bytes = 0
        self.worst_op = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            if t.layout == torch.sparse_csr:
                # A sparse pattern's logical shape is dense-sized; what exists is its
                # index and value arrays, which are recorded instead.
                parts = [t.crow_indices(), t.col_indices(), t.values()]
            else:
                parts = [t]
            for p in parts:
                if p.numel() > self.max_numel:
                    self.max_numel, self.worst_op = p.numel(), (str(func), tuple(p.shape))
                self.max_storage_bytes = max(self.max_storage_bytes, p.untyped_storage().nbytes())
        return out


def _record(fn, *args, **kwargs):
    rec = _TensorSizeRecorder()
    with torch.no_grad(), rec:
        fn(*args, **kwargs)
    return rec


@pytest.mark.parametrize("masked", [False, True])
def test_no_quadratic_tensor_at_L4096(masked, sparsity_path):
    B, L, H, D = 1, 4096, 2, 16
    q, k, v = _rand_qkv(B, L, H, D)
    rec = _record(ProbSparseAttention(5, masked=masked), q, k, v)
    per_bh = rec.max_numel / (B * H)
    assert per_bh < L * L, f"quadratic tensor: {rec.worst_op}"
    # Much stronger: the largest intermediate is a small multiple of L * log L per head.
    _, u = prob_sparse_sizes(5, L, L)
    assert per_bh <= 4 * max(u, D) * L, f"largest tensor {rec.worst_op} is not O(L log L)"
    assert rec.max_storage_bytes < L * L * 4


def test_largest_tensor_grows_subquadratically(sparsity_path):
    sizes = {}
    for L in (1024, 4096):
        q, k, v = _rand_qkv(1, L, 2, 16)
        sizes[L] = _record(ProbSparseAttention(5, masked=True), q, k, v).max_numel
    # 4x longer: a quadratic algorithm grows 16x, ours ~4x * log-ratio (< 6x).
    assert sizes[4096] / sizes[1024] < 6, sizes


def test_recorder_detects_quadratic_attention():
    """The recorder is not vacuous: a naive einsum attention is flagged."""
    B, L, H, D = 1, 512, 2, 16
    q, k, v = _rand_qkv(B, L, H, D)

    def naive(q, k, v):
        s = torch.einsum("blhe,bshe->bhls", q, k)
        return torch.einsum("bhls,bshd->blhd", torch.softmax(s, -1), v)

    rec = _record(naive, q, k, v)
    assert rec.max_numel / (B * H) >= L * L


# --------------------------------------------------------------------------- layer & factory


@pytest.mark.parametrize("kind", ["prob", "full"])
@pytest.mark.parametrize("mix", [False, True])
def test_attention_layer_shapes(kind, mix):
    layer = AttentionLayer(make_attention(kind, factor=5, masked=mix), d_model=32, n_heads=4, mix=mix)
    for name in ("query_projection", "key_projection", "value_projection", "out_projection"):
        assert isinstance(getattr(layer, name), torch.nn.Linear)
    x = torch.randn(3, 50, 32)
    assert layer(x, x, x).shape == (3, 50, 32)
    if not mix:
        mem = torch.randn(3, 70, 32)
        assert layer(x, mem, mem).shape == (3, 50, 32)


def test_attention_layer_mix_reshaping():
    """mix=True feeds out.transpose(2,1).contiguous().view(B, L, -1) to out_projection."""
    torch.manual_seed(0)
    B, L, H, d_model = 2, 6, 4, 16
    captured = {}
    inner = FullAttention(masked=True)
    inner.register_forward_hook(lambda m, i, o: captured.__setitem__("inner", o))
    layer = AttentionLayer(inner, d_model, H, mix=True)
    layer.out_projection.register_forward_hook(lambda m, i, o: captured.__setitem__("proj_in", i[0]))
    x = torch.randn(B, L, d_model)
    layer(x, x, x)
    out = captured["inner"]  # (B, L, H, D)
    torch.testing.assert_close(captured["proj_in"], out.transpose(2, 1).contiguous().view(B, L, -1))
    # ...which really differs from the plain (mix=False) head concatenation.
    assert not torch.allclose(captured["proj_in"], out.reshape(B, L, -1))

    layer.mix = False
    layer(x, x, x)
    torch.testing.assert_close(captured["proj_in"], captured["inner"].reshape(B, L, -1))


def test_make_attention():
    prob = make_attention("prob", factor=3, masked=True, dropout=0.1)
    assert isinstance(prob, ProbSparseAttention)
    assert (prob.factor, prob.masked, prob.dropout.p) == (3, True, 0.1)
    full = make_attention("full", masked=False)
    assert isinstance(full, FullAttention) and not full.masked
    for bad in ("sparse", "Prob", "", None):
        with pytest.raises(ValueError, match="unknown attention kind"):
            make_attention(bad)


# --------------------------------------------------------------------------- tracing


class _SelfAttention(torch.nn.Module):
    """An attention layer as a traceable function of its input and sampled keys."""

    def __init__(self, layer: AttentionLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor, index_sample: torch.Tensor) -> torch.Tensor:
        return self.layer(x, x, x, index_sample=index_sample)


@pytest.mark.parametrize("masked", [False, True])
def test_traced_layer_runs_with_grad_and_matches_eager(masked, sparsity_path):
    """A torch.jit.trace graph does not record no_grad blocks: replayed with grad enabled,
    the sampled-score step used to fail (sampled_addmm's out= refuses operands that require
    grad). The traced layer must give eager mode's output and gradients, for inputs and key
    samples other than the ones it was traced with."""
    torch.manual_seed(0)
    L = 150  # > the plain-cumsum length: the blocked causal cumsum is traced too
    layer = _SelfAttention(AttentionLayer(ProbSparseAttention(5, masked=masked), 16, 2, mix=masked))
    U_part, _ = prob_sparse_sizes(5, L, L)
    g = torch.Generator().manual_seed(1)
    example = (torch.randn(2, L, 16, generator=g), torch.randint(L, (L, U_part), generator=g))
    assert torch.is_grad_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks become constants
        traced = torch.jit.trace(layer, example)

    x = torch.randn(2, L, 16, generator=g, requires_grad=True)
    idx = torch.randint(L, (L, U_part), generator=g)
    out_traced = traced(x, idx)
    (grad_traced,) = torch.autograd.grad(out_traced.square().sum(), x)
    out_eager = layer(x, idx)
    (grad_eager,) = torch.autograd.grad(out_eager.square().sum(), x)
    assert out_traced.requires_grad
    torch.testing.assert_close(out_traced, out_eager, rtol=0, atol=TOL)
    torch.testing.assert_close(grad_traced, grad_eager, rtol=1e-5, atol=TOL)
    # ...and the new keys were used, not the ones sampled at trace time
    assert not torch.allclose(out_traced, layer(x, example[1]))
