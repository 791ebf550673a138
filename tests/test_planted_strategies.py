"""Meta-tests of the planted-property strategies (idlin.testing): the property is detected when
planted and not when absent, in both forms, checked against NumPy float64 references."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import idlin
from idlin.testing import (
    affine_pairs,
    parallel_pairs,
    separable_labels,
    steering_vectors,
)

FORMS = ("raw", "identifiable")


def _dense(p):
    F = np.asarray(p.embeddings, np.float64)
    G = np.asarray(p.unembeddings, np.float64)
    Gh = G - G.mean(axis=0)
    return F, Gh, F @ Gh.T


def _items(p, side, form):
    """Reference points: raw rows of F (Ĝ), or rows (columns) of the dense C."""
    F, Gh, C = _dense(p)
    if form == "raw":
        return F if side == "embedding" else Gh
    return C if side == "embedding" else C.T


def _ratio(X, pairs):
    D = X[pairs[:, 1]] - X[pairs[:, 0]]
    D = D / np.linalg.norm(D, axis=1, keepdims=True)
    s = np.linalg.svd(D, compute_uv=False)
    return s[1] / s[0]


@given(data=st.data(), planted=st.booleans())
def test_parallel_pairs_detected_iff_planted(data, planted):
    case = data.draw(parallel_pairs(planted=planted))
    assert case.pairs.shape[1] == 2 and len(np.unique(case.pairs)) == case.pairs.size
    for form in FORMS:
        ref = _ratio(_items(case.predictor, case.side, form), case.pairs)
        got = idlin.parallelism(case.predictor, case.pairs, side=case.side, form=form)
        assert got.holds == planted, (form, got)
        if planted:
            assert ref < 1e-10 and got.score < 1e-10
        else:
            assert ref > 0.1 and abs(got.score - ref) < 1e-9 * max(1.0, ref)


@given(data=st.data(), planted=st.booleans())
def test_affine_pairs_detected_iff_planted(data, planted):
    case = data.draw(affine_pairs(planted=planted))
    both = np.concatenate([case.train_pairs, case.test_pairs])
    for form in FORMS:
        X = _items(case.predictor, case.side, form)
        S1 = np.c_[X[both[:, 0]], np.ones(len(both))]
        T = X[both[:, 1]]
        sol = np.linalg.lstsq(S1, T, rcond=None)[0]
        ref = np.linalg.norm(T - S1 @ sol) / np.linalg.norm(T - T.mean(0))
        got = idlin.relational_linearity(
            case.predictor, case.train_pairs, case.test_pairs, side=case.side, form=form
        )
        assert got.holds == planted, (form, got)
        assert got.note == ""  # more pairs than parameters: never vacuous
        if planted:
            assert ref < 1e-10 and got.score == 1.0
        else:
            assert ref > 1e-3


def _separable_reference(X, labels):
    """Exact separability by an LP (scipy HiGHS), independent of idlin's NNLS route."""
    from scipy.optimize import linprog

    A = labels[:, None] * np.c_[X, np.ones(len(X))]
    k = A.shape[1]
    # max t s.t. A w ≥ t, −1 ≤ w ≤ 1, t ≤ 1
    res = linprog(
        np.r_[np.zeros(k), -1.0],
        A_ub=np.c_[-A, np.ones(len(A))],
        b_ub=np.zeros(len(A)),
        bounds=[(-1, 1)] * k + [(None, 1)],
        method="highs",
    )
    return -res.fun


@given(data=st.data(), planted=st.booleans())
def test_separable_labels_detected_iff_planted(data, planted):
    case = data.draw(separable_labels(planted=planted))
    assert set(np.unique(case.labels)) == {-1, 1}
    for form in FORMS:
        X = _items(case.predictor, case.side, form)[case.contexts]
        X = X / np.sqrt(np.mean(np.sum(X**2, 1)))
        ref = _separable_reference(X, case.labels)
        got = idlin.linear_probe(
            case.predictor, case.contexts, case.labels, side=case.side, form=form
        )
        assert got.holds == planted, (form, got)
        assert (ref > 1e-6) == planted
        assert got.accuracy == 1.0 if planted else got.accuracy < 1.0


@given(data=st.data(), reachable=st.booleans())
def test_steering_vectors_reachable_iff_planted(data, reachable):
    case = data.draw(steering_vectors(reachable=reachable))
    p = case.predictor
    _F, Gh, C = _dense(p)
    delta = Gh @ case.vector
    U, s, _ = np.linalg.svd(C.T, full_matrices=False)
    W = U[:, s > 1e-8 * s[0]]
    ref = np.linalg.norm(delta - W @ (W.T @ delta)) / np.linalg.norm(delta)
    assert (ref < 1e-8) == reachable
    got = idlin.steering(p, case.vector, form="identifiable")
    assert got.holds == reachable and abs(got.score - ref) < 1e-8
    assert idlin.steering(p, case.vector, form="raw").holds  # p reaches its own δ
    # The minimal model reaches δ iff it is reachable in every member.
    q = idlin.minimal(p)
    assert idlin.steering(q, shift=delta, form="raw").holds == reachable
