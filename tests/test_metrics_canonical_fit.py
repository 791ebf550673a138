"""canonical_fit against a dense float64 NumPy reference (docs/theory.md §4, §8)."""

import numpy as np
import pytest

import idlin
from idlin.core.metrics import canonical_fit
from idlin.testing import planted_predictor


def _np_canonical(p, r):
    """φ, γ from a dense SVD of C (any signs: R² does not depend on them)."""
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    C = F @ (G - G.mean(axis=0)).T
    U, s, Wt = np.linalg.svd(C)
    return U[:, :r] * np.sqrt(s[:r]), Wt[:r].T * np.sqrt(s[:r])


def _np_fit(X, Y):
    B = np.linalg.lstsq(X, Y, rcond=None)[0]
    return np.sum((Y - X @ B) ** 2), np.sum((Y - Y.mean(axis=0)) ** 2)


def _np_r2(p, q, rp, rq):
    phi_p, gam_p = _np_canonical(p, rp)
    phi_q, gam_q = _np_canonical(q, rq)
    rf, tf = _np_fit(phi_p, phi_q)
    rg, tg = _np_fit(gam_p, gam_q)
    return 1 - rf / tf, 1 - rg / tg, 1 - (rf + rg) / (tf + tg)


def _random(seed, N=12, V=9, d=4):
    rng = np.random.default_rng(seed)
    return idlin.Predictor(rng.normal(size=(N, d)), rng.normal(size=(V, d)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_numpy_on_unrelated_models(seed):
    p, q = _random(seed, d=4), _random(seed + 100, d=3)
    fit = canonical_fit(p, q)
    ref = _np_r2(p, q, 4, 3)
    assert fit.ranks == (4, 3)
    assert not fit.same_rank
    np.testing.assert_allclose(
        [fit.embedding_r2, fit.unembedding_r2, fit.r2], ref, rtol=1e-10, atol=1e-12
    )
    assert fit.r2 < 0.9  # unrelated models are far from a linear map of each other


def test_matches_numpy_on_perturbed_models():
    p = _random(3)
    rng = np.random.default_rng(4)
    q = idlin.Predictor(p.embeddings + 0.05 * rng.normal(size=p.embeddings.shape), p.unembeddings)
    fit = canonical_fit(p, q, rank=4)
    ref = _np_r2(p, q, 4, 4)
    np.testing.assert_allclose(
        [fit.embedding_r2, fit.unembedding_r2, fit.r2], ref, rtol=1e-10, atol=1e-12
    )
    assert 0.9 < fit.r2 < 1 - 1e-6


def test_maps_are_least_squares_maps():
    p, q = _random(5), _random(6)
    fit = canonical_fit(p, q)
    cp, cq = idlin.canonical(p), idlin.canonical(q)
    B = np.linalg.lstsq(np.asarray(cp.phi), np.asarray(cq.phi), rcond=None)[0]
    D = np.linalg.lstsq(np.asarray(cp.gamma), np.asarray(cq.gamma), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(fit.embedding_map), B.T, atol=1e-10)
    np.testing.assert_allclose(np.asarray(fit.unembedding_map), D.T, atol=1e-10)


def _np_equivalent(p, seed, extra=0):
    """A member of p's class built in NumPy (docs/theory.md §5 moves 1, 2, 5): basis change of
    condition 100, unembedding shift, `extra` widened coordinates."""
    rng = np.random.default_rng(seed)
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    d = F.shape[1]
    Q1, Q2 = np.linalg.qr(rng.normal(size=(d, d)))[0], np.linalg.qr(rng.normal(size=(d, d)))[0]
    M = (Q1 * np.geomspace(1, 100, d)) @ Q2.T
    F, G = F @ M.T, np.linalg.solve(M.T, G.T).T + rng.normal(size=d)
    F = np.concatenate([F, rng.normal(size=(F.shape[0], extra))], axis=1)
    G = np.concatenate([G, np.tile(rng.normal(size=extra), (G.shape[0], 1))], axis=1)
    return idlin.Predictor(F, G)


@pytest.mark.parametrize("extra", [0, 2])
def test_equivalent_pairs_of_any_width_fit_exactly(extra):
    p = planted_predictor(
        3, shape=(12, 9, 6), embedding_rank=5, unembedding_rank=4, effective_complexity=3
    )
    q = _np_equivalent(p, 4, extra)
    for a, b in [(p, q), (q, p), (p, idlin.minimal(q, rank=3))]:
        fit = canonical_fit(a, b, rank=3)
        assert fit.same_rank
        assert fit.r2 > 1 - 1e-9
        assert fit.embedding_r2 > 1 - 1e-9 and fit.unembedding_r2 > 1 - 1e-9


def test_rank_mismatch_is_reported_not_raised():
    p = planted_predictor(
        8, shape=(12, 9, 6), embedding_rank=4, unembedding_rank=4, effective_complexity=2
    )
    q = planted_predictor(
        8, shape=(12, 9, 6), embedding_rank=4, unembedding_rank=4, effective_complexity=3
    )
    fit = canonical_fit(p, q)
    assert fit.ranks == (2, 3) and not fit.same_rank
    np.testing.assert_allclose(fit.r2, _np_r2(p, q, 2, 3)[2], rtol=1e-10)
    assert fit.r2 < 1 - 1e-3


def test_errors():
    p = _random(0)
    with pytest.raises(idlin.IncompatibleError, match="same contexts"):
        canonical_fit(p, _random(1, N=11))
    with pytest.raises(idlin.RankError, match="rank"):
        canonical_fit(p, _random(1, d=2), rank=3)
    with pytest.raises(idlin.RankError, match="rtol"):
        canonical_fit(p, p, rtol=2.0)


def test_float32_models_agree_with_float64_within_float32_tolerances():
    from idlin.core import metrics

    p64 = _random(11)
    q64 = _np_equivalent(_random(12), 13, extra=1)
    p32, q32 = p64.astype(np.float32), q64.astype(np.float32)
    pairs = [
        (canonical_fit(p32, q32).r2, canonical_fit(p64, q64).r2),
        (metrics.d_logit(p32, q32), metrics.d_logit(p64, q64)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got, want, rtol=1e-4)
    # An equivalent float32 pair: R² = 1 to float32 accuracy (1e-4 relative on this size).
    assert canonical_fit(p32, _np_equivalent(p64, 14).astype(np.float32)).r2 > 1 - 1e-4
