"""Least-squares maps between the canonical coordinates of two predictors, with R² (docs/theory.md
§4, §8).

Equivalent models share `(φ, γ)` up to the rotations left by repeated singular values and the sign
convention (Theorem EL), so a linear map fits exactly: `R² = 1`. For trained, approximately
equivalent models `R²` measures how close the identifiable parts are, for any widths.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._gap import pair_analyses
from .._precision import Precision, with_legacy
from .._predictor import Predictor
from .._subspaces import canonical


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


@jax.jit
def lstsq_fit(X, Y, rcond):
    """`B = argmin ‖Y − X B‖_F` (directions of X below `rcond·σ₁(X)` cut off) with
    `SS_res = ‖Y − X B‖²_F` and `SS_tot = ‖Y − 1·mean(Y)‖²_F`."""
    B, *_ = jnp.linalg.lstsq(X, Y, rcond=rcond)
    ss_res = jnp.sum((Y - X @ B) ** 2)
    ss_tot = jnp.sum((Y - jnp.mean(Y, axis=0, keepdims=True)) ** 2)
    return B, ss_res, ss_tot


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
    cp = canonical(ap, rank=rank)
    cq = canonical(aq, rank=rank)
    rcond = ap.precision.resolved_lstsq_rcond()
    B, res_f, tot_f = (jnp.asarray(a) for a in lstsq_fit(cp.phi, cq.phi, rcond))
    D, res_g, tot_g = (jnp.asarray(a) for a in lstsq_fit(cp.gamma, cq.gamma, rcond))
    res_f, tot_f, res_g, tot_g = float(res_f), float(tot_f), float(res_g), float(tot_g)
    return CanonicalFit(
        embedding_map=B.T,
        unembedding_map=D.T,
        embedding_r2=_r2(res_f, tot_f),
        unembedding_r2=_r2(res_g, tot_g),
        r2=_r2(res_f + res_g, tot_f + tot_g),
        ranks=(cp.rank, cq.rank),
        same_rank=cp.rank == cq.rank,
        singular_values=(cp.singular_values, cq.singular_values),
        precision=ap.precision.on_host(),
    )
