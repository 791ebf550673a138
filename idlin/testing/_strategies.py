"""Hypothesis strategies for predictors and their equivalence classes (docs/theory.md §1–§5).

Values come from a drawn seed through NumPy, with controlled spectra, so that a drawn
"rank-r" model really has numerical rank r: raw Hypothesis float arrays shrink to degenerate
matrices whose rank is then ambiguous. Shapes come from the small menu in `SIZES` (each new shape
is a new XLA compilation), so a suite varies values, not shapes.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from hypothesis import strategies as st

from ..core._classes import MOVES, sample_equivalent
from ..core._errors import ConfigError
from ..core._predictor import Predictor


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Every size bound of idlin's strategies, in one place.

    Attributes:
        shapes: the menu of `(N, V, d)` (contexts, vocabulary, width). Every distinct shape (and
            every width a class move reaches) is a new XLA compilation, which dominates the
            suite's run time, so the menu is short; unit tests cover the edge shapes.
        singular_range: singular values of the drawn factors lie in this range, so ranks are
            unambiguous at any sensible threshold.
        max_condition: largest condition number of drawn invertible matrices.
        max_moves: longest sequence of class moves in `equivalent_pairs`.
    """

    shapes: tuple[tuple[int, int, int], ...] = ((9, 7, 3), (9, 7, 5))
    singular_range: tuple[float, float] = (0.5, 2.0)
    max_condition: float = 1e3
    max_moves: int = 3


SIZES = Sizes()


def _orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """n×k with orthonormal columns (Haar)."""
    Q, R = np.linalg.qr(rng.normal(size=(n, k)))
    return Q * np.sign(np.diag(R))


def _factor(rng: np.random.Generator, rows: int, k: int, *, centered: bool = False) -> np.ndarray:
    """A rows×k matrix of rank k with singular values in `SIZES.singular_range`; with
    `centered`, its columns have mean 0 (needs rows − 1 ≥ k)."""
    lo, hi = SIZES.singular_range
    if centered:
        # An orthonormal basis of the mean-zero subspace, then orthonormal columns inside it.
        basis = np.linalg.qr(np.eye(rows) - 1.0 / rows)[0][:, : rows - 1]
        U = basis @ _orthonormal(rng, rows - 1, k)
    else:
        U = _orthonormal(rng, rows, k)
    return (U * rng.uniform(lo, hi, size=k)) @ _orthonormal(rng, k, k).T


def planted_predictor(
    seed: int,
    *,
    shape: tuple[int, int, int],
    embedding_rank: int,
    unembedding_rank: int,
    effective_complexity: int,
    condition: float = 10.0,
) -> Predictor:
    """A predictor with exactly the requested `k_f`, `k_g` and `r` (docs/theory.md §3).

    In an orthonormal basis `Q` of R^d: `E = span Q[:, :k_f]`, `U = span(Q[:, :r] ∪
    Q[:, k_f : k_f + k_g − r])`, so `dim(E ∩ U) = r` and `rank C = rank(E_bᵀ U_b) = r`; a random
    basis change of condition `condition` then hides the orthogonality. Needs
    `r ≤ min(k_f, k_g)`, `k_f + k_g − r ≤ d`, `k_f ≤ N`, `k_g ≤ V − 1`.
    """
    N, V, d = shape
    kf, kg, r = embedding_rank, unembedding_rank, effective_complexity
    if not (0 <= r <= min(kf, kg) and kf + kg - r <= d and kf <= N and kg <= V - 1):
        raise ConfigError(f"impossible ranks k_f={kf}, k_g={kg}, r={r} for (N, V, d)={shape}")
    rng = np.random.default_rng(seed)
    Q = _orthonormal(rng, d, d)
    E_basis = Q[:, :kf]
    U_basis = np.concatenate([Q[:, :r], Q[:, kf : kf + kg - r]], axis=1)
    F = _factor(rng, N, kf) @ E_basis.T
    G = _factor(rng, V, kg, centered=True) @ U_basis.T + rng.normal(size=(1, d))
    # A basis change keeps every rank and the distribution, and breaks the alignment with Q.
    lo_hi = np.geomspace(1.0, condition, d)
    M = (_orthonormal(rng, d, d) * lo_hi) @ _orthonormal(rng, d, d).T
    return Predictor(F @ M.T, np.linalg.solve(M.T, G.T).T)


