"""principal_angles (vs scipy) and causal_inner_product (vs NumPy eigh) (docs/theory.md §3, §4,
§8)."""

import numpy as np
import pytest
import reference as ref
import scipy.linalg

import idlin
from idlin.core.metrics import causal_inner_product, principal_angles
from idlin.core.metrics._angles import angles_kernel

N, V = 12, 9


def _random(seed, d=3, N=N, V=V):
    rng = np.random.default_rng(seed)
    return idlin.Predictor(rng.normal(size=(N, d)), rng.normal(size=(V, d)))


def _dense_C(p):
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    return F @ (G - G.mean(axis=0)).T


def _member(p, seed, extra=0):
    return idlin.Predictor(*ref.member(p, seed, extra))


# -- principal angles


@pytest.mark.parametrize("dq", [2, 3])
def test_canonical_angles_match_scipy(dq):
    p, q = _random(0), _random(1, d=dq)
    for which, A, B in [
        ("canonical", _dense_C(p), _dense_C(q)),
        ("canonical_unembedding", _dense_C(p).T, _dense_C(q).T),
    ]:
        res = principal_angles(p, q, which=which)
        ref = np.sort(scipy.linalg.subspace_angles(A, B))
        np.testing.assert_allclose(np.asarray(res.angles), ref, rtol=1e-9, atol=1e-12)
        assert res.dims == (3, dq)
        np.testing.assert_allclose(np.asarray(res.cosines), np.cos(ref), atol=1e-12)


def test_raw_angles_match_scipy_on_rowspaces():
    rng = np.random.default_rng(2)
    # Width 4 with rank F = 2 and rank Ĝ = 3 so the spans are proper subspaces of R^4.
    p = idlin.Predictor(
        rng.normal(size=(N, 2)) @ rng.normal(size=(2, 4)),
        rng.normal(size=(V, 3)) @ rng.normal(size=(3, 4)),
    )
    q = idlin.Predictor(rng.normal(size=(N, 3)) @ rng.normal(size=(3, 4)), rng.normal(size=(V, 4)))
    res = principal_angles(p, q, which="embedding")
    ref = np.sort(
        scipy.linalg.subspace_angles(np.asarray(p.embeddings).T, np.asarray(q.embeddings).T)
    )
    assert res.dims == (2, 3)
    np.testing.assert_allclose(np.asarray(res.angles), ref, rtol=1e-9, atol=1e-12)
    Gp, Gq = (np.asarray(m.centered_unembeddings) for m in (p, q))
    res = principal_angles(p, q, which="unembedding")
    np.testing.assert_allclose(
        np.asarray(res.angles),
        np.sort(scipy.linalg.subspace_angles(Gp.T, Gq.T)),
        rtol=1e-9,
        atol=1e-12,
    )


def test_small_angles_are_accurate():
    t = 1e-9  # arccos would return 0 here (cos t = 1 − 5e-19)
    Q1 = np.eye(5)[:, :2]
    Q2 = np.stack([np.eye(5)[0], np.cos(t) * np.eye(5)[1] + np.sin(t) * np.eye(5)[2]], axis=1)
    theta, _cos = angles_kernel(Q1, Q2)
    np.testing.assert_allclose(np.asarray(theta), [0.0, t], rtol=1e-6, atol=1e-20)
    theta, _ = angles_kernel(np.eye(5)[:, [0, 1, 3]], Q2)  # different dimensions
    np.testing.assert_allclose(np.asarray(theta), [0.0, t], rtol=1e-6, atol=1e-20)


def test_identifiable_spans_agree_across_the_class_raw_spans_do_not():
    p = _random(3)
    for extra in (0, 2):
        q = _member(p, 4, extra)
        for which in ("canonical", "canonical_unembedding"):
            assert principal_angles(p, q, which=which).max_angle < 1e-7
    # Raw E of a rank-2 embedding inside R^3 moves under a basis change (not identifiable).
    rng = np.random.default_rng(5)
    p = idlin.Predictor(rng.normal(size=(N, 2)) @ rng.normal(size=(2, 3)), rng.normal(size=(V, 3)))
    assert principal_angles(p, _member(p, 6), which="embedding").max_angle > 1e-2


def test_angle_errors():
    p = _random(0)
    with pytest.raises(idlin.ConfigError, match="which"):
        principal_angles(p, p, which="tokens")
    with pytest.raises(idlin.IncompatibleError, match="widths"):
        principal_angles(p, _random(1, d=4), which="embedding")
    with pytest.raises(idlin.IncompatibleError, match="same contexts"):
        principal_angles(p, _random(1, N=N + 1))


