"""Unit tests of the identifiability core (docs/theory.md §1–§5) against the float64 NumPy
reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref

import idlin
from idlin.testing import planted_predictor

RNG = np.random.default_rng(1234)


def random_predictor(N, V, d, *, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return idlin.Predictor(rng.normal(size=(N, d)) * scale, rng.normal(size=(V, d)))


# -- §1 Predictor -----------------------------------------------------------------------------


def test_log_probs_and_log_odds_match_reference():
    p = random_predictor(9, 7, 4)
    np.testing.assert_allclose(
        p.log_probs(), ref.log_probs(p.embeddings, p.unembeddings), atol=1e-12
    )
    np.testing.assert_allclose(p.log_odds(), ref.log_odds(p.embeddings, p.unembeddings), atol=1e-12)
    np.testing.assert_allclose(np.exp(p.log_probs()).sum(axis=1), 1.0, atol=1e-12)


def test_bias_is_one_more_coordinate():
    rng = np.random.default_rng(3)
    F, G, b = rng.normal(size=(5, 3)), rng.normal(size=(6, 3)), rng.normal(size=6)
    p = idlin.Predictor(F, G, bias=b)
    assert p.width == 4
    expected = ref.log_probs(F, G) * 0 + (F @ G.T + b[None, :])
    expected = expected - np.log(np.exp(expected).sum(1, keepdims=True))
    np.testing.assert_allclose(p.log_probs(), expected, atol=1e-12)


def test_float64_is_kept_and_float32_stays_float32():
    p = random_predictor(3, 4, 2)
    assert p.dtype == np.float64
    q = idlin.Predictor(np.ones((3, 2), np.float32), np.eye(4, 2, dtype=np.float32))
    assert q.dtype == np.float32
    mixed = idlin.Predictor(np.ones((3, 2), np.float32), np.eye(4, 2))
    assert mixed.dtype == np.float64


def test_predictor_is_a_pytree_usable_under_jit():
    p = random_predictor(4, 5, 3)
    leaves, _treedef = jax.tree_util.tree_flatten(p)
    assert len(leaves) == 2
    doubled = jax.jit(lambda m: jax.tree_util.tree_map(lambda a: 2 * a, m))(p)
    assert isinstance(doubled, idlin.Predictor)
    np.testing.assert_allclose(doubled.embeddings, 2 * p.embeddings)


def test_huge_logits_do_not_overflow():
    F = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    G = np.array([[1e4, 0.0], [0.0, 1e4], [-1e4, -1e4]])
    p = idlin.Predictor(F, G)
    lp = np.asarray(p.log_probs())
    assert np.isfinite(lp).all()
    np.testing.assert_allclose(lp, ref.log_probs(F, G), atol=1e-9)
    q = idlin.Predictor(F * 1.0000001, G)
    gap = idlin.distribution_gap(p, q)
    want = ref.gap(p, q)
    assert np.isfinite([gap.frobenius, gap.max_abs, gap.mean_kl]).all()
    np.testing.assert_allclose(
        [gap.frobenius, gap.max_abs, gap.mean_kl],
        [want[0], want[2], want[3]],
        rtol=1e-6,
        atol=1e-12,
    )


# -- §2 gap -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("N", "V", "d1", "d2"),
    [(20, 13, 4, 4), (13, 20, 3, 6), (1, 5, 2, 3), (6, 2, 3, 1), (30, 40, 2, 2)],
)
def test_gap_of_non_equivalent_pairs_matches_reference(N, V, d1, d2):
    p = random_predictor(N, V, d1, seed=N + d1)
    q = random_predictor(N, V, d2, seed=V + d2 + 100)
    gap = idlin.distribution_gap(p, q)
    frob, rel, max_abs, kl = ref.gap(p, q)
    np.testing.assert_allclose(gap.frobenius, frob, rtol=1e-10)
    np.testing.assert_allclose(gap.relative, rel, rtol=1e-10)
    np.testing.assert_allclose(gap.max_abs, max_abs, rtol=1e-10)
    np.testing.assert_allclose(gap.mean_kl, kl, rtol=1e-9)
    # the reverse direction from the same pass: the reference with p and q swapped
    np.testing.assert_allclose(gap.reverse_kl, ref.gap(q, p)[3], rtol=1e-9)
    assert not idlin.equivalent(p, q)


def test_gap_streaming_block_size_does_not_change_results():
    p, q = random_predictor(37, 11, 3, seed=1), random_predictor(37, 11, 5, seed=2)
    full = idlin.distribution_gap(p, q, block=37)
    for block in (1, 5, 8, 36):
        part = idlin.distribution_gap(p, q, block=block)
        np.testing.assert_allclose(part.max_abs, full.max_abs, rtol=1e-12)
        np.testing.assert_allclose(part.mean_kl, full.mean_kl, rtol=1e-12)
        np.testing.assert_allclose(part.reverse_kl, full.reverse_kl, rtol=1e-12)


def test_frobenius_only_mode_skips_streamed_quantities():
    p, q = random_predictor(8, 6, 3, seed=1), random_predictor(8, 6, 3, seed=2)
    gap = idlin.distribution_gap(p, q, frobenius_only=True)
    assert gap.max_abs is None and gap.mean_kl is None and gap.reverse_kl is None
    np.testing.assert_allclose(gap.frobenius, ref.gap(p, q)[0], rtol=1e-10)


def test_gap_of_equivalent_pair_is_at_rounding_level_unlike_gram_expansion():
    """docs/theory.md §2: the QR form stays at ~ε·‖X‖‖Y‖ where the Gram expansion cancels to ~√ε."""
    p = random_predictor(300, 400, 16, seed=5)
    q = idlin.sample_equivalent(p, key=jax.random.key(0), moves=("basis", "shift"))
    gap = idlin.distribution_gap(p, q)
    assert gap.relative < 1e-12
    assert gap.max_abs < 1e-10 and gap.mean_kl < 1e-12
    X = np.concatenate([p.embeddings, -q.embeddings], axis=1)
    Y = np.concatenate([ref.centered(p.unembeddings), ref.centered(q.unembeddings)], axis=1)
    gram = np.sqrt(abs(np.trace((X.T @ X) @ (Y.T @ Y)))) / gap.reference_norm
    assert gram > 100 * gap.relative  # the cancelling form is visibly worse


def test_gap_is_zero_on_the_diagonal_and_relative_handles_zero_reference():
    p = random_predictor(5, 4, 2)
    gap = idlin.distribution_gap(p, p)
    assert gap.frobenius < 1e-13 and gap.max_abs < 1e-13
    zero = idlin.Predictor(np.zeros((5, 2)), np.ones((4, 2)))
    assert idlin.distribution_gap(zero, zero).relative == 0.0
    assert idlin.distribution_gap(zero, p).relative == float("inf")
    assert idlin.equivalent(zero, zero)


def test_gap_mixes_float32_and_float64():
    p = random_predictor(6, 5, 3)
    q = p.astype(np.float32)
    gap = idlin.distribution_gap(p, q)
    assert gap.relative < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("N", "V", "d1", "d2"),
    [(9, 2 * 2048 + 37, 5, 8), (2048 + 11, 7, 3, 3), (40, 2048, 7, 2), (300, 2048 + 3, 130, 129)],
)
def test_chunked_frobenius_gap_matches_reference(N, V, d1, d2, dtype):
    """The factored gap multiplies the longer side in chunks of `CHUNK_ROWS` rows (with a
    shorter tail; one chunk without a loop) and, for triangles of `SPLIT_ROWS` rows or more,
    skips their zero quarters; odd and unequal widths and both orientations (N < V: G
    multiplied, centred in the chunks; N > V: F multiplied)."""
    from idlin.core._gap import CHUNK_ROWS, SPLIT_ROWS

    assert max(N, V) >= CHUNK_ROWS  # at least one full chunk
    assert d1 < SPLIT_ROWS or d2 >= SPLIT_ROWS  # the big case splits both triangles
    p = random_predictor(N, V, d1, seed=N + d1).astype(dtype)
    rng = np.random.default_rng(V + d2)
    # Unembedding rows with a large common mean: centring inside the chunks must remove it.
    q = idlin.Predictor(rng.normal(size=(N, d2)), rng.normal(size=(V, d2)) + 30.0).astype(dtype)
    gap = idlin.distribution_gap(p, q, frobenius_only=True)
    frob, rel, _, _ = ref.gap(p, q)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(gap.frobenius, frob, rtol=rtol)
    np.testing.assert_allclose(gap.relative, rel, rtol=rtol)


def test_chunked_float32_gap_of_ill_conditioned_equivalent_pair_is_within_its_bound():
    """Speed never buys a false gap: for an equivalent float32 pair whose basis change has
    condition number 1e3 (V past two chunks), the fast route's error against a float64
    evaluation of the same float32 data stays within docs/theory.md §2.1's `ε₃₂·‖X‖_F‖Y‖_F`,
    and the pair is equivalent at the float32 tolerance. (The data's own gap, from rounding q
    to float32, is ~1e-5 of ‖C‖; a float32 Gram expansion would be off by ~√ε₃₂ ≈ 3e-4.)"""
    p = random_predictor(64, 2 * 2048 + 5, 6, seed=11).astype(np.float32)
    q = idlin.sample_equivalent(p, key=jax.random.key(2), moves=("basis", "shift"),
                                condition=1e3)  # fmt: skip
    assert q.dtype == np.float32
    gap = idlin.distribution_gap(p, q, frobenius_only=True)
    want = np.linalg.norm(ref.log_odds(p.embeddings, p.unembeddings)
                          - ref.log_odds(q.embeddings, q.unembeddings))  # fmt: skip
    X = np.concatenate([p.embeddings, -q.embeddings], axis=1).astype(np.float64)
    Y = np.concatenate([ref.centered(p.unembeddings), ref.centered(q.unembeddings)], axis=1)
    bound = np.finfo(np.float32).eps * np.linalg.norm(X) * np.linalg.norm(Y)
    assert abs(gap.frobenius - want) <= bound
    assert idlin.equivalent(p, q)


def test_host_and_xla_cholesky_factors_agree_on_rank_deficient_input():
    """The CPU route's host factor (`_factor_host`) and XLA's (`_factor_xla`, the other
    backends' route and every route's derivative) both give `RᵀR = XᵀX + δI`, X = [P1, −P2],
    on an equivalent pair's rank-deficient X."""
    from idlin.core._gap import _factor_host, _factor_xla

    rng = np.random.default_rng(8)
    P1 = rng.normal(size=(600, 6)).astype(np.float32)
    P2 = (P1 @ rng.normal(size=(6, 6))).astype(np.float32)  # rank(X) = 6 of 12
    X = np.concatenate([P1, -P2], axis=1).astype(np.float64)
    for R, delta in (_factor_host(P1, P2), jax.jit(_factor_xla)(P1, P2)):
        R, delta = np.asarray(R), float(delta)
        assert np.all(np.isfinite(R)) and np.allclose(R, np.triu(R))
        want = X.T @ X + delta * np.eye(12)
        np.testing.assert_allclose(R.T @ R, want, rtol=0, atol=1e-12 * np.abs(want).max())
        assert 0 < delta < 1e-10 * np.abs(want).max()


