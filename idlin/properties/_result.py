"""What every property returns, and the shared argument and probe-set checks (docs/theory.md
§6–§7). Every tolerance a property decides with comes from the precision policy of the model's
`Analysis` (`idlin.Precision`, docs/theory.md §3.1), which the result records.

A property is evaluated in one of two forms: **raw** (the stored `f`, `ĝ`) or **identifiable**
(only what the centered log-odds `C` determine). `PropertyResult` carries the verdict, a
continuous score and the inclusion condition of docs/theory.md §6 under which the two forms agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..core._analysis import Analysis, as_analysis
from ..core._checks import indices
from ..core._errors import ConfigError, ProbeError, ShapeError
from ..core._precision import Precision, with_legacy

if TYPE_CHECKING:
    from ._controls import Null
    from ._parallelism import PairRow

FORMS = ("raw", "identifiable")
SIDES = ("embedding", "unembedding")
GEOMETRIES = ("isometric", "whitened")


class Forms(NamedTuple):
    """A property's two forms on one model (docs/theory.md §6); `catch`ing `both_forms` puts
    the error of a form that could not be evaluated in its place."""

    raw: Any
    identifiable: Any


def both_forms(
    evaluate: Callable[..., Any],
    *args: Any,
    identifiable: Mapping[str, Any] | None = None,
    catch: type[Exception] | tuple[type[Exception], ...] = (),
    **kwargs: Any,
) -> Forms:
    """`Forms(evaluate(*args, form="raw", **kwargs), evaluate(*args, form="identifiable",
    **kwargs, **identifiable))`: the one place a property is taken in both forms (a property
    function such as `parallelism`, or a `Property`'s `evaluate`). `identifiable`: arguments of
    the identifiable form only (its `geometry`). An error of a type in `catch` is returned in
    its form's place; any other propagates."""

    def one(form: str, extra: Mapping[str, Any]) -> Any:
        try:
            return evaluate(*args, form=form, **kwargs, **extra)
        except catch as err:
            return err

    return Forms(one("raw", {}), one("identifiable", identifiable or {}))


@dataclasses.dataclass(frozen=True)
class Inclusion:
    """The inclusion condition of docs/theory.md §6 for one model and probe set.

    Attributes:
        holds: `residual ≤ tol`.
        residual: relative size of the part that violates it (e.g. `‖(I−P_U)Δ‖/‖Δ‖`), in [0, 1].
        tol: the threshold used.
    """

    holds: bool
    residual: float
    tol: float


@dataclasses.dataclass(frozen=True)
class PropertyResult:
    """One linear property evaluated on one model (docs/theory.md §6).

    Attributes:
        name: "parallelism", "relational_linearity", "linear_probe" or "steering".
        form: "raw" or "identifiable".
        side: "embedding" or "unembedding".
        holds: the verdict (`score` compared with `tol`; the direction is per property).
        score: the continuous measure (parallelism σ₂/σ₁, relational top-1 faithfulness,
            probing margin, steering reachability residual).
        tol: the threshold `holds` used (`precision.resolved_verdict_tol()`).
        inclusion: the inclusion condition of docs/theory.md §6 (computed from the raw model; the
        same
            for both forms).
        accuracy: probing only: training accuracy of the best probe found (1.0 when
            separable, else the least-squares probe's).
        mean_kl: relational linearity (embedding side) only: mean KL(model ‖ decoded prediction).
        residual: relational linearity: relative residual of the affine fit on all pairs.
        note: anything the verdict depends on that a reader should know (e.g. vacuous fits).
        vacuous: the verdict is no evidence (docs/theory.md §6.5): probing with Cover's
            probability of separating random labels ≥ ½; relational linearity with
            m ≤ rank[S, 1] pairs; steering with a vector in the raw form, and in the
            identifiable one when r = rank Ĝ. `holds` is still the mathematical fact; reports print
            "vacuous" instead of it.
        heldout_accuracy: probing only: k-fold held-out accuracy of the ridge probe (None when
            folds = 0).
        cover_probability: probing only: Cover's probability that random labels of these
            items are linearly separable (with a bias) in the coordinates' dimension.
        mean_cosine: parallelism only: mean cosine over pairs i < j of the differences.
        relative_shift: steering with a vector only: `‖Ĝv‖ / (σ₁(Ĝ)‖v‖)` in [0, 1].
        geometry: identifiable form only: "isometric" or "whitened" (docs/theory.md §6.5).
        pairs: parallelism only: one `PairRow` per pair (names, norm, cosine with the leading
            direction).
        controls: the `Null`s of docs/theory.md §6.5 (empty when turned off).
        precision: the policy every tolerance of this result was resolved from (None for a
            user-defined property that does not say).
    """

    name: str
    form: str
    side: str
    holds: bool
    score: float
    tol: float
    inclusion: Inclusion
    accuracy: float | None = None
    mean_kl: float | None = None
    residual: float | None = None
    note: str = ""
    vacuous: bool = False
    heldout_accuracy: float | None = None
    cover_probability: float | None = None
    mean_cosine: float | None = None
    relative_shift: float | None = None
    geometry: str | None = None
    pairs: tuple[PairRow, ...] = ()
    controls: tuple[Null, ...] = ()
    precision: Precision | None = None

    def control(self, control: str, statistic: str) -> Null | None:
        """The `Null` of `control` for `statistic`, or None when not computed."""
        for c in self.controls:
            if c.control == control and c.statistic == statistic:
                return c
        return None


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name}: expected one of {choices}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Call:
    """A property call's validated common arguments: the model (its `Analysis`, whose
    `precision` every tolerance comes from), the verdict tolerance, and the items (contexts or
    tokens) that the probe set indexes on `side`."""

    a: Analysis
    tol: float
    size: int
    what: str


