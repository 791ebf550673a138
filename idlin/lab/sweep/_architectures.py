"""The built-in sweep architectures: `bilinear`, `mlp`, `transformer`, and `quadratic`.

- `bilinear`: free embeddings `F` (N×d) and unembeddings `G` (V×d) fitted to the truth's table
  by full-batch cross-entropy with Adam — the smallest trained next-token predictor.
- `mlp`, `transformer`: the Flax NNX models of `idlin.lab.models`, trained by `idlin.lab.train`'s
pure step (`make_init`, `make_step`: minibatches of the exact table, Adam with cosine decay); extra
  `TrainConfig` fields come from `[train]`. Seed s of such a grid point is bitwise (or to float64
  rounding; see `tests/test_sweep.py`) seed s of `idlin.lab.train.train(truth, config,
  key=jax.random.key(0))`.
- `quadratic`: not a model — noisy gradient descent on a quadratic, to check a cluster setup
  (sharding, multi-host, resume) in seconds.
Builders return cached shape-only `init`/`step` functions, so grid points with equal shapes
share one compiled program (learning rates and targets travel in `Program.data`). `BUILTINS`
maps the names to the builders; `_registry.py` reads it (no registration by import side effect).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ...core._errors import ConfigError
from ...core._predictor import Predictor
from ._config import GridPoint
from ._trial import Program, make_truth, truth_metrics


def _dtype() -> str:
    return "float64" if jax.config.read("jax_enable_x64") else "float32"


@jax.jit
def _cross_entropy(target_log_probs, F, G):
    """`−mean_x Σ_y p*(y|x) log softmax(F Gᵀ)[x, y]` (N×V logits; small sizes only)."""
    logq = jax.nn.log_softmax(F @ G.T, axis=-1)  # (N, V)
    return -jnp.mean(jnp.sum(jnp.exp(target_log_probs) * logq, axis=-1))


@functools.lru_cache(maxsize=64)
def bilinear_fns(n: int, v: int, d: int, dtype: str):
    """`(init, step)` of the free-`F` (n×d), `G` (v×d) program: full-batch cross-entropy to
    `data["target"]` with Adam (the sweep's and the study's `bilinear` architecture); cached, so
    equal shapes share one compiled program."""

    def init(key, data):
        kf, kg = jax.random.split(key)
        params = {
            "F": jax.random.normal(kf, (n, d), dtype) / np.sqrt(d),
            "G": jax.random.normal(kg, (v, d), dtype) / np.sqrt(d),
        }
        return {"params": params, "opt": optax.adam(data["learning_rate"]).init(params)}

    def step(state, data, key):
        del key  # full batch: no randomness per step
        opt = optax.adam(data["learning_rate"])
        loss, grads = jax.value_and_grad(lambda p: _cross_entropy(data["target"], p["F"], p["G"]))(
            state["params"]
        )
        # optax mixes Python floats with its int32 step count; allow that under strict promotion.
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = opt.update(grads, state["opt"], state["params"])
            params = optax.apply_updates(state["params"], updates)
        return {"params": params, "opt": opt_state}, loss

    return init, step


def bilinear(point: GridPoint) -> Program:
    """Free `F`, `G` of width d, initialised N(0, 1/d), trained by Adam on the cross-entropy
    `−mean_x Σ_y p*(y|x) log p_θ(y|x)` over the whole table. Metrics: `truth_metrics` and
    `loss` (the final cross-entropy)."""
    truth = make_truth(point.distribution_params)
    dtype = _dtype()
    target = jnp.asarray(truth.log_probs, dtype)  # (N, V)
    init, step = bilinear_fns(truth.num_contexts, truth.vocab_size, point.width, dtype)
    data = {"target": target, "learning_rate": jnp.asarray(point.learning_rate, dtype)}

    def evaluate(state):
        F, G = (np.asarray(state["params"][k]) for k in ("F", "G"))
        loss = float(_cross_entropy(target, jnp.asarray(F), jnp.asarray(G)))
        return {"loss": loss, **truth_metrics(truth, Predictor(F, G))}

    return Program(init, step, evaluate, data)


def train_config(point: GridPoint):
    """The `idlin.lab.train.TrainConfig` of an `mlp`/`transformer` grid point: its architecture,
    width, steps and learning rate, the `[train]` options, the dtype of `jax_enable_x64`.

    Raises:
        ConfigError: a `[train]` option `TrainConfig` does not have, `source` other than
            "table", or a bad value.
    """
    from ..train import TrainConfig

    options = dict(point.train_options)
    if options.get("source", "table") != "table":
        raise ConfigError(
            f"train.source: sweeps train on the exact table, got {options['source']!r}"
        )
    fields = {"architecture": point.architecture, "width": point.width, "steps": point.steps,
              "learning_rate": point.learning_rate, "dtype": _dtype()}  # fmt: skip
    return TrainConfig.from_mapping({**fields, **options})


def _nnx(point: GridPoint) -> Program:
    """`idlin.lab.models` architecture `point.architecture` trained by `idlin.lab.train.make_step`:
    Adam with cosine decay over `steps`, minibatches of the exact table (`source = "table"`),
    loss KL(p*‖p_θ). Metrics: `truth_metrics` of `export_predictor` on the truth's contexts."""
    from ..models import export_predictor
    from ..train import make_data, make_init, make_step

    config = train_config(point)
    truth = make_truth(point.distribution_params)
    graphdef, init = make_init(config, truth.vocab_size, truth.context_length)
    step = make_step(graphdef, config)  # one object for every learning rate: compiled once
    data = make_data(truth, config)

    def evaluate(state):
        model = export_predictor((graphdef, state.params), jnp.asarray(truth.contexts))
        return truth_metrics(truth, model)

    return Program(init, step, evaluate, data)


