"""A distance between RMS-normalised pivot log-odds (idlin's own; docs/theory.md §8).

Before idlin matched Nielsen et al.'s d_LLV (`d_llv`), this quantity carried that name; it is
kept, renamed, because it is a cheap, symmetric, pivot-draw distance with a plain reading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PRNGKeyArray

from .._errors import ConfigError, RankError
from .._gap import check_comparable
from .._predictor import Predictor
from ._llv import draw_pivot_and_set, input_pivot_log_odds, label_pivot_log_odds


@dataclasses.dataclass(frozen=True)
class PivotLogOddsDistance:
    """`pivot_log_odds_distance(p, q)` and its two terms (see there).

    Attributes:
        value: `max(label_term, input_term)`; 0 iff the pivot log-odds agree.
        label_term: shape + λ·scale over labels (from `ℓ`, per input).
        input_term: shape + λ·scale over inputs (from `κ`, per label).
        pivot_label, labels: π and S.
        pivot_input, inputs: x₀ and T.
    """

    value: float
    label_term: float
    input_term: float
    pivot_label: int
    labels: Int[Array, " k"]
    pivot_input: int
    inputs: Int[Array, " m"]


def _term(A, B, lam):
    """Shape `mean((A/s_A − B/s_B)²)` + `λ · mean((log s_A − log s_B)²)`, `s` the RMS per column."""
    sa = jnp.sqrt(jnp.mean(A**2, axis=0))
    sb = jnp.sqrt(jnp.mean(B**2, axis=0))
    shape = jnp.mean((A / sa[None, :] - B / sb[None, :]) ** 2)
    scale = jnp.mean((jnp.log(sa) - jnp.log(sb)) ** 2)
    return shape + lam * scale, jnp.minimum(jnp.min(sa), jnp.min(sb))


@jax.jit
def _kernel(F1, G1, F2, G2, pl, S, px, T, lam):
    lab, ok_l = _term(label_pivot_log_odds(F1, G1, pl, S), label_pivot_log_odds(F2, G2, pl, S), lam)
    inp, ok_i = _term(input_pivot_log_odds(F1, G1, px, T), input_pivot_log_odds(F2, G2, px, T), lam)
    return lab, inp, jnp.minimum(ok_l, ok_i)


def pivot_log_odds_distance(
    p: Predictor,
    q: Predictor,
    *,
    key: PRNGKeyArray,
    lam: float = 1.0,
    num_labels: int | None = None,
    num_inputs: int | None = None,
    pivot_label: int | None = None,
    labels: Sequence[int] | None = None,
    pivot_input: int | None = None,
    inputs: Sequence[int] | None = None,
) -> PivotLogOddsDistance:
    """Mean squared mismatch of RMS-normalised pivot log-odds, over labels and over inputs.

    idlin's own distance, not a published metric (Nielsen et al.'s d_LLV is `d_llv`, a
    different quantity: standard deviations, maxima, a pivot search). With `ℓ_i` (N×k) and
    `κ_i` (V×m) the pivot log-odds of model i over labels and over inputs (`_llv.py`,
    `docs/theory.md §8`), and for a pair of such matrices `A, B` with column RMS `s_A, s_B`,

        D(A, B) = mean_{rows, cols} (A/s_A − B/s_B)²  +  λ · mean_cols (log s_A − log s_B)²,
        D(p, q) = max( D(ℓ_p, ℓ_q), D(κ_p, κ_q) ).

    The first part compares the shape of the variations, the λ-weighted part their scale. No
    centering, so `D = 0` iff `ℓ_p = ℓ_q` and `κ_p = κ_q` on the drawn pivots: in particular
    for `p ~ q`. Symmetric. One `(π, S)` and one `(x₀, T)` draw from `key` unless given.

    Args:
        p, q: predictors on the same contexts and vocabulary (widths may differ).
        key: PRNG key for the pivots and sets not given (keyword-only).
        lam: weight λ ≥ 0 of the scale terms.
        num_labels: k (default `min(V − 1, max(d_p, d_q))`).
        num_inputs: m (default `min(N − 1, max(d_p, d_q))`).
        pivot_label, labels: π and S explicitly (labels needs pivot_label).
        pivot_input, inputs: x₀ and T explicitly (inputs needs pivot_input).

    Raises:
        IncompatibleError: different N or V.
        ConfigError: `lam < 0`, N < 2, bad sizes, pivots or sets.
        RankError: a pivot log-odds column that is identically 0 in p or q (its scale is 0).

    Example:
        >>> import jax, numpy as np, idlin
        >>> from idlin.core.metrics import pivot_log_odds_distance
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(12, 3)), rng.normal(size=(9, 3)))
        >>> q = idlin.Predictor(p.embeddings @ np.diag([2.0, 1.0, -1.0]),
        ...                     p.unembeddings @ np.diag([0.5, 1.0, -1.0]))
        >>> bool(pivot_log_odds_distance(p, q, key=jax.random.key(0)).value < 1e-20)
        True
    """
    p, q = check_comparable(p, q)
    lam = float(lam)
    if not 0.0 <= lam < float("inf"):
        raise ConfigError(f"lam: expected a finite weight ≥ 0, got {lam}")
    if p.num_contexts < 2:
        raise ConfigError(
            f"d_llv needs a pivot context and another: expected N ≥ 2, got {p.num_contexts}"
        )
    width = max(p.width, q.width)
    kl, ki = jax.random.split(key)
    pl, S = draw_pivot_and_set(
        kl, p.vocab_size, num_labels, min(p.vocab_size - 1, width), pivot_label, labels, "label"
    )
    px, T = draw_pivot_and_set(
        ki, p.num_contexts, num_inputs, min(p.num_contexts - 1, width), pivot_input, inputs, "input"
    )
    lab, inp, min_scale = _kernel(
        p.embeddings,
        p.unembeddings,
        q.embeddings,
        q.unembeddings,
        pl,
        S,
        px,
        T,
        jnp.asarray(lam, p.dtype),
    )
    if not float(min_scale) > 0:
        raise RankError(
            "a pivot log-odds column is identically 0 (a label or input indistinguishable from "
            "its pivot): expected nonzero variation; choose other pivots"
        )
    lab, inp = float(lab), float(inp)
    return PivotLogOddsDistance(
        value=max(lab, inp),
        label_term=lab,
        input_term=inp,
        pivot_label=int(pl),
        labels=S,
        pivot_input=int(px),
        inputs=T,
    )