def test_float32_gap_falls_back_to_householder_when_cholesky_fails():
    """An all-zero factored side has a zero Gram and zero shift: the Cholesky fails (NaN), the
    Householder QR fallback gives the exact answer."""
    from idlin.core._gap import _factor_host

    R, _ = _factor_host(np.zeros((5, 2), np.float32), np.zeros((5, 2), np.float32))
    assert np.all(np.isnan(R))
    zero = idlin.Predictor(np.zeros((5, 2), np.float32), np.ones((4, 2), np.float32))
    p = random_predictor(5, 4, 2).astype(np.float32)
    assert idlin.distribution_gap(zero, zero).frobenius == 0.0
    want = np.linalg.norm(ref.log_odds(p.embeddings, p.unembeddings))  # C_zero = 0
    np.testing.assert_allclose(idlin.distribution_gap(zero, p).frobenius, want, rtol=1e-5)


def test_float32_gap_differentiates_through_the_host_factor():
    """`jax.grad` of the float32 Frobenius gap (host Cholesky factor on CPU) equals the
    analytic gradient `∂‖D‖_F/∂F = D Ĝ / ‖D‖_F`, `D = C_p − C_q`, in float64."""
    p = random_predictor(30, 50, 4, seed=3).astype(np.float32)
    q = random_predictor(30, 50, 4, seed=4).astype(np.float32)

    def frob(F):
        return idlin.distribution_gap(idlin.Predictor(F, p.unembeddings), q,
                                      frobenius_only=True).frobenius  # fmt: skip

    got = np.asarray(jax.grad(frob)(jnp.asarray(p.embeddings)))
    Gh = ref.centered(p.unembeddings)
    D = np.asarray(p.embeddings, np.float64) @ Gh.T - ref.log_odds(q.embeddings, q.unembeddings)
    np.testing.assert_allclose(got, D @ Gh / np.linalg.norm(D), rtol=1e-3, atol=1e-5)


