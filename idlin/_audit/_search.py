"""The global search: optax ascent of `|m(member) − m(p)|` over one generator's parametrised
members, from several random starts (docs/theory.md §9.3).

One generator's search is one compiled program (`jax.jit`): draw the starts, run a `lax.scan`
of `steps` Adam steps on θ (`_generators.member`) for every (leaf, start) pair (`map_runs`),
keep every run's best iterate (ascent on a bounded family can overshoot), then build each run's
best member, re-evaluate m there and measure its relative gap to p by the §2 QR form, and for
every leaf return the member with the largest change among those within the equivalence
tolerance. Each step evaluates m and its gradient at one member (≈3 evaluations of m, plus the
member's construction, `O((N+V)d²)` for a basis change), so a search costs
`leaves × starts × steps × (≈3 evaluations of m)` plus one compilation of m's forward and
backward pass (usually the larger part at small sizes; `FAST_COMPILE` halves it there).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .._gap import gap_kernel
from .._serial import map_runs
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


def _initial(name, key, *, runs: int, N: int, V: int, d: int, extra: int, dtype):
    """`runs` random θ for generator `name`, stacked on a leading axis (standard normal)."""
    shp = shapes(name, N, V, d, extra)
    keys = jax.random.split(key, len(shp))
    return {
        k: jax.random.normal(kk, (runs, *s), dtype)
        for kk, (k, s) in zip(keys, sorted(shp.items()), strict=True)
    }


def make_search(
    name: str,
    mvec,
    *,
    leaves: int,
    starts: int,
    steps: int,
    extra: int,
    learning_rate: float,
    max_condition: float,
    reach: float,
    compiler_options: dict | None = None,
):
    """The jitted search program of generator `name`:
    `(key, base, m0, scale, eq_tol) ↦ (change, gap, F_w, G_w, valid)`, one entry per leaf:
    the verified member (gap ≤ eq_tol) with the largest `|Δm_leaf|/scale_leaf` and that change,
    its gap, and how many runs of the leaf verified."""
    import optax  # the numerical core does not import optax at `import idlin` time

    opt = optax.adam(learning_rate)

    def build(theta, b):
        return member(name, theta, b, max_condition=max_condition, reach=reach)

    def run(theta0, leaf, b: Base, m0, scale):
        def change(theta):
            F1, G1 = build(theta, b)
            return (mvec(F1, G1)[leaf] - m0[leaf]) / scale[leaf]

        def loss(theta):
            delta = change(theta)
            return -jnp.square(delta), delta

        def keep(best, best_theta, theta, delta):
            value = jnp.where(jnp.isfinite(delta), jnp.abs(delta), -1.0)
            better = value > best
            best_theta = jax.tree_util.tree_map(
                lambda x, y: jnp.where(better, x, y), theta, best_theta
            )
            return jnp.where(better, value, best), best_theta

        def step(carry, _):
            theta, state, best, best_theta = carry
            (_, delta), grad = jax.value_and_grad(loss, has_aux=True)(theta)
            best, best_theta = keep(best, best_theta, theta, delta)
            # A member where m is not finite contributes no direction (it is never a witness).
            ok = jnp.isfinite(delta)
            grad = jax.tree_util.tree_map(lambda g: jnp.where(ok & jnp.isfinite(g), g, 0), grad)
            # optax mixes Python floats with int32 step counts (bias correction).
            with jax.numpy_dtype_promotion("standard"):
                updates, state = opt.update(grad, state, theta)
            return (optax.apply_updates(theta, updates), state, best, best_theta), None

        best0 = -jnp.ones((), m0.dtype)
        with jax.numpy_dtype_promotion("standard"):
            state0 = opt.init(theta0)
        carry = (theta0, state0, best0, theta0)
        (theta, _, best, best_theta), _ = jax.lax.scan(step, carry, None, length=steps)
        _, best_theta = keep(best, best_theta, theta, change(theta))
        return best_theta

    def evaluate(theta, leaf, b, m0, scale):
        F1, G1 = build(theta, b)
        m1 = mvec(F1, G1)
        frob, ref, _, _ = gap_kernel(b.F, b.G, F1, G1, block=1, frobenius_only=True)
        frob, ref = frob.astype(m0.dtype), ref.astype(m0.dtype)  # float64 for float32 models
        gap = jnp.where(ref > 0, frob / jnp.where(ref > 0, ref, 1), jnp.inf)
        return jnp.abs(m1[leaf] - m0[leaf]) / scale[leaf], gap

    @functools.partial(jax.jit, compiler_options=compiler_options)
    def program(key, b: Base, m0, scale, eq_tol):
        N, d = b.F.shape
        V = b.G.shape[0]
        runs = leaves * starts
        theta0 = _initial(name, key, runs=runs, N=N, V=V, d=d, extra=extra, dtype=b.F.dtype)
        leaf = jnp.repeat(jnp.arange(leaves), starts)
        # Runs are mapped as a loop on CPU (`_serial.map_runs`): vmapped, the basis change's
        # two batched solves deadlocked jaxlib 0.10's CPU thread pool at (4096, 8192, 128).
        theta = map_runs(lambda tl, *s: run(*tl, *s), (theta0, leaf), b, m0, scale)
        change, gap = map_runs(lambda tl, *s: evaluate(*tl, *s), (theta, leaf), b, m0, scale)
        ok = jnp.isfinite(change) & (gap <= eq_tol)
        score = jnp.where(ok, change, -1.0).reshape(leaves, starts)
        pick = jnp.arange(leaves) * starts + jnp.argmax(score, axis=1)
        chosen = jax.tree_util.tree_map(lambda x: x[pick], theta)
        F_w, G_w = map_runs(build, chosen, b)
        valid = jnp.sum(ok.reshape(leaves, starts), axis=1)
        return jnp.maximum(jnp.max(score, axis=1), 0.0), gap[pick], F_w, G_w, valid

    return program
