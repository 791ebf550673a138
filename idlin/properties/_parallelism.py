"""Parallelism of embedding or unembedding differences, raw and identifiable (docs/theory.md §6,
§7).

Pairs `(aᵢ, bᵢ)` of contexts (or tokens) have differences `Δᵢ = f(bᵢ) − f(aᵢ)` (or
`ĝ(bᵢ) − ĝ(aᵢ)`). They are *parallel* when the stacked unit differences have rank 1. Score:
`σ₂/σ₁` of the m×k matrix of rows `Δᵢ/‖Δᵢ‖` (0 = exactly parallel, up to sign; 1 = two
orthogonal directions at least as strong as the first), `parallelism_score` — the one definition,
which the audit's catalogue calls too. Identifiable form: the same on rows
(columns) of C, in the isometric coordinates of `_coordinates`, so the score is the same in every
member of the class. Inclusion condition: every `Δᵢ ∈ U` (embedding side) or `∈ E` (unembedding
side); residual `maxᵢ ‖(I−P)Δᵢ‖/‖Δᵢ‖`.

Controls (docs/theory.md §6.5): the same scores on shuffled pairings `(aᵢ, b_{π(i)})` (which keep
any common offset of the targets, so they isolate the pairing) and on random pairs of items of
the same side (no shared relation), all scored by one batched SVD per chunk of samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Int

from ..core._analysis import Analysis
from ..core._errors import ProbeError, ShapeError
from ..core._precision import Precision
from ..core._predictor import Predictor
from ._controls import check_count, check_seed, summarise
from ._coordinates import Rows, coordinates, in_float64
from ._result import (
    PropertyResult,
    as_pairs,
    check_call,
    inclusion_of,
    relative_residual,
)


def unit_rows(D):
    """The rows `Dᵢ/‖Dᵢ‖` of D; a zero row stays zero (a shuffled control may pair an item with
    itself). Differentiable wherever no row vanishes."""
    norms = jnp.linalg.norm(D, axis=-1, keepdims=True)
    return D / jnp.where(norms > 0, norms, 1.0)


def parallelism_score(D):
    """The score of parallelism: `σ₂/σ₁` of the unit rows of the differences D (m×k), a pure,
    differentiable JAX function — the one definition the verdict, its controls (`jax.vmap`),
    `all_or_none` and the audit's catalogue all call.

    0 when every row is parallel (and, by convention, with one column or σ₁ = 0: all 1-D
    vectors are parallel). The singular values of the m×k unit rows are those of R in
    `unitᵀ = QR` (at most m×m): a wide SVD's derivative would form a k×k matrix (V×V for rows
    of C)."""
    D = jnp.asarray(D)
    R = jnp.linalg.qr(jnp.swapaxes(unit_rows(D), -1, -2), mode="r")
    s = jnp.linalg.svd(R, compute_uv=False)
    if s.shape[-1] < 2:
        return jnp.zeros(s.shape[:-1], D.dtype)
    top = s[..., 0]
    return jnp.where(top > 0, s[..., 1] / jnp.where(top > 0, top, 1.0), 0.0)


def mean_cosine(D):
    """The mean of `cos(Dᵢ, Dⱼ)` over `i ≠ j` (m ≥ 2 rows): parallelism's second score."""
    unit = unit_rows(jnp.asarray(D))
    m = unit.shape[-2]
    total = jnp.sum(jnp.sum(unit, axis=-2) ** 2, axis=-1)  # Σᵢⱼ cos, diagonal included
    diagonal = jnp.sum(unit**2, axis=(-1, -2))
    return (total - diagonal) / (m * (m - 1))


def differences(points, pairs):
    """`Δᵢ = points[bᵢ] − points[aᵢ]` (m×k) for pairs (m, 2)."""
    return points[pairs[:, 1]] - points[pairs[:, 0]]


def parallelism_kernel(points, pairs):
    """`(parallelism_score, ‖Δᵢ‖, scale)` for the pairs' differences of `points`.

    `scale` is the largest norm of an endpoint, the reference for "zero-length" differences.
    `points` is an array or a `Rows` (only the pairs' rows are read)."""
    D = differences(points, pairs)  # (m, k)
    norms = np.linalg.norm(D, axis=1)
    ratio = float(parallelism_score(jnp.asarray(D)))
    ends = np.concatenate([points[pairs[:, 0]], points[pairs[:, 1]]])
    return ratio, norms, float(np.max(np.linalg.norm(ends, axis=1)))


