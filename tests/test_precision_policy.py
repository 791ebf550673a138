"""One precision policy (docs/theory.md §3.1): a `Precision` set once reaches every routine —
`compare`, `evaluate`, `counterexample`, `idlin verify`, the reports — every result records
it, each deprecated `rtol=`/`tol=` shim warns once, and no threshold rule lives outside
`idlin/core/_precision.py` (a ratchet over the source).

Expected verdicts are computed here from float64 NumPy references (the relative gap of the
centered log-odds, the parallelism score, the rank of `[S, 1]`), not read from idlin.
"""

import ast
import dataclasses
import io as _io
import json
import tokenize
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest

import idlin
from idlin.properties import Parallelism, RelationalLinearity

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# References


def centered_log_odds(p):
    F, G = np.asarray(p.embeddings, np.float64), np.asarray(p.unembeddings, np.float64)
    return F @ (G - G.mean(axis=0)).T


def relative_gap(p, q):
    Cp, Cq = centered_log_odds(p), centered_log_odds(q)
    return np.linalg.norm(Cp - Cq) / np.linalg.norm(Cp)


def sigma_ratio(X, pairs):
    """σ₂/σ₁ of the unit differences (docs/theory.md §6)."""
    D = X[pairs[:, 1]] - X[pairs[:, 0]]
    s = np.linalg.svd(D / np.linalg.norm(D, axis=1, keepdims=True), compute_uv=False)
    return s[1] / s[0]


@pytest.fixture(scope="module")
def near_pair():
    """A diverse float64 model p and a perturbation q of relative gap ~1e-4: not equivalent at
    float64's 1e-8, near-equivalent at the default 0.1."""
    rng = np.random.default_rng(3)
    F, G = rng.normal(size=(20, 3)), rng.normal(size=(12, 3))
    p = idlin.Predictor(F, G)
    q = idlin.Predictor(F * (1 + 1e-4 * rng.normal(size=F.shape)), G)
    q2 = idlin.Predictor(F * (1 + 1e-4 * rng.normal(size=F.shape)), G)
    g = relative_gap(p, q)
    assert 1e-8 < g < 1e-2  # the construction: between the default and LOOSE tolerances
    return p, q, q2


LOOSE = idlin.Precision(equivalence_rtol=1e-2)


@pytest.fixture(scope="module")
def split_parallel():
    """Pairs whose raw differences are far from parallel (an invisible e₃ component) while their
    identifiable ones are nearly parallel: σ₂/σ₁ raw ≫ 0.05 ≫ identifiable ≫ √ε."""
    rng = np.random.default_rng(0)
    F = np.array([[0, 0, 0], [1, 0.01, 0], [0, 1, 0], [2, 1, 1.0], [0.3, -0.4, 0.1]])
    offset = np.array([0.5, 0.2, 3.0])  # a common offset with an invisible e₃ part
    G = np.concatenate([rng.normal(size=(6, 2)), np.zeros((6, 1))], axis=1) + offset
    p = idlin.Predictor(F, G)
    pairs = np.array([[0, 1], [2, 3]])
    raw = sigma_ratio(F, pairs)
    ident = sigma_ratio(centered_log_odds(p), pairs)  # rows of C: the identifiable geometry
    assert raw > 0.2 and 1e-6 < ident < 0.05
    return p, pairs


VERDICT = idlin.Precision(verdict_tol=0.05)


# --------------------------------------------------------------------------------------------
# Resolvers


