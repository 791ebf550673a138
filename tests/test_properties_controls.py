"""Controls, vacuity and the whitened geometry of the linear properties (docs/theory.md §6.5),
against independent NumPy float64 references.

The references recompute every score from dense rows (columns) of C or from F and Ĝ, by their own
SVDs and least-squares solves; they share with the library only the documented order of the
seeded draws (so that the same null samples can be compared number for number).
"""

import math

import jax
import numpy as np
import pytest
from scipy.stats import binom

import idlin
from idlin.properties._heldout import cover_probability
from idlin.properties._nnls import nnls

MEMBER_MOVES = (
    ("basis", "shift"),
    ("invisible_embedding", "invisible_unembedding", "basis"),
    ("widen_embedding", "invisible_unembedding", "basis"),
    ("shrink", "widen_embedding", "basis"),
)


def dense(p):
    F = np.asarray(p.embeddings, np.float64)
    Gh = np.asarray(p.unembeddings, np.float64)
    Gh = Gh - Gh.mean(0)
    return F, Gh, F @ Gh.T


def sigma_ratio(X, src, tgt):
    D = X[tgt] - X[src]
    n = np.linalg.norm(D, axis=1, keepdims=True)
    U = D / np.where(n > 0, n, 1.0)
    s = np.linalg.svd(U, compute_uv=False)
    return s[1] / s[0]


def mean_cosine(X, src, tgt):
    D = X[tgt] - X[src]
    n = np.linalg.norm(D, axis=1, keepdims=True)
    U = D / np.where(n > 0, n, 1.0)
    m = len(src)
    return sum(U[i] @ U[j] for i in range(m) for j in range(m) if i != j) / (m * (m - 1))


def reference_p(observed, null, lower):
    hits = sum(1 for x in null if (x <= observed if lower else x >= observed))
    return (1 + hits) / (1 + len(null))


def planted_pairs(seed=0, N=40, V=30, d=8, m=8, noise=0.05):
    """Context pairs whose differences are a shared direction times a scale, plus noise."""
    rng = np.random.default_rng(seed)
    F, G = rng.normal(size=(N, d)), rng.normal(size=(V, d))
    u = rng.normal(size=d)
    pairs = np.array([[2 * i, 2 * i + 1] for i in range(m)])
    for i, (a, b) in enumerate(pairs):
        F[b] = F[a] + (1.0 + 0.2 * i) * u + noise * rng.normal(size=d)
    return idlin.Predictor(F, G), pairs


