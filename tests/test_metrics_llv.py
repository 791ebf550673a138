"""m_svd and pivot_log_odds_distance against dense float64 NumPy references built from log p
(docs/theory.md §8). Nielsen et al.'s d_llv is tested in test_metrics_dllv.py."""

import jax
import numpy as np
import pytest
import reference as ref
from hypothesis import given
from hypothesis import strategies as st

import idlin
from idlin.core.metrics import d_llv, m_svd, pivot_log_odds_distance
from idlin.testing import equivalent_pairs, planted_predictor, prng_keys

N, V = 12, 9


def _random(seed, d=3):
    rng = np.random.default_rng(seed)
    return idlin.Predictor(rng.normal(size=(N, d)), rng.normal(size=(V, d)))


def _member(p, seed, extra=2):
    return idlin.Predictor(*ref.member(p, seed, extra))


def _logp(p):
    L = np.asarray(p.embeddings) @ np.asarray(p.unembeddings).T
    L = L - L.max(axis=1, keepdims=True)
    return L - np.log(np.exp(L).sum(axis=1, keepdims=True))


def _ell(p, piv, S):
    lp = _logp(p)
    return lp[:, S] - lp[:, [piv]]


def _kappa(p, x0, T):
    lp = _logp(p)
    C = lp - lp.mean(axis=1, keepdims=True)
    return (C[T] - C[[x0]]).T


def _np_msvd(p, q, piv, S):
    def z(A):
        A = A - A.mean(axis=0)
        return A / A.std(axis=0)

    R = z(_ell(p, piv, S)).T @ z(_ell(q, piv, S)) / N
    return np.linalg.svd(R, compute_uv=False)


def _np_term(A, B, lam):
    sa, sb = np.sqrt((A**2).mean(axis=0)), np.sqrt((B**2).mean(axis=0))
    return np.mean((A / sa - B / sb) ** 2) + lam * np.mean((np.log(sa) - np.log(sb)) ** 2)


def test_m_svd_matches_numpy_and_is_bounded():
    p, q = _random(0), _random(1, d=4)
    res = m_svd(p, q, key=jax.random.key(0))
    S = np.asarray(res.labels)
    assert len(S) == 4 and res.pivot not in S
    sv = _np_msvd(p, q, res.pivot, S)
    np.testing.assert_allclose(np.asarray(res.singular_values), sv, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.value, sv.mean(), rtol=1e-10)
    assert 0.0 < res.value < 0.95
    swapped = m_svd(q, p, key=jax.random.key(0))
    np.testing.assert_allclose(swapped.value, res.value, rtol=1e-10)


def test_m_svd_is_one_across_the_class_and_explicit_labels_work():
    p = _random(2)
    q = _member(p, 3)
    assert m_svd(p, q, key=jax.random.key(1)).value == pytest.approx(1.0, abs=1e-10)
    res = m_svd(p, _random(4), key=jax.random.key(1), pivot=0, labels=[1, 2, 5, 6, 8])
    assert res.pivot == 0 and np.asarray(res.labels).tolist() == [1, 2, 5, 6, 8]
    np.testing.assert_allclose(res.value, _np_msvd(p, _random(4), 0, [1, 2, 5, 6, 8]).mean())


@pytest.mark.parametrize("lam", [0.0, 2.0])
def test_pivot_log_odds_distance_matches_numpy(lam):
    p, q = _random(5), _random(6, d=4)
    res = pivot_log_odds_distance(p, q, key=jax.random.key(2), lam=lam)
    S, T = np.asarray(res.labels), np.asarray(res.inputs)
    assert len(S) == 4 and len(T) == 4 and res.pivot_input not in T
    lab = _np_term(_ell(p, res.pivot_label, S), _ell(q, res.pivot_label, S), lam)
    inp = _np_term(_kappa(p, res.pivot_input, T), _kappa(q, res.pivot_input, T), lam)
    np.testing.assert_allclose([res.label_term, res.input_term], [lab, inp], rtol=1e-10)
    assert res.value == max(res.label_term, res.input_term) > 1e-2
    swapped = pivot_log_odds_distance(q, p, key=jax.random.key(2), lam=lam)
    np.testing.assert_allclose(swapped.value, res.value, rtol=1e-10)


