"""The causal inner product of Park, Choe & Veitch (2024) on unembeddings (docs/theory.md §8)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._errors import ConfigError, RankError
from .._precision import Precision, as_precision
from .._predictor import Predictor, as_predictor, center_rows


@dataclasses.dataclass(frozen=True)
class CausalInnerProduct:
    """`⟨u, v⟩_C = uᵀ (Σ + ε I)⁻¹ v`, with `Σ = Cov_y(g(y))` (docs/theory.md §8; Park, Choe &
    Veitch 2024).

    Attributes:
        transform: `A = (Σ + εI)^{-1/2}` (d×d, symmetric): `⟨u, v⟩_C = (Au)ᵀ(Av)`.
        unembeddings: (V, d) `G A`: every *uncentred* row mapped, `g(y) ↦ A g(y)`, as Park et
            al.'s code does (`g = gamma @ inv_sqrt_Cov_gamma`). Its mean row is `A·mean_y g`,
            not 0; differences `g(y) − g(y′)` (so `Ĝ A`, the centred version) are the same.
        metric: `A² = (Σ + εI)⁻¹` (d×d).
        covariance: `Σ = Ĝᵀ Ĝ / V` (d×d).
        eigenvalues: (d,) eigenvalues of `Σ`, descending.
        epsilon: the absolute ridge `ε = reg · λ_max(Σ)` that was added.
        condition_number: `λ_max(Σ) / λ_min(Σ)` (inf when `λ_min` is rounding of `λ_max`, below
            the policy's `resolved_rounding_rtol(V, d)` — `max(V, d)·ε` — times `λ_max`: Σ is
            singular, as for a width above the rank of Ĝ): how much the regularisation matters.
        regularised_condition_number: `(λ_max + ε) / (λ_min + ε)`, the conditioning of the
            matrix actually inverted.
        precision: the policy the ridge and the singularity rule came from.
    """

    transform: Float[Array, "dim dim"]
    unembeddings: Float[Array, "vocab dim"]
    metric: Float[Array, "dim dim"]
    covariance: Float[Array, "dim dim"]
    eigenvalues: Float[Array, " dim"]
    epsilon: float
    condition_number: float
    regularised_condition_number: float
    precision: Precision

    def inner(self, u: Float[Array, "*batch dim"], v: Float[Array, "*batch dim"]) -> Array:
        """`⟨u, v⟩_C = uᵀ (Σ + εI)⁻¹ v` over the last axis."""
        return jnp.sum((jnp.asarray(u) @ self.metric) * jnp.asarray(v), axis=-1)


@jax.jit
def _kernel(G, reg):
    Gh = center_rows(G)
    cov = Gh.T @ Gh / G.shape[0]  # (d, d), population covariance over the vocabulary
    lam, Q = jnp.linalg.eigh(cov)  # ascending
    lam = jnp.clip(lam, 0.0, None)[::-1]
    Q = Q[:, ::-1]
    eps = reg * lam[0]
    root = 1.0 / jnp.sqrt(lam + eps)
    A = (Q * root[None, :]) @ Q.T
    metric = (Q * (root**2)[None, :]) @ Q.T
    return A, metric, cov, lam, eps


def causal_inner_product(
    p: Predictor, *, precision: Precision | None = None, reg: float | None = None
) -> CausalInnerProduct:
    """The causal inner product `⟨u, v⟩_C = uᵀ Cov(γ)⁻¹ v` of p's representation space.

    Symbols: Park, Choe & Veitch (2024, "The linear representation hypothesis and the geometry
    of large language models", ICML, Thm 3.2 and §3.3) write `γ(y)` for the unembedding of
    token `y`, i.e. our `g(y)` — not the canonical `γ` of docs/theory.md §4. With `Ĝ = G − 1·mean_y
    G`
    (docs/theory.md §2):

        Σ = Cov_y(g(y)) = Ĝᵀ Ĝ / V,     A = (Σ + εI)^{-1/2},     ε = reg · λ_max(Σ),
        ⟨u, v⟩_C = uᵀ A² v,

    computed by one symmetric eigendecomposition `Σ = Q Λ Qᵀ`, `A = Q (Λ + ε)^{-1/2} Qᵀ`, with
    the population normalisation `1/V` that Park et al.'s code uses. The transformed
    unembeddings are the uncentred rows mapped, `g(y) ↦ A g(y)` (their
    `g = gamma @ inv_sqrt_Cov_gamma`): `unembeddings = G A`. `reg` is relative to `λ_max`, so
    the result does not depend on the overall scale of G; with `reg = 0` a singular Σ (width
    d > rank Ĝ) is refused instead of inverted.

    Args:
        p: the predictor (its unembeddings are used).
        precision: the policy: its `resolved_causal_reg` (default 1e-8) is the ridge, its
            `resolved_rounding_rtol` decides when Σ is singular.
        reg: a relative ridge `≥ 0` chosen for this call (overrides the policy's).

    Returns:
        A `CausalInnerProduct` with the transform, the metric and the conditioning.

    Raises:
        ConfigError: `reg < 0` or not finite.
        RankError: `Σ = 0` (all unembeddings equal), or `reg = 0` with a singular Σ.

    Example:
        >>> import numpy as np, idlin
        >>> from idlin.core.metrics import causal_inner_product
        >>> G = np.random.default_rng(0).normal(size=(50, 3))
        >>> cip = causal_inner_product(idlin.Predictor(np.ones((2, 3)), G), reg=0.0)
        >>> g = np.asarray(cip.unembeddings)  # G A: uncentred rows, as Park et al.
        >>> bool(np.allclose(np.cov(g.T, bias=True), np.eye(3), atol=1e-4))
        True
    """
    p = as_predictor("p", p)
    policy = as_precision(precision, p.dtype)
    reg = float(policy.resolved_causal_reg() if reg is None else reg)
    if not (reg >= 0.0 and reg < float("inf")):
        raise ConfigError(f"reg: expected a finite relative ridge ≥ 0, got {reg}")
    A, metric, cov, lam, eps = _kernel(p.unembeddings, jnp.asarray(reg, p.dtype))
    lmax, lmin, eps = float(lam[0]), float(lam[-1]), float(eps)
    if lmax <= 0.0:
        raise RankError("the unembedding covariance is 0 (all g(y) equal): no inner product")
    # Eigenvalues below max(V, d)·ε·λ_max are rounding noise of forming Σ = ĜᵀĜ/V.
    singular = lmin <= policy.resolved_rounding_rtol(p.vocab_size, p.width, dtype=p.dtype) * lmax
    if reg == 0.0 and singular:
        raise RankError(
            f"the unembedding covariance is singular (λ_min = {lmin:.3g}, λ_max = {lmax:.3g}, "
            f"width d = {p.width}): expected reg > 0 to regularise its inverse square root"
        )
    return CausalInnerProduct(
        transform=A,
        unembeddings=p.unembeddings @ A,
        metric=metric,
        covariance=cov,
        eigenvalues=lam,
        epsilon=eps,
        condition_number=float("inf") if singular else lmax / lmin,
        regularised_condition_number=(lmax + eps) / (lmin + eps),
        precision=policy,
    )
