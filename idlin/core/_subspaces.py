"""Identifiable subspaces, effective complexity, canonical coordinates, minimal model.

docs/theory.md §3–§4.

Everything comes from two thin SVDs, `F = U_F S_F V_Fᵀ` and `Ĝ = U_G S_G V_Gᵀ`, and one small
one: `C = F Ĝᵀ = U_F K U_Gᵀ` with `K = S_F V_Fᵀ V_G S_G` (at most d×d), so the spectrum and the
singular vectors of the N×V matrix `C` cost `O((N+V)d²)` and never materialise it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._analysis import (
    Analysis,
    as_analysis,
    concrete_int,
    is_traced,
    rank_mask,
)
from ._errors import RankError
from ._precision import Precision, numerical_rank, with_legacy
from ._predictor import Predictor
from ._scalars import BoolScalar, FloatScalar, IntScalar


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Subspaces:
    """Identifiable dimensions and spans of a predictor (docs/theory.md §3).

    A pytree. Computed eagerly, ranks are Python ints and the bases have exactly `k_f` (`k_g`)
    columns; under `jax.jit`/`vmap` ranks are int32 arrays and the bases keep all
    `min(N, d)` (`min(V, d)`) columns, those past the rank set to zero (same projectors).

    Attributes:
        effective_complexity: `r = rank(C)`, a property of the distribution.
        embedding_rank: `k_f = dim E`, `E = rowspace(F)`.
        unembedding_rank: `k_g = dim U`, `U = rowspace(Ĝ)`.
        width: `d` (static).
        diverse: `k_f = k_g = d`.
        embedding_spectrum, unembedding_spectrum, log_odds_spectrum: singular values of F, Ĝ, C.
        rtol: the relative rank threshold of the precision policy.
        precision: the policy the ranks were counted under.
        log_odds_threshold: the absolute threshold r was counted against (`max(rtol·σ₁,
            floor, τ_KL)`, docs/theory.md §3.1).
        log_odds_gap: `σ_r(C)/σ_{r+1}(C)`, the separation at the reported rank.
        embedding_basis: (d, k_f) orthonormal basis of E.
        unembedding_basis: (d, k_g) orthonormal basis of U.
    """

    effective_complexity: IntScalar
    embedding_rank: IntScalar
    unembedding_rank: IntScalar
    width: int = dataclasses.field(metadata={"static": True})
    diverse: BoolScalar
    embedding_spectrum: Float[np.ndarray | Array, " kF"]
    unembedding_spectrum: Float[np.ndarray | Array, " kG"]
    log_odds_spectrum: Float[np.ndarray | Array, " m"]
    rtol: FloatScalar
    log_odds_threshold: FloatScalar
    log_odds_gap: FloatScalar
    embedding_basis: Float[np.ndarray | Array, "d kf"]
    unembedding_basis: Float[np.ndarray | Array, "d kg"]
    precision: Precision

    def projector(self, which: str) -> Float[np.ndarray | Array, "d d"]:
        """`P_E` or `P_U` (d×d) for `which` in {"embedding", "unembedding"}."""
        if which not in ("embedding", "unembedding"):
            raise RankError(f"which: expected 'embedding' or 'unembedding', got {which!r}")
        basis = {"embedding": self.embedding_basis, "unembedding": self.unembedding_basis}[which]
        return basis @ basis.T


def _basis(right, rank):
    """Columns of `rightᵀ` up to `rank`: sliced when concrete, masked when traced."""
    k = concrete_int(rank)
    if k is not None:
        return right[:k].T
    keep = rank_mask(right.shape[0], rank).astype(right.dtype)
    return (right * keep[:, None]).T


def subspaces(
    p: Predictor | Analysis, *, precision: Precision | None = None, rtol: float | None = None
) -> Subspaces:
    """Ranks, spectra and bases of the identifiable subspaces of p (docs/theory.md §3).

    `E = rowspace(F)`, `U = rowspace(Ĝ)`, `r = rank(C) ≤ min(k_f, k_g) ≤ d`; each rank counts
    singular values above the precision policy's threshold for its own matrix. Report the
    spectra, not just r. Read from `analyze(p)` (pass an `Analysis` to reuse one).

    Args:
        p: the predictor or its `Analysis`.
        precision: the precision policy (default: the `Analysis`'s own, `Precision()` for a
            `Predictor`).
        rtol: deprecated: `Precision(rank_rtol=...)`.

    Raises:
        RankError: a rank threshold outside (0, 1) or not a number.

    Example:
        >>> import numpy as np, idlin
        >>> F = np.random.default_rng(0).normal(size=(6, 2)) @ np.ones((2, 3))  # rank 1, d = 3
        >>> G = np.random.default_rng(1).normal(size=(5, 3))
        >>> int(idlin.subspaces(idlin.Predictor(F, G)).effective_complexity)
        1
    """
    precision = with_legacy("subspaces", precision, rtol=("rank_rtol", rtol))
    a = as_analysis("p", p, precision=precision)
    kf, kg = a.embedding_rank, a.unembedding_rank
    s = Subspaces(
        effective_complexity=a.effective_complexity,
        embedding_rank=kf,
        unembedding_rank=kg,
        width=a.width,
        diverse=(kf == a.width) & (kg == a.width),
        embedding_spectrum=a.embedding_singular_values,
        unembedding_spectrum=a.unembedding_singular_values,
        log_odds_spectrum=a.log_odds_singular_values,
        rtol=jnp.asarray(a.precision.resolved_rank_rtol()),
        log_odds_threshold=a.log_odds_threshold,
        log_odds_gap=a.log_odds_gap,
        embedding_basis=_basis(a.embedding_right, kf),
        unembedding_basis=_basis(a.unembedding_right, kg),
        precision=a.precision,
    )
    return s


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Canonical:
    """Canonical coordinates of the distribution (docs/theory.md §4, Theorem EL).

    With `C = U_C Σ Wᵀ` truncated at rank r: `phi = U_C Σ^{1/2}` (N×r), `gamma = W Σ^{1/2}` (V×r),
    `phi @ gamma.T = C`. The maps `embedding_map = A_θ = Σ^{-1/2} Wᵀ Ĝ` and
    `unembedding_map = B_θ = Σ^{-1/2} U_Cᵀ F` (both r×d) send the model onto them:
    `A_θ f(x) = φ(x)`, `B_θ ĝ(y) = γ(y)`. Signs are fixed so that the largest-magnitude entry of
    each column of `U_C` is positive, making `phi`/`gamma` functions of the distribution alone
    (up to rotations inside repeated singular values). A pytree; under `jax.jit` the arrays
    keep all `m = min(N, V, d)` columns, those past `rank` zero.
    """

    phi: Float[Array, "contexts r"]
    gamma: Float[Array, "vocab r"]
    embedding_map: Float[Array, "r dim"]
    unembedding_map: Float[Array, "r dim"]
    singular_values: Float[Array, " r"]
    rank: IntScalar


def canonical_arrays(a: Analysis, r):
    """`(φ, γ, A_θ, B_θ, σ)` from an Analysis at rank r (static int, or traced: masked)."""
    k = concrete_int(r)
    Uc, W, s = a.log_odds_left, a.log_odds_right, a.log_odds_singular_values
    if k is not None:
        Uc, W, s = Uc[:, :k], W[:, :k], s[:k]
        root = jnp.sqrt(s)
        inv_root = 1.0 / root
    else:
        mask = rank_mask(s.shape[0], r)
        s = jnp.where(mask, s, 0)
        root = jnp.sqrt(s)
        inv_root = jnp.where(mask, 1.0 / jnp.where(mask, root, 1), 0)
    nonzero = (root > 0).astype(Uc.dtype)[None, :]
    Uc, W = Uc * nonzero, W * nonzero
    phi, gamma = Uc * root[None, :], W * root[None, :]
    A = (W.T @ a.centered_unembeddings) * inv_root[:, None]
    B = (Uc.T @ a.embeddings) * inv_root[:, None]
    return phi, gamma, A, B, s


def canonical_rank(a: Analysis, rank: int | None = None):
    """The rank `canonical` cuts at: `a`'s effective complexity, or `rank` checked to fit in the
    nonzero spectrum of C (above the policy's `resolved_rounding_rtol`). Routines that need only
    the factors `U_C`, `W`, `σ` at that rank (not the V×r `γ`) start here.

    Raises:
        RankError: r = 0 (concrete), or a `rank` that is not an integer or above the spectrum.
    """
    if rank is None:
        r = a.effective_complexity
    else:
        if isinstance(rank, bool) or not isinstance(rank, int | np.integer):
            raise RankError(f"rank: expected an integer, got {rank!r}")
        r = int(rank)
        # Numerically nonzero: above the rounding floor of the factored SVD, in the arithmetic
        # it ran in (float64 on the Gram route: max(N,V)·ε₃₂ would be 3% of σ₁ at V = 262144)
        arithmetic = a.precision.arithmetic or a.dtype
        floor = a.precision.resolved_rounding_rtol(a.num_contexts, a.vocab_size, dtype=arithmetic)
        nonzero = numerical_rank(a.log_odds_singular_values, floor)
        if not 1 <= r <= nonzero:
            raise RankError(
                f"rank: expected 1 ≤ r ≤ {nonzero} (the nonzero singular values of C), got {rank}"
            )
    if concrete_int(r) == 0:
        raise RankError(
            "effective complexity is 0: the centered log-odds C vanish (every context has the "
            "same next-token distribution), so there are no canonical coordinates"
        )
    return r


def canonical(
    p: Predictor | Analysis,
    *,
    precision: Precision | None = None,
    rtol: float | None = None,
    rank: int | None = None,
) -> Canonical:
    """Canonical coordinates `(φ, γ)` and the rank-r maps onto them (docs/theory.md §4, Theorem EL).

    Args:
        p: the predictor or its `Analysis`.
        precision: the precision policy for the effective complexity (see `subspaces`).
        rank: use this r instead of the numerical rank (e.g. a known ground-truth r); it must
            fit in the nonzero spectrum of C (above the policy's `resolved_rounding_rtol`).
        rtol: deprecated: `Precision(rank_rtol=...)`.

    Raises:
        RankError: r = 0 (p predicts the same distribution for every context: nothing to
            identify), or a requested rank that is not an integer or above what the spectrum
            has. Under tracing the r = 0 check is skipped (the arrays are then all zero).
    """
    precision = with_legacy("canonical", precision, rtol=("rank_rtol", rtol))
    a = as_analysis("p", p, precision=precision)
    r = canonical_rank(a, rank)
    k = concrete_int(r)
    phi, gamma, A, B, sv = canonical_arrays(a, r)
    c = Canonical(
        phi=phi, gamma=gamma, embedding_map=A, unembedding_map=B, singular_values=sv, rank=r
    )
    if is_traced(c):
        return c
    return dataclasses.replace(c, rank=k)


def minimal(
    p: Predictor | Analysis,
    *,
    precision: Precision | None = None,
    rtol: float | None = None,
    rank: int | None = None,
) -> Predictor:
    """The minimal member of p's class: `(φ, γ)`, width r, diverse (docs/theory.md §4, §5 move 6).

    `γ` is already centered (`1ᵀW = 0` because W spans columns of `Ĝ`), so `C` is unchanged.
    `precision`, `rank`: as in `canonical`; `rtol` deprecated (`Precision(rank_rtol=...)`).
    """
    precision = with_legacy("minimal", precision, rtol=("rank_rtol", rtol))
    c = canonical(p, precision=precision, rank=rank)
    if is_traced(c):
        return Predictor.tree_unflatten(None, (c.phi, c.gamma))
    return Predictor(c.phi, c.gamma)