def test_resolvers_keep_the_defaults_and_take_the_settings():
    x64 = idlin.Precision(stored="float32", arithmetic="float64")
    eps64, eps32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
    assert x64.resolved_rank_rtol() == np.sqrt(eps64)  # the arithmetic's ε (§3), unchanged
    assert x64.resolved_verdict_tol() == np.sqrt(eps32)  # the stored dtype's
    assert x64.resolved_equivalence_rtol() == 1e-4
    assert x64.resolved_near_rtol() == 0.1
    assert x64.resolved_lstsq_rcond() == x64.resolved_rank_rtol()
    assert x64.resolved_zero_rtol() == x64.resolved_verdict_tol()
    assert x64.resolved_rounding_rtol(5, 7, dtype=np.float32) == 7 * eps32
    assert x64.resolved_causal_reg() == 1e-8
    set_ = idlin.Precision(
        near_rtol=0.3, lstsq_rcond=1e-5, zero_rtol=1e-3, rounding_rtol=1e-9, causal_reg=0.0
    )
    assert set_.resolved_near_rtol() == 0.3 and set_.resolved_lstsq_rcond() == 1e-5
    assert set_.resolved_zero_rtol() == 1e-3 and set_.resolved_causal_reg() == 0.0
    assert set_.resolved_rounding_rtol(5, 7, dtype=np.float32) == 1e-9
    for bad in ({"near_rtol": 0.0}, {"lstsq_rcond": 1.0}, {"zero_rtol": -1e-3},
                {"rounding_rtol": float("nan")}, {"causal_reg": -1.0}):  # fmt: skip
        with pytest.raises(idlin.ConfigError, match=next(iter(bad))):
            idlin.Precision(**bad)
    from idlin.core._precision import nnls_max_iter

    assert nnls_max_iter(4) == 40 and nnls_max_iter(0) == 10


def test_new_fields_are_leaves_through_jit():
    p = idlin.Precision(near_rtol=0.2, zero_rtol=1e-3, causal_reg=1e-6)
    out = jax.jit(lambda q: q)(p)
    assert float(out.near_rtol) == 0.2 and float(out.causal_reg) == 1e-6
    assert float(jax.jit(lambda q: q.resolved_near_rtol() * 2)(p)) == 0.4


# --------------------------------------------------------------------------------------------
# One policy reaches every routine


def test_compare_honours_the_policy_and_records_it(near_pair):
    p, q, _ = near_pair
    g = relative_gap(p, q)
    default = idlin.compare(p, q)
    assert default.verdict == "near-equivalent"
    np.testing.assert_allclose(default.smallest_tolerance, g, rtol=1e-6)
    loose = idlin.compare(p, q, precision=LOOSE)
    assert loose.verdict == "equivalent" and loose.tolerance == 1e-2
    assert loose.precision.resolved_equivalence_rtol() == loose.tolerance
    # The policy an Analysis carries is the reference's policy (it used to be ignored).
    carried = idlin.compare(idlin.analyze(p, precision=LOOSE), q)
    assert carried.verdict == "equivalent" and carried.tolerance == 1e-2
    strict_near = idlin.compare(p, q, precision=idlin.Precision(near_rtol=g / 2))
    assert strict_near.verdict == "not equivalent" and strict_near.near_tolerance == g / 2
    assert default.precision.resolved_near_rtol() == default.near_tolerance == 0.1


def test_evaluate_passes_its_policy_to_compare(near_pair):
    p, q, q2 = near_pair
    default = idlin.evaluate([q, q2], p)
    loose = idlin.evaluate([q, q2], p, precision=LOOSE)
    assert [c.verdict for c in default.to_truth] == ["near-equivalent"] * 2
    assert [c.verdict for c in loose.to_truth] == ["equivalent"] * 2
    assert relative_gap(q, q2) < 1e-2
    assert loose.between[0][1].verdict == "equivalent"
    for c in (*loose.to_truth, loose.between[0][1]):
        assert c.tolerance == 1e-2 and c.precision.equivalence_rtol == 1e-2


def test_counterexample_judges_members_under_the_callers_policy(split_parallel):
    p, pairs = split_parallel
    spec = Parallelism(pairs)
    # Default √ε: raw and identifiable both false, and no member can flip (none has it).
    assert idlin.counterexample(p, spec).member is None
    # At 0.05 the identifiable verdict holds, the raw one does not: the minimal model (raw =
    # identifiable there, §7.3) has it. Judged under the default policy it would not.
    for c in (
        idlin.counterexample(p, spec, precision=VERDICT),
        idlin.counterexample(idlin.analyze(p, precision=VERDICT), spec),
    ):
        assert (c.raw_on_p, c.identifiable, c.construction, c.raw_on_member) == (
            False, True, "minimal", True,
        )  # fmt: skip
        assert idlin.equivalent(p, c.member)
        m = np.asarray(c.member.embeddings, np.float64)
        assert sigma_ratio(m, pairs) <= 0.05 < sigma_ratio(np.asarray(p.embeddings), pairs)


