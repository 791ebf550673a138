"""Relational linearity: one affine map from sources to targets, raw and identifiable
(docs/theory.md §6, third row).

Pairs `(sᵢ, tᵢ)` are *linearly related* when `∃A, b: f(tᵢ) = A f(sᵢ) + b` for all of them.
With few pairs that is vacuous (`m ≤ dim + 1`), so the relation is also scored as in Hernandez et
al. 2024: fit `(A, b)` by least squares on the training pairs, predict the held-out targets,
decode the predictions into log-odds and count how often the top-1 next token agrees with the
model's own (plus the mean KL; both are `faithfulness_scores`, which the audit's catalogue
calls). Least squares is equivariant under invertible maps and decoding gives rows of C, so in
the identifiable coordinates the score is the same in every member.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Int

from ..core._analysis import Analysis
from ..core._precision import Precision
from ..core._predictor import Predictor
from ._coordinates import coordinates
from ._result import (
    PropertyResult,
    as_pairs,
    check_call,
    inclusion_of,
)


def _affine_fit(S, T, rcond):
    """Min-norm least squares `[S, 1] X ≈ T`; returns the solution X ((k+1)×k)."""
    S1 = jnp.concatenate([S, jnp.ones((S.shape[0], 1), S.dtype)], axis=1)
    return jnp.linalg.pinv(S1, rtol=rcond) @ T


def _predict(S, X):
    return S @ X[:-1] + X[-1][None, :]


def fit_residual_kernel(points, pairs, rcond):
    """`‖T − [S,1]X‖_F / ‖T − mean(T)‖_F` for the best affine X (0 when the targets coincide)."""
    points = jnp.asarray(points)
    S, T = points[pairs[:, 0]], points[pairs[:, 1]]
    res = jnp.linalg.norm(T - _predict(S, _affine_fit(S, T, rcond)))
    ref = jnp.linalg.norm(T - jnp.mean(T, axis=0, keepdims=True))
    return float(res / ref) if ref > 0 else 0.0


def faithfulness_scores(points, decoder, train, test, rcond):
    """The scores of relational linearity, `(top-1 agreement, mean KL)`: fit the affine map on
    the `train` pairs by minimum-norm least squares (cut-off `rcond`), predict the `test`
    targets, decode by `decoder` (`points @ decoder.T` are log-odds) and compare with the
    model's own decoded targets — the one definition, a pure JAX function.

    Top-1 agreement is the exact score (Hernandez et al. 2024) and a step function of the model,
    so it has no useful gradient; the mean `KL(model ‖ prediction)` is its differentiable
    companion, which the audit's catalogue audits: it is 0 iff every decoded prediction is the
    model's own distribution (then top-1 agrees everywhere), and the two are functions of the
    same fitted predictions, so in identifiable coordinates both are invariant over the class
    for the same reason (least squares is equivariant under invertible maps)."""
    points, decoder = jnp.asarray(points), jnp.asarray(decoder)
    X = _affine_fit(points[train[:, 0]], points[train[:, 1]], rcond)
    pred = _predict(points[test[:, 0]], X) @ decoder.T  # (m_test, others)
    true = points[test[:, 1]] @ decoder.T
    agree = jnp.mean(jnp.argmax(pred, axis=1) == jnp.argmax(true, axis=1))
    lp, lq = jax.nn.log_softmax(true, axis=1), jax.nn.log_softmax(pred, axis=1)
    kl = jnp.sum(jnp.exp(lp) * (lp - lq), axis=1)
    return agree, jnp.mean(jnp.maximum(kl, 0.0))


def _centered_residual(X: np.ndarray, P: np.ndarray) -> float:
    """`‖Xc (I−P)‖_F / ‖Xc‖_F` with `Xc` the rows minus their mean: do the differences among
    the rows lie in the span of P?"""
    Xc = X - X.mean(axis=0, keepdims=True)
    ref = float(np.linalg.norm(Xc))
    return float(np.linalg.norm(Xc - Xc @ P)) / ref if ref > 0 else 0.0


def relational_linearity(
    p: Predictor | Analysis,
    train_pairs: Int[Any, "m 2"],
    test_pairs: Int[Any, "n 2"] | None = None,
    *,
    side: str = "embedding",
    form: str = "raw",
    precision: Precision | None = None,
    geometry: str = "isometric",
    tol: float | None = None,
    rtol: float | None = None,
) -> PropertyResult:
    """Whether one affine map sends sources to targets, and how faithful it is (docs/theory.md §6).

    Symbols: pairs `(sᵢ, tᵢ)`; raw coordinates `h = f` (embedding side) or `ĝ` (unembedding
    side); identifiable coordinates `z` isometric to rows (columns) of C.

    - `holds`: `∃A, b: h(tᵢ) = A h(sᵢ) + b` on **all** pairs (train and test), decided by the
      least-squares relative residual `‖T − [S,1]X‖_F / ‖T − mean T‖_F ≤ tol` (reported as
      `residual`; `tol` the policy's verdict tolerance, the fit's cut-off its
      `resolved_lstsq_rcond`). With `m ≤ rank[S,1]` pairs (the rank at the policy's rank
      threshold) this is vacuous: `vacuous` is True and `note`
      says so (docs/theory.md §6.5); reports print "vacuous", not the verdict.
    - `score`: faithfulness — fit `(A, b)` on `train_pairs`, predict the targets of `test_pairs`
      (of `train_pairs` when None), decode `ĥ(t) ↦ ĥ(t)ᵀ(decoder)` into log-odds and report the
      fraction whose top-1 token (context, on the unembedding side) matches the model's own;
      `mean_kl` is `mean KL(p(·|t) ‖ softmax(decoded prediction))` on the embedding side.

    Inclusion condition: the differences among the `h(sᵢ)` and among the `h(tᵢ)` lie in `U`
    (embedding side; `E` on the unembedding side); residual: the larger of the two centered
    relative residuals. Under it raw and identifiable verdicts and scores agree (least squares
    is equivariant under injective linear maps).

    Args:
        p: the model, or its `Analysis` (then no decomposition is recomputed).
        train_pairs: (m, 2) integer (source, target) indices, m ≥ 1, no duplicates.
        test_pairs: optional (n, 2) held-out pairs, disjoint from `train_pairs`.
        side, form, precision, geometry, tol, rtol: as in `parallelism`.

    Raises:
        ShapeError, DTypeError: malformed pairs.
        ProbeError: duplicate pairs (within or across the sets), indices out of range.
        ConfigError: unknown side, form or geometry, a tolerance outside (0, 1).
    """
    call = check_call("relational_linearity", p, side, form, precision, tol=tol, rtol=rtol)
    a, tol, size, what = call.a, call.tol, call.size, call.what
    train = as_pairs("train_pairs", train_pairs, size=size, what=what, min_pairs=1)
    test = (
        train
        if test_pairs is None
        else as_pairs("test_pairs", test_pairs, size=size, what=what, min_pairs=1)
    )
    both = train if test_pairs is None else np.concatenate([train, test])
    if test_pairs is not None:
        as_pairs("train_pairs + test_pairs", both, size=size, what=what, min_pairs=1)
    coords = coordinates(a, side, form, geometry)
    points, decoder = np.asarray(coords.points), np.asarray(coords.decoder)
    rcond = a.precision.resolved_lstsq_rcond()
    residual = fit_residual_kernel(points, both, rcond)
    agree, kl = faithfulness_scores(points, decoder, train, test, rcond)
    P = np.asarray(coords.inclusion_projector)
    H = coords.raw_points  # the pairs' rows only
    incl = max(
        _centered_residual(np.asarray(H[both[:, 0]]), P),
        _centered_residual(np.asarray(H[both[:, 1]]), P),
    )
    S1 = np.concatenate([points[both[:, 0]], np.ones((len(both), 1))], 1)
    dof = int(np.linalg.matrix_rank(S1, rtol=a.precision.resolved_rank_rtol()))
    note = (
        f"vacuous: {len(both)} pairs ≤ rank [S, 1] = {dof}, so some (A, b) always fits"
        if len(both) <= dof
        else ""
    )
    return PropertyResult(
        name="relational_linearity",
        form=form,
        side=side,
        holds=bool(residual <= tol),
        score=float(agree),
        tol=tol,
        inclusion=inclusion_of(incl, tol),
        mean_kl=float(kl) if side == "embedding" else None,
        residual=residual,
        note=note,
        vacuous=len(both) <= dof,
        geometry=None if form == "raw" else geometry,
        precision=a.precision.on_host(),
    )
