"""The open property protocol: what `all_or_none` and `counterexample` need of a property
(docs/theory.md §6–§7).

A property is a probe set plus a rule, asked of any member of a class. Subclass `Property` and
implement `evaluate(a, form=...)` on an `Analysis` (the member's one decomposition), returning a
`PropertyResult` with the verdict, a score and the inclusion condition; optionally `resolve`
(bind what lives in one model's coordinates, e.g. a steering vector, to class-wide data),
`candidates` (members that may flip the raw verdict, docs/theory.md §7.4) and
`no_member_reason`. The four built-ins (`Parallelism`, `RelationalLinearity`, `LinearProbe`,
`Steering`) are such subclasses; nothing dispatches on their types. A property decides with the
precision policy of the `Analysis` it is given (docs/theory.md §3.1); the harness analyses every
member under one policy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from ..core._analysis import Analysis, as_analysis
from ..core._errors import ConfigError
from ..core._precision import Precision, check_precision, with_legacy
from ..core._predictor import Predictor
from ._result import PropertyResult


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A member of the class that may flip a raw verdict, and why (docs/theory.md §7.4)."""

    construction: str
    member: Predictor
    reason: str


class Property:
    """Base class of a linear property with a raw and an identifiable form (docs/theory.md §6).

    Class attributes: `name` (str). Instance attributes the harness reads: `side`
    ("embedding" or "unembedding"; default "embedding"), and, deprecated, `rtol` (a rank
    threshold for the members' analyses: pass `precision=Precision(rank_rtol=...)` to the
    harness instead). Tolerances come from the `Analysis`'s `precision`.

    Example — orthogonality of two differences, a user-defined property:

        >>> import numpy as np, idlin
        >>> from idlin.properties import Property, PropertyResult, coordinates, inclusion_of
        >>> class Orthogonal(Property):
        ...     name = "orthogonality"
        ...     def __init__(self, pair_a, pair_b):
        ...         self.pairs = np.array([pair_a, pair_b])
        ...     def evaluate(self, a, *, form):
        ...         c = coordinates(a, "embedding", form)
        ...         d = c.points[self.pairs[:, 1]] - c.points[self.pairs[:, 0]]
        ...         cos = abs(d[0] @ d[1]) / (np.linalg.norm(d[0]) * np.linalg.norm(d[1]))
        ...         return PropertyResult(name=self.name, form=form, side="embedding",
        ...                               holds=bool(cos <= 1e-6), score=float(cos), tol=1e-6,
        ...                               inclusion=inclusion_of(0.0, 1e-6))
        >>> p = idlin.Predictor(np.eye(3), np.random.default_rng(0).normal(size=(4, 3)))
        >>> Orthogonal([0, 1], [0, 2])(p, form="raw").holds
        True
    """

    name: str = "property"
    side: str = "embedding"
    rtol: float | None = None

    def evaluate(self, a: Analysis, *, form: str) -> PropertyResult:
        """The property on one model's `Analysis` in `form` ("raw" or "identifiable")."""
        raise NotImplementedError(f"{type(self).__name__} must implement evaluate(a, form=...)")

    def resolve(self, a: Analysis) -> Property:
        """This property with model-specific data (read in `a`'s coordinates) made class-wide."""
        del a
        return self

    def candidates(
        self, a: Analysis, *, raw: bool, identifiable: bool, key: Any
    ) -> Iterator[Candidate]:
        """Members of a's class that may flip the raw verdict (each is checked by the caller).
        The default tries the minimal model when the two forms disagree on `a` (there the
        inclusion condition holds and raw = identifiable, docs/theory.md §7.3)."""
        del key
        if raw != identifiable:
            from ..core._subspaces import minimal

            yield Candidate(
                "minimal",
                minimal(a),
                "the minimal model is diverse, so its inclusion condition holds and its raw "
                "verdict equals the identifiable one (§7.3), unlike p's",
            )

    def no_member_reason(self, *, raw: bool, identifiable: bool) -> str:
        """Why no constructed member flipped the raw verdict."""
        del raw, identifiable
        return "the constructions of docs/theory.md §7.4 did not flip the verdict"

    def __call__(
        self, q: Predictor | Analysis, *, form: str, precision: Precision | None = None
    ) -> PropertyResult:
        """The property on q (a `Predictor` is analysed under `precision`)."""
        return self.evaluate(harness_analysis("q", q, precision, prop=self), form=form)


def harness_analysis(
    where: str, p: Any, precision: Any, *, prop: Any, rtol: Any = None, depth: int = 2
) -> Analysis:
    """p's one `Analysis` for a harness (`all_or_none`, `counterexample`) under `precision` (an
    `Analysis` given is reused when no policy is), with the harness's deprecated `rtol=` (one
    warning, `depth` frames above the caller) or else the property's deprecated `rtol`
    (warned when it was set) as its rank threshold, amending the given policy or the
    `Analysis`'s own."""
    legacy = rtol if rtol is not None else getattr(prop, "rtol", None)
    if legacy is None:
        return as_analysis(where, p, precision=precision)
    if precision is None and isinstance(p, Analysis):
        precision = p.precision
    if rtol is not None:
        precision = with_legacy(where, precision, depth=depth, rtol=("rank_rtol", rtol))
    else:
        precision = dataclasses.replace(check_precision(precision), rank_rtol=legacy)
    return as_analysis(where, p, precision=precision)


def check_property(prop: Any) -> Property:
    """`prop` if it follows the protocol, else a ConfigError naming what is missing."""
    if isinstance(prop, Property):
        return prop
    missing = [m for m in ("evaluate", "resolve", "candidates", "name") if not hasattr(prop, m)]
    if missing:
        raise ConfigError(
            "prop: expected an idlin.properties.Property (Parallelism, RelationalLinearity, "
            "LinearProbe, Steering, or your own subclass with evaluate, resolve, candidates and "
            f"name), got {type(prop).__name__} lacking {', '.join(missing)}"
        )
    return prop
