"""Held-out probing and Cover's count: is a linear probe evidence? (docs/theory.md §6.5)

Separability of `N` labelled points in dimension `k` says nothing when most labellings are
separable: by Cover (1965), `N` points in general position in `R^k` have
`P(N, k) = 2^{1−N} Σ_{i=0}^{k−1} C(N−1, i)` of their labellings separable by a hyperplane through
the origin, and with a bias `k` becomes `k + 1`; `P ≥ ½` exactly when `N ≤ 2(k + 1)`. Probes are
therefore scored by k-fold held-out accuracy, against the same accuracy on random labels.

The held-out classifier is ridge regression on the ±1 labels with an unpenalised bias (the
least-squares classifier): deterministic, one linear solve per fold for every label vector at
once, and invariant under orthogonal maps and scaling of the coordinates (so in the isometric
identifiable coordinates it is the same in every member of the class). Its penalty is
`λ = ridge · ‖X_c‖_F² / k`, `ridge` times the mean eigenvalue of the centered training Gram.
"""

from __future__ import annotations

import math

import numpy as np


def cover_probability(n: int, k: int, *, bias: bool = True) -> float:
    """Cover's probability that a uniformly random labelling of `n` points in general position in
    `R^k` is linearly separable: `2^{1−n} Σ_{i=0}^{K−1} C(n−1, i)` with `K = k + 1` with a bias
    (`K = k` through the origin); 1 when `n ≤ K`. Exact (integer arithmetic)."""
    K = k + 1 if bias else k
    if n <= 0:
        return 1.0
    total = sum(math.comb(n - 1, i) for i in range(min(K, n)))
    return min(1.0, total / 2 ** (n - 1))


def stratified_folds(signs: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold id in `[0, folds)` per item: each class shuffled by `rng` and dealt round-robin
    (continuing from one class to the next), so every fold gets each class in proportion."""
    out = np.empty(signs.size, dtype=np.int64)
    start = 0
    for cls in (-1.0, 1.0):
        members = rng.permutation(np.flatnonzero(signs == cls))
        out[members] = (start + np.arange(members.size)) % folds
        start += members.size
    return out


def ridge_heldout_accuracy(
    X: np.ndarray, Y: np.ndarray, fold_of: np.ndarray, ridge: float
) -> np.ndarray:
    """Held-out accuracy of the ridge classifier for each column of `Y` (n, R) of ±1 labels,
    over the folds `fold_of` (n,): fit on the other folds, predict `sign(wᵀ(x − x̄) + ȳ)`,
    count agreements (a prediction of exactly 0 counts as wrong)."""
    from scipy.linalg import solve  # here: ~16 MiB resident that `inspect` without probes skips

    X = np.asarray(X, dtype=np.float64)
    n, k = X.shape
    correct = np.zeros(Y.shape[1])
    for f in np.unique(fold_of):
        test = fold_of == f
        Xt, Yt = X[~test], Y[~test]
        if Xt.shape[0] == 0:
            continue
        mu, ym = Xt.mean(axis=0), Yt.mean(axis=0)
        Xc, Yc = Xt - mu, Yt - ym
        lam = ridge * float(np.sum(Xc**2)) / k
        lam = lam if lam > 0 else 1.0
        if Xc.shape[0] < k:  # dual: an (n_train × n_train) system
            alpha = solve(Xc @ Xc.T + lam * np.eye(Xc.shape[0]), Yc, assume_a="pos")
            W = Xc.T @ alpha
        else:
            W = solve(Xc.T @ Xc + lam * np.eye(k), Xc.T @ Yc, assume_a="pos")
        pred = (X[test] - mu) @ W + ym
        correct += np.sum(np.sign(pred) == Y[test], axis=0)
    return correct / n
