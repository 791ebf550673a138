"""Recovering the map that relates two equivalent predictors (docs/theory.md §4).

Theorem L (both diverse, one width): `f̃ = M f`, `g̃ = M^{-ᵀ} g + c`, so `F̃ = F Mᵀ` and
`Ĝ̃ = Ĝ M^{-1}`. Theorem EL (any widths): `P_Ũ f̃(x) = T P_U f(x)` with `T = Ĝ̃⁺ Ĝ`, and on the
unembedding side `P_Ẽ ĝ̃(y) = S P_E ĝ(y)` with `S = F̃⁺ F`; both have rank r.

Memory (docs/theory.md §4.3): nothing V×d is formed beyond the inputs. `T` comes from the d̃×d cross
Gram `Ĝ̃ᵀĜ` (accumulated in float64 a block of rows at a time, centred in float64): with
`Ĝ̃ = U S Vᵀ`, `Ĝ̃⁺Ĝ = V S⁻² Vᵀ (Ĝ̃ᵀĜ)`. Residual norms are evaluated directly, `CHUNK_ROWS`
rows at a time (the expanded Gram form `tr(Aᵀ YᵀY A)` would cancel: docs/theory.md §2), with
`Ĝ`'s rows centred inside each chunk.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._analysis import Analysis, _inverse, is_traced, rank_mask
from ._errors import IncompatibleError, NotDiverseError
from ._gap import over_row_chunks, pair_analyses
from ._gram import cross_gram64
from ._precision import Precision, with_legacy
from ._predictor import Predictor
from ._scalars import FloatScalar, IntScalar
from ._subspaces import Subspaces, subspaces

# Rows per chunk of the residual norms: O(CHUNK_ROWS·d) memory, never a V×d temporary.
CHUNK_ROWS = 4096


def _relative(residual, reference):
    """`residual / reference` of two norms, or the absolute residual when the reference is 0."""
    return jnp.where(reference > 0, residual / jnp.where(reference > 0, reference, 1), residual)


def residual_norms(target, fit, *arrays, rows: int):
    """`(‖target − fit‖_F, ‖target‖_F)` for row-wise maps `target(*chunk)`, `fit(*chunk)` of
    equally tall `arrays`, evaluated directly `rows` rows at a time (memory O(rows·d); nothing
    cancels, so an exactly equivalent float64 pair measures ~ε). Squares are summed in float64
    when x64 is on."""
    acc = jnp.float64 if jax.config.read("jax_enable_x64") else arrays[0].dtype

    def part(*chunk):
        t = target(*chunk)
        sq = lambda x: jnp.sum(jnp.square(x.astype(acc)))  # noqa: E731
        return jnp.stack([sq(t - fit(*chunk)), sq(t)])

    res2, ref2 = over_row_chunks(part, jnp.zeros(2, acc), *arrays, rows=rows)
    return jnp.sqrt(res2), jnp.sqrt(ref2)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LinearMap:
    """The invertible map of Theorem L: `f̃(x) = M f(x)`, `g̃(y) = M^{-ᵀ} g(y) + c`.

    Attributes:
        matrix: `M` (d×d), least squares `M = (F⁺ F̃)ᵀ`.
        shift: `c` (d,), the constant unembedding offset.
        embedding_residual: `‖F̃ − F Mᵀ‖_F / ‖F̃‖_F`.
        unembedding_residual: `‖Ĝ̃ − Ĝ M^{-1}‖_F / ‖Ĝ̃‖_F`.
        condition_number: `σ_max(M) / σ_min(M)`.
    """

    matrix: Float[Array, "dim dim"]
    shift: Float[Array, " dim"]
    embedding_residual: FloatScalar
    unembedding_residual: FloatScalar
    condition_number: FloatScalar


@functools.partial(jax.jit, static_argnames="rows")
def _linear_map_kernel(F, G, gbar, Ft, Gt, gbar_t, *, rows: int):
    """`M`, `c`, both relative residuals and `cond(M)`; G and G̃ are read a chunk at a time."""
    Q, R = jnp.linalg.qr(F)
    Mt = jax.scipy.linalg.solve_triangular(R, Q.T @ Ft, lower=False)  # F⁺ F̃ for full-rank F
    lu = jax.scipy.linalg.lu_factor(Mt)

    def mapped(X):  # X M^{-1}, one LU of Mᵀ for every chunk
        return jax.scipy.linalg.lu_solve(lu, X.T).T

    shift = gbar_t - mapped(gbar[None, :])[0]  # mean(G̃ − G M^{-1})
    emb = residual_norms(lambda ft, f: ft, lambda ft, f: f @ Mt, Ft, F, rows=rows)
    unemb = residual_norms(
        lambda gt, g: gt - gbar_t[None, :], lambda gt, g: mapped(g - gbar[None, :]), Gt, G,
        rows=rows,
    )  # fmt: skip
    s = jnp.linalg.svd(Mt, compute_uv=False)
    return Mt.T, shift, _relative(*emb), _relative(*unemb), s[0] / s[-1]


def _require_diverse(name: str, s: Subspaces) -> None:
    if not s.diverse:
        raise NotDiverseError(
            f"{name} is not diverse: Theorem L needs rank F = rank Ĝ = d = {s.width}, got "
            f"rank F = {s.embedding_rank}, rank Ĝ = {s.unembedding_rank} (rtol {s.rtol:.1e}); "
            "use recover_extended_map"
        )


def recover_linear_map(
    p: Predictor | Analysis,
    q: Predictor | Analysis,
    *,
    precision: Precision | None = None,
    rtol: float | None = None,
) -> LinearMap:
    """The invertible `M` with `q = (M f, M^{-ᵀ} g + c)` for diverse equivalent p, q (Theorem L).

    Symbols (docs/theory.md §4): `p = (F, G)`, `q = (F̃, G̃)`. `M = (F⁺ F̃)ᵀ` by a QR least-squares
    solve;
    the unembedding side is then checked, not fitted: `Ĝ̃ = Ĝ M^{-1}`. Small residuals on both
    sides certify the theorem's conclusion for this pair.

    Args:
        p, q: predictors on the same contexts and vocabulary, of one width d.
        precision: the policy of the diversity check's ranks (see `subspaces`).
        rtol: deprecated: `Precision(rank_rtol=...)`.

    Raises:
        IncompatibleError: different N or V, or different widths (use `recover_extended_map`).
        NotDiverseError: p or q has rank F < d or rank Ĝ < d (the message says which).

    Example:
        >>> import numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(8, 3)), rng.normal(size=(6, 3)))
        >>> M = rng.normal(size=(3, 3))
        >>> q = idlin.Predictor(p.embeddings @ M.T, p.unembeddings @ np.linalg.inv(M))
        >>> bool(np.allclose(idlin.recover_linear_map(p, q).matrix, M, atol=1e-4))
        True
    """
    precision = with_legacy("recover_linear_map", precision, rtol=("rank_rtol", rtol))
    ap, aq = pair_analyses(p, q, precision=precision)
    if ap.width != aq.width:
        raise IncompatibleError(
            f"Theorem L relates models of one width: expected equal d, got p with d={ap.width} "
            f"and q with d={aq.width}; use recover_extended_map"
        )
    if not is_traced(ap, aq):  # under jit the diversity check is the caller's
        _require_diverse("p", subspaces(ap))
        _require_diverse("q", subspaces(aq))
    M, shift, emb_res, unemb_res, cond = _linear_map_kernel(
        ap.embeddings, ap.unembeddings, ap.mean_unembedding,
        aq.embeddings, aq.unembeddings, aq.mean_unembedding,
        rows=CHUNK_ROWS,
    )  # fmt: skip
    m = LinearMap(
        matrix=M,
        shift=shift,
        embedding_residual=emb_res,
        unembedding_residual=unemb_res,
        condition_number=cond,
    )
    return m


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ExtendedMap:
    """The extended-linear relation of Theorem EL between two equivalent predictors.

    Attributes:
        embedding_map: `T = Ĝ̃⁺ Ĝ` (d̃×d), with `P_Ũ f̃(x) = T P_U f(x)`.
        unembedding_map: `S = F̃⁺ F` (d̃×d), with `P_Ẽ ĝ̃(y) = S P_E ĝ(y)`.
        rank: numerical rank of T restricted to `P_U(E)` (= r for equivalent models; int32, as
            `Analysis`'s ranks).
        effective_complexity: `(r_p, r_q)`.
        embedding_residual: `‖F̃ P_Ũ − F P_U Tᵀ‖_F / ‖F̃ P_Ũ‖_F`.
        unembedding_residual: `‖Ĝ̃ P_Ẽ − Ĝ P_E Sᵀ‖_F / ‖Ĝ̃ P_Ẽ‖_F`.
    """

    embedding_map: Float[Array, "dim_q dim_p"]
    unembedding_map: Float[Array, "dim_q dim_p"]
    rank: IntScalar
    effective_complexity: tuple[IntScalar, IntScalar]
    embedding_residual: FloatScalar
    unembedding_residual: FloatScalar


def _pinv_from(U, s, Vt, k) -> jax.Array:
    """Truncated pseudo-inverse `V_k S_k^{-1} U_kᵀ` from a thin SVD (k may be traced: masked)."""
    keep = rank_mask(s.shape[0], k)
    inv = jnp.where(keep, 1.0 / jnp.where(keep, s, 1), 0)
    return (Vt.T * inv[None, :]) @ U.T


def _projector(right, k):
    keep = rank_mask(right.shape[0], k).astype(right.dtype)
    return (right.T * keep[None, :]) @ right


def recover_extended_map(
    p: Predictor | Analysis,
    q: Predictor | Analysis,
    *,
    precision: Precision | None = None,
    rtol: float | None = None,
) -> ExtendedMap:
    """The rank-r maps relating two equivalent predictors of any widths (docs/theory.md §4, Theorem
    EL).

    `T = Ĝ̃⁺ Ĝ` maps the visible embedding part of p onto that of q, `P_Ũ f̃ = T P_U f`; `S = F̃⁺ F`
    does the same for unembeddings, `P_Ẽ ĝ̃ = S P_E ĝ`. Pseudo-inverses are truncated at the
    numerical ranks of the precision policy, and the rank of T is counted at its rank threshold.
    For diverse p, q of one width, `T` is Theorem L's `M`. `rtol` is deprecated
    (`Precision(rank_rtol=...)`).

    Raises:
        IncompatibleError: different N or V.
    """
    precision = with_legacy("recover_extended_map", precision, rtol=("rank_rtol", rtol))
    ap, aq = pair_analyses(p, q, precision=precision)
    T = _embedding_map(
        aq.unembeddings, aq.mean_unembedding, aq.unembedding_singular_values,
        aq.unembedding_right, aq.unembedding_rank, ap.unembeddings, ap.mean_unembedding,
    )  # fmt: skip
    S = (
        _pinv_from(
            aq.embedding_left, aq.embedding_singular_values, aq.embedding_right, aq.embedding_rank
        )
        @ ap.embeddings
    )  # (d̃, d)
    PU = _projector(ap.unembedding_right, ap.unembedding_rank)
    PUt = _projector(aq.unembedding_right, aq.unembedding_rank)
    PE = _projector(ap.embedding_right, ap.embedding_rank)
    PEt = _projector(aq.embedding_right, aq.embedding_rank)
    # T matters only on P_U(E) (dimension r): its rank there is the rank of the relation.
    keep = rank_mask(ap.embedding_right.shape[0], ap.embedding_rank).astype(T.dtype)
    sT = jnp.linalg.svd(T @ PU @ (ap.embedding_right.T * keep[None, :]), compute_uv=False)
    rtol_p = ap.precision.resolved_rank_rtol()
    rank_T = jnp.where(sT[0] > 0, jnp.sum(sT > rtol_p * sT[0]), 0).astype(jnp.int32)  # as r's
    emb_res, unemb_res = _extended_residuals(
        ap.embeddings, aq.embeddings, PU @ T.T, PUt,
        ap.unembeddings, ap.mean_unembedding, aq.unembeddings, aq.mean_unembedding, PE @ S.T, PEt,
        rows=CHUNK_ROWS,
    )  # fmt: skip
    m = ExtendedMap(
        embedding_map=T,
        unembedding_map=S,
        rank=rank_T,
        effective_complexity=(ap.effective_complexity, aq.effective_complexity),
        embedding_residual=emb_res,
        unembedding_residual=unemb_res,
    )
    return m


@jax.jit
def _embedding_map(Gt, gbar_t, s, Vt, k, G, gbar):
    """`T = Ĝ̃⁺ Ĝ = V_k S_k⁻² V_kᵀ (Ĝ̃ᵀĜ)` (d̃×d, G's dtype) from the thin SVD `(s, Vᵀ)` of Ĝ̃ cut
    at rank k and the cross Gram `Ĝ̃ᵀĜ` (float64, centred in float64, a block of rows at a
    time): no V×d temporary (`U_G̃ = Ĝ̃ V S⁻¹` is not formed)."""
    # Exact power-of-two scales (σ₁ of Ĝ̃, max |G|) keep the squares in range at any data scale:
    # `T = V (S/2^a)⁻² Vᵀ (2^{-a}Ĝ̃)ᵀ(2^{-b}Ĝ) · 2^{b−a}`.
    ea = jnp.frexp(jnp.max(s, initial=0.0))[1]
    eb = jnp.frexp(jnp.max(jnp.abs(G), initial=0.0))[1]
    one = jnp.ones((), s.dtype)
    cross = cross_gram64(
        (Gt,), (G,), (gbar_t, gbar), scales=(jnp.ldexp(one, -ea), jnp.ldexp(one, -eb))
    )  # (d̃, d)
    inv = _inverse(jnp.ldexp(s, -ea), rank_mask(s.shape[0], k)).astype(cross.dtype)
    V = Vt.T.astype(cross.dtype)
    T = (V * jnp.square(inv)[None, :]) @ (V.T @ cross)
    return jnp.ldexp(T, eb - ea).astype(G.dtype)


@functools.partial(jax.jit, static_argnames="rows")
def _extended_residuals(F, Ft, A, PUt, G, gbar, Gt, gbar_t, B, PEt, *, rows: int):
    """`‖F̃ P_Ũ − F A‖/‖F̃ P_Ũ‖` and `‖Ĝ̃ P_Ẽ − Ĝ B‖/‖Ĝ̃ P_Ẽ‖` (`A = P_U Tᵀ`, `B = P_E Sᵀ`), a chunk
    of rows at a time with Ĝ, Ĝ̃ centred inside each chunk."""
    emb = residual_norms(lambda ft, f: ft @ PUt, lambda ft, f: f @ A, Ft, F, rows=rows)
    unemb = residual_norms(
        lambda gt, g: (gt - gbar_t[None, :]) @ PEt, lambda gt, g: (g - gbar[None, :]) @ B, Gt, G,
        rows=rows,
    )  # fmt: skip
    return _relative(*emb), _relative(*unemb)
