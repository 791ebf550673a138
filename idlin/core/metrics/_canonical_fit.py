"""Least-squares maps between the canonical coordinates of two predictors, with R² (docs/theory.md
§4, §8).

Equivalent models share `(φ, γ)` up to the rotations left by repeated singular values and the sign
convention (Theorem EL), so a linear map fits exactly: `R² = 1`. For trained, approximately
equivalent models `R²` measures how close the identifiable parts are, for any widths.

Memory (docs/theory.md §4.3): `γ = W Σ^{1/2}` is V×r, so neither γ nor a copy is formed. With the
orthonormal columns of `W` (or `U_C`), `X = W_p D_p` and `Y = W_q D_q` (`D = diag √σ`): the fit
needs only the float64 Gram of `[W_p, W_q]` (accumulated a block of rows at a time) and small
factorisations; the sums of squares are quadratic forms in that Gram (no second pass).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._gap import pair_analyses
from .._gram import cross_gram64
from .._precision import Precision, with_legacy
from .._predictor import Predictor
from .._subspaces import canonical_rank

# Rows per chunk of the passes over a tall basis (`metrics.principal_angles`): O(CHUNK_ROWS·r)
# memory, never a V×r temporary.
CHUNK_ROWS = 4096


@dataclasses.dataclass(frozen=True)
class CanonicalFit:
    """The least-squares maps `φ_q ≈ φ_p Bᵀ`, `γ_q ≈ γ_p Dᵀ` and their `R²` (docs/theory.md §8).

    Attributes:
        embedding_map: `B` (r_q×r_p): `φ_q(x) ≈ B φ_p(x)`.
        unembedding_map: `D` (r_q×r_p): `γ_q(y) ≈ D γ_p(y)`.
        embedding_r2: `1 − SS_res(φ)/SS_tot(φ_q)`.
        unembedding_r2: `1 − SS_res(γ)/SS_tot(γ_q)`.
        r2: `1 − (SS_res(φ) + SS_res(γ)) / (SS_tot(φ_q) + SS_tot(γ_q))`.
        ranks: `(r_p, r_q)`, the ranks the canonical coordinates were cut at.
        same_rank: `r_p == r_q`; when False, R² < 1 is expected (a rank-r_p map cannot reproduce
            r_q > r_p independent coordinates) and the two models are not equivalent.
        singular_values: `(σ(C_p), σ(C_q))`, the retained spectra, to judge the rank choice.
        precision: p's policy: the ranks' thresholds and the least-squares cut-off.
    """

    embedding_map: Float[Array, "r_q r_p"]
    unembedding_map: Float[Array, "r_q r_p"]
    embedding_r2: float
    unembedding_r2: float
    r2: float
    ranks: tuple[int, int]
    same_rank: bool
    singular_values: tuple[Float[Array, " r_p"], Float[Array, " r_q"]]
    precision: Precision


def used_columns(basis, k: int):
    """The first k columns of a tall basis, or the whole basis when k covers most of it (a slice
    is a copy: at most half the basis is ever copied; the small factors pad the rest with 0)."""
    return basis if 2 * k > basis.shape[1] else basis[:, :k]


def factored(basis, k: int):
    """`(block, center, factor)` with the basis `(block − 1·centerᵀ) @ factor` cut to its first k
    columns (`used_columns`); factor None, or a plain array: the block is the basis."""
    block, center, factor = basis if isinstance(basis, tuple) else (basis, None, None)
    if factor is None:
        return used_columns(block, k), center, None
    return block, center, used_columns(factor, k)


def bases_gram(X, Y):
    """The Gram `[Xb, Yb]ᵀ[Xb, Yb]` of two factored bases (`factored` triples) as `Tᵀ H₀ T`:
    `H₀` the float64 Gram of the blocks side by side (centred, a block of rows at a time:
    `cross_gram64`), `T` the factors (block-diagonal). Returns `(H, Tx, Ty)` in the
    accumulator's dtype (identity factors made explicit)."""
    (Xb, cx, Tx), (Yb, cy, Ty) = X, Y
    acc = jnp.float64 if jax.config.read("jax_enable_x64") else Xb.dtype
    H0 = cross_gram64((Xb, Yb), centers=(cx, cy)).astype(acc)
    Tx = jnp.eye(Xb.shape[1], dtype=acc) if Tx is None else Tx.astype(acc)
    Ty = jnp.eye(Yb.shape[1], dtype=acc) if Ty is None else Ty.astype(acc)
    T = jax.scipy.linalg.block_diag(Tx, Ty)
    return T.T @ H0 @ T, Tx, Ty


