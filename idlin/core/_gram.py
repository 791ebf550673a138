"""Gram matrices `AᵀA` of float32 data accumulated in float64 (docs/theory.md §2.1, §3.2).

Both fast routes — the factored gap's CholeskyQR and `analyze`'s Gram route — need `AᵀA` of a
tall float32 matrix to float64 accuracy (float32 products are exact in float64). XLA's CPU
backend computes a mixed-precision dot at a quarter of its float32 GEMM rate; the host BLAS's
symmetric rank-k update (`dsyrk`, which `np.dot(x.T, x)` calls on one buffer) does half the
FLOPs at the float64 rate (`benchmarks/bench_decomposition.py`, its `gram` case). So on CPU the
Gram is a host call (`host_call`) into NumPy, elsewhere XLA's dot. Its derivative
(`dAᵀA + AᵀdA`) is XLA's, so `grad` and `vmap` work through it.

The host BLAS leaves its worker threads spinning for ~0.1 s after each threaded call (OpenBLAS's
thread timeout), which takes a core from the XLA work that follows on a small machine (measured
on 2 cores: an XLA GEMM right after a NumPy one ran at 0.53× its speed). threadpoolctl cannot
hold OpenBLAS 0.3.31 to one thread from the threads XLA runs callbacks on (a limit set there is
ignored once the main thread has set one), so each route makes one host call.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.buffer_callback import buffer_callback

# Rows per block of the host Gram: a float64 block of at most ~64 MiB.
_BLOCK_ELEMENTS = 1 << 23


def _float64_rows(blocks, center=None, scale=None, step=None):
    """Yield float64 row blocks of the column concatenation `X = [blocks…]` (minus the row vector
    `center`, subtracted in float64), `step` rows each (default: a buffer of at most ~64 MiB),
    one buffer reused: X is never formed."""
    blocks = tuple(np.asarray(B) for B in blocks)
    rows, widths = blocks[0].shape[0], [B.shape[1] for B in blocks]
    k = sum(widths)
    step = step or max(1, _BLOCK_ELEMENTS // max(k, 1))
    buf = np.empty((min(step, rows), k), np.float64)
    for i in range(0, rows, step):
        x, col = buf[: min(rows, i + step) - i], 0
        for B, w in zip(blocks, widths, strict=True):
            x[:, col : col + w] = B[i : i + step]
            col += w
        if center is not None:
            x -= center[None, :]
        if scale is not None:  # exact powers of two per column: no overflow in the products
            x *= scale[None, :]
        yield x


def host_gram(
    *blocks: np.ndarray, center: np.ndarray | None = None, scale: np.ndarray | None = None
) -> np.ndarray:
    """`XᵀX` (float64) of the column concatenation `X = [blocks…]` of equally tall arrays, on
    the host, with the row vector `center` subtracted from every row of X in float64 first (the
    centered Gram `ĜᵀĜ` of float32 unembeddings to float64 accuracy: forming Ĝ in float32 would
    round each entry by ε₃₂·|ḡ|, docs/theory.md §3), then the columns multiplied by `scale`;
    X is never formed."""
    k = sum(np.shape(B)[1] for B in blocks)
    out = np.zeros((k, k), np.float64)
    for x in _float64_rows(blocks, center, scale):
        # BLAS dsyrk: `np.dot` of a buffer's transpose with itself (measured 0.073 s on
        # 4096×1536 float64, 2 cores; `x.T @ x` 0.112 s).
        out += np.dot(x.T, x)
    return out


# Eigenvalues of a Gram accumulated in float64 over n rows of width k carry an absolute error of
# up to ~(√n + k)·ε₆₄·‖A‖_F²; singular values whose square is below this many times that bound
# are recomputed from `A V` (`refine_tail`).
_TAIL_FACTOR = 16.0


def refine_tail(A: np.ndarray, center: np.ndarray | None, s: np.ndarray, V: np.ndarray):
    """Singular values `s` (descending) and right singular vectors `V` (columns) of a tall A
    (minus `center` per row) from the `eigh` of its float64 Gram, with the unresolved tail
    recomputed (docs/theory.md §3.2): a Gram squares the condition number, so singular values
    below ~`((√n + k)·ε₆₄)^{1/2}·‖A‖_F` are rounding there. For those columns `V_t`, the R factor
    of `Y = A V_t` (float64 rows, a chunked TSQR: no n×t buffer) and its SVD `R = P Σ Zᵀ` give
    `σ(A V_t) = Σ` to ~ε₆₄·‖A‖₂ absolute (a Householder SVD's accuracy) and vectors `V_t Z`.
    Nothing is recomputed when there is no tail (a real LM's F and Ĝ)."""
    s, V = np.array(s, np.float64), np.array(V, np.float64)
    n, k = A.shape
    bound = _TAIL_FACTOR * (math.sqrt(n) + k) * np.finfo(np.float64).eps * float(np.sum(s**2))
    tail = np.flatnonzero(s**2 <= bound)
    if tail.size == 0 or bound == 0.0:
        return s, V
    Vt = V[:, tail]
    R = np.zeros((0, tail.size))
    for x in _float64_rows((A,), center):
        R = np.linalg.qr(np.vstack([R, x @ Vt]), mode="r")
    _, sigma, Zt = np.linalg.svd(R)
    s[tail], V[:, tail] = sigma, Vt @ Zt.T
    order = np.argsort(-s, kind="stable")
    return s[order], V[:, order]


def _host_grams(*args: np.ndarray) -> tuple[np.ndarray, ...]:
    """Grams of `(matrix, center)` pairs; a zero-length center means none."""
    pairs = zip(args[::2], args[1::2], strict=True)
    return tuple(host_gram(A, center=c if c.size else None) for A, c in pairs)


def host_call(fn, shapes, *args) -> tuple:
    """`fn(*args)` on the host inside a traced computation: `fn` takes NumPy arrays and returns
    a tuple of arrays shaped like `shapes` (`jax.ShapeDtypeStruct`s). Through
    `jax.experimental.buffer_callback`, which hands over XLA's buffers as NumPy views and takes
    the results in XLA's output buffers: `jax.pure_callback` first copies every operand into a
    fresh array (measured 0.07 s for one 50257×768 float32 operand, 2 cores). Batched under
    `vmap` one call per element."""

    def callback(ctx, out, *buffers):
        del ctx
        results = fn(*(np.asarray(b) for b in buffers))
        for o, r in zip(out, results, strict=True):
            np.asarray(o)[...] = r

    return tuple(buffer_callback(callback, tuple(shapes), vmap_method="sequential")(*args))


def _xla_gram(A):
    return jnp.matmul(A.T, A, preferred_element_type=jnp.float64)


def _no_center():
    return jnp.zeros((0,), jnp.float64)


@jax.custom_jvp
def centered_gram64(matrices, centers):
    """`(A − 1cᵀ)ᵀ(A − 1cᵀ)` (k×k, float64) of each float32 (rows×k) matrix A with its float64
    row vector c (None: no centering), the subtraction and the accumulation in float64; several
    matrices are done in one host call, one after the other (two at once would only share the
    same cores)."""
    centers = tuple(_no_center() if c is None else c for c in centers)
    if jax.default_backend() != "cpu":
        return tuple(
            _xla_gram(A.astype(jnp.float64) - c[None, :] if c.size else A)
            for A, c in zip(matrices, centers, strict=True)
        )
    shapes = tuple(jax.ShapeDtypeStruct((A.shape[1],) * 2, jnp.float64) for A in matrices)
    args = [x for pair in zip(matrices, centers, strict=True) for x in pair]
    return host_call(_host_grams, shapes, *args)


@centered_gram64.defjvp
def _centered_gram64_jvp(primals, tangents):
    matrices, centers = primals
    dmatrices, dcenters = tangents
    out = []
    for A, c, dA, dc in zip(matrices, centers, dmatrices, dcenters, strict=True):
        if c is not None:  # tangents in A's dtype: (dA − 1dcᵀ)ᵀ(A − 1cᵀ)
            A = A - c.astype(A.dtype)[None, :]
            dA = dA - dc.astype(dA.dtype)[None, :]
        t = jnp.matmul(dA.T, A, preferred_element_type=jnp.float64)
        out.append(t + t.T)
    return centered_gram64(matrices, centers), tuple(out)


def gram64(*matrices):
    """`AᵀA` (k×k, float64) of each float32 (rows×k) matrix A, accumulated in float64
    (`centered_gram64` without centers)."""
    return centered_gram64(tuple(matrices), (None,) * len(matrices))


def refined_spectrum(A, center, s, V):
    """`refine_tail` inside a traced computation (a host call on CPU; elsewhere `s`, `V` as
    they are). Its derivative is the Gram route's: the host result only corrects values."""
    if jax.default_backend() != "cpu":
        return s, V
    c = _no_center() if center is None else center
    sg = jax.lax.stop_gradient

    def fn(A, c, s, V):
        return refine_tail(A, c if c.size else None, s, V)

    shapes = (jax.ShapeDtypeStruct(s.shape, s.dtype), jax.ShapeDtypeStruct(V.shape, V.dtype))
    s_ref, V_ref = host_call(fn, shapes, sg(A), sg(c), sg(s), sg(V))
    return s + sg(s_ref - s), V + sg(V_ref - V)


def host_cross(
    left: tuple[np.ndarray, ...],
    right: tuple[np.ndarray, ...],
    center: np.ndarray | None = None,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """`XᵀY` (float64) of the column concatenations `X = [left…]`, `Y = [right…]` of equally tall
    arrays, on the host, with the row vector `center` (over the columns of `[X, Y]`) subtracted
    in float64 first: a chunked cross Gram (e.g. `Ĝ̃ᵀĜ` of two float32 unembeddings to float64
    accuracy, docs/theory.md §4) that never forms X, Y or a centred copy. `scale` (over the same
    columns) multiplies the centred rows first."""
    k = sum(np.shape(B)[1] for B in left)
    out = np.zeros((k, sum(np.shape(B)[1] for B in right)), np.float64)
    # Two buffers, one per side: a GEMM of column slices of one shared buffer ran at 0.4× the
    # speed of contiguous operands (0.99 s vs 0.37 s for 49152×576 against 49152×576, 2 cores).
    step = max(1, _BLOCK_ELEMENTS // max(out.shape[0] + out.shape[1], 1))
    cut = lambda v: (None, None) if v is None else (v[:k], v[k:])  # noqa: E731
    (cl, cr), (sl, sr) = cut(center), cut(scale)
    for x, y in zip(
        _float64_rows(left, cl, sl, step), _float64_rows(right, cr, sr, step), strict=True
    ):
        out += np.dot(x.T, y)
    return out


def cross_gram64(left, right=None, centers=None, scales=None):
    """`(X − 1cₓᵀ)ᵀ(Y − 1c_yᵀ)` of the column concatenations `X = [left…]`, `Y = [right…]`
    (tuples of equally tall arrays) inside a traced computation, accumulated a block of rows at
    a time (no V×d temporary: docs/theory.md §4.3, "Memory"). `right=None`: the Gram `XᵀX` of
    X alone (a symmetric rank-k update: half the FLOPs of `cross_gram64(left, left)`).
    `centers`: one row vector (or None) per block, subtracted in float64; `scales`: one scalar
    per block (exact powers of two, so that squares of huge or tiny data neither overflow nor
    underflow) multiplying the centred block. Float64 when x64 is on (a host call into NumPy on
    CPU, `host_cross` or `host_gram`; XLA's mixed-precision dot elsewhere), else the data's
    dtype. Not differentiable on CPU (a host call)."""
    symmetric = right is None
    right = () if right is None else tuple(right)
    blocks = (*left, *right)
    centers = (None,) * len(blocks) if centers is None else tuple(centers)
    x64 = bool(jax.config.read("jax_enable_x64"))
    acc = jnp.float64 if x64 else jnp.result_type(*blocks)
    kl = sum(B.shape[1] for B in left)
    kr = kl if symmetric else sum(B.shape[1] for B in right)
    widths = [B.shape[1] for B in blocks]
    c = jnp.concatenate(
        [
            jnp.zeros((w,), acc) if c is None else jnp.asarray(c, acc)
            for w, c in zip(widths, centers, strict=True)
        ]
    )
    scales = (None,) * len(blocks) if scales is None else tuple(scales)
    sc = jnp.concatenate(
        [
            jnp.ones((w,), acc) if f is None else jnp.full((w,), f, acc)
            for w, f in zip(widths, scales, strict=True)
        ]
    )
    if x64 and jax.default_backend() == "cpu":
        centered = any(c is not None for c in centers)

        def fn(c, sc, *arrays):
            if symmetric:
                return (host_gram(*arrays, center=c if centered else None, scale=sc),)
            a, b = arrays[: len(left)], arrays[len(left) :]
            return (host_cross(a, b, c if centered else None, sc),)

        shape = jax.ShapeDtypeStruct((kl, kr), jnp.float64)
        return host_call(fn, (shape,), c, sc, *blocks)[0]
    from ._gap import CHUNK_ROWS, over_row_chunks  # (_gap imports this module)

    def part(*chunk):
        x = (jnp.concatenate([b.astype(acc) for b in chunk], axis=1) - c[None, :]) * sc[None, :]
        y = x if symmetric else x[:, kl:]
        return jnp.matmul(x[:, :kl].T, y, preferred_element_type=acc)

    return over_row_chunks(part, jnp.zeros((kl, kr), acc), *blocks, rows=CHUNK_ROWS)
