"""Public Hypothesis strategies and profiles, for idlin's suite and for users' own tests.

from idlin.testing import predictors, equivalent_pairs
"""

from ._audit import NotIdentifiable as NotIdentifiable
from ._audit import assert_identifiable as assert_identifiable
from ._planted import MEMBER_MOVES as MEMBER_MOVES
from ._planted import PlantedLabels as PlantedLabels
from ._planted import PlantedPairs as PlantedPairs
from ._planted import PlantedRelation as PlantedRelation
from ._planted import PlantedSteering as PlantedSteering
from ._planted import affine_pairs as affine_pairs
from ._planted import class_members as class_members
from ._planted import parallel_pairs as parallel_pairs
from ._planted import separable_labels as separable_labels
from ._planted import steering_vectors as steering_vectors
from ._profiles import PROFILE_EXAMPLES as PROFILE_EXAMPLES
from ._profiles import register_profiles as register_profiles
from ._strategies import SIZES as SIZES
from ._strategies import EquivalentPair as EquivalentPair
from ._strategies import Sizes as Sizes
from ._strategies import equivalent_pairs as equivalent_pairs
from ._strategies import invertible_matrices as invertible_matrices
from ._strategies import planted_predictor as planted_predictor
from ._strategies import predictors as predictors
from ._strategies import prng_keys as prng_keys
