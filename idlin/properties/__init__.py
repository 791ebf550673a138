"""Linear properties of next-token predictors, raw and identifiable (docs/theory.md §6–§7).

One module per property, each with its one score function (`parallelism_score`,
`steering_score`, `faithfulness_scores`, `probe_margin`, the exact NNLS max-margin), which
the verdict, the controls and the audit's catalogue all call; a shared `PropertyResult`; the open
`Property` protocol that the all-or-none harness and the counterexample constructions run on
(subclass it for your own). `audit/` is the symmetry audit of any measure over the class (§9).
Names load on first use (`idlin.core._lazy`), so the CLI registers `idlin audit` without JAX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_namespace

_EXPORTS = {
    "widen_embedding": "..core._classes",
    "widen_unembedding": "..core._classes",
    "AllOrNone": "._all_or_none",
    "all_or_none": "._all_or_none",
    "Coordinates": "._coordinates",
    "coordinates": "._coordinates",
    "Rows": "._coordinates",
    "Counterexample": "._counterexample",
    "counterexample": "._counterexample",
    "mean_cosine": "._parallelism",
    "parallelism": "._parallelism",
    "parallelism_score": "._parallelism",
    "linear_probe": "._probe",
    "probe_margin": "._probe",
    "Candidate": "._protocol",
    "Property": "._protocol",
    "faithfulness_scores": "._relational",
    "relational_linearity": "._relational",
    "FORMS": "._result",
    "Forms": "._result",
    "Inclusion": "._result",
    "PropertyResult": "._result",
    "both_forms": "._result",
    "inclusion_of": "._result",
    "LinearProbe": "._spec",
    "Parallelism": "._spec",
    "RelationalLinearity": "._spec",
    "Steering": "._spec",
    "steering": "._steering",
    "steering_score": "._steering",
    "steering_shift": "._steering",
}

__all__, __getattr__, __dir__ = lazy_namespace(__name__, globals(), _EXPORTS, ("audit",))

if TYPE_CHECKING:  # the eager imports, for type checkers only
    from ..core._classes import widen_embedding as widen_embedding
    from ..core._classes import widen_unembedding as widen_unembedding
    from ._all_or_none import AllOrNone as AllOrNone
    from ._all_or_none import all_or_none as all_or_none
    from ._coordinates import Coordinates as Coordinates
    from ._coordinates import Rows as Rows
    from ._coordinates import coordinates as coordinates
    from ._counterexample import Counterexample as Counterexample
    from ._counterexample import counterexample as counterexample
    from ._parallelism import mean_cosine as mean_cosine
    from ._parallelism import parallelism as parallelism
    from ._parallelism import parallelism_score as parallelism_score
    from ._probe import linear_probe as linear_probe
    from ._probe import probe_margin as probe_margin
    from ._protocol import Candidate as Candidate
    from ._protocol import Property as Property
    from ._relational import faithfulness_scores as faithfulness_scores
    from ._relational import relational_linearity as relational_linearity
    from ._result import FORMS as FORMS
    from ._result import Forms as Forms
    from ._result import Inclusion as Inclusion
    from ._result import PropertyResult as PropertyResult
    from ._result import both_forms as both_forms
    from ._result import inclusion_of as inclusion_of
    from ._spec import LinearProbe as LinearProbe
    from ._spec import Parallelism as Parallelism
    from ._spec import RelationalLinearity as RelationalLinearity
    from ._spec import Steering as Steering
    from ._steering import steering as steering
    from ._steering import steering_score as steering_score
    from ._steering import steering_shift as steering_shift
