"""The pure training step of Flax NNX next-token models, and their initialisation (docs/theory.md
§8).

The fast path follows the Flax NNX examples: `nnx.split` once, then plain pytrees through
`jax.jit`/`jax.vmap`. The step is a pure function `(state, data, key) -> (state, loss)` for one
seed, run by the one driver (`idlin.lab.train._driver`) for `train` and sweeps alike. The learning
rate and the schedule's other scalars (warm-up and decay steps) travel in `TrainData.hyper` as
arrays, not in the compiled program: step functions are cached per *static* configuration (the
fields that change shapes or code), so runs that differ only in those scalars share one program.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import PRNGKeyArray

from ...core._errors import ConfigError
from ..data import Stream, Truth
from ..models import make_model
from ._config import TrainConfig
from ._driver import init_runner
from ._keys import seed_keys


class TrainState(NamedTuple):
    """One seed's state (stacked along a leading seed axis when vmapped)."""

    params: Any  # nnx.State of the model's Params
    opt_state: Any  # optax state of Adam's moment estimates
    step: jax.Array  # () int32, steps taken


class TrainData(NamedTuple):
    """What the step samples minibatches from, and the scalar hyperparameters it reads.

    table: `contexts` (N, T), `probs` (N, V) and `log_probs` (N, V) of the truth.
    stream: `contexts` (M, T) of the sampled pairs, `tokens` (M,) their next tokens.
    hyper: `learning_rate`, `warmup_steps`, `decay_steps` as () arrays of the parameter dtype.
    """

    contexts: jax.Array
    probs: jax.Array | None = None
    log_probs: jax.Array | None = None
    tokens: jax.Array | None = None
    hyper: dict[str, jax.Array] | None = None


def _static(config: TrainConfig) -> TrainConfig:
    """`config` with every field that enters the step as data (or not at all) normalised: the
    cache key of compiled programs."""
    return dataclasses.replace(
        config, learning_rate=1.0, warmup_steps=0, steps=1, seeds=1, chunk_steps=1,
        checkpoint_every=1,
    )  # fmt: skip


def hyperparameters(config: TrainConfig) -> dict[str, jax.Array]:
    """The scalars the step reads as data: `learning_rate` (peak), `warmup_steps`, and
    `decay_steps` (= `steps`), as () arrays of the parameter dtype."""
    dtype = jnp.dtype(config.dtype)
    return {
        "learning_rate": jnp.asarray(config.learning_rate, dtype),
        "warmup_steps": jnp.asarray(config.warmup_steps, dtype),
        "decay_steps": jnp.asarray(config.steps, dtype),
    }