def centered_rows(basis, T):
    """`rows ↦ (rows − center) @ T` for a factored basis's block rows (a chunk of the basis)."""
    _, center, _ = basis
    if center is None:
        return lambda b: b.astype(T.dtype) @ T
    shift = center.astype(T.dtype) @ T
    return lambda b: b.astype(T.dtype) @ T - shift[None, :]


@functools.partial(jax.jit, static_argnames=("kx", "ky"))
def lstsq_fit(X, sx, Y, sy, rcond, *, kx: int, ky: int):
    """`B = argmin ‖Y − X B‖_F` for `X = Xb[:, :kx] diag(√sx)`, `Y = Yb[:, :ky] diag(√sy)` (bases
    of orthonormal columns, e.g. `U_C` or `W`; zero σ give zero columns), directions of X below
    `rcond·σ₁(X)` cut off, with `SS_res = ‖Y − X B‖²_F` and `SS_tot = ‖Y − 1·mean(Y)‖²_F`.
    Each basis is an array, or `(block, center, factor)` with `Xb = (block − 1·centerᵀ) @ factor`
    (`Analysis.log_odds_right_parts`: `W = Ĝ B` from G, ḡ and the small B, never formed).

    Everything comes from one float64 Gram `H₀` of the blocks side by side (a symmetric rank-k
    update, a block of rows at a time: `idlin.core._gram.cross_gram64`), the factors and the blocks'
    column means: with `H = Tᵀ H₀ T` (T the factors, block-diagonal) the Gram of `[Xb, Yb]`,
    `H_xx = U Λ Uᵀ` gives `Xb = Q Λ^{1/2} Uᵀ` with Q orthonormal, so the SVD of X is that of the
    small `Λ^{1/2} Uᵀ D_x = P Σ Zᵀ` (no squared condition number: H_xx ≈ I) and
    `B = Z Σ⁺ Pᵀ Λ^{-1/2} Uᵀ H_xy D_y`. The sums of squares are quadratic forms in H,
    `SS_res = tr(D_Yᵀ H_yy D_Y) − 2 tr(D_XBᵀ H_xy D_Y) + tr(D_XBᵀ H_xx D_XB)`: float32 data's
    products are exact in float64, so they carry ~ε₆₄·‖Y‖² absolute error (R² to ~1e-15),
    and no second pass over the rows is needed (at V = 49152, d = 576 the pass took 0.6 s)."""
    X, Y = factored(X, kx), factored(Y, ky)
    (Xb, _, _), (Yb, cy, _) = X, Y
    H, Tx, Ty = bases_gram(X, Y)
    acc, n = H.dtype, Xb.shape[0]
    mx, my = Tx.shape[1], Ty.shape[1]
    Hxx, Hxy, Hyy = H[:mx, :mx], H[:mx, mx:], H[mx:, mx:]

    def root(s):  # √σ, zero where σ = 0 (a zero column of the coordinates)
        s = s.astype(acc)
        return jnp.sqrt(jnp.where(s > 0, s, 0))

    dx, dy = root(sx[:kx]), root(sy[:ky])
    lam, U = jnp.linalg.eigh(Hxx[:kx, :kx])  # ≈ I: the columns within a rank are orthonormal
    keep = lam > 0
    lam_root = jnp.sqrt(jnp.where(keep, lam, 0))
    inv_root = jnp.where(keep, 1 / jnp.where(keep, lam_root, 1), 0)
    P, sig, Zt = jnp.linalg.svd((U * lam_root[None, :]).T * dx[None, :])
    QtY = (inv_root[:, None] * (U.T @ Hxy[:kx, :ky])) * dy[None, :]
    ok = (sig > 0) & (sig >= rcond * sig[0])
    B = Zt.T @ (jnp.where(ok, 1 / jnp.where(ok, sig, 1), 0)[:, None] * (P.T @ QtY))  # (kx, ky)
    # Y = Yb @ DY, X B = Xb @ DXB
    DY = jnp.zeros((my, ky), acc).at[:ky].set(jnp.diag(dy))
    DXB = jnp.zeros((mx, ky), acc).at[:kx].set(dx[:, None] * B)
    yy = jnp.sum(DY * (Hyy @ DY))
    xy = jnp.sum(DXB * (Hxy @ DY))
    xx = jnp.sum(DXB * (Hxx @ DXB))
    block_mean = jnp.mean(Yb, axis=0, dtype=acc)
    if cy is not None:
        block_mean = block_mean - cy.astype(acc)
    mean = block_mean @ Ty @ DY
    zero = jnp.zeros((), acc)  # rounding can take an exact zero below 0
    ss_res = jnp.maximum(yy - 2 * xy + xx, zero)
    ss_tot = jnp.maximum(yy - n * jnp.sum(jnp.square(mean)), zero)
    return B.astype(Xb.dtype), ss_res, ss_tot


