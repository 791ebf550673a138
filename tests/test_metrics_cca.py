"""cca / mean_cca against scikit-learn and an eigh-based NumPy reference (docs/theory.md §8)."""

import numpy as np
import pytest
from sklearn.cross_decomposition import CCA

import idlin
from idlin.core.metrics import cca, mean_cca


def _data(seed, n=40, dx=4, dy=3, noise=0.8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dx)) * rng.uniform(0.5, 3.0, size=dx) + rng.normal(size=dx)
    Y = X[:, :dy] @ rng.normal(size=(dy, dy)) + noise * rng.normal(size=(n, dy))
    return X, Y


def _np_cca(X, Y, reg=0.0):
    """Correlations from `(Σ_xx+λI)^{-1/2} Σ_xy (Σ_yy+λI)^{-1/2}` of standardised data."""

    def std(A):
        A = A - A.mean(axis=0)
        return A / A.std(axis=0)

    def isqrt(S):
        w, Q = np.linalg.eigh(S)
        return (Q / np.sqrt(w)) @ Q.T

    Xs, Ys = std(X), std(Y)
    n = X.shape[0]
    Sxx, Syy, Sxy = Xs.T @ Xs / (n - 1), Ys.T @ Ys / (n - 1), Xs.T @ Ys / (n - 1)
    K = isqrt(Sxx + reg * np.eye(len(Sxx))) @ Sxy @ isqrt(Syy + reg * np.eye(len(Syy)))
    return np.linalg.svd(K, compute_uv=False)


@pytest.mark.parametrize("seed", [0, 1])
def test_cca_equals_sklearn(seed):
    X, Y = _data(seed)
    res = cca(X, Y)
    model = CCA(n_components=3, max_iter=5000, tol=1e-14).fit(X, Y)
    xs, ys = model.transform(X, Y)
    ref = [abs(np.corrcoef(xs[:, i], ys[:, i])[0, 1]) for i in range(3)]
    np.testing.assert_allclose(np.asarray(res.correlations), ref, rtol=1e-8)
    assert res.ranks == (4, 3)
    assert 0.3 < res.mean < 0.99


@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_cca_matches_numpy_reference(reg):
    X, Y = _data(2)
    res = cca(X, Y, reg=reg)
    np.testing.assert_allclose(np.asarray(res.correlations), _np_cca(X, Y, reg), rtol=1e-10)
    np.testing.assert_allclose(res.mean, np.mean(_np_cca(X, Y, reg)), rtol=1e-10)
    assert cca(X, Y, num_components=2).mean == pytest.approx(np.mean(_np_cca(X, Y)[:2]))


def test_cca_is_one_for_affine_maps_and_drops_rank_deficient_directions():
    X, _ = _data(3)
    rng = np.random.default_rng(3)
    M = rng.normal(size=(4, 4))
    assert cca(X, X @ M + 7.0).mean == pytest.approx(1.0, abs=1e-10)
    # A duplicated column makes rank 3 < 4: that direction carries correlation 0, not noise.
    Xd = np.concatenate([X[:, :3], X[:, :1] * 2.0], axis=1)
    res = cca(Xd, X)
    assert res.ranks == (3, 4)
    np.testing.assert_allclose(np.asarray(res.correlations), [1, 1, 1, 0], atol=1e-10)


def test_mean_cca_raw_representations():
    rng = np.random.default_rng(4)
    F, G = rng.normal(size=(30, 3)), rng.normal(size=(9, 3))
    p = idlin.Predictor(F, G)
    M = rng.normal(size=(3, 3))
    q = idlin.Predictor(F @ M.T, np.linalg.solve(M.T, G.T).T + 1.0)  # Theorem L
    assert mean_cca(p, q).mean == pytest.approx(1.0, abs=1e-10)
    assert mean_cca(p, q, side="unembedding").mean == pytest.approx(1.0, abs=1e-10)
    # rank Ĝ = 2 < d: an invisible embedding part keeps C but lowers the raw m_CCA.
    G2 = rng.normal(size=(9, 2)) @ rng.normal(size=(2, 3))
    p2 = idlin.Predictor(F, G2)
    PU = np.asarray(idlin.subspaces(p2).projector("unembedding"))
    H = 3.0 * rng.normal(size=F.shape)
    q2 = idlin.Predictor(F + H - H @ PU, G2)
    assert idlin.equivalent(p2, q2)
    res = mean_cca(p2, q2)
    np.testing.assert_allclose(np.asarray(res.correlations), _np_cca(F, F + H - H @ PU))
    assert res.mean < 0.95


def test_cca_errors():
    X, Y = _data(5)
    with pytest.raises(idlin.ShapeError, match="paired rows"):
        cca(X, Y[:-1])
    with pytest.raises(idlin.ShapeError, match="at least 2 rows"):
        cca(X[:1], Y[:1])
    with pytest.raises(idlin.ShapeError, match="2-D"):
        cca(X[:, 0], Y)
    with pytest.raises(idlin.DTypeError, match="float32 or float64"):
        cca(X.astype(np.int32), Y)
    with pytest.raises(idlin.NonFiniteError):
        cca(np.where(X > 2, np.nan, X), Y)
    with pytest.raises(idlin.ConfigError, match="reg"):
        cca(X, Y, reg=-1.0)
    with pytest.raises(idlin.ConfigError, match="num_components"):
        cca(X, Y, num_components=4)
    with pytest.raises(idlin.RankError, match="no variation"):
        cca(np.ones_like(X), Y)
    p = idlin.Predictor(X, X[:9])
    with pytest.raises(idlin.ConfigError, match="side"):
        mean_cca(p, p, side="tokens")


def test_rank_deficient_inputs_related_by_an_affine_map_give_r_over_d():
    """`m_CCA = 1 iff an invertible affine map` needs full column rank: rank r of width d
    gives r/d (the missing directions carry correlation 0)."""
    rng = np.random.default_rng(11)
    n, d, r = 50, 5, 3
    X = rng.normal(size=(n, r)) @ rng.normal(size=(r, d))  # rank 3, width 5
    M = rng.normal(size=(d, d)) + 3 * np.eye(d)
    res = cca(X, X @ M + 2.0)
    assert res.ranks == (r, r)
    np.testing.assert_allclose(np.asarray(res.correlations), [1, 1, 1, 0, 0], atol=1e-9)
    assert res.mean == pytest.approx(r / d, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_agrees_with_sklearn_defaults_for_full_rank_inputs(seed):
    """What earlier work ran: CCA(n_components=k, max_iter=1000), default tol — the mean
    agrees to ~1e-7 (the individual correlations need not, near degenerate spectra)."""
    X, Y = _data(seed + 20, n=60, dx=4, dy=4, noise=1.0)
    xs, ys = CCA(n_components=4, max_iter=1000).fit(X, Y).transform(X, Y)
    ref = np.mean([np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(4)])
    assert abs(cca(X, Y).mean - ref) < 1e-6
