"""`audit`: is a user's measure `m(F, G)` constant on the predictor's equivalence class?
(docs/theory.md §9)

The local test (`_local`) differentiates m once along every generator; the global search
(`_search`) ascends the change of m over each generator's members; shrinking evaluates the
minimal model. Every reported witness is verified equivalent to p by `distribution_gap` at the
precision policy's equivalence tolerance, and its change is recomputed eagerly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._analysis import Analysis, as_analysis
from .._errors import ArgumentError, ConfigError, NonFiniteError
from .._gap import distribution_gap
from .._precision import equivalence_rtol
from .._predictor import Predictor
from .._subspaces import minimal
from ._generators import GENERATORS, WIDENING, base_of
from ._generators import padded as pad_model
from ._local import relative_derivatives, tangent_gradients, widening_gradients
from ._search import compiler_options_for, make_search


@dataclasses.dataclass(frozen=True)
class GeneratorAudit:
    """The audit of one measure (leaf) along one generator (docs/theory.md §9).

    Attributes:
        generator: one of `GENERATORS`.
        applicable: False when the measure cannot take the member's width (widening, shrink).
        invariant: no change beyond the tolerance, locally or globally (None when not
            applicable).
        derivative: relative norm of the §9.1 gradient (None for shrink or when not
            applicable; NaN when m is not differentiable at p).
        max_change: the largest verified `|m(member) − m(p)|` found.
        relative_change: `max_change / scale`, `scale = max(|m(p)|, ‖∇_F‖_F s_F + ‖∇_G‖_F s_G)`
            with `s_F`, `s_G` the RMS row norms of F and G (the change when every row moves
            by its own size, to first order).
        witness: an equivalent `Predictor` realising `max_change` when not invariant, else None.
        witness_gap: the witness' relative gap `‖C_p − C_w‖_F/‖C_p‖_F` (docs/theory.md §2).
        leaf: the measure's leaf this record is about ("" for a scalar measure).
        note: why not applicable, or what could not be decided.
    """

    generator: str
    applicable: bool
    invariant: bool | None
    derivative: float | None
    max_change: float
    relative_change: float
    witness: Predictor | None
    witness_gap: float | None
    leaf: str = ""
    note: str = ""

    @property
    def verdict(self) -> str:
        """'✓' invariant, '✗' not, 'n/a' not applicable."""
        if not self.applicable:
            return "n/a"
        return "✓" if self.invariant else "✗"


@dataclasses.dataclass(frozen=True)
class Audit:
    """The symmetry audit of a measure on one predictor (docs/theory.md §9).

    Attributes:
        value: `m(p)` (a float, or a dict leaf → float for a pytree-valued measure).
        generators: generator name → `GeneratorAudit` (for a pytree measure, the leaf with the
            largest relative change).
        leaves: leaf name → generator name → `GeneratorAudit`.
        tol: relative tolerance of the verdicts; equivalence_tol: of the witnesses' gaps.
        budget, starts: ascent steps per start, and random starts per leaf.
        shape: `(N, V, d)` of p.
    """

    value: Any
    generators: dict[str, GeneratorAudit]
    leaves: dict[str, dict[str, GeneratorAudit]]
    tol: float
    equivalence_tol: float
    budget: int
    starts: int
    shape: tuple[int, int, int]

    @property
    def invariant(self) -> bool:
        """The conjunction over the applicable generators."""
        return all(g.invariant for g in self.generators.values() if g.applicable)

    def verdicts(self) -> dict[str, str]:
        """generator → '✓' / '✗' / 'n/a'."""
        return {k: g.verdict for k, g in self.generators.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (witnesses as their widths only)."""

        def rec(g: GeneratorAudit) -> dict[str, Any]:
            return {
                "verdict": g.verdict,
                "invariant": g.invariant,
                "derivative": _finite_or_none(g.derivative),
                "max_change": g.max_change,
                "relative_change": g.relative_change,
                "witness_width": None if g.witness is None else g.witness.width,
                "witness_gap": g.witness_gap,
                "leaf": g.leaf,
                "note": g.note,
            }

        return {
            "value": self.value,
            "invariant": self.invariant,
            "shape": list(self.shape),
            "tol": self.tol,
            "equivalence_tol": self.equivalence_tol,
            "budget": self.budget,
            "starts": self.starts,
            "generators": {k: rec(g) for k, g in self.generators.items()},
        }

    def __str__(self) -> str:
        N, V, d = self.shape
        value = (
            self.value
            if not isinstance(self.value, dict)
            else "{" + ", ".join(f"{k}: {v:.6g}" for k, v in self.value.items()) + "}"
        )
        value = f"{value:.6g}" if isinstance(value, float) else value
        head = (
            f"Audit (docs/theory.md §9) on N={N}, V={V}, d={d}: m(p) = {value}; "
            f"{'INVARIANT' if self.invariant else 'NOT INVARIANT'} "
            f"(tol {self.tol:.1e}; witnesses verified at gap ≤ {self.equivalence_tol:.0e}; "
            f"{self.starts} starts × {self.budget} steps)"
        )
        cols = ("generator", "verdict", "derivative", "max |Δm|", "relative", "witness gap")
        rows = [cols]
        for g in self.generators.values():
            rows.append(
                (
                    g.generator,
                    g.verdict,
                    _fmt(g.derivative),
                    _fmt(g.max_change) if g.applicable else "—",
                    _fmt(g.relative_change) if g.applicable else "—",
                    _fmt(g.witness_gap),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        lines = [head]
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        notes = [f"{g.generator}: {g.note}" for g in self.generators.values() if g.note]
        return "\n".join(lines + [f"note: {n}" for n in notes])


def _fmt(x) -> str:
    if x is None:
        return "—"
    return "nan" if not math.isfinite(x) else f"{x:.2e}"


def _finite_or_none(x):
    return None if x is None or not math.isfinite(x) else x


def _leaf_names(tree) -> list[str]:
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [jax.tree_util.keystr(path) for path, _ in paths]


def _vectorise(measure: Callable, dtype) -> Callable:
    def mvec(F, G):
        leaves = jax.tree_util.tree_leaves(measure(F, G))
        return jnp.stack([jnp.asarray(x).astype(dtype).reshape(()) for x in leaves])

    return mvec


def _takes_width(mvec, N: int, V: int, width: int, dtype) -> str:
    """'' if the measure traces at this width, else why not."""
    try:
        jax.eval_shape(
            mvec, jax.ShapeDtypeStruct((N, width), dtype), jax.ShapeDtypeStruct((V, width), dtype)
        )
    except Exception as e:  # any failure to trace means: not defined at this width
        return f"the measure does not take width {width} ({type(e).__name__}: {str(e)[:120]})"
    return ""


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ConfigError(f"{name}: expected an integer ≥ {lo}, got {value!r}")
    return int(value)


def _check_positive(name: str, value: Any, lo: float = 0.0) -> float:
    ok = isinstance(value, int | float | np.floating | np.integer) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= lo:
        raise ConfigError(f"{name}: expected a finite number > {lo:g}, got {value!r}")
    return float(value)


def _evaluate(measure, F, G):
    """`measure(F, G)` at p, with its leaves checked to be finite scalars."""
    try:
        out = measure(F, G)
    except Exception as e:
        raise ArgumentError(
            f"measure: expected a JAX-traceable function measure(F, G) of the embeddings (N×d) "
            f"and unembeddings (V×d), but calling it on p raised {type(e).__name__}: {e}"
        ) from e
    leaves = jax.tree_util.tree_leaves(out)
    if not leaves:
        raise ArgumentError(
            "measure: expected a scalar or a pytree of scalars, got an empty pytree"
        )
    names = _leaf_names(out)
    values = []
    for name, x in zip(names, leaves, strict=True):
        arr = np.asarray(x)
        if arr.shape != () or arr.dtype.kind not in "fiu":
            raise ArgumentError(
                f"measure: expected scalar real leaves, got {arr.dtype} of shape {arr.shape}"
                + (f" at {name}" if name else "")
            )
        if not np.isfinite(arr):
            raise NonFiniteError(
                f"measure: expected a finite value at p, got {arr.item()}"
                + (f" at {name}" if name else "")
            )
        values.append(float(arr))
    return out, names, np.array(values)


def audit(
    measure: Callable[[jax.Array, jax.Array], Any],
    p: Predictor | Analysis,
    *,
    key: jax.Array,
    budget: int = 100,
    starts: int = 8,
    tol: float | None = None,
    generators: Sequence[str] = GENERATORS,
    max_condition: float = 100.0,
    reach: float = 3.0,
    extra: int = 1,
    learning_rate: float = 0.1,
) -> Audit:
    """Audit a measure `m(F, G)` over p's equivalence class, generator by generator
    (docs/theory.md §9).

    Symbols: `p = (F, G)`, `F` N×d, `G` V×d; `∇_F, ∇_G` the gradients of m at p. For each
    generator of §9.1 (`GENERATORS`: basis, shift, invisible_embedding, invisible_unembedding,
    widen_embedding, widen_unembedding, shrink):

    1. **local**: the relative norm of its gradient (`∇_Fᵀ F − Gᵀ∇_G`, `∇_Gᵀ 1`,
       `∇_F(I − P_U)`, `∇_G(I − P_E)`, the new columns at `([F,0],[G,0])`), one reverse pass;
    2. **global**: Adam ascent of `|m(member) − m(p)|` over the generator's members
       (`_generators`: basis change with `cond M ≤ max_condition`, bounded shift, invisible parts
       and widening coordinates of size ≤ `reach` × the model's RMS entry) from `starts` random
       starts, `budget` steps each — one jitted program per generator costing
       `leaves × starts × budget` evaluations of m and its gradient, plus one compilation;
       shrink evaluates the minimal model `(φ, γ)`;
    3. **verification**: a member is a witness only if `distribution_gap(p, member).relative ≤
       equivalence_rtol(dtype)` (docs/theory.md §3.1); its change is recomputed eagerly.

    A generator is invariant when its relative derivative and its largest verified change
    relative to `scale = max(|m(p)|, ‖∇_F‖_F s_F + ‖∇_G‖_F s_G)` (`s_F`, `s_G`: RMS row
    norms of F, G) are both ≤ `tol`. A zero derivative is
    necessary, not sufficient: the search decides. Widening (shrink) is "not applicable" when m
    cannot be traced at width d + extra (r). Two-model measures close over the reference:
    `audit(lambda F, G: m(F, G, F_ref, G_ref), p, key=...)` (docs/theory.md §9.4).

    Args:
        measure: `measure(F, G)` → scalar or pytree of scalars, JAX-traceable, any width.
        p: the predictor (or its `Analysis`).
        key: PRNG key of the random starts.
        budget: Adam steps per start. starts: random starts per leaf and generator.
        tol: relative tolerance of the verdicts (default: the precision policy's
            `verdict_tol`, √ε of p's stored dtype).
        generators: the subset of `GENERATORS` to audit.
        max_condition: the largest condition number of a basis change searched.
        reach: size bound of additive parts, in units of the model's RMS entry.
        extra: coordinates added by the widenings.
        learning_rate: Adam's step size on θ.

    Returns:
        An `Audit` (prints as a table; `Audit.invariant` is the conjunction).

    Raises:
        ArgumentError: p not a Predictor/Analysis, measure not callable or not traceable at p,
            or returning something other than real scalars.
        NonFiniteError: m(p) is not finite.
        ConfigError: unknown generator names, non-positive budget/starts/extra, bad tolerances.

    Example:
        >>> import jax, numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(6, 3)), rng.normal(size=(5, 3)))
        >>> def cosine(F, G):
        ...     u, v = F[1] - F[0], F[3] - F[2]
        ...     return u @ v / jax.numpy.sqrt((u @ u) * (v @ v))
        >>> result = idlin.audit(cosine, p, key=jax.random.key(0), budget=20, starts=2,
        ...                      generators=("basis", "shift"))
        >>> result.verdicts()
        {'basis': '✗', 'shift': '✓'}
    """
    if not callable(measure):
        raise ArgumentError(
            f"measure: expected a callable measure(F, G), got {type(measure).__name__}"
        )
    a = as_analysis("p", p)
    unknown = [g for g in generators if g not in GENERATORS]
    if isinstance(generators, str) or unknown or not generators:
        raise ConfigError(
            f"generators: expected a non-empty sequence of {', '.join(GENERATORS)}, got "
            f"{generators!r}"
        )
    budget = _check_int("budget", budget, 1)
    starts = _check_int("starts", starts, 1)
    extra = _check_int("extra", extra, 1)
    max_condition = _check_positive("max_condition", max_condition, 1.0)
    reach = _check_positive("reach", reach)
    learning_rate = _check_positive("learning_rate", learning_rate)
    tol = a.precision.resolved_verdict_tol() if tol is None else _check_positive("tol", tol)
    eq_tol = equivalence_rtol(a.precision.stored, a.precision.stored, a.precision)

    q = a.predictor
    F, G = q.embeddings, q.unembeddings
    N, d = F.shape
    V = G.shape[0]
    dtype = F.dtype
    _, names, m0_host = _evaluate(measure, F, G)
    L = len(names)
    mvec = _vectorise(measure, dtype)
    options = compiler_options_for(N, V, d)
    cache = (measure, str(dtype), L, tuple(sorted((options or {}).items())))
    b = base_of(a)
    # The witnesses' changes are recomputed outside the search programs.
    jmvec = _cached((*cache, "m"), lambda: jax.jit(mvec, compiler_options=options))
    m0 = jnp.asarray(m0_host, dtype)

    # -- local test at p (and at the zero-padded model, when the measure takes that width)
    def make_local():
        return jax.jit(
            lambda b: relative_derivatives(*tangent_gradients(mvec, b), b.F, b.G),
            compiler_options=options,
        )

    def make_local_widening():
        def local_widening(F, G):
            grads, full, _ = widening_gradients(mvec, F, G, extra)
            return relative_derivatives(grads, full, F, G)[0]

        return jax.jit(local_widening, compiler_options=options)

    local = _cached((*cache, "local"), make_local)
    local_widening = _cached((*cache, "widen", extra), make_local_widening)
    rel, sens = local(b)
    widen_note = _takes_width(mvec, N, V, d + extra, dtype)
    if not widen_note and any(g in generators for g in WIDENING):
        rel.update(local_widening(F, G))
    rel = {k: np.asarray(v) for k, v in rel.items()}
    sens = np.asarray(sens)
    scale = np.maximum(np.abs(m0_host), sens)
    scale = np.where(scale > 0, scale, 1.0)

    keys = dict(zip(GENERATORS, jax.random.split(key, len(GENERATORS)), strict=True))
    records: dict[str, list[GeneratorAudit]] = {}
    for name in generators:
        if name == "shrink":
            records[name] = _shrink(jmvec, a, q, m0_host, scale, names, tol, eq_tol)
            continue
        if name in WIDENING and widen_note:
            records[name] = [_not_applicable(name, leaf, widen_note) for leaf in names]
            continue
        runs = _search_one(
            (*cache, name), mvec, b, m0, scale, keys[name], eq_tol, leaves=L, starts=starts,
            steps=budget, extra=extra, learning_rate=learning_rate,
            max_condition=max_condition, reach=reach, compiler_options=options,
        )  # fmt: skip
        padded = name in WIDENING
        records[name] = [
            _leaf_record(
                name,
                i,
                leaf,
                runs,
                b,
                q,
                jmvec,
                m0_host,
                scale,
                rel[name][i],
                tol,
                eq_tol,
                padded,
            )
            for i, leaf in enumerate(names)
        ]

    leaves = {leaf: {g: records[g][i] for g in generators} for i, leaf in enumerate(names)}
    summary = {
        g: max(records[g], key=lambda r: (r.applicable, r.relative_change)) for g in generators
    }
    for g in generators:
        if all(r.applicable for r in records[g]):
            inv = all(r.invariant for r in records[g])
            summary[g] = dataclasses.replace(summary[g], invariant=inv)
    value = (
        float(m0_host[0]) if names == [""] else dict(zip(names, map(float, m0_host), strict=True))
    )
    return Audit(
        value=value,
        generators=summary,
        leaves=leaves,
        tol=tol,
        equivalence_tol=eq_tol,
        budget=budget,
        starts=starts,
        shape=(N, V, d),
    )


# Compiled programs per (measure, dtype, leaves, options, kind): auditing the same measure again
# (e.g. on every example of a Hypothesis test) reuses them; jit caches each shape inside.
_PROGRAMS: dict = {}
_MAX_PROGRAMS = 64


def _cached(key, make):
    try:
        hash(key)
    except TypeError:  # an unhashable measure: compile afresh
        return make()
    if key not in _PROGRAMS:
        if len(_PROGRAMS) >= _MAX_PROGRAMS:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
        _PROGRAMS[key] = make()
    return _PROGRAMS[key]


def _not_applicable(name: str, leaf: str, note: str) -> GeneratorAudit:
    return GeneratorAudit(name, False, None, None, 0.0, 0.0, None, None, leaf, note)


def _search_one(cache, mvec, b, m0, scale, key, eq_tol, **options):
    name = cache[-1]
    program = _cached(
        (*cache, tuple(sorted((k, str(v)) for k, v in options.items()))),
        lambda: make_search(name, mvec, **options),
    )
    out = program(key, b, m0, jnp.asarray(scale, b.F.dtype), jnp.asarray(eq_tol, b.F.dtype))
    return tuple(np.asarray(x) for x in out)


def _leaf_record(name, i, leaf, runs, b, q, mvec, m0, scale, derivative, tol, eq_tol, padded):
    _, _, F_w, G_w, valid = runs
    found = [(F_w[i], G_w[i])]
    if padded is not None:  # the zero-padded model is itself a member (θ = 0)
        found.append(
            tuple(np.asarray(x) for x in pad_model(b.F, b.G, F_w.shape[-1] - b.F.shape[1]))
        )
    note = "" if valid[i] else "no run of the search passed the equivalence check"
    return _decide(name, leaf, found, mvec, q, i, m0, scale, derivative, tol, eq_tol, note)


def _verify(q: Predictor, F1, G1, eq_tol):
    """`(member, gap)` if the member is a finite model within the equivalence tolerance of p
    (`distribution_gap`, docs/theory.md §2), else `(None, gap)`."""
    if not (np.all(np.isfinite(F1)) and np.all(np.isfinite(G1))):
        return None, None
    w = Predictor(np.asarray(F1), np.asarray(G1))
    gap = float(distribution_gap(q, w, frobenius_only=True).relative)
    return (w, gap) if gap <= eq_tol else (None, gap)


def _decide(name, leaf, found, mvec, q, i, m0, scale, derivative, tol, eq_tol, note=""):
    """Verify the candidates, recompute their changes, and decide the verdict of one leaf."""
    best_change, witness, witness_gap, unverified = 0.0, None, None, 0
    for F1, G1 in found:
        w, gap = _verify(q, F1, G1, eq_tol)
        if w is None:
            unverified += 1
            continue
        value = np.asarray(mvec(w.embeddings, w.unembeddings))[i]
        change = abs(float(value) - float(m0[i])) if np.isfinite(value) else 0.0
        if change >= best_change:
            best_change, witness, witness_gap = change, w, gap
    rel = best_change / scale[i]
    deriv = None if derivative is None else float(derivative)
    local_ok = deriv is None or not math.isfinite(deriv) or deriv <= tol
    invariant = bool(rel <= tol and local_ok)
    notes = [note] if note else []
    if deriv is not None and not math.isfinite(deriv):
        notes.append("m is not differentiable at p (non-finite gradient): verdict from the search")
    if unverified and witness is None and rel <= tol:
        notes.append(f"{unverified} candidate(s) failed the equivalence check and were discarded")
    if not invariant and rel <= tol:
        notes.append("the change is first-order only: no member found realising it")
    return GeneratorAudit(
        generator=name,
        applicable=True,
        invariant=invariant,
        derivative=deriv,
        max_change=best_change,
        relative_change=float(rel),
        witness=None if invariant or rel <= tol else witness,
        witness_gap=witness_gap,
        leaf=leaf,
        note="; ".join(notes),
    )


def _shrink(mvec, a, q, m0, scale, names, tol, eq_tol):
    r = int(a.effective_complexity)
    if r == 0:
        return [
            _not_applicable("shrink", leaf, "effective complexity 0: no minimal model")
            for leaf in names
        ]
    why = _takes_width(mvec, a.num_contexts, a.vocab_size, r, a.dtype)
    if why:
        return [_not_applicable("shrink", leaf, why) for leaf in names]
    m = minimal(a)
    found = [(m.embeddings, m.unembeddings)]
    return [
        _decide("shrink", leaf, found, mvec, q, i, m0, scale, None, tol, eq_tol)
        for i, leaf in enumerate(names)
    ]
