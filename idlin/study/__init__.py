"""The study (issue 16): do trained models agree on identifiable verdicts and disagree on raw
ones? Seeds × widths × architectures × distributions (docs/theory.md §6–§8).

`run_study` trains the K seeds of each (distribution, architecture, width) as one vmapped
program (`idlin.train`'s driver, the sweep's architectures), analyses them in one jitted
`jax.vmap(idlin.analyze)` (`analyze_seeds`), evaluates the five properties raw and identifiable
on every model and on the truth, and writes one JSON per point; `_stats` turns the points into
agreement statistics with bootstrap intervals; `_report` writes the table, figure and summary.
"""

from ._config import StudyConfig as StudyConfig
from ._config import StudyPoint as StudyPoint
from ._config import load_config as load_config
from ._config import parse_config as parse_config
from ._evaluate import analyze_seeds as analyze_seeds
from ._evaluate import evaluate_properties as evaluate_properties
from ._evaluate import seed_analysis as seed_analysis
from ._runner import load_points as load_points
from ._runner import run_study as run_study
from ._stats import pair_agreement as pair_agreement
from ._stats import point_statistics as point_statistics
from ._stats import study_rows as study_rows
