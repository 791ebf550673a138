"""Controlled distributions with exact next-token tables (docs/theory.md §1, §3, §6, §8).

Each generator returns a `Truth`: contexts, the exact table `p*(y|x)`, and the truth as an
`idlin.Predictor`. `sample_stream` draws training pairs from any of them.
"""

from ._hmm import hmm_predictive as hmm_predictive
from ._hmm import hmm_truth as hmm_truth
from ._lowrank import lowrank_truth as lowrank_truth
from ._markov import markov_truth as markov_truth
from ._morphology import DEFAULT_ADJECTIVES as DEFAULT_ADJECTIVES
from ._morphology import INFLECTIONS as INFLECTIONS
from ._morphology import MorphologyTruth as MorphologyTruth
from ._morphology import inflect as inflect
from ._morphology import morphology_truth as morphology_truth
from ._truth import Stream as Stream
from ._truth import Truth as Truth
from ._truth import all_contexts as all_contexts
from ._truth import empirical_probs as empirical_probs
from ._truth import sample_stream as sample_stream