def property_analysis(
    where: str, p: Any, precision: Any, *, tol: Any = None, rtol: Any = None, depth: int = 2
) -> Analysis:
    """The model's one `Analysis` under `precision` (an `Analysis` given is reused when no
    policy is), with the deprecated `tol=` / `rtol=` of `where` folded into the policy (the
    given one, else the `Analysis`'s own): one warning, attributed `depth` frames above the
    caller."""
    if tol is None and rtol is None:
        return as_analysis("p", p, precision=precision)
    if precision is None and isinstance(p, Analysis):
        precision = p.precision
    precision = with_legacy(
        where, precision, depth=depth, tol=("verdict_tol", tol), rtol=("rank_rtol", rtol)
    )
    return as_analysis("p", p, precision=precision)


def check_call(
    where: str, p: Any, side: str, form: str, precision: Any, *, tol: Any = None, rtol: Any = None
) -> Call:
    """The argument checks every property starts with (docs/theory.md §6: side, form), and the
    model's one `Analysis` under the policy (`property_analysis`)."""
    a = property_analysis(where, p, precision, tol=tol, rtol=rtol, depth=3)
    check_choice("side", side, SIDES)
    check_choice("form", form, FORMS)
    tol = a.precision.resolved_verdict_tol()
    if side == "embedding":
        return Call(a, tol, a.num_contexts, "context")
    return Call(a, tol, a.vocab_size, "token")


def as_pairs(
    name: str, value: Any, *, size: int, what: str, min_pairs: int, unordered: bool = False
) -> np.ndarray:
    """An (m, 2) integer array of distinct pairs, m ≥ `min_pairs`, entries in [0, size); with
    `unordered`, `(b, a)` counts as a duplicate of `(a, b)`."""
    arr = indices(name, value, size=size, what=what)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ShapeError(f"{name}: expected an (m, 2) array of index pairs, got shape {arr.shape}")
    if arr.shape[0] < min_pairs:
        raise ProbeError(f"{name}: expected at least {min_pairs} pairs, got {arr.shape[0]}")
    seen: dict[tuple[int, int], int] = {}
    for i, (a, b) in enumerate(arr.tolist()):
        key = (min(a, b), max(a, b)) if unordered else (a, b)
        if key in seen:
            raise ProbeError(f"{name}: duplicate pair ({a}, {b}) at rows {seen[key]} and {i}")
        seen[key] = i
    return arr


def relative_residual(X: np.ndarray, projector: np.ndarray) -> np.ndarray:
    """Row-wise `‖x (I − P)‖ / ‖x‖` (0 for a zero row): how far each row is from the span."""
    X = np.asarray(X, dtype=np.float64)
    out = np.linalg.norm(X - X @ projector, axis=-1)
    norms = np.linalg.norm(X, axis=-1)
    return np.where(norms > 0, out / np.where(norms > 0, norms, 1.0), 0.0)


def inclusion_of(residual: float, tol: float) -> Inclusion:
    return Inclusion(holds=bool(residual <= tol), residual=float(residual), tol=tol)