def test_all_or_none_and_properties_follow_one_policy(split_parallel):
    p, pairs = split_parallel
    r = idlin.all_or_none(p, Parallelism(pairs), key=jax.random.key(0), precision=VERDICT)
    assert all(r.identifiable) and r.raw[0] is False and r.raw[1] is True  # p, minimal
    res = idlin.parallelism(p, pairs, form="identifiable", precision=VERDICT, permutations=0)
    assert res.holds and res.tol == 0.05 and res.precision.verdict_tol == 0.05


def test_relational_linearity_separates_cut_off_rank_and_verdict():
    """The verdict tolerance no longer sets the rank of [S, 1] (vacuity) or the fit's cut-off."""
    rng = np.random.default_rng(1)
    F = rng.normal(size=(8, 3)) * np.array([1.0, 1.0, 1e-6])
    p = idlin.Predictor(F, rng.normal(size=(10, 3)))
    pairs = np.array([[0, 4], [1, 5], [2, 6], [3, 7]])
    S1 = np.concatenate([F[pairs[:, 0]], np.ones((4, 1))], axis=1)
    assert np.linalg.matrix_rank(S1, rtol=1.5e-8) == 4
    assert np.linalg.matrix_rank(S1, rtol=1e-3) == 3
    assert np.linalg.matrix_rank(S1, rtol=0.5) < 4  # the old rule at a verdict tol of 0.5
    run = lambda **k: idlin.relational_linearity(p, pairs, precision=idlin.Precision(**k))  # noqa: E731
    assert idlin.relational_linearity(p, pairs).vacuous
    assert run(verdict_tol=0.5).vacuous  # the verdict's tolerance leaves the rank alone
    assert not run(rank_rtol=1e-3).vacuous
    loose = run(verdict_tol=0.5)
    assert loose.tol == 0.5 and loose.precision.resolved_lstsq_rcond() == np.sqrt(
        np.finfo(np.float64).eps
    )


def test_the_cli_and_the_reports_follow_the_policy(near_pair, split_parallel, tmp_path):
    from typer.testing import CliRunner

    from idlin.apps.cli import app
    from idlin.apps.report import comparison_dict, inspect_model
    from idlin.apps.report import verify as report_verify

    p, q, _ = near_pair
    for name, m in (("p", p), ("q", q)):
        np.savez(tmp_path / f"{name}.npz", embeddings=m.embeddings, unembeddings=m.unembeddings)
    files = [str(tmp_path / "p.npz"), str(tmp_path / "q.npz")]
    default = CliRunner().invoke(app, ["verify", *files, "--json"])
    assert default.exit_code == 1, default.output
    assert json.loads(default.stdout)["verdict"] == "near-equivalent"
    loose = CliRunner().invoke(app, ["verify", *files, "--json", "--rtol", "1e-2"])
    assert loose.exit_code == 0, loose.output
    out = json.loads(loose.stdout)
    assert out["verdict"] == "equivalent" and out["rtol"] == 1e-2
    assert out["precision"]["equivalence_rtol"] == 1e-2 and out["precision"]["near_rtol"] == 0.1
    for bad in ("0", "-1", "nan", "inf"):  # refused as the policy refuses it: exit 2, one line
        refused = CliRunner().invoke(app, ["verify", *files, "--rtol", bad])
        assert refused.exit_code == 2 and "--rtol" in refused.stderr, refused.output
        with pytest.raises(idlin.ConfigError, match="equivalence_rtol"):
            idlin.Precision(equivalence_rtol=float(bad))
    # The verify report, in process: same verdict, the policy in its JSON.
    c = report_verify(p, q, precision=LOOSE)
    assert c.verdict == idlin.compare(p, q, precision=LOOSE).verdict == "equivalent"
    d = comparison_dict(c)
    assert d["precision"]["equivalence_rtol"] == 1e-2 and d["rtol"] == 1e-2
    json.dumps(d)
    # The inspect report: every property under the given verdict tolerance, recorded.
    sp, pairs = split_parallel
    ins = inspect_model(sp, tol=0.05, pairs=pairs, permutations=0, holdout=0)
    par = ins.properties[0]
    assert (par.raw.holds, par.identifiable.holds) == (False, True)
    assert par.identifiable.precision.resolved_verdict_tol() == 0.05
    assert (
        json.loads(json.dumps(ins.to_dict()))["properties"][0]["raw"]["precision"]["verdict_tol"]
        == 0.05
    )


