"""Members of a class on which a raw property flips (THEORY §7.4), or why none exists.

The pattern of the raw verdict over the whole class is exact:

- identifiable true: parallelism *split* (the minimal model has it, a widened member with random
  invisible coordinates does not); probing *all*; steering *all*.
- identifiable false: parallelism *none*; probing *split* (the minimal model lacks it, a widened
  member with the labels in a new coordinate has it); steering *split* (the minimal model never
  reaches δ, a member with δ as a new unembedding coordinate does).

Relational linearity has no one-way implication (§7.2); the minimal model (where raw =
identifiable) or a widened member flips it when the pairs are not too few. Constructions are
moves 5–6 of THEORY §5 with chosen extra coordinates: `f ↦ [f; a(x)]`, `g ↦ [g; 0]` (invisible
because the extra unembedding coordinates are constant), its mirror `f ↦ [f; 0]`,
`g ↦ [g; k(y)]`, and `minimal`. Every returned member is checked to flip the raw verdict.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from .._classes import widen_embedding, widen_unembedding
from .._predictor import Predictor, as_predictor
from .._subspaces import minimal
from ._probe import as_labels
from ._spec import LinearProbe, Parallelism, RelationalLinearity, Spec, Steering, check_spec


@dataclasses.dataclass(frozen=True)
class Counterexample:
    """The outcome of `counterexample` (THEORY §7.4).

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


def _widen(p: Predictor, side: str, extra) -> tuple[str, Predictor]:
    if side == "embedding":
        return "widen_embedding", widen_embedding(p, extra)
    return "widen_unembedding", widen_unembedding(p, extra)


def _rms(x) -> float:
    r = float(jnp.sqrt(jnp.mean(jnp.asarray(x) ** 2)))
    return r if r > 0 else 1.0


def _size(p: Predictor, side: str) -> int:
    return p.num_contexts if side == "embedding" else p.vocab_size


def _scale(p: Predictor, side: str) -> float:
    return _rms(p.embeddings if side == "embedding" else p.centered_unembeddings)


def _candidates(p: Predictor, prop: Spec, raw: bool, ident: bool, key):
    """Yield `(construction, member, reason)` to try, per THEORY §7.4."""
    if raw != ident:
        yield (
            "minimal",
            minimal(p, rtol=prop.rtol),
            "the minimal model is diverse, so its inclusion condition holds and its raw verdict "
            "equals the identifiable one (§7.3), unlike p's",
        )
        return
    side = prop.side
    n, scale = _size(p, side), _scale(p, side)
    if isinstance(prop, Parallelism | RelationalLinearity) and raw:
        what = "differences" if isinstance(prop, Parallelism) else "targets"
        rows = (
            np.unique(np.asarray(prop.pairs)[:, 1])
            if isinstance(prop, RelationalLinearity)
            else np.arange(n)
        )
        for k in jax.random.split(key, 4):
            noise = jax.random.normal(k, (n, 2), p.dtype) * scale
            mask = np.zeros((n, 1))
            mask[rows] = 1.0
            construction, q = _widen(p, side, noise * jnp.asarray(mask, p.dtype))
            yield (
                construction,
                q,
                f"random invisible coordinates added to the {what} break the raw relation while "
                "C is unchanged",
            )
        return
    if isinstance(prop, RelationalLinearity):  # raw = identifiable = false
        pairs = prop.pairs
        sources = np.unique(pairs[:, 0])
        extra = np.zeros((n, sources.size))
        extra[sources, np.arange(sources.size)] = scale
        construction, q = _widen(p, side, extra)
        yield (
            construction,
            q,
            "each source gets its own new invisible coordinate, so an affine map can write every "
            "target from it",
        )
        return
    if isinstance(prop, LinearProbe) and not ident:
        signs = as_labels(prop.labels, np.asarray(prop.contexts).size)
        extra = np.zeros((n, 1))
        extra[np.asarray(prop.contexts), 0] = signs * scale
        construction, q = _widen(p, side, extra)
        yield (
            construction,
            q,
            "the labels written in a new invisible coordinate are separable there (§7.4)",
        )
        return
    if isinstance(prop, Steering) and not ident:
        construction, q = _widen(p, "unembedding", jnp.asarray(prop.shift)[:, None])
        yield (
            construction,
            q,
            "δ written as a new unembedding coordinate (with a zero embedding coordinate) is "
            "in col(Ĝ) of the widened member (§7.4)",
        )


def _no_member_reason(prop: Spec, raw: bool, ident: bool) -> str:
    if isinstance(prop, Parallelism) and not ident:
        return (
            "no member has raw parallelism: raw ⇒ identifiable (projecting parallel vectors "
            "keeps them parallel, THEORY §7.2), and the identifiable form fails"
        )
    if isinstance(prop, LinearProbe) and ident:
        return (
            "every member has the raw probe: identifiable ⇒ raw (a witness w = Ĝᵀa scores "
            "aᵀC[x,:] in every member, THEORY §7.2)"
        )
    if isinstance(prop, Steering) and ident:
        return "every member reaches δ: δ ∈ rowspace(C) ⊆ col(Ĝ) of every member (THEORY §7.2)"
    if isinstance(prop, RelationalLinearity):
        return (
            "the constructions did not flip the verdict: with m ≤ rank[S, 1] pairs the relation "
            "is vacuous, and a context that is both a source and a target constrains the new "
            "coordinates"
        )
    return "the constructions of THEORY §7.4 did not flip the verdict"


def counterexample(p: Predictor, prop: Spec, *, key: PRNGKeyArray | None = None) -> Counterexample:
    """An equivalent model on which the raw verdict of `prop` differs from p's (THEORY §7.4).

    Which members flip which verdict is exact (table in the module docstring): when the
    identifiable verdict is true, parallelism is split (a widened member with random invisible
    coordinates loses it; the minimal model has it), probing and steering hold in all members;
    when it is false, parallelism holds in none, probing is split (a widened member with the
    labels in a new coordinate gains it; the minimal model lacks it) and steering is split (a
    member with δ as a new unembedding coordinate reaches it; the minimal model never does).

    Args:
        p: the model.
        prop: a property spec; a steering vector is read in p's coordinates.
        key: PRNG key for the random invisible coordinates (default `jax.random.key(0)`).

    Returns:
        A `Counterexample`; `member` is None (and `reason` says why) when no member flips.

    Raises:
        ConfigError: an unknown spec.
        ProbeError: a degenerate probe set (as the property itself raises).

    Example:
        >>> import numpy as np, idlin
        >>> from idlin.properties import Parallelism
        >>> F = np.array([[0., 0.], [1., 1.], [0., 1.], [2., 3.]])
        >>> p = idlin.Predictor(F, np.random.default_rng(0).normal(size=(5, 2)))
        >>> c = idlin.counterexample(p, Parallelism([[0, 1], [2, 3]]))
        >>> c.raw_on_p, c.raw_on_member, idlin.equivalent(p, c.member)
        (True, False, True)
    """
    p = as_predictor("p", p)
    prop = check_spec(prop).resolve(p)
    key = jax.random.key(0) if key is None else key
    raw = prop(p, form="raw").holds
    ident = prop(p, form="identifiable").holds
    for construction, q, reason in _candidates(p, prop, raw, ident, key):
        flipped = prop(q, form="raw").holds
        if flipped != raw:
            return Counterexample(q, construction, reason, raw, flipped, ident)
    return Counterexample(None, "", _no_member_reason(prop, raw, ident), raw, None, ident)
