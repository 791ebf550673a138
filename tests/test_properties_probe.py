"""Linear probing, raw and identifiable (docs/theory.md §6, §7), against NumPy/SciPy float64."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize

import idlin
from idlin.testing import class_members, separable_labels

FORMS = ("raw", "identifiable")


def reference_margin(X, labels):
    """Max-margin homogeneous separator of ℓ·[X/ρ, 1] by SLSQP on `min ‖u‖² s.t. ℓ x̃ᵀu ≥ 1`
    (an independent solver); None when infeasible."""
    X = X / np.sqrt(np.mean(np.sum(X**2, 1)))
    A = labels[:, None] * np.c_[X, np.ones(len(X))]
    res = minimize(
        lambda u: u @ u,
        np.ones(A.shape[1]),
        jac=lambda u: 2 * u,
        constraints=[{"type": "ineq", "fun": lambda u: A @ u - 1, "jac": lambda u: A}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    if not res.success or np.min(A @ res.x) < 1 - 1e-6:
        return None
    return 1.0 / np.linalg.norm(res.x)


def points(p, side, form):
    F = np.asarray(p.embeddings, np.float64)
    Gh = np.asarray(p.unembeddings, np.float64)
    Gh = Gh - Gh.mean(0)
    C = F @ Gh.T
    raw = F if side == "embedding" else Gh
    return raw if form == "raw" else (C if side == "embedding" else C.T)


@given(data=st.data(), planted=st.booleans())
def test_matches_scipy_reference(data, planted):
    case = data.draw(separable_labels(planted=planted))
    for form in FORMS:
        got = idlin.linear_probe(
            case.predictor, case.contexts, case.labels, side=case.side, form=form
        )
        ref = reference_margin(points(case.predictor, case.side, form)[case.contexts], case.labels)
        assert got.holds == planted == (ref is not None)
        if planted:
            assert abs(got.score - ref) <= 1e-6 * ref
            assert got.accuracy == 1.0
        else:
            assert got.score <= got.tol and got.accuracy < 1.0


@given(data=st.data(), planted=st.booleans())
def test_identifiable_is_invariant_over_the_class(data, planted):
    """§7.1: the margin in C-isometric coordinates is the same in every member."""
    case = data.draw(separable_labels(planted=planted))
    p = case.predictor
    q = data.draw(class_members(p))
    args = (case.contexts, case.labels)
    a = idlin.linear_probe(p, *args, side=case.side, form="identifiable")
    b = idlin.linear_probe(q, *args, side=case.side, form="identifiable")
    assert a.holds == b.holds == planted
    if planted:
        assert abs(a.score - b.score) <= 1e-8 * a.score


@given(data=st.data(), planted=st.booleans())
def test_one_way_implication_and_inclusion(data, planted):
    """§7.2 identifiable ⇒ raw in every member; §7.3 under inclusion they agree."""
    case = data.draw(separable_labels(planted=planted))
    p = case.predictor
    args = (case.contexts, case.labels)
    for q in (p, data.draw(class_members(p)), idlin.minimal(p)):
        raw = idlin.linear_probe(q, *args, side=case.side, form="raw")
        ident = idlin.linear_probe(q, *args, side=case.side, form="identifiable")
        assert raw.holds or not ident.holds
        if raw.inclusion.holds:
            assert raw.holds == ident.holds


@given(data=st.data(), planted=st.booleans())
def test_diverse_fixed_width_class_is_all_or_none(data, planted):
    """§7.5: a basis change and a shift keep separability of a diverse model."""
    from idlin.testing import predictors

    case = data.draw(separable_labels(planted=planted, base=predictors(diverse=True)))
    q = data.draw(class_members(case.predictor, menu=(("basis", "shift", "basis"),)))
    args = (case.contexts, case.labels)
    assert idlin.linear_probe(q, *args, side=case.side).holds == planted


def test_degenerate_labels_raise():
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    with pytest.raises(idlin.ProbeError, match="two classes"):
        idlin.linear_probe(p, [0, 1, 2], [1, 1, 1])
    with pytest.raises(idlin.ProbeError, match="two classes"):
        idlin.linear_probe(p, [0, 1, 2], [False, False, False])
    with pytest.raises(idlin.ProbeError, match="out-of-range"):
        idlin.linear_probe(p, [0, 1, 8], [0, 1, 1])
    with pytest.raises(idlin.ProbeError, match="distinct"):
        idlin.linear_probe(p, [0, 1, 1], [0, 1, 1])
    with pytest.raises(idlin.ProbeError, match=r"\{0, 1\}"):
        idlin.linear_probe(p, [0, 1, 2], [0, 1, 2])
    with pytest.raises(idlin.ShapeError, match="labels"):
        idlin.linear_probe(p, [0, 1, 2], [0, 1])
    with pytest.raises(idlin.DTypeError, match="integer"):
        idlin.linear_probe(p, [0.0, 1.0], [0, 1])


def test_label_encodings_agree():
    rng = np.random.default_rng(2)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    idx = [0, 1, 2, 3, 4]
    a = idlin.linear_probe(p, idx, [True, False, True, True, False])
    b = idlin.linear_probe(p, idx, [1, 0, 1, 1, 0])
    c = idlin.linear_probe(p, idx, [1, -1, 1, 1, -1])
    assert a.score == b.score == c.score