@st.composite
def predictors(
    draw,
    *,
    diverse: bool | None = None,
    bias: bool | None = False,
    shapes: tuple[tuple[int, int, int], ...] | None = None,
) -> Predictor:
    """Predictors with controlled ranks (float64 when `jax_enable_x64` is on).

    Args:
        diverse: True → `k_f = k_g = r = d`; False → `r < d` with `k_f`, `k_g` drawn in
            `[r, d]` (so `k_f ≠ k_g` and `d > r` occur); None → either.
        bias: True → a per-token bias is folded in (width d + 1); None → either.
        shapes: the `(N, V, d)` menu (default `SIZES.shapes`).
    """
    N, V, d = draw(st.sampled_from(shapes or SIZES.shapes))
    if diverse is None:
        diverse = draw(st.booleans())
    if diverse:
        kf = kg = r = d
    else:
        r = draw(st.integers(1, d - 1))
        kf = draw(st.integers(r, d))
        kg = draw(st.integers(r, min(d - kf + r, V - 1)))
    seed = draw(st.integers(0, 2**32 - 1))
    p = planted_predictor(
        seed, shape=(N, V, d), embedding_rank=kf, unembedding_rank=kg, effective_complexity=r
    )
    if bias is None:
        bias = draw(st.booleans())
    if bias:
        b = np.random.default_rng(seed + 1).normal(size=V)
        p = Predictor(p.embeddings, p.unembeddings, bias=b)
    return p


@st.composite
def invertible_matrices(
    draw, d: int, *, max_condition: float | None = None, dtype=np.float64
) -> np.ndarray:
    """d×d matrices `Q₁ diag(s) Q₂ᵀ` with `s` log-spaced from 1 to a drawn condition number in
    `[1, max_condition]` (default `SIZES.max_condition`)."""
    max_condition = SIZES.max_condition if max_condition is None else max_condition
    log_cond = draw(st.floats(0.0, float(np.log10(max_condition))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    s = np.geomspace(1.0, 10.0**log_cond, d)
    return ((_orthonormal(rng, d, d) * s) @ _orthonormal(rng, d, d).T).astype(dtype)


def prng_keys() -> st.SearchStrategy[jax.Array]:
    """JAX PRNG keys from drawn integer seeds."""
    return st.integers(0, 2**32 - 1).map(jax.random.key)


class EquivalentPair(tuple):
    """`(p, q, moves)`: q is built from p by `moves` (docs/theory.md §5), so `p ~ q`."""

    @property
    def p(self) -> Predictor:
        return self[0]

    @property
    def q(self) -> Predictor:
        return self[1]

    @property
    def moves(self) -> tuple[str, ...]:
        return self[2]


@st.composite
def equivalent_pairs(
    draw,
    base: st.SearchStrategy[Predictor] | None = None,
    *,
    moves: tuple[str, ...] = MOVES,
    max_condition: float = 100.0,
) -> EquivalentPair:
    """Pairs `(p, q)` of distribution-equivalent predictors: q applies 1 to `SIZES.max_moves`
    drawn class moves to p (`sample_equivalent`), with basis changes of condition up to
    `max_condition`."""
    p = draw(base if base is not None else predictors())
    chosen = tuple(draw(st.lists(st.sampled_from(moves), min_size=1, max_size=SIZES.max_moves)))
    condition = 10.0 ** draw(st.floats(0.0, float(np.log10(max_condition))))
    q = sample_equivalent(p, key=draw(prng_keys()), moves=chosen, condition=condition)
    return EquivalentPair((p, q, chosen))
