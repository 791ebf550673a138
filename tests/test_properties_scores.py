"""One definition per property (issue 24): each property's score is one JAX function in
`idlin/properties/`, and the audit's catalogue calls it, so the report card audits what
`idlin.<property>` (and `inspect`) reports. Checked against float64 NumPy references on seeded
random models."""

import ast
import inspect as pyinspect
import pathlib

import jax
import numpy as np
import pytest

import idlin
from idlin.properties import _parallelism, _probe, _relational, _steering
from idlin.properties.audit import _catalogue
from idlin.properties.audit._catalogue import build, default_probes

SEEDS = range(4)


def _model(seed):
    rng = np.random.default_rng(seed)
    N, V, d = 12, 9, int(rng.integers(3, 7))
    return idlin.Predictor(rng.normal(size=(N, d)), rng.normal(size=(V, d)))


def _card(name, pr, p):
    return float(build(name, pr)(p.embeddings, p.unembeddings))


# -- the scores against NumPy ---------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_parallelism_score_matches_numpy(seed):
    D = np.random.default_rng(seed).normal(size=(5, 7))
    U = D / np.linalg.norm(D, axis=1, keepdims=True)
    s = np.linalg.svd(U, compute_uv=False)
    assert float(_parallelism.parallelism_score(D)) == pytest.approx(s[1] / s[0], rel=1e-12)
    off = (U @ U.T).sum() - np.trace(U @ U.T)
    assert float(_parallelism.mean_cosine(D)) == pytest.approx(off / 20, rel=1e-12, abs=1e-14)


def test_parallelism_score_is_zero_for_parallel_rows_and_one_column():
    D = np.outer([1.0, -2.0, 3.0], [1.0, 2.0])
    assert float(_parallelism.parallelism_score(D)) < 1e-12
    assert float(_parallelism.parallelism_score(np.array([[1.0], [2.0]]))) == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_steering_score_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    B, delta = rng.normal(size=(9, 3)), rng.normal(size=9)
    coef = np.linalg.lstsq(B, delta, rcond=None)[0]
    want = np.linalg.norm(delta - B @ coef) / np.linalg.norm(delta)
    got = float(_steering.steering_score(delta, B, 1e-10))
    assert got == pytest.approx(want, rel=1e-12)
    Q = np.linalg.qr(B)[0]
    assert float(_steering.steering_score(delta, Q)) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_faithfulness_scores_match_numpy(seed):
    rng = np.random.default_rng(seed)
    points, decoder = rng.normal(size=(10, 3)), rng.normal(size=(7, 3))
    train, test = np.array([[0, 1], [2, 3], [4, 5], [6, 7]]), np.array([[8, 9], [1, 0]])
    S1 = np.hstack([points[train[:, 0]], np.ones((4, 1))])
    X = np.linalg.lstsq(S1, points[train[:, 1]], rcond=None)[0]
    pred = (np.hstack([points[test[:, 0]], np.ones((2, 1))]) @ X) @ decoder.T
    true = points[test[:, 1]] @ decoder.T

    def log_softmax(L):
        L = L - L.max(axis=1, keepdims=True)
        return L - np.log(np.exp(L).sum(axis=1, keepdims=True))

    lp, lq = log_softmax(true), log_softmax(pred)
    kl = np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1))
    top1 = np.mean(pred.argmax(1) == true.argmax(1))
    agree, got = _relational.faithfulness_scores(points, decoder, train, test, 1e-10)
    assert float(got) == pytest.approx(kl, rel=1e-10)
    assert float(agree) == top1


