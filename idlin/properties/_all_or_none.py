"""The all-or-none harness: one property over many members of an equivalence class (docs/theory.md
§7).

Members are the model itself, its minimal model `(φ, γ)` and random compositions of the moves of
docs/theory.md §5 (`sample_equivalent`), so widths, bases, shifts and invisible parts all vary. For
each
member both forms are evaluated; the report says whether the identifiable verdict agrees across
the class (§7.1), the pattern of the raw verdict over the whole class (§7.4) and over the members
that satisfy the inclusion condition (§7.3: there it must be all or none).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import numpy as np
from jaxtyping import PRNGKeyArray

from ..core._analysis import Analysis, analyze
from ..core._checks import prng_key
from ..core._classes import MOVES, sample_equivalent
from ..core._errors import ConfigError
from ..core._gap import distribution_gap
from ..core._precision import Precision, with_legacy
from ..core._predictor import Predictor, as_predictor
from ..core._subspaces import minimal
from ._protocol import Property, check_property, harness_analysis
from ._result import both_forms


def pattern(verdicts: Sequence[bool]) -> str:
    """ "all", "none" or "split" for a non-empty sequence of verdicts, "empty" otherwise."""
    if len(verdicts) == 0:
        return "empty"
    if all(verdicts):
        return "all"
    return "none" if not any(verdicts) else "split"


@dataclasses.dataclass(frozen=True)
class AllOrNone:
    """A property evaluated over members of one class (docs/theory.md §7).

    Attributes:
        property: the property's name.
        labels: how each member was built ("p", "minimal", or the moves applied).
        widths: each member's width d.
        raw, raw_scores: raw verdict and score per member.
        identifiable, identifiable_scores: identifiable verdict and score per member.
        inclusion: whether each member satisfies the inclusion condition.
        identifiable_agrees: one identifiable verdict for the whole class (§7.1).
        identifiable_score_spread: `max − min` of the identifiable scores.
        raw_pattern: "all", "none" or "split" over every member (§7.4).
        included_pattern: the raw pattern among members satisfying inclusion (§7.3: never
            "split"), "empty" if none does.
        max_relative_gap: largest `‖C_p − C_member‖_F/‖C_p‖_F`: every member is equivalent.
    """

    property: str
    labels: tuple[str, ...]
    widths: tuple[int, ...]
    raw: tuple[bool, ...]
    raw_scores: tuple[float, ...]
    identifiable: tuple[bool, ...]
    identifiable_scores: tuple[float, ...]
    inclusion: tuple[bool, ...]
    identifiable_agrees: bool
    identifiable_score_spread: float
    raw_pattern: str
    included_pattern: str
    max_relative_gap: float


def random_members(
    p: Predictor,
    *,
    key: PRNGKeyArray,
    count: int,
    condition: float = 10.0,
    precision: Precision | None = None,
    rtol: float | None = None,
) -> list[tuple[str, Predictor]]:
    """`count` members of p's class by random move sequences (docs/theory.md §5); the first uses
    every move except "shrink" in a random order, the rest 1 to 4 moves drawn with replacement.
    `precision` is the policy of the moves' spans (`rtol` deprecated: `Precision(rank_rtol=)`).
    """
    precision = with_legacy("random_members", precision, rtol=("rank_rtol", rtol))
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    keys = jax.random.split(key, max(count, 1))
    out = []
    for i in range(count):
        if i == 0:
            moves = tuple(rng.permutation([m for m in MOVES if m != "shrink"]).tolist())
        else:
            moves = tuple(rng.choice(MOVES, size=int(rng.integers(1, 5))).tolist())
        q = sample_equivalent(p, key=keys[i], moves=moves, condition=condition, precision=precision)
        out.append(("+".join(moves), q))
    return out


def all_or_none(
    p: Predictor | Analysis,
    prop: Property,
    *,
    key: PRNGKeyArray,
    members: int | Sequence[Predictor] = 6,
    condition: float = 10.0,
    precision: Precision | None = None,
    rtol: float | None = None,
) -> AllOrNone:
    """Evaluate `prop` in raw and identifiable form over members of p's class (docs/theory.md §7).

    Args:
        p: the model (or its `Analysis`); always included, as is its minimal model.
        prop: a `Property`: a built-in spec (`Parallelism`, `RelationalLinearity`,
            `LinearProbe`, `Steering`) or your own subclass; a steering vector is read in p's
            coordinates. Each member is analysed once and both forms read that analysis.
        key: PRNG key for the random members.
        members: how many random members to add (mixing all moves of §5), or explicit
            predictors equivalent to p.
        condition: condition number of the random basis changes.
        precision: the precision policy of p, of the class moves and of every member's
            analysis and verdicts (default: the `Analysis`'s own, `Precision()` for a
            `Predictor`).
        rtol: deprecated: `Precision(rank_rtol=...)`.

    Returns:
        An `AllOrNone`.

    Raises:
        ConfigError: an object that is not a `Property`, or a negative member count.
        ProbeError: the probe set is degenerate (e.g. a zero identifiable difference).

    Example:
        >>> import jax, numpy as np, idlin
        >>> from idlin.properties import Parallelism
        >>> F = np.array([[0., 0.], [1., 1.], [0., 1.], [2., 3.]])
        >>> p = idlin.Predictor(F, np.random.default_rng(0).normal(size=(5, 2)))
        >>> r = idlin.all_or_none(p, Parallelism([[0, 1], [2, 3]]), key=jax.random.key(0))
        >>> r.identifiable_agrees, r.raw_pattern
        (True, 'split')
    """
    prop = check_property(prop)
    key = prng_key("key", key)
    a = harness_analysis("p", p, precision, prop=prop, rtol=rtol)
    p = a.predictor
    prop = prop.resolve(a)
    pool: list[tuple[str, Predictor]] = [("p", p), ("minimal", minimal(a))]
    if isinstance(members, int):
        if members < 0:
            raise ConfigError(f"members: expected a count ≥ 0, got {members}")
        pool += random_members(
            p, key=key, count=members, condition=condition, precision=a.precision
        )
    else:
        pool += [(f"given[{i}]", as_predictor("members", q)) for i, q in enumerate(members)]
    raw, ident = [], []
    gaps = []
    for i, (_, q) in enumerate(pool):
        aq = a if i == 0 else analyze(q, precision=a.precision)  # one decomposition per member
        forms = both_forms(prop.evaluate, aq)
        raw.append(forms.raw)
        ident.append(forms.identifiable)
        gaps.append(distribution_gap(p, q, frobenius_only=True).relative)
    included = [r.holds for r in raw if r.inclusion.holds]
    id_scores = [r.score for r in ident]
    return AllOrNone(
        property=prop.name,
        labels=tuple(label for label, _ in pool),
        widths=tuple(q.width for _, q in pool),
        raw=tuple(r.holds for r in raw),
        raw_scores=tuple(r.score for r in raw),
        identifiable=tuple(r.holds for r in ident),
        identifiable_scores=tuple(id_scores),
        inclusion=tuple(r.inclusion.holds for r in raw),
        identifiable_agrees=pattern([r.holds for r in ident]) != "split",
        identifiable_score_spread=float(max(id_scores) - min(id_scores)),
        raw_pattern=pattern([r.holds for r in raw]),
        included_pattern=pattern(included),
        max_relative_gap=float(max(gaps)),
    )