# -- parallelism -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["raw", "identifiable"])
def test_permutation_null_and_p_value_match_numpy(form):
    p, pairs = planted_pairs(seed=3, noise=0.8)
    n, seed = 60, 17
    got = idlin.parallelism(p, pairs, form=form, permutations=n, seed=seed)
    F, _, C = dense(p)
    X = F if form == "raw" else C  # the identifiable reference uses dense rows of C
    m = len(pairs)
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.tile(np.arange(m), (n, 1)), axis=1)
    ratios = [sigma_ratio(X, pairs[:, 0], pairs[perm, 1]) for perm in perms]
    cosines = [mean_cosine(X, pairs[:, 0], pairs[perm, 1]) for perm in perms]
    a = rng.integers(0, X.shape[0], (n, m))
    b = (a + rng.integers(1, X.shape[0], (n, m))) % X.shape[0]
    rand = [sigma_ratio(X, a[i], b[i]) for i in range(n)]
    observed = sigma_ratio(X, pairs[:, 0], pairs[:, 1])
    assert abs(got.mean_cosine - mean_cosine(X, pairs[:, 0], pairs[:, 1])) <= 1e-9
    for control, stat, null, ref_obs, lower in (
        ("shuffled targets", "sigma ratio", ratios, observed, True),
        ("shuffled targets", "mean cosine", cosines, got.mean_cosine, False),
        ("random pairs", "sigma ratio", rand, observed, True),
    ):
        c = got.control(control, stat)
        np.testing.assert_allclose(c.samples, null, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(c.quantiles, np.quantile(null, [0.05, 0.5, 0.95]), atol=1e-9)
        assert abs(c.observed - ref_obs) <= 1e-9
        assert c.p_value == reference_p(c.observed, c.samples, lower)
        assert (c.n, c.seed, c.stronger) == (n, seed, "lower" if lower else "higher")


def test_planted_parallel_pairs_beat_both_controls():
    p, pairs = planted_pairs(seed=1, noise=0.05)
    for form in ("raw", "identifiable"):
        r = idlin.parallelism(p, pairs, form=form, permutations=200, seed=0)
        shuffled = r.control("shuffled targets", "sigma ratio")
        random = r.control("random pairs", "sigma ratio")
        assert shuffled.p_value == random.p_value == 1 / 201  # no sample as parallel
        assert r.score < 0.1 < 0.3 < shuffled.quantiles[0]
        assert r.mean_cosine > 0.99 > shuffled.quantiles[2]


def test_a_shared_target_offset_is_not_a_pairing():
    """Targets = one common point + noise, sources unrelated: the matched differences share an
    offset, but so do the shuffled ones — the permutation null does not call it a relation,
    while random pairs (no shared offset) do look far less aligned."""
    rng = np.random.default_rng(5)
    N, d, m = 60, 6, 10
    F, G = rng.normal(size=(N, d)), rng.normal(size=(20, d))
    pairs = np.array([[i, m + i] for i in range(m)])
    F[m : 2 * m] = 6.0 * rng.normal(size=d) + 0.5 * rng.normal(size=(m, d))
    r = idlin.parallelism(idlin.Predictor(F, G), pairs, form="identifiable", seed=2)
    shuffled = r.control("shuffled targets", "mean cosine")
    random = r.control("random pairs", "mean cosine")
    assert shuffled.p_value > 0.05
    assert shuffled.quantiles[0] <= r.mean_cosine <= shuffled.quantiles[2]
    assert random.p_value == 1 / 201 and r.mean_cosine > random.quantiles[2]


def test_pair_table_matches_numpy_and_carries_names():
    p, pairs = planted_pairs(seed=2, noise=0.5)
    names = [f"ctx{i}" for i in range(p.num_contexts)]
    r = idlin.parallelism(p, pairs, form="identifiable", names=names, permutations=0)
    assert r.controls == ()
    _, _, C = dense(p)
    D = C[pairs[:, 1]] - C[pairs[:, 0]]
    U = D / np.linalg.norm(D, axis=1, keepdims=True)
    lead = np.linalg.svd(U)[2][0]
    cos = U @ lead * np.sign(np.sum(U @ lead))
    np.testing.assert_allclose([row.cosine for row in r.pairs], cos, atol=1e-9)
    np.testing.assert_allclose([row.norm for row in r.pairs], np.linalg.norm(D, axis=1))
    assert [(row.source_name, row.target_name) for row in r.pairs][:2] == [
        ("ctx0", "ctx1"),
        ("ctx2", "ctx3"),
    ]
    with pytest.raises(idlin.ShapeError, match="names"):
        idlin.parallelism(p, pairs, names=names[:-1])
    with pytest.raises(idlin.ConfigError, match="permutations"):
        idlin.parallelism(p, pairs, permutations=-1)
    with pytest.raises(idlin.ConfigError, match="seed"):
        idlin.parallelism(p, pairs, seed=-3)


# -- the whitened geometry -------------------------------------------------------------------


def test_whitened_geometry_matches_numpy_and_is_invariant():
    """`geometry="whitened"`: scores on U_C (rows) and W (columns) of the SVD of C, the same in
    every member of the class (docs/theory.md §6.5)."""
    rng = np.random.default_rng(8)
    F, G = rng.normal(size=(30, 5)), rng.normal(size=(25, 5))
    F[:, 0] *= 20  # a dominant context direction: the two geometries must differ
    p = idlin.Predictor(F, G)
    pairs = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])
    _, _, C = dense(p)
    Uc, s, Wt = np.linalg.svd(C, full_matrices=False)
    r = int(np.sum(s > 1e-8 * s[0]))
    for side, X in (("embedding", Uc[:, :r]), ("unembedding", Wt[:r].T)):
        got = idlin.parallelism(p, pairs, side=side, form="identifiable", geometry="whitened")
        iso = idlin.parallelism(p, pairs, side=side, form="identifiable")
        assert abs(got.score - sigma_ratio(X, pairs[:, 0], pairs[:, 1])) <= 1e-9
        assert abs(got.score - iso.score) > 1e-3 and got.geometry == "whitened"
        for i, moves in enumerate(MEMBER_MOVES):
            q = idlin.sample_equivalent(p, key=jax.random.key(i), moves=moves)
            other = idlin.parallelism(q, pairs, side=side, form="identifiable",
                                      geometry="whitened")  # fmt: skip
            assert abs(other.score - got.score) <= 1e-8
    labels = C[:20, 1] > np.median(C[:20, 1])
    probe = idlin.linear_probe(p, np.arange(20), labels, form="identifiable", geometry="whitened")
    assert probe.geometry == "whitened"
    with pytest.raises(idlin.ConfigError, match="geometry"):
        idlin.parallelism(p, pairs, form="identifiable", geometry="round")


