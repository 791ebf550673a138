"""The study (issue 16): do trained models agree on identifiable verdicts and disagree on raw
ones? Seeds × widths × architectures × distributions (docs/theory.md §6–§8).

`run_study` trains the K seeds of each (distribution, architecture, width) as one vmapped
program (`idlin.lab.train`'s driver, the sweep's architectures), analyses them in one jitted
`jax.vmap(idlin.analyze)` (`analyze_seeds`), evaluates the five properties raw and identifiable
on every model and on the truth, and writes one JSON per point; `_stats` turns the points into
agreement statistics with bootstrap intervals; `_report` writes the table, figure and summary.

Names load on first use (`idlin.core._lazy`), so registering `idlin study` on the command line
imports no JAX.
"""

from ...core._lazy import lazy_namespace

_EXPORTS = {
    "StudyConfig": "._config",
    "StudyPoint": "._config",
    "load_config": "._config",
    "parse_config": "._config",
    "analyze_seeds": "._evaluate",
    "evaluate_properties": "._evaluate",
    "seed_analysis": "._evaluate",
    "load_points": "._runner",
    "make_truth": "._runner",
    "write_json": "._runner",
    "figure": "._report",
    "summarize": "._report",
    "table": "._report",
    "run_study": "._runner",
    "pair_agreement": "._stats",
    "point_statistics": "._stats",
    "study_rows": "._stats",
    "train_seeds": "._train",
}

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS)
