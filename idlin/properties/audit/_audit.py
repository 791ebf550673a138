"""`audit`: is a user's measure `m(F, G)` constant on the predictor's equivalence class?
(docs/theory.md §9)

The local test (`_local`) differentiates m once along every generator; the global search
(`_search`) ascends the change of m over each generator's members, one run at a time, in the
stored precision; shrinking evaluates the minimal model. Every reported witness is a model of
the stored precision verified equivalent to p by `distribution_gap` at the precision policy's
equivalence tolerance, and its change is recomputed in the compute precision. Memory: p once
(stored precision), one member and its gradient, and what m allocates; never N×V.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...core._analysis import Analysis, as_analysis
from ...core._checks import prng_key
from ...core._errors import ArgumentError, ConfigError, NonFiniteError
from ...core._gap import distribution_gap
from ...core._precision import Precision, equivalence_rtol
from ...core._predictor import Predictor
from ...core._subspaces import canonical_arrays
from ._generators import FRAME, GENERATORS, WIDENING, base_of, frames, member, trivial
from ._generators import padded as pad_model
from ._local import relative_derivatives, tangent_gradients, widening_gradients
from ._search import chunk_size, compiler_options_for, initial, make_chunk, start


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
        max_change: `|m(member) − m(p)|` of the best member found (verified equivalent when it
            exceeds the tolerance, i.e. when it decides ✗).
        relative_change: `max_change / scale`, `scale = max(|m(p)|, ‖∇_F‖_F s_F + ‖∇_G‖_F s_G)`
            with `s_F`, `s_G` the RMS row norms of F and Ĝ (the change when every row moves
            by its own size, to first order).
        witness: an equivalent `Predictor` realising `max_change` when not invariant, else None.
        witness_gap: the witness' relative gap `‖C_p − C_w‖_F/‖C_p‖_F` (docs/theory.md §2);
            None when no member needed verifying.
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
        budget_note: how the budget was chosen (sized to the model, or given).
    """

    value: Any
    generators: dict[str, GeneratorAudit]
    leaves: dict[str, dict[str, GeneratorAudit]]
    tol: float
    equivalence_tol: float
    budget: int
    starts: int
    shape: tuple[int, int, int]
    budget_note: str = ""

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
                "derivative_finite": g.derivative is None or math.isfinite(g.derivative),
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
            "budget_note": self.budget_note,
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
        if self.budget_note:
            head += f"\n{self.budget_note}"
        cols = ("generator", "verdict", "derivative", "max |Δm|", "relative", "witness gap")
        rows: list[tuple[str, ...]] = [cols]
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
    return str(x) if not math.isfinite(x) else f"{x:.2e}"


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


def _evaluate(measure, F, G, dtype, jitted):
    """The leaf names of `measure(F, G)` and its values at p, checked to be finite real scalars:
    traced once for the structure (a measure that is not traceable fails here, with its error),
    then evaluated compiled (`jitted`, in `dtype`: one compilation, not one per operation)."""
    try:
        out = jax.eval_shape(
            measure, jax.ShapeDtypeStruct(F.shape, dtype), jax.ShapeDtypeStruct(G.shape, dtype)
        )
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
    for name, x in zip(names, leaves, strict=True):
        if not hasattr(x, "shape") or x.shape != () or np.dtype(x.dtype).kind not in "fiu":
            shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", type(x).__name__)
            raise ArgumentError(
                f"measure: expected scalar real leaves, got {dtype} of shape {shape}"
                + (f" at {name}" if name else "")
            )
    values = np.asarray(jitted(F, G), np.float64)
    for name, v in zip(names, values, strict=True):
        if not np.isfinite(v):
            raise NonFiniteError(
                f"measure: expected a finite value at p, got {v}" + (f" at {name}" if name else "")
            )
    return names, values


# -- the budget ------------------------------------------------------------------------------
# The full budget (100 steps × 8 starts) up to this cost `(N + V)·d²` of one basis-change step;
# beyond it the steps per generator shrink in proportion, down to the floor below.
FULL_BUDGET, FULL_STARTS, FULL_COST = 100, 8, float(1 << 24)
FLOOR_BUDGET, FLOOR_STARTS = 20, 2