# -- probes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(5, 1), (8, 3), (20, 9), (201, 99), (1000, 576)])
def test_cover_probability_matches_the_binomial(n, k):
    """With a bias, `P = 2^{1−n} Σ_{i=0}^{k} C(n−1, i)` = the binomial cdf at k of n−1 fair
    coins; ½ exactly at n = 2(k + 1)."""
    assert abs(cover_probability(n, k) - binom.cdf(k, n - 1, 0.5)) <= 1e-12
    assert cover_probability(2 * (k + 1), k) == 0.5
    assert cover_probability(2 * (k + 1) + 1, k) < 0.5
    through_origin = sum(math.comb(n - 1, i) for i in range(min(k, n))) / 2 ** (n - 1)
    assert abs(cover_probability(n, k, bias=False) - through_origin) <= 1e-15


def _random_label_model(N, k, seed=0):
    rng = np.random.default_rng(seed)
    p = idlin.Predictor(rng.normal(size=(N, k)), rng.normal(size=(3 * k, k)))
    labels = rng.permutation(np.arange(N) % 2)
    return p, labels


@pytest.mark.parametrize("form", ["raw", "identifiable"])
def test_random_labels_are_vacuous_exactly_up_to_cover_bound(form):
    k = 6  # diverse: rank F = r = k
    for N, vacuous in ((2 * (k + 1), True), (2 * (k + 1) + 1, False)):
        p, labels = _random_label_model(N, k)
        r = idlin.linear_probe(p, np.arange(N), labels, form=form, folds=0)
        assert r.vacuous is vacuous
        assert abs(r.cover_probability - binom.cdf(k, N - 1, 0.5)) <= 1e-12
        assert ("vacuous" in r.note) is vacuous
        assert r.heldout_accuracy is None and r.controls == ()


def test_random_labels_get_chance_heldout_accuracy():
    """Random labels in the vacuous regime: separable (a fact of linear algebra) and flagged;
    held-out accuracy near ½ and not distinguishable from the random-label control."""
    p, labels = _random_label_model(250, 150, seed=1)  # 250 ≤ 2(150 + 1)
    r = idlin.linear_probe(p, np.arange(250), labels, random_labels=100, seed=4)
    assert r.holds and r.vacuous
    assert abs(r.heldout_accuracy - 0.5) < 0.1
    null = r.control("random labels", "held-out accuracy")
    assert null.p_value > 0.05 and abs(null.median - 0.5) < 0.05