@dataclasses.dataclass(frozen=True)
class PairRow:
    """One pair of a parallelism probe set (docs/theory.md §6.5).

    Attributes:
        source, target: the indices `(aᵢ, bᵢ)`.
        source_name, target_name: their names, when given.
        norm: `‖Δᵢ‖` in the coordinates the score was measured in.
        cosine: cosine of `Δᵢ` with the leading direction (the first right singular vector of
            the stacked unit differences, signed so that the cosines sum to ≥ 0).
    """

    source: int
    target: int
    source_name: str | None
    target_name: str | None
    norm: float
    cosine: float


_CHUNK = 2**22  # float64 entries per batched SVD (32 MiB): bounds the controls' memory


def batch_scores(points: np.ndarray | Rows, sources: np.ndarray, targets: np.ndarray):
    """`(parallelism_score, mean_cosine)` of each row of index arrays `(S, m)`, mapped over
    the samples (`jax.vmap`) one chunk at a time."""
    S, m = sources.shape
    k = points.shape[1]
    ratio, cosine = np.empty(S), np.empty(S)
    step = max(1, _CHUNK // max(1, m * k))
    for lo in range(0, S, step):
        D = jnp.asarray(points[targets[lo : lo + step]] - points[sources[lo : lo + step]])
        ratio[lo : lo + step] = np.asarray(jax.vmap(parallelism_score)(D))
        cosine[lo : lo + step] = np.asarray(jax.vmap(mean_cosine)(D))
    return ratio, cosine


def pair_table(points, pairs, names: Sequence[str] | None) -> tuple[PairRow, ...]:
    """One `PairRow` per pair: its names and its difference's cosine with the leading
    direction (sign fixed so the cosines sum to ≥ 0)."""
    D = points[pairs[:, 1]] - points[pairs[:, 0]]
    norms = np.linalg.norm(D, axis=1)
    unit = D / np.where(norms > 0, norms, 1.0)[:, None]
    lead = np.linalg.svd(unit, full_matrices=False)[2][0]
    cos = unit @ lead
    if np.sum(cos) < 0:
        cos = -cos

    def name(i: int) -> str | None:
        return None if names is None else str(names[i])

    return tuple(
        PairRow(int(a), int(b), name(a), name(b), float(n), float(c))
        for (a, b), n, c in zip(pairs.tolist(), norms, cos, strict=True)
    )


def check_names(names: Sequence[str] | None, size: int, what: str) -> Sequence[str] | None:
    """Item names, one per context (token) of the side, or None."""
    if names is None:
        return None
    names = list(names)
    if len(names) != size:
        raise ShapeError(f"names: expected {size} names (one per {what}), got {len(names)}")
    return names


def parallelism_controls(points, pairs, ratio, cosine, permutations: int, seed: int):
    """The four `Null`s of docs/theory.md §6.5: σ₂/σ₁ (lower = more parallel) and mean cosine
    (higher = more aligned) on shuffled targets `(aᵢ, b_{π(i)})` and on random pairs.

    Draws, in order, from `rng = np.random.default_rng(seed)`: the permutations
    `rng.permuted(np.tile(arange(m), (permutations, 1)), axis=1)`, then random sources
    `rng.integers(0, n, (permutations, m))` and offsets `rng.integers(1, n, …)` (targets =
    sources + offset mod n, so a random pair never repeats an item)."""
    m, n = len(pairs), points.shape[0]
    rng = np.random.default_rng(seed)
    perm = rng.permuted(np.tile(np.arange(m), (permutations, 1)), axis=1)
    src = np.broadcast_to(pairs[:, 0], (permutations, m))
    shuffled = batch_scores(points, src, pairs[perm, 1])
    a = rng.integers(0, n, (permutations, m))
    b = (a + rng.integers(1, n, (permutations, m))) % n
    random = batch_scores(points, a, b)
    out = []
    for control, (r, c) in (("shuffled targets", shuffled), ("random pairs", random)):
        out.append(summarise(control, "sigma ratio", ratio, r, "lower", seed))
        out.append(summarise(control, "mean cosine", cosine, c, "higher", seed))
    return tuple(out)


def parallelism(
    p: Predictor | Analysis,
    pairs: Int[Any, "m 2"],
    *,
    side: str = "embedding",
    form: str = "raw",
    precision: Precision | None = None,
    geometry: str = "isometric",
    permutations: int = 200,
    seed: int = 0,
    names: Sequence[str] | None = None,
    tol: float | None = None,
    rtol: float | None = None,
) -> PropertyResult:
    """Whether the differences of the given pairs are parallel (docs/theory.md §6, first two rows).

    Symbols: pairs `(aᵢ, bᵢ)`; raw differences `Δᵢ = f(bᵢ) − f(aᵢ)` (embedding side) or
    `ĝ(bᵢ) − ĝ(aᵢ)` (unembedding side); identifiable differences `C[bᵢ,:] − C[aᵢ,:]` (or
    columns), measured in the coordinates `z = Σ^{1/2}φ` (`Σ^{1/2}γ`) isometric to them.
    `score = σ₂/σ₁` of the rows `Δᵢ/‖Δᵢ‖`; `holds = score ≤ tol`, the policy's verdict
    tolerance. `mean_cosine` is the mean of
    `cos(Δᵢ, Δⱼ)` over `i < j`; `pairs` the per-pair table (`PairRow`: names, `‖Δᵢ‖`, cosine
    with the leading direction).

    Controls (docs/theory.md §6.5; `permutations` samples each, 0 turns them off): the same two
    scores with shuffled targets `(aᵢ, b_{π(i)})` and on random pairs of items of the side, each
    summarised as a `Null` with the p-value `(1 + #{null ≤ matched}) / (1 + permutations)`
    for σ₂/σ₁ (lower is more parallel) and `≥` for the mean cosine.

    A zero difference has no direction: a pair whose difference is below the policy's
    `resolved_zero_rtol()` (default the verdict tolerance) `×` the largest endpoint norm raises
    `ProbeError` (for the identifiable form this means two contexts with the
    same next-token distribution — report it, never call it parallel or not, docs/theory.md §7).

    Args:
        p: the model, or its `Analysis` (then no decomposition is recomputed).
        pairs: (m, 2) integer indices of contexts (embedding side) or tokens (unembedding side),
            m ≥ 2, no duplicate pair (`(b, a)` duplicates `(a, b)`).
        side: "embedding" or "unembedding".
        form: "raw" or "identifiable".
        precision: the precision policy (docs/theory.md §3.1): the spans' ranks, the verdict
            tolerance (default `√ε` of the stored dtype), the zero length. Default: the
            `Analysis`'s own, `Precision()` for a `Predictor`.
        geometry: identifiable coordinates, "isometric" to rows of C (default) or "whitened"
            (unit-scale canonical coordinates, docs/theory.md §6.5); the raw form ignores it.
        permutations: samples per control (default 200; 0: no controls).
        seed: seed of `np.random.default_rng` for the controls.
        names: optional names of the items on `side` (one per context or token), for the table.
        tol, rtol: deprecated: `Precision(verdict_tol=...)`, `Precision(rank_rtol=...)`.

    Returns:
        A `PropertyResult`; `inclusion` tests `Δᵢ ∈ U` (embedding) or `∈ E` (unembedding).

    Raises:
        ShapeError: pairs not of shape (m, 2).
        DTypeError: non-integer pairs.
        ProbeError: fewer than 2 pairs, duplicate pairs, indices out of range, a zero-length
            difference.
        ConfigError: unknown side, form or geometry, a tolerance outside (0, 1), a negative
            count.
        ShapeError: names of the wrong length.

    Example:
        >>> import numpy as np, idlin
        >>> F = np.array([[0., 0.], [1., 1.], [0., 1.], [2., 3.]])
        >>> p = idlin.Predictor(F, np.random.default_rng(0).normal(size=(5, 2)))
        >>> idlin.parallelism(p, [[0, 1], [2, 3]]).holds
        True
    """
    call = check_call("parallelism", p, side, form, precision, tol=tol, rtol=rtol)
    a, tol, size, what = call.a, call.tol, call.size, call.what
    idx = as_pairs("pairs", pairs, size=size, what=what, min_pairs=2, unordered=True)
    permutations = check_count("permutations", permutations)
    seed = check_seed(seed)
    names = check_names(names, size, what)
    coords = coordinates(a, side, form, geometry)
    ratio, norms, scale = parallelism_kernel(coords.points, idx)
    zero = np.flatnonzero(norms <= a.precision.resolved_zero_rtol() * float(scale))
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
    points = in_float64(coords.points)  # the controls read their rows only
    _, cosine = batch_scores(points, idx[None, :, 0], idx[None, :, 1])
    controls = ()
    if permutations:
        controls = parallelism_controls(points, idx, score, cosine[0], permutations, seed)
    return PropertyResult(
        name="parallelism",
        form=form,
        side=side,
        holds=bool(score <= tol),
        score=score,
        tol=tol,
        inclusion=inclusion_of(residual, tol),
        mean_cosine=float(cosine[0]),
        geometry=None if form == "raw" else geometry,
        pairs=pair_table(points, idx, names),
        controls=controls,
        precision=a.precision.on_host(),
    )
