"""Identifiable subspaces, effective complexity, canonical coordinates, minimal model.

THEORY §3–§4.

Everything comes from two thin SVDs, `F = U_F S_F V_Fᵀ` and `Ĝ = U_G S_G V_Gᵀ`, and one small
one: `C = F Ĝᵀ = U_F K U_Gᵀ` with `K = S_F V_Fᵀ V_G S_G` (at most d×d), so the spectrum and the
singular vectors of the N×V matrix `C` cost `O((N+V)d²)` and never materialise it.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._errors import RankError
from ._predictor import Predictor, as_predictor, center_rows


def default_rtol(p: Predictor) -> float:
    """`√ε(dtype)` relative to the largest singular value (1.5e-8 in float64, 3.5e-4 in float32).

    NumPy's exact-arithmetic convention `max(N, V)·ε` is too strict here: a member reached by a
    basis change of condition κ carries rounding of ~κ·ε·‖F‖‖Ĝ‖ in its factors, which shows up
    as spurious small singular values of C. Trained models need a threshold tied to their
    accuracy (THEORY §8): pass `rtol`, and read the reported spectrum and gap."""
    return float(np.sqrt(np.finfo(p.dtype).eps))


def accuracy_rtol(p: Predictor, mean_kl: float, *, spectrum=None) -> float:
    """Rank threshold for a model that matches a distribution only to mean KL `mean_kl` (§3, §8).

    `τ = 2·√(2·KL)·(√N + √V)`, returned relative to `σ₁(C)` and clipped into `[ε, 0.5]`. Why:
    by Weyl, `σ_{r+1}(C_θ) ≤ ‖C_θ − C*‖₂` when the truth has rank r; a mean KL gives an RMS
    log-odds error of about `√(2·KL)` (KL ≈ ½·Var_y ΔC per context), and an N×V error of RMS s
    spread over the matrix has spectral norm ≈ `s(√N + √V)`; ×2 for safety. A float-rounding
    threshold (`default_rtol`) reports rank d for every trained model.

    Args:
        p: the trained model; mean_kl: its mean KL to the distribution it approximates (nats).
        spectrum: singular values of `C_θ` if already computed.
    """
    if spectrum is None:
        spectrum = subspaces(p).log_odds_spectrum
    s1 = float(np.asarray(spectrum)[0])
    eps = float(np.finfo(p.dtype).eps)
    if s1 <= 0:
        return 0.5
    tau = 2.0 * np.sqrt(2.0 * max(mean_kl, 0.0)) * (np.sqrt(p.num_contexts) + np.sqrt(p.vocab_size))
    return float(np.clip(tau / s1, eps, 0.5))


def numerical_rank(spectrum, rtol: float) -> int:
    """Number of singular values above `rtol · σ_max` (0 for an all-zero spectrum)."""
    s = np.asarray(spectrum)
    if s.size == 0 or s[0] <= 0:
        return 0
    return int(np.sum(s > rtol * s[0]))


def spectral_gap(spectrum, rank: int) -> float:
    """`σ_r / σ_{r+1}`: how clearly the spectrum separates at the chosen rank (inf if nothing is
    cut off or the next singular value is exactly 0)."""
    s = np.asarray(spectrum)
    if rank == 0 or rank >= s.size or s[rank] == 0:
        return float("inf")
    return float(s[rank - 1] / s[rank])


@jax.jit
def svd_kernel(F, G):
    """The three SVDs behind every routine of this module: of `F`, of `Ĝ`, and of
    `K = S_F V_Fᵀ V_G S_G` whose singular values are those of `C` (returned unsorted-free)."""
    Gh = center_rows(G)
    UF, sF, VFt = jnp.linalg.svd(F, full_matrices=False)
    UG, sG, VGt = jnp.linalg.svd(Gh, full_matrices=False)
    K = (sF[:, None] * (VFt @ VGt.T)) * sG[None, :]
    u, sC, vt = jnp.linalg.svd(K, full_matrices=False)
    return UF, sF, VFt, UG, sG, VGt, u, sC, vt


@dataclasses.dataclass(frozen=True)
class Subspaces:
    """Identifiable dimensions and spans of a predictor (THEORY §3).

    Attributes:
        effective_complexity: `r = rank(C)`, a property of the distribution.
        embedding_rank: `k_f = dim E`, `E = rowspace(F)`.
        unembedding_rank: `k_g = dim U`, `U = rowspace(Ĝ)`.
        width: `d`.
        diverse: `k_f = k_g = d`.
        embedding_spectrum, unembedding_spectrum, log_odds_spectrum: singular values of F, Ĝ, C.
        rtol: the relative threshold used for all three ranks.
        log_odds_gap: `σ_r(C)/σ_{r+1}(C)`, the separation at the reported rank.
        embedding_basis: (d, k_f) orthonormal basis of E.
        unembedding_basis: (d, k_g) orthonormal basis of U.
    """

    effective_complexity: int
    embedding_rank: int
    unembedding_rank: int
    width: int
    diverse: bool
    embedding_spectrum: np.ndarray
    unembedding_spectrum: np.ndarray
    log_odds_spectrum: np.ndarray
    rtol: float
    log_odds_gap: float
    embedding_basis: np.ndarray
    unembedding_basis: np.ndarray

    def projector(self, which: str) -> np.ndarray:
        """`P_E` or `P_U` (d×d) for `which` in {"embedding", "unembedding"}."""
        basis = {"embedding": self.embedding_basis, "unembedding": self.unembedding_basis}[which]
        return basis @ basis.T


def _check_rtol(rtol: float) -> float:
    rtol = float(rtol)
    if not (0.0 < rtol < 1.0):
        raise RankError(f"rtol: expected a relative threshold in (0, 1), got {rtol}")
    return rtol


def subspaces(p: Predictor, *, rtol: float | None = None) -> Subspaces:
    """Ranks, spectra and bases of the identifiable subspaces of p (THEORY §3).

    `E = rowspace(F)`, `U = rowspace(Ĝ)`, `r = rank(C) ≤ min(k_f, k_g) ≤ d`; each rank counts
    singular values above `rtol · σ_max` of its own matrix. Report the spectra, not just r.

    Args:
        p: the predictor.
        rtol: relative threshold (default `default_rtol(p)`, `√ε`).

    Raises:
        RankError: rtol outside (0, 1).

    Example:
        >>> import numpy as np, idlin
        >>> F = np.random.default_rng(0).normal(size=(6, 2)) @ np.ones((2, 3))  # rank 1, d = 3
        >>> G = np.random.default_rng(1).normal(size=(5, 3))
        >>> idlin.subspaces(idlin.Predictor(F, G)).effective_complexity
        1
    """
    return analyse(p, rtol=rtol)[0]


def analyse(p: Predictor, *, rtol: float | None = None) -> tuple[Subspaces, tuple]:
    """`subspaces(p)` together with the raw `svd_kernel` outputs it was read from, so callers
    that need the singular vectors too do not decompose twice."""
    p = as_predictor("p", p)
    rtol = default_rtol(p) if rtol is None else _check_rtol(rtol)
    svds = svd_kernel(p.embeddings, p.unembeddings)
    _, sF, VFt, _, sG, VGt, _, sC, _ = (np.asarray(a) for a in svds)
    kf, kg, r = numerical_rank(sF, rtol), numerical_rank(sG, rtol), numerical_rank(sC, rtol)
    return Subspaces(
        effective_complexity=r,
        embedding_rank=kf,
        unembedding_rank=kg,
        width=p.width,
        diverse=(kf == p.width and kg == p.width),
        embedding_spectrum=sF,
        unembedding_spectrum=sG,
        log_odds_spectrum=sC,
        rtol=rtol,
        log_odds_gap=spectral_gap(sC, r),
        embedding_basis=VFt[:kf].T,
        unembedding_basis=VGt[:kg].T,
    ), svds


@dataclasses.dataclass(frozen=True)
class Canonical:
    """Canonical coordinates of the distribution (THEORY §4, Theorem EL).

    With `C = U_C Σ Wᵀ` truncated at rank r: `phi = U_C Σ^{1/2}` (N×r), `gamma = W Σ^{1/2}` (V×r),
    `phi @ gamma.T = C`. The maps `embedding_map = A_θ = Σ^{-1/2} Wᵀ Ĝ` and
    `unembedding_map = B_θ = Σ^{-1/2} U_Cᵀ F` (both r×d) send the model onto them:
    `A_θ f(x) = φ(x)`, `B_θ ĝ(y) = γ(y)`. Signs are fixed so that the largest-magnitude entry of
    each column of `U_C` is positive, making `phi`/`gamma` functions of the distribution alone
    (up to rotations inside repeated singular values).
    """

    phi: Float[Array, "contexts r"]
    gamma: Float[Array, "vocab r"]
    embedding_map: Float[Array, "r dim"]
    unembedding_map: Float[Array, "r dim"]
    singular_values: Float[Array, " r"]
    rank: int


def canonical(p: Predictor, *, rtol: float | None = None, rank: int | None = None) -> Canonical:
    """Canonical coordinates `(φ, γ)` and the rank-r maps onto them (THEORY §4, Theorem EL).

    Args:
        p: the predictor.
        rtol: threshold for the effective complexity (see `subspaces`).
        rank: use this r instead of the numerical rank (e.g. a known ground-truth r).

    Raises:
        RankError: r = 0 (p predicts the same distribution for every context: nothing to
            identify) or a requested rank above what the spectrum has.
    """
    p = as_predictor("p", p)
    rtol = default_rtol(p) if rtol is None else _check_rtol(rtol)
    UF, _sF, _VFt, UG, _sG, _VGt, u, sC, vt = svd_kernel(p.embeddings, p.unembeddings)
    if rank is None:
        r = numerical_rank(np.asarray(sC), rtol)
    else:
        r = int(rank)
        # Numerically nonzero: above the rounding floor of the factored SVD.
        nonzero = numerical_rank(
            np.asarray(sC), max(p.num_contexts, p.vocab_size) * float(np.finfo(p.dtype).eps)
        )
        if not 1 <= r <= nonzero:
            raise RankError(
                f"rank: expected 1 ≤ r ≤ {nonzero} (the nonzero singular values of C), got {rank}"
            )
    if r == 0:
        raise RankError(
            "effective complexity is 0: the centered log-odds C vanish (every context has the "
            "same next-token distribution), so there are no canonical coordinates"
        )
    phi, gamma, A, B, sv = _canonical_kernel(p.embeddings, p.unembeddings, UF, UG, u, sC, vt, r=r)
    return Canonical(
        phi=phi, gamma=gamma, embedding_map=A, unembedding_map=B, singular_values=sv, rank=r
    )


@functools.partial(jax.jit, static_argnames=("r",))
def _canonical_kernel(F, G, UF, UG, u, sC, vt, *, r: int):
    Uc = UF @ u[:, :r]  # (N, r) left singular vectors of C
    W = UG @ vt[:r].T  # (V, r) right singular vectors of C
    # Sign convention: the largest |entry| of each column of U_C is positive.
    idx = jnp.argmax(jnp.abs(Uc), axis=0)
    signs = jnp.sign(Uc[idx, jnp.arange(r)])
    signs = jnp.where(signs == 0, 1.0, signs).astype(Uc.dtype)[None, :]
    Uc, W = Uc * signs, W * signs
    s = sC[:r]
    root = jnp.sqrt(s)[None, :]  # (1, r)
    Gh = center_rows(G)
    return Uc * root, W * root, (W.T @ Gh) / root.T, (Uc.T @ F) / root.T, s


def minimal(p: Predictor, *, rtol: float | None = None, rank: int | None = None) -> Predictor:
    """The minimal member of p's class: `(φ, γ)`, width r, diverse (THEORY §4, §5 move 6).

    `γ` is already centered (`1ᵀW = 0` because W spans columns of `Ĝ`), so `C` is unchanged.
    """
    c = canonical(p, rtol=rtol, rank=rank)
    return Predictor(c.phi, c.gamma)
