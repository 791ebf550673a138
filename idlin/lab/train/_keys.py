"""The one key schedule of every training run, `idlin.lab.train.train` and sweeps alike
(docs/theory.md §8).

From a root key, seed `s` gets `seed_key = fold_in(fold_in(root, 0), s)`; from that, its
initialisation key is `fold_in(seed_key, 0)` and the key of its step `t` (0-based: the number of
steps already taken) is `fold_in(fold_in(seed_key, 1), t)`. A sampled training stream shared by
all seeds uses `fold_in(root, 1)`. Every key is a function of (root, seed, step) alone, so
  - seed `s` is the same model whatever the other seeds of its run are (no `split(root, K)`);
  - a run resumed at step `t` draws exactly the keys an uninterrupted run draws;
  - a sweep, whose root is `jax.random.key(SWEEP_ROOT)`, trains its seed `s` exactly as seed `s`
    of `train(..., key=jax.random.key(SWEEP_ROOT))` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PRNGKeyArray

SWEEP_ROOT = 0
"""The root key of every sweep: `jax.random.key(SWEEP_ROOT)`."""


def seed_keys(key: PRNGKeyArray, seeds: Sequence[int] | Int[Array, " K"]) -> PRNGKeyArray:
    """The (K,) per-seed keys `fold_in(fold_in(key, 0), s)` of the seeds `seeds`.

    >>> import jax
    >>> seed_keys(jax.random.key(0), [0, 3]).shape
    (2,)
    """
    seeds = jnp.asarray(seeds, jnp.uint32)
    base = jax.random.fold_in(key, 0)
    return jax.vmap(lambda s: jax.random.fold_in(base, s))(seeds)


def init_key(seed_key: PRNGKeyArray) -> PRNGKeyArray:
    """The initialisation key of one seed: `fold_in(seed_key, 0)`."""
    return jax.random.fold_in(seed_key, 0)


def step_key(seed_key: PRNGKeyArray, step: Int[Array, ""] | int) -> PRNGKeyArray:
    """The key of one seed's step `step` (0-based): `fold_in(fold_in(seed_key, 1), step)`."""
    return jax.random.fold_in(jax.random.fold_in(seed_key, 1), step)


def stream_key(key: PRNGKeyArray) -> PRNGKeyArray:
    """The key of a training stream sampled once for all seeds: `fold_in(key, 1)`."""
    return jax.random.fold_in(key, 1)
