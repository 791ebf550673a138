"""The coordinates a property is evaluated in, raw or identifiable (THEORY §6).

Raw: rows of `F` (embedding side) or of `Ĝ` (unembedding side), decoded through the other factor
(`C = F Ĝᵀ`). Identifiable: a coordinate system **isometric to the rows (columns) of C**, so that
every Euclidean score is fixed by the distribution: with the thin SVD `C = U_C Σ Wᵀ` (from
`canonical`), `z(x) = Σ U_C[x] = Σ^{1/2} φ(x)` satisfies `C[x, :] = W z(x)`, and W has orthonormal
columns, so `‖z(x) − z(x')‖ = ‖C[x, :] − C[x', :]‖`. Likewise `z(y) = Σ W[y] = Σ^{1/2} γ(y)` with
`C[:, y] = U_C z(y)`. These cost O(r) per item instead of O(V) (or O(N)) for a row of C, and they
are the same in every member of the class up to an orthogonal map (the sign convention of
`canonical`), which no score below sees. Note: φ itself is *not* isometric to rows of C, so a
ratio of lengths measured in φ would differ from one measured in C.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._predictor import Predictor
from .._subspaces import canonical, subspaces


@dataclasses.dataclass(frozen=True)
class Coordinates:
    """Points of one side of a model, and how to decode them into centered log-odds.

    Host NumPy arrays in p's dtype: probe sets are small, and every kernel on them is too.

    Attributes:
        points: (items, k) one row per context (embedding side) or token (unembedding side).
        decoder: (others, k); `points @ decoder.T` are rows (embedding side) or columns
            (unembedding side) of C.
        inclusion_projector: (width, width) `P_U` (embedding side) or `P_E` (unembedding side)
            of the raw model — the span the inclusion conditions of THEORY §6 refer to.
        raw_points: the raw model's points (`points` itself in the raw form), which the
            inclusion conditions are evaluated on in either form.
    """

    points: np.ndarray
    decoder: np.ndarray
    inclusion_projector: np.ndarray
    raw_points: np.ndarray


def raw_coordinates(p: Predictor, side: str, *, rtol: float | None = None) -> Coordinates:
    """`(F, Ĝ, P_U)` on the embedding side, `(Ĝ, F, P_E)` on the unembedding side (THEORY §3)."""
    s = subspaces(p, rtol=rtol)
    F = np.asarray(p.embeddings)
    Gh = np.asarray(p.centered_unembeddings)
    if side == "embedding":
        return Coordinates(F, Gh, s.projector("unembedding").astype(F.dtype), F)
    return Coordinates(Gh, F, s.projector("embedding").astype(F.dtype), Gh)


def identifiable_coordinates(
    p: Predictor, side: str, *, rtol: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`(z, decoder)`: `z = Σ^{1/2}φ` decoded by `W` (embedding side) or `z = Σ^{1/2}γ` decoded
    by `U_C` (unembedding side); `z @ decoder.T` reproduces rows (columns) of C (THEORY §4, §6).

    Raises:
        RankError: effective complexity 0 (via `canonical`).
    """
    c = canonical(p, rtol=rtol)
    phi, gamma = np.asarray(c.phi), np.asarray(c.gamma)
    root = np.sqrt(np.asarray(c.singular_values))[None, :]
    U_C, W = phi / root, gamma / root
    if side == "embedding":
        return phi * root, W
    return gamma * root, U_C


def coordinates(p: Predictor, side: str, form: str, *, rtol: float | None = None) -> Coordinates:
    """The coordinates of `form` on `side`; the inclusion projector is always the raw model's."""
    raw = raw_coordinates(p, side, rtol=rtol)
    if form == "raw":
        return raw
    z, dec = identifiable_coordinates(p, side, rtol=rtol)
    return Coordinates(z, dec, raw.inclusion_projector, raw.raw_points)