def test_pivot_log_odds_distance_zero_across_the_class_and_seeded():
    p = _random(7)
    res = pivot_log_odds_distance(p, _member(p, 8), key=jax.random.key(3))
    assert res.value < 1e-20
    a = pivot_log_odds_distance(p, _random(9), key=jax.random.key(4))
    b = pivot_log_odds_distance(p, _random(9), key=jax.random.key(4))
    assert a.value == b.value and a.pivot_input == b.pivot_input and a.pivot_label == b.pivot_label
    fixed = pivot_log_odds_distance(
        p, _random(9), key=jax.random.key(4), pivot_input=3, inputs=[0, 5, 7]
    )
    assert fixed.pivot_input == 3 and np.asarray(fixed.inputs).tolist() == [0, 5, 7]


def test_llv_errors():
    p = _random(0)
    key = jax.random.key(0)
    with pytest.raises(idlin.ConfigError, match="lam"):
        pivot_log_odds_distance(p, p, key=key, lam=-1.0)
    with pytest.raises(idlin.ConfigError, match="pivot"):
        m_svd(p, p, key=key, labels=[1, 2])
    with pytest.raises(idlin.ConfigError, match="must not contain the pivot"):
        m_svd(p, p, key=key, pivot=1, labels=[1, 2])
    with pytest.raises(idlin.ConfigError, match=r"1 ≤ k ≤ 8"):
        m_svd(p, p, key=key, num_labels=9)
    with pytest.raises(idlin.ConfigError, match=r"1 ≤ k ≤ 11"):
        pivot_log_odds_distance(p, p, key=key, num_inputs=12)
    with pytest.raises(idlin.IncompatibleError):
        m_svd(p, idlin.Predictor(np.ones((N + 1, 3)), np.eye(V, 3)), key=key)
    # Tokens 1 and 2 with the same unembedding: log p(2|x) − log p(1|x) = 0 for every x.
    G = np.asarray(p.unembeddings).copy()
    G[2] = G[1]
    twin = idlin.Predictor(p.embeddings, G)
    with pytest.raises(idlin.RankError, match="constant"):
        m_svd(twin, twin, key=key, pivot=1, labels=[2, 3])
    with pytest.raises(idlin.RankError, match="identically 0"):
        pivot_log_odds_distance(twin, twin, key=key, pivot_label=1, labels=[2, 3])


