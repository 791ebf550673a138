"""Members of a class on which a raw property flips (docs/theory.md §7.4), or why none exists.

The pattern of the raw verdict over the whole class is exact:

- identifiable true: parallelism *split* (the minimal model has it, a widened member with random
  invisible coordinates does not); probing *all*; steering *all*.
- identifiable false: parallelism *none*; probing *split* (the minimal model lacks it, a widened
  member with the labels in a new coordinate has it); steering *split* (the minimal model never
  reaches δ, a member with δ as a new unembedding coordinate does).

Relational linearity has no one-way implication (§7.2); the minimal model (where raw =
identifiable) or a widened member flips it when the pairs are not too few. Constructions are
moves 5–6 of docs/theory.md §5 with chosen extra coordinates: `f ↦ [f; a(x)]`, `g ↦ [g; 0]`
(invisible
because the extra unembedding coordinates are constant), its mirror `f ↦ [f; 0]`,
`g ↦ [g; k(y)]`, and `minimal`. Every returned member is checked to flip the raw verdict.
"""

from __future__ import annotations

import dataclasses

import jax
from jaxtyping import PRNGKeyArray

from ..core._analysis import Analysis, analyze
from ..core._checks import prng_key
from ..core._precision import Precision
from ..core._predictor import Predictor
from ._protocol import Property, check_property, harness_analysis
from ._result import both_forms


@dataclasses.dataclass(frozen=True)
class Counterexample:
    """The outcome of `counterexample` (docs/theory.md §7.4).

    Attributes:
        member: an equivalent predictor whose raw verdict differs from p's, or None.
        construction: how it was built ("minimal", "widen_embedding", "widen_unembedding"), or "".
        reason: why this member flips the verdict, or why no member can.
        raw_on_p: the raw verdict on p.
        raw_on_member: the raw verdict on `member` (None when there is none).
        identifiable: the identifiable verdict (the same for the whole class).
    """

    member: Predictor | None
    construction: str
    reason: str
    raw_on_p: bool
    raw_on_member: bool | None
    identifiable: bool


def counterexample(
    p: Predictor | Analysis,
    prop: Property,
    *,
    key: PRNGKeyArray | None = None,
    precision: Precision | None = None,
) -> Counterexample:
    """An equivalent model on which the raw verdict of `prop` differs from p's (docs/theory.md
    §7.4).

    Which members flip which verdict is exact (table in the module docstring): when the
    identifiable verdict is true, parallelism is split (a widened member with random invisible
    coordinates loses it; the minimal model has it), probing and steering hold in all members;
    when it is false, parallelism holds in none, probing is split (a widened member with the
    labels in a new coordinate gains it; the minimal model lacks it) and steering is split (a
    member with δ as a new unembedding coordinate reaches it; the minimal model never does).

    Args:
        p: the model (or its `Analysis`).
        prop: a `Property` (a built-in spec or your own subclass); its `candidates` propose
            the members, each is checked here; a steering vector is read in p's coordinates.
        key: PRNG key for the random invisible coordinates (default `jax.random.key(0)`).
        precision: the precision policy p and every candidate member are analysed and judged
            under (default: the `Analysis`'s own, `Precision()` for a `Predictor`).

    Returns:
        A `Counterexample`; `member` is None (and `reason` says why) when no member flips.

    Raises:
        ConfigError: an object that is not a `Property`.
        ProbeError: a degenerate probe set (as the property itself raises).

    Example:
        >>> import numpy as np, idlin
        >>> from idlin.properties import Parallelism
        >>> F = np.array([[0., 0.], [1., 1.], [0., 1.], [2., 3.]])
        >>> p = idlin.Predictor(F, np.random.default_rng(0).normal(size=(5, 2)))
        >>> c = idlin.counterexample(p, Parallelism([[0, 1], [2, 3]]))
        >>> c.raw_on_p, c.raw_on_member, bool(idlin.equivalent(p, c.member))
        (True, False, True)
    """
    prop = check_property(prop)
    a = harness_analysis("p", p, precision, prop=prop)
    prop = prop.resolve(a)
    key = jax.random.key(0) if key is None else prng_key("key", key)
    forms = both_forms(prop.evaluate, a)
    raw, ident = forms.raw.holds, forms.identifiable.holds
    for cand in prop.candidates(a, raw=raw, identifiable=ident, key=key):
        # the member is judged under p's policy, not the default one
        flipped = prop.evaluate(analyze(cand.member, precision=a.precision), form="raw").holds
        if flipped != raw:
            return Counterexample(cand.member, cand.construction, cand.reason, raw, flipped, ident)
    reason = prop.no_member_reason(raw=raw, identifiable=ident)
    return Counterexample(None, "", reason, raw, None, ident)
