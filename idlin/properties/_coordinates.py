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
from typing import Any

import numpy as np
from jaxtyping import Float

from ..core import _gap
from ..core._analysis import Analysis, as_analysis
from ..core._errors import ArgumentError, ProbeError, RankError
from ..core._predictor import Predictor
from ._result import GEOMETRIES, check_choice


@dataclasses.dataclass(frozen=True)
class Rows:
    """The V×k matrix `((block − 1·centerᵀ) @ factor)[:, :columns] · scale` of one model's tokens,
    whose rows are formed only where indexed.

    At V = 262144 the unembedding side's points (Ĝ, or `ΣW` with `W = Ĝ B`) and the embedding
    side's decoder are each a V×k array, and a probe reads a few hundred rows of them: forming
    them whole cost Gemma 3 270M's `inspect --token-pairs` 4 GB. Indexing (an int, a slice, an
    index array of any shape) returns a NumPy array of `idx.shape + (k,)`, with the arithmetic
    of the whole array (`Analysis.centered_unembeddings`, `Analysis.log_odds_right`), row by row;
    `np.asarray(rows)` forms the whole matrix, for the routines that need it.

    Attributes:
        block: (V, d) the stored rows (G, or a stored W).
        center: (d,) subtracted from each row, or None.
        factor: (d, m) applied after centring, or None (the identity).
        columns: how many leading columns are kept (None: all).
        scale: (columns,) column scales, or None.
        out_dtype: None: the arithmetic of the whole array, in the block's dtype; a dtype
            (`astype`): the rows computed in it (float64 rows of float32 data are exact
            products, not rounded float32 ones).
    """

    block: Float[Any, "V d"]
    center: Float[Any, " d"] | None = None
    factor: Float[Any, "d m"] | None = None
    columns: int | None = None
    scale: Float[Any, " k"] | None = None
    out_dtype: Any = None

    @property
    def shape(self) -> tuple[int, int]:
        k = self.block.shape[1] if self.factor is None else self.factor.shape[1]
        return (int(self.block.shape[0]), k if self.columns is None else self.columns)

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self) -> np.dtype:
        return self[:1].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def astype(self, dtype) -> Rows:
        """The same rows, computed and returned in `dtype`."""
        return dataclasses.replace(self, out_dtype=np.dtype(dtype))

    def __getitem__(self, idx) -> np.ndarray:
        if isinstance(idx, slice):
            X = np.asarray(self.block[idx])
        else:
            X = np.asarray(self.block[self._checked(idx).reshape(-1)])
            X = X.reshape(*np.shape(idx), -1)
        if self.out_dtype is not None:
            X = X.astype(self.out_dtype)
        if self.center is not None:
            center = np.asarray(self.center).astype(X.dtype)
            if self.factor is None:
                X = X - center
            else:  # as `Analysis.log_odds_right`: `G B − 1·(ḡᵀB)` in G's dtype
                B = np.asarray(self.factor).astype(X.dtype)[:, : self.columns]
                X = (X @ B - center @ B).astype(X.dtype)
        X = X[..., : self.columns]
        if self.scale is not None:
            X = X * np.asarray(self.scale)
        return X if self.out_dtype is None else X.astype(self.out_dtype)

    def _checked(self, idx) -> np.ndarray:
        """`idx` as an integer array within `[-V, V)`, as NumPy indexes (a JAX gather would
        clamp an out-of-range index silently)."""
        V = self.shape[0]
        if isinstance(idx, tuple) or not np.issubdtype(np.asarray(idx).dtype, np.integer):
            raise ArgumentError(
                f"Rows: expected an int, a slice or an integer index array of rows, got {idx!r}"
            )
        idx = np.asarray(idx)
        bad = idx[(idx < -V) | (idx >= V)]
        if bad.size:
            raise ProbeError(f"Rows: expected row indices in [-{V}, {V}), got {int(bad[0])}")
        return np.where(idx < 0, idx + V, idx)

    def _small(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """`(factor, scale)` cut to the kept columns, in the rows' arithmetic dtype."""
        dt = self.out_dtype
        factor = None if self.factor is None else np.asarray(self.factor, dt)[:, : self.columns]
        scale = None if self.scale is None else np.asarray(self.scale, dt)
        return factor, scale

    def rmatvec(self, y) -> np.ndarray:
        """`Mᵀy` (k,) for a V-vector y, by one pass of `Xᵀy` over the stored rows X and the
        small factors (`Mᵀy = s ⊙ Bᵀ(Xᵀy − c Σy)`): O(V·d), never the V×k matrix M."""
        y = np.asarray(y, self.out_dtype)
        dt = y.dtype
        Xty = np.zeros(int(self.block.shape[1]), dt)
        for lo, hi in self._spans():
            Xty += np.asarray(self.block[lo:hi], dt).T @ y[lo:hi]
        if self.center is not None:
            Xty = Xty - np.asarray(self.center, dt) * np.sum(y)
        factor, scale = self._small()
        out = (Xty if factor is None else factor.T @ Xty)[: self.columns]
        return out if scale is None else out * scale

    def matvec(self, c) -> np.ndarray:
        """`Mc` (V,) for a k-vector c: `(X − 1·centerᵀ)(B(s ⊙ c))`, one pass over the stored
        rows."""
        factor, scale = self._small()
        u = np.asarray(c, self.out_dtype)
        u = u if scale is None else u * scale
        if factor is not None:
            u = factor @ u
        else:  # the identity, cut to the kept columns
            u = np.concatenate([u, np.zeros(self.block.shape[1] - u.shape[0], u.dtype)])
        shift = 0.0 if self.center is None else float(np.asarray(self.center, u.dtype) @ u)
        return np.concatenate(
            [np.asarray(self.block[lo:hi], u.dtype) @ u - shift for lo, hi in self._spans()]
        )

    def _spans(self, rows: int | None = None):
        """`(lo, hi)` row ranges, `rows` at a time (default: the core's streaming block,
        `STREAM_BLOCK_ELEMENTS` entries of the stored rows)."""
        if rows is None:
            rows = max(1, _gap.STREAM_BLOCK_ELEMENTS // max(1, int(self.block.shape[1])))
        V = self.shape[0]
        return ((lo, min(lo + rows, V)) for lo in range(0, V, rows))

    def chunks(self, rows: int | None = None):
        """`(start, block of rows)` over the whole matrix, `rows` at a time (default: the
        streaming block): a V-long product without the V×k array."""
        for lo, hi in self._spans(rows):
            yield lo, self[lo:hi]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def in_float64(points: np.ndarray | Rows) -> np.ndarray | Rows:
    """`points` returning float64 rows: an array converted, `Rows` converting each row read."""
    if isinstance(points, Rows):
        return points.astype(np.float64)
    return np.asarray(points, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class Coordinates:
    """Points of one side of a model, and how to decode them into centered log-odds.

    Host NumPy arrays in the model's dtype: probe sets are small, and every kernel on them is
    too. The token side (V rows: the unembedding side's points, the embedding side's decoder)
    is a `Rows`, formed where indexed; `np.asarray` forms it whole.

    Attributes:
        points: (items, k) one row per context (embedding side) or token (unembedding side).
        decoder: (others, k); `points @ decoder.T` are rows (embedding side) or columns
            (unembedding side) of C.
        inclusion_projector: (width, width) `P_U` (embedding side) or `P_E` (unembedding side)
            of the raw model — the span the inclusion conditions of docs/theory.md §6 refer to.
        raw_points: the raw model's points (`points` itself in the raw form), which the
            inclusion conditions are evaluated on in either form.
    """

    points: np.ndarray | Rows
    decoder: np.ndarray | Rows
    inclusion_projector: np.ndarray
    raw_points: np.ndarray | Rows


def _projector(right, rank) -> np.ndarray:
    B = np.asarray(right)[: int(rank)]
    return B.T @ B


def raw_coordinates(a: Analysis, side: str) -> Coordinates:
    """`(F, Ĝ, P_U)` on the embedding side, `(Ĝ, F, P_E)` on the unembedding side (§3)."""
    a = as_analysis("a", a)
    F = np.asarray(a.embeddings)
    Gh = Rows(a.unembeddings, a.mean_unembedding)  # `Analysis.centered_unembeddings`, by rows
    if side == "embedding":
        return Coordinates(F, Gh, _projector(a.unembedding_right, a.unembedding_rank), F)
    return Coordinates(Gh, F, _projector(a.embedding_right, a.embedding_rank), Gh)


def identifiable_coordinates(
    a: Analysis, side: str, geometry: str = "isometric"
) -> tuple[np.ndarray | Rows, np.ndarray | Rows]:
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
    s = np.asarray(a.log_odds_singular_values)[:r]
    block, center, factor = a.log_odds_right_parts  # W = (block − 1·centerᵀ) @ factor

    def W(scale=None) -> Rows:
        return Rows(block, center, factor, columns=r, scale=scale)

    if geometry == "whitened":
        return (U_C, W(s)) if side == "embedding" else (W(), U_C * s[None, :])
    if side == "embedding":
        return U_C * s[None, :], W()
    return W(s), U_C


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
