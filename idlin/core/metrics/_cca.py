"""Canonical correlation analysis by one SVD per side (docs/theory.md §8, m_CCA).

Standardise the columns, take thin SVDs `X_s = U_x S_x V_xᵀ`, `Y_s = U_y S_y V_yᵀ`; the
whitened cross-covariance `Σ_xx^{-1/2} Σ_xy Σ_yy^{-1/2}` is `V_x (W_x U_xᵀ U_y W_y) V_yᵀ` with
diagonal weights `W = S (S² + λ(n−1))^{-1/2}` (`= I` when unregularised), so the canonical
correlations are the singular values of the small matrix `W_x U_xᵀ U_y W_y`. Direct and
exact. Against scikit-learn's iterative `CCA(scale=True)`: for full-rank inputs the mean agrees
to ~1e-7, individual correlations only to ~1e-3 near degenerate spectra (its fit stops at a
convergence tolerance); for rank-deficient inputs it returns NaN components where this gives 0.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._errors import ConfigError, RankError, ShapeError
from .._gap import check_comparable
from .._precision import Precision, as_precision, with_legacy
from .._predictor import Predictor, as_float_matrix, check_finite

SIDES = ("embedding", "unembedding")


@dataclasses.dataclass(frozen=True)
class CCAResult:
    """Canonical correlations of two data sets with the same rows.

    Attributes:
        correlations: (k,) canonical correlations `ρ₁ ≥ … ≥ ρ_k` in [0, 1].
        mean: `m_CCA = (1/k) Σ ρ_i`.
        ranks: `(rank X_s, rank Y_s)` after standardising (threshold `rtol · σ_max`); directions
            beyond them carry correlation 0.
        reg: the ridge λ added to both standardised covariances.
        rtol: the cut-off the ranks were counted at.
        precision: the policy it was resolved from (`resolved_rounding_rtol`).
    """

    correlations: Float[Array, " k"]
    mean: float
    ranks: tuple[int, int]
    reg: float
    rtol: float
    precision: Precision


def _standardise(X):
    Xc = X - jnp.mean(X, axis=0, keepdims=True)
    sd = jnp.std(Xc, axis=0, keepdims=True)
    return Xc / jnp.where(sd > 0, sd, 1.0)  # constant columns stay 0 and drop out by rank


def _side(X, reg, rtol):
    U, s, _ = jnp.linalg.svd(_standardise(X), full_matrices=False)
    keep = s > rtol * s[0]
    w = jnp.where(keep, s / jnp.sqrt(s**2 + reg * (X.shape[0] - 1)), 0.0)
    return U, w, jnp.sum(keep)


@jax.jit
def cca_kernel(X, Y, reg, rtol):
    """All `min(d_x, d_y)` canonical correlations (descending) and the two numerical ranks."""
    Ux, wx, kx = _side(X, reg, rtol)
    Uy, wy, ky = _side(Y, reg, rtol)
    K = (wx[:, None] * (Ux.T @ Uy)) * wy[None, :]
    rho = jnp.clip(jnp.linalg.svd(K, compute_uv=False), 0.0, 1.0)
    return rho, kx, ky


def cca(
    X: Float[Array, "n dx"],
    Y: Float[Array, "n dy"],
    *,
    reg: float = 0.0,
    num_components: int | None = None,
    precision: Precision | None = None,
    rtol: float | None = None,
) -> CCAResult:
    """Canonical correlations of `X` and `Y` (rows are paired samples) and their mean, m_CCA.

    Symbols: `X_s`, `Y_s` are the columns of X, Y centered and divided by their standard
    deviation (n rows); `Σ_xx = X_sᵀX_s/(n−1)` etc. The canonical correlations are the singular
    values of `(Σ_xx + λI)^{-1/2} Σ_xy (Σ_yy + λI)^{-1/2}`, computed from one thin SVD per side
    (module docstring), and `m_CCA = mean of the first k` (docs/theory.md §8; Hotelling 1936; the
    "mean
    CCA" of Roeder et al. 2021 and Nielsen et al., arXiv 2602.15438). Unregularised, with X
    and Y of full column rank d_x = d_y = k: `m_CCA = 1` iff Y is an invertible affine map of
    X. With rank-deficient inputs the missing directions get correlation 0, so rank-r inputs
    of width d related by an affine map give `m_CCA = r/d`, not 1. Invariant to invertible
    affine maps of either side. For full-rank inputs the mean equals scikit-learn's iterative
    `CCA(scale=True)` to ~1e-7 (its individual correlations can differ by ~1e-3 near
    degenerate spectra; with rank-deficient inputs it returns NaN components).

    Args:
        X: (n, d_x) float array, n ≥ 2.
        Y: (n, d_y) float array.
        reg: ridge λ ≥ 0 on the standardised covariances (unit-variance scale).
        num_components: k (default `min(d_x, d_y)`), at most that.
        precision: the policy of the cut-off below which singular values of `X_s`, `Y_s`
            count as 0 (`resolved_rounding_rtol`: `rounding_rtol`, default `max(n, d)·ε`); those
            directions get correlation 0 instead of noise.
        rtol: deprecated: `Precision(rounding_rtol=...)`.

    Returns:
        A `CCAResult`.

    Raises:
        ShapeError: not 2-D, different numbers of rows, n < 2.
        DTypeError, NonFiniteError: non-float or non-finite input.
        ConfigError: `reg < 0`, `num_components` outside `[1, min(d_x, d_y)]`, a cut-off outside
            (0, 1).
        RankError: X or Y is constant (no variation to correlate).

    Example:
        >>> import numpy as np
        >>> from idlin.core.metrics import cca
        >>> X = np.random.default_rng(0).normal(size=(30, 3))
        >>> round(cca(X, X @ np.diag([1.0, -2.0, 3.0]) + 5.0).mean, 5)
        1.0
    """
    precision = with_legacy("cca", precision, rtol=("rounding_rtol", rtol))
    X, Y = as_float_matrix("X", X), as_float_matrix("Y", Y)
    check_finite("X", X)
    check_finite("Y", Y)
    if X.shape[0] != Y.shape[0]:
        raise ShapeError(f"X and Y must have paired rows: got {X.shape[0]} and {Y.shape[0]}")
    n = X.shape[0]
    if n < 2:
        raise ShapeError(f"expected at least 2 rows to estimate covariances, got {n}")
    kmax = min(X.shape[1], Y.shape[1])
    k = kmax if num_components is None else int(num_components)
    if not 1 <= k <= kmax:
        raise ConfigError(f"num_components: expected 1 ≤ k ≤ {kmax}, got {num_components}")
    reg = float(reg)
    if not (0.0 <= reg < float("inf")):
        raise ConfigError(f"reg: expected a finite ridge ≥ 0, got {reg}")
    dtype = np.promote_types(X.dtype, Y.dtype)  # NumPy rule: strict-mode JAX refuses f32+f64
    X, Y = X.astype(dtype), Y.astype(dtype)
    policy = as_precision(precision, dtype)
    rtol = policy.resolved_rounding_rtol(n, X.shape[1], Y.shape[1], dtype=dtype)
    if not 0.0 < rtol < 1.0:  # the default at n ≥ 1/ε rows
        raise ConfigError(f"rtol: expected a relative threshold in (0, 1), got {rtol}")
    rho, kx, ky = cca_kernel(X, Y, jnp.asarray(reg, dtype), jnp.asarray(rtol, dtype))
    kx, ky = int(kx), int(ky)
    if min(kx, ky) == 0:
        raise RankError(f"X or Y has no variation: standardised ranks are {kx} and {ky}")
    rho = rho[:k]
    return CCAResult(
        correlations=rho,
        mean=float(jnp.mean(rho)),
        ranks=(kx, ky),
        reg=reg,
        rtol=rtol,
        precision=policy,
    )


def mean_cca(
    p: Predictor,
    q: Predictor,
    *,
    side: str = "embedding",
    reg: float = 0.0,
    precision: Precision | None = None,
) -> CCAResult:
    """m_CCA between the representations of two predictors (docs/theory.md §8).

    `side="embedding"`: `cca(F_p, F_q)` over the N contexts; `side="unembedding"`:
    `cca(G_p, G_q)` over the V tokens. These are raw representations: diverse equivalent models
    of one width (Theorem L: `F_q = F_p Mᵀ`) score 1, but extended-equivalent ones (docs/theory.md
    §4)
    need not — invisible components are arbitrary. See `cca` for the definition.

    Raises:
        ConfigError: unknown `side`, bad `reg`.
        IncompatibleError: different N or V.
    """
    if side not in SIDES:
        raise ConfigError(f"side: expected one of {SIDES}, got {side!r}")
    p, q = check_comparable(p, q)
    if side == "embedding":
        return cca(p.embeddings, q.embeddings, reg=reg, precision=precision)
    return cca(p.unembeddings, q.unembeddings, reg=reg, precision=precision)