def _hard_margin(X, labels):
    """Independent reference: min ½‖u‖² s.t. ℓᵢ[xᵢ/ρ, 1]ᵀu ≥ 1 by SciPy's SLSQP; margin 1/‖u‖."""
    from scipy.optimize import minimize

    rho = np.sqrt(np.mean(np.sum(X**2, axis=1)))
    A = labels[:, None] * np.hstack([X / rho, np.ones((len(X), 1))])
    feasible = {"type": "ineq", "fun": lambda u: A @ u - 1, "jac": lambda u: A}
    start = np.linalg.lstsq(A, np.ones(len(X)), rcond=None)[0] * 2
    res = minimize(
        lambda u: 0.5 * u @ u, start, jac=lambda u: u, constraints=[feasible],
        method="SLSQP", options={"ftol": 1e-14, "maxiter": 500},
    )  # fmt: skip
    assert res.success
    return 1 / np.linalg.norm(res.x)


@pytest.mark.parametrize("seed", SEEDS)
def test_probe_margin_is_the_hard_margin_and_differentiable(seed):
    """`probe_margin` on separable labels: the hard-margin margin of an independent QP solver,
    and its gradient the derivative of that maximum (central differences); on labels no probe
    separates it is ≤ 0, with a finite gradient."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(12, 3))
    labels = np.sign(X @ rng.normal(size=3) + 0.1)
    got = float(_probe.probe_margin(X, labels))
    assert got == pytest.approx(_hard_margin(X, labels), rel=1e-6)
    assert got == pytest.approx(_probe.max_margin(X, labels)[0], rel=1e-12)
    grad = np.asarray(jax.grad(_probe.probe_margin)(X, labels))
    E, h = rng.normal(size=X.shape), 1e-6
    fd = (_probe.probe_margin(X + h * E, labels) - _probe.probe_margin(X - h * E, labels)) / (2 * h)
    assert float(np.sum(grad * E)) == pytest.approx(float(fd), rel=1e-4, abs=1e-9)
    xor = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]] * 3)
    signs = np.array([1.0, 1.0, -1.0, -1.0] * 3)
    assert float(_probe.probe_margin(xor, signs)) <= 0
    zero = float(_probe.probe_margin(np.zeros((6, 2)), np.array([1.0, -1.0] * 3)))
    assert np.isfinite(zero) and zero <= 0  # all-zero points: no separator, never NaN
    assert np.all(np.isfinite(np.asarray(jax.grad(_probe.probe_margin)(xor, signs))))


@pytest.mark.parametrize("seed", SEEDS)
def test_card_margin_is_idlin_linear_probe_score(seed):
    """The card's probe rows audit `idlin.linear_probe`'s margin (what `inspect` prints), on
    labels separable in every member."""
    p = _model(seed)
    pr = default_probes(p, seed=seed)
    everyone = np.arange(p.num_contexts)
    for form in ("raw", "identifiable"):
        card = _card(f"{form}_margin", pr, p)
        r = idlin.linear_probe(p, everyone, pr.labels, form=form, folds=0, random_labels=0)
        assert card == pytest.approx(r.score, rel=1e-9, abs=1e-12), (form, card, r.score)
        assert r.holds and r.score > 1e-3


# -- the card audits what idlin.<property> reports -----------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_card_steering_is_idlin_steering_score(seed):
    p = _model(seed)
    pr = default_probes(p, seed=seed)
    for form in ("raw", "identifiable"):
        card = _card(f"{form}_steering", pr, p)
        score = idlin.steering(p, shift=pr.delta, form=form).score
        assert card == pytest.approx(score, rel=1e-9, abs=1e-12), (form, card, score)
    assert idlin.steering(p, shift=pr.delta, form="identifiable").score > 1e-3


@pytest.mark.parametrize("seed", SEEDS)
def test_card_faithfulness_is_idlin_relational_mean_kl(seed):
    p = _model(seed)
    pr = default_probes(p, seed=seed)
    ntr = len(pr.pairs) - pr.test
    for form in ("raw", "identifiable"):
        card = _card(f"{form}_faithfulness", pr, p)
        r = idlin.relational_linearity(p, pr.pairs[:ntr], pr.pairs[ntr:], form=form)
        assert card == pytest.approx(r.mean_kl, rel=1e-9, abs=1e-12), (form, card, r.mean_kl)
        assert r.mean_kl > 1e-6


# -- the catalogue defines no score of its own ----------------------------------------------
OWNED = {
    "parallelism_score": _parallelism.parallelism_score,
    "steering_score": _steering.steering_score,
    "faithfulness_scores": _relational.faithfulness_scores,
    "probe_margin": _probe.probe_margin,
}


def test_catalogue_scores_are_the_properties_functions():
    for name, fn in OWNED.items():
        assert getattr(_catalogue, name) is fn, name


@pytest.mark.parametrize(
    ("measure", "name"),
    [
        ("raw_parallelism", "parallelism_score"),
        ("identifiable_parallelism", "parallelism_score"),
        ("raw_steering", "steering_score"),
        ("identifiable_steering", "steering_score"),
        ("raw_faithfulness", "faithfulness_scores"),
        ("identifiable_faithfulness", "faithfulness_scores"),
        ("raw_margin", "probe_margin"),
        ("identifiable_margin", "probe_margin"),
    ],
)
def test_catalogue_property_rows_call_the_properties_function(measure, name, monkeypatch):
    """Swap the function the catalogue calls for a spy that doubles it: the row calls it, and
    its value follows the spy's."""
    p = _model(0)
    pr = default_probes(p, seed=0)
    real = OWNED[name]
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return jax.tree_util.tree_map(lambda x: 2.0 * x, real(*args, **kwargs))

    before = _card(measure, pr, p)
    monkeypatch.setattr(_catalogue, name, spy)
    after = _card(measure, pr, p)
    assert calls, measure
    if measure == "identifiable_steering":
        return  # at p itself col(Xᵀ) is all of B's coordinates: the part it scores is 0
    assert after != pytest.approx(before, rel=1e-6), (measure, before, after)


