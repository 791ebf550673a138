"""Train the K seeds of one study point as one vmapped program and stack their predictors.

The study reuses the sweep's architecture builders and `idlin.lab.train`'s one driver: `bilinear`
is the sweep's free-`F`, `G` program (`idlin.lab.sweep.bilinear_fns`, full-batch
cross-entropy with Adam), `mlp`/`transformer` are `idlin.lab.models` trained by `idlin.lab.train`'s
pure step on minibatches of the exact table (`make_init`, `make_step`, `make_data`, the sweep's
`train_config`). Seeds are vectorised by `init_runner`/`run_chunks` (`jax.vmap` over seeds of a
`lax.scan` over steps) with keys of the sweep's schedule (`seed_keys(key(SWEEP_ROOT), seeds)`),
so study seed s of a point is sweep seed s of the same grid point. Only the truth is built here
rather than by the sweep's `make_truth`, because the study also trains on the morphology truth,
which that function does not know.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ...core._predictor import Predictor


def _dtype() -> str:
    return "float64" if jax.config.read("jax_enable_x64") else "float32"


def train_seeds(
    truth: Any,
    *,
    architecture: str,
    width: int,
    steps: int,
    learning_rate: float,
    seeds: Sequence[int],
    options: Mapping[str, Any] | None = None,
    chunk_steps: int = 500,
    sharding: Any = None,
) -> tuple[Predictor, Any]:
    """Train `len(seeds)` models of one architecture and width on `truth`, as one program.

    With `sharding` (a `NamedSharding` of a 1-D device mesh along the seed axis, as the sweep
    uses) the seed axis is split over the mesh's devices: seeds are padded with copies of the
    last one to a multiple of the device count, and the copies are dropped afterwards.

    Returns:
        `(stacked, losses)`: a `Predictor` whose `F` (K×N×d) and `G` (K×V×d) carry a leading
        seed axis (same shapes for every seed, ready for `jax.vmap(idlin.analyze)`), and the final
        training loss of each seed, shape (K,).

    Raises:
        ConfigError: an unknown architecture or a `[train]` option `TrainConfig` rejects.
    """
    from ..sweep import GridPoint
    from ..train import SWEEP_ROOT, init_runner, pad_seeds, replicated, run_chunks, seed_keys

    count = len(seeds)
    padded = list(pad_seeds(seeds, 1 if sharding is None else sharding.mesh.size))
    keys = seed_keys(jax.random.key(SWEEP_ROOT), padded)
    if sharding is not None:
        keys = jax.device_put(keys, sharding)
    options = dict(options or {})
    if architecture == "bilinear":
        from ..sweep import bilinear_fns

        dtype = _dtype()
        init, step = bilinear_fns(truth.num_contexts, truth.vocab_size, width, dtype)
        data = {
            "target": jnp.asarray(truth.log_probs, dtype),
            "learning_rate": jnp.asarray(learning_rate, dtype),
        }
    elif architecture in ("mlp", "transformer"):
        from ..sweep import train_config
        from ..train import make_data, make_init, make_step

        point = GridPoint("study", {}, width, architecture, learning_rate, steps, options)
        config = train_config(point)
        graphdef, init = make_init(config, truth.vocab_size, truth.context_length)
        step = make_step(graphdef, config)
        data = make_data(truth, config)
    else:
        from ...core._errors import ConfigError

        raise ConfigError(
            f"architecture: expected 'bilinear', 'mlp' or 'transformer', got {architecture!r}"
        )
    if sharding is not None:
        data = jax.device_put(data, replicated(sharding))
    states = init_runner(init, sharding)(keys, data)
    losses = None
    for _, chunk_states, chunk_losses in run_chunks(
        step, states, keys, data, start=0, end=steps, chunk_steps=chunk_steps, sharding=sharding
    ):
        states, losses = chunk_states, chunk_losses  # the driver yields after every chunk
    final = jnp.zeros(count) if losses is None else losses[:count, -1]
    if architecture == "bilinear":
        params = states["params"]
        stacked = stack(params["F"], params["G"])
    else:
        stacked = _export_stacked(graphdef, states.params, truth.contexts)
    if len(padded) > count:
        stacked = jax.tree_util.tree_map(lambda x: x[:count], stacked)
    return stacked, final


def stack(F: jax.Array, G: jax.Array) -> Predictor:
    """A Predictor whose leaves carry a leading seed axis (F: K×N×d, G: K×V×d), built through
    the pytree protocol (the constructor checks the shapes and dtypes of one model; every seed's
    finiteness is the caller's: a diverged seed, 0 or any other, is a failed-seed record)."""
    one = Predictor(jnp.zeros_like(F[0]), jnp.zeros_like(G[0]))  # finite: only the structure
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(one), [F, G])


@functools.lru_cache(maxsize=32)
def _exporter(graphdef):
    """One jitted, vmapped `export_predictor` per model structure (compiled once per shape)."""
    from ..models import export_predictor

    def one(p, ctx):
        q = export_predictor((graphdef, p), ctx)
        return q.embeddings, q.unembeddings

    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def _export_stacked(graphdef, params, contexts) -> Predictor:
    """`idlin.lab.models.export_predictor` of every seed, vmapped: `F = f(contexts)` and `G` with a
    leading seed axis."""
    F, G = _exporter(graphdef)(params, jnp.asarray(contexts))
    return stack(F, G)
