"""The symmetry audit of any function of a model over its equivalence class (docs/theory.md §9)."""

from ._audit import Audit as Audit
from ._audit import GeneratorAudit as GeneratorAudit
from ._audit import audit as audit
from ._card import EXPECTED as EXPECTED
from ._card import ReportCard as ReportCard
from ._card import report_card as report_card
from ._catalogue import MEASURES as MEASURES
from ._generators import GENERATORS as GENERATORS