# --------------------------------------------------------------------------------------------
# Deprecation shims: each still works, and warns exactly once, at the caller's line.


def _one_warning(call):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = call()
    ours = [w for w in rec if issubclass(w.category, idlin.IdlinDeprecationWarning)]
    assert len(ours) == 1, [str(w.message) for w in rec]
    assert ours[0].filename == __file__  # attributed to the caller
    assert "precision=idlin.Precision(" in str(ours[0].message)
    return out


@pytest.fixture(scope="module")
def low_rank():
    """A model whose third singular direction is 1e-5 relative: r = 3 at √ε, 2 at 1e-3."""
    rng = np.random.default_rng(2)
    F = rng.normal(size=(12, 3)) * np.array([1.0, 1.0, 1e-5])
    return idlin.Predictor(F, rng.normal(size=(9, 3)))


RANK = idlin.Precision(rank_rtol=1e-3)


def _rank_shims(p):
    K = jax.random.key(0)
    pairs, ctx, labels = np.array([[0, 1], [2, 3]]), np.arange(6), np.array([0, 1] * 3)
    a = idlin.analyze(p)
    return {
        "analyze": (lambda **k: idlin.analyze(p, **k), lambda r: r.effective_complexity),
        "with_precision": (lambda **k: a.with_precision(**k), lambda r: r.effective_complexity),
        "subspaces": (lambda **k: idlin.subspaces(p, **k), lambda r: r.effective_complexity),
        "canonical": (lambda **k: idlin.canonical(p, **k), lambda r: r.rank),
        "minimal": (lambda **k: idlin.minimal(p, **k), lambda r: r.width),
        "recover_extended_map": (
            lambda **k: idlin.recover_extended_map(p, p, **k), lambda r: r.rank),
        "sample_equivalent": (
            lambda **k: idlin.sample_equivalent(p, key=K, moves=("shrink",), **k),
            lambda r: r.width),
        "principal_angles": (
            lambda **k: idlin.core.metrics.principal_angles(p, p, **k), lambda r: r.dims),
        "canonical_fit": (lambda **k: idlin.canonical_fit(p, p, **k), lambda r: r.ranks),
        "parallelism": (
            lambda **k: idlin.parallelism(p, pairs, form="identifiable", permutations=0, **k),
            lambda r: r.precision.rank_rtol),
        "relational_linearity": (
            lambda **k: idlin.relational_linearity(p, pairs, **k), lambda r: r.precision.rank_rtol),
        "linear_probe": (
            lambda **k: idlin.linear_probe(p, ctx, labels, folds=0, **k),
            lambda r: r.cover_probability),
        "steering": (
            lambda **k: idlin.steering(p, np.ones(3), random_vectors=0, **k),
            lambda r: r.precision.rank_rtol),
        "all_or_none": (
            lambda **k: idlin.all_or_none(p, Parallelism(pairs), key=K, members=1, **k),
            lambda r: r.widths),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_rank_shims(idlin.Predictor(np.eye(2), np.eye(2)))))
def test_rank_rtol_shims_warn_once_and_still_work(low_rank, name):
    call, read = _rank_shims(low_rank)[name]
    old = _one_warning(lambda: call(rtol=1e-3))
    assert read(old) == read(call(precision=RANK))
    if name in ("analyze", "with_precision", "subspaces", "canonical", "minimal"):
        assert read(old) == 2 != read(call())  # the shim did apply the threshold


def test_recover_linear_map_shim(near_pair):
    p = near_pair[0]
    m = _one_warning(lambda: idlin.recover_linear_map(p, p, rtol=1e-6))
    np.testing.assert_allclose(m.matrix, np.eye(3), atol=1e-10)


PROPERTIES = ["parallelism", "relational_linearity", "linear_probe", "steering"]


