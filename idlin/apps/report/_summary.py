"""What `idlin verify` reports about two predictors (docs/theory.md §2–§4, §8).

A thin layer over `idlin.compare`: the precision policy of the library (`idlin.Precision`,
docs/theory.md §3.1) decides every tolerance, so the CLI, the report and the library give the
same ranks, gap verdict and map residuals for the same files. This module only turns a
`Comparison` into the JSON-ready dict the CLI prints.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core._analysis import Analysis, analyze
from ...core._compare import Comparison, Side, compare
from ...core._precision import Precision, check_precision, with_legacy
from ...core._predictor import Predictor


def summarise_model(p: Predictor | Analysis, stored: Any = None) -> Side:
    """Sizes, ranks, thresholds and spectrum of one model under the precision policy."""
    a = p if isinstance(p, Analysis) else analyze(p, precision=Precision(stored=stored))
    return Side.of(a)


def jsonable(x: Any) -> Any:
    """Plain, standard JSON types: tuples as lists, NumPy scalars as Python ones, a `Precision`
    as the tolerances it resolves to (`Precision.resolved`), and every non-finite float (inf,
    -inf, nan) as `None` (JSON `null`).

    idlin's one convention for JSON output (`verify`, `inspect`, `audit`, `reproduce`'s
    report.json, `sweep-summary`, the study's summary.json): numbers are JSON numbers, and a
    value that is infinite or undefined — the spectral gap `σ_r/σ_{r+1}` of an exact rank
    (`σ_{r+1} = 0`), a condition number of a singular matrix, an R² or a rate with nothing to
    measure — is `null`; the text output prints it as `inf`/`nan`. Never the strings "inf" or
    "nan" (which a reader must special-case), never the bare tokens `Infinity`/`NaN` (which strict
    JSON parsers reject)."""
    if isinstance(x, Precision):
        x = x.resolved()
    if isinstance(x, np.dtype):
        return x.name
    if hasattr(x, "__array__") and not isinstance(x, np.ndarray | np.generic):
        x = np.asarray(x)  # a jax.Array
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def comparison_dict(c: Comparison) -> dict[str, Any]:
    """The JSON of `idlin verify`: `a`/`b` the two models, `gap`, `rtol` (the equivalence
    tolerance), `equivalent`, `verdict`, `map`, the near-equivalence numbers, and `precision`:
    every tolerance of the policy the verdict was decided at (`Precision.resolved`)."""
    d = dataclasses.asdict(c)
    d["precision"] = c.precision.resolved()
    d["a"], d["b"] = d.pop("p"), d.pop("q")
    d["rtol"] = d.pop("tolerance")
    d["equivalent"] = c.equivalent
    return jsonable(d)


def verify(
    a: Predictor,
    b: Predictor,
    *,
    stored: tuple[Any, Any] | None = None,
    precision: Precision | None = None,
    rtol: float | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> Comparison:
    """`idlin.compare(a, b)` under one precision policy, each model's tolerances following the
    dtype it was stored in.

    Args:
        a, b: predictors on the same contexts and vocabulary (widths may differ).
        stored: the dtypes the two were stored in (default: their dtypes).
        precision: the policy (e.g. `Precision(equivalence_rtol=...)` for `--rtol`); its
            `stored` is replaced by each model's.
        rtol: deprecated: `Precision(equivalence_rtol=...)`.
        say: called at the start of each of `VERIFY_STEPS` steps (the CLI's progress bar).

    Raises:
        IncompatibleError: different N or V.
        ConfigError: a tolerance that is not a finite positive number.
    """
    policy = check_precision(
        with_legacy("report.verify", precision, rtol=("equivalence_rtol", rtol))
    )
    sa, sb = stored if stored is not None else (a.dtype, b.dtype)
    say("analysing A (docs/theory.md §3)")
    aa = analyze(a, precision=dataclasses.replace(policy, stored=sa))
    say("analysing B")
    ab = analyze(b, precision=dataclasses.replace(policy, stored=sb))
    say("comparing: gap, KL, map, R² (docs/theory.md §2, §4, §8)")
    return compare(aa, ab)


VERIFY_STEPS = 3  # the `say` calls of `verify`
