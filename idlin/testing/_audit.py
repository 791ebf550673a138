"""`assert_identifiable`: the symmetry audit as a plain assertion, for users' own (Hypothesis)
tests (docs/theory.md §9).

It is an ordinary `AssertionError`, so inside a `@given` test Hypothesis shrinks the drawn
predictor to a small failing example and reports it together with the witness. `lm_shaped`
builds synthetic models with the structure of real LM exports, for audits at scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from ..core._errors import ArgumentError
from ..core._predictor import Predictor
from ..properties.audit import GENERATORS, Audit, audit


class NotIdentifiable(AssertionError):
    """A measure changed along its predictor's equivalence class. `audit` holds the full
    `idlin.Audit`; `generator`, `witness`, `change` the first failing generator's record."""

    def __init__(self, message: str, result: Audit, generator: str) -> None:
        super().__init__(message)
        self.audit = result
        self.generator = generator
        self.witness = result.generators[generator].witness
        self.change = result.generators[generator].max_change


def assert_identifiable(
    measure: Callable[[jax.Array, jax.Array], Any],
    predictor: Predictor | None = None,
    *,
    predictors: Any = None,
    generators: Sequence[str] = GENERATORS,
    key: jax.Array | None = None,
    budget: int = 50,
    starts: int = 4,
    tol: float | None = None,
    max_examples: int = 5,
) -> Audit | None:
    """Assert that `measure(F, G)` is constant on `predictor`'s class along `generators`.

    Runs `idlin.audit` (docs/theory.md §9: the §9.1 gradients, then the optax search, witnesses
    verified equivalent by §2) and raises when any audited generator is not invariant.

    Args:
        measure: `measure(F, G)` → scalar or pytree of scalars (JAX-traceable).
        predictor: the model (e.g. drawn from `idlin.testing.predictors()` in your `@given`).
        predictors: instead of `predictor`, a Hypothesis strategy of predictors: then this is a
            ready strategy-driven test (`max_examples` examples, shrinking on failure).
        generators: the generators that must leave the measure unchanged (default: all; a
            generator that does not apply, e.g. widening a fixed-width measure, passes).
        key: PRNG key of the search (default `jax.random.key(0)`: deterministic, as Hypothesis
            needs to replay a failure).
        budget, starts, tol: passed to `idlin.audit`.

    Returns:
        The `Audit` when every generator is invariant (None with `predictors=`).

    Raises:
        ArgumentError: neither or both of `predictor` and `predictors` given.
        NotIdentifiable (an AssertionError): names the generator, the change, and the witness
            member (its width and relative gap); the witness is on the exception.

    Example:
        >>> import jax.numpy as jnp, numpy as np, idlin
        >>> from idlin.testing import assert_identifiable
        >>> p = idlin.Predictor(np.random.default_rng(0).normal(size=(6, 3)),
        ...                     np.random.default_rng(1).normal(size=(5, 3)))
        >>> def c_norm(F, G):
        ...     return jnp.linalg.norm(F @ (G - G.mean(0, keepdims=True)).T)
        >>> _ = assert_identifiable(c_norm, p, generators=("basis", "shift"), budget=10)
    """
    options = {"generators": generators, "key": key, "budget": budget, "starts": starts, "tol": tol}
    if (predictor is None) == (predictors is None):
        raise ArgumentError(
            "assert_identifiable: expected exactly one of predictor (a Predictor) and "
            "predictors (a Hypothesis strategy of them)"
        )
    if predictors is not None:
        from hypothesis import HealthCheck, given, settings

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(q=predictors)
        def each(q):
            assert_identifiable(measure, q, **options)

        each()
        return None
    key = jax.random.key(0) if key is None else key
    result = audit(
        measure, predictor, key=key, budget=budget, starts=starts, tol=tol, generators=generators
    )
    failing = [g for g, r in result.generators.items() if r.applicable and not r.invariant]
    if failing:
        g = failing[0]
        r = result.generators[g]
        w = r.witness
        member = (
            f"an equivalent member of width {w.width} (relative gap {r.witness_gap:.1e})"
            if w is not None
            else "first order (no verified member realising it)"
        )
        message = (
            f"measure is not identifiable: generator {g!r} changes it by {r.max_change:.3e} "
            f"(relative {r.relative_change:.2e}, tolerance {result.tol:.1e}; derivative "
            f"{r.derivative if r.derivative is None else f'{r.derivative:.2e}'}) at {member}"
            + (f"; also not invariant: {', '.join(failing[1:])}" if failing[1:] else "")
            + f"\n{result}"
        )
        raise NotIdentifiable(message, result, g)
    return result


def lm_shaped(
    shape: tuple[int, int, int],
    *,
    seed: int = 0,
    dtype: Any = np.float32,
    offset: float = 30.0,
    dominant: float = 20.0,
    decay: float = 30.0,
) -> Predictor:
    """A synthetic predictor shaped like a real LM export, for audits at scale and their tests.

    What makes real exports hard for the audit's numerics, in one generator: `F` (N×d) and `Ĝ`
    (V×d) Gaussian with singular values decaying geometrically by `decay` across the width; every
    embedding shifted by a **dominant direction** of `dominant` × the RMS row norm (massive
    activations); every unembedding by a **large common offset** `ḡ` of `offset` × the RMS
    row norm of `Ĝ` (invisible to C, visible to every raw measure and to float rounding). Full
    rank, so N vs d sets the regime: `k_f = min(N, d)`, `k_g = d`, `r = min(N, d)` (N > d: the
    invisible families are p alone and shrink is a basis change; N < d: `E^⊥` is non-trivial).

    Args:
        shape: `(N, V, d)`, V > d.
        seed: NumPy seed. dtype: stored dtype (float32, as exports are).
        offset, dominant, decay: the structure's sizes (above).

    Example:
        >>> p = lm_shaped((20, 50, 8))
        >>> p.embeddings.dtype, p.unembeddings.shape
        (dtype('float32'), (50, 8))
    """
    N, V, d = shape
    rng = np.random.default_rng(seed)
    spectrum = np.geomspace(1.0, 1.0 / decay, d)

    def factor(n):
        Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        return (rng.normal(size=(n, d)) * spectrum) @ Q.T

    F = factor(N)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    rms_f = np.sqrt(np.mean(np.sum(F**2, axis=1)))
    F = F + dominant * rms_f * direction
    Gh = factor(V)
    Gh -= Gh.mean(axis=0)
    mean = rng.normal(size=d)
    mean *= offset * np.sqrt(np.mean(np.sum(Gh**2, axis=1))) / np.linalg.norm(mean)
    return Predictor(np.asarray(F, dtype), np.asarray(Gh + mean, dtype))
