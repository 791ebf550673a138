"""Hidden Markov model truth: the log of a mixture, so only approximately low-rank (docs/theory.md
§3, §8).

With S hidden states, initial law π, transitions A (S×S) and emissions B (S×V), the next-token
table is `P = Q B` with `Q[x] = P(s_{T+1} | x)` from the forward recursion: rank(P) ≤ S, but the
centered log-odds `C* = log P − row means` are not low-rank in general. A trained model of width
`d ≥ S` can only approximate it: approximate identifiability.
"""

from __future__ import annotations

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ...core._errors import ConfigError
from ...core._predictor import Predictor
from ._truth import Truth, check_int, context_set, host_rng


def hmm_predictive(
    contexts: np.ndarray, pi: np.ndarray, A: np.ndarray, B: np.ndarray
) -> np.ndarray:
    """(N, V) `p(x_{T+1} = y | x_1..x_T)` by the normalised forward recursion.

    `α_1 ∝ π ⊙ B[:, x_1]`, `α_{t+1} ∝ (α_t A) ⊙ B[:, x_{t+1}]`, then `p(y|x) = (α_T A) B`.
    """
    alpha = pi[None, :] * B[:, contexts[:, 0]].T  # (N, S)
    alpha /= alpha.sum(axis=1, keepdims=True)
    for t in range(1, contexts.shape[1]):
        alpha = (alpha @ A) * B[:, contexts[:, t]].T
        alpha /= alpha.sum(axis=1, keepdims=True)
    return (alpha @ A) @ B


def hmm_truth(
    *,
    vocab_size: int,
    context_length: int,
    hidden_states: int,
    key: PRNGKeyArray,
    num_contexts: int | None = None,
    concentration: float = 0.5,
) -> Truth:
    """An HMM next-token truth (not exactly low-rank; `rank` is None).

    π, the rows of A and the rows of B are drawn from a symmetric Dirichlet(`concentration`);
    smaller concentrations give peakier, more structured laws. The truth's predictor is the exact
    table itself: `F = log P` (N×V), `G = I_V`, so `softmax(F Gᵀ) = P`.

    Args:
        vocab_size: V ≥ 2.
        context_length: T ≥ 1.
        hidden_states: S ≥ 1.
        key: JAX PRNG key.
        num_contexts: sample this many distinct contexts instead of all `V^T`.
        concentration: Dirichlet parameter > 0.

    Raises:
        ConfigError: V < 2, T < 1, S < 1, concentration ≤ 0.
    """
    V = check_int("vocab_size", vocab_size, 2)
    T = check_int("context_length", context_length, 1)
    S = check_int("hidden_states", hidden_states, 1)
    if not concentration > 0:
        raise ConfigError(f"concentration: expected > 0, got {concentration}")
    contexts = context_set(V, T, num_contexts, jax.random.fold_in(key, 0))
    rng = host_rng(key)
    pi = rng.dirichlet(np.full(S, concentration))
    A = rng.dirichlet(np.full(S, concentration), size=S)
    # Floor the emissions so every token has positive probability (finite log-odds).
    B = rng.dirichlet(np.full(V, concentration), size=S) + 1e-3
    B /= B.sum(axis=1, keepdims=True)
    P = hmm_predictive(contexts, pi, A, B)
    P /= P.sum(axis=1, keepdims=True)
    logP = np.log(P)
    return Truth("hmm", contexts, P, Predictor(logP, np.eye(V)), None)
