"""The rank of a stored model (docs/theory.md §3, "The rank of a stored model"; THEORY §3).

Invariants every default rank must satisfy, on Hypothesis-drawn models shaped like real language
models (a large common unembedding offset, a dominant embedding direction, N below and above d):
Sylvester's bound `k_f + k_g − d ≤ r ≤ min(k_f, k_g)`; `k_f = k_g = d ⇒ r = d`; the same numbers
stored as float32 or float64 give the same `k_f`, `k_g`, `r`; log-odds that are all zero give
`r = 0`. Each rank is compared with a float64 NumPy reference of the same numbers.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import idlin

# A fixed menu of shapes (one compilation each): (N, V, d), N below, at and above d.
SHAPES = [(5, 40, 8), (8, 40, 8), (30, 40, 8), (12, 9, 10)]


@st.composite
def lm_shaped(draw):
    """F, G as float32-representable float64 arrays: a dominant context direction (σ₁/σ₂ up to
    ~30), a common unembedding offset up to 1e3× the spread, and optionally planted
    deficiencies (F of rank < d, Ĝ of rank < d, F rows partly orthogonal to U)."""
    N, V, d = draw(st.sampled_from(SHAPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kf = draw(st.integers(0, min(N, d)))
    kg = draw(st.integers(0, min(V - 1, d)))
    F = rng.normal(size=(N, kf)) @ rng.normal(size=(kf, d)) if kf else np.zeros((N, d))
    F += (
        draw(st.sampled_from([0.0, 3.0, 30.0]))
        * rng.normal(size=(N, 1))
        @ rng.normal(size=(1, d))
        * (kf > 0)
    )
    spread = rng.normal(size=(V, kg)) @ rng.normal(size=(kg, d)) if kg else np.zeros((V, d))
    offset = draw(st.sampled_from([0.0, 1.0, 1e3])) * rng.normal(size=(1, d))
    G = spread + offset
    # float32-representable, so that "the same numbers" exist in both dtypes
    return F.astype(np.float32).astype(np.float64), G.astype(np.float32).astype(np.float64)


def _reference_ranks(F, G):
    """float64 NumPy: k_f, k_g from SVDs at √ε₆₄ (Ĝ's floor for its centering), r from the
    principal cosines of the two row spans at √ε₆₄ — the policy's definition, independently."""
    eps = np.finfo(np.float64).eps
    Gh = G - G.mean(axis=0)
    _, sF, VF = np.linalg.svd(F, full_matrices=False)
    _, sG, VG = np.linalg.svd(Gh, full_matrices=False)
    V, N = G.shape[0], F.shape[0]
    floor_g = 4 * np.sqrt(max(N, V)) * eps * np.sqrt(V) * np.linalg.norm(G.mean(axis=0))
    kf = int(np.sum(sF > np.sqrt(eps) * sF[0])) if sF[0] > 0 else 0
    kg = int(np.sum(sG > max(np.sqrt(eps) * sG[0], floor_g))) if sG[0] > 0 else 0
    cos = np.linalg.svd(VF[:kf] @ VG[:kg].T, compute_uv=False) if kf and kg else np.zeros(0)
    return kf, kg, int(np.sum(cos > np.sqrt(eps))), sF, sG


def _ranks(a):
    return int(a.embedding_rank), int(a.unembedding_rank), int(a.effective_complexity)


@given(lm_shaped())
def test_ranks_obey_sylvester_and_are_the_same_for_float32_and_float64_storage(model):
    F, G = model
    d = F.shape[1]
    a64 = idlin.analyze(idlin.Predictor(F, G))
    a32 = idlin.analyze(idlin.Predictor(F.astype(np.float32), G.astype(np.float32)))
    kf, kg, r = _ranks(a64)
    assert max(kf + kg - d, 0) <= r <= min(kf, kg)  # Sylvester's bound
    if kf == kg == d:
        assert r == d  # diverse
    assert _ranks(a32) == (kf, kg, r)  # the model is the numbers, not their dtype
    rkf, rkg, rr, sF, sG = _reference_ranks(F, G)
    # Equal to the float64 reference unless a singular value sits within 1e-6 of a threshold
    # (a threshold's choice, reported by the gaps).
    near = lambda s, k: 0 < k < len(s) and s[k - 1] < s[k] * (1 + 1e-6)  # noqa: E731
    if not (near(sF, rkf) or near(sG, rkg)):
        assert (kf, kg) == (rkf, rkg)
        assert r == rr


@given(st.sampled_from(SHAPES), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 1e3]))
def test_all_zero_log_odds_give_rank_zero(shape, seed, offset):
    """Every token the same unembedding (C = 0 exactly), and F orthogonal to U: r = 0."""
    N, V, d = shape
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(N, d)).astype(np.float32)
    G = np.repeat(offset * rng.normal(size=(1, d)), V, axis=0).astype(np.float32)
    for dtype in (np.float32, np.float64):
        a = idlin.analyze(idlin.Predictor(F.astype(dtype), G.astype(dtype)))
        assert (int(a.unembedding_rank), int(a.effective_complexity)) == (0, 0)
    # F's rows in the first half of coordinates, Ĝ's in the other half: C = 0, k_f, k_g > 0.
    h = d // 2
    F2 = np.zeros((N, d))
    F2[:, :h] = rng.normal(size=(N, h))
    G2 = np.zeros((V, d))
    G2[:, h:] = rng.normal(size=(V, d - h))
    G2 += offset
    a = idlin.analyze(idlin.Predictor(F2, G2))
    assert int(a.embedding_rank) > 0 and int(a.unembedding_rank) > 0
    assert int(a.effective_complexity) == 0


