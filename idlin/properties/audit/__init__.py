"""The symmetry audit of any function of a model over its equivalence class (docs/theory.md §9).

Names load on first use (`idlin.core._lazy`): registering `idlin audit` imports no JAX.
"""

from ...core._lazy import lazy_namespace

_EXPORTS = {
    "Audit": "._audit",
    "GeneratorAudit": "._audit",
    "audit": "._audit",
    "EXPECTED": "._card",
    "ReportCard": "._card",
    "report_card": "._card",
    "MEASURES": "._names",
    "PAIR_MEASURES": "._names",
    "REFERENCE_MEASURES": "._names",
    "build": "._catalogue",
    "default_probes": "._catalogue",
    "GENERATORS": "._generators",
}

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS)