def default_budget(N: int, V: int, d: int) -> tuple[int, int, str]:
    """`(budget, starts, note)` sized to the model: `steps × starts = 800·min(1, 2²⁴/cost)`,
    `cost = (N + V)·d²` (one basis-change step), at least `20 × 2` — the floor at which the
    report card's every ✗ is still found on a SmolLM2-shaped model
    (tests/test_audit_scale.py)."""
    cost = float(N + V) * d * d
    total = FULL_BUDGET * FULL_STARTS * min(1.0, FULL_COST / cost)
    starts = int(min(FULL_STARTS, max(FLOOR_STARTS, round(total / FULL_BUDGET))))
    budget = int(min(FULL_BUDGET, max(FLOOR_BUDGET, round(total / starts))))
    note = f"budget {budget} steps × {starts} starts, sized for (N+V)·d² = {cost:.2g}" + (
        "" if (budget, starts) == (FULL_BUDGET, FULL_STARTS) else "; --budget/--starts for more"
    )
    return budget, starts, note


def _search_dtype(precision, compute) -> np.dtype:
    """The search runs in the stored precision when it is coarser than the compute dtype
    (float32 files: half the memory and time); verification and the reported changes do not."""
    stored = np.dtype(precision.stored or compute)
    return np.dtype(np.float32) if stored.itemsize <= 4 < compute.itemsize else compute


