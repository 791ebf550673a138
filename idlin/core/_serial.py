"""Keeping jaxlib 0.10's batched CPU LAPACK calls from deadlocking (docs/theory.md §3.2, "Known
issue"): such a call blocks an intra-op pool thread while its batch runs on the same pool, so as
many of them at once as the pool has threads wait on each other forever. Two tools: `after`
orders two decompositions by a data dependency, `map_runs` maps a function over a batch as a
loop of unbatched calls on CPU (where a batch of 1 is never split) and as `jax.vmap` elsewhere.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def after(x, dep):
    """`x`, made to depend on `dep` (the first entry of dep, made finite, times 0, added): what
    consumes the result starts only once `dep` is computed. XLA does not fold `y·0` for floats
    (it would be wrong for NaN), and the entry is made finite first so that a NaN or infinite
    `dep` (a failed factorisation that `x` is the fallback for) leaves `x` unchanged."""
    zero = jnp.nan_to_num(jnp.ravel(dep)[0]).astype(x.dtype) * 0
    return x + zero


def map_runs(f, mapped, *shared):
    """`[f(m, *shared) for m in mapped]` stacked (mapped: a pytree with a leading run axis):
    `jax.vmap` on accelerators, `jax.lax.map` (unbatched calls in a loop) on CPU."""
    one = lambda m: f(m, *shared)  # noqa: E731
    if jax.default_backend() == "cpu":
        return jax.lax.map(one, mapped)
    return jax.vmap(one)(mapped)
