"""Linear properties of next-token predictors, raw and identifiable (docs/theory.md §6–§7).

One module per property, each with its one score function (`parallelism_score`,
`steering_score`, `faithfulness_scores`, `margin_surrogate` beside the exact NNLS margin), which
the verdict, the controls and the audit's catalogue all call; a shared `PropertyResult`; the open
`Property` protocol that the all-or-none harness and the counterexample constructions run on
(subclass it for your own).
"""

from .._classes import widen_embedding as widen_embedding
from .._classes import widen_unembedding as widen_unembedding
from ._all_or_none import AllOrNone as AllOrNone
from ._all_or_none import all_or_none as all_or_none
from ._coordinates import Coordinates as Coordinates
from ._coordinates import coordinates as coordinates
from ._counterexample import Counterexample as Counterexample
from ._counterexample import counterexample as counterexample
from ._parallelism import mean_cosine as mean_cosine
from ._parallelism import parallelism as parallelism
from ._parallelism import parallelism_score as parallelism_score
from ._probe import linear_probe as linear_probe
from ._probe import margin_surrogate as margin_surrogate
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
