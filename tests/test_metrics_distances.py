"""d_logit and d_rep against dense float64 NumPy references (docs/theory.md §2, §8)."""

import jax
import numpy as np
import pytest

import idlin
from idlin.core.metrics import d_logit, d_rep
from idlin.core.metrics._rep import rep_kernel

N, V = 12, 9


def _random(seed, d=3, N=N, V=V):
    rng = np.random.default_rng(seed)
    return idlin.Predictor(rng.normal(size=(N, d)), rng.normal(size=(V, d)))


def _basis_change(p, seed, condition=50.0):
    """Theorem L's move in NumPy: F Mᵀ, G M^{-1} + c."""
    rng = np.random.default_rng(seed)
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    d = F.shape[1]
    Q1, Q2 = np.linalg.qr(rng.normal(size=(d, d)))[0], np.linalg.qr(rng.normal(size=(d, d)))[0]
    M = (Q1 * np.geomspace(1, condition, d)) @ Q2.T
    return idlin.Predictor(F @ M.T, np.linalg.solve(M.T, G.T).T + rng.normal(size=d))


def _dense_C(p):
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    return F @ (G - G.mean(axis=0)).T


# -- d_logit


@pytest.mark.parametrize("dq", [3, 4])
def test_d_logit_matches_numpy(dq):
    p, q = _random(0), _random(1, d=dq)
    ref = np.sum((_dense_C(p) - _dense_C(q)) ** 2) / N
    np.testing.assert_allclose(d_logit(p, q), ref, rtol=1e-10)
    np.testing.assert_allclose(d_logit(q, p), ref, rtol=1e-10)


def test_d_logit_zero_for_equivalent_and_positive_otherwise():
    p = _random(2)
    scale = np.sum(_dense_C(p) ** 2) / N
    assert d_logit(p, _basis_change(p, 3)) < 1e-20 * max(scale, 1.0) * 1e6
    assert d_logit(p, _random(4)) > 1e-2 * scale


def test_d_logit_incompatible():
    with pytest.raises(idlin.IncompatibleError, match="vocabulary"):
        d_logit(_random(0), _random(0, V=V + 1))


# -- d_rep


def _np_d_rep(p, q, pivots, subsets, max_condition):
    F1, G1 = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    F2, G2 = np.asarray(q.embeddings), np.asarray(q.unembeddings)
    vals, conds = [], []
    for piv, S in zip(np.asarray(pivots), np.asarray(subsets), strict=True):
        L1, L2 = G1[S] - G1[piv], G2[S] - G2[piv]
        c = np.linalg.cond(L1)
        conds.append(c)
        if c > max_condition:
            vals.append(np.nan)
            continue
        A = np.linalg.solve(L1, L2)
        vals.append(np.mean(np.sum((F1 - F2 @ A.T) ** 2, axis=1)))
    return np.array(vals), np.array(conds)


def test_d_rep_matches_numpy_and_skips_ill_conditioned():
    p, q = _random(5), _random(6)
    res = d_rep(p, q, key=jax.random.key(0), num_samples=8, max_condition=20.0)
    vals, conds = _np_d_rep(p, q, res.pivots, res.subsets, 20.0)
    np.testing.assert_allclose(np.asarray(res.condition_numbers), conds, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(res.per_sample), vals, rtol=1e-10)
    assert res.num_skipped == int(np.sum(np.isnan(vals))) > 0  # this seed has some above 20
    assert res.num_used + res.num_skipped == 8 and res.num_used > 0
    np.testing.assert_allclose(res.value, np.nanmean(vals), rtol=1e-10)
    # Not symmetric: swapping the models changes which L is inverted.
    assert abs(d_rep(q, p, key=jax.random.key(0), num_samples=8).value - res.value) > 1e-3