@pytest.mark.parametrize("name", PROPERTIES)
def test_verdict_tol_shims_warn_once_and_still_work(split_parallel, name):
    p, pairs = split_parallel
    calls = {
        "parallelism": lambda **k: idlin.parallelism(p, pairs, form="identifiable",
                                                     permutations=0, **k),
        "relational_linearity": lambda **k: idlin.relational_linearity(p, pairs, **k),
        "linear_probe": lambda **k: idlin.linear_probe(p, [0, 1, 2, 3], [0, 1, 0, 1], folds=0,
                                                       **k),
        "steering": lambda **k: idlin.steering(p, np.ones(3), random_vectors=0, **k),
    }  # fmt: skip
    old = _one_warning(lambda: calls[name](tol=0.05))
    new = calls[name](precision=VERDICT)
    assert (old.holds, old.score, old.tol) == (new.holds, new.score, new.tol)
    assert old.tol == 0.05 != calls[name]().tol
    # Both deprecated keywords at once: still one warning.
    both = _one_warning(lambda: calls[name](tol=0.05, rtol=1e-6))
    assert both.tol == 0.05 and both.precision.rank_rtol == 1e-6


def test_spec_field_shims_warn_once_at_construction(split_parallel):
    p, pairs = split_parallel
    spec = _one_warning(lambda: Parallelism(pairs, tol=0.05))
    a = idlin.analyze(p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # evaluating, resolving, the harness: no second warning
        assert spec.evaluate(a, form="identifiable").holds
        assert idlin.counterexample(p, spec).construction == "minimal"
        steer = _one_warning(lambda: idlin.properties.Steering(vector=np.ones(3), tol=0.05))
        assert steer.resolve(a).evaluate(a, form="raw").tol == 0.05
    rel = _one_warning(lambda: RelationalLinearity(pairs, rtol=1e-3))
    assert rel.evaluate(a, form="raw").precision.rank_rtol == 1e-3


def test_equivalence_shims_warn_once_and_still_work(near_pair):
    from idlin.apps.report import verify as report_verify

    p, q, _ = near_pair
    old = _one_warning(lambda: idlin.compare(p, q, rtol=1e-2))
    assert old.verdict == "equivalent" and old.tolerance == 1e-2
    near = _one_warning(lambda: idlin.compare(p, q, near_rtol=1e-9))
    assert near.verdict == "not equivalent" and near.near_tolerance == 1e-9
    both = _one_warning(lambda: idlin.compare(p, q, rtol=1e-12, near_rtol=1e-9))
    assert both.verdict == "not equivalent"
    rep = _one_warning(lambda: report_verify(p, q, rtol=1e-2))
    assert rep.verdict == "equivalent"
    with pytest.raises(idlin.ConfigError, match="equivalence_rtol"):
        idlin.compare(p, q, rtol=0.0)  # refused before any warning (errors are errors)


def test_cca_and_random_members_shims():
    from idlin.properties._all_or_none import random_members

    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2))
    X = np.column_stack([X, X[:, 0] + 1e-9 * rng.normal(size=30)])  # nearly collinear
    old = _one_warning(lambda: idlin.core.metrics.cca(X, rng.normal(size=(30, 2)), rtol=1e-6))
    assert old.ranks[0] == 2 and old.rtol == 1e-6  # the near-dependent direction is cut
    assert idlin.core.metrics.cca(X, X[:, :2]).ranks[0] == 3  # the default max(n, d)·ε keeps it
    p = idlin.Predictor(rng.normal(size=(6, 2)), rng.normal(size=(5, 2)))
    members = _one_warning(lambda: random_members(p, key=jax.random.key(0), count=1, rtol=1e-6))
    assert len(members) == 1 and idlin.equivalent(p, members[0][1])


def test_the_warning_class_is_idlins_own():
    assert issubclass(idlin.IdlinDeprecationWarning, DeprecationWarning)
    assert not issubclass(idlin.IdlinDeprecationWarning, idlin.IdlinError)


# --------------------------------------------------------------------------------------------
# No threshold rule outside _precision.py (a ratchet: counts may only go down)

# Tokens that make a tolerance rule: machine ε read directly, a least-squares or rank routine
# left to its library default or given a literal cut-off, a policy constant defined elsewhere.
POLICY_NAMES = {"NEAR_RTOL", "CAUSAL_REG", "EQUIVALENCE_RTOL", "FLOOR_FACTOR"}
DEFAULTED = {"lstsq", "matrix_rank", "pinv"}