def test_catalogue_source_defines_no_property_score():
    """An AST scan: no function of the catalogue computes a property's score itself."""
    tree = ast.parse(pyinspect.getsource(_catalogue))
    words = ("parallel", "margin", "steer", "faithful", "span", "kl", "affine")
    defined = [
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(w in n.name.lower() for w in words)
        and n.name not in {"raw_faithfulness", "identifiable_faithfulness", "identifiable_steering"}
    ]
    assert defined == []


# -- "both forms of a property" is written once ----------------------------------------------
def test_both_forms_is_the_two_calls_and_catches_only_what_it_is_told():
    from idlin.properties import both_forms

    p = _model(1)
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    forms = both_forms(
        idlin.parallelism, p, pairs, permutations=0, identifiable={"geometry": "whitened"}
    )
    assert forms.raw == idlin.parallelism(p, pairs, permutations=0, form="raw")
    want = idlin.parallelism(p, pairs, permutations=0, form="identifiable", geometry="whitened")
    assert forms.identifiable == want
    bad = np.array([[0, 0], [1, 2]])
    with pytest.raises(idlin.ProbeError):
        both_forms(idlin.parallelism, p, bad)
    caught = both_forms(idlin.parallelism, p, bad, catch=idlin.ProbeError)
    assert isinstance(caught.raw, idlin.ProbeError)
    assert isinstance(caught.identifiable, idlin.ProbeError)


def _sources():
    root = pathlib.Path(idlin.__file__).parent
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in root.rglob("*.py")]


def test_no_function_takes_both_forms_itself():
    """Outside `properties._result.both_forms`, no function calls a property with both
    `form="raw"` and `form="identifiable"`, and nothing redefines `FORMS`."""
    offenders = []
    for path, tree in _sources():
        if path.name == "_result.py" and path.parent.name == "properties":
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "FORMS" for t in fn.targets
            ):
                offenders.append(f"{path.name}: FORMS =")
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            forms = {
                kw.value.value
                for call in ast.walk(fn)
                if isinstance(call, ast.Call)
                for kw in call.keywords
                if kw.arg == "form" and isinstance(kw.value, ast.Constant)
            }
            if {"raw", "identifiable"} <= forms:
                offenders.append(f"{path.name}:{fn.name}")
    assert offenders == []