def test_vmapped_float32_gap_matches_each_pair_and_falls_back_per_element():
    """`jax.vmap` of the float32 gap runs the host factor once per element (a batched host
    call) and the Householder fallback element-wise: a stack of a generic pair and a pair whose
    factored side is all zero (its Cholesky fails) gives each pair's float64 reference."""
    p = random_predictor(40, 2048 + 9, 3, seed=5).astype(np.float32)
    q = random_predictor(40, 2048 + 9, 4, seed=6).astype(np.float32)
    zero = idlin.Predictor(np.zeros((40, 3), np.float32), p.unembeddings)
    zero_q = idlin.Predictor(np.zeros((40, 4), np.float32), q.unembeddings)

    def stack(*ps):
        return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *ps)

    got = jax.vmap(lambda a, b: idlin.distribution_gap(a, b, frobenius_only=True).frobenius)(
        stack(p, zero), stack(q, zero_q)
    )
    want = [ref.gap(p, q)[0], 0.0]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_equivalent_rejects_negative_tolerance():
    p = random_predictor(3, 3, 2)
    with pytest.raises(ValueError, match="tolerances"):
        idlin.equivalent(p, p, rtol=-1.0)


# -- §3 subspaces -----------------------------------------------------------------------------


@pytest.mark.parametrize(("kf", "kg", "r"), [(4, 4, 4), (3, 5, 2), (5, 2, 2), (2, 3, 1), (3, 3, 1)])
def test_subspaces_ranks_and_bases_match_reference(kf, kg, r):
    d = 6
    p = planted_predictor(
        kf + 10 * kg + r,
        shape=(15, 11, d),
        embedding_rank=kf,
        unembedding_rank=kg,
        effective_complexity=r,
    )
    s = idlin.subspaces(p)
    tol = s.rtol
    assert (s.embedding_rank, s.unembedding_rank, s.effective_complexity) == (kf, kg, r)
    assert ref.rank(p.embeddings, tol) == kf
    assert ref.rank(ref.centered(p.unembeddings), tol) == kg
    assert ref.rank(ref.log_odds(p.embeddings, p.unembeddings), tol) == r
    assert s.diverse == (kf == kg == d)
    C = ref.log_odds(p.embeddings, p.unembeddings)
    np.testing.assert_allclose(
        s.log_odds_spectrum[:r], np.linalg.svd(C, compute_uv=False)[:r], rtol=1e-9
    )
    # bases span the same subspaces as the reference (compare projectors)
    for basis, A in (
        (s.embedding_basis, p.embeddings),
        (s.unembedding_basis, ref.centered(p.unembeddings)),
    ):
        B = ref.row_basis(A, tol)
        np.testing.assert_allclose(basis @ basis.T, B @ B.T, atol=1e-9)
    assert s.log_odds_gap > 1e6