# -- causal inner product


def _np_cip(G, reg):
    Gh = G - G.mean(axis=0)
    S = Gh.T @ Gh / len(G)
    w, Q = np.linalg.eigh(S)
    eps = reg * w.max()
    return (Q / np.sqrt(w + eps)) @ Q.T, S, w, eps


@pytest.mark.parametrize("reg", [0.0, 1e-2])
def test_causal_inner_product_matches_numpy(reg):
    rng = np.random.default_rng(7)
    G = rng.normal(size=(V, 3)) * [1.0, 5.0, 0.2]
    p = idlin.Predictor(rng.normal(size=(N, 3)), G)
    res = causal_inner_product(p, reg=reg)
    A, S, w, eps = _np_cip(G, reg)
    np.testing.assert_allclose(np.asarray(res.transform), A, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(res.metric), A @ A, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(res.covariance), S, rtol=1e-12)
    np.testing.assert_allclose(res.condition_number, w.max() / w.min(), rtol=1e-10)
    np.testing.assert_allclose(
        res.regularised_condition_number, (w.max() + eps) / (w.min() + eps), rtol=1e-10
    )
    u, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(
        np.asarray(res.inner(u, v)), np.einsum("bi,ij,bj->b", u, A @ A, v), rtol=1e-10
    )
    if reg == 0.0:  # whitening: the unembeddings in the causal basis have identity covariance
        Gc = (G - G.mean(axis=0)) @ np.asarray(res.transform)
        np.testing.assert_allclose(Gc.T @ Gc / V, np.eye(3), atol=1e-10)


def test_causal_unembeddings_map_the_uncentred_rows_as_park_et_al():
    """Their code: `g = gamma @ inv_sqrt_Cov_gamma`, Cov of the centred rows over V (÷V)."""
    rng = np.random.default_rng(9)
    G = rng.normal(size=(V, 3)) * [1.0, 5.0, 0.2] + [3.0, -1.0, 2.0]  # a nonzero mean row
    res = causal_inner_product(idlin.Predictor(rng.normal(size=(N, 3)), G), reg=0.0)
    centred = G - G.mean(axis=0)
    w, Q = np.linalg.eigh(centred.T @ centred / V)
    theirs = G @ (Q @ np.diag(1 / np.sqrt(w)) @ Q.T)
    g = np.asarray(res.unembeddings)
    np.testing.assert_allclose(g, theirs, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(g.mean(axis=0)) > 0.5  # uncentred: the mean row is A·mean g, not 0
    np.testing.assert_allclose(np.cov(g.T, bias=True), np.eye(3), atol=1e-10)


def test_causal_inner_product_is_basis_invariant():
    # Under g ↦ M^{-ᵀ} g the metric transforms so that ⟨M^{-ᵀ}u, M^{-ᵀ}v⟩ is unchanged.
    rng = np.random.default_rng(8)
    p = _random(8)
    M = rng.normal(size=(3, 3)) + 2 * np.eye(3)
    q = idlin.Predictor(
        np.asarray(p.embeddings) @ M.T, np.linalg.solve(M.T, np.asarray(p.unembeddings).T).T
    )
    u, v = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    Mit = np.linalg.inv(M).T
    a = causal_inner_product(p, reg=0.0).inner(u, v)
    b = causal_inner_product(q, reg=0.0).inner(u @ Mit.T, v @ Mit.T)
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-9)


def test_causal_inner_product_singular_and_errors():
    rng = np.random.default_rng(9)
    G = rng.normal(size=(V, 2)) @ rng.normal(size=(2, 3))  # rank Ĝ = 2 < d = 3
    p = idlin.Predictor(rng.normal(size=(N, 3)), G)
    with pytest.raises(idlin.RankError, match="singular"):
        causal_inner_product(p, reg=0.0)
    res = causal_inner_product(p, reg=1e-6)
    assert res.condition_number == float("inf")
    np.testing.assert_allclose(res.regularised_condition_number, 1 + 1 / 1e-6, rtol=1e-4)
    with pytest.raises(idlin.ConfigError, match="reg"):
        causal_inner_product(p, reg=-1.0)
    with pytest.raises(idlin.RankError, match="covariance is 0"):
        causal_inner_product(idlin.Predictor(np.ones((2, 3)), np.ones((V, 3))))
