"""Evaluate the K trained seeds of one point: one vmapped analysis, then the five properties.

Per point, `analyze_seeds` runs ONE jitted `jax.vmap(idlin.analyze)` over the stacked
predictors (leading seed axis, equal shapes), each seed thresholded by its own KL to the truth
(`Precision(mean_kl=KL_k)`, the KL-tied rank of docs/theory.md §3.1, §8); the KL and relative
gap come from one jitted `jax.vmap(idlin.distribution_gap)`. The properties then read each
seed's slice of the batched `Analysis` (`seed_analysis`) and never decompose again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from .._analysis import Analysis, analyze
from .._errors import IdlinError
from .._gap import distribution_gap
from .._precision import Precision
from .._predictor import Predictor


@jax.jit
def _analyze_batch(stacked: Predictor, mean_kl: jax.Array) -> Analysis:
    return jax.vmap(lambda q, kl: analyze(q, precision=Precision(mean_kl=kl)))(stacked, mean_kl)


@jax.jit
def _gap_batch(truth: Predictor, stacked: Predictor):
    return jax.vmap(distribution_gap, in_axes=(None, 0))(truth, stacked)


def gaps(truth: Predictor, stacked: Predictor) -> tuple[np.ndarray, np.ndarray]:
    """`(mean_kl, relative)` of every seed against the truth (THEORY §8), shape (K,) each:
    `mean_x KL(p*(·|x) ‖ p_θ(·|x))` and `‖C* − C_θ‖_F/‖C*‖_F`, one jitted vmap."""
    gap = _gap_batch(truth, stacked)
    return np.asarray(gap.mean_kl, np.float64), np.asarray(gap.relative, np.float64)


def analyze_seeds(stacked: Predictor, mean_kl: Any) -> Analysis:
    """`idlin.analyze` of every seed of `stacked` (F: K×N×d, G: K×V×d) in one jitted vmap, seed
    k with `Precision(mean_kl=mean_kl[k])`. Equals the per-seed loop
    `[analyze(q_k, precision=Precision(mean_kl=mean_kl[k])) for k]` to float64 rounding
    (tests/test_study.py).

    >>> import jax, jax.numpy as jnp, numpy as np, idlin
    >>> from idlin.study import analyze_seeds
    >>> rng = np.random.default_rng(0)
    >>> F, G = jnp.asarray(rng.normal(size=(3, 6, 2))), jnp.asarray(rng.normal(size=(3, 5, 2)))
    >>> stacked = jax.tree_util.tree_unflatten(
    ...     jax.tree_util.tree_structure(idlin.Predictor(F[0], G[0])), [F, G])
    >>> analyze_seeds(stacked, jnp.zeros(3)).effective_complexity.tolist()
    [2, 2, 2]
    """
    return _analyze_batch(stacked, jax.numpy.asarray(mean_kl, stacked.embeddings.dtype))


def seed_analysis(batched: Analysis, k: int) -> Analysis:
    """Seed k's `Analysis` out of a batched one (every leaf sliced on its leading axis)."""
    return jax.tree_util.tree_map(lambda x: x[k], batched)


def _statistic(result) -> float:
    """The number the verdict thresholds: relational linearity's fit residual, else `score`."""
    value = result.residual if result.name == "relational_linearity" else result.score
    return float(value)


def evaluate_properties(
    a: Analysis, specs: Mapping[str, Any], tolerances: Sequence[float]
) -> dict[str, Any]:
    """Every property of `specs` on one `Analysis`, raw and identifiable, at each verdict
    tolerance: `{name: {"raw": {...}, "identifiable": {...}, "inclusion": residual}}` with
    `score`, `statistic` (what the verdict compares with the tolerance) and `holds` (one
    verdict per tolerance). A property that is degenerate on this model (an `IdlinError`, e.g. a
    zero difference) is recorded as `{"error": reason}`."""
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        try:
            entry: dict[str, Any] = {}
            for form in ("raw", "identifiable"):
                results = [dataclasses.replace(spec, tol=t).evaluate(a, form=form)
                           for t in tolerances]  # fmt: skip
                entry[form] = {
                    "score": float(results[0].score),
                    "statistic": _statistic(results[0]),
                    "holds": [bool(r.holds) for r in results],
                }
            entry["inclusion"] = float(results[0].inclusion.residual)
        except IdlinError as err:
            entry = {"error": f"{type(err).__name__}: {err}"}
        out[name] = entry
    return out
