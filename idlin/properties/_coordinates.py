"""The coordinates a property is evaluated in, raw or identifiable (docs/theory.md §6).

Raw: rows of `F` (embedding side) or of `Ĝ` (unembedding side), decoded through the other factor
(`C = F Ĝᵀ`). Identifiable: a coordinate system **isometric to the rows (columns) of C**, so that
every Euclidean score is fixed by the distribution: with the thin SVD `C = U_C Σ Wᵀ` (from
`canonical`), `z(x) = Σ U_C[x] = Σ^{1/2} φ(x)` satisfies `C[x, :] = W z(x)`, and W has orthonormal
columns, so `‖z(x) − z(x')‖ = ‖C[x, :] − C[x', :]‖`. Likewise `z(y) = Σ W[y] = Σ^{1/2} γ(y)` with
`C[:, y] = U_C z(y)`. These cost O(r) per item instead of O(V) (or O(N)) for a row of C, and they
are the same in every member of the class up to an orthogonal map (the sign convention of
`canonical`), which no score below sees. Note: φ itself is *not* isometric to rows of C, so a
ratio of lengths measured in φ would differ from one measured in C.

A second identifiable geometry (docs/theory.md §6.5), `geometry="whitened"`: the canonical
coordinates with unit scale, `z(x) = U_C[x]` (`= Σ^{-1/2}φ(x)`) decoded by `WΣ`, and `z(y) = W[y]`
decoded by `U_CΣ`. It weighs every direction of C equally, so a dominant direction of the
contexts does not dominate every score; it is as invariant over the class as the default.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core._analysis import Analysis, as_analysis
from ..core._errors import RankError
from ..core._predictor import Predictor
from ._result import GEOMETRIES, check_choice


@dataclasses.dataclass(frozen=True)
class Coordinates:
    """Points of one side of a model, and how to decode them into centered log-odds.

    Host NumPy arrays in the model's dtype: probe sets are small, and every kernel on them is too.

    Attributes:
        points: (items, k) one row per context (embedding side) or token (unembedding side).
        decoder: (others, k); `points @ decoder.T` are rows (embedding side) or columns
            (unembedding side) of C.
        inclusion_projector: (width, width) `P_U` (embedding side) or `P_E` (unembedding side)
            of the raw model — the span the inclusion conditions of docs/theory.md §6 refer to.
        raw_points: the raw model's points (`points` itself in the raw form), which the
            inclusion conditions are evaluated on in either form.
    """

    points: np.ndarray
    decoder: np.ndarray
    inclusion_projector: np.ndarray
    raw_points: np.ndarray


def _projector(right, rank) -> np.ndarray:
    B = np.asarray(right)[: int(rank)]
    return B.T @ B


def raw_coordinates(a: Analysis, side: str) -> Coordinates:
    """`(F, Ĝ, P_U)` on the embedding side, `(Ĝ, F, P_E)` on the unembedding side (§3)."""
    a = as_analysis("a", a)
    F = np.asarray(a.embeddings)
    Gh = np.asarray(a.centered_unembeddings)
    if side == "embedding":
        return Coordinates(F, Gh, _projector(a.unembedding_right, a.unembedding_rank), F)
    return Coordinates(Gh, F, _projector(a.embedding_right, a.embedding_rank), Gh)


def identifiable_coordinates(
    a: Analysis, side: str, geometry: str = "isometric"
) -> tuple[np.ndarray, np.ndarray]:
    """`(z, decoder)`: `z = Σ U_C = Σ^{1/2}φ` decoded by `W` (embedding side) or `z = Σ W =
    Σ^{1/2}γ` decoded by `U_C` (unembedding side); `z @ decoder.T` reproduces rows (columns) of
    C (docs/theory.md §4, §6). With `geometry="whitened"`: `z = U_C` decoded by `WΣ` (`z = W`
    decoded by `U_CΣ`), docs/theory.md §6.5.

    Raises:
        RankError: effective complexity 0 (every context has the same next-token distribution:
            the identifiable form has nothing to measure).
    """
    a = as_analysis("a", a)
    check_choice("geometry", geometry, GEOMETRIES)
    r = int(a.effective_complexity)
    if r == 0:
        raise RankError(
            "effective complexity is 0: the centered log-odds C vanish (every context has the "
            "same next-token distribution), so there are no identifiable coordinates"
        )
    U_C = np.asarray(a.log_odds_left)[:, :r]
    W = np.asarray(a.log_odds_right)[:, :r]
    s = np.asarray(a.log_odds_singular_values)[None, :r]
    if geometry == "whitened":
        return (U_C, W * s) if side == "embedding" else (W, U_C * s)
    if side == "embedding":
        return U_C * s, W
    return W * s, U_C


def coordinates(
    a: Analysis | Predictor, side: str, form: str, geometry: str = "isometric"
) -> Coordinates:
    """The coordinates of `form` on `side` of a model (its `Analysis`, or a `Predictor`, which
    is analysed here); the inclusion projector is always the raw model's. `geometry` chooses the
    identifiable coordinates ("isometric" to rows of C, or "whitened"); the raw form has one."""
    a = as_analysis("a", a)
    check_choice("geometry", geometry, GEOMETRIES)
    raw = raw_coordinates(a, side)
    if form == "raw":
        return raw
    z, dec = identifiable_coordinates(a, side, geometry)
    return Coordinates(z, dec, raw.inclusion_projector, raw.raw_points)
