"""The four built-in properties as `Property` objects (docs/theory.md §6, §7.4).

A spec holds what is shared by every member of a class (indices of contexts or tokens, labels,
a log-odds shift); `spec.evaluate(a, form=...)` asks it of one member's `Analysis`, and
`spec.candidates(...)` builds the members of docs/theory.md §7.4 that flip its raw verdict
(moves 5–6 of §5 with chosen extra coordinates: `f ↦ [f; a(x)]`, `g ↦ [g; 0]`, its mirror
`f ↦ [f; 0]`, `g ↦ [g; k(y)]`, and the minimal model). A steering *vector* lives in one model's
coordinates, so `Steering(vector=v)` is turned into the class-wide shift `δ = Ĝv` by
`spec.resolve(a)` against the model it was written for.

A spec holds no tolerance: every verdict follows the precision policy of the `Analysis` it is
asked of (`idlin.Precision`, docs/theory.md §3.1). The `tol=` and `rtol=` fields are deprecated
(they warn when set, and still amend that policy for one release).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..core._analysis import Analysis
from ..core._classes import widen_embedding, widen_unembedding
from ..core._errors import ConfigError
from ..core._precision import with_legacy
from ._parallelism import parallelism
from ._probe import as_labels, linear_probe
from ._protocol import Candidate, Property
from ._relational import relational_linearity
from ._result import PropertyResult
from ._steering import steering, steering_shift


def _widen(a: Analysis, side: str, extra) -> tuple[str, Any]:
    p = a.predictor
    if side == "embedding":
        return "widen_embedding", widen_embedding(p, extra)
    return "widen_unembedding", widen_unembedding(p, extra)


def _side_size_scale(a: Analysis, side: str) -> tuple[int, float]:
    """Items on `side` and the RMS entry of their raw points (the scale of new coordinates)."""
    X = a.embeddings if side == "embedding" else a.centered_unembeddings
    rms = float(jnp.sqrt(jnp.mean(jnp.square(X))))
    return int(X.shape[0]), rms if rms > 0 else 1.0


def _noise_members(a: Analysis, side: str, rows, key, what: str) -> Iterator[Candidate]:
    """Widened members with random invisible coordinates on `rows` (they break a raw relation
    while C is unchanged, docs/theory.md §7.4)."""
    n, scale = _side_size_scale(a, side)
    mask = np.zeros((n, 1))
    mask[rows] = 1.0
    for k in jax.random.split(key, 4):
        noise = jax.random.normal(k, (n, 2), a.dtype) * scale
        construction, q = _widen(a, side, noise * jnp.asarray(mask, a.dtype))
        yield Candidate(
            construction,
            q,
            f"random invisible coordinates added to the {what} break the raw relation while "
            "C is unchanged",
        )


class _Spec(Property):
    """What the built-in specs share: the deprecated `tol` / `rtol` fields."""

    tol: float | None
    rtol: float | None

    def __post_init__(self) -> None:
        # checked and warned here, once; `_policy` then applies them without a second warning
        with_legacy(
            type(self).__name__,
            None,
            depth=2,
            tol=("verdict_tol", self.tol),
            rtol=("rank_rtol", self.rtol),
        )

    def _policy(self, a: Analysis) -> Analysis:
        """`a` with the deprecated `tol` / `rtol` of this spec applied to its policy."""
        pairs = (("verdict_tol", self.tol), ("rank_rtol", self.rtol))
        amend = {f: v for f, v in pairs if v is not None}
        if not amend:
            return a
        return a.with_precision(dataclasses.replace(a.precision, **amend))


@dataclasses.dataclass(frozen=True, eq=False)
class Parallelism(_Spec):
    """`parallelism(a, pairs, side=side)` as a property (docs/theory.md §6)."""

    pairs: Any
    side: str = "embedding"
    tol: float | None = None
    rtol: float | None = None
    name = "parallelism"

    def evaluate(self, a: Analysis, *, form: str) -> PropertyResult:
        # Controls answer "is this score evidence?", not the class questions asked here.
        return parallelism(self._policy(a), self.pairs, side=self.side, form=form, permutations=0)

    def candidates(self, a, *, raw, identifiable, key):
        if raw != identifiable:
            yield from super().candidates(a, raw=raw, identifiable=identifiable, key=key)
        elif raw:
            yield from _noise_members(a, self.side, slice(None), key, "differences")

    def no_member_reason(self, *, raw, identifiable):
        if not identifiable:
            return (
                "no member has raw parallelism: raw ⇒ identifiable (projecting parallel vectors "
                "keeps them parallel, docs/theory.md §7.2), and the identifiable form fails"
            )
        return super().no_member_reason(raw=raw, identifiable=identifiable)


@dataclasses.dataclass(frozen=True, eq=False)
class RelationalLinearity(_Spec):
    """`relational_linearity(a, train_pairs, test_pairs, side=side)` as a property (§6)."""

    train_pairs: Any
    test_pairs: Any = None
    side: str = "embedding"
    tol: float | None = None
    rtol: float | None = None
    name = "relational_linearity"

    def evaluate(self, a: Analysis, *, form: str) -> PropertyResult:
        return relational_linearity(
            self._policy(a), self.train_pairs, self.test_pairs, side=self.side, form=form
        )

    @property
    def pairs(self) -> np.ndarray:
        """All pairs, train then test, as an (m, 2) array."""
        parts = [np.asarray(self.train_pairs)]
        if self.test_pairs is not None:
            parts.append(np.asarray(self.test_pairs))
        return np.concatenate(parts).astype(np.int64)

    def candidates(self, a, *, raw, identifiable, key):
        if raw != identifiable:
            yield from super().candidates(a, raw=raw, identifiable=identifiable, key=key)
        elif raw:
            targets = np.unique(self.pairs[:, 1])
            yield from _noise_members(a, self.side, targets, key, "targets")
        else:
            n, scale = _side_size_scale(a, self.side)
            sources = np.unique(self.pairs[:, 0])
            extra = np.zeros((n, sources.size))
            extra[sources, np.arange(sources.size)] = scale
            construction, q = _widen(a, self.side, extra)
            yield Candidate(
                construction,
                q,
                "each source gets its own new invisible coordinate, so an affine map can write "
                "every target from it",
            )

    def no_member_reason(self, *, raw, identifiable):
        return (
            "the constructions did not flip the verdict: with m ≤ rank[S, 1] pairs the relation "
            "is vacuous, and a context that is both a source and a target constrains the new "
            "coordinates"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class LinearProbe(_Spec):
    """`linear_probe(a, contexts, labels, side=side)` as a property (docs/theory.md §6)."""

    contexts: Any
    labels: Any
    side: str = "embedding"
    tol: float | None = None
    rtol: float | None = None
    name = "linear_probe"

    def evaluate(self, a: Analysis, *, form: str) -> PropertyResult:
        return linear_probe(
            self._policy(a), self.contexts, self.labels, side=self.side, form=form, folds=0
        )

    def candidates(self, a, *, raw, identifiable, key):
        if raw != identifiable:
            yield from super().candidates(a, raw=raw, identifiable=identifiable, key=key)
        elif not identifiable:
            n, scale = _side_size_scale(a, self.side)
            idx = np.asarray(self.contexts)
            extra = np.zeros((n, 1))
            extra[idx, 0] = as_labels(self.labels, idx.size) * scale
            construction, q = _widen(a, self.side, extra)
            yield Candidate(
                construction,
                q,
                "the labels written in a new invisible coordinate are separable there (§7.4)",
            )

    def no_member_reason(self, *, raw, identifiable):
        if identifiable:
            return (
                "every member has the raw probe: identifiable ⇒ raw (a witness w = Ĝᵀa scores "
                "aᵀC[x,:] in every member, docs/theory.md §7.2)"
            )
        return super().no_member_reason(raw=raw, identifiable=identifiable)


@dataclasses.dataclass(frozen=True, eq=False)
class Steering(_Spec):
    """`steering(a, shift=δ)` as a property; give `vector` (in the coordinates of the model
    passed to `resolve`) or `shift` (docs/theory.md §6)."""

    vector: Any = None
    shift: Any = None
    tol: float | None = None
    rtol: float | None = None
    name = "steering"
    side = "embedding"

    def evaluate(self, a: Analysis, *, form: str) -> PropertyResult:
        if self.shift is None:
            raise ConfigError("Steering: call spec.resolve(a) to turn the vector into a shift")
        return steering(self._policy(a), shift=self.shift, form=form, random_vectors=0)

    def resolve(self, a: Analysis) -> Steering:
        if self.shift is not None:
            return self
        if self.vector is None:
            raise ConfigError("Steering: expected a vector= or a shift=, got neither")
        out = copy.copy(self)  # no second deprecation warning for tol/rtol
        object.__setattr__(out, "shift", steering_shift(a, self.vector))
        object.__setattr__(out, "vector", None)
        return out

    def candidates(self, a, *, raw, identifiable, key):
        if raw != identifiable:
            yield from super().candidates(a, raw=raw, identifiable=identifiable, key=key)
        elif not identifiable:
            construction, q = _widen(a, "unembedding", jnp.asarray(self.shift)[:, None])
            yield Candidate(
                construction,
                q,
                "δ written as a new unembedding coordinate (with a zero embedding coordinate) "
                "is in col(Ĝ) of the widened member (§7.4)",
            )

    def no_member_reason(self, *, raw, identifiable):
        if identifiable:
            return (
                "every member reaches δ: δ ∈ rowspace(C) ⊆ col(Ĝ) of every member "
                "(docs/theory.md §7.2)"
            )
        return super().no_member_reason(raw=raw, identifiable=identifiable)
