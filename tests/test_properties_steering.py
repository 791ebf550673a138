"""Linear steering, raw and identifiable (docs/theory.md §6, §7), against NumPy float64."""

import jax
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import idlin
from idlin.testing import class_members, predictors, steering_vectors


def reference(G, C, delta):
    """Distances of δ from col(Ĝ) and from rowspace(C), by NumPy SVDs."""

    def dist(M):
        U, s, _ = np.linalg.svd(M, full_matrices=False)
        B = U[:, s > np.sqrt(np.finfo(float).eps) * s[0]]
        return np.linalg.norm(delta - B @ (B.T @ delta)) / np.linalg.norm(delta)

    return dist(G), dist(C.T)


def _dense(p):
    F = np.asarray(p.embeddings, np.float64)
    Gh = np.asarray(p.unembeddings, np.float64)
    Gh = Gh - Gh.mean(0)
    return Gh, F @ Gh.T


@given(data=st.data(), reachable=st.booleans())
def test_matches_numpy_reference_over_the_class(data, reachable):
    """Raw and identifiable residuals in p and a member; §7.1 invariance of the identifiable
    verdict; §7.2 identifiable ⇒ raw; the inclusion condition is the identifiable one."""
    case = data.draw(steering_vectors(reachable=reachable))
    p = case.predictor
    Gh, _ = _dense(p)
    delta = Gh @ case.vector
    for q in (p, data.draw(class_members(p)), idlin.minimal(p)):
        Ghq, Cq = _dense(q)
        raw_ref, id_ref = reference(Ghq, Cq, delta)
        raw = idlin.steering(q, shift=delta, form="raw")
        ident = idlin.steering(q, shift=delta, form="identifiable")
        assert abs(raw.score - raw_ref) <= 1e-8 and abs(ident.score - id_ref) <= 1e-8
        assert ident.holds == reachable
        assert raw.holds or not ident.holds
        assert raw.inclusion.holds == ident.holds
        if raw.inclusion.holds:
            assert raw.holds == ident.holds


@given(p=predictors(diverse=True), seed=st.integers(0, 2**32 - 1))
def test_diverse_fixed_width_class_is_all_or_none(p, seed):
    """§7.5: in a diverse model every steering vector is reachable, in every member."""
    v = np.random.default_rng(seed).normal(size=p.width)
    delta = idlin.properties.steering_shift(p, v)
    q = idlin.sample_equivalent(p, key=jax.random.key(seed), moves=("basis", "shift"))
    assert idlin.steering(q, shift=delta).holds
    assert idlin.steering(p, v, form="identifiable").holds


def test_vector_and_shift_agree():
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    v = rng.normal(size=3)
    delta = np.asarray(idlin.properties.steering_shift(p, v))
    a = idlin.steering(p, v, form="identifiable")
    b = idlin.steering(p, shift=delta + 5.0, form="identifiable")  # constant shifts don't count
    assert abs(a.score - b.score) < 1e-12


def test_degenerate_steering_raises():
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    with pytest.raises(idlin.ShapeError, match=r"shape \(3,\)"):
        idlin.steering(p, np.ones(4))
    with pytest.raises(idlin.ShapeError, match=r"shape \(6,\)"):
        idlin.steering(p, shift=np.ones(4))
    with pytest.raises(idlin.ProbeError, match="non-zero"):
        idlin.steering(p, shift=np.full(6, 2.0))
    with pytest.raises(idlin.ProbeError, match="non-zero"):
        idlin.steering(p, np.zeros(3))
    with pytest.raises(idlin.ConfigError, match="exactly one"):
        idlin.steering(p)
    with pytest.raises(idlin.ConfigError, match="exactly one"):
        idlin.steering(p, np.ones(3), shift=np.ones(6))
    # A vector in the null space of Ĝ: G with an invisible coordinate.
    G = np.c_[rng.normal(size=(6, 2)), np.full(6, 3.0)]
    q = idlin.Predictor(rng.normal(size=(7, 3)), G)
    with pytest.raises(idlin.ProbeError, match="null space"):
        idlin.steering(q, np.array([0.0, 0.0, 1.0]))


@given(p=predictors(), seed=st.integers(0, 2**32 - 1))
def test_vacuous_exactly_when_every_vector_reaches(p, seed):
    """§6.5: a vector's raw verdict is true of every vector (vacuous); its identifiable one is
    vacuous iff r = rank Ĝ (NumPy float64 ranks), and then random vectors of its norm reach too
    (their reach residuals are 0), while below that they do not. A given shift is never vacuous."""
    Gh, C = _dense(p)

    def rank(M):
        s = np.linalg.svd(M, compute_uv=False)
        return int(np.sum(s > np.sqrt(np.finfo(float).eps) * s[0]))

    v = np.random.default_rng(seed).normal(size=p.width)
    raw = idlin.steering(p, v, form="raw", random_vectors=20, seed=seed % 1000)
    ident = idlin.steering(p, v, form="identifiable", random_vectors=20, seed=seed % 1000)
    assert raw.vacuous and raw.holds
    every = rank(C) == rank(Gh)
    assert ident.vacuous == every
    reach = ident.control("random vectors", "reach residual")
    assert reach is not None
    if every:
        assert ident.holds and np.all(reach.samples == 0.0)
    else:
        assert np.all(reach.samples > 0.0)
    assert not idlin.steering(p, shift=Gh @ v, form="raw").vacuous


def test_vacuous_steering_is_read_as_no_evidence():
    """The report reads a vacuous steering verdict as no evidence and names why."""
    from idlin.apps.report import inspect_model
    from idlin.testing import planted_predictor

    ranks = dict(embedding_rank=4, unembedding_rank=4, effective_complexity=4)
    p = planted_predictor(0, shape=(12, 15, 4), **ranks)  # diverse: r = rank Ĝ = 4
    r = inspect_model(p, steering_vector=np.ones(4), permutations=10)
    (row,) = [pr for pr in r.properties if pr.name == "steering"]
    text = row.reading
    assert "every vector reaches its own shift" in text and "r = rank Ĝ = 4" in text
    assert "a fact about the distribution" not in text
