"""Relational linearity, raw and identifiable (docs/theory.md §6, §7), against NumPy float64."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import idlin
from idlin.testing import affine_pairs, class_members

FORMS = ("raw", "identifiable")


def reference(p, train, test, side, form):
    """`(fit residual on all pairs, top-1 faithfulness, mean KL)` on raw rows or dense C."""
    F = np.asarray(p.embeddings, np.float64)
    Gh = np.asarray(p.unembeddings, np.float64)
    Gh = Gh - Gh.mean(0)
    C = F @ Gh.T
    if form == "raw":
        X, dec = (F, Gh) if side == "embedding" else (Gh, F)
    else:
        X, dec = (C, np.eye(C.shape[1])) if side == "embedding" else (C.T, np.eye(C.shape[0]))

    def fit(pairs):
        S1 = np.c_[X[pairs[:, 0]], np.ones(len(pairs))]
        return S1, np.linalg.lstsq(S1, X[pairs[:, 1]], rcond=None)[0]

    both = np.concatenate([train, test])
    S1, sol = fit(both)
    T = X[both[:, 1]]
    residual = np.linalg.norm(T - S1 @ sol) / np.linalg.norm(T - T.mean(0))
    _, sol = fit(train)
    pred = np.c_[X[test[:, 0]], np.ones(len(test))] @ sol @ dec.T
    true = X[test[:, 1]] @ dec.T
    agree = np.mean(pred.argmax(1) == true.argmax(1))
    lp = true - np.log(np.exp(true - true.max(1, keepdims=True)).sum(1, keepdims=True))
    lp -= true.max(1, keepdims=True)
    lq = pred - np.log(np.exp(pred - pred.max(1, keepdims=True)).sum(1, keepdims=True))
    lq -= pred.max(1, keepdims=True)
    kl = np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1))
    return residual, agree, kl


@given(data=st.data(), planted=st.booleans())
def test_matches_numpy_reference(data, planted):
    case = data.draw(affine_pairs(planted=planted))
    p, train, test = case.predictor, case.train_pairs, case.test_pairs
    for form in FORMS:
        got = idlin.relational_linearity(p, train, test, side=case.side, form=form)
        residual, agree, kl = reference(p, train, test, case.side, form)
        assert abs(got.residual - residual) <= 1e-8 * max(1.0, residual)
        assert got.holds == planted == (residual <= got.tol)
        assert got.score == agree
        if case.side == "embedding":
            assert abs(got.mean_kl - kl) <= 1e-8 * max(1.0, kl)
        else:
            assert got.mean_kl is None
        assert got.inclusion.holds  # diverse base: U = E = R^d


@given(data=st.data(), planted=st.booleans())
def test_identifiable_is_invariant_over_the_class(data, planted):
    """§7.1: residual verdict and faithfulness (top-1 and KL) are the same in every member."""
    case = data.draw(affine_pairs(planted=planted))
    p = case.predictor
    q = data.draw(class_members(p))
    args = (case.train_pairs, case.test_pairs)
    a = idlin.relational_linearity(p, *args, side=case.side, form="identifiable")
    b = idlin.relational_linearity(q, *args, side=case.side, form="identifiable")
    assert a.holds == b.holds == planted
    assert a.score == b.score
    assert abs(a.residual - b.residual) <= 1e-7 * max(1.0, a.residual)
    if a.mean_kl is not None:
        assert abs(a.mean_kl - b.mean_kl) <= 1e-8 * max(1.0, a.mean_kl)


@given(data=st.data(), planted=st.booleans())
def test_inclusion_makes_raw_equal_identifiable(data, planted):
    """§7.3: under inclusion the verdicts agree and so does the faithfulness."""
    case = data.draw(affine_pairs(planted=planted))
    p = case.predictor
    args = (case.train_pairs, case.test_pairs)
    for q in (p, data.draw(class_members(p)), idlin.minimal(p)):
        raw = idlin.relational_linearity(q, *args, side=case.side, form="raw")
        ident = idlin.relational_linearity(q, *args, side=case.side, form="identifiable")
        if raw.inclusion.holds:
            assert raw.holds == ident.holds
            assert raw.score == ident.score


@given(data=st.data(), planted=st.booleans())
def test_diverse_fixed_width_class_is_all_or_none(data, planted):
    """§7.5: a basis change and a shift keep the raw verdict (and score) of a diverse model."""
    case = data.draw(affine_pairs(planted=planted))
    q = data.draw(class_members(case.predictor, menu=(("basis", "shift", "basis"),)))
    args = (case.train_pairs, case.test_pairs)
    a = idlin.relational_linearity(case.predictor, *args, side=case.side)
    b = idlin.relational_linearity(q, *args, side=case.side)
    assert a.holds == b.holds == planted
    assert a.score == b.score


def test_neither_implication_holds():
    """§7.2: raw relations need not be identifiable, and identifiable ones need not be raw."""
    rng = np.random.default_rng(3)
    N, d = 12, 2
    G = np.c_[rng.normal(size=(7, d)), np.zeros(7)]  # e3 invisible
    S = rng.normal(size=(5, d))
    A = rng.normal(size=(d, d))
    F = np.zeros((N, d + 1))
    F[:5, :d] = S
    F[5:10, :d] = S @ A.T
    pairs = np.c_[np.arange(5), np.arange(5, 10)]
    # identifiable true, raw false: random invisible coordinates on the targets.
    F1 = F.copy()
    F1[5:10, d] = rng.normal(size=5)
    p1 = idlin.Predictor(F1, G)
    assert idlin.relational_linearity(p1, pairs, form="identifiable").holds
    assert not idlin.relational_linearity(p1, pairs, form="raw").holds
    # raw true, identifiable false: the targets are written from the invisible coordinate.
    k = rng.normal(size=5)
    F2 = np.zeros_like(F)
    F2[:5] = np.c_[rng.normal(size=(5, d)), k]
    F2[5:10, :d] = np.outer(k, rng.normal(size=d)) + rng.normal(size=d)
    p2 = idlin.Predictor(F2, G)
    raw = idlin.relational_linearity(p2, pairs, form="raw")
    assert raw.holds and not raw.inclusion.holds
    assert not idlin.relational_linearity(p2, pairs, form="identifiable").holds


def test_vacuous_fit_is_noted():
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    r = idlin.relational_linearity(p, [[0, 1], [2, 3]])
    assert r.holds and "vacuous" in r.note


def test_degenerate_pairs_raise():
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    with pytest.raises(idlin.ProbeError, match="duplicate pair"):
        idlin.relational_linearity(p, [[0, 1], [0, 1]])
    with pytest.raises(idlin.ProbeError, match="duplicate pair"):
        idlin.relational_linearity(p, [[0, 1], [2, 3]], [[0, 1]])
    with pytest.raises(idlin.ProbeError, match="out-of-range"):
        idlin.relational_linearity(p, [[0, 1], [2, 8]])
    with pytest.raises(idlin.ProbeError, match="out-of-range"):
        idlin.relational_linearity(p, [[0, 1], [2, 6]], side="unembedding")
    with pytest.raises(idlin.ProbeError, match="at least 1"):
        idlin.relational_linearity(p, np.zeros((0, 2), int))
    with pytest.raises(idlin.ShapeError, match=r"\(m, 2\)"):
        idlin.relational_linearity(p, [[0, 1, 2]])