def test_only_the_projection_onto_U_matters():
    """docs/theory.md §3: C[x,:] = Ĝ P_U f(x) and P_U f(x) = Ĝ⁺ C[x,:]."""
    p = planted_predictor(
        7, shape=(9, 8, 5), embedding_rank=4, unembedding_rank=3, effective_complexity=2
    )
    s = idlin.subspaces(p)
    PU = s.projector("unembedding")
    Gh = ref.centered(p.unembeddings)
    C = ref.log_odds(p.embeddings, p.unembeddings)
    np.testing.assert_allclose((f := np.asarray(p.embeddings)) @ PU @ Gh.T, C, atol=1e-10)
    np.testing.assert_allclose(C @ np.linalg.pinv(Gh).T, f @ PU, atol=1e-10)


def test_zero_model_has_zero_complexity_and_no_canonical_coordinates():
    zero = idlin.Predictor(np.zeros((4, 3)), np.zeros((5, 3)))
    assert idlin.subspaces(zero).effective_complexity == 0
    with pytest.raises(idlin.RankError, match="effective complexity is 0"):
        idlin.canonical(zero)
    with pytest.raises(idlin.RankError):
        idlin.minimal(zero)


# -- §4 canonical coordinates and maps --------------------------------------------------------


def test_canonical_coordinates_reproduce_C_and_the_maps_send_the_model_onto_them():
    p = planted_predictor(
        3, shape=(12, 9, 6), embedding_rank=5, unembedding_rank=4, effective_complexity=3
    )
    c = idlin.canonical(p)
    C = ref.log_odds(p.embeddings, p.unembeddings)
    assert c.rank == 3
    np.testing.assert_allclose(np.asarray(c.phi) @ np.asarray(c.gamma).T, C, atol=1e-10)
    np.testing.assert_allclose(
        np.asarray(p.embeddings) @ np.asarray(c.embedding_map).T, c.phi, atol=1e-10
    )
    Gh = ref.centered(p.unembeddings)
    np.testing.assert_allclose(Gh @ np.asarray(c.unembedding_map).T, c.gamma, atol=1e-10)
    U, S, _Wt = np.linalg.svd(C)
    np.testing.assert_allclose(c.singular_values, S[:3], rtol=1e-10)
    # φ = U_C Σ^{1/2} up to the documented sign convention
    phi_ref = U[:, :3] * np.sqrt(S[:3])
    signs = np.sign(phi_ref[np.abs(U[:, :3]).argmax(0), np.arange(3)])
    np.testing.assert_allclose(c.phi, phi_ref * signs, atol=1e-10)


