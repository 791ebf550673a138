"""Non-negative least squares, `min_{v ≥ 0} ‖E v − e‖₂` (Lawson & Hanson 1974, Algorithm NNLS).

The max-margin probe (`_probe.max_margin`) needs it for least-distance programming. Written here
so that the numerical core depends on jax and numpy alone (docs/theory.md §6); the problems are
small (points × (width + 2)), so a host active-set loop is the right tool.
"""

from __future__ import annotations

import numpy as np


def nnls(E: np.ndarray, e: np.ndarray, *, max_iter: int | None = None) -> np.ndarray:
    """The solution `v ≥ 0` of `min ‖E v − e‖₂` by the active-set method of Lawson & Hanson.

    Each outer step frees the coordinate with the largest gradient `w = Eᵀ(e − E v)`; the inner
    loop solves least squares on the free set and steps back to feasibility when a free
    coordinate would turn negative. Terminates when no bound coordinate has `w > tol`
    (the KKT conditions), `tol = 10·ε·‖E‖₁·max(shape)` as in the reference implementation.
    """
    E = np.asarray(E, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
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
            # Step from v towards z until the first free coordinate hits zero; bind it.
            neg = free & (z <= 0)
            alpha = np.min(v[neg] / (v[neg] - z[neg]))
            v = v + alpha * (z - v)
            free &= v > tol
            v[~free] = 0.0
        w = E.T @ (e - E @ v)
    return v