def test_planted_concept_gets_high_heldout_accuracy():
    """A concept planted along one direction (class means ±2.5 apart in unit noise), in the
    vacuous regime (N < 2(d + 1)): held-out accuracy separates it from random labels."""
    rng = np.random.default_rng(2)
    N, d = 120, 80
    labels = rng.permutation(np.arange(N) % 2) * 2.0 - 1.0
    F = rng.normal(size=(N, d))
    F[:, 0] += 2.5 * labels
    p = idlin.Predictor(F, rng.normal(size=(200, d)))
    idx = np.arange(N)
    for form in ("raw", "identifiable"):
        r = idlin.linear_probe(p, idx, labels, form=form, random_labels=100)
        assert r.vacuous  # N < 2(d + 1): separability alone says nothing here
        assert r.heldout_accuracy >= 0.9
        null = r.control("random labels", "held-out accuracy")
        assert null.p_value == 1 / 101 and null.quantiles[2] < 0.65


def reference_heldout(X, Y, fold_of, ridge):
    """Ridge classifier per fold by an augmented least-squares solve (`[X_c; √λ I] w ≈ [y_c; 0]`),
    independent of the library's normal-equation solve."""
    n, k = X.shape
    correct = np.zeros(Y.shape[1])
    for f in np.unique(fold_of):
        test = fold_of == f
        Xt, Yt = X[~test], Y[~test]
        mu, ym = Xt.mean(0), Yt.mean(0)
        lam = ridge * np.sum((Xt - mu) ** 2) / k
        A = np.vstack([Xt - mu, np.sqrt(lam) * np.eye(k)])
        B = np.vstack([Yt - ym, np.zeros((k, Y.shape[1]))])
        W = np.linalg.lstsq(A, B, rcond=None)[0]
        correct += np.sum(np.sign((X[test] - mu) @ W + ym) == Y[test], axis=0)
    return correct / n


@pytest.mark.parametrize("form", ["raw", "identifiable"])
def test_heldout_accuracy_and_control_match_numpy(form):
    rng = np.random.default_rng(9)
    N, d = 60, 8
    p = idlin.Predictor(rng.normal(size=(N, d)), rng.normal(size=(40, d)))
    F, _, C = dense(p)
    labels = np.where(F[:, 0] + 0.8 * rng.normal(size=N) > 0, 1.0, -1.0)
    seed, R, folds = 11, 30, 4
    r = idlin.linear_probe(p, np.arange(N), labels, form=form, folds=folds, random_labels=R,
                           seed=seed)  # fmt: skip
    rng = np.random.default_rng(seed)  # the documented draws: folds, then label permutations
    fold_of = np.empty(N, dtype=int)
    start = 0
    for cls in (-1.0, 1.0):
        members = rng.permutation(np.flatnonzero(labels == cls))
        fold_of[members] = (start + np.arange(members.size)) % folds
        start += members.size
    shuffled = rng.permuted(np.tile(labels, (R, 1)), axis=1).T
    U, s, _ = np.linalg.svd(C, full_matrices=False)
    X = F if form == "raw" else U[:, :d] * s[:d]  # isometric to rows of C
    acc = reference_heldout(X, np.column_stack([labels, shuffled]), fold_of, 1e-3)
    assert abs(r.heldout_accuracy - acc[0]) <= 1e-12
    null = r.control("random labels", "held-out accuracy")
    np.testing.assert_allclose(null.samples, acc[1:], atol=1e-12)
    assert null.p_value == reference_p(acc[0], acc[1:], lower=False)