def audit(
    measure: Callable[[jax.Array, jax.Array], Any],
    p: Predictor | Analysis,
    *,
    key: jax.Array,
    budget: int | None = None,
    starts: int | None = None,
    tol: float | None = None,
    generators: Sequence[str] = GENERATORS,
    max_condition: float = 100.0,
    reach: float = 3.0,
    extra: int = 1,
    learning_rate: float = 0.1,
    precision: Precision | None = None,
    progress: Callable[..., None] | None = None,
    chunk: int | None = None,
    dtype: Any = None,
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
       starts, `budget` steps each, one run at a time (memory: one run's parameters), in the
       stored precision (float32 for a float32 model); an invisible-part family of dimension 0
       (full rank) is p alone and is not searched; shrink evaluates the minimal model `(φ, γ)`;
    3. **verification**: each run's best member is rebuilt in the compute precision (`dtype`)
       and is a witness only if `distribution_gap(p, member).relative ≤
       equivalence_rtol` (docs/theory.md §3.1); its change is recomputed there.

    A generator is invariant when no verified member changes m by more than `tol` relative to
    `scale = max(|m(p)|, ‖∇_F‖_F s_F + ‖∇_G‖_F s_G)` (`s_F`, `s_G`: RMS row norms of F, Ĝ; the
    finite part of it when a gradient is not finite) and its relative derivative is ≤ `tol`. A
    verified member that changes m decides ✗ whatever the gradient says; a non-finite gradient
    is reported (derivative inf/nan, with a note) and the search decides. A zero derivative is
    necessary, not sufficient. Widening (shrink) is "not applicable" when m cannot be traced at
    width d + extra (r). Two-model measures close over the reference:
    `audit(lambda F, G: m(F, G, F_ref, G_ref), p, key=...)` (docs/theory.md §9.4).

    Memory: O((N + V)·d) plus what m itself allocates (one copy of p in each precision, one
    member, its gradient); m should never form the N×V matrix C (the catalogue's measures work
    on the factors, `_catalogue`).

    Args:
        measure: `measure(F, G)` → scalar or pytree of scalars, JAX-traceable, any width.
        p: the predictor (or its `Analysis`).
        key: PRNG key of the random starts.
        budget: Adam steps per start; starts: random starts per leaf and generator. Default
            (None): sized to the model (`default_budget`), recorded in `Audit.budget_note`.
        tol: relative tolerance of the verdicts (default: the precision policy's
            `verdict_tol`, √ε of p's stored dtype).
        generators: the subset of `GENERATORS` to audit.
        max_condition: the largest condition number of a basis change searched.
        reach: size bound of additive parts, in units of the model's RMS entry.
        extra: coordinates added by the widenings.
        learning_rate: Adam's step size on θ.
        precision: the precision policy (its `stored` dtype sets the tolerances and the search
            precision; default: p's own).
        progress: called as `progress(event, **info)` — `"plan"` (generators, budget, starts,
            steps, note), `"steps"` (generator, done, total), `"estimate"` (seconds, per_step,
            steps), `"verify"` (generator), `"done"` (generator, verdict) — e.g. a progress bar.
        chunk: Adam steps per compiled call (default: the largest divisor of `budget` ≤ 10);
            results do not depend on it.
        dtype: the compute dtype of m(p), the local test, the verification and the reported
            changes (default: p's). `float64` for a float32 p (x64 on) verifies its members
            to float64 accuracy while the search runs in float32 (what `idlin audit` does).

    Returns:
        An `Audit` (prints as a table; `Audit.invariant` is the conjunction).

    Raises:
        ArgumentError: p not a Predictor/Analysis, measure not callable or not traceable at p,
            or returning something other than real scalars.
        NonFiniteError: m(p) is not finite.
        ConfigError: unknown generator names, non-positive budget/starts/extra/chunk, bad
            tolerances.

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
    unknown = [g for g in generators if g not in GENERATORS]
    if isinstance(generators, str) or unknown or not generators:
        raise ConfigError(
            f"generators: expected a non-empty sequence of {', '.join(GENERATORS)}, got "
            f"{generators!r}"
        )
    key = prng_key("key", key)
    a = as_analysis("p", p, precision=precision)
    N, V, d = a.num_contexts, a.vocab_size, a.width
    if budget is None or starts is None:
        sized_budget, sized_starts, note = default_budget(N, V, d)
        note = note if budget is None and starts is None else ""
        budget = sized_budget if budget is None else budget
        starts = sized_starts if starts is None else starts
    else:
        note = ""
    budget = _check_int("budget", budget, 1)
    starts = _check_int("starts", starts, 1)
    extra = _check_int("extra", extra, 1)
    chunk = chunk_size(budget) if chunk is None else _check_int("chunk", chunk, 1)
    if budget % chunk:
        raise ConfigError(f"chunk: expected a divisor of budget {budget}, got {chunk}")
    max_condition = _check_positive("max_condition", max_condition, 1.0)
    reach = _check_positive("reach", reach)
    learning_rate = _check_positive("learning_rate", learning_rate)
    tol_: float = a.precision.resolved_verdict_tol() if tol is None else _check_positive("tol", tol)
    tol = tol_
    eq_tol = equivalence_rtol(a.precision.stored, a.precision.stored, a.precision)
    report = progress if progress is not None else (lambda event, **info: None)

    cdtype = np.dtype(a.dtype if dtype is None else dtype)
    if cdtype.kind != "f" or cdtype.itemsize < np.dtype(a.dtype).itemsize:
        raise ConfigError(f"dtype: expected a float dtype at least as wide as p's, got {cdtype}")
    if cdtype == np.float64 and not jax.config.read("jax_enable_x64"):
        raise ConfigError("dtype: float64 needs jax_enable_x64 on, got it off")
    sdtype = _search_dtype(a.precision, cdtype)
    # p in the search precision (its own arrays when stored so) is all that is kept: the
    # members and witnesses are of that precision; m(p), the local test and the witnesses'
    # changes cast to the compute precision inside their programs (no resident copy).
    given = p if isinstance(p, Predictor) else a
    Fs = jnp.asarray(given.embeddings, sdtype)
    Gs = jnp.asarray(given.unembeddings, sdtype)
    qs = Predictor.tree_unflatten(None, (Fs, Gs))
    mvec = _vectorise(measure, cdtype)
    svec = _vectorise(measure, sdtype)
    options = compiler_options_for(N, V, d)
    cache = (measure, str(cdtype), str(sdtype), tuple(sorted((options or {}).items())))
    up = lambda X: X.astype(cdtype)  # noqa: E731
    jmvec = _cached((*cache, "m"), lambda: jax.jit(lambda F, G: mvec(up(F), up(G)),
                                                    compiler_options=options))  # fmt: skip
    names, m0_host = _evaluate(measure, Fs, Gs, cdtype, jmvec)
    L = len(names)
    cache = (*cache, L)
    bs = base_of(a, Fs, Gs, eq_tol=eq_tol, reach=reach)
    # The shrink candidate needs the decomposition, nothing after does: a decomposition made
    # here (from a Predictor) is released before the local test and the search.
    shrink = None
    if "shrink" in generators:
        shrink = _shrink_candidate(a, mvec, sdtype, eq_tol)
        shrink = _shrink_values(shrink, jmvec, qs, m0_host, tol, eq_tol)
    del a, given

    # -- local test at p (and at the zero-padded model, when the measure takes that width)
    def make_local():
        def local(b):
            b = b.astype(cdtype)
            grads, full = tangent_gradients(mvec, b)
            return (*relative_derivatives(grads, full, b.F, b.G), grads["basis"])

        return jax.jit(local, compiler_options=options)

    def make_local_widening():
        def local_widening(F, G):
            F, G = up(F), up(G)
            grads, full, m_pad = widening_gradients(mvec, F, G, extra)
            return relative_derivatives(grads, full, F, G)[0], m_pad

        return jax.jit(local_widening, compiler_options=options)

    rel, sens, basis_gradient = _cached((*cache, "local"), make_local)(bs)
    widen_note = _takes_width(mvec, N, V, d + extra, cdtype)
    m_pad = None
    if not widen_note and any(g in generators for g in WIDENING):
        rel_w, m_pad = _cached((*cache, "widen", extra), make_local_widening)(Fs, Gs)
        rel.update(rel_w)
        m_pad = np.asarray(m_pad)
    rel = {k: np.asarray(v) for k, v in rel.items()}
    scale = _scale(m0_host, np.asarray(sens))

    searched = [
        g for g in generators
        if g != "shrink" and not (g in WIDENING and widen_note) and not trivial(g, bs)
    ]  # fmt: skip
    steps_per_generator = L * starts * budget
    report("plan", generators=tuple(generators), searched=tuple(searched), budget=budget,
           starts=starts, steps=steps_per_generator, note=note)  # fmt: skip
    m0s = jnp.asarray(m0_host, sdtype)
    scale_s = jnp.asarray(scale, sdtype)
    settings = {"max_condition": max_condition, "reach": reach}
    keys: dict[str, Any] = dict(
        zip(GENERATORS, jax.random.split(key, len(GENERATORS)), strict=True)
    )
    clock = _Clock(report, steps_per_generator * len(searched))
    records: dict[str, list[GeneratorAudit]] = {}
    for name in generators:
        if name == "shrink":
            records[name] = _shrink(shrink, m0_host, scale, names, tol)
        elif name in WIDENING and widen_note:
            records[name] = [_not_applicable(name, leaf, widen_note) for leaf in names]
        elif trivial(name, bs):
            records[name] = [
                _trivial(name, leaf, rel[name][i], tol) for i, leaf in enumerate(names)
            ]
        else:
            program = _cached(
                (*cache, name, chunk, learning_rate, max_condition, reach),
                lambda name=name: make_chunk(
                    name, svec, steps=chunk, learning_rate=learning_rate,
                    compiler_options=options, **settings,
                ),
            )  # fmt: skip
            runs = _search_runs(name, program, keys[name], bs, m0s, scale_s, leaves=L,
                                starts=starts, budget=budget, chunk=chunk, extra=extra,
                                learning_rate=learning_rate, clock=clock,
                                gradient=basis_gradient)  # fmt: skip
            report("verify", generator=name)
            build = _cached(
                (*cache, name, "member", max_condition, reach),
                lambda name=name: jax.jit(functools.partial(member, name, **settings)),
            )
            pad = m_pad if name in WIDENING else None
            records[name] = [
                _leaf_record(
                    name,
                    i,
                    leaf,
                    runs[i],
                    build,
                    bs,
                    qs,
                    jmvec,
                    m0_host,
                    scale,
                    rel[name][i],
                    tol,
                    eq_tol,
                    None if pad is None else pad[i],
                    extra,
                )
                for i, leaf in enumerate(names)
            ]
        worst = max(records[name], key=lambda r: (r.applicable, r.relative_change))
        report("done", generator=name, verdict=worst.verdict)

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
        budget_note=note,
    )


def _scale(m0, sens):
    """`max(|m(p)|, sensitivity)` per leaf; a non-finite sensitivity (m not differentiable at
    p) counts as 0 there, so that a finite change is never divided by infinity; 1 when both
    vanish."""
    sens = np.where(np.isfinite(sens), sens, 0.0)
    scale = np.maximum(np.abs(m0), sens)
    return np.where(scale > 0, scale, 1.0)


class _Clock:
    """Progress of the searches and, once one chunk has run compiled, an estimate of the
    remaining time (seconds per step × steps left)."""

    def __init__(self, report, total: int) -> None:
        self.report, self.total, self.done = report, total, 0
        self.estimated = False

    def chunk(self, generator: str, done: int, total: int, steps: int, seconds: float,
              warm: bool) -> None:  # fmt: skip
        self.done += steps
        self.report("steps", generator=generator, done=done, total=total)
        if warm and not self.estimated:
            self.estimated = True
            per_step = seconds / steps
            left = self.total - self.done
            self.report("estimate", seconds=per_step * left, per_step=per_step, steps=left)


def _search_runs(name, program, key, b, m0, scale, *, leaves, starts, budget, chunk, extra,
                 learning_rate, clock, gradient):  # fmt: skip
    """Every (leaf, start) run of one generator, one at a time: per leaf, the runs'
    `(best |Δ|/scale, best θ, frame)` in the search precision, best first (frame: the basis
    family's directions, `_generators.frames`; None for the other generators)."""
    keys = jax.random.split(key, leaves * starts)
    total = leaves * starts * budget
    d = b.F.shape[1]
    wide = name == "basis" and d > FRAME
    # The frames' random completions are drawn from the run keys (reproducible with `key`).
    rng = np.random.default_rng(np.asarray(jax.random.key_data(keys[0])).ravel().tolist())
    done = 0
    out = []
    for leaf in range(leaves):
        runs = []
        leaf_frames = frames(gradient[leaf], starts, rng, FRAME) if wide else [None] * starts
        for s in range(starts):
            frame = leaf_frames[s]
            base = (
                b if frame is None else dataclasses.replace(b, frame=jnp.asarray(frame, b.F.dtype))
            )
            state = start(initial(name, keys[leaf * starts + s], base, extra=extra),
                          learning_rate)  # fmt: skip
            for c in range(budget // chunk):
                t0 = time.perf_counter()
                state = jax.block_until_ready(program(state, leaf, base, m0, scale))
                done += chunk
                # the first call of a program compiles: only a later one is timed
                warm = c > 0 or leaf > 0 or s > 0
                clock.chunk(name, done, total, chunk, time.perf_counter() - t0, warm)
            _, _, best, best_theta = state
            runs.append((float(best), best_theta, frame))
        runs.sort(key=lambda r: -r[0])
        out.append(runs)
    return out


# Compiled programs per (measure, dtypes, leaves, options, kind): auditing the same measure again
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


def _trivial(name: str, leaf: str, derivative, tol: float) -> GeneratorAudit:
    side = "U = ℝ^d (k_g = d)" if name == "invisible_embedding" else "E = ℝ^d (k_f = d)"
    return GeneratorAudit(
        generator=name,
        applicable=True,
        invariant=True,
        derivative=float(derivative),
        max_change=0.0,
        relative_change=0.0,
        witness=None,
        witness_gap=None,
        leaf=leaf,
        note=f"the family is p alone: {side}, so the invisible part is 0",
    )


def _leaf_record(name, i, leaf, runs, build, b, q, mvec, m0, scale, derivative, tol, eq_tol,
                 m_pad, extra):  # fmt: skip
    """One leaf's verdict from its runs, best first, in the compute precision. A member whose
    change is within tol decides nothing and needs no check; the first whose change exceeds it
    and that passes the equivalence check is the witness — one that fails is retried closer to
    p (θ/8, θ/64), then the next run is. For a widening the zero-padded model
    `([F, 0], [G, 0])` (θ = 0, exactly equivalent) is a candidate too."""
    limit = tol * scale[i]
    found, unverified = None, 0
    base = b
    for _, theta, frame in runs:
        if frame is not None:
            base = dataclasses.replace(b, frame=jnp.asarray(frame, b.F.dtype))
        for k, step in enumerate((1.0, 1 / 8, 1 / 64)):
            t = jax.tree_util.tree_map(lambda x, s=step: s * jnp.asarray(x, b.F.dtype), theta)
            F1, G1 = build(t, base)
            value = float(np.asarray(mvec(F1, G1))[i])
            if not np.isfinite(value):
                continue
            if abs(value - m0[i]) <= limit:
                if k == 0:  # the best run changed nothing beyond tol: nor do the others
                    found = (None, None, value)
                break  # closer to p the change is gone: try the next run
            w, gap = _verify(q, F1, G1, eq_tol)
            if w is not None:
                found = (w, gap, value)
                break
            unverified += 1
        if found is not None:
            break
    if m_pad is not None and np.isfinite(m_pad) and abs(m_pad - m0[i]) > limit:
        if found is None or found[0] is None or abs(m_pad - m0[i]) > abs(found[2] - m0[i]):
            w, gap = _verify(q, *pad_model(b.F, b.G, extra), eq_tol)
            if w is not None:
                found = (w, gap, float(m_pad))
    note = "" if found is not None else "no member of the search passed the equivalence check"
    return _decide(name, leaf, found, m0, i, scale, derivative, tol, unverified, note)


def _verify(q: Predictor, F1, G1, eq_tol):
    """`(member, gap)` if the member is a finite model within the equivalence tolerance of p
    (`distribution_gap`, docs/theory.md §2), else `(None, gap)`."""
    if not (bool(jnp.all(jnp.isfinite(F1))) and bool(jnp.all(jnp.isfinite(G1)))):
        return None, None
    w = Predictor.tree_unflatten(None, (F1, G1))
    gap = float(distribution_gap(q, w, frobenius_only=True).relative)
    return (w, gap) if gap <= eq_tol else (None, gap)


def _decide(name, leaf, found, m0, i, scale, derivative, tol, unverified=0, note=""):
    """The verdict of one leaf from its candidate `(member or None, gap, m(member))` (or None)
    and its relative derivative: a verified change beyond tol decides ✗ whatever the
    derivative; otherwise ✓ needs a finite derivative ≤ tol (a non-finite one is reported and
    the search decides). An unverified candidate (its change within tol) reports its change."""
    best_change, witness, witness_gap = 0.0, None, None
    if found is not None:
        witness, witness_gap, value = found
        best_change = abs(float(value) - float(m0[i])) if np.isfinite(value) else 0.0
        if witness is None and best_change > tol * scale[i]:
            best_change = 0.0  # an unverified change is not a finding
    rel = best_change / scale[i]
    deriv = None if derivative is None else float(derivative)
    finite = deriv is None or math.isfinite(deriv)
    invariant = bool(rel <= tol and (not finite or deriv is None or deriv <= tol))
    notes = [note] if note else []
    if not finite:
        notes.append(
            f"m is not differentiable at p (gradient {deriv}): the verdict is the search's"
        )
    if unverified and rel <= tol:
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


def shrink_rank(a, eq_tol: float) -> int:
    """The width of the shrink candidate: the smallest `r' ≥ r` whose truncation of C,
    `√(Σ_{i>r'} σ_i²)`, is at most `equivalence_rtol·‖C‖_F/4` — the minimal model at the
    equivalence tolerance, so it passes the check it is verified by (the rank threshold, √ε·σ₁,
    can cut more than the equivalence tolerance allows)."""
    s = np.asarray(a.log_odds_singular_values, np.float64)
    tails = np.sqrt(np.cumsum(np.square(s[::-1]))[::-1])  # tails[i] = ‖σ_{i:}‖
    budget = eq_tol * float(np.linalg.norm(s)) / 4
    r = int(a.effective_complexity)
    return next((k for k in range(r, s.shape[0]) if tails[k] <= budget), s.shape[0])


def _shrink_candidate(a, mvec, dtype, eq_tol):
    """The minimal model `(φ, γ)` at the equivalence tolerance (`shrink_rank`) in `dtype` (the
    search precision: a witness is a model of the stored precision), or why shrink is not
    applicable."""
    r = shrink_rank(a, eq_tol) if int(a.effective_complexity) else 0
    if r == 0:
        return "effective complexity 0: no minimal model"
    why = _takes_width(mvec, a.num_contexts, a.vocab_size, r, dtype)
    if why:
        return why
    # `(φ, γ) = (U_C Σ^½, W Σ^½)` truncated at r' (`minimal` refuses ranks past the rounding
    # floor of C's spectrum, which r' may need to include to stay equivalent).
    phi, gamma, *_ = canonical_arrays(a, r)
    return jnp.asarray(phi, dtype), jnp.asarray(gamma, dtype)


def _shrink_values(candidate, mvec, q, m0, tol, eq_tol):
    """`(values, member or None, gap)` of the shrink candidate, evaluated at once so that the
    decomposition and the candidate can be released before the search: the member is verified
    (and kept) only where m moved by more than `tol·|m(p)|` — below that no scale makes it a
    change (the scale is at least |m(p)|)."""
    if isinstance(candidate, str):
        return candidate
    values = np.asarray(mvec(*candidate))
    if not np.any(np.abs(values - m0) > tol * np.abs(m0)):
        return values, None, None
    F1, G1 = candidate
    w, gap = _verify(q, F1, G1, eq_tol)
    return values, w, gap


def _shrink(shrink, m0, scale, names, tol):
    if isinstance(shrink, str):
        return [_not_applicable("shrink", leaf, shrink) for leaf in names]
    values, w, gap = shrink
    changed = np.abs(values - m0) > tol * scale
    records = []
    for i, leaf in enumerate(names):
        unverified = changed[i] and w is None
        note = "the minimal model failed the equivalence check" if unverified else ""
        found = None if unverified else (w if changed[i] else None, gap, values[i])
        records.append(_decide("shrink", leaf, found, m0, i, scale, None, tol, 0, note))
    return records