def test_minimal_model_is_equivalent_diverse_and_of_width_r():
    p = planted_predictor(
        4, shape=(10, 8, 6), embedding_rank=4, unembedding_rank=5, effective_complexity=3
    )
    m = idlin.minimal(p)
    assert m.width == 3
    assert idlin.subspaces(m).diverse
    assert idlin.equivalent(p, m)
    with pytest.raises(idlin.RankError, match="expected 1 ≤ r ≤"):
        idlin.canonical(p, rank=5)
    assert idlin.canonical(p, rank=2).rank == 2


@pytest.mark.parametrize("condition", [1.0, 1e3, 1e6])
def test_recover_linear_map_matches_numpy_lstsq(condition):
    p = random_predictor(40, 30, 5, seed=11)
    M = np.asarray(
        idlin.random_invertible(jax.random.key(2), 5, condition=condition, dtype=jnp.float64)
    )
    c = np.random.default_rng(0).normal(size=5)
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    q = idlin.Predictor(F @ M.T, np.linalg.solve(M.T, G.T).T + c)
    lm = idlin.recover_linear_map(p, q)
    M_ref = np.linalg.lstsq(F, np.asarray(q.embeddings), rcond=None)[0].T
    np.testing.assert_allclose(lm.matrix, M_ref, rtol=1e-8 * condition, atol=1e-8)
    np.testing.assert_allclose(lm.matrix, M, rtol=1e-7, atol=1e-9 * condition)
    np.testing.assert_allclose(lm.shift, c, atol=1e-8)
    np.testing.assert_allclose(lm.condition_number, np.linalg.cond(M_ref), rtol=1e-6)
    assert lm.embedding_residual < 1e-12 and lm.unembedding_residual < 1e-8
    assert idlin.equivalent(p, q)


