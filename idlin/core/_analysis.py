"""One decomposition of a predictor, computed once and read by every routine (docs/theory.md §3.2).

`analyze(p)` is one jitted program: the centered unembeddings `Ĝ`, the thin SVDs of `F` (N×d)
and `Ĝ` (V×d), and the SVD of the small core `K = S_F V_Fᵀ V_G S_G` whose singular values are
those of `C = F Ĝᵀ` — so the spectrum and singular vectors of the N×V matrix C cost
`O((N+V)d²) + O(d³)` time and `O((N+V)d)` memory, never an N×V buffer. Ranks `k_f`, `k_g`, `r`
are counted inside the program against the thresholds of the precision policy (`_precision`),
so `jax.jit(analyze)` and `jax.vmap(analyze)` (over a stacked Predictor) work; the `Analysis`
is a pytree. `subspaces`, `canonical`, `minimal`, the maps, the properties and the metrics take
an `Analysis` wherever they take a `Predictor` and then never decompose again.

Shapes: with `k_F = min(N, d)`, `k_G = min(V, d)` and `m = min(k_F, k_G)`, singular vectors past a
rank are kept (fixed shapes under `jit`) and masked by the rank where a routine needs it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jaxtyping import Array, Bool, Float, Int

from ._errors import ArgumentError, ConfigError
from ._gram import centered_gram64, refined_spectrum
from ._precision import Precision, as_precision, kl_threshold, rank_floor
from ._predictor import Predictor
from ._serial import after


def is_traced(*trees: Any) -> bool:
    """Whether any leaf is a tracer (inside `jit`/`vmap`/`grad`): then host-side conversions and
    data-dependent Python checks are skipped."""
    return any(
        isinstance(leaf, Tracer) for tree in trees for leaf in jax.tree_util.tree_leaves(tree)
    )


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Analysis:
    """The factorisation of one predictor that every routine reads (docs/theory.md §3.2).

    Attributes:
        embeddings, unembeddings: `F` (N×d) and `G` (V×d) as given.
        mean_unembedding: `ḡ` (d,); `centered_unembeddings` `Ĝ = G − 1·ḡᵀ` (V×d) is formed on
            access (not stored: at V = 262144 a second V×d array is most of the memory).
        embedding_singular_values, embedding_right: `S_F`, `V_Fᵀ` of `F = U_F S_F V_Fᵀ`
            ((k_F,), (k_F, d)); `embedding_left` `U_F` (N, k_F) is computed on access.
        unembedding_singular_values, unembedding_right: the same for `Ĝ = U_G S_G V_Gᵀ`.
        log_odds_left, log_odds_singular_values, log_odds_right: `C = U_C Σ Wᵀ` ((N, m), (m,),
            (V, m)); signs fixed so the largest |entry| of each column of `U_C` is positive.
            On the Gram route (float32 data, x64 on) `W = Ĝ B` is formed on access from the
            small `log_odds_right_factor` B (d×m; at V = 262144 a stored W would be a second
            V×d array beside G); on the Householder route it is stored (`stored_log_odds_right`).
        principal_cross: `V_Fᵀ V_G` (k_F × k_G) in the arithmetic's dtype (float64 on the Gram
            route): the cosines between the two row spaces' singular vectors.
        principal_cosines: the cosines of the principal angles between `E` (first `k_f` rows of
            `V_Fᵀ`) and `U` (first `k_g` of `V_Gᵀ`), descending, zero-padded to `m`: `r` counts
            those above `rank_rtol` (docs/theory.md §3, "The rank of a stored model").
        embedding_rank, unembedding_rank, effective_complexity: `k_f`, `k_g`, `r` (int32).
        embedding_threshold, unembedding_threshold: the absolute thresholds `k_f`, `k_g` were
            counted against; log_odds_threshold: the threshold on the singular values of C when
            the policy counts r there (KL-tied or explicit `rank_atol`), else 0 (r counted on the
            cosines, against `precision.resolved_rank_rtol()`; docs/theory.md §3.1).
        precision: the policy used (its `stored` dtype filled in).
    """

    embeddings: Float[Array, "N d"]
    unembeddings: Float[Array, "V d"]
    mean_unembedding: Float[Array, " d"]
    embedding_singular_values: Float[Array, " kF"]
    embedding_right: Float[Array, "kF d"]
    unembedding_singular_values: Float[Array, " kG"]
    unembedding_right: Float[Array, "kG d"]
    log_odds_left: Float[Array, "N m"]
    log_odds_singular_values: Float[Array, " m"]
    stored_log_odds_right: Float[Array, "V m"] | None
    log_odds_right_factor: Float[Array, "d m"] | None
    principal_cross: Float[Array, "kF kG"]
    principal_cosines: Float[Array, " m"]
    embedding_rank: Int[Array, ""]
    unembedding_rank: Int[Array, ""]
    effective_complexity: Int[Array, ""]
    embedding_threshold: Float[Array, ""]
    unembedding_threshold: Float[Array, ""]
    log_odds_threshold: Float[Array, ""]
    precision: Precision

    # -- sizes (static under tracing)
    @property
    def num_contexts(self) -> int:
        return int(self.embeddings.shape[-2])

    @property
    def vocab_size(self) -> int:
        return int(self.unembeddings.shape[-2])

    @property
    def width(self) -> int:
        return int(self.embeddings.shape[-1])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.embeddings.dtype)

    @property
    def centered_unembeddings(self):
        """`Ĝ = G − 1·ḡᵀ` (V×d), formed on each access (one V×d pass)."""
        return self.unembeddings - self.mean_unembedding.astype(self.unembeddings.dtype)[None, :]

    @property
    def predictor(self) -> Predictor:
        """The analysed model as a `Predictor` (no re-validation: it was validated once)."""
        return Predictor.tree_unflatten(None, (self.embeddings, self.unembeddings))

    @property
    def embedding_left(self):
        """`U_F = F V_F S_F⁻¹` (N, k_F) within the rank `k_f`, zero columns past it; one GEMM
        on every access (not stored: no routine of idlin's hot paths needs it)."""
        return _left(self.embeddings, self.embedding_singular_values, self.embedding_right,
                     self.embedding_rank)  # fmt: skip

    @property
    def unembedding_left(self):
        """`U_G = Ĝ V_G S_G⁻¹` (V, k_G) within the rank `k_g`, zero columns past it (one GEMM)."""
        return _left(self.centered_unembeddings, self.unembedding_singular_values,
                     self.unembedding_right, self.unembedding_rank)  # fmt: skip

    @property
    def unembedding_left_parts(self):
        """`U_G` as `(block, center, factor)` with `U_G = (block − 1·centerᵀ) @ factor`:
        `(G, ḡ, V_G S_G⁻¹)`, zero columns past `k_g` — for routines that need only products
        with U_G (`U_Gᵀy`, `U_G c`) and never the V×k_G array."""
        s = self.unembedding_singular_values
        inv = _inverse(s, rank_mask(s.shape[-1], self.unembedding_rank))
        return self.unembeddings, self.mean_unembedding, self.unembedding_right.T * inv[None, :]

    @property
    def log_odds_right_parts(self):
        """W as `(block, center, factor)` with `W = (block − 1·centerᵀ) @ factor`: `(G, ḡ, B)` on
        the Gram route, `(W, None, None)` where W is stored — for routines that need only
        products with W (its Gram, row chunks) and never the V×m array."""
        if self.log_odds_right_factor is not None:
            return self.unembeddings, self.mean_unembedding, self.log_odds_right_factor
        assert self.stored_log_odds_right is not None  # `_decompose` sets one of the two
        return self.stored_log_odds_right, None, None

    @property
    def log_odds_right(self):
        """`W` (V, m) of `C = U_C Σ Wᵀ`: stored, or `Ĝ B` formed on each access (one V×d×m
        GEMM, written block by block) from `log_odds_right_factor`."""
        block, center, factor = self.log_odds_right_parts
        return block if factor is None else _right_basis(block, center, factor)

    @property
    def log_odds_gap(self):
        """`σ_r(C)/σ_{r+1}(C)`: how clearly the spectrum separates at r (`spectral_gap`)."""
        return spectral_gap(self.log_odds_singular_values, self.effective_complexity)

    @property
    def embedding_gap(self):
        """`σ_{k_f}(F)/σ_{k_f+1}(F)` (`spectral_gap`)."""
        return spectral_gap(self.embedding_singular_values, self.embedding_rank)

    @property
    def unembedding_gap(self):
        """`σ_{k_g}(Ĝ)/σ_{k_g+1}(Ĝ)` (`spectral_gap`)."""
        return spectral_gap(self.unembedding_singular_values, self.unembedding_rank)

    @property
    def cosine_gap(self):
        """`cos_r/cos_{r+1}` of the principal cosines between E and U (`spectral_gap`): how
        clearly r is separated where it is counted on cosines."""
        return spectral_gap(self.principal_cosines, self.effective_complexity)

    @property
    def rank_gap(self):
        """The gap at r where r was counted: the cosine gap by default, `log_odds_gap` under a
        KL-tied or absolute policy. Below `CLEAR_GAP`, r is a threshold's choice."""
        if self.precision.counts_log_odds_spectrum:
            return self.log_odds_gap
        return self.cosine_gap

    def with_precision(self, precision: Precision | None = None, *, rtol: Any = None) -> Analysis:
        """The same decomposition re-thresholded under another policy (no new SVD)."""
        precision = as_precision(precision, self.precision.stored, rtol=rtol)
        precision = dataclasses.replace(precision, arithmetic=self.precision.arithmetic)
        return _threshold(self, precision)

    def masks(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Boolean masks of the singular values counted by `k_f`, `k_g` and `r`."""
        return (
            rank_mask(self.embedding_singular_values.shape[-1], self.embedding_rank),
            rank_mask(self.unembedding_singular_values.shape[-1], self.unembedding_rank),
            rank_mask(self.log_odds_singular_values.shape[-1], self.effective_complexity),
        )


def _inverse(s, keep: Bool[Array, " k"] | bool = True):
    """`1/s` where `s > 0` (and `keep`), else 0."""
    ok = (s > 0) & keep
    return jnp.where(ok, 1.0 / jnp.where(ok, s, 1), 0)


def _left(X, s, right, rank):
    """The left singular vectors `X V S⁻¹` of the thin SVD `(s, Vᵀ = right)` of X, masked by
    `rank`."""
    inv = _inverse(s, rank_mask(s.shape[-1], rank))
    return (X @ right.T) * inv.astype(X.dtype)[None, :]


def rank_mask(n: int, rank) -> jax.Array:
    """`[0, 1, …, n−1] < rank` (rank concrete or traced)."""
    return jnp.arange(n, dtype=jnp.int32) < jnp.asarray(rank).astype(jnp.int32)


# Below this gap at a rank, the rank is a threshold's choice, not a property of the spectrum
# (docs/theory.md §3): reports say so and show the spectrum.
CLEAR_GAP = 10.0


def spectral_gap(spectrum, rank):
    """`σ_r / σ_{r+1}` (the one definition idlin uses): `inf` when nothing is cut off
    (`r = 0` or `r = len(spectrum)`) or when `σ_{r+1} = 0`. Works on concrete or traced input."""
    s = jnp.asarray(spectrum)
    n = s.shape[-1]
    r = jnp.asarray(rank).astype(jnp.int32)
    top = jnp.take(s, jnp.clip(r - 1, 0, n - 1), axis=-1)
    nxt = jnp.take(s, jnp.clip(r, 0, n - 1), axis=-1)
    inf = jnp.asarray(jnp.inf, s.dtype)
    cut = (r > 0) & (r < n) & (nxt > 0)
    return jnp.where(cut, top / jnp.where(nxt > 0, nxt, 1), inf)


def _count(s, threshold):
    return jnp.sum(s > threshold).astype(jnp.int32)


def _principal_cosines(cross, kf, kg):
    """Singular values of `V_F[:k_f]ᵀ V_G[:k_g]` (rows past each rank zeroed): the cosines of the
    principal angles between E and U, descending, zero-padded."""
    mf = rank_mask(cross.shape[0], kf).astype(cross.dtype)
    mg = rank_mask(cross.shape[1], kg).astype(cross.dtype)
    return jnp.linalg.svd(mf[:, None] * cross * mg[None, :], compute_uv=False)


def _threshold(a: Analysis, precision: Precision) -> Analysis:
    """Thresholds and ranks of `a` under `precision` (docs/theory.md §3, §3.1).

    `k_f`, `k_g`: singular values of F and Ĝ above `max(rtol·σ₁, floor)` (rtol = √ε of the
    arithmetic; the floor guards Ĝ against the rounding of its centering). `r`: by default the
    principal cosines between E and U above rtol — `C = U_F S_F (V_Fᵀ V_G) S_G U_Gᵀ`, so
    `r = rank(V_Fᵀ V_G)` restricted to the two spans, which obeys Sylvester's bound
    `k_f + k_g − d ≤ r ≤ min(k_f, k_g)` by construction and is scale-free. A KL-tied
    (`mean_kl`) or explicit absolute (`rank_atol`) policy counts r on the spectrum of C instead
    (rank up to a fit, or a user's cut)."""
    sF, sG, sC = (
        a.embedding_singular_values,
        a.unembedding_singular_values,
        a.log_odds_singular_values,
    )
    rtol = precision.resolved_rank_rtol()
    first = lambda s: s[0] if s.shape[0] else jnp.zeros((), s.dtype)  # noqa: E731
    zero = jnp.zeros((), sF.dtype)
    if precision.rank_atol is None:
        floor_f = zero  # F is stored as is: no rounding from forming it
        floor_g = rank_floor(
            precision,
            num_contexts=a.num_contexts,
            vocab_size=a.vocab_size,
            mean_norm=jnp.linalg.norm(a.mean_unembedding.astype(sF.dtype)),
        )
    else:
        floor_f = floor_g = jnp.asarray(precision.rank_atol, sF.dtype)
    rtol = jnp.asarray(rtol, sF.dtype)
    tF = jnp.maximum(rtol * first(sF), floor_f)
    tG = jnp.maximum(rtol * first(sG), floor_g)
    kf, kg = _count(sF, tF), _count(sG, tG)
    cosines = _principal_cosines(a.principal_cross, kf, kg)
    if precision.counts_log_odds_spectrum:
        tC = rtol * first(sC)
        if precision.rank_atol is not None:
            tC = jnp.maximum(tC, precision.rank_atol)
        if precision.mean_kl is not None:
            tC = jnp.maximum(
                tC,
                kl_threshold(
                    precision.mean_kl, num_contexts=a.num_contexts, vocab_size=a.vocab_size
                ),
            )
        # r ≤ min(k_f, k_g) always holds in exact arithmetic; enforce it against rounding.
        r = jnp.minimum(_count(sC, tC), jnp.minimum(kf, kg))
    else:
        tC = zero
        r = _count(cosines, rtol.astype(cosines.dtype))
    return dataclasses.replace(
        a,
        principal_cosines=cosines,
        embedding_rank=kf,
        unembedding_rank=kg,
        effective_complexity=r,
        embedding_threshold=jnp.asarray(tF, sF.dtype),
        unembedding_threshold=jnp.asarray(tG, sF.dtype),
        log_odds_threshold=jnp.asarray(tC, sF.dtype),
        precision=precision,
    )


def _svd(X):
    return jnp.linalg.svd(X, full_matrices=False)


def gram_route(dtype, decomposition: str = "auto") -> bool:
    """Whether `analyze` takes the Gram route (docs/theory.md §3.2): by default for float32 data
    with x64 on (a float64 accumulator exists and float32 data cannot resolve what it loses)."""
    x64 = bool(jax.config.read("jax_enable_x64"))
    if decomposition == "gram":
        if not x64 or np.dtype(dtype) != np.float32:
            raise ConfigError(
                "decomposition='gram': expected float32 data with jax_enable_x64 on (the Gram "
                f"is accumulated in float64), got {np.dtype(dtype)} with x64 "
                f"{'on' if x64 else 'off'}"
            )
        return True
    return decomposition == "auto" and np.dtype(dtype) == np.float32 and x64


def _gram_eigh(*grams):
    """`eigh` of several symmetric float64 matrices as ONE LAPACK call where their shapes agree
    (stacked), else one after another by a data dependency — never two at once. Why: jaxlib
    0.10's batched CPU LAPACK kernels fan their batch out into XLA's intra-op thread pool and
    block a pool thread until it is done, so as many concurrent batched calls as the pool has
    threads (two on a 2-core machine, e.g. under `jax.vmap(analyze)`) wait on each other forever
    (`_serial`, docs/theory.md §3.2, "Known issue")."""
    if all(S.shape == grams[0].shape for S in grams):
        w, V = jnp.linalg.eigh(jnp.stack(grams))
        return [(w[i], V[i]) for i in range(len(grams))]
    out, prev = [], None
    for S in grams:
        if prev is not None:
            S = after(S, prev)
        w, V = jnp.linalg.eigh(S)
        out.append((w, V))
        prev = w
    return out


def _short_side(X):
    """X itself if tall, else Xᵀ: the side whose Gram `AᵀA` is the small one (min(n, d)²)."""
    return X if X.shape[0] >= X.shape[1] else X.T


def _descending(w, V):
    """`(s, V)` descending from `eigh`'s ascending `(w, V)` of a Gram: `s = √max(w, 0)`."""
    return jnp.sqrt(jnp.maximum(w[::-1], 0.0)), V[:, ::-1]


def _from_gram(X, s, V):
    """`(s, Vᵀ)` of the thin SVD of X from the singular values `s` and right singular vectors `V`
    (columns, descending) of its short side: for wide X those are `U`, and `Vᵀ = S⁻¹UᵀX` (one
    GEMM of the short side, float64 accumulation). Returns float64 `s`, `Vᵀ`."""
    if X.shape[0] >= X.shape[1]:
        return s, V.T
    Vt = jnp.matmul(V.T.astype(X.dtype), X, preferred_element_type=jnp.float64)
    return s, Vt * _inverse(s)[:, None]


def _svd_gram(F, G, gbar):
    """`(s, Vᵀ)` of the thin SVDs of float32 `F` and `Ĝ = G − 1ḡᵀ` from their float64 Grams
    (docs/theory.md §3.2); the left factors `U = X V S⁻¹` are not formed (callers multiply X by
    the small `V S⁻¹ ·` product they need, one GEMM instead of two).

    `FᵀF` (or `FFᵀ` for wide F) and `ĜᵀĜ` are accumulated in float64 — float32 products are exact
    there, and `ḡ` (float64) is subtracted from G's rows in float64, so Ĝ carries no float32
    rounding of its own (docs/theory.md §3) — and diagonalised by `eigh` in float64
    (`_gram_eigh`: one LAPACK call for all). Singular values too small for a Gram to resolve
    (`refine_tail`) are recomputed from `A V`, so ranks counted at float64's `√ε` agree with a
    float64 SVD of the same numbers.
    """
    tall_g = G.shape[0] >= G.shape[1]
    # A wide Ĝ (V < d, tiny) is formed in float64 outright.
    AG = G if tall_g else (G.astype(jnp.float64) - gbar[None, :]).T
    cG = gbar if tall_g else None
    AF = _short_side(F)
    grams = centered_gram64((AF, AG), (None, cG))  # one host call for both
    (wF, QF), (wG, QG) = _gram_eigh(*grams)
    sF, QF = refined_spectrum(AF, None, *_descending(wF, QF))
    sG, QG = refined_spectrum(AG, cG, *_descending(wG, QG))
    return _from_gram(F, sF, QF), _from_gram(AG.T if not tall_g else AG, sG, QG)


def _core_svd(K):
    """SVD `(U, s, Vᵀ)` of the float64 core K on the Gram route, from `eigh` of its Gram (twice as
    fast as LAPACK's SVD at 768×768): like the Grams of §3.2 it carries ~ε₆₄κ² relative error,
    ≤ 1e-9 for every singular value above float32's rank threshold. `U = K V S⁻¹` (zero columns
    where σ = 0)."""
    A = _short_side(K)
    s, Vt = _from_gram(K, *_descending(*jnp.linalg.eigh(A.T @ A)))
    return _left(K, s, Vt, s.shape[0]), s, Vt


def _core(sF, cross, sG):
    """`K = S_F (V_Fᵀ V_G) S_G` (k_F × k_G): `C = U_F K U_Gᵀ`, so `σ(C) = σ(K)`."""
    return (sF[:, None] * cross) * sG[None, :]


def _gram_factors(F, G, gbar):
    """The Gram route (float32 data, float64 arithmetic): `(s_F, V_Fᵀ, s_G, V_Gᵀ, V_FᵀV_G, σ,
    U_C, W)` with `U_C = F (V_F S_F⁻¹ P)` and `W = Ĝ (V_G S_G⁻¹ Q)`: one GEMM of each tall side,
    `U_F` and `U_G` never formed."""
    (sF, VFt), (sG, VGt) = _svd_gram(F, G, gbar)
    cross = VFt @ VGt.T
    P, sC, Qt = _core_svd(_core(sF, cross, sG))
    UC = F @ ((VFt.T * _inverse(sF)[None, :]) @ P).astype(F.dtype)  # (N, m)
    W = (G, gbar, (VGt.T * _inverse(sG)[None, :]) @ Qt.T)  # W = Ĝ B, formed once signed
    return sF, VFt, sG, VGt, cross, sC, UC, W


# Rows per block of `_centered_times` (a multiple of 8; one block's product is a small temporary).
_W_BLOCK = 16384


def _centered_times(G, gbar, B):
    """`Ĝ B = G B − 1·(ḡᵀB)` in G's dtype without forming Ĝ, written block by block into one
    V×m output (a whole `G @ B` and its centred copy would be two V×m arrays at real sizes)."""
    B = B.astype(G.dtype)
    shift = (gbar.astype(G.dtype) @ B)[None, :]
    V = G.shape[0]
    full = V // _W_BLOCK
    if full <= 1:
        return G @ B - shift
    out = jnp.empty((V, B.shape[1]), G.dtype)

    def block(i, out):
        rows = jax.lax.dynamic_slice_in_dim(G, i * _W_BLOCK, _W_BLOCK)
        return jax.lax.dynamic_update_slice_in_dim(out, rows @ B - shift, i * _W_BLOCK, 0)

    out = jax.lax.fori_loop(0, full, block, out)
    if full * _W_BLOCK < V:
        out = out.at[full * _W_BLOCK :].set(G[full * _W_BLOCK :] @ B - shift)
    return out


@jax.jit
@functools.partial(jnp.vectorize, signature="(v,d),(d),(d,m)->(v,m)")
def _right_basis(G, gbar, B):
    """`W = Ĝ B` in G's dtype (`Analysis.log_odds_right` on the Gram route; leading axes of a
    `vmap(analyze)` stack are mapped over)."""
    return _centered_times(G, gbar, B).astype(G.dtype)


def _householder_factors(F, G, gbar):
    """The Householder route (LAPACK SVDs, in the data's dtype): the same factors, with
    `U_C = U_F P`, `W = U_G Q`. One LAPACK call at a time (`_serial`): the second SVD waits
    for the first."""
    UF, sF, VFt = _svd(F)
    UG, sG, VGt = _svd(after(G - gbar[None, :], sF))
    cross = VFt @ VGt.T
    P, sC, Qt = _svd(_core(sF, cross, sG))
    return sF, VFt, sG, VGt, cross, sC, UF @ P, (UG, None, Qt.T)  # W = U_G Q, formed once signed


def arithmetic_dtype(dtype) -> np.dtype:
    """The dtype `analyze` computes in: float64 whenever x64 is on (float32 data goes through the
    float64-accumulated Gram route, or is upcast for Householder SVDs), else the data's."""
    return np.dtype(np.float64) if jax.config.read("jax_enable_x64") else np.dtype(dtype)


@jax.jit
def _decompose(F, G, precision: Precision) -> Analysis:
    dt = F.dtype
    gram = gram_route(dt, precision.decomposition)
    # ḡ in the arithmetic's dtype (the reduction converts per element: no V×d float64 buffer)
    arith = precision.arithmetic or dt
    gbar = jnp.mean(G, axis=0, dtype=arith)
    if gram:
        sF, VFt, sG, VGt, cross, sC, UC, (X, offset, B) = _gram_factors(F, G, gbar)
    else:  # Householder SVDs in the arithmetic's dtype (float32 data upcast under x64)
        sF, VFt, sG, VGt, cross, sC, UC, (X, offset, B) = _householder_factors(
            F.astype(arith), G.astype(arith), gbar
        )
        UC = UC.astype(dt)
    sF, VFt, sG, VGt, sC, gbar = (x.astype(dt) for x in (sF, VFt, sG, VGt, sC, gbar))
    # Sign convention: the largest |entry| of each column of U_C is positive, so U_C, W (and the
    # canonical coordinates) are functions of the distribution alone (up to rotations inside
    # repeated singular values). The signs go into the small factor of W, so the V×m W is
    # formed once.
    idx = jnp.argmax(jnp.abs(UC), axis=0)
    signs = jnp.sign(UC[idx, jnp.arange(UC.shape[1])])
    signs = jnp.where(signs == 0, 1, signs).astype(UC.dtype)[None, :]
    B = B * signs.astype(B.dtype)
    # The Gram route keeps the small factor (`Analysis.log_odds_right` forms W = Ĝ B on access,
    # ḡ and B in G's dtype); the Householder route's W = U_G Q is stored.
    W = None if offset is not None else (X @ B).astype(dt)
    factor = B.astype(dt) if offset is not None else None
    zero_i = jnp.zeros((), jnp.int32)
    zero_f = jnp.zeros((), F.dtype)
    a = Analysis(
        embeddings=F,
        unembeddings=G,
        mean_unembedding=gbar,
        embedding_singular_values=sF,
        embedding_right=VFt,
        unembedding_singular_values=sG,
        unembedding_right=VGt,
        log_odds_left=UC * signs,
        log_odds_singular_values=sC,
        stored_log_odds_right=W,
        log_odds_right_factor=factor,
        # after the core's decomposition: `_threshold`'s SVD of it may not run beside that one
        # (`_serial`: two batched LAPACK calls at once deadlock a 2-thread pool under vmap)
        principal_cross=after(cross, sC),
        principal_cosines=jnp.zeros((min(cross.shape),), cross.dtype),
        embedding_rank=zero_i,
        unembedding_rank=zero_i,
        effective_complexity=zero_i,
        embedding_threshold=zero_f,
        unembedding_threshold=zero_f,
        log_odds_threshold=zero_f,
        precision=precision,
    )
    # F and G are not outputs: `jit` would return copies of its inputs, a second V×d array for
    # as long as the Analysis lives. `analyze` puts the caller's own arrays back.
    return dataclasses.replace(_threshold(a, precision), embeddings=None, unembeddings=None)


def analyze(
    p: Predictor | Analysis, *, precision: Precision | None = None, rtol: float | None = None
) -> Analysis:
    """Decompose p once: `Ĝ`, the SVDs of F, Ĝ and C, and the ranks `k_f`, `k_g`, `r`
    (docs/theory.md §3, §3.2).

    Symbols: `F` (N×d), `G` (V×d), `Ĝ = G − 1·ḡᵀ`; `C = F Ĝᵀ = U_C Σ Wᵀ` computed as
    `U_F K U_Gᵀ`, `K = S_F V_Fᵀ V_G S_G`. Cost `O((N+V)d² + d³)`, memory `O((N+V)d)`.
    Each rank counts singular values above `max(rtol·σ₁, floor)` of its matrix (plus, for C, the
    KL-tied threshold of a trained model): see `Precision`.

    Args:
        p: the predictor (an `Analysis` is returned as is, re-thresholded if a policy is given).
        precision: the precision policy (default: `Precision()` for p's dtype).
        rtol: shorthand for `Precision(rank_rtol=rtol)`.

    Returns:
        An `Analysis` (a pytree: works under `jax.jit`, `jax.vmap` over a stacked Predictor).

    Raises:
        ArgumentError: p is not a Predictor/Analysis, precision not a Precision.
        RankError: rtol not in (0, 1).

    Example:
        >>> import numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(6, 2)) @ rng.normal(size=(2, 3)),
        ...                     rng.normal(size=(5, 3)))
        >>> a = idlin.analyze(p)
        >>> int(a.effective_complexity), int(a.embedding_rank), a.width
        (2, 2, 3)
    """
    if isinstance(p, Analysis):
        if precision is None and rtol is None:
            return p
        return p.with_precision(precision, rtol=rtol)
    if not isinstance(p, Predictor):
        raise ArgumentError(
            f"p: expected an idlin.Predictor, got {type(p).__name__} (an idlin.Analysis of one "
            "is accepted too)"
        )
    precision = as_precision(precision, p.dtype, rtol=rtol)
    precision = dataclasses.replace(precision, arithmetic=arithmetic_dtype(p.dtype))
    a = _decompose(p.embeddings, p.unembeddings, precision)
    return dataclasses.replace(a, embeddings=p.embeddings, unembeddings=p.unembeddings)


def as_analysis(name: str, p: Any, *, precision: Precision | None = None, rtol: Any = None):
    """`analyze(p)` for a Predictor, `p` itself (re-thresholded if asked) for an Analysis; a
    clear error for anything else."""
    if not isinstance(p, Predictor | Analysis):
        raise ArgumentError(
            f"{name}: expected an idlin.Predictor, got {type(p).__name__} (an idlin.Analysis of "
            "one is accepted too)"
        )
    return analyze(p, precision=precision, rtol=rtol)


def concrete_int(x: Any) -> int | None:
    """`int(x)` for a concrete scalar, None for a tracer."""
    return None if isinstance(x, Tracer) else int(x)