# Rules not yet moved into _precision.py, in modules owned elsewhere (issue 24): may only shrink.
KNOWN = {
    "idlin/properties/audit/_catalogue.py": 1,  # _rtol: √ε of the compute dtype for its pinv
    "idlin/core/_gap.py": 2,  # the QR form's Cholesky shift (n+k)·ε₆₄, its exponent limit
    "idlin/core/_gram.py": 1,  # the Gram route's tail bound (the decomposition's own error model)
    "idlin/core/io.py": 1,  # machine_epsilon(dtype): reported, not decided with
    "idlin/lab/models/_jacobian.py": 1,  # lstsq rcond=None of the Jacobian fit (laboratory)
    "idlin/lab/data/_morphology.py": 1,  # matrix_rank of a generated truth (laboratory)
    "idlin/properties/_probe.py": 1,  # ridge = 1e-3: the held-out classifier's penalty, a
    # model choice like metrics.cca's reg, not a tolerance
}


def tolerance_rules(source: str, *, core: bool = False) -> int:
    """The lines of Python source that hold a tolerance rule (strings and comments ignored);
    in `core` modules (jax/numpy/scipy only: `idlin/_*.py`, properties, metrics) a float
    literal below 0.01 counts as one too."""
    toks = [
        t
        for t in tokenize.generate_tokens(_io.StringIO(source).readline)
        if t.type not in (tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE)
    ]
    lines = set()
    for i, t in enumerate(toks):
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        prev = toks[i - 1].string if i else ""
        if core and t.type == tokenize.NUMBER:
            value = ast.literal_eval(t.string)
            if isinstance(value, float) and 0 < value < 0.01:
                lines.add(t.start[0])
        if t.type != tokenize.NAME:
            continue
        if t.string == "finfo" or (t.string == "eps" and prev == "."):
            lines.add(t.start[0])
        elif t.string in POLICY_NAMES and nxt == "=" and t.start[1] == 0:
            lines.add(t.start[0])
        elif t.string in ("rcond", "rtol") and nxt == "=" and prev in (",", "("):
            value = toks[i + 2]
            if value.type == tokenize.NUMBER or (t.string, value.string) == ("rcond", "None"):
                lines.add(t.start[0])
        elif t.string in DEFAULTED and nxt == "(" and prev == ".":
            depth, j, named = 0, i + 1, False
            while j < len(toks):
                depth += {"(": 1, ")": -1}.get(toks[j].string, 0)
                named |= toks[j].string in ("rcond", "rtol") and depth == 1
                if depth == 0:
                    break
                j += 1
            if not named:
                lines.add(t.start[0])
    return len(lines)


def is_core(rel: str) -> bool:
    name = rel.split("/")
    return (len(name) == 2 and name[1].startswith("_")) or name[1] in ("properties", "metrics")


def test_no_tolerance_rule_outside_the_precision_module():
    found = {}
    for path in sorted((ROOT / "idlin").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "idlin/core/_precision.py":
            continue
        n = tolerance_rules(path.read_text(), core=is_core(rel))
        if n:
            found[rel] = n
    over = {f: n for f, n in found.items() if n > KNOWN.get(f, 0)}
    assert not over, f"tolerance rules outside idlin/core/_precision.py: {over}"
    assert tolerance_rules("x = np.finfo(d).eps\ny = np.linalg.lstsq(A, b)[0]\n") == 2
    assert tolerance_rules("def f(reg=1e-8):\n    return reg\n", core=True) == 1


def test_removed_leftovers_stay_removed():
    import idlin.apps.report
    import idlin.properties

    for module, name in (
        (idlin.properties, "default_tol"),
        (idlin.apps.report, "ModelSummary"),
        (idlin.apps.report, "rank_rtol"),
        (idlin.apps.report, "equivalence_rtol"),
    ):
        assert not hasattr(module, name), name
    from idlin.core import _compare, _subspaces
    from idlin.properties import _result

    assert not hasattr(_subspaces, "default_rtol") and not hasattr(_result, "as_indices")
    assert not hasattr(_compare, "NEAR_RTOL")
    assert dataclasses.fields(idlin.Precision)  # still a dataclass
