"""A property together with its probe set, so that it can be asked of any member of a class.

`all_or_none` and `counterexample` evaluate one property on many equivalent models of different
widths. A spec holds what is shared by all of them (indices of contexts or tokens, labels, a
log-odds shift) and is called as `spec(q, form=...)`. A steering *vector* lives in one model's
coordinates, so `Steering(vector=v)` is turned into the class-wide shift `δ = Ĝv` by
`spec.resolve(p)` against the model it was written for.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._errors import ConfigError
from .._predictor import Predictor
from ._parallelism import parallelism
from ._probe import linear_probe
from ._relational import relational_linearity
from ._result import PropertyResult
from ._steering import steering, steering_shift


@dataclasses.dataclass(frozen=True, eq=False)
class Parallelism:
    """`parallelism(q, pairs, side=side)` as a spec (THEORY §6)."""

    pairs: Any
    side: str = "embedding"
    tol: float | None = None
    rtol: float | None = None
    name = "parallelism"

    def __call__(self, q: Predictor, *, form: str) -> PropertyResult:
        return parallelism(q, self.pairs, side=self.side, form=form, tol=self.tol, rtol=self.rtol)

    def resolve(self, p: Predictor) -> Parallelism:
        del p
        return self


@dataclasses.dataclass(frozen=True, eq=False)
class RelationalLinearity:
    """`relational_linearity(q, train_pairs, test_pairs, side=side)` as a spec (THEORY §6)."""

    train_pairs: Any
    test_pairs: Any = None
    side: str = "embedding"
    tol: float | None = None
    rtol: float | None = None
    name = "relational_linearity"

    def __call__(self, q: Predictor, *, form: str) -> PropertyResult:
        return relational_linearity(
            q,
            self.train_pairs,
            self.test_pairs,
            side=self.side,
            form=form,
            tol=self.tol,
            rtol=self.rtol,
        )

    def resolve(self, p: Predictor) -> RelationalLinearity:
        del p
        return self

    @property
    def pairs(self) -> np.ndarray:
        """All pairs, train then test, as an (m, 2) array."""
        parts = [np.asarray(self.train_pairs)]
        if self.test_pairs is not None:
            parts.append(np.asarray(self.test_pairs))
        return np.concatenate(parts).astype(np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class LinearProbe:
    """`linear_probe(q, contexts, labels, side=side)` as a spec (THEORY §6)."""

    contexts: Any
    labels: Any
    side: str = "embedding"
    tol: float | None = None
    rtol: float | None = None
    name = "linear_probe"

    def __call__(self, q: Predictor, *, form: str) -> PropertyResult:
        return linear_probe(
            q, self.contexts, self.labels, side=self.side, form=form, tol=self.tol, rtol=self.rtol
        )

    def resolve(self, p: Predictor) -> LinearProbe:
        del p
        return self


@dataclasses.dataclass(frozen=True, eq=False)
class Steering:
    """`steering(q, shift=δ)` as a spec; give `vector` (in the coordinates of the model passed
    to `resolve`) or `shift` (THEORY §6)."""

    vector: Any = None
    shift: Any = None
    tol: float | None = None
    rtol: float | None = None
    name = "steering"
    side = "embedding"

    def __call__(self, q: Predictor, *, form: str) -> PropertyResult:
        if self.shift is None:
            raise ConfigError("Steering: call spec.resolve(p) to turn the vector into a shift")
        return steering(q, shift=self.shift, form=form, tol=self.tol, rtol=self.rtol)

    def resolve(self, p: Predictor) -> Steering:
        if self.shift is not None:
            return self
        if self.vector is None:
            raise ConfigError("Steering: expected a vector= or a shift=, got neither")
        return Steering(shift=steering_shift(p, self.vector), tol=self.tol, rtol=self.rtol)


Spec = Parallelism | RelationalLinearity | LinearProbe | Steering
SPECS = (Parallelism, RelationalLinearity, LinearProbe, Steering)


def check_spec(prop: Any) -> Spec:
    if not isinstance(prop, SPECS):
        names = ", ".join(s.__name__ for s in SPECS)
        raise ConfigError(f"prop: expected one of {names}, got {type(prop).__name__}")
    return prop
