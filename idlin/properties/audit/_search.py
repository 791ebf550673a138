"""The global search: optax ascent of `|m(member) − m(p)|` over one generator's parametrised
members, from several random starts (docs/theory.md §9.3).

A run is one (leaf, start) pair: θ drawn standard normal, then `steps` Adam steps on θ
(`_generators.member`), keeping the best iterate (ascent on a bounded family can overshoot).
Runs go one at a time and their steps a chunk at a time, each chunk one call of a compiled
`lax.scan` (`make_chunk`): memory holds one run's θ and Adam state (never `runs ×` them), the
caller can report progress between chunks and time one to estimate the rest, and the result
does not depend on the chunk size (the same steps in the same order). Each step evaluates m and
its gradient at one member: ≈3 evaluations of m plus the member's construction (`O((N+V)d²)`
for a basis change, `O((N+V)d)` for the others). Verification of the runs' best members is
the caller's (`_audit`), in the compute precision.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ._generators import Base, member, shapes

# XLA options for small models, where compiling dominates: cheaper CPU code generation, the
# same arithmetic (measured: compile time about halved for a scan of Adam steps).
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
# Models with (N + V)·d at most this many entries are compiled with FAST_COMPILE.
FAST_COMPILE_ENTRIES = 1 << 16


def compiler_options_for(N: int, V: int, d: int) -> dict | None:
    """`FAST_COMPILE` for small models (compile-bound), XLA's defaults otherwise."""
    if jax.default_backend() != "cpu" or (N + V) * d > FAST_COMPILE_ENTRIES:
        return None
    return dict(FAST_COMPILE)


def chunk_size(steps: int, most: int = 10) -> int:
    """The largest divisor of `steps` that is ≤ `most`: steps per compiled call."""
    return max(c for c in range(1, min(steps, most) + 1) if steps % c == 0)


def initial(name: str, key, b: Base, *, extra: int):
    """One run's random θ for generator `name` (standard normal, the base's dtype)."""
    shp = shapes(name, b, extra)
    keys = jax.random.split(key, len(shp))
    return {
        k: jax.random.normal(kk, s, b.F.dtype)
        for kk, (k, s) in zip(keys, sorted(shp.items()), strict=True)
    }


def _optimizer(learning_rate: float):
    import optax  # the numerical core does not import optax at `import idlin` time

    return optax.adam(learning_rate)


def start(theta0, learning_rate: float):
    """The search state of one run at θ₀: `(θ, Adam state, best |Δ|, best θ)`."""
    with jax.numpy_dtype_promotion("standard"):
        state0 = _optimizer(learning_rate).init(theta0)
    return theta0, state0, -jnp.ones((), theta0[next(iter(theta0))].dtype), theta0


def make_chunk(
    name: str,
    mvec,
    *,
    steps: int,
    learning_rate: float,
    max_condition: float,
    reach: float,
    compiler_options: dict | None = None,
):
    """The jitted program of `steps` Adam steps of one run of generator `name`:
    `(state, leaf, base, m0, scale) ↦ state` (`start` builds the state), ascending
    `(m_leaf(member) − m0_leaf)²/scale_leaf²` and keeping the iterate of largest finite change."""
    import optax

    opt = _optimizer(learning_rate)

    def change(theta, leaf, b, m0, scale):
        F1, G1 = member(name, theta, b, max_condition=max_condition, reach=reach)
        return (mvec(F1, G1)[leaf] - m0[leaf]) / scale[leaf]

    def loss(theta, *args):
        delta = change(theta, *args)
        return -jnp.square(delta), delta

    @functools.partial(jax.jit, compiler_options=compiler_options)
    def chunk(state, leaf, b: Base, m0, scale):
        def step(carry, _):
            theta, opt_state, best, best_theta = carry
            (_, delta), grad = jax.value_and_grad(loss, has_aux=True)(theta, leaf, b, m0, scale)
            value = jnp.where(jnp.isfinite(delta), jnp.abs(delta), -1.0)
            better = value > best
            best_theta = jax.tree_util.tree_map(
                lambda x, y: jnp.where(better, x, y), theta, best_theta
            )
            best = jnp.where(better, value, best)
            # A member where m or its gradient is not finite contributes no direction (and is
            # never a witness); the verification decides on the members it does reach.
            ok = jnp.isfinite(delta)
            grad = jax.tree_util.tree_map(lambda g: jnp.where(ok & jnp.isfinite(g), g, 0), grad)
            # optax mixes Python floats with int32 step counts (bias correction).
            with jax.numpy_dtype_promotion("standard"):
                updates, opt_state = opt.update(grad, opt_state, theta)
            theta = optax.apply_updates(theta, updates)
            return (theta, opt_state, best, best_theta), None

        state, _ = jax.lax.scan(step, state, None, length=steps)
        return state

    return chunk
