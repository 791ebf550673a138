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

from ...core._analysis import Analysis, analyze
from ...core._errors import IdlinError
from ...core._gap import distribution_gap
from ...core._precision import Precision
from ...core._predictor import Predictor
from ...properties import FORMS, Forms, both_forms


@jax.jit
def _analyze_batch(stacked: Predictor, mean_kl: jax.Array) -> Analysis:
    return jax.vmap(lambda q, kl: analyze(q, precision=Precision(mean_kl=kl)))(stacked, mean_kl)


@jax.jit
def _gap_batch(truth: Predictor, stacked: Predictor):
    return jax.vmap(distribution_gap, in_axes=(None, 0))(truth, stacked)


def gaps(truth: Predictor, stacked: Predictor) -> tuple[np.ndarray, np.ndarray]:
    """`(mean_kl, relative)` of every seed against the truth (docs/theory.md §8), shape (K,) each:
    `mean_x KL(p*(·|x) ‖ p_θ(·|x))` and `‖C* − C_θ‖_F/‖C*‖_F`, one jitted vmap."""
    gap = _gap_batch(truth, stacked)
    return np.asarray(gap.mean_kl, np.float64), np.asarray(gap.relative, np.float64)


def analyze_seeds(stacked: Predictor, mean_kl: Any) -> Analysis:
    """`idlin.analyze` of every seed of `stacked` (F: K×N×d, G: K×V×d) in one jitted vmap, seed
    k with `Precision(mean_kl=mean_kl[k])`. Equals the per-seed loop
    `[analyze(q_k, precision=Precision(mean_kl=mean_kl[k])) for k]` to float64 rounding
    (tests/test_study.py).

    >>> import jax, jax.numpy as jnp, numpy as np, idlin
    >>> from idlin.lab.study import analyze_seeds
    >>> rng = np.random.default_rng(0)
    >>> F, G = jnp.asarray(rng.normal(size=(3, 6, 2))), jnp.asarray(rng.normal(size=(3, 5, 2)))
    >>> stacked = jax.tree_util.tree_unflatten(
    ...     jax.tree_util.tree_structure(idlin.Predictor(F[0], G[0])), [F, G])
    >>> analyze_seeds(stacked, jnp.zeros(3)).effective_complexity.tolist()
    [2, 2, 2]
    """
    return _analyze_batch(stacked, jax.numpy.asarray(mean_kl, stacked.embeddings.dtype))


def seed_analysis(batched: Analysis, k: int) -> Analysis:
    """Seed k's `Analysis` out of a batched one (every leaf sliced on its leading axis).

    >>> import jax.numpy as jnp, numpy as np, idlin
    >>> from idlin.lab.study import analyze_seeds, seed_analysis
    >>> from idlin.lab.study._train import stack
    >>> rng = np.random.default_rng(0)
    >>> F, G = rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 5, 3))
    >>> stacked = stack(jnp.asarray(F), jnp.asarray(G))
    >>> int(seed_analysis(analyze_seeds(stacked, jnp.zeros(2)), 1).effective_complexity)
    3
    """
    return jax.tree_util.tree_map(lambda x: x[k], batched)


def _statistic(result) -> float:
    """The number the verdict thresholds: relational linearity's fit residual, else `score`."""
    value = result.residual if result.name == "relational_linearity" else result.score
    return float(value)


def _both_at(a: Analysis, spec: Any, t: float) -> Forms:
    """Both forms of `spec` at verdict tolerance t; an `IdlinError` (of the policy or of
    a form) stands in that form's place."""
    try:
        policy = dataclasses.replace(a.precision, verdict_tol=t)
        a_t = a.with_precision(policy)
    except IdlinError as err:
        return Forms(err, err)
    return both_forms(spec.evaluate, a_t, catch=IdlinError)


def evaluate_properties(
    a: Analysis, specs: Mapping[str, Any], tolerances: Sequence[float]
) -> dict[str, Any]:
    """Every property of `specs` on one `Analysis`, raw and identifiable, at each verdict
    tolerance: `{name: {"raw": {...}, "identifiable": {...}, "inclusion": residual}}` with
    `score` and `statistic` (what the verdict compares with the tolerance; from the smallest
    tolerance that could be evaluated) and `holds` (one verdict per tolerance). Where the
    property is degenerate at a tolerance (an `IdlinError`, e.g. a difference shorter than
    `tol·scale` counts as zero for parallelism), that verdict is None and the reason is kept
    under `errors`; where it is degenerate at every tolerance the entry is `{"error": reason}`.

    >>> import numpy as np, idlin
    >>> from idlin.lab.study import evaluate_properties
    >>> F = np.array([[0., 0.], [1., 1.], [0., 1.], [2., 3.]])
    >>> p = idlin.Predictor(F, np.random.default_rng(0).normal(size=(5, 2)))
    >>> spec = idlin.properties.Parallelism(np.array([[0, 1], [2, 3]]))
    >>> evaluate_properties(idlin.analyze(p), {"par": spec}, [0.1])["par"]["raw"]["holds"]
    [True]
    """
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        entry: dict[str, Any] = {}
        errors: list[str] = []
        first = None
        by_tol = [_both_at(a, spec, t) for t in tolerances]
        for form in FORMS:
            holds: list[bool | None] = []
            for t, forms in zip(tolerances, by_tol, strict=True):
                r = getattr(forms, form)
                if isinstance(r, IdlinError):
                    holds.append(None)
                    errors.append(f"{form} @{t:g}: {type(r).__name__}: {r}")
                    continue
                holds.append(bool(r.holds))
                if form not in entry:
                    entry[form] = {"score": float(r.score), "statistic": _statistic(r)}
                    first = first or r
            if form in entry:
                entry[form]["holds"] = holds
        if first is None or len(entry) < 2:
            out[name] = {"error": errors[0] if errors else "not evaluated"}
            continue
        entry["inclusion"] = float(first.inclusion.residual)
        if first.note:  # e.g. a vacuous relational fit: any verdict is then "holds"
            entry["note"] = first.note
        if errors:
            entry["errors"] = errors
        out[name] = entry
    return out
