"""idlin: identifiable linear properties of next-token predictors.

The public API in one place; each name lives in a module named after its idea (docs/theory.md
sections in the docstrings). Names load on first use (PEP 562), so `import idlin` and the
`idlin` command's help and error paths cost no JAX import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core._deprecation import install_moved_modules
from .core._lazy import lazy_namespace

__version__ = "0.1.0"

# Public name → the module that defines it. To add a public name, add one line here (and, for
# type checkers and editors, the matching import in the TYPE_CHECKING block below).
_EXPORTS: dict[str, str] = {
    # the one decomposition, the one precision policy, the one comparison (§3.1–§3.2, §8)
    "Analysis": ".core._analysis",
    "analyze": ".core._analysis",
    "spectral_gap": ".core._analysis",
    "Precision": ".core._precision",
    "accuracy_rtol": ".core._precision",
    "IdlinDeprecationWarning": ".core._deprecation",
    # the symmetry audit of any measure (§9)
    "Audit": ".properties.audit",
    "audit": ".properties.audit",
    "report_card": ".properties.audit",
    "Comparison": ".core._compare",
    "Evaluation": ".core._compare",
    "compare": ".core._compare",
    "evaluate": ".core._compare",
    # distribution-equivalence classes (§5)
    "MOVES": ".core._classes",
    "random_invertible": ".core._classes",
    "sample_equivalent": ".core._classes",
    "widen_embedding": ".core._classes",
    "widen_unembedding": ".core._classes",
    # errors
    "ArgumentError": ".core._errors",
    "ConfigError": ".core._errors",
    "DTypeError": ".core._errors",
    "FileFormatError": ".core._errors",
    "IdlinError": ".core._errors",
    "IncompatibleError": ".core._errors",
    "NonFiniteError": ".core._errors",
    "NotDiverseError": ".core._errors",
    "ProbeError": ".core._errors",
    "RankError": ".core._errors",
    "ShapeError": ".core._errors",
    # the gap (§2)
    "Gap": ".core._gap",
    "distribution_gap": ".core._gap",
    "equivalent": ".core._gap",
    # maps between models (§4)
    "ExtendedMap": ".core._maps",
    "LinearMap": ".core._maps",
    "recover_extended_map": ".core._maps",
    "recover_linear_map": ".core._maps",
    # the model (§1)
    "Predictor": ".core._predictor",
    # subspaces and canonical coordinates (§3–§4)
    "Canonical": ".core._subspaces",
    "Subspaces": ".core._subspaces",
    "canonical": ".core._subspaces",
    "minimal": ".core._subspaces",
    "subspaces": ".core._subspaces",
    # near-equivalence (§8)
    "CanonicalFit": ".core.metrics",
    "canonical_fit": ".core.metrics",
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

# The layers, reachable as attributes without an explicit import (`idlin.core.io.load`,
# `idlin.lab.data.markov_truth`): each layer's package names its own parts lazily.
_SUBMODULES = ("core", "properties", "lab", "apps", "testing")

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS, _SUBMODULES)
install_moved_modules()  # `import idlin.data` etc. (the paths before the layers) for one release


if TYPE_CHECKING:  # the eager imports, for type checkers only
    from . import apps as apps
    from . import core as core
    from . import lab as lab
    from . import properties as properties
    from . import testing as testing
    from .core._analysis import Analysis as Analysis
    from .core._analysis import analyze as analyze
    from .core._analysis import spectral_gap as spectral_gap
    from .core._classes import MOVES as MOVES
    from .core._classes import random_invertible as random_invertible
    from .core._classes import sample_equivalent as sample_equivalent
    from .core._classes import widen_embedding as widen_embedding
    from .core._classes import widen_unembedding as widen_unembedding
    from .core._compare import Comparison as Comparison
    from .core._compare import Evaluation as Evaluation
    from .core._compare import compare as compare
    from .core._compare import evaluate as evaluate
    from .core._deprecation import IdlinDeprecationWarning as IdlinDeprecationWarning
    from .core._errors import ArgumentError as ArgumentError
    from .core._errors import ConfigError as ConfigError
    from .core._errors import DTypeError as DTypeError
    from .core._errors import FileFormatError as FileFormatError
    from .core._errors import IdlinError as IdlinError
    from .core._errors import IncompatibleError as IncompatibleError
    from .core._errors import NonFiniteError as NonFiniteError
    from .core._errors import NotDiverseError as NotDiverseError
    from .core._errors import ProbeError as ProbeError
    from .core._errors import RankError as RankError
    from .core._errors import ShapeError as ShapeError
    from .core._gap import Gap as Gap
    from .core._gap import distribution_gap as distribution_gap
    from .core._gap import equivalent as equivalent
    from .core._maps import ExtendedMap as ExtendedMap
    from .core._maps import LinearMap as LinearMap
    from .core._maps import recover_extended_map as recover_extended_map
    from .core._maps import recover_linear_map as recover_linear_map
    from .core._precision import Precision as Precision
    from .core._precision import accuracy_rtol as accuracy_rtol
    from .core._predictor import Predictor as Predictor
    from .core._subspaces import Canonical as Canonical
    from .core._subspaces import Subspaces as Subspaces
    from .core._subspaces import canonical as canonical
    from .core._subspaces import minimal as minimal
    from .core._subspaces import subspaces as subspaces
    from .core.metrics import CanonicalFit as CanonicalFit
    from .core.metrics import canonical_fit as canonical_fit
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
    from .properties.audit import Audit as Audit
    from .properties.audit import audit as audit
    from .properties.audit import report_card as report_card
