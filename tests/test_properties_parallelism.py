"""Parallelism of differences, raw and identifiable (docs/theory.md §6, §7), against NumPy
float64."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import idlin
from idlin.testing import class_members, parallel_pairs, predictors

SIDES = ("embedding", "unembedding")
FORMS = ("raw", "identifiable")


def reference(p, pairs, side, form):
    """σ₂/σ₁ of unit differences of raw rows (F or Ĝ) or of dense rows (columns) of C, and the
    inclusion residual `max ‖(I−P)Δ‖/‖Δ‖` with P from NumPy SVDs."""
    F = np.asarray(p.embeddings, np.float64)
    Gh = np.asarray(p.unembeddings, np.float64)
    Gh = Gh - Gh.mean(0)
    C = F @ Gh.T
    raw = F if side == "embedding" else Gh
    X = raw if form == "raw" else (C if side == "embedding" else C.T)
    D = X[pairs[:, 1]] - X[pairs[:, 0]]
    s = np.linalg.svd(D / np.linalg.norm(D, axis=1, keepdims=True), compute_uv=False)
    span = Gh if side == "embedding" else F  # U = rowspace Ĝ, E = rowspace F
    _, sv, Vt = np.linalg.svd(span, full_matrices=False)
    B = Vt[sv > np.sqrt(np.finfo(float).eps) * sv[0]].T
    Dr = raw[pairs[:, 1]] - raw[pairs[:, 0]]
    res = np.linalg.norm(Dr - Dr @ B @ B.T, axis=1) / np.linalg.norm(Dr, axis=1)
    return s[1] / s[0], res.max()


@given(data=st.data(), planted=st.booleans(), visible=st.booleans())
def test_matches_numpy_reference(data, planted, visible):
    case = data.draw(parallel_pairs(planted=planted, visible=visible))
    for form in FORMS:
        got = idlin.parallelism(case.predictor, case.pairs, side=case.side, form=form)
        score, residual = reference(case.predictor, case.pairs, case.side, form)
        assert abs(got.score - score) <= 1e-9 * max(1.0, score)
        assert abs(got.inclusion.residual - residual) <= 1e-9
        assert got.holds == (score <= got.tol) == planted
        assert (got.name, got.form, got.side) == ("parallelism", form, case.side)


@given(data=st.data(), planted=st.booleans())
def test_identifiable_is_invariant_over_the_class(data, planted):
    """§7.1: verdict and score of the identifiable form are the same in every member."""
    case = data.draw(parallel_pairs(planted=planted))
    p = case.predictor
    q = data.draw(class_members(p))
    assert idlin.equivalent(p, q)
    a = idlin.parallelism(p, case.pairs, side=case.side, form="identifiable")
    b = idlin.parallelism(q, case.pairs, side=case.side, form="identifiable")
    assert a.holds == b.holds == planted
    assert abs(a.score - b.score) <= 1e-8


@given(data=st.data(), visible=st.booleans())
def test_raw_implies_identifiable(data, visible):
    """§7.2: projecting parallel vectors keeps them parallel — also without inclusion."""
    case = data.draw(parallel_pairs(planted=True, visible=visible, base=predictors(diverse=False)))
    for q in (case.predictor, data.draw(class_members(case.predictor))):
        raw = idlin.parallelism(q, case.pairs, side=case.side, form="raw")
        ident = idlin.parallelism(q, case.pairs, side=case.side, form="identifiable")
        assert ident.holds or not raw.holds
    raw_p = idlin.parallelism(case.predictor, case.pairs, side=case.side)
    assert raw_p.holds
    # The planted invisible component really violates inclusion (non-diverse: U^⊥ ≠ 0 or E^⊥ ≠ 0
    # on at least one side; when the side's span is everything, inclusion holds trivially).
    s = idlin.subspaces(case.predictor)
    full = (s.unembedding_rank if case.side == "embedding" else s.embedding_rank) == s.width
    assert raw_p.inclusion.holds == (visible or full)


@given(data=st.data(), planted=st.booleans(), visible=st.booleans())
def test_inclusion_makes_raw_equal_identifiable(data, planted, visible):
    """§7.3: every member satisfying the inclusion condition has raw = identifiable."""
    case = data.draw(parallel_pairs(planted=planted, visible=visible))
    p = case.predictor
    for q in (p, data.draw(class_members(p)), idlin.minimal(p)):
        raw = idlin.parallelism(q, case.pairs, side=case.side, form="raw")
        ident = idlin.parallelism(q, case.pairs, side=case.side, form="identifiable")
        if raw.inclusion.holds:
            assert raw.holds == ident.holds


@given(data=st.data(), planted=st.booleans())
def test_diverse_fixed_width_class_is_all_or_none(data, planted):
    """§7.5: basis changes and shifts (Theorem L) keep the raw verdict of a diverse model."""
    case = data.draw(parallel_pairs(planted=planted, base=predictors(diverse=True)))
    q = data.draw(class_members(case.predictor, menu=(("basis", "shift", "basis"),)))
    a = idlin.parallelism(case.predictor, case.pairs, side=case.side)
    b = idlin.parallelism(q, case.pairs, side=case.side)
    assert a.holds == b.holds == planted


def _small():
    rng = np.random.default_rng(0)
    return idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))


@pytest.mark.parametrize("side", SIDES)
def test_degenerate_pairs_raise(side):
    p = _small()
    with pytest.raises(idlin.ProbeError, match="non-zero length"):
        idlin.parallelism(p, [[0, 0], [1, 2]], side=side)
    with pytest.raises(idlin.ProbeError, match="duplicate pair"):
        idlin.parallelism(p, [[0, 1], [2, 3], [0, 1]], side=side)
    with pytest.raises(idlin.ProbeError, match="duplicate pair"):
        idlin.parallelism(p, [[0, 1], [2, 3], [1, 0]], side=side)
    with pytest.raises(idlin.ProbeError, match="out-of-range"):
        idlin.parallelism(p, [[0, 1], [2, 9]], side=side)
    with pytest.raises(idlin.ProbeError, match="at least 2 pairs"):
        idlin.parallelism(p, [[0, 1]], side=side)
    with pytest.raises(idlin.ShapeError, match=r"\(m, 2\)"):
        idlin.parallelism(p, [0, 1, 2], side=side)
    with pytest.raises(idlin.DTypeError, match="integer"):
        idlin.parallelism(p, [[0.0, 1.0], [2.0, 3.0]], side=side)
    with pytest.raises(idlin.ConfigError, match="form"):
        idlin.parallelism(p, [[0, 1], [2, 3]], side=side, form="canonical")
    with pytest.raises(idlin.ConfigError, match="side"):
        idlin.parallelism(p, [[0, 1], [2, 3]], side="left")


def test_zero_identifiable_difference_is_reported_not_judged():
    """Two contexts with the same distribution but different embeddings (invisible part)."""
    rng = np.random.default_rng(1)
    G = np.c_[rng.normal(size=(6, 2)), np.zeros(6)]  # U = span(e1, e2), e3 invisible
    F = rng.normal(size=(7, 3))
    F[1] = F[0] + np.array([0.0, 0.0, 1.0])
    p = idlin.Predictor(F, G)
    raw = idlin.parallelism(p, [[0, 1], [2, 3]], form="raw")  # raw difference e3 is fine
    assert not raw.inclusion.holds
    with pytest.raises(idlin.ProbeError, match="same next-token distribution"):
        idlin.parallelism(p, [[0, 1], [2, 3]], form="identifiable")


@pytest.mark.parametrize("planted", [True, False])
def test_float32_uses_its_own_tolerance(planted):
    """float32: tol = √ε₃₂ ≈ 3.5e-4; an exact planted parallelism stays well below it."""
    rng = np.random.default_rng(5)
    F = rng.normal(size=(7, 3))
    u = rng.normal(size=3)
    F[1] = F[0] + u
    F[3] = F[2] + (-2.0 * u if planted else rng.normal(size=3))
    p = idlin.Predictor(F.astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32))
    for form in FORMS:
        r = idlin.parallelism(p, [[0, 1], [2, 3]], form=form)
        assert r.tol == pytest.approx(np.sqrt(np.finfo(np.float32).eps))
        assert r.holds == planted
        if planted:
            assert r.score < 1e-5
