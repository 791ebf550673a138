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

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.buffer_callback import buffer_callback

# Rows per block of the host Gram: a float64 block of at most ~64 MiB.
_BLOCK_ELEMENTS = 1 << 23


def host_gram(*blocks: np.ndarray) -> np.ndarray:
    """`XᵀX` (float64) of the column concatenation `X = [blocks…]` of equally tall arrays, on
    the host; X is never formed: one float64 block of its rows at a time."""
    blocks = tuple(np.asarray(B) for B in blocks)
    rows, widths = blocks[0].shape[0], [B.shape[1] for B in blocks]
    k = sum(widths)
    out = np.zeros((k, k), np.float64)
    step = max(1, _BLOCK_ELEMENTS // max(k, 1))
    buf = np.empty((min(step, rows), k), np.float64)
    for i in range(0, rows, step):
        x, col = buf[: min(rows, i + step) - i], 0
        for B, w in zip(blocks, widths, strict=True):
            x[:, col : col + w] = B[i : i + step]
            col += w
        # BLAS dsyrk: `np.dot` of a buffer's transpose with itself (measured 0.073 s on
        # 4096×1536 float64, 2 cores; `x.T @ x` 0.112 s).
        out += np.dot(x.T, x)
    return out


def _host_grams(*matrices: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(host_gram(A) for A in matrices)


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


@jax.custom_jvp
def gram64(*matrices):
    """`AᵀA` (k×k, float64) of each float32 (rows×k) matrix A, accumulated in float64; several
    matrices are done in one host call, one after the other (two at once would only share the
    same cores)."""
    if jax.default_backend() != "cpu":
        return tuple(_xla_gram(A) for A in matrices)
    shapes = tuple(jax.ShapeDtypeStruct((A.shape[1],) * 2, jnp.float64) for A in matrices)
    return host_call(_host_grams, shapes, *matrices)


@gram64.defjvp
def _gram64_jvp(primals, tangents):
    out = []
    for A, dA in zip(primals, tangents, strict=True):
        t = jnp.matmul(dA.T, A, preferred_element_type=jnp.float64)
        out.append(t + t.T)
    return gram64(*primals), tuple(out)
