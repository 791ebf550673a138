"""The symmetry audit of any function of a model over its equivalence class (docs/theory.md §9)."""

from ._audit import Audit as Audit
from ._audit import GeneratorAudit as GeneratorAudit
from ._audit import audit as audit
from ._generators import GENERATORS as GENERATORS