def test_recover_linear_map_residual_flags_non_equivalent_pair():
    p, q = random_predictor(20, 10, 3, seed=1), random_predictor(20, 10, 3, seed=2)
    lm = idlin.recover_linear_map(p, q)
    M = np.asarray(lm.matrix)
    Gq, Gp = ref.centered(q.unembeddings), ref.centered(p.unembeddings)
    want = np.linalg.norm(Gq - Gp @ np.linalg.inv(M)) / np.linalg.norm(Gq)
    np.testing.assert_allclose(lm.unembedding_residual, want, rtol=1e-8)
    assert lm.unembedding_residual > 0.1


def test_recover_linear_map_refuses_non_diverse_and_width_mismatch():
    p = planted_predictor(
        1, shape=(8, 7, 4), embedding_rank=3, unembedding_rank=4, effective_complexity=3
    )
    q = idlin.sample_equivalent(p, key=jax.random.key(0), moves=("basis",))
    with pytest.raises(idlin.NotDiverseError, match=r"p is not diverse.*rank F = 3"):
        idlin.recover_linear_map(p, q)
    a, b = random_predictor(8, 7, 4), random_predictor(8, 7, 5)
    with pytest.raises(idlin.IncompatibleError, match=r"d=4.*d=5"):
        idlin.recover_linear_map(a, b)


def test_recover_extended_map_across_widths_matches_pseudo_inverse_reference():
    p = planted_predictor(
        9, shape=(14, 10, 5), embedding_rank=4, unembedding_rank=3, effective_complexity=2
    )
    q = idlin.sample_equivalent(
        p, key=jax.random.key(1), moves=("widen_embedding", "invisible_embedding", "basis")
    )
    assert q.width == 7
    em = idlin.recover_extended_map(p, q)
    assert em.rank == 2 and em.effective_complexity == (2, 2)
    assert em.embedding_residual < 1e-9 and em.unembedding_residual < 1e-9
    tol = idlin.subspaces(p).rtol
    Gp, Gq = ref.centered(p.unembeddings), ref.centered(q.unembeddings)
    T_ref = np.linalg.pinv(Gq, rcond=tol) @ Gp
    np.testing.assert_allclose(em.embedding_map, T_ref, atol=1e-8)
    S_ref = np.linalg.pinv(np.asarray(q.embeddings), rcond=tol) @ np.asarray(p.embeddings)
    np.testing.assert_allclose(em.unembedding_map, S_ref, atol=1e-8)
    # P_Ũ f̃(x) = T P_U f(x), checked with reference projectors
    PU = ref.row_basis(Gp, tol) @ ref.row_basis(Gp, tol).T
    PUq = ref.row_basis(Gq, tol) @ ref.row_basis(Gq, tol).T
    np.testing.assert_allclose(
        np.asarray(q.embeddings) @ PUq, np.asarray(p.embeddings) @ PU @ T_ref.T, atol=1e-8
    )


def test_extended_map_is_theorem_L_map_for_diverse_models():
    p = random_predictor(20, 12, 4, seed=3)
    q = idlin.sample_equivalent(p, key=jax.random.key(4), moves=("basis", "shift"))
    np.testing.assert_allclose(
        idlin.recover_extended_map(p, q).embedding_map,
        idlin.recover_linear_map(p, q).matrix,
        atol=1e-9,
    )


def test_extended_map_residual_flags_non_equivalent_pair():
    p = planted_predictor(
        2, shape=(10, 8, 5), embedding_rank=3, unembedding_rank=3, effective_complexity=2
    )
    q = planted_predictor(
        3, shape=(10, 8, 5), embedding_rank=3, unembedding_rank=3, effective_complexity=2
    )
    em = idlin.recover_extended_map(p, q)
    assert em.embedding_residual > 1e-2 or em.unembedding_residual > 1e-2


