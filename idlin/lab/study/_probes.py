"""The probe sets of the study: the five properties of docs/theory.md §6 on each distribution.

Every probe set is class-wide — indices of contexts or tokens, labels, or a log-odds shift —
so the same question is asked of the truth and of every trained model (docs/theory.md §7.1):

- **morphology**: the probe sets of `idlin.lab.reproduce` (positive → superlative context pairs,
  easy → easiest token pairs, the same context pairs for relational linearity, contexts
  labelled superlative or not, and the shift of `v = mean f(superlative) − mean f(positive)`).
- **lowrank, markov, hmm** (contexts are all token sequences of length T): the relation
  "last token 0 → last token 1" over every prefix — context pairs `(a…, 0) → (a…, 1)` —
  for parallelism of embeddings and for relational linearity; token pairs
  `(0, 1), (2, 3), …` for parallelism of unembeddings (nothing is planted there: a negative
  control); the probe "which side of the median of the truth's first canonical coordinate" (the
  top left singular vector of C*) over the contexts outside its middle fifth — separable in the
  truth by construction, a question about the distribution rather than about one
  factorisation; and the shift of
  `v = mean f(last = 1) − mean f(last = 0)`. For the Markov truth of order k = T
  `f*(x) = s Σ_j E_j[x_{T−j}]` is additive in the tokens, so the context differences are all
  `s(E_0[1] − E_0[0])` (planted parallel) and the relation is a translation of sources that
  span the rank (not vacuous); for the tanh low-rank truth they hold only approximately, for
  the HMM not at all.

The steering shift is computed once on the truth (`δ* = Ĝ* v*`, `steering_shift`) and asked of
each trained model as `Steering(shift=δ*)`: can the model's log-odds move by δ*? (With each
model's own vector the raw verdict would be true by construction, docs/theory.md §6.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core._errors import ConfigError

PROPERTIES = (
    "parallelism_embedding",
    "parallelism_unembedding",
    "relational_linearity",
    "linear_probe",
    "steering",
)
"""The property ids of the study, in table order."""


def _last_token_pairs(contexts: np.ndarray, source: int, target: int) -> np.ndarray:
    """(m, 2) rows `(x, x')` with x = (a…, source), x' = (a…, target), for every prefix a."""
    index = {tuple(int(t) for t in c): i for i, c in enumerate(contexts)}
    pairs = []
    for i, c in enumerate(contexts):
        if int(c[-1]) == source:
            j = index.get((*(int(t) for t in c[:-1]), target))
            if j is not None:
                pairs.append((i, j))
    if len(pairs) < 2:
        raise ConfigError(
            f"probe sets: expected ≥ 2 context pairs differing only in the last token "
            f"{source} → {target}, got {len(pairs)} (use all contexts: num_contexts unset)"
        )
    return np.asarray(pairs, np.int64)


def _principal_labels(truth) -> tuple[np.ndarray, np.ndarray]:
    """Contexts outside the middle fifth of the truth's first left singular vector of C*, and
    their labels (above the median or not)."""
    F = np.asarray(truth.predictor.embeddings, np.float64)
    G = np.asarray(truth.predictor.unembeddings, np.float64)
    u = np.linalg.svd(F @ (G - G.mean(axis=0)).T, full_matrices=False)[0][:, 0]
    lo, mid, hi = np.quantile(u, [0.4, 0.5, 0.6])
    keep = np.flatnonzero((u <= lo) | (u >= hi))
    return keep, (u[keep] > mid).astype(np.int64)


def _sequence_specs(truth) -> dict[str, Any]:
    from ...properties import LinearProbe, Parallelism, RelationalLinearity, Steering

    contexts = np.asarray(truth.contexts)
    v = truth.vocab_size
    ctx = _last_token_pairs(contexts, 0, 1)
    tok = np.arange(2 * (v // 2), dtype=np.int64).reshape(-1, 2)
    last = contexts[:, -1]
    F = np.asarray(truth.predictor.embeddings)
    vector = F[last == 1].mean(axis=0) - F[last == 0].mean(axis=0)
    return {
        "parallelism_embedding": Parallelism(ctx, "embedding"),
        "parallelism_unembedding": Parallelism(tok, "unembedding"),
        "relational_linearity": RelationalLinearity(ctx),
        "linear_probe": LinearProbe(*_principal_labels(truth)),
        "steering": Steering(vector=vector),
    }


def _morphology(truth) -> dict[str, Any]:
    from ..reproduce import morphology_specs  # one definition of the morphology probe sets

    return dict(zip(PROPERTIES, (spec for _, spec in morphology_specs(truth)), strict=True))


def probe_specs(truth, truth_analysis) -> dict[str, Any]:
    """The study's five `Property` objects for `truth`, keyed by `PROPERTIES`, resolved
    against the truth's `Analysis` (the steering vector becomes the class-wide shift δ*).

    Raises:
        ConfigError: a truth without the contexts the probe sets need.
    """
    from ..data import MorphologyTruth

    specs = _morphology(truth) if isinstance(truth, MorphologyTruth) else _sequence_specs(truth)
    return {name: spec.resolve(truth_analysis) for name, spec in specs.items()}


def describe(truth) -> dict[str, str]:
    """One line per property: what its probe set is, for the summary."""
    from ..data import MorphologyTruth

    if isinstance(truth, MorphologyTruth):
        m = len(truth.lemmas)
        return {
            "parallelism_embedding": f"{m} context pairs (positive, a) → (superlative, a)",
            "parallelism_unembedding": f"{m} token pairs easy → easiest, …",
            "relational_linearity": f"{m} context pairs positive → superlative (in-sample)",
            "linear_probe": f"{truth.num_contexts} contexts labelled superlative or not",
            "steering": "δ* = Ĝ*(mean f*(superlative) − mean f*(positive))",
        }
    v = truth.vocab_size
    return {
        "parallelism_embedding": "context pairs (a…, 0) → (a…, 1), every prefix a",
        "parallelism_unembedding": f"token pairs (0,1), (2,3), … ({v // 2}; nothing planted)",
        "relational_linearity": "context pairs (a…, 0) → (a…, 1) (in-sample)",
        "linear_probe": "contexts labelled by the side of the truth's first canonical coordinate",
        "steering": "δ* = Ĝ*(mean f*(last = 1) − mean f*(last = 0))",
    }