def _r2(ss_res: float, ss_tot: float) -> float:
    # SS_tot = 0 only for constant targets; a perfect fit of them is R² = 1, anything else −inf.
    if ss_tot > 0:
        return 1.0 - ss_res / ss_tot
    return 1.0 if ss_res == 0 else float("-inf")


def canonical_fit(
    p: Predictor,
    q: Predictor,
    *,
    rank: int | None = None,
    precision: Precision | None = None,
    rtol: float | None = None,
) -> CanonicalFit:
    """Fit q's canonical coordinates from p's by least squares and report R² (docs/theory.md §4,
    §8).

    Symbols: `(φ_p, γ_p)` and `(φ_q, γ_q)` are the canonical coordinates of Theorem EL
    (`idlin.canonical`, `φ = U_C Σ^{1/2}` (N×r), `γ = W Σ^{1/2}` (V×r)). Two separate linear
    least-squares fits without intercept (the coordinates of equivalent models agree up to an
    orthogonal map, no shift):

        B = argmin ‖φ_q − φ_p Bᵀ‖²_F,    D = argmin ‖γ_q − γ_p Dᵀ‖²_F,
        R²_φ = 1 − ‖φ_q − φ_p Bᵀ‖²_F / ‖φ_q − 1·mean_x φ_q‖²_F   (likewise R²_γ),

    and the overall `R²` pools both sides' sums of squares; the least-squares cut-off is the
    policy's `resolved_lstsq_rcond` (docs/theory.md §3.1). `SS_tot` is centered, so `R² ≤ 1` and
    it is a strict score (a no-intercept fit can score below 0). `R² = 1` (to rounding) for exactly
    equivalent p, q of any widths; not symmetric in p and q.

    Args:
        p: the predictor whose coordinates are the regressors.
        q: the predictor whose coordinates are predicted (same contexts and vocabulary).
        rank: cut both canonical coordinates at this r (e.g. the truth's r for trained models,
            whose spectra have no exact zeros); default: each model's numerical rank.
        precision: the policy of the ranks when `rank` is None (see `idlin.subspaces`) and of
            the least-squares cut-off; trained models need a rank threshold tied to their
            accuracy (`Precision(mean_kl=...)`, docs/theory.md §8).
        rtol: deprecated: `Precision(rank_rtol=...)`.

    Returns:
        A `CanonicalFit`; `ranks`/`same_rank` report rank disagreements instead of failing.

    Raises:
        IncompatibleError: different N or V.
        RankError: a zero effective complexity, a bad rank threshold, or a `rank` above the
            nonzero spectrum of either model.

    Example:
        >>> import jax, numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(20, 3)), rng.normal(size=(9, 3)))
        >>> q = idlin.sample_equivalent(p, key=jax.random.key(0))
        >>> bool(idlin.canonical_fit(p, q).r2 > 1 - 1e-4)
        True
    """
    precision = with_legacy("canonical_fit", precision, rtol=("rank_rtol", rtol))
    ap, aq = pair_analyses(p, q, precision=precision)  # an Analysis given is reused
    kp, kq = int(canonical_rank(ap, rank)), int(canonical_rank(aq, rank))
    rcond = ap.precision.resolved_lstsq_rcond()

    def fit(x, y):
        sx, sy = ap.log_odds_singular_values, aq.log_odds_singular_values
        return lstsq_fit(x, sx, y, sy, rcond, kx=kp, ky=kq)

    B, res_f, tot_f = fit(ap.log_odds_left, aq.log_odds_left)  # φ = U_C Σ^{1/2}
    D, res_g, tot_g = fit(ap.log_odds_right_parts, aq.log_odds_right_parts)  # γ = W Σ^{1/2}
    res_f, tot_f, res_g, tot_g = float(res_f), float(tot_f), float(res_g), float(tot_g)
    return CanonicalFit(
        embedding_map=B.T,
        unembedding_map=D.T,
        embedding_r2=_r2(res_f, tot_f),
        unembedding_r2=_r2(res_g, tot_g),
        r2=_r2(res_f + res_g, tot_f + tot_g),
        ranks=(kp, kq),
        same_rank=kp == kq,
        singular_values=(ap.log_odds_singular_values[:kp], aq.log_odds_singular_values[:kq]),
        precision=ap.precision.on_host(),
    )