# -- §5 class moves ---------------------------------------------------------------------------


@pytest.mark.parametrize("move", idlin.MOVES)
def test_every_move_preserves_the_distribution_and_r(move):
    p = planted_predictor(
        5, shape=(11, 9, 5), embedding_rank=3, unembedding_rank=4, effective_complexity=2
    )
    q = idlin.sample_equivalent(p, key=jax.random.key(7), moves=(move,))
    C_p = ref.log_odds(p.embeddings, p.unembeddings)
    C_q = ref.log_odds(q.embeddings, q.unembeddings)
    np.testing.assert_allclose(C_q, C_p, atol=1e-9)
    assert idlin.subspaces(q).effective_complexity == 2
    expected_width = {"widen_embedding": 7, "widen_unembedding": 7, "shrink": 2}.get(move, 5)
    assert q.width == expected_width


def test_moves_actually_change_the_coordinates():
    p = planted_predictor(
        5, shape=(11, 9, 5), embedding_rank=3, unembedding_rank=4, effective_complexity=2
    )
    for move in ("basis", "invisible_embedding", "invisible_unembedding"):
        q = idlin.sample_equivalent(p, key=jax.random.key(3), moves=(move,))
        changed = (
            np.abs(np.asarray(q.embeddings) - np.asarray(p.embeddings)).max()
            + np.abs(np.asarray(q.unembeddings) - np.asarray(p.unembeddings)).max()
        )
        assert changed > 1e-3, move
    # invisible embedding part: rows of the change lie in U^⊥
    q = idlin.sample_equivalent(p, key=jax.random.key(3), moves=("invisible_embedding",))
    PU = idlin.subspaces(p).projector("unembedding")
    H = np.asarray(q.embeddings) - np.asarray(p.embeddings)
    np.testing.assert_allclose(H @ PU, 0, atol=1e-10)
    assert np.linalg.norm(H) > 1e-2


def test_adding_both_invisible_parts_against_old_spans_breaks_equivalence():
    """Why move 4 must use the span of the *current* f (docs/theory.md §5): against the old spans,
    h(x)ᵀk(y) need not vanish."""
    p = planted_predictor(
        8, shape=(10, 9, 6), embedding_rank=3, unembedding_rank=3, effective_complexity=2
    )
    s = idlin.subspaces(p)
    rng = np.random.default_rng(0)
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    H = rng.normal(size=F.shape) @ (np.eye(6) - s.projector("unembedding"))
    K = rng.normal(size=G.shape) @ (np.eye(6) - s.projector("embedding"))
    wrong = idlin.Predictor(F + H, G + K)
    assert not idlin.equivalent(p, wrong)
    right = idlin.sample_equivalent(
        p, key=jax.random.key(0), moves=("invisible_embedding", "invisible_unembedding")
    )
    assert idlin.equivalent(p, right)


def test_random_invertible_has_the_requested_condition():
    M = idlin.random_invertible(jax.random.key(0), 6, condition=1e4, dtype=jnp.float64)
    np.testing.assert_allclose(np.linalg.cond(np.asarray(M)), 1e4, rtol=1e-8)


def test_sample_equivalent_is_deterministic_in_its_key():
    p = random_predictor(6, 5, 3)
    a = idlin.sample_equivalent(p, key=jax.random.key(9))
    b = idlin.sample_equivalent(p, key=jax.random.key(9))
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.unembeddings, b.unembeddings)


def test_ill_conditioned_member_still_equivalent_at_float64():
    p = random_predictor(50, 40, 6, seed=4)
    q = idlin.sample_equivalent(p, key=jax.random.key(1), moves=("basis",), condition=1e6)
    gap = idlin.distribution_gap(p, q)
    assert gap.relative < 1e-9
    assert idlin.equivalent(p, q)
    np.testing.assert_allclose(idlin.recover_linear_map(p, q).condition_number, 1e6, rtol=1e-3)


