"""A controlled distribution with its exact next-token table (docs/theory.md §1, §8).

Every generator in `idlin.lab.data` returns a `Truth`: the context set, the exact table `p*(y|x)`
and the truth as an `idlin.Predictor`, so trained models can be compared with it by the core
routines (`distribution_gap`, `subspaces`, `canonical`, `metrics.canonical_fit`).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import numpy as np
from jaxtyping import Int, PRNGKeyArray

from ...core._errors import ConfigError
from ...core._predictor import Predictor

# Largest context set `all_contexts` enumerates: beyond it, sample contexts (`num_contexts=`).
MAX_CONTEXTS = 1 << 20


@dataclasses.dataclass(frozen=True, eq=False)
class Truth:
    """A ground-truth next-token distribution on a finite context set.

    Attributes:
        name: the family ("lowrank", "markov", "hmm", "morphology").
        contexts: (N, T) int32 token ids, one row per context (the rows of every table).
        probs: (N, V) float64 exact `p*(y|x)`; rows sum to 1.
        predictor: the truth as an `idlin.Predictor` (`F`, `G` with `softmax(F Gᵀ) = probs`).
        rank: the planted effective complexity `r = rank(C*)` (docs/theory.md §3), or None when the
        family
            is not exactly low-rank (HMM).
    """

    name: str
    contexts: np.ndarray
    probs: np.ndarray
    predictor: Predictor
    rank: int | None

    @property
    def num_contexts(self) -> int:
        """N."""
        return int(self.contexts.shape[0])

    @property
    def context_length(self) -> int:
        """T."""
        return int(self.contexts.shape[1])

    @property
    def vocab_size(self) -> int:
        """V."""
        return int(self.probs.shape[1])

    @property
    def log_probs(self) -> np.ndarray:
        """(N, V) float64 `log p*(y|x)`."""
        return _log_softmax(
            np.asarray(self.predictor.embeddings, np.float64)
            @ np.asarray(self.predictor.unembeddings, np.float64).T
        )


@dataclasses.dataclass(frozen=True)
class Stream:
    """Sampled training pairs `(x, y)`, `x` uniform over the contexts, `y ~ p*(·|x)`.

    Attributes:
        context_ids: (M,) int32 row indices into `Truth.contexts`.
        next_tokens: (M,) int32 sampled next tokens.
    """

    context_ids: np.ndarray
    next_tokens: np.ndarray


def check_int(name: str, value, minimum: int) -> int:
    """An integer config value ≥ minimum, else a ConfigError saying what arrived."""
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ConfigError(f"{name}: expected an integer ≥ {minimum}, got {value!r}")
    return int(value)


def all_contexts(vocab_size: int, context_length: int) -> Int[np.ndarray, "contexts length"]:
    """All `V^T` token sequences of length T, lexicographic order, as an (N, T) int32 array.

    Raises:
        ConfigError: V < 2, T < 1, or `V^T` above `MAX_CONTEXTS`.
    """
    V = check_int("vocab_size", vocab_size, 2)
    T = check_int("context_length", context_length, 1)
    if V**T > MAX_CONTEXTS:
        raise ConfigError(
            f"all contexts: expected V^T ≤ {MAX_CONTEXTS}, got {V}^{T} = {V**T}; "
            "pass num_contexts= to sample a subset"
        )
    return np.array(list(itertools.product(range(V), repeat=T)), dtype=np.int32).reshape(V**T, T)


def host_rng(key: PRNGKeyArray) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key: the tables are one-off host computations, and
    NumPy sampling avoids compiling a JAX program per shape."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def context_set(
    vocab_size: int, context_length: int, num_contexts: int | None, key: PRNGKeyArray
) -> np.ndarray:
    """All contexts, or `num_contexts` distinct ones drawn uniformly (sorted) with `key`."""
    V = check_int("vocab_size", vocab_size, 2)
    T = check_int("context_length", context_length, 1)
    if num_contexts is None:
        return all_contexts(V, T)
    n = check_int("num_contexts", num_contexts, 1)
    rng = host_rng(key)
    if V**T <= MAX_CONTEXTS:
        if n > V**T:
            raise ConfigError(f"num_contexts: expected ≤ V^T = {V**T}, got {n}")
        return all_contexts(V, T)[np.sort(rng.choice(V**T, n, replace=False))]
    # Too many to enumerate: draw rows, drop duplicates, keep n (sorted, lexicographic).
    rows = np.unique(rng.integers(0, V, size=(2 * n, T), dtype=np.int32), axis=0)
    if rows.shape[0] < n:
        raise ConfigError(f"num_contexts: could not draw {n} distinct contexts")
    return rows[np.sort(rng.choice(rows.shape[0], n, replace=False))]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def make_truth(
    name: str, contexts: np.ndarray, F: np.ndarray, G: np.ndarray, rank: int | None
) -> Truth:
    """Assemble a `Truth` from float64 factors: `probs = softmax(F Gᵀ)` row-wise (docs/theory.md
    §1)."""
    F, G = np.asarray(F, np.float64), np.asarray(G, np.float64)
    probs = np.exp(_log_softmax(F @ G.T))
    return Truth(name, np.asarray(contexts, np.int32), probs, Predictor(F, G), rank)


def sample_stream(truth: Truth, *, key: PRNGKeyArray, num_samples: int) -> Stream:
    """Draw `num_samples` training pairs: a context uniformly, then `y ~ p*(·|x)` (docs/theory.md
    §8).

    Args:
        truth: the distribution.
        key: JAX PRNG key (the stream is a function of it alone).
        num_samples: M ≥ 1.

    Returns:
        A `Stream` of M (context row, next token) pairs.

    Raises:
        ConfigError: M < 1.
    """
    M = check_int("num_samples", num_samples, 1)
    rng = host_rng(key)
    ids = rng.integers(0, truth.num_contexts, size=M)
    # Inverse-CDF sampling, vectorised: y = #{y' : cdf(y') < u}.
    cdf = np.cumsum(truth.probs, axis=1)
    u = rng.random(M) * cdf[ids, -1]
    tokens = np.minimum((cdf[ids] < u[:, None]).sum(axis=1), truth.vocab_size - 1)
    return Stream(ids.astype(np.int32), tokens.astype(np.int32))


def empirical_probs(truth: Truth, stream: Stream) -> np.ndarray:
    """(N, V) empirical next-token frequencies of a stream (rows without samples are uniform)."""
    counts = np.zeros((truth.num_contexts, truth.vocab_size))
    np.add.at(counts, (stream.context_ids, stream.next_tokens), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1.0), 1.0 / truth.vocab_size)
