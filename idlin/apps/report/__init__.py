"""Reports on top of the core: the summaries `idlin verify`/`inspect` print, the figures and the
markdown/JSON report of `idlin reproduce`. Plotting imports matplotlib lazily (Agg backend)."""

from ._inspect import Inspection as Inspection
from ._inspect import PropertyReport as PropertyReport
from ._inspect import inspect_model as inspect_model
from ._inspect import verdict as verdict
from ._summary import VERIFY_STEPS as VERIFY_STEPS
from ._summary import comparison_dict as comparison_dict
from ._summary import jsonable as jsonable
from ._summary import verify as verify
from ._writer import FIGURES as FIGURES
from ._writer import fmt as fmt
from ._writer import markdown as markdown
from ._writer import write_report as write_report