def test_every_public_metric_name_is_documented():
    import idlin.core.metrics as metrics

    names = [n for n in dir(metrics) if not n.startswith("_") and n != "WHICH"]
    assert {"d_logit", "d_rep", "cca", "mean_cca", "m_svd", "d_llv", "canonical_fit"} <= set(names)
    assert "pivot_log_odds_distance" in names
    for name in names:
        obj = getattr(metrics, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 40, name


# One shape and one rank (k_f = k_g = 4, r = 3 < d = 5): values vary, compilations do not.
_FIXED_WIDTH_MOVES = ("basis", "shift", "invisible_embedding", "invisible_unembedding")
_BASE = st.integers(0, 2**32 - 1).map(
    lambda seed: planted_predictor(
        seed, shape=(9, 7, 5), embedding_rank=4, unembedding_rank=4, effective_complexity=3
    )
)


@given(
    equivalent_pairs(_BASE, moves=_FIXED_WIDTH_MOVES, max_condition=30.0),
    prng_keys(),
)
def test_identifiable_metrics_are_class_invariant(pair, key):
    """Over the class (docs/theory.md §5 moves), the distribution-level metrics read 'identical'."""
    from idlin.core.metrics import canonical_fit, d_logit, principal_angles

    p, q = pair.p, pair.q
    r = 3
    scale = float(np.sum(np.asarray(p.log_odds()) ** 2)) / p.num_contexts
    assert d_logit(p, q) <= 1e-16 * scale
    assert canonical_fit(p, q, rank=r).r2 > 1 - 1e-9
    assert principal_angles(p, q, rank=r).max_angle < 1e-6
    assert m_svd(p, q, key=key).value == pytest.approx(1.0, abs=1e-8)
    assert pivot_log_odds_distance(p, q, key=key).value < 1e-12
    assert d_llv(p, q, key=key).value < 1e-9


# -- m_SVD as Nielsen et al.'s representation_measures.py computes it


def _their_msvd(P1, P2, k):
    """Their route in NumPy: centre, divide by the ddof=1 sd, PLS-SVD (scale=True standardises
    again, idempotently), then the mean over components of `np.cov(X U_k, Y V_k)[0, 1]`."""

    def std(A):
        A = A - A.mean(axis=0)
        return A / A.std(axis=0, ddof=1)

    X, Y = std(std(P1)), std(std(P2))
    U, _, Vt = np.linalg.svd(X.T @ Y)
    Xc, Yc = X @ U[:, :k], Y @ Vt.T[:, :k]
    return float(np.mean([np.cov(Xc[:, i], Yc[:, i])[0, 1] for i in range(k)]))


def _sklearn_msvd(P1, P2, k):
    from sklearn.cross_decomposition import PLSSVD

    def std(A):
        A = A - A.mean(axis=0)
        return A / A.std(axis=0, ddof=1)

    X, Y = std(P1), std(P2)
    Xc, Yc = PLSSVD(n_components=k).fit(X, Y).transform(X, Y)
    return float(np.mean([np.cov(Xc[:, i], Yc[:, i])[0, 1] for i in range(k)]))


@pytest.mark.parametrize("seed", [0, 1])
def test_m_svd_equals_their_pls_svd_covariances(seed):
    rng = np.random.default_rng(seed)
    d = 3
    F1, G1 = rng.normal(size=(N, d)), rng.normal(size=(V, d))
    M = rng.normal(size=(d, d)) + 2 * np.eye(d)
    F2 = F1 @ M + 0.5 * rng.normal(size=(N, d))
    G2 = G1 @ np.linalg.inv(M).T + 0.5 * rng.normal(size=(V, d))
    p, q = idlin.Predictor(F1, G1), idlin.Predictor(F2, G2)
    emb = m_svd(p, q, key=jax.random.key(seed))
    S, piv = np.asarray(emb.labels), emb.pivot
    # Their get_m_SVD_for_y_pivot: rows g(y) − g(π), y ∈ S, applied to every f(x) (N × d).
    P1, P2 = F1 @ (G1[S] - G1[piv]).T, F2 @ (G2[S] - G2[piv]).T
    their = _their_msvd(P1, P2, d)
    assert emb.side == "embedding" and abs(emb.value - their) < 1e-14
    assert abs(emb.value - _sklearn_msvd(P1, P2, d)) < 1e-12
    unemb = m_svd(p, q, key=jax.random.key(seed), side="unembedding")
    T, x0 = np.asarray(unemb.labels), unemb.pivot
    assert len(T) == d and x0 not in T
    # Their get_mSVD_chosen_input_set: rows f(x) − f(x₀), x ∈ T, applied to every (uncentred)
    # g(y) (V × d).
    Q1, Q2 = G1 @ (F1[T] - F1[x0]).T, G2 @ (F2[T] - F2[x0]).T
    assert unemb.side == "unembedding" and abs(unemb.value - _their_msvd(Q1, Q2, d)) < 1e-14
    assert abs(unemb.value - _sklearn_msvd(Q1, Q2, d)) < 1e-12
    assert 0.2 < emb.value < 0.999 and 0.2 < unemb.value < 0.999


def test_unembedding_m_svd_is_one_across_the_class_and_checks_its_arguments():
    p = _random(2)
    q = _member(p, 3)
    key = jax.random.key(5)
    assert m_svd(p, q, key=key, side="unembedding").value == pytest.approx(1.0, abs=1e-10)
    res = m_svd(p, _random(4), key=key, side="unembedding", pivot=2, inputs=[0, 5, 7, 11])
    assert res.pivot == 2 and np.asarray(res.labels).tolist() == [0, 5, 7, 11]
    ref = _their_msvd(*(_kappa(m, 2, [0, 5, 7, 11]) for m in (p, _random(4))), 4)
    assert abs(res.value - ref) < 1e-14
    assert len(m_svd(p, q, key=key, side="unembedding", num_inputs=5).labels) == 5
    with pytest.raises(idlin.ConfigError, match="side"):
        m_svd(p, q, key=key, side="both")
    with pytest.raises(idlin.ConfigError, match="num_inputs/inputs"):
        m_svd(p, q, key=key, side="unembedding", labels=[1, 2], pivot=0)
    with pytest.raises(idlin.ConfigError, match="num_labels/labels"):
        m_svd(p, q, key=key, num_inputs=3)
    with pytest.raises(idlin.ConfigError, match=r"1 ≤ k ≤ 11"):
        m_svd(p, q, key=key, side="unembedding", num_inputs=12)
    F = np.asarray(p.embeddings).copy()
    F[4] = F[1]  # context 4 repeats the pivot context: its column of κ is 0
    twin = idlin.Predictor(F, p.unembeddings)
    with pytest.raises(idlin.RankError, match="constant over tokens"):
        m_svd(twin, twin, key=key, side="unembedding", pivot=1, inputs=[4, 5])
