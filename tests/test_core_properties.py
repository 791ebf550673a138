"""Property-based tests of docs/theory.md §2–§5 on synthetic predictors (profiles: dev, ci,
thorough)."""

import jax
import numpy as np
import reference as ref
from hypothesis import given
from hypothesis import strategies as st

import idlin
from idlin.testing import equivalent_pairs, invertible_matrices, predictors, prng_keys

TIGHT = 1e-8  # float64 relative tolerance for exact identities (members built with cond ≤ 100)


@given(equivalent_pairs())
def test_sampled_members_are_equivalent_with_the_same_effective_complexity(pair):
    p, q, moves = pair
    assert idlin.distribution_gap(p, q).relative < TIGHT, moves
    assert idlin.equivalent(p, q)
    assert idlin.subspaces(q).effective_complexity == idlin.subspaces(p).effective_complexity


@given(predictors(), predictors())
def test_equivalence_iff_centered_log_odds_equal(p, q):
    """§2: θ ~ θ̃ ⇔ C_θ = C_θ̃, decided against the dense reference (pairs of independent draws
    on the same shape are never equivalent; on different shapes they are incomparable)."""
    if (p.num_contexts, p.vocab_size) != (q.num_contexts, q.vocab_size):
        return
    Cp = ref.log_odds(p.embeddings, p.unembeddings)
    Cq = ref.log_odds(q.embeddings, q.unembeddings)
    same = np.linalg.norm(Cp - Cq) <= 1e-8 * np.linalg.norm(Cp)
    assert idlin.equivalent(p, q) == same
    assert idlin.equivalent(p, p)


@given(predictors(), predictors())
def test_frobenius_gap_symmetric_and_matches_reference(p, q):
    if (p.num_contexts, p.vocab_size) != (q.num_contexts, q.vocab_size):
        return
    pq, qp = idlin.distribution_gap(p, q), idlin.distribution_gap(q, p)
    np.testing.assert_allclose(pq.frobenius, qp.frobenius, rtol=1e-10)
    frob, _rel, max_abs, kl = ref.gap(p, q)
    scale = pq.reference_norm + np.linalg.norm(ref.log_odds(q.embeddings, q.unembeddings))
    np.testing.assert_allclose(pq.frobenius, frob, rtol=1e-8, atol=1e-12 * scale)
    np.testing.assert_allclose(pq.max_abs, max_abs, rtol=1e-8, atol=1e-12 * scale)
    np.testing.assert_allclose(pq.mean_kl, kl, rtol=1e-7, atol=1e-14)
    assert idlin.distribution_gap(p, p).relative < 1e-12


@given(predictors(diverse=True, bias=False), st.data())
def test_recovered_linear_map_reproduces_the_other_model(p, data):
    """Theorem L: q = (M f, M^{-ᵀ} g + c) is recovered exactly from the pair."""
    M = data.draw(invertible_matrices(p.width, max_condition=1e3))
    c = np.random.default_rng(0).normal(size=p.width)
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    q = idlin.Predictor(F @ M.T, np.linalg.solve(M.T, G.T).T + c)
    lm = idlin.recover_linear_map(p, q)
    np.testing.assert_allclose(lm.matrix, M, rtol=1e-6, atol=1e-7)
    assert lm.embedding_residual < TIGHT and lm.unembedding_residual < 1e-6


@given(equivalent_pairs(predictors(diverse=False)))
def test_recovered_extended_map_reproduces_the_other_model(pair):
    """Theorem EL: P_Ũ f̃ = T P_U f and P_Ẽ ĝ̃ = S P_E ĝ, rank r, for any widths."""
    p, q, moves = pair
    em = idlin.recover_extended_map(p, q)
    r = idlin.subspaces(p).effective_complexity
    assert em.effective_complexity == (r, r)
    assert em.rank == r, moves
    assert em.embedding_residual < 1e-6 and em.unembedding_residual < 1e-6, moves


@given(equivalent_pairs())
def test_canonical_coordinates_agree_across_members(pair):
    p, q, _moves = pair
    cp, cq = idlin.canonical(p), idlin.canonical(q)
    assert cp.rank == cq.rank
    scale = float(np.abs(np.asarray(cp.phi)).max())
    np.testing.assert_allclose(cq.phi, cp.phi, atol=1e-6 * scale)
    np.testing.assert_allclose(
        cq.gamma, cp.gamma, atol=1e-6 * float(np.abs(np.asarray(cp.gamma)).max())
    )
    np.testing.assert_allclose(cq.singular_values, cp.singular_values, rtol=1e-8)
    # and they map each member onto the same coordinates
    np.testing.assert_allclose(
        np.asarray(q.embeddings) @ np.asarray(cq.embedding_map).T, cp.phi, atol=1e-6 * scale
    )


@given(predictors(), prng_keys())
def test_minimal_member_is_equivalent_diverse_and_r_wide(p, key):
    q = idlin.sample_equivalent(p, key=key, moves=("widen_embedding", "basis", "shrink"))
    s = idlin.subspaces(p)
    assert q.width == s.effective_complexity
    assert idlin.subspaces(q).diverse
    assert idlin.distribution_gap(p, q).relative < TIGHT


@given(predictors(diverse=False), prng_keys())
def test_invisible_parts_are_really_invisible_and_really_there(p, key):
    """§3/§5: adding h(x) ∈ U^⊥ changes F (when U ≠ R^d) but not the distribution."""
    s = idlin.subspaces(p)
    q = idlin.sample_equivalent(p, key=key, moves=("invisible_embedding",))
    H = np.asarray(q.embeddings) - np.asarray(p.embeddings)
    np.testing.assert_allclose(H @ s.projector("unembedding"), 0, atol=1e-9)
    if s.unembedding_rank < p.width:
        assert np.linalg.norm(H) > 1e-6
    assert idlin.distribution_gap(p, q).relative < TIGHT


def test_strategies_produce_what_they_promise():
    """Meta-test of the base strategies: ranks as planted, pairs equivalent, keys usable."""

    @given(predictors(diverse=False))
    def non_diverse(p):
        s = idlin.subspaces(p)
        assert not s.diverse and s.effective_complexity < p.width
        assert s.effective_complexity <= min(s.embedding_rank, s.unembedding_rank)

    @given(predictors(diverse=True))
    def diverse(p):
        assert idlin.subspaces(p).diverse

    @given(predictors(bias=True))
    def biased(p):
        assert p.width in {d + 1 for _, _, d in idlin.testing.SIZES.shapes}

    @given(invertible_matrices(4, max_condition=50.0))
    def invertible(M):
        assert 1.0 - 1e-9 <= np.linalg.cond(M) <= 50.0 * (1 + 1e-9)

    for test in (non_diverse, diverse, biased, invertible):
        test()
    assert isinstance(jax.random.key_data(jax.random.key(0)), jax.Array)
