"""The one training driver: K seeds of a pure step, `vmap` over seeds of a `lax.scan` over steps.

`idlin.lab.train.train` and sweeps both run through it, so both use one step signature
`step(state, data, key) -> (state, loss)` for ONE seed, one key schedule (`idlin.lab.train._keys`),
and one checkpoint format (`idlin.lab.train._checkpoint`). Compiled programs are cached per
`(step, chunk length, sharding)`: everything that varies between runs of equal shapes — data,
learning rate and other scalar hyperparameters, the start step — is an argument, so e.g. a
learning-rate grid compiles one program (`chunk_runner(...)._cache_size() == 1`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jaxtyping import PRNGKeyArray

from ._keys import init_key, step_key

Step = Callable[[Any, Any, jax.Array], tuple[Any, jax.Array]]
Init = Callable[[jax.Array, Any], Any]


# Initialisation runs once per run: XLA's backend optimisations only cost compile time there
# (the threefry and truncated-normal kernels of a small MLP's init compiled in 2.3 s, at level 0
# in 0.3 s). Level 0 is part of the program, so every run (and a resumed one) initialises
# bitwise alike.
_INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def _jit(fn: Callable, sharding: NamedSharding | None, **options) -> Callable:
    if sharding is not None:
        options["out_shardings"] = sharding
    return jax.jit(fn, **options)


def init_runner(init: Init, sharding: NamedSharding | None = None) -> Callable:
    """`(seed_keys (K,), data) -> states`: `init(init_key(seed_key), data)` for every seed, in
    one jitted `vmap` (leaves of `states` get a leading seed axis K, sharded by `sharding`).

    >>> import jax, jax.numpy as jnp
    >>> from idlin.lab.train import seed_keys
    >>> run = init_runner(lambda key, data: jax.random.normal(key, (3,)) * data)
    >>> run(seed_keys(jax.random.key(0), [0, 1]), jnp.float32(1.0)).shape
    (2, 3)
    """

    return _init_runner(init, sharding)


@functools.lru_cache(maxsize=64)
def _init_runner(init: Init, sharding: NamedSharding | None) -> Callable:
    def init_all(seed_keys, data):
        return jax.vmap(lambda k: init(init_key(k), data))(seed_keys)

    return _jit(init_all, sharding, compiler_options=_INIT_COMPILER_OPTIONS)


def chunk_runner(step: Step, num_steps: int, sharding: NamedSharding | None = None) -> Callable:
    """`(states, seed_keys (K,), data, start) -> (states, losses (K, num_steps))`: steps
    `start, …, start + num_steps − 1` of every seed in one jitted program. Seed k's step t uses
    `step_key(seed_keys[k], t)`, so a run resumed at any `start` draws the same keys as an
    uninterrupted one; `start` is traced (a () int32 array), so resuming reuses the program.

    >>> import jax, jax.numpy as jnp
    >>> from idlin.lab.train import seed_keys
    >>> step = lambda w, lr, key: (w - lr * w, jnp.sum(w**2))
    >>> run = chunk_runner(step, 4)
    >>> w, losses = run(jnp.ones((2, 3)), seed_keys(jax.random.key(0), [0, 1]), 0.5, jnp.int32(0))
    >>> losses.shape, float(w[0, 0])
    ((2, 4), 0.0625)
    """

    return _chunk_runner(step, num_steps, sharding)


@functools.lru_cache(maxsize=64)
def _chunk_runner(step: Step, num_steps: int, sharding: NamedSharding | None) -> Callable:
    def one_seed(state, seed_key, data, start):
        def body(st, t):
            return step(st, data, step_key(seed_key, t))

        return jax.lax.scan(body, state, start + jnp.arange(num_steps, dtype=jnp.int32))

    def chunk(states, seed_keys, data, start):
        return jax.vmap(one_seed, in_axes=(0, 0, None, None))(states, seed_keys, data, start)

    return _jit(chunk, sharding)


def run_chunks(
    step: Step,
    states: Any,
    seed_keys: PRNGKeyArray,
    data: Any,
    *,
    start: int,
    end: int,
    chunk_steps: int,
    checkpoint_every: int | None = None,
    sharding: NamedSharding | None = None,
) -> Iterator[tuple[int, Any, jax.Array]]:
    """Advance every seed from step `start` to `end`, one compiled chunk at a time, yielding
    `(steps_done, states, losses (K, n))` after each chunk of n steps. Chunks are at most
    `chunk_steps` long and end on multiples of `checkpoint_every`, so the caller checkpoints
    on the yield (and the chunk lengths, hence the compiled programs, do not depend on where
    a run was resumed).
    """
    t = start
    while t < end:
        n = min(chunk_steps, end - t)
        if checkpoint_every:
            n = min(n, checkpoint_every - t % checkpoint_every)
        run = chunk_runner(step, n, sharding)
        states, losses = run(states, seed_keys, data, jnp.asarray(t, jnp.int32))
        t += n
        yield t, states, losses
