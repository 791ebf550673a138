"""Parallelism of embedding or unembedding differences, raw and identifiable (THEORY §6, §7).

Pairs `(aᵢ, bᵢ)` of contexts (or tokens) have differences `Δᵢ = f(bᵢ) − f(aᵢ)` (or
`ĝ(bᵢ) − ĝ(aᵢ)`). They are *parallel* when the stacked unit differences have rank 1. Score:
`σ₂/σ₁` of the m×k matrix of rows `Δᵢ/‖Δᵢ‖` (0 = exactly parallel, up to sign; 1 = two
orthogonal directions at least as strong as the first). Identifiable form: the same on rows
(columns) of C, in the isometric coordinates of `_coordinates`, so the score is the same in every
member of the class. Inclusion condition: every `Δᵢ ∈ U` (embedding side) or `∈ E` (unembedding
side); residual `maxᵢ ‖(I−P)Δᵢ‖/‖Δᵢ‖`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jaxtyping import Int

from .._analysis import Analysis
from .._errors import ProbeError
from .._predictor import Predictor
from ._coordinates import coordinates
from ._result import (
    PropertyResult,
    as_pairs,
    check_call,
    inclusion_of,
    relative_residual,
)


def parallelism_kernel(points, pairs):
    """`(σ₂/σ₁ of the unit differences, ‖Δᵢ‖, scale)` for the pairs' differences of `points`.

    `scale` is the largest norm of an endpoint, the reference for "zero-length" differences.
    A unit difference matrix with one column has σ₂ = 0 by convention (all 1-D vectors are
    parallel). Host NumPy: the problem is m×k with m, k small, and a jitted kernel would
    recompile for every probe-set size."""
    points = np.asarray(points)
    D = points[pairs[:, 1]] - points[pairs[:, 0]]  # (m, k)
    norms = np.linalg.norm(D, axis=1)
    unit = D / np.where(norms > 0, norms, 1.0)[:, None]
    s = np.linalg.svd(unit, compute_uv=False)
    ratio = s[1] / s[0] if s.shape[0] > 1 else 0.0
    ends = np.concatenate([points[pairs[:, 0]], points[pairs[:, 1]]])
    return float(ratio), norms, float(np.max(np.linalg.norm(ends, axis=1)))


def parallelism(
    p: Predictor | Analysis,
    pairs: Int[Any, "m 2"],
    *,
    side: str = "embedding",
    form: str = "raw",
    tol: float | None = None,
    rtol: float | None = None,
) -> PropertyResult:
    """Whether the differences of the given pairs are parallel (THEORY §6, first two rows).

    Symbols: pairs `(aᵢ, bᵢ)`; raw differences `Δᵢ = f(bᵢ) − f(aᵢ)` (embedding side) or
    `ĝ(bᵢ) − ĝ(aᵢ)` (unembedding side); identifiable differences `C[bᵢ,:] − C[aᵢ,:]` (or
    columns), measured in the coordinates `z = Σ^{1/2}φ` (`Σ^{1/2}γ`) isometric to them.
    `score = σ₂/σ₁` of the rows `Δᵢ/‖Δᵢ‖`; `holds = score ≤ tol`.

    A zero difference has no direction: a pair whose difference is below `tol ×` the largest
    endpoint norm raises `ProbeError` (for the identifiable form this means two contexts with the
    same next-token distribution — report it, never call it parallel or not, THEORY §7).

    Args:
        p: the model, or its `Analysis` (then no decomposition is recomputed).
        pairs: (m, 2) integer indices of contexts (embedding side) or tokens (unembedding side),
            m ≥ 2, no duplicate pair (`(b, a)` duplicates `(a, b)`).
        side: "embedding" or "unembedding".
        form: "raw" or "identifiable".
        tol: relative tolerance (default `√ε` of p's dtype).
        rtol: rank threshold for the spans (see `subspaces`).

    Returns:
        A `PropertyResult`; `inclusion` tests `Δᵢ ∈ U` (embedding) or `∈ E` (unembedding).

    Raises:
        ShapeError: pairs not of shape (m, 2).
        DTypeError: non-integer pairs.
        ProbeError: fewer than 2 pairs, duplicate pairs, indices out of range, a zero-length
            difference.
        ConfigError: unknown side or form, tol outside (0, 1).

    Example:
        >>> import numpy as np, idlin
        >>> F = np.array([[0., 0.], [1., 1.], [0., 1.], [2., 3.]])
        >>> p = idlin.Predictor(F, np.random.default_rng(0).normal(size=(5, 2)))
        >>> idlin.parallelism(p, [[0, 1], [2, 3]]).holds
        True
    """
    call = check_call(p, side, form, tol, rtol)
    a, tol, size, what = call.a, call.tol, call.size, call.what
    idx = as_pairs("pairs", pairs, size=size, what=what, min_pairs=2, unordered=True)
    coords = coordinates(a, side, form)
    ratio, norms, scale = parallelism_kernel(coords.points, idx)
    zero = np.flatnonzero(norms <= tol * float(scale))
    if zero.size:
        i = int(zero[0])
        raise ProbeError(
            f"pairs: expected differences of non-zero length, got ‖Δ‖ = {norms[i]:.3g} "
            f"(scale {float(scale):.3g}) for pair {idx[i].tolist()} in the {form} form"
            + (
                ": the two have the same next-token distribution, so the difference has no "
                "direction"
                if form == "identifiable"
                else ""
            )
        )
    H = coords.raw_points
    D = np.asarray(H[idx[:, 1]] - H[idx[:, 0]])
    residual = float(np.max(relative_residual(D, np.asarray(coords.inclusion_projector))))
    score = float(ratio)
    return PropertyResult(
        name="parallelism",
        form=form,
        side=side,
        holds=bool(score <= tol),
        score=score,
        tol=tol,
        inclusion=inclusion_of(residual, tol),
    )
