"""Seeded sampling of a pivot token and a set of other tokens (shared by d_rep, m_SVD, d_LLV)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError


def candidates(name: str, tokens: Sequence[int] | None, size: int, need: int) -> np.ndarray:
    """The candidate indices (all of `range(size)` by default), checked: distinct, in range, and
    at least `need` of them."""
    cand = np.arange(size) if tokens is None else np.asarray(tokens)
    if cand.ndim != 1 or (cand.size and cand.dtype.kind not in "iu"):
        raise ConfigError(f"{name}: expected a 1-D sequence of integer indices, got {cand!r}")
    if cand.size and (cand.min() < 0 or cand.max() >= size):
        raise ConfigError(f"{name}: expected indices in [0, {size}), got {cand.tolist()}")
    if np.unique(cand).size != cand.size:
        raise ConfigError(f"{name}: expected distinct indices, got {cand.tolist()}")
    if cand.size < need:
        raise ConfigError(
            f"{name}: expected at least {need} candidates (a pivot and {need - 1} others), "
            f"got {cand.size}"
        )
    return cand.astype(np.int32)


def check_pivot(name: str, pivot: int | None, cand: np.ndarray) -> None:
    if pivot is not None and int(pivot) not in set(cand.tolist()):
        raise ConfigError(f"{name}: expected one of the candidate indices, got {pivot}")


@functools.partial(jax.jit, static_argnames=("k", "num_samples"))
def _sample(key, cand, fixed, *, k: int, num_samples: int):
    def one(key):
        kp, ks = jax.random.split(key)
        drawn = cand[jax.random.randint(kp, (), 0, cand.shape[0], jnp.int32)]
        piv = jnp.where(fixed >= 0, fixed, drawn)
        # Fixed int32/float32 draws: the same key gives the same pivots with or without x64.
        scores = jnp.where(cand == piv, jnp.inf, jax.random.uniform(ks, cand.shape, jnp.float32))
        return piv, cand[jnp.argsort(scores)[:k]]

    return jax.vmap(one)(jax.random.split(key, num_samples))


def sample_pivots(key, cand: np.ndarray, k: int, num_samples: int, pivot: int | None):
    """`num_samples` draws of `(pivot, S)`: the pivot uniform over `cand` (or fixed), `S` a
    uniformly random set of `k` other candidates. Returns `(pivots (m,), sets (m, k))`; one
    compilation per (number of candidates, k, m)."""
    fixed = jnp.asarray(-1 if pivot is None else int(pivot), jnp.int32)
    return _sample(key, jnp.asarray(cand), fixed, k=int(k), num_samples=int(num_samples))