def test_probe_control_arguments_are_checked():
    p, labels = _random_label_model(20, 3)
    idx = np.arange(20)
    with pytest.raises(idlin.ConfigError, match="folds"):
        idlin.linear_probe(p, idx, labels, folds=1)
    with pytest.raises(idlin.ConfigError, match="random_labels"):
        idlin.linear_probe(p, idx, labels, random_labels=-1)
    with pytest.raises(idlin.ConfigError, match="ridge"):
        idlin.linear_probe(p, idx, labels, ridge=0.0)
    small = idlin.linear_probe(p, idx[:4], labels[:4], folds=10)  # folds capped at n
    assert small.heldout_accuracy is not None


# -- the fast NNLS ---------------------------------------------------------------------------


def lawson_hanson(E, e, max_iter=None):
    """The pure-NumPy Lawson–Hanson active set that idlin used before SciPy's (594 s at
    1000 points in width 576), kept as the reference."""
    m, n = E.shape
    max_iter = 3 * n if max_iter is None else max_iter
    tol = 10.0 * np.finfo(np.float64).eps * np.abs(E).sum(axis=0).max(initial=0.0) * max(m, n)
    v = np.zeros(n)
    free = np.zeros(n, dtype=bool)
    w = E.T @ (e - E @ v)
    for _ in range(max_iter):
        if free.all() or not np.any(w[~free] > tol):
            break
        j = int(np.argmax(np.where(free, -np.inf, w)))
        free[j] = True
        while True:
            z = np.zeros(n)
            z[free] = np.linalg.lstsq(E[:, free], e, rcond=None)[0]
            if np.all(z[free] > 0):
                v = z
                break
            neg = free & (z <= 0)
            alpha = np.min(v[neg] / (v[neg] - z[neg]))
            v = v + alpha * (z - v)
            free &= v > tol
            v[~free] = 0.0
        w = E.T @ (e - E @ v)
    return v