@functools.lru_cache(maxsize=64)
def _quadratic_fns(d: int, dtype: str):
    def init(key, data):
        return {"w": jax.random.normal(key, (d,), dtype)}

    def step(state, data, key):
        w = state["w"]
        residual = data["A"] @ w - data["b"]  # (d,)
        noise = data["noise"] * jax.random.normal(key, (d,), dtype)
        w = w - data["learning_rate"] * (data["A"].T @ residual + noise)
        return {"w": w}, jnp.sum(residual**2)

    return init, step


def quadratic(point: GridPoint) -> Program:
    """Noisy gradient descent on `½‖A w − b‖²`, `w ∈ R^d`: a plumbing check, not a model.

    `A = I + 0.3·N(0, 1/d)` and `b ~ N(0, I)` come from the distribution's `seed`; the step
    noise (`noise`, default 0.01) uses the per-step key, so resumed runs must draw the same keys
    as uninterrupted ones to agree. Metrics: `loss` = ‖A w − b‖², `w_norm` = ‖w‖, `w0` = w₀.
    """
    d = point.width
    params = point.distribution_params
    rng = np.random.default_rng(int(params.get("seed", 0)))
    A = np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)
    b = rng.standard_normal(d)
    dtype = _dtype()
    data = {
        "A": jnp.asarray(A, dtype),
        "b": jnp.asarray(b, dtype),
        "noise": jnp.asarray(float(params.get("noise", 0.01)), dtype),
        "learning_rate": jnp.asarray(point.learning_rate, dtype),
    }
    init, step = _quadratic_fns(d, dtype)

    def evaluate(state):
        w = np.asarray(state["w"], np.float64)
        return {
            "loss": float(np.sum((A @ w - b) ** 2)),
            "w_norm": float(np.linalg.norm(w)),
            "w0": float(w[0]),
        }

    return Program(init, step, evaluate, data)


BUILTINS = {"bilinear": bilinear, "mlp": _nnx, "transformer": _nnx, "quadratic": quadratic}
"""The built-in architectures by name (read once by `_registry.py`)."""