def learning_rate_at(hyper: dict[str, jax.Array], step: jax.Array) -> jax.Array:
    """Linear warm-up from 0 over `w = warmup_steps`, then cosine decay to 0 at `decay_steps` T:
    `lr·t/w` for `t < w`, else `lr·½(1 + cos(π·min((t − w)/(T − w), 1)))` (optax's
    `warmup_cosine_decay_schedule`; `cosine_decay_schedule` when w = 0).

    >>> import jax.numpy as jnp
    >>> h = {"learning_rate": jnp.float32(2.0), "warmup_steps": jnp.float32(0.0),
    ...      "decay_steps": jnp.float32(10.0)}
    >>> round(float(learning_rate_at(h, jnp.int32(5))), 6)  # half-way down the cosine
    1.0
    """
    lr, w, total = hyper["learning_rate"], hyper["warmup_steps"], hyper["decay_steps"]
    t = step.astype(lr.dtype)
    one = jnp.ones((), lr.dtype)
    warm = lr * t / jnp.maximum(w, one)
    progress = jnp.clip((t - w) / jnp.maximum(total - w, one), 0.0, 1.0)
    decayed = lr * 0.5 * (one + jnp.cos(jnp.pi * progress))
    return jnp.where(t < w, warm, decayed)


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam's moment scaling (`optax.scale_by_adam`); the step multiplies its output by
    `−learning_rate_at(hyper, step)`, which is `optax.adam` with the schedule, the rate as data."""
    del config  # Adam's β₁, β₂, ε are fixed; the rate and schedule come from TrainData.hyper
    return optax.scale_by_adam()


def make_data(truth: Truth, config: TrainConfig, stream: Stream | None = None) -> TrainData:
    """Device arrays for `config.source`, in the parameter dtype (strict promotion safe), and
    the step's scalar hyperparameters.

    Raises:
        ConfigError: `source = "stream"` without a sampled stream.
    """
    contexts = jnp.asarray(truth.contexts)
    hyper = hyperparameters(config)
    if config.source == "table":
        return TrainData(
            contexts=contexts,
            probs=jnp.asarray(truth.probs, config.dtype),
            log_probs=jnp.asarray(truth.log_probs, config.dtype),
            hyper=hyper,
        )
    if stream is None:
        raise ConfigError("source: 'stream' needs a sampled stream (idlin.lab.data.sample_stream)")
    return TrainData(
        contexts=contexts[jnp.asarray(stream.context_ids)],
        tokens=jnp.asarray(stream.next_tokens),
        hyper=hyper,
    )


def make_init(config: TrainConfig, vocab_size: int, context_length: int):
    """`(graphdef, init)`: the static model structure and the pure one-seed initialiser
    `init(init_key, data) -> TrainState` (model parameters from `init_key`). Cached per static
    configuration: runs that differ only in scalar hyperparameters share it."""
    return _make_init(_static(config), vocab_size, context_length)


@functools.lru_cache(maxsize=32)
def _make_init(config: TrainConfig, vocab_size: int, context_length: int):
    tx = make_optimizer(config)
    graphdefs: list[nnx.GraphDef] = []

    def init(key, data=None):
        del data
        model = make_model(
            config.architecture,
            vocab_size=vocab_size,
            context_length=context_length,
            width=config.width,
            rngs=nnx.Rngs(params=key),
            bias=config.bias,
            dtype=jnp.dtype(config.dtype),
            **config.model_options(),
        )
        graphdef, params = nnx.split(model)
        graphdefs.append(graphdef)  # static structure, identical for every seed and trace
        return TrainState(params, tx.init(params), jnp.zeros((), jnp.int32))

    jax.eval_shape(init, jax.random.key(0))  # one abstract trace, to learn the structure
    return graphdefs[0], init


def init_states(
    truth: Truth, config: TrainConfig, *, key: PRNGKeyArray
) -> tuple[nnx.GraphDef, TrainState]:
    """Initialise `config.seeds` models in one vmapped call; seed k's parameters come from
    `init_key(seed_keys(key, [k])[0])` (the key schedule of `idlin.lab.train._keys`).

    Returns:
        `(graphdef, states)`: the static model structure and a `TrainState` whose leaves have a
        leading seed axis of size K.
    """
    graphdef, init = make_init(config, truth.vocab_size, truth.context_length)
    states = init_runner(init)(seed_keys(key, range(config.seeds)), None)
    return graphdef, states


def make_step(graphdef: nnx.GraphDef, config: TrainConfig):
    """The pure step `(state, data, key) -> (state, loss)` for ONE seed.

    table: batch `i ~ randint(N)`, loss `mean_i Σ_y p*(y|x_i) (log p*(y|x_i) − log p_θ(y|x_i))`
    (the KL to the truth, docs/theory.md §8); stream: batch `j ~ randint(M)`, loss
    `mean_j −log p_θ(y_j|x_j)`. Update: Adam direction times `−learning_rate_at(data.hyper,
    state.step)`. Minibatches use `randint` (sampling with replacement), ~4× faster than
    `jax.random.choice(replace=False)`. The same object is returned for configurations that
    differ only in scalar hyperparameters, so they share compiled programs.
    """
    return _make_step(graphdef, _static(config))


@functools.lru_cache(maxsize=64)
def _make_step(graphdef: nnx.GraphDef, config: TrainConfig):
    tx = make_optimizer(config)

    def loss_fn(params, data: TrainData, idx):
        logq = jax.nn.log_softmax(nnx.merge(graphdef, params)(data.contexts[idx]), axis=-1)
        if data.probs is not None and data.log_probs is not None:  # source == "table"
            p, logp = data.probs[idx], data.log_probs[idx]  # (B, V)
            return jnp.mean(jnp.sum(p * (logp - logq), axis=-1))
        nll = -jnp.take_along_axis(logq, data.tokens[idx][:, None], axis=-1)  # type: ignore[index]
        return jnp.mean(nll)

    def step(state: TrainState, data: TrainData, key) -> tuple[TrainState, jax.Array]:
        idx = jax.random.randint(key, (config.batch_size,), 0, data.contexts.shape[0])
        loss, grads = jax.value_and_grad(loss_fn)(state.params, data, idx)
        rate = learning_rate_at(data.hyper, state.step)  # type: ignore[arg-type]
        # optax mixes Python floats with int32 step counts (Adam's bias correction): allow that
        # here even when the caller runs with strict dtype promotion.
        with jax.numpy_dtype_promotion("standard"):
            direction, opt_state = tx.update(grads, state.opt_state, state.params)
            updates = jax.tree.map(lambda u: -rate * u, direction)
            params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.step + 1), loss

    return step


def unstack(tree: Any, k: int) -> Any:
    """Seed k's slice of a stacked pytree."""
    return jax.tree.map(lambda x: x[k], tree)