def test_a_smollm2_shaped_float32_model_is_diverse_with_a_clear_gap():
    """The regression of THEORY §3: SmolLM2-135M (N = 1078 > d = 576, float32) printed r = 575
    with k_f = k_g = 576 because a float32 floor (ε₃₂·√V·‖ḡ‖) reached σ_min(C). A model of the
    same structure at CI size: σ(C) spans ~3 decades, a dominant direction, a large offset."""
    rng = np.random.default_rng(0)
    N, V, d = 1078, 4096, 96
    F = rng.normal(size=(N, d)) * np.logspace(0, -2.5, d)[None, :]
    F += 20 * rng.normal(size=(N, 1)) @ rng.normal(size=(1, d))
    G = rng.normal(size=(V, d)) + 40 * rng.normal(size=(1, d))
    p32 = idlin.Predictor(F.astype(np.float32), G.astype(np.float32))
    a = idlin.analyze(p32)
    assert _ranks(a) == (d, d, d)
    assert float(a.cosine_gap) == np.inf  # nothing cut: r = d is not a threshold's choice
    a64 = idlin.analyze(idlin.Predictor(F.astype(np.float32).astype(np.float64),
                                        G.astype(np.float32).astype(np.float64)))  # fmt: skip
    assert _ranks(a64) == (d, d, d)
    # N < d: r = N (the design bounds the rank, THEORY §10)
    small = idlin.analyze(idlin.Predictor(p32.embeddings[:50], p32.unembeddings))
    assert _ranks(small) == (50, d, 50)


def test_the_kl_tied_policy_counts_the_log_odds_spectrum_and_says_so():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(40, 6))
    G = rng.normal(size=(30, 6))
    a = idlin.analyze(idlin.Predictor(F, G), precision=idlin.Precision(mean_kl=0.5))
    assert a.precision.counts_log_odds_spectrum
    s = np.asarray(a.log_odds_singular_values)
    tau = 2 * np.sqrt(2 * 0.5) * (np.sqrt(40) + np.sqrt(30))
    assert int(a.effective_complexity) == int(np.sum(s > tau))
    assert float(a.rank_gap) == pytest.approx(float(a.log_odds_gap))
    default = idlin.analyze(idlin.Predictor(F, G))
    assert not default.precision.counts_log_odds_spectrum
    assert float(default.log_odds_threshold) == 0.0


def test_the_large_offset_does_not_leak_float32_rounding_into_the_centered_unembeddings():
    """Ĝ = G − 1ḡᵀ formed in float32 would round each entry by ε₃₂·|ḡ| (here ~1e-2 of the spread
    at an offset of 1e5): ranks and singular values of Ĝ come from float64 centering."""
    rng = np.random.default_rng(2)
    N, V, d, k = 50, 300, 12, 5
    G = rng.normal(size=(V, k)) @ rng.normal(size=(k, d)) + 1e5 * rng.normal(size=(1, d))
    G = G.astype(np.float32)
    F = rng.normal(size=(N, d)).astype(np.float32)
    Gh = G.astype(np.float64) - G.astype(np.float64).mean(axis=0)
    want = np.linalg.svd(Gh, compute_uv=False)
    for dtype in (np.float32, np.float64):
        a = idlin.analyze(idlin.Predictor(F.astype(dtype), G.astype(dtype)))
        got = np.asarray(a.unembedding_singular_values, np.float64)
        np.testing.assert_allclose(got[:k], want[:k], rtol=1e-6)
        assert int(a.unembedding_rank) == int(np.sum(want > np.sqrt(2.2e-16) * want[0]))