def test_d_rep_draws_are_valid_and_seeded():
    p, q = _random(5), _random(6)
    tokens = [0, 2, 3, 5, 7, 8]
    a = d_rep(p, q, key=jax.random.key(1), num_samples=8, tokens=tokens)
    b = d_rep(p, q, key=jax.random.key(1), num_samples=8, tokens=tokens)
    c = d_rep(p, q, key=jax.random.key(2), num_samples=8, tokens=tokens)
    np.testing.assert_array_equal(np.asarray(a.subsets), np.asarray(b.subsets))
    assert not np.array_equal(np.asarray(a.subsets), np.asarray(c.subsets))
    for piv, S in zip(np.asarray(a.pivots), np.asarray(a.subsets), strict=True):
        assert piv in tokens and set(S) <= set(tokens)
        assert piv not in S and len(set(S)) == 3
    fixed = d_rep(p, q, key=jax.random.key(3), num_samples=8, pivot=4)
    assert np.all(np.asarray(fixed.pivots) == 4)
    assert not np.any(np.asarray(fixed.subsets) == 4)


def test_d_rep_zero_for_equivalent_pairs_and_skips_non_diverse_unembeddings():
    p = _random(7)
    assert d_rep(p, _basis_change(p, 8), key=jax.random.key(0), num_samples=8).value < 1e-18
    rng = np.random.default_rng(9)
    # rank F = 2 < d = 3, rank Ĝ = 3: an invisible unembedding part k(y) ∈ E^⊥ (docs/theory.md §5,
    # move 4) changes every L but not the pivot log-odds L f(x), so d_rep stays 0.
    p = idlin.Predictor(rng.normal(size=(N, 2)) @ rng.normal(size=(2, 3)), rng.normal(size=(V, 3)))
    PE = idlin.subspaces(p).projector("embedding")
    K = rng.normal(size=(V, 3))
    q = idlin.Predictor(p.embeddings, np.asarray(p.unembeddings) + K - K @ PE)
    assert d_logit(p, q) < 1e-20
    res = d_rep(p, q, key=jax.random.key(0), num_samples=8)
    assert res.num_used == 8 and res.value < 1e-18
    assert d_rep(p, _random(10), key=jax.random.key(0), num_samples=8).value > 1e-2
    # rank Ĝ = 2 < d = 3: every L is singular; the default bound skips them all.
    p = idlin.Predictor(rng.normal(size=(N, 3)), rng.normal(size=(V, 2)) @ rng.normal(size=(2, 3)))
    res = d_rep(p, p, key=jax.random.key(0), num_samples=8)
    assert res.num_used == 0 and res.num_skipped == 8 and np.isnan(res.value)
    assert np.all(np.asarray(res.condition_numbers) > 1e6)


def test_d_rep_does_not_recompile():
    p, q = _random(5), _random(6)
    d_rep(p, q, key=jax.random.key(0), num_samples=8)
    before = rep_kernel._cache_size()
    d_rep(p, q, key=jax.random.key(1), num_samples=8, max_condition=10.0)
    assert rep_kernel._cache_size() == before


def test_d_rep_errors():
    p = _random(0)
    key = jax.random.key(0)
    with pytest.raises(idlin.IncompatibleError, match="widths"):
        d_rep(p, _random(1, d=4), key=key)
    with pytest.raises(idlin.ConfigError, match="num_samples"):
        d_rep(p, p, key=key, num_samples=0)
    with pytest.raises(idlin.ConfigError, match="max_condition"):
        d_rep(p, p, key=key, max_condition=1.0)
    with pytest.raises(idlin.ConfigError, match="at least 4"):
        d_rep(p, p, key=key, tokens=[0, 1, 2])
    with pytest.raises(idlin.ConfigError, match="distinct"):
        d_rep(p, p, key=key, tokens=[0, 1, 2, 2])
    with pytest.raises(idlin.ConfigError, match=r"\[0, 9\)"):
        d_rep(p, p, key=key, tokens=[0, 1, 2, 9])
    with pytest.raises(idlin.ConfigError, match="pivot"):
        d_rep(p, p, key=key, tokens=[0, 1, 2, 3], pivot=5)
