"""n-gram (Markov) truth with a chosen log-rank (docs/theory.md §1, §3).

`p*(y | x) = softmax_y( Σ_{j<k} e_j(x_{T−j})ᵀ g(y) )`: the next token depends on the last
`k = order` tokens only, and the log-transition table has rank r. With `order = 1` this is a
first-order Markov chain whose `V×V` centered log-transition matrix has rank r.
"""

from __future__ import annotations

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ...core._errors import ConfigError
from ._truth import Truth, check_int, context_set, host_rng, make_truth


def markov_truth(
    *,
    vocab_size: int,
    context_length: int,
    rank: int,
    key: PRNGKeyArray,
    order: int = 1,
    num_contexts: int | None = None,
    logit_scale: float = 2.0,
) -> Truth:
    """An order-k n-gram truth whose centered log-odds have rank r (docs/theory.md §3).

    `f*(x) = s Σ_{j<k} E_j[x_{T−j}]` with `E_j ~ N(0, I_r/k)` (V×r), `g*(y) ~ N(0, I_r)`,
    `s = logit_scale/√r`. `rank(C*) = r` for generic draws when `r ≤ V − 1`.

    Args:
        vocab_size: V ≥ 2.
        context_length: T ≥ order.
        rank: r, 1 ≤ r ≤ V − 1.
        key: JAX PRNG key.
        order: k ≥ 1, how many trailing tokens the next token depends on.
        num_contexts: sample this many distinct contexts instead of all `V^T`.
        logit_scale: rough standard deviation of the log-odds.

    Raises:
        ConfigError: V < 2, T < 1, order > T, r > V − 1, r above the number of distinct
            trailing k-grams.
    """
    V = check_int("vocab_size", vocab_size, 2)
    T = check_int("context_length", context_length, 1)
    r = check_int("rank", rank, 1)
    k = check_int("order", order, 1)
    if k > T:
        raise ConfigError(f"order: expected k ≤ context_length = {T}, got {k}")
    if r > V - 1:
        raise ConfigError(f"rank: expected r ≤ V − 1 = {V - 1}, got {r}")
    if not logit_scale > 0:
        raise ConfigError(f"logit_scale: expected > 0, got {logit_scale}")
    contexts = context_set(V, T, num_contexts, jax.random.fold_in(key, 0))
    rng = host_rng(key)
    if r > min(contexts.shape[0], V**k):
        raise ConfigError(
            f"rank: expected r ≤ min(N, V^order) = {min(contexts.shape[0], V**k)}, got {r}"
        )
    E = rng.standard_normal((k, V, r)) / np.sqrt(k)
    trailing = contexts[:, T - k :][:, ::-1]  # (N, k): x_T, x_{T-1}, ...
    F = logit_scale / np.sqrt(r) * E[np.arange(k)[None, :], trailing].sum(axis=1)
    return make_truth("markov", contexts, F, rng.standard_normal((V, r)), r)
