"""idlin: identifiable linear properties of next-token predictors.

The public API in one place; each name lives in a module named after its idea (docs/theory.md
sections in the docstrings). Names load on first use (PEP 562), so `import idlin` and the
`idlin` command's help and error paths cost no JAX import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_namespace

__version__ = "0.1.0"

# Public name → the module that defines it. To add a public name, add one line here (and, for
# type checkers and editors, the matching import in the TYPE_CHECKING block below).
_EXPORTS: dict[str, str] = {
    # the one decomposition, the one precision policy, the one comparison (§3.1–§3.2, §8)
    "Analysis": "._analysis",
    "analyze": "._analysis",
    "spectral_gap": "._analysis",
    "Precision": "._precision",
    "accuracy_rtol": "._precision",
    "IdlinDeprecationWarning": "._deprecation",
    # the symmetry audit of any measure (§9)
    "Audit": "._audit",
    "audit": "._audit",
    "report_card": "._audit",
    "Comparison": "._compare",
    "Evaluation": "._compare",
    "compare": "._compare",
    "evaluate": "._compare",
    # distribution-equivalence classes (§5)
    "MOVES": "._classes",
    "random_invertible": "._classes",
    "sample_equivalent": "._classes",
    "widen_embedding": "._classes",
    "widen_unembedding": "._classes",
    # errors
    "ArgumentError": "._errors",
    "ConfigError": "._errors",
    "DTypeError": "._errors",
    "FileFormatError": "._errors",
    "IdlinError": "._errors",
    "IncompatibleError": "._errors",
    "NonFiniteError": "._errors",
    "NotDiverseError": "._errors",
    "ProbeError": "._errors",
    "RankError": "._errors",
    "ShapeError": "._errors",
    # the gap (§2)
    "Gap": "._gap",
    "distribution_gap": "._gap",
    "equivalent": "._gap",
    # maps between models (§4)
    "ExtendedMap": "._maps",
    "LinearMap": "._maps",
    "recover_extended_map": "._maps",
    "recover_linear_map": "._maps",
    # the model (§1)
    "Predictor": "._predictor",
    # subspaces and canonical coordinates (§3–§4)
    "Canonical": "._subspaces",
    "Subspaces": "._subspaces",
    "canonical": "._subspaces",
    "minimal": "._subspaces",
    "subspaces": "._subspaces",
    # near-equivalence (§8)
    "CanonicalFit": ".metrics",
    "canonical_fit": ".metrics",
    # linear properties (§6–§7)
    "AllOrNone": ".properties",
    "Counterexample": ".properties",
    "LinearProbe": ".properties",
    "Parallelism": ".properties",
    "Property": ".properties",
    "PropertyResult": ".properties",
    "RelationalLinearity": ".properties",
    "Steering": ".properties",
    "all_or_none": ".properties",
    "counterexample": ".properties",
    "linear_probe": ".properties",
    "parallelism": ".properties",
    "relational_linearity": ".properties",
    "steering": ".properties",
}

# Public submodules reachable as attributes (`idlin.io.load`, `idlin.metrics.cca`) without an
# explicit import, as when `import idlin` imported them eagerly.
_SUBMODULES = ("io", "metrics", "properties")

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS, _SUBMODULES)


if TYPE_CHECKING:  # the eager imports, for type checkers only
    from . import io as io
    from . import metrics as metrics
    from . import properties as properties
    from ._analysis import Analysis as Analysis
    from ._analysis import analyze as analyze
    from ._analysis import spectral_gap as spectral_gap
    from ._audit import Audit as Audit
    from ._audit import audit as audit
    from ._audit import report_card as report_card
    from ._classes import MOVES as MOVES
    from ._classes import random_invertible as random_invertible
    from ._classes import sample_equivalent as sample_equivalent
    from ._classes import widen_embedding as widen_embedding
    from ._classes import widen_unembedding as widen_unembedding
    from ._compare import Comparison as Comparison
    from ._compare import Evaluation as Evaluation
    from ._compare import compare as compare
    from ._compare import evaluate as evaluate
    from ._deprecation import IdlinDeprecationWarning as IdlinDeprecationWarning
    from ._errors import ArgumentError as ArgumentError
    from ._errors import ConfigError as ConfigError
    from ._errors import DTypeError as DTypeError
    from ._errors import FileFormatError as FileFormatError
    from ._errors import IdlinError as IdlinError
    from ._errors import IncompatibleError as IncompatibleError
    from ._errors import NonFiniteError as NonFiniteError
    from ._errors import NotDiverseError as NotDiverseError
    from ._errors import ProbeError as ProbeError
    from ._errors import RankError as RankError
    from ._errors import ShapeError as ShapeError
    from ._gap import Gap as Gap
    from ._gap import distribution_gap as distribution_gap
    from ._gap import equivalent as equivalent
    from ._maps import ExtendedMap as ExtendedMap
    from ._maps import LinearMap as LinearMap
    from ._maps import recover_extended_map as recover_extended_map
    from ._maps import recover_linear_map as recover_linear_map
    from ._precision import Precision as Precision
    from ._precision import accuracy_rtol as accuracy_rtol
    from ._predictor import Predictor as Predictor
    from ._subspaces import Canonical as Canonical
    from ._subspaces import Subspaces as Subspaces
    from ._subspaces import canonical as canonical
    from ._subspaces import minimal as minimal
    from ._subspaces import subspaces as subspaces
    from .metrics import CanonicalFit as CanonicalFit
    from .metrics import canonical_fit as canonical_fit
    from .properties import AllOrNone as AllOrNone
    from .properties import Counterexample as Counterexample
    from .properties import LinearProbe as LinearProbe
    from .properties import Parallelism as Parallelism
    from .properties import Property as Property
    from .properties import PropertyResult as PropertyResult
    from .properties import RelationalLinearity as RelationalLinearity
    from .properties import Steering as Steering
    from .properties import all_or_none as all_or_none
    from .properties import counterexample as counterexample
    from .properties import linear_probe as linear_probe
    from .properties import parallelism as parallelism
    from .properties import relational_linearity as relational_linearity
    from .properties import steering as steering
