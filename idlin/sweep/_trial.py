"""What one seed at one grid point does: a pure `init`, a pure `step`, a host-side `evaluate`.

The runner vectorises `init` and `step` over seeds with `jax.vmap` and shards the seed axis over
devices, so both must be pure functions of one seed's state (no Python side effects, no host
callbacks). Randomness comes from explicit keys: `init(key)`, `step(state, key)` where the runner
derives the step key from `(seed, step)`, so a resumed run draws the same numbers as an
uninterrupted one. `evaluate` runs after training on one seed's state (NumPy leaves) and returns
the record's metrics (THEORY §8).

Architectures are looked up by name in a registry (`register_architecture`). The built-in
`"bilinear"` fits free embeddings `F` (N×d) and unembeddings `G` (V×d) to a ground-truth
distribution by full-batch cross-entropy with Adam: the smallest trained next-token predictor
whose identifiable quantities the core can compare with the truth's.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._errors import ConfigError
from .._gap import distribution_gap
from .._predictor import Predictor
from .._subspaces import subspaces
from ._config import GridPoint


@dataclasses.dataclass(frozen=True)
class Program:
    """The functions and data of one grid point's training (see the module docstring).

    Attributes:
        init: `(key, data) -> state` for one seed (pure; state is a pytree of arrays).
        step: `(state, key, data) -> (state, loss)` for one seed (pure).
        evaluate: `state -> {metric: value}` for one seed, on the host (NumPy leaves).
        data: the point's arrays and hyperparameters (a pytree), passed to `init` and `step` as
            arguments rather than closed over, so grid points that differ only in data (learning
            rate, distribution of the same sizes) reuse one compiled program: builders should
            return the *same* `init`/`step` objects for the same shapes.
    """

    init: Callable[[jax.Array, Any], Any]
    step: Callable[[Any, jax.Array, Any], tuple[Any, jax.Array]]
    evaluate: Callable[[Any], dict[str, Any]]
    data: Any = None


Builder = Callable[[GridPoint], Program]
_ARCHITECTURES: dict[str, Builder] = {}


def register_architecture(name: str, builder: Builder) -> None:
    """Make `builder(point) -> Program` available as `architecture = "name"` in a sweep."""
    _ARCHITECTURES[name] = builder


def build_program(point: GridPoint) -> Program:
    """The `Program` for a grid point, from its architecture's registered builder.

    Raises:
        ConfigError: unknown architecture.
    """
    builder = _ARCHITECTURES.get(point.architecture)
    if builder is None:
        raise ConfigError(
            f"grid.architecture: expected one of {sorted(_ARCHITECTURES)}, got {point.architecture!r}"
        )
    return builder(point)


def _compute_dtype():
    return jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32


def truth_predictor(params: Mapping[str, Any]) -> Predictor:
    """The ground-truth predictor of a `[distributions.NAME]` table.

    `kind = "lowrank"`: `F* = scale·A` (contexts×rank), `G* = scale·B` (vocab×rank) with `A, B`
    standard normal from NumPy's generator seeded by `seed`; `C* = F* Ĝ*ᵀ` has rank `rank`
    (THEORY §3), almost surely.

    Raises:
        ConfigError: unknown kind, missing or non-positive sizes, rank above min(contexts, vocab−1).
    """
    kind = params.get("kind")
    if kind != "lowrank":
        raise ConfigError(f"distribution kind: expected 'lowrank', got {kind!r}")
    sizes = {}
    for k in ("contexts", "vocab", "rank"):
        v = params.get(k)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"lowrank distribution: expected a positive integer {k}, got {v!r}")
        sizes[k] = v
    if sizes["vocab"] < 2 or sizes["rank"] > min(sizes["contexts"], sizes["vocab"] - 1):
        raise ConfigError(
            "lowrank distribution: expected vocab ≥ 2 and rank ≤ min(contexts, vocab − 1), got "
            f"contexts={sizes['contexts']}, vocab={sizes['vocab']}, rank={sizes['rank']}"
        )
    rng = np.random.default_rng(int(params.get("seed", 0)))
    scale = float(params.get("scale", 1.0))
    F = scale * rng.standard_normal((sizes["contexts"], sizes["rank"]))
    G = scale * rng.standard_normal((sizes["vocab"], sizes["rank"]))
    dtype = _compute_dtype()
    return Predictor(jnp.asarray(F, dtype), jnp.asarray(G, dtype))


@jax.jit
def _cross_entropy(target_log_probs, F, G):
    """`−mean_x Σ_y p*(y|x) log softmax(F Gᵀ)[x, y]` (N×V logits; small sizes only)."""
    logq = jax.nn.log_softmax(F @ G.T, axis=-1)  # (N, V)
    return -jnp.mean(jnp.sum(jnp.exp(target_log_probs) * logq, axis=-1))


@functools.lru_cache(maxsize=64)
def _bilinear_fns(n: int, v: int, d: int, dtype: str):
    """Shape-only `init`/`step` (cached: equal shapes give equal function objects, so jit
    reuses one compiled program across learning rates and distributions)."""

    def init(key, data):
        kf, kg = jax.random.split(key)
        params = {
            "F": jax.random.normal(kf, (n, d), dtype) / np.sqrt(d),
            "G": jax.random.normal(kg, (v, d), dtype) / np.sqrt(d),
        }
        return {"params": params, "opt": optax.adam(data["learning_rate"]).init(params)}

    def step(state, key, data):
        del key  # full batch: no randomness per step
        opt = optax.adam(data["learning_rate"])
        loss, grads = jax.value_and_grad(
            lambda p: _cross_entropy(data["target"], p["F"], p["G"])
        )(state["params"])
        # optax mixes Python floats with its int32 step count; allow that under strict promotion.
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = opt.update(grads, state["opt"], state["params"])
            params = optax.apply_updates(state["params"], updates)
        return {"params": params, "opt": opt_state}, loss

    return init, step


def optional_metrics(truth: Predictor, model: Predictor) -> dict[str, Any]:
    """Metrics from optional modules (`idlin.metrics`); a missing module or a failing metric
    is recorded under `skipped` instead of failing the record."""
    out: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    try:
        from ..metrics import canonical_fit

        fit = canonical_fit(truth, model, rank=subspaces(truth).effective_complexity)
        out["canonical_r2"] = float(fit.r2)
    except Exception as err:  # an optional metric never costs the record
        skipped["canonical_r2"] = f"{type(err).__name__}: {err}"
    if skipped:
        out["skipped"] = skipped
    return out


def bilinear(point: GridPoint) -> Program:
    """Free `F` (N×d), `G` (V×d) trained on a ground truth by full-batch cross-entropy (Adam).

    Metrics (THEORY §8): `loss` (cross-entropy), `mean_kl` = mean_x KL(p*‖p_θ) and
    `relative_gap` = ‖C* − C_θ‖_F/‖C*‖_F (both from `distribution_gap`), `rank` = the
    numerical rank of `C_θ`, `truth_rank` = r*, `tail_ratio` = σ_{r*+1}(C_θ)/σ_1(C_θ) (how
    far the trained `C_θ` is from having the truth's rank; 0 when d ≤ r*), and `canonical_r2`
    (least-squares fit of the truth's canonical coordinates, rank r*) when `idlin.metrics` is
    available.
    """
    truth = truth_predictor(point.distribution_params)
    target = jax.nn.log_softmax(truth.logits(), axis=-1)  # (N, V)
    n, v, d = truth.num_contexts, truth.vocab_size, point.width
    init, step = _bilinear_fns(n, v, d, str(truth.dtype))
    truth_rank = subspaces(truth).effective_complexity
    data = {"target": target, "learning_rate": jnp.asarray(point.learning_rate, truth.dtype)}

    def evaluate(state):
        F, G = (np.asarray(state["params"][k]) for k in ("F", "G"))
        model = Predictor(F, G)
        gap = distribution_gap(truth, model)
        s = subspaces(model)
        spectrum = np.asarray(s.log_odds_spectrum)
        tail = spectrum[truth_rank] / spectrum[0] if spectrum.size > truth_rank else 0.0
        metrics: dict[str, Any] = {
            "loss": float(_cross_entropy(target, jnp.asarray(F), jnp.asarray(G))),
            "mean_kl": gap.mean_kl,
            "relative_gap": gap.relative,
            "rank": s.effective_complexity,
            "truth_rank": truth_rank,
            "tail_ratio": float(tail),
        }
        metrics.update(optional_metrics(truth, model))
        return metrics

    return Program(init, step, evaluate, data)


register_architecture("bilinear", bilinear)


@functools.lru_cache(maxsize=64)
def _quadratic_fns(d: int, dtype: str):
    def init(key, data):
        return {"w": jax.random.normal(key, (d,), dtype)}

    def step(state, key, data):
        w = state["w"]
        residual = data["A"] @ w - data["b"]  # (d,)
        noise = data["noise"] * jax.random.normal(key, (d,), dtype)
        w = w - data["learning_rate"] * (data["A"].T @ residual + noise)
        return {"w": w}, jnp.sum(residual**2)

    return init, step


def quadratic(point: GridPoint) -> Program:
    """A plumbing check, not a model: noisy gradient descent on `½‖A w − b‖²`, `w ∈ R^d`.

    `A` (d×d, well conditioned) and `b` come from the distribution's `seed`; the step noise
    (scale `noise`, default 0.01) uses the per-step key, so it checks that resumed runs draw
    the same keys as uninterrupted ones. Metrics: `loss` = ‖A w − b‖², `w_norm` = ‖w‖, `w0`.
    Use it to test a cluster setup (sharding, multi-host, resume) in seconds.
    """
    d = point.width
    rng = np.random.default_rng(int(point.distribution_params.get("seed", 0)))
    A = np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)
    dtype = _compute_dtype()
    data = {
        "A": jnp.asarray(A, dtype),
        "b": jnp.asarray(rng.standard_normal(d), dtype),
        "noise": jnp.asarray(float(point.distribution_params.get("noise", 0.01)), dtype),
        "learning_rate": jnp.asarray(point.learning_rate, dtype),
    }
    init, step = _quadratic_fns(d, np.dtype(dtype).name)

    def evaluate(state):
        w = np.asarray(state["w"], np.float64)
        return {
            "loss": float(np.sum((A @ w - np.asarray(data["b"])) ** 2)),
            "w_norm": float(np.linalg.norm(w)),
            "w0": float(w[0]),
        }

    return Program(init, step, evaluate, data)


register_architecture("quadratic", quadratic)
