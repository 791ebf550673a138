"""Principal angles between the subspaces of two predictors (docs/theory.md §3, §4, §8).

With orthonormal bases `Q₁`, `Q₂` of two subspaces, the cosines of the principal angles are the
singular values of `Q₁ᵀQ₂`. `arccos` loses all accuracy near 0 (an angle of 1e-8 has cosine
1 − 5e-17), so small angles come from the sines, the singular values of `Q₂ − Q₁Q₁ᵀQ₂`
(Björck & Golub 1973; the rule of `scipy.linalg.subspace_angles`).

Memory (docs/theory.md §4.3): the token-side canonical span `col(Cᵀ)` has the V×r basis `W`; no
copy of it is formed: `Q₁ᵀQ₂` comes from the float64 Gram of `[W_p, W_q]` (a block of rows at a
time) and the sines from the R factor of `Q₂ − Q₁Q₁ᵀQ₂` accumulated over row chunks (TSQR).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._analysis import Analysis
from .._errors import ConfigError, IncompatibleError
from .._gap import pair_analyses
from .._precision import Precision, with_legacy
from .._predictor import Predictor
from .._subspaces import canonical_rank, subspaces
from . import _canonical_fit

WHICH = ("embedding", "unembedding", "canonical", "canonical_unembedding")


@dataclasses.dataclass(frozen=True)
class PrincipalAngles:
    """Principal angles `0 ≤ θ₁ ≤ … ≤ θ_k ≤ π/2` between two subspaces, `k = min(k_p, k_q)`.

    Attributes:
        angles: (k,) radians, ascending.
        cosines: (k,) `cos θ_i`, descending (the canonical correlations of the two bases).
        dims: `(k_p, k_q)`, the dimensions of the two subspaces.
        which: which subspaces were compared (see `principal_angles`).
    """

    angles: Float[Array, " k"]
    cosines: Float[Array, " k"]
    dims: tuple[int, int]
    which: str

    @property
    def max_angle(self) -> float:
        """The largest angle `θ_k` (0 iff the smaller subspace lies in the larger one)."""
        return float(self.angles[-1]) if self.angles.shape[0] else 0.0


def _theta(cos, sin):
    """Angles from cosines (descending) and sines (ascending): arcsin below π/4, else arccos."""
    return jnp.where(cos**2 >= 0.5, jnp.arcsin(jnp.clip(sin, 0.0, 1.0)), jnp.arccos(cos))


@jax.jit
def angles_kernel(Q1, Q2):
    """Principal angles (ascending) and cosines (descending) of two orthonormal bases."""
    if Q1.shape[1] < Q2.shape[1]:
        Q1, Q2 = Q2, Q1  # project the smaller basis off the larger one
    M = Q1.T @ Q2  # (k1, k2), k1 ≥ k2
    cos = jnp.clip(jnp.linalg.svd(M, compute_uv=False), 0.0, 1.0)  # descending
    sin = jnp.linalg.svd(Q2 - Q1 @ M, compute_uv=False)[::-1]  # ascending, paired with cos
    return _theta(cos, sin), cos


def _r_factor_of_rows(rows_of, init, *arrays, rows: int):
    """The R factor of the tall matrix whose row chunks are `rows_of(*chunk)` (TSQR: the R of
    `[R; next chunk]`, `rows` rows of `arrays` at a time): O(rows·k) memory."""

    def step(R, *chunk):
        return jnp.linalg.qr(jnp.concatenate([R, rows_of(*chunk)]), mode="r")

    total = arrays[0].shape[0]
    full, tail = divmod(total, rows)

    def body(i, R):
        return step(R, *(jax.lax.dynamic_slice_in_dim(A, i * rows, rows) for A in arrays))

    R = jax.lax.fori_loop(0, full, body, init) if full else init
    return step(R, *(A[full * rows :] for A in arrays)) if tail else R


@functools.partial(jax.jit, static_argnames=("k1", "k2", "rows"))
def basis_angles(B1, B2, *, k1: int, k2: int, rows: int):
    """`angles_kernel` of the normalised first k1 (k2) columns of the tall bases B1, B2 without
    forming them: cosines from the float64 Gram `[B1, B2]ᵀ[B1, B2]`, sines from the R factor of
    `Q₂ − Q₁M` (`M = Q₁ᵀQ₂`) accumulated over chunks of `rows` rows. Each basis is an array or
    a `(block, center, factor)` triple (`Analysis.log_odds_right_parts`): W = Ĝ B is never
    formed."""
    if k1 < k2:
        B1, B2, k1, k2 = B2, B1, k2, k1  # project the smaller basis off the larger one
    X, Y = _canonical_fit.factored(B1, k1), _canonical_fit.factored(B2, k2)
    H, T1, T2 = _canonical_fit.bases_gram(X, Y)
    acc, m1, m2 = H.dtype, T1.shape[1], T2.shape[1]
    n1 = jnp.sqrt(jnp.diagonal(H)[:k1])
    n2 = jnp.sqrt(jnp.diagonal(H)[m1 : m1 + k2])
    M = H[:k1, m1 : m1 + k2] / n1[:, None] / n2[None, :]  # Q₁ᵀQ₂ (k1, k2)
    cos = jnp.clip(jnp.linalg.svd(M, compute_uv=False), 0.0, 1.0)
    S1 = jnp.zeros((m1, k1), acc).at[:k1].set(jnp.diag(1 / n1)) @ M  # Q₁M = U1 S1
    S2 = jnp.zeros((m2, k2), acc).at[:k2].set(jnp.diag(1 / n2))  # Q₂ = U2 S2
    rows1 = _canonical_fit.centered_rows(X, T1 @ S1)
    rows2 = _canonical_fit.centered_rows(Y, T2 @ S2)

    def z(b1, b2):
        return rows2(b2) - rows1(b1)

    R = _r_factor_of_rows(z, jnp.zeros((k2, k2), acc), X[0], Y[0], rows=rows)
    sin = jnp.linalg.svd(R, compute_uv=False)[::-1]
    dt = X[0].dtype
    return _theta(cos, sin).astype(dt), cos.astype(dt)


def _bases(p, q, which: str, rank):
    if which in ("embedding", "unembedding"):
        if p.width != q.width:
            raise IncompatibleError(
                f"which={which!r} compares subspaces of R^d in the models' own coordinates: "
                f"expected equal widths, got d={p.width} and d={q.width}; use "
                "which='canonical' or 'canonical_unembedding' across widths"
            )
        attr = f"{which}_basis"
        return getattr(subspaces(p), attr), getattr(subspaces(q), attr)
    # φ = U_C Σ^{1/2} and γ = W Σ^{1/2} have orthogonal columns: their spans are those of U_C, W.
    kp, kq = int(canonical_rank(p, rank)), int(canonical_rank(q, rank))
    X1, X2 = p.log_odds_left[:, :kp], q.log_odds_left[:, :kq]
    return X1 / jnp.linalg.norm(X1, axis=0, keepdims=True), X2 / jnp.linalg.norm(
        X2, axis=0, keepdims=True
    )


def principal_angles(
    p: Predictor,
    q: Predictor,
    *,
    which: str = "canonical",
    precision: Precision | None = None,
    rank: int | None = None,
    rtol: float | None = None,
) -> PrincipalAngles:
    """Principal angles between corresponding subspaces of p and q (docs/theory.md §3, §8).

    Subspaces (`which`):

    - `"canonical"`: `col(C) = span φ ⊂ R^N`, the identifiable context-side span (docs/theory.md §4;
      `col(C) = F(U)`, so it equals the span of the visible embedding part over contexts).
      Defined by the distribution: all angles are 0 for `p ~ q`, for any widths.
    - `"canonical_unembedding"`: `col(Cᵀ) = span γ ⊂ R^V`, likewise on the token side.
    - `"embedding"`: `E = rowspace(F) ⊂ R^d`, and `"unembedding"`: `U = rowspace(Ĝ) ⊂ R^d`
      (`idlin.subspaces`). These live in each model's own coordinates, so they are comparable
      only for models of one width sharing a coordinate system; a basis change moves them (a raw,
      not an identifiable, comparison).

    With orthonormal bases `Q_p`, `Q_q`: `cos θ_i = σ_i(Q_pᵀ Q_q)`; angles below π/4 come from
    `sin θ_i = σ_{k+1−i}(Q_q − Q_p Q_pᵀ Q_q)` (Björck & Golub 1973, Math. Comp. 27:579).

    Args:
        p, q: predictors on the same contexts and vocabulary.
        which: one of `WHICH` (above).
        precision: the policy of the spans' ranks (see `idlin.subspaces`; default: each
            `Analysis`'s own, `Precision()` for a `Predictor`).
        rank: for the canonical spans, cut both at this r (e.g. a known truth's r).
        rtol: deprecated: `Precision(rank_rtol=...)`.

    Returns:
        `PrincipalAngles` with `min(k_p, k_q)` angles and the two dimensions.

    Raises:
        ConfigError: unknown `which`.
        IncompatibleError: different N or V; different widths for `"embedding"`/`"unembedding"`.
        RankError: as `idlin.canonical` (zero effective complexity, bad rank or rtol).

    Example:
        >>> import numpy as np, idlin
        >>> from idlin.core.metrics import principal_angles
        >>> p = idlin.Predictor(np.random.default_rng(0).normal(size=(6, 2)), np.eye(4, 2))
        >>> float(principal_angles(p, p).max_angle) < 1e-6
        True
    """
    if which not in WHICH:
        raise ConfigError(f"which: expected one of {WHICH}, got {which!r}")
    precision = with_legacy("principal_angles", precision, rtol=("rank_rtol", rtol))
    p, q = pair_analyses(p, q, precision=precision)  # an Analysis given is reused
    assert isinstance(p, Analysis) and isinstance(q, Analysis)  # pair_analyses returns them
    if which == "canonical_unembedding":  # V×r bases: never copied (module docstring)
        k1, k2 = int(canonical_rank(p, rank)), int(canonical_rank(q, rank))
        theta, cos = basis_angles(
            p.log_odds_right_parts, q.log_odds_right_parts, k1=k1, k2=k2,
            rows=_canonical_fit.CHUNK_ROWS,
        )  # fmt: skip
        return PrincipalAngles(angles=theta, cosines=cos, dims=(k1, k2), which=which)
    Q1, Q2 = (jnp.asarray(b, p.dtype) for b in _bases(p, q, which, rank))
    dims = (int(Q1.shape[1]), int(Q2.shape[1]))
    if min(dims) == 0:
        empty = jnp.zeros((0,), p.dtype)
        return PrincipalAngles(empty, empty, dims, which)
    theta, cos = angles_kernel(Q1, Q2)
    return PrincipalAngles(angles=theta, cosines=cos, dims=dims, which=which)