def test_float32_inputs_are_accurate_to_float32_precision():
    p = random_predictor(200, 300, 8, seed=2).astype(np.float32)
    q = idlin.sample_equivalent(p, key=jax.random.key(0), moves=("basis", "shift"), condition=10.0)
    assert q.dtype == np.float32
    gap = idlin.distribution_gap(p, q)
    assert gap.relative < 1e-5
    assert idlin.equivalent(p, q)
    r = random_predictor(200, 300, 8, seed=9).astype(np.float32)
    np.testing.assert_allclose(idlin.distribution_gap(p, r).frobenius, ref.gap(p, r)[0], rtol=1e-5)


def test_accuracy_rtol_recovers_the_rank_of_an_approximately_low_rank_model():
    """docs/theory.md §3, §8: a model within KL of a rank-r truth has rank d at the rounding
    threshold,
    but rank r at the threshold tied to its KL."""
    truth = planted_predictor(
        0, shape=(40, 30, 6), embedding_rank=3, unembedding_rank=3, effective_complexity=3
    )
    rng = np.random.default_rng(1)
    noisy = idlin.Predictor(
        np.asarray(truth.embeddings) + 1e-4 * rng.normal(size=(40, 6)),
        np.asarray(truth.unembeddings) + 1e-4 * rng.normal(size=(30, 6)),
    )
    kl = idlin.distribution_gap(truth, noisy).mean_kl
    assert idlin.subspaces(noisy).effective_complexity == 6
    rtol = idlin.accuracy_rtol(noisy, kl)
    fit = idlin.Precision(rank_rtol=rtol)
    assert idlin.subspaces(noisy, precision=fit).effective_complexity == 3
    s1 = idlin.subspaces(noisy).log_odds_spectrum[0]
    np.testing.assert_allclose(rtol, 2 * np.sqrt(2 * kl) * (np.sqrt(40) + np.sqrt(30)) / s1)
    assert idlin.accuracy_rtol(noisy, 0.0) == np.finfo(np.float64).eps
    assert idlin.accuracy_rtol(noisy, 1e6) == 0.5


def test_explicit_widen_moves_keep_C_and_the_wrong_mirror_does_not():
    """docs/theory.md §5 move 5: [f; a(x)] with constant [g; c'] keeps C; so does [f; 0] with [g;
    k(y)].
    A constant *embedding* coordinate against arbitrary k(y) adds c'·k(y) per token: not a move."""
    p = random_predictor(6, 5, 2, seed=3)
    rng = np.random.default_rng(0)
    a, c, k = rng.normal(size=(6, 2)), rng.normal(size=2), rng.normal(size=(5, 2))
    C = ref.log_odds(p.embeddings, p.unembeddings)
    for q in (idlin.widen_embedding(p, a, constant=c), idlin.widen_unembedding(p, k)):
        assert q.width == 4
        np.testing.assert_allclose(ref.log_odds(q.embeddings, q.unembeddings), C, atol=1e-12)
    wrong = idlin.Predictor(
        np.concatenate([np.asarray(p.embeddings), np.ones((6, 2))], axis=1),
        np.concatenate([np.asarray(p.unembeddings), k], axis=1),
    )
    assert not idlin.equivalent(p, wrong)


def test_moves_and_audit_generators_are_one_vocabulary():
    from idlin.properties.audit._generators import GENERATORS

    assert GENERATORS is idlin.MOVES


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("embedding_null", "invisible_embedding"),
        ("unembedding_null", "invisible_unembedding"),
        ("widen", "widen_embedding"),
    ],
)
def test_old_move_names_warn_and_sample_the_same_member(old, new):
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(8, 3)), rng.normal(size=(6, 3)))
    with pytest.warns(idlin.IdlinDeprecationWarning, match=f"'{old}' → '{new}'"):
        q_old = idlin.sample_equivalent(p, key=jax.random.key(4), moves=(old, "basis"))
    q_new = idlin.sample_equivalent(p, key=jax.random.key(4), moves=(new, "basis"))
    np.testing.assert_array_equal(np.asarray(q_old.embeddings), np.asarray(q_new.embeddings))
    np.testing.assert_array_equal(np.asarray(q_old.unembeddings), np.asarray(q_new.unembeddings))
