"""The all-or-none harness and the counterexamples of docs/theory.md §7.4, for every property and
side."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import idlin
from idlin.properties import LinearProbe, Parallelism, RelationalLinearity, Steering
from idlin.testing import (
    affine_pairs,
    parallel_pairs,
    separable_labels,
    steering_vectors,
)

# Each member is a new shape (a new compilation): a fifth of the profile's examples.
FEW = max(2, settings.default.max_examples // 5)


def check_flip(p, prop, c, *, raw_on_p):
    """The counterexample is equivalent to p and really flips the raw verdict."""
    assert c.member is not None, c.reason
    assert idlin.equivalent(p, c.member)
    assert c.raw_on_p == raw_on_p
    assert prop.resolve(p)(c.member, form="raw").holds == (not raw_on_p) == c.raw_on_member
    ident = prop.resolve(p)(c.member, form="identifiable")
    assert ident.holds == c.identifiable  # the identifiable verdict does not move


def check_harness(r, *, identifiable, raw_pattern):
    assert r.identifiable_agrees and set(r.identifiable) == {identifiable}
    assert r.max_relative_gap < 1e-8
    assert r.included_pattern != "split"  # §7.3: all or none under inclusion
    assert r.raw_pattern in raw_pattern, r
    assert r.raw[1] == identifiable  # the minimal model: raw = identifiable


@settings(max_examples=FEW)
@given(data=st.data(), planted=st.booleans())
def test_parallelism_split_or_none(data, planted):
    case = data.draw(parallel_pairs(planted=planted))
    p, prop = case.predictor, Parallelism(case.pairs, side=case.side)
    c = idlin.counterexample(p, prop, key=jax.random.key(1))
    r = idlin.all_or_none(p, prop, key=jax.random.key(2), members=2)
    assert abs(max(r.identifiable_scores) - min(r.identifiable_scores)) < 1e-8
    if planted:  # split: p (raw true) loses it in a widened member with invisible noise
        check_flip(p, prop, c, raw_on_p=True)
        assert c.construction.startswith("widen")
        check_harness(r, identifiable=True, raw_pattern={"split"})
    else:  # none
        assert c.member is None and "§7.2" in c.reason and not c.identifiable
        check_harness(r, identifiable=False, raw_pattern={"none"})


@settings(max_examples=FEW)
@given(data=st.data(), planted=st.booleans())
def test_probe_all_or_split(data, planted):
    case = data.draw(separable_labels(planted=planted))
    p = case.predictor
    prop = LinearProbe(case.contexts, case.labels, side=case.side)
    c = idlin.counterexample(p, prop)
    r = idlin.all_or_none(p, prop, key=jax.random.key(3), members=2)
    if planted:  # all
        assert c.member is None and "every member" in c.reason and c.identifiable
        check_harness(r, identifiable=True, raw_pattern={"all"})
    else:  # split: p lacks it (midpoint), a member with the labels in a new coordinate has it
        check_flip(p, prop, c, raw_on_p=False)
        assert c.construction.startswith("widen")
        check_harness(r, identifiable=False, raw_pattern={"none", "split"})
        # ... and the minimal model lacks it while the counterexample has it: split.
        assert not prop(idlin.minimal(p), form="raw").holds


@settings(max_examples=FEW)
@given(data=st.data(), reachable=st.booleans())
def test_steering_all_or_split(data, reachable):
    case = data.draw(steering_vectors(reachable=reachable))
    p, prop = case.predictor, Steering(vector=case.vector)
    c = idlin.counterexample(p, prop)
    r = idlin.all_or_none(p, prop, key=jax.random.key(4), members=2)
    if reachable:  # all
        assert c.member is None and "every member" in c.reason
        check_harness(r, identifiable=True, raw_pattern={"all"})
    else:  # split: p reaches δ, the minimal model never does
        check_flip(p, prop, c, raw_on_p=True)
        assert c.construction == "minimal"
        check_harness(r, identifiable=False, raw_pattern={"split"})
        # From a member that does not reach δ, a widened member with δ as a coordinate does.
        shift = prop.resolve(p).shift
        m = idlin.minimal(p)
        c2 = idlin.counterexample(m, Steering(shift=shift))
        check_flip(m, Steering(shift=shift), c2, raw_on_p=False)
        assert c2.construction == "widen_unembedding"


@settings(max_examples=FEW)
@given(data=st.data(), planted=st.booleans())
def test_relational_flips_both_ways(data, planted):
    case = data.draw(affine_pairs(planted=planted))
    p = case.predictor
    prop = RelationalLinearity(case.train_pairs, case.test_pairs, side=case.side)
    c = idlin.counterexample(p, prop, key=jax.random.key(5))
    check_flip(p, prop, c, raw_on_p=planted)
    assert c.construction.startswith("widen")
    r = idlin.all_or_none(p, prop, key=jax.random.key(6), members=2)
    assert r.identifiable_agrees and set(r.identifiable) == {planted}
    assert r.included_pattern != "split"


def test_relational_counterexample_from_the_minimal_model():
    """Raw ≠ identifiable on p: the minimal model (raw = identifiable) flips it."""
    rng = np.random.default_rng(3)
    G = np.c_[rng.normal(size=(7, 2)), np.zeros(7)]
    F = np.zeros((12, 3))
    F[:5, :2] = rng.normal(size=(5, 2))
    F[5:10, :2] = F[:5, :2] @ rng.normal(size=(2, 2)).T
    F[5:10, 2] = rng.normal(size=5)  # invisible noise on the targets
    p = idlin.Predictor(F, G)
    prop = RelationalLinearity(np.c_[np.arange(5), np.arange(5, 10)])
    c = idlin.counterexample(p, prop)
    assert c.construction == "minimal"
    check_flip(p, prop, c, raw_on_p=False)


def test_explicit_members_and_labels():
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    q = idlin.sample_equivalent(p, key=jax.random.key(0), moves=("widen_embedding",))
    r = idlin.all_or_none(p, Parallelism([[0, 1], [2, 3]]), key=jax.random.key(0), members=[q])
    assert r.labels == ("p", "minimal", "given[0]") and r.widths == (3, 3, 5)
    assert r.property == "parallelism"
    r = idlin.all_or_none(p, Parallelism([[0, 1], [2, 3]]), key=jax.random.key(0), members=1)
    assert len(r.raw) == 3 and "shrink" not in r.labels[2]  # first random member: all moves
    assert set(r.labels[2].split("+")) == set(idlin.MOVES) - {"shrink"}


def test_harness_errors():
    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(7, 3)), rng.normal(size=(6, 3)))
    with pytest.raises(idlin.ConfigError, match="Parallelism"):
        idlin.all_or_none(p, idlin.parallelism, key=jax.random.key(0))
    with pytest.raises(idlin.ConfigError, match="count"):
        idlin.all_or_none(p, Parallelism([[0, 1], [2, 3]]), key=jax.random.key(0), members=-1)
    with pytest.raises(idlin.ConfigError, match="resolve"):
        Steering(vector=np.ones(3))(p, form="raw")
    with pytest.raises(idlin.ShapeError, match="width"):
        idlin.counterexample(p, Steering(vector=np.ones(4)))
    with pytest.raises(idlin.ProbeError, match="duplicate"):
        idlin.counterexample(p, Parallelism([[0, 1], [0, 1]]))
