"""The functional training step and its vectorised-seed runner (THEORY §8).

The fast path follows the Flax NNX examples: `nnx.split` once, then plain pytrees through
`jax.jit`/`jax.vmap`. The step is a pure function `(state, data, key) -> (state, loss)`; a chunk of
steps is a `lax.scan` of it; K seeds are ONE `jax.vmap` of the chunk over stacked states and keys
(never a Python loop over seeds), so sweeps may vmap or shard it further.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import PRNGKeyArray

from ..data import Stream, Truth
from ..models import make_model
from ._config import TrainConfig


class TrainState(NamedTuple):
    """One seed's state (stacked along a leading seed axis when vmapped)."""

    params: Any  # nnx.State of the model's Params
    opt_state: Any  # optax state
    step: jax.Array  # () int32, steps taken


class TrainData(NamedTuple):
    """What the step samples minibatches from.

    table: `contexts` (N, T), `probs` (N, V) and `log_probs` (N, V) of the truth.
    stream: `contexts` (M, T) of the sampled pairs, `tokens` (M,) their next tokens.
    """

    contexts: jax.Array
    probs: jax.Array | None = None
    log_probs: jax.Array | None = None
    tokens: jax.Array | None = None


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam with (optional linear warm-up and) cosine decay to 0 over `config.steps`."""
    if config.warmup_steps:
        schedule = optax.warmup_cosine_decay_schedule(
            0.0, config.learning_rate, config.warmup_steps, config.steps
        )
    else:
        schedule = optax.cosine_decay_schedule(config.learning_rate, config.steps)
    return optax.adam(schedule)


def make_data(truth: Truth, config: TrainConfig, stream: Stream | None = None) -> TrainData:
    """Device arrays for `config.source`, in the parameter dtype (strict promotion safe)."""
    contexts = jnp.asarray(truth.contexts)
    if config.source == "table":
        return TrainData(
            contexts=contexts,
            probs=jnp.asarray(truth.probs, config.dtype),
            log_probs=jnp.asarray(truth.log_probs, config.dtype),
        )
    assert stream is not None, "source='stream' needs a sampled stream"
    return TrainData(
        contexts=contexts[jnp.asarray(stream.context_ids)], tokens=jnp.asarray(stream.next_tokens)
    )


def init_states(
    truth: Truth, config: TrainConfig, *, key: PRNGKeyArray
) -> tuple[nnx.GraphDef, TrainState]:
    """Initialise `config.seeds` models in one vmapped call; seed k uses `split(key, K)[k]`.

    Returns:
        `(graphdef, states)`: the static model structure and a `TrainState` whose leaves have a
        leading seed axis of size K.
    """
    init = _initialiser(config, truth.vocab_size, truth.context_length)
    states = init(jax.random.split(key, config.seeds))
    return init.graphdef, states  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=32)
def _initialiser(config: TrainConfig, vocab_size: int, context_length: int):
    """One jitted, vmapped initialiser per (config, sizes): repeated runs do not recompile."""
    tx = make_optimizer(config)
    graphdefs = []

    def init_one(seed_key):
        model = make_model(
            config.architecture,
            vocab_size=vocab_size,
            context_length=context_length,
            width=config.width,
            rngs=nnx.Rngs(params=jax.random.fold_in(seed_key, 0)),
            bias=config.bias,
            dtype=jnp.dtype(config.dtype),
            **config.model_options(),
        )
        graphdef, params = nnx.split(model)
        graphdefs.append(graphdef)  # static structure, identical for every seed
        return TrainState(params, tx.init(params), jnp.zeros((), jnp.int32))

    init = jax.jit(jax.vmap(init_one))

    def run(keys):
        out = init(keys)
        run.graphdef = graphdefs[0]  # type: ignore[attr-defined]
        return out

    return run


def make_step(graphdef: nnx.GraphDef, config: TrainConfig):
    """The pure step `(state, data, key) -> (state, loss)` for ONE seed.

    table: batch `i ~ randint(N)`, loss `mean_i Σ_y p*(y|x_i) (log p*(y|x_i) − log p_θ(y|x_i))`
    (the KL to the truth, THEORY §8); stream: batch `j ~ randint(M)`, loss
    `mean_j −log p_θ(y_j|x_j)`. Minibatches use `randint` (sampling with replacement), ~4× faster
    than `jax.random.choice(replace=False)`.
    """
    tx = make_optimizer(config)

    def loss_fn(params, data: TrainData, idx):
        logq = jax.nn.log_softmax(nnx.merge(graphdef, params)(data.contexts[idx]), axis=-1)
        if data.probs is not None and data.log_probs is not None:  # source == "table"
            p, logp = data.probs[idx], data.log_probs[idx]  # (B, V)
            return jnp.mean(jnp.sum(p * (logp - logq), axis=-1))
        assert data.tokens is not None  # source == "stream"
        nll = -jnp.take_along_axis(logq, data.tokens[idx][:, None], axis=-1)
        return jnp.mean(nll)

    def step(state: TrainState, data: TrainData, key) -> tuple[TrainState, jax.Array]:
        idx = jax.random.randint(key, (config.batch_size,), 0, data.contexts.shape[0])
        loss, grads = jax.value_and_grad(loss_fn)(state.params, data, idx)
        # optax mixes Python floats with int32 step counts (Adam's bias correction): allow that
        # here even when the caller runs with strict dtype promotion.
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = tx.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1), loss

    return step


@functools.lru_cache(maxsize=64)
def make_runner(graphdef: nnx.GraphDef, config: TrainConfig, num_steps: int):
    """`run(states, data, seed_keys) -> (states, losses (K, num_steps))`: `num_steps` steps of
    every seed in one jitted program (`vmap` over seeds of a `lax.scan` over steps). The batch key
    of seed k at step s is `fold_in(seed_keys[k], s)`, so a resumed run draws the same batches."""
    step = make_step(graphdef, config)

    def run_one(state, data, seed_key):
        def body(s, _):
            return step(s, data, jax.random.fold_in(seed_key, s.step))

        return jax.lax.scan(body, state, None, length=num_steps)

    return jax.jit(jax.vmap(run_one, in_axes=(0, None, 0)))


def seed_data_keys(key: PRNGKeyArray, seeds: int) -> jax.Array:
    """Per-seed batch keys, independent of the initialisation keys."""
    return jax.vmap(lambda k: jax.random.fold_in(k, 1))(jax.random.split(key, seeds))


def unstack(tree: Any, k: int) -> Any:
    """Seed k's slice of a stacked pytree."""
    return jax.tree.map(lambda x: x[k], tree)