@pytest.mark.parametrize("seed", range(6))
def test_fast_nnls_equals_the_old_one(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(3, 12), rng.integers(3, 30)
    E, e = rng.normal(size=(m, n)), rng.normal(size=m)
    np.testing.assert_allclose(nnls(E, e), lawson_hanson(E, e), atol=1e-10)
    # The least-distance problems of the max-margin probe (separable and not).
    X = rng.normal(size=(n, 4))
    signs = np.where(X[:, 0] > 0, 1.0, -1.0) if seed % 2 else rng.choice([-1.0, 1.0], n)
    A = signs[:, None] * np.c_[X, np.ones(n)]
    E2 = np.r_[A.T, np.ones((1, n))]
    e2 = np.zeros(E2.shape[0])
    e2[-1] = 1.0
    np.testing.assert_allclose(E2 @ nnls(E2, e2), E2 @ lawson_hanson(E2, e2), atol=1e-10)


def test_nnls_iteration_limit_is_a_probe_error():
    rng = np.random.default_rng(0)
    E, e = rng.normal(size=(20, 40)), rng.normal(size=20)
    with pytest.raises(idlin.ProbeError, match="NNLS"):
        nnls(E, e, max_iter=1)


# -- steering --------------------------------------------------------------------------------


def _unembeddings_with_spectrum(rng, V, s):
    """Ĝ = U diag(s) Vᵀ with U orthonormal and orthogonal to 1 (so centering keeps it)."""
    d = len(s)
    M = rng.normal(size=(V, d))
    M -= M.mean(0)
    U = np.linalg.qr(M)[0]
    R = np.linalg.qr(rng.normal(size=(d, d)))[0]
    return U @ np.diag(s) @ R.T, R


def test_zero_test_is_relative_to_the_largest_shift():
    """‖Ĝv‖ small against ‖Ĝ‖_F‖v‖ (the old scale, ~√d·σ₁ here) but not against σ₁‖v‖: a
    vector, not a null-space one; a vector far below σ₁‖v‖ still is one."""
    rng = np.random.default_rng(0)
    d, tol = 50, 1e-3
    s = np.ones(d)
    s[-1] = 3e-3
    G, R = _unembeddings_with_spectrum(rng, 400, s)
    p = idlin.Predictor(rng.normal(size=(80, d)), G)
    v = 2.0 * R[:, -1]  # along the smallest singular direction: ‖Ĝv‖ = 3e-3·σ₁‖v‖
    Gh = dense(p)[1]
    delta = np.linalg.norm(Gh @ v)
    assert delta <= tol * np.linalg.norm(Gh) * np.linalg.norm(v)  # the old rule's "zero"
    r = idlin.steering(p, v, precision=idlin.Precision(verdict_tol=tol), random_vectors=0)
    assert abs(r.relative_shift - delta / (np.linalg.norm(Gh, 2) * np.linalg.norm(v))) < 1e-12
    assert abs(r.relative_shift - 3e-3) < 1e-9
    s[-1] = 1e-4
    G, R = _unembeddings_with_spectrum(rng, 400, s)
    q = idlin.Predictor(rng.normal(size=(80, d)), G)
    with pytest.raises(idlin.ProbeError, match="null space"):
        idlin.steering(q, R[:, -1], precision=idlin.Precision(verdict_tol=tol))


def test_random_vector_control_matches_numpy():
    """Not diverse (N = 4 < d): random vectors' shifts are mostly outside rowspace(C). The
    control's samples equal dense NumPy shifts `Ĝu` and their distance from rowspace(C)."""
    rng = np.random.default_rng(4)
    N, V, d = 4, 40, 7
    p = idlin.Predictor(rng.normal(size=(N, d)), rng.normal(size=(V, d)))
    F, Gh, C = dense(p)
    v = F[0] - F[2]  # a difference of embeddings: reachable in every member
    n, seed = 50, 6
    ident = idlin.steering(p, v, form="identifiable", random_vectors=n, seed=seed)
    raw = idlin.steering(p, v, form="raw", random_vectors=n, seed=seed)
    Rv = np.random.default_rng(seed).normal(size=(n, d))
    Rv *= np.linalg.norm(v) / np.linalg.norm(Rv, axis=1, keepdims=True)
    sigma1 = np.linalg.norm(Gh, 2)
    _, s, Wt = np.linalg.svd(C, full_matrices=False)
    W = Wt[: int(np.sum(s > 1e-8 * s[0]))].T
    shifts = Rv @ Gh.T  # (n, V)
    rel = np.linalg.norm(shifts, axis=1) / (sigma1 * np.linalg.norm(v))
    res = np.linalg.norm(shifts - (shifts @ W) @ W.T, axis=1) / np.linalg.norm(shifts, axis=1)
    for r in (raw, ident):
        c = r.control("random vectors", "relative shift")
        np.testing.assert_allclose(c.samples, rel, rtol=1e-10)
        assert c.p_value == reference_p(r.relative_shift, rel, lower=False)
    assert raw.control("random vectors", "reach residual") is None  # 0 by construction
    c = ident.control("random vectors", "reach residual")
    np.testing.assert_allclose(c.samples, res, atol=1e-9)
    assert ident.holds and c.observed == 0.0 and np.all(res > 0.1)
    assert c.p_value == 1 / (n + 1)  # reachable where no random vector is


# -- relational linearity ---------------------------------------------------------------------


def test_relational_vacuity_flag():
    rng = np.random.default_rng(1)
    d = 4
    p = idlin.Predictor(rng.normal(size=(30, d)), rng.normal(size=(20, d)))
    few = np.array([[i, 10 + i] for i in range(d)])  # m = 4 ≤ rank [S, 1] = 5
    many = np.array([[i, 10 + i] for i in range(10)])
    for form in ("raw", "identifiable"):
        vac = idlin.relational_linearity(p, few, form=form)
        assert vac.vacuous and vac.holds and "vacuous" in vac.note
        full = idlin.relational_linearity(p, many, form=form)
        assert not full.vacuous and not full.holds and full.note == ""
