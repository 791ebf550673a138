"""How far two predictors are from distribution-equivalent, without an N×V matrix (docs/theory.md
§2).

`θ ~ θ̃` iff their centered log-odds agree, `C_θ = C_θ̃`. The Frobenius gap uses the factorisation
`C_θ − C_θ̃ = X Yᵀ`, `X = [F, −F̃]`, `Y = [Ĝ, Ĝ̃]`: with a thin QR `X = Q R` (on the side with fewer
rows), `‖X Yᵀ‖_F = ‖Y Rᵀ‖_F`, an R factor plus GEMMs against the triangle. Unlike the Gram
expansion `tr(XᵀX·YᵀY)` nothing cancels in float arithmetic of the inputs' precision, so an
exactly equivalent pair measures ~ε·‖X‖‖Y‖, not ~√ε.
For float32 inputs (with x64 enabled) on a tall factored side `R` comes from a Cholesky
factorisation of the Gram matrix `XᵀX` accumulated in float64 ("CholeskyQR": `RᵀR = XᵀX` defines
the same `R` up to row signs), because LAPACK's Householder QR runs at a fraction of GEMM speed on
CPUs; the float64 Gram resolves `R` to ~1e-8 relative, below float32's ε, so the result is as
accurate as a float32 QR. On a nearly square side Householder is cheaper (`r_factor_route`).
A tiny shift `δI` makes the factorisation succeed on rank-deficient X (equivalent pairs) and
its exact contribution `δ‖Y‖_F²` is subtracted; a non-finite factor falls back to Householder QR.
The other side is centred and multiplied a chunk of rows at a time (docs/theory.md §2.1).
Sup-norm and KL need every logit; they are streamed over blocks of contexts with a `lax.scan`, so
memory stays at a few `block × V` buffers.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._analysis import is_traced
from ._errors import ArgumentError, ConfigError, IncompatibleError
from ._gram import gram64, host_call, host_gram
from ._precision import Precision, resolution
from ._predictor import Predictor, as_predictor, center_rows
from ._scalars import FloatScalar
from ._serial import after

# Rows of Q per chunk of the factored Frobenius gap (2048–4096 measured alike at d = 256–768).
CHUNK_ROWS = 2048
# Triangles with fewer rows are multiplied in one product (`_times_upper_t`).
SPLIT_ROWS = 128
# Elements of one streamed logits block (block × V); ~32 MiB per float32 buffer.
STREAM_BLOCK_ELEMENTS = 1 << 23


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Gap:
    """Distance between the distributions of two predictors p and q (docs/theory.md §2).

    Attributes:
        frobenius: `‖C_p − C_q‖_F`.
        relative: `‖C_p − C_q‖_F / ‖C_p‖_F` (0 when both are 0, inf when only `C_p` is 0).
        reference_norm: `‖C_p‖_F`.
        max_abs: `max_{x,y} |C_p − C_q|`, or None in Frobenius-only mode.
        mean_kl: `(1/N) Σ_x KL(p(·|x) ‖ q(·|x))` in nats (direction: p is the reference), or None.
        reverse_kl: `(1/N) Σ_x KL(q(·|x) ‖ p(·|x))`, from the same streamed pass, or None.

    A pytree of JAX arrays in every mode (eager, `jax.jit`, `jax.vmap`); the report and the CLI
    turn them into Python numbers.
    """

    frobenius: FloatScalar
    relative: FloatScalar
    reference_norm: FloatScalar
    max_abs: FloatScalar | None = None
    mean_kl: FloatScalar | None = None
    reverse_kl: FloatScalar | None = None


def check_sizes(p, q) -> None:
    """p and q (Predictors or Analyses) share the context set and vocabulary."""
    if p.num_contexts != q.num_contexts:
        raise IncompatibleError(
            "p and q must be evaluated on the same contexts: expected equal N, got "
            f"p with {p.num_contexts} and q with {q.num_contexts} contexts"
        )
    if p.vocab_size != q.vocab_size:
        raise IncompatibleError(
            "p and q must share the vocabulary: expected equal V, got "
            f"p with {p.vocab_size} and q with {q.vocab_size} tokens"
        )


def check_comparable(p: Predictor, q: Predictor) -> tuple[Predictor, Predictor]:
    """Validate that p and q share the context set and vocabulary; give them one dtype."""
    p, q = as_predictor("p", p), as_predictor("q", q)
    check_sizes(p, q)
    dtype = np.promote_types(p.dtype, q.dtype)
    # (astype re-validates: a V×d finiteness mask on the host; skip it when nothing changes)
    p, q = (x if x.dtype == dtype else x.astype(dtype) for x in (p, q))
    return p, q


def pair_analyses(p, q, *, precision=None, rtol=None):
    """Analyses of p and q (Predictors or Analyses) in one compute dtype, each keeping the
    stored precision it came with (a float32 model compared with a float64 one keeps float32's
    tolerances, docs/theory.md §3.1)."""
    from ._analysis import Analysis, as_analysis
    from ._precision import as_precision

    for name, x in (("p", p), ("q", q)):
        if not isinstance(x, Predictor | Analysis):
            raise ArgumentError(
                f"{name}: expected an idlin.Predictor, got {type(x).__name__} (an "
                "idlin.Analysis of one is accepted too)"
            )
    check_sizes(p, q)
    dtype = np.promote_types(p.dtype, q.dtype)
    out = []
    for x in (p, q):
        stored = x.precision.stored if isinstance(x, Analysis) else x.dtype
        if x.dtype != dtype:
            x = (x.predictor if isinstance(x, Analysis) else x).astype(dtype)
        if isinstance(x, Analysis) and precision is None and rtol is None:
            out.append(x)
        else:
            out.append(as_analysis("p", x, precision=as_precision(precision, stored, rtol=rtol)))
    return tuple(out)


def _shift(rows: int, cols: int, max_diag):
    """The Cholesky shift `δ = (rows + cols)·ε₆₄·max diag(XᵀX)` (see `_r_factor`)."""
    return (rows + cols) * float(np.finfo(np.float64).eps) * max_diag


def _factor_xla(P1, P2):
    """`(R, δ)` by XLA: see `_r_factor` (the route off CPU, and every route's derivative)."""
    X = jnp.concatenate([P1, -P2], axis=1)
    n, m = X.shape
    (S,) = gram64(X)  # (m, m), float64 accumulation
    delta = _shift(n, m, jnp.max(jnp.diag(S)))
    L = jnp.linalg.cholesky(S + delta * jnp.eye(m, dtype=jnp.float64))
    return L.T, delta


def _factor_host(P1, P2):
    """`(R, δ)` by NumPy in one host call: the float64 Gram of `[P1, P2]` with its off-diagonal
    blocks negated (exactly the Gram of `[P1, −P2]`), shifted, and its Cholesky factor (NaN if
    that fails)."""
    S = host_gram(P1, P2)
    d1, (n, m) = P1.shape[1], (P1.shape[0], S.shape[0])
    S[:d1, d1:] *= -1.0
    S[d1:, :d1] *= -1.0
    delta = np.float64(_shift(n, m, S.diagonal().max() if m else 0.0))
    S.flat[:: m + 1] += delta
    import scipy.linalg  # LAPACK dpotrf in place: ~4× NumPy's Cholesky at k = 1536 (2 cores)

    try:
        R = scipy.linalg.cholesky(S, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        R = np.full_like(S, np.nan)
    return R, delta  # scipy zeroes the lower triangle (clean=True)


@jax.custom_jvp
def _cholesky_factor(P1, P2):
    if jax.default_backend() != "cpu":
        return _factor_xla(P1, P2)
    m = P1.shape[1] + P2.shape[1]
    shapes = (
        jax.ShapeDtypeStruct((m, m), jnp.float64),
        jax.ShapeDtypeStruct((), jnp.float64),
    )
    return host_call(_factor_host, shapes, P1, P2)


@_cholesky_factor.defjvp
def _cholesky_factor_jvp(primals, tangents):
    return jax.jvp(_factor_xla, primals, tangents)


# The R factor's cost model on CPU (docs/theory.md §2.1), in units of one float32 GEMM FLOP:
# the float64 Gram (dsyrk, n·k² FLOP) at half the float32 rate, NumPy's float64 Cholesky (k³/3)
# at 1/16 of it (23 vs ~400 GFLOP/s, 1536², 2-core AVX-512 machine), LAPACK's float32 Householder
# QR (2nk² − 2k³/3) at half of it. Equal costs at n = 10k/3: Householder below, CholeskyQR above.
_SYRK64_COST, _POTRF64_COST, _GEQRF32_COST = 2.0, 16.0, 2.0


def r_factor_cost(rows: int, cols: int) -> dict[str, float]:
    """Estimated cost (float32-GEMM FLOP equivalents) of the R factor of a rows×cols X on CPU by
    each route: `cholesky` `2·n·k² + 16·k³/3`, `householder` `2·(2nk² − 2k³/3)` (n ≥ k; a wide X
    has `min(n, k)` in place of k in Householder's count)."""
    n, k = float(rows), float(cols)
    short = min(n, k)
    qr_flops = 2.0 * n * k * short - 2.0 * short**3 / 3.0
    return {
        "cholesky": _SYRK64_COST * n * k * k + _POTRF64_COST * k**3 / 3.0,
        "householder": _GEQRF32_COST * qr_flops,
    }


def r_factor_route(rows: int, cols: int, dtype) -> str:
    """`"cholesky"` or `"householder"`: how `_r_factor` factors a rows×cols X of `dtype`.

    CholeskyQR needs a float64 accumulator: only float32 X with x64 on. There, on CPU, the
    cheaper route by `r_factor_cost` — Householder for X less than 10/3 times as tall as wide
    (4096×1536, the pair of d = 768 models at N = 4096), CholeskyQR for taller X (16384×512).
    Off CPU CholeskyQR (XLA's float64 Gram: a GPU's QR of a tall matrix is slow).
    """
    if np.dtype(dtype) != np.float32 or not jax.config.read("jax_enable_x64"):
        return "householder"
    if jax.default_backend() != "cpu":
        return "cholesky"
    cost = r_factor_cost(rows, cols)
    return "householder" if cost["householder"] < cost["cholesky"] else "cholesky"


def _r_factor(P1, P2, route: str | None = None):
    """`(R, δ)` with `RᵀR = XᵀX + δI` for `X = [P1, −P2]` (R upper triangular/trapezoidal,
    `δ ≥ 0`), by `route` (default `r_factor_route`).

    Householder QR: `δ = 0` (R in float64 for float32 X with x64 on, so that the sums of squares
    are float64 on either route). CholeskyQR (float32 X, x64 on): the Cholesky factor of the
    float64-accumulated Gram shifted by `δ = (rows + cols)·ε₆₄·max diag(XᵀX)` (a few hundred
    float64 ulps, far below float32 resolution), on the host on CPU. Rank-deficient X
    (equivalent pairs) is fine thanks to the shift; should the factor still be non-finite, QR
    is used instead.
    """
    m = P1.shape[1] + P2.shape[1]
    x64 = P1.dtype == jnp.float32 and jax.config.read("jax_enable_x64")
    if route is None:
        route = r_factor_route(P1.shape[0], m, P1.dtype)
    if route not in ("cholesky", "householder"):
        raise ConfigError(f"route: expected 'cholesky' or 'householder', got {route!r}")
    if route == "cholesky" and not x64:
        raise ConfigError(
            f"route='cholesky': expected float32 factors with jax_enable_x64 on (the Gram is "
            f"accumulated in float64), got {P1.dtype} with x64 "
            f"{'on' if jax.config.read('jax_enable_x64') else 'off'}"
        )
    if route == "householder":
        X = jnp.concatenate([P1, -P2], axis=1)
        dt = jnp.float64 if x64 else X.dtype
        return jnp.linalg.qr(X, mode="r").astype(dt), jnp.zeros((), dt)
    R, delta = _cholesky_factor(P1, P2)

    def householder(_):
        # Under vmap both branches run: order the QR after the Cholesky (`_serial`).
        X = after(jnp.concatenate([P1, -P2], axis=1), R)
        R_qr = jnp.linalg.qr(X, mode="r").astype(jnp.float64)
        return jnp.pad(R_qr, ((0, m - R_qr.shape[0]), (0, 0))), jnp.zeros((), jnp.float64)

    ok = jnp.all(jnp.isfinite(R))
    return jax.lax.cond(ok, lambda _: (R, delta), householder, None)


def over_row_chunks(part, init, *arrays, rows: int):
    """`init + Σ_chunks part(*chunk)` over consecutive chunks of `rows` rows of the arrays (a
    loop plus one shorter tail): no temporary larger than a chunk, so nothing V×d is written
    beyond the inputs (fresh large buffers cost page faults on every call)."""
    total = arrays[0].shape[0]
    if total <= rows:  # one chunk: no loop to compile
        return init + part(*arrays)
    full, tail = divmod(total, rows)

    def body(i, acc):
        chunk = [jax.lax.dynamic_slice_in_dim(A, i * rows, rows) for A in arrays]
        return acc + part(*chunk)

    acc = jax.lax.fori_loop(0, full, body, init)
    if tail:
        acc = acc + part(*(A[full * rows :] for A in arrays))
    return acc


def _times_upper_t(A, T):
    """`A Tᵀ` for T upper trapezoidal (row i zero left of column i), as two column blocks
    `A T₀ᵀ` and `A[:, s:] T₁[:, s:]ᵀ` (`T = [T₀; T₁]` split at row s = rows/2): the zero
    lower-left quarter of T is not multiplied (¾ of the FLOPs). Below `SPLIT_ROWS` rows one
    product (the saving is small and the extra operations cost compile time)."""
    if T.shape[0] < SPLIT_ROWS:
        return (A @ T.T,)
    s = T.shape[0] // 2
    return A @ T[:s].T, A[:, s:] @ T[s:, s:].T


def _exponent(*arrays):
    """`e` with `max |arrays| = f·2^e`, `f ∈ [½, 1)` (0 for all-zero arrays), clipped so that
    `2^±e` is a normal number of their dtype: multiplying by `2^-e` is then exact (an exponent
    shift) and brings the largest entry to [½, 1)."""
    m = functools.reduce(jnp.maximum, [jnp.max(jnp.abs(A)) for A in arrays])
    _, e = jnp.frexp(m)
    limit = jnp.finfo(m.dtype).maxexp - 2
    return jnp.clip(e, -limit, limit)


def _pow2(e, dtype):
    """`2^e` as a scalar of `dtype` (exact; `e` within `_exponent`'s clip)."""
    return jnp.ldexp(jnp.ones((), dtype), e.astype(jnp.int32))


def _diff_norms(P1, Q1, P2, Q2, mu1, mu2, route=None):
    """`(s_diff, s_ref, e)` with `2^e·s_diff = ‖P1 Q̂1ᵀ − P2 Q̂2ᵀ‖_F` and `2^e·s_ref = ‖P1 Q̂1ᵀ‖_F`,
    `Q̂ = Q − 1·mu` (mu one row), by one R factor of `[P1, −P2]`.

    Both sides are first scaled by powers of two, `P·2^-a` and `Q̂·2^-b` with their largest
    entries in [½, 1) (`_exponent`; exact), and `e = a + b`: squared logits overflow at
    |logit| ≳ 1e154 (float64) or 1e19 (float32) and a gap's squares underflow at |logit| ≲ 1e-154
    or 1e-19, which made `equivalent` wrong at such scales (an overflowed pair "equivalent", a
    perturbed tiny pair a 0 gap). The ratio `s_diff/s_ref` is the relative gap at any scale.

    With `RᵀR = [P1, −P2]ᵀ[P1, −P2] + δI` and `R = [[R₁₁, R₁₂], [0, R₂₂]]` (blocks by the widths
    of P1, P2), the difference's squared norm is `‖Q̂1 R₁₁ᵀ + Q̂2 R₁₂ᵀ‖² + ‖Q̂2 R₂₂ᵀ‖² −
    δ(‖Q̂1‖² + ‖Q̂2‖²)`, and `‖Q̂1 R₁₁ᵀ‖² − δ‖Q̂1‖²` is `‖P1 Q̂1ᵀ‖²` (R is upper trapezoidal).
    Q's rows are centred, scaled and multiplied a chunk at a time; the triangles skip their zero
    quarters. `(N+V)·(d₁+d₂)²`-order work, no N×V matrix.
    """
    d1 = P1.shape[1]
    a = _exponent(P1, P2)
    b = _exponent(Q1, Q2) + 1  # |Q − mu| ≤ 2 max|Q|
    down_p = _pow2(-a, P1.dtype)
    R, delta = _r_factor(P1 * down_p, P2 * down_p, route)  # (k, d1 + d2)
    acc = delta.dtype  # sums of squares in the factor's precision
    R = R.astype(Q1.dtype)
    down_q = _pow2(-b, Q1.dtype)
    k1 = min(R.shape[0], d1)
    R11, R12, R22 = R[:k1, :d1], R[:k1, d1:], R[k1:, d1:]

    def sq(A):
        return jnp.sum(jnp.square(A.astype(acc)))

    def part(q1, q2):
        q1, q2 = (q1 - mu1) * down_q, (q2 - mu2) * down_q
        ref = _times_upper_t(q1, R11)  # Q̂1 R₁₁ᵀ in column blocks
        cross = q2 @ R12.T
        cuts = np.cumsum([z.shape[1] for z in ref[:-1]]).tolist()
        z1 = sum(sq(z + c) for z, c in zip(ref, jnp.split(cross, cuts, axis=1), strict=True))
        z2 = sum(sq(z) for z in _times_upper_t(q2, R22))
        return jnp.stack([z1 + z2, sum(sq(z) for z in ref), sq(q1), sq(q2)])

    diff2, ref2, q1_2, q2_2 = over_row_chunks(part, jnp.zeros(4, acc), Q1, Q2, rows=CHUNK_ROWS)
    diff2 = diff2 - delta * (q1_2 + q2_2)
    ref2 = ref2 - delta * q1_2
    s_diff, s_ref = jnp.sqrt(jnp.maximum(diff2, 0.0)), jnp.sqrt(jnp.maximum(ref2, 0.0))
    return s_diff, s_ref, a + b


def _frobenius(F1, G1, F2, G2, route=None):
    """`(s_diff, s_ref, e)` of `_diff_norms` for `C_p − C_q` and `C_p` (R factor by `route`)."""
    # QR on the side with fewer rows: C − C̃ and its transpose have the same norm. G's rows are
    # centred: inside the chunks on the multiplied side, beforehand on the factored one.
    mu1, mu2 = jnp.mean(G1, axis=0, keepdims=True), jnp.mean(G2, axis=0, keepdims=True)
    if F1.shape[0] <= G1.shape[0]:
        return _diff_norms(F1, G1, F2, G2, mu1, mu2, route)
    zero1, zero2 = jnp.zeros_like(F1[:1]), jnp.zeros_like(F2[:1])
    return _diff_norms(G1 - mu1, F1, G2 - mu2, F2, zero1, zero2, route)


def _centered_logits(f, G, mu, rows: int):
    """`f Ĝᵀ` (block×V) with `Ĝ = G − 1·mu` centred `rows` rows at a time, written into the block's
    logits: no V×d centred copy of G (docs/theory.md §4.3, "Memory")."""
    V = G.shape[0]
    full, tail = divmod(V, rows)
    out = jnp.zeros((f.shape[0], V), f.dtype)

    def put(out, g, start):
        return jax.lax.dynamic_update_slice_in_dim(out, f @ (g - mu).T, start, axis=1)

    if full:
        out = jax.lax.fori_loop(
            0,
            full,
            lambda i, o: put(o, jax.lax.dynamic_slice_in_dim(G, i * rows, rows), i * rows),
            out,
        )
    return put(out, G[full * rows :], full * rows) if tail else out


def _streamed(F1, G1, F2, G2, block: int):
    """Max |C_p − C_q| and mean_x (KL(p‖q), KL(q‖p)), streamed over blocks of `block` contexts
    (G's rows are centred `CHUNK_ROWS` at a time inside each block: `_centered_logits`).

    Padding rows are zero in both models: uniform = uniform, so they add exactly 0 to both.
    """
    mu1, mu2 = jnp.mean(G1, axis=0, keepdims=True), jnp.mean(G2, axis=0, keepdims=True)
    n = F1.shape[0]
    nblocks = -(-n // block)
    pad = nblocks * block - n
    F1b = jnp.pad(F1, ((0, pad), (0, 0))).reshape(nblocks, block, F1.shape[1])
    F2b = jnp.pad(F2, ((0, pad), (0, 0))).reshape(nblocks, block, F2.shape[1])

    def body(carry, blocks):
        max_abs, kl_sums = carry
        f1, f2 = blocks
        L1 = _centered_logits(f1, G1, mu1, CHUNK_ROWS)  # (block, V), centered log-odds of p
        L2 = _centered_logits(f2, G2, mu2, CHUNK_ROWS)
        D = L1 - L2
        max_abs = jnp.maximum(max_abs, jnp.max(jnp.abs(D)))
        # KL(p‖q) = Σ_y p(y)(L1 − L2)(y) − (lse L1 − lse L2): two exponentials per logit, not
        # three as with two log_softmax and exp(lp) (exp dominates the non-GEMM time on CPU).
        m1 = jnp.max(L1, axis=-1, keepdims=True)
        m2 = jnp.max(L2, axis=-1, keepdims=True)
        # KL(q‖p) from the same two exponentials: the reverse direction costs one more product.
        e1, e2 = jnp.exp(L1 - m1), jnp.exp(L2 - m2)
        s1, s2 = jnp.sum(e1, axis=-1), jnp.sum(e2, axis=-1)
        lse_diff = (m1 - m2)[:, 0] + jnp.log(s1) - jnp.log(s2)
        kl_pq = jnp.sum(e1 * D, axis=-1) / s1 - lse_diff
        kl_qp = lse_diff - jnp.sum(e2 * D, axis=-1) / s2
        kl = jnp.stack([jnp.sum(jnp.maximum(kl_pq, 0.0)), jnp.sum(jnp.maximum(kl_qp, 0.0))])
        return (max_abs, kl_sums + kl), None  # KL ≥ 0: rounding below it is clipped

    zero = jnp.zeros((), F1.dtype)
    (max_abs, kl_sums), _ = jax.lax.scan(body, (zero, jnp.zeros(2, F1.dtype)), (F1b, F2b))
    return max_abs, kl_sums / n


@functools.partial(jax.jit, static_argnames=("block", "frobenius_only", "scaled", "route"))
def gap_kernel(
    F1, G1, F2, G2, *, block: int, frobenius_only: bool, scaled: bool = False,
    route: str | None = None,
):  # fmt: skip
    """Jitted core of `distribution_gap` on raw arrays: returns
    `(frobenius, reference_norm, max_abs, kl)` with `kl = (mean KL(p‖q), mean KL(q‖p))` (the
    last two NaN-free zeros if skipped); with `scaled`, `(s_diff, s_ref, e, max_abs, kl)` where
    `frobenius = 2^e·s_diff` and `reference_norm = 2^e·s_ref` (`_diff_norms`: finite, and their
    ratio exact, at any scale). `route` forces the R factor's route (`r_factor_route`;
    benchmarks and tests)."""
    s_diff, s_ref, e = _frobenius(F1, G1, F2, G2, route)
    if frobenius_only:
        max_abs, kl = jnp.zeros((), F1.dtype), jnp.zeros(2, F1.dtype)
    else:
        max_abs, kl = _streamed(F1, G1, F2, G2, block)
    if scaled:
        return s_diff, s_ref, e, max_abs, kl
    up = e.astype(jnp.int32)
    return jnp.ldexp(s_diff, up), jnp.ldexp(s_ref, up), max_abs, kl


def stream_block(num_contexts: int, vocab_size: int) -> int:
    """Contexts per streamed block: as many as fit `STREAM_BLOCK_ELEMENTS` logits, rounded to 8."""
    block = max(1, STREAM_BLOCK_ELEMENTS // max(vocab_size, 1))
    if block >= 8:
        block -= block % 8
    return min(block, num_contexts)


def distribution_gap(
    p: Predictor,
    q: Predictor,
    *,
    frobenius_only: bool = False,
    block: int | None = None,
) -> Gap:
    """Distance between the next-token distributions of p and q on their shared contexts.

    Symbols (docs/theory.md §2): `p = (F, G)`, `q = (F̃, G̃)`; `C = F Ĝᵀ` with `Ĝ = G − 1·mean_y G`.

    - `frobenius = ‖C_p − C_q‖_F = ‖Y Rᵀ‖_F`, `X = [F, −F̃] = Q R`, `Y = [Ĝ, Ĝ̃]` (QR on the
      shorter side) — `O((N+V)(d+d̃)²)` time, no N×V matrix, error ~ε·‖X‖‖Y‖.
    - `max_abs = max |C_p − C_q|`, `mean_kl = mean_x KL(p(·|x) ‖ q(·|x))` (p is the
      reference) and `reverse_kl` (q‖p), streamed in one pass over blocks of contexts (bounded
      memory).

    Args:
        p, q: predictors on the same N contexts and V tokens (widths may differ).
        frobenius_only: skip the streamed pass (max_abs and the KLs are then None).
        block: contexts per streamed block (default: ~8M logits per block).

    Returns:
        A `Gap`. Zero on the diagonal, and `frobenius` is symmetric in p and q.

    Raises:
        IncompatibleError: different N or V.

    Example:
        >>> import numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(5, 3)), rng.normal(size=(7, 3)))
        >>> q = idlin.Predictor(p.embeddings * 2.0, p.unembeddings / 2.0 + 1.0)
        >>> bool(idlin.distribution_gap(p, q).relative < 1e-5)
        True
    """
    p, q = _predictors(p, q)
    if block is None:
        block = stream_block(p.num_contexts, p.vocab_size)
    else:
        from ._checks import integer

        block = integer("block", block, minimum=1)
    block = min(block, p.num_contexts)
    s_diff, s_ref, e, max_abs, kl = gap_kernel(
        p.embeddings,
        p.unembeddings,
        q.embeddings,
        q.unembeddings,
        block=block,
        frobenius_only=frobenius_only,
        scaled=True,
    )
    relative = _relative(s_diff, s_ref)  # of the scaled norms: right even where 2^e·s overflows
    frob, ref = jnp.ldexp(s_diff, e.astype(jnp.int32)), jnp.ldexp(s_ref, e.astype(jnp.int32))
    if frobenius_only:
        gap = Gap(frobenius=frob, relative=relative, reference_norm=ref)
    else:
        gap = Gap(frob, relative, ref, max_abs=max_abs, mean_kl=kl[0], reverse_kl=kl[1])
    return gap


def _relative(s_diff, s_ref):
    """`s_diff / s_ref` (0 when both are 0, inf when only `s_ref` is)."""
    safe = jnp.where(s_ref > 0, s_ref, 1)
    return jnp.where(s_ref > 0, s_diff / safe, jnp.where(s_diff == 0, 0.0, jnp.inf))


def _predictors(p, q) -> tuple[Predictor, Predictor]:
    """p and q as Predictors of one dtype (an Analysis gives its predictor)."""
    from ._analysis import Analysis

    p = p.predictor if isinstance(p, Analysis) else p
    q = q.predictor if isinstance(q, Analysis) else q
    return check_comparable(p, q)


def equivalent(
    p: Predictor,
    q: Predictor,
    *,
    rtol: float | None = None,
    atol: float = 0.0,
    precision: Precision | None = None,
):
    """Whether p and q define the same next-token distributions, up to a tolerance.

    Decides `‖C_p − C_q‖_F ≤ atol + rtol·‖C_p‖_F` (docs/theory.md §2: `θ ~ θ̃ ⇔ C_θ = C_θ̃`),
    with the Frobenius gap by the QR form. The default `rtol` is the precision policy's
    equivalence tolerance for the *coarser* of the two stored dtypes (docs/theory.md §3.1:
    1e-8 float64, 1e-4 float32, 1e-2 float16/bfloat16), so a float64 model and its float32 copy
    are equivalent. Trained models are only approximately equivalent: see `compare`.

    Args:
        p, q: predictors (or analyses) on the same contexts and vocabulary.
        rtol: tolerance on the relative gap (overrides `precision.equivalence_rtol`).
        atol: absolute tolerance on `‖C_p − C_q‖_F`.
        precision: a `Precision`; its `equivalence_rtol` and `stored` dtype are used.

    Returns:
        A 0-d bool JAX array, in every mode (`bool(...)` for a Python bool).

    Raises:
        IncompatibleError: different N or V.
        ConfigError: NaN, infinite or negative tolerances.
    """
    from ._analysis import Analysis
    from ._precision import _check_nonnegative, equivalence_rtol

    def stored(x):
        if isinstance(x, Analysis):
            return x.precision.stored
        return precision.stored if precision is not None and precision.stored else x.dtype

    if rtol is None:
        rtol = equivalence_rtol(stored(p), stored(q), precision)
    try:
        _check_nonnegative("rtol", rtol)
        _check_nonnegative("atol", atol)
    except ConfigError as e:
        raise ConfigError(f"tolerances must be finite and ≥ 0: {e}") from None
    p_, q_ = _predictors(p, q)
    s_diff, s_ref, e, _, _ = gap_kernel(
        p_.embeddings, p_.unembeddings, q_.embeddings, q_.unembeddings,
        block=1, frobenius_only=True, scaled=True,
    )  # fmt: skip
    # ‖ΔC‖ ≤ atol + rtol‖C‖ in the scaled units (`_diff_norms`): no overflow or underflow
    # decides it. 2^-e·atol may overflow to inf: then ‖ΔC‖ < atol indeed.
    atol_scaled = jnp.ldexp(jnp.asarray(atol, s_diff.dtype), -e.astype(jnp.int32))
    verdict = s_diff <= atol_scaled + rtol * s_ref
    if is_traced(verdict):
        return verdict
    if not jax.config.read("jax_enable_x64"):
        thr = float(atol_scaled + rtol * s_ref)
        _check_resolved(p_, q_, float(s_diff), float(s_ref), thr, int(e), rtol)
    return verdict


def _log2_norm(A):
    """`log₂ ‖A‖_F` without overflow or underflow (A scaled by a power of two first)."""
    e = _exponent(A)
    norm = jnp.linalg.norm(A * _pow2(-e, A.dtype))
    return e.astype(norm.dtype) + jnp.log2(norm)


def _check_resolved(p, q, s_diff, s_ref, s_threshold, e, rtol):
    """Refuse a verdict the arithmetic cannot resolve (x64 off: no float64 accumulator).

    The factored gap's absolute error is at most about `ε·‖X‖_F‖Y‖_F` (`X = [F, −F̃]`,
    `Y = [Ĝ, Ĝ̃]`, ε of the data's dtype; docs/theory.md §2.1) — far above `ε·‖C‖_F` when the two
    bases differ by an ill-conditioned map. Where the measured `‖ΔC‖` lies within that bound of
    the threshold `atol + rtol·‖C‖`, either verdict could be rounding's (measured with x64 off:
    an exactly equivalent float32 pair under a change of basis of condition 2.6e6 read 2e-4,
    "not equivalent" at rtol 1e-4), so `ConfigError` says so instead of guessing."""
    Gh1, Gh2 = center_rows(p.unembeddings), center_rows(q.unembeddings)
    log_x = jnp.logaddexp2(2 * _log2_norm(p.embeddings), 2 * _log2_norm(q.embeddings)) / 2
    log_y = jnp.logaddexp2(2 * _log2_norm(Gh1), 2 * _log2_norm(Gh2)) / 2
    eps = resolution(p.dtype)  # the data dtype's ε (the policy module's table)
    # the bound in the scaled units of s_diff (2^e), clipped where 2^x is not a float
    scale = float(log_x + log_y) + np.log2(eps) - e
    bound = 0.0 if scale < -1000 else (np.inf if scale > 1000 else 2.0**scale)
    if abs(s_diff - s_threshold) <= bound:
        ref = s_ref if s_ref > 0 else np.inf
        raise ConfigError(
            f"equivalent: cannot decide with jax_enable_x64 off — the {p.dtype} factored gap "
            f"resolves ‖C_p − C_q‖_F only to ~{bound / ref:.1e} of ‖C_p‖_F here "
            f"(ε·‖[F, −F̃]‖_F·‖[Ĝ, Ĝ̃]‖_F), which straddles the threshold (rtol={rtol:.1e}; "
            f"measured {s_diff / ref:.1e}); enable x64 "
            "(`jax.config.update('jax_enable_x64', True)`, float64 accumulation) or pass an "
            "rtol well above that resolution"
        )
