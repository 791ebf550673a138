"""Low-rank softmax truth: `p*(y|x) = softmax(f*(x)ᵀ g*(y))` of chosen effective complexity r
(docs/theory.md §1, §3).

`f*` is a fixed random one-hidden-layer tanh network of the context (so an MLP next-token model can
represent it exactly), `g*` a random Gaussian table. With `width = d > r` the truth carries `d − r`
invisible coordinates (docs/theory.md §5 move 5: arbitrary extra embedding coordinates, constant
extra
unembedding coordinates), so it is a non-diverse member of its class with `rank(C*) = r`.
"""

from __future__ import annotations

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ...core._errors import ConfigError
from ._truth import Truth, check_int, context_set, host_rng, make_truth

"""The truth returned by `lowrank_truth` (a `Truth` with `name="lowrank"`)."""


def lowrank_truth(
    *,
    vocab_size: int,
    context_length: int,
    rank: int,
    key: PRNGKeyArray,
    width: int | None = None,
    num_contexts: int | None = None,
    hidden: int = 32,
    logit_scale: float = 2.0,
) -> Truth:
    """A softmax truth whose centered log-odds `C* = F* Ĝ*ᵀ` have rank exactly r (docs/theory.md
    §3).

    `h(x) = tanh(Σ_t E_t[x_t])` with `E_t ~ N(0, 1/T)` (V×hidden), `f*(x) = s·h(x) W / √hidden`
    with `W ~ N(0, I)` (hidden×r), `g*(y) ~ N(0, I_r)`, `s = logit_scale/√r` so log-odds have a
    standard deviation of about `logit_scale`. Width `d > r` appends `d − r` random embedding
    coordinates and constant unembedding coordinates, which leave `C*` unchanged.

    Args:
        vocab_size: V ≥ 2.
        context_length: T ≥ 1.
        rank: r, with 1 ≤ r ≤ min(V − 1, N, width).
        key: JAX PRNG key; the truth is a function of it and the sizes.
        width: d ≥ r of the truth's predictor (default r).
        num_contexts: sample this many distinct contexts instead of all `V^T`.
        hidden: width of the tanh layer of `f*`.
        logit_scale: rough standard deviation of the log-odds.

    Returns:
        A `Truth` with `rank = r`.

    Raises:
        ConfigError: V < 2, T < 1, r > d, r > V − 1 (`Ĝ*` has rank ≤ V − 1), r > N, bad sizes.

    Example:
        >>> import jax, idlin.lab.data
        >>> t = idlin.lab.data.lowrank_truth(
        ...     vocab_size=5, context_length=2, rank=2, key=jax.random.key(0))
        >>> t.contexts.shape, t.probs.shape, t.rank
        ((25, 2), (25, 5), 2)
    """
    V = check_int("vocab_size", vocab_size, 2)
    T = check_int("context_length", context_length, 1)
    r = check_int("rank", rank, 1)
    d = r if width is None else check_int("width", width, 1)
    H = check_int("hidden", hidden, 1)
    if r > d:
        raise ConfigError(f"rank: expected r ≤ the truth's width d = {d}, got r = {r}")
    if r > V - 1:
        raise ConfigError(
            f"rank: expected r ≤ V − 1 = {V - 1} (centered unembeddings lose a dimension), got {r}"
        )
    if not logit_scale > 0:
        raise ConfigError(f"logit_scale: expected > 0, got {logit_scale}")
    contexts = context_set(V, T, num_contexts, jax.random.fold_in(key, 0))
    rng = host_rng(key)
    N = contexts.shape[0]
    if r > N:
        raise ConfigError(f"rank: expected r ≤ N = {N} contexts, got {r}")
    E = rng.standard_normal((T, V, H)) / np.sqrt(T)
    h = np.tanh(E[np.arange(T)[None, :], contexts].sum(axis=1))  # (N, H)
    s = logit_scale / np.sqrt(r)
    F = s * h @ rng.standard_normal((H, r)) / np.sqrt(H)  # (N, r)
    G = rng.standard_normal((V, r))  # (V, r)
    if d > r:
        F = np.concatenate([F, rng.standard_normal((N, d - r))], axis=1)
        G = np.concatenate(
            [G, np.broadcast_to(rng.standard_normal((1, d - r)), (V, d - r))], axis=1
        )
    return make_truth("lowrank", contexts, F, G, r)
