"""d_llv: Nielsen et al.'s d_LLV (their `d_prob`) against their own numbers and a float64 loop.

The fixture (tests/fixtures/d_llv_reference.*, a copy of the team's shared fixture) holds the
values their code computed (torch, float32 log-likelihood table): agreement to float32
rounding, `|ours − theirs| ≤ 1e-6·|theirs| + 3e-7` (their d_nondiverse 2.4e-7 is the rounding
of a true 0). The loop reference below is the plain definition, one label and one input at a
time, in float64: agreement to float64 rounding.
"""

import doctest
import json
from pathlib import Path

import jax
import numpy as np
import pytest

import idlin
from idlin.core.metrics import d_llv, legacy_numpy_input_sets

FIXTURES = Path(__file__).resolve().parent / "fixtures"  # copied from the team's shared fixtures
PAIRS = ("a_exact", "b_perturbed", "c_unrelated", "d_nondiverse")
RTOL32, ATOL32 = 1e-6, 3e-7  # float32 rounding of their table (fixture notes)


# ---------------------------------------------------------------- plain float64 loop reference
def _loglik(F, G):
    """(V, N): `log p(y|x)`, their layout."""
    Z = F @ G.T
    Z = Z - Z.max(axis=1, keepdims=True)
    return (Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))).T


def _sd(v):
    return float(np.std(v, ddof=1))


def _terms(a1, a2, b1, b2):
    """For rows `a` (compared) and `b` (pivot) of models 1, 2: R, P and |σ₁ − σ₂|."""
    s1, s2 = _sd(a1 - b1), _sd(a2 - b2)
    return _sd(a1 / s1 - a2 / s2), _sd(b1 / s1 - b2 / s2), abs(s1 - s2)


def _reference(F1, G1, F2, G2, sets, *, weight=1.0, cap=1.0, pivots=None):
    L1, L2 = _loglik(F1, G1), _loglik(F2, G2)
    V = L1.shape[0]
    table = np.full((V, V - 1), np.inf)  # their terms_1[k, l]: l indexes the labels ≠ k
    for k in range(V):
        rest = [y for y in range(V) if y != k]
        m = [max(_terms(L1[y], L2[y], L1[k], L2[k])[:2]) for y in rest]
        for j in range(V - 1):
            table[k, j] = max(m[i] for i in range(V - 1) if i != j)
    if pivots is None:
        k, j = np.unravel_index(np.argmin(table), table.shape)  # first minimiser, row-major
        lo = [y for y in range(V) if y != k][j]
    else:
        k, lo = pivots
    keep = [y for y in range(V) if y not in (k, lo)]
    lab = [_terms(L1[y], L2[y], L1[k], L2[k]) for y in keep]
    t1, t3 = max(max(r, p) for r, p, _ in lab), max(s for _, _, s in lab)
    best, chosen, scores, t4s = (np.inf if cap is None else cap), 0, [], []
    for i, S in enumerate(sets):
        inp = [_terms(L1[:, x], L2[:, x], L1[:, S[0]], L2[:, S[0]]) for x in S[1:]]
        scores.append(max(max(r, p) for r, p, _ in inp))
        t4s.append(max(s for _, _, s in inp))
        if scores[-1] < best:  # their strict running minimum
            best, chosen = scores[-1], i
    t2, t4 = scores[chosen], t4s[chosen]
    return dict(
        value=t1 + t2 + weight * (t3 + t4),
        t1=t1, t2=t2, t3=t3, t4=t4, k=int(k), lo=int(lo), chosen=chosen,
        pivot_scores=table.min(axis=1), scores=np.array(scores),
    )  # fmt: skip


def _pair(seed, N=40, V=7, d=(3, 3), noise=None):
    rng = np.random.default_rng(seed)
    F1, G1 = rng.normal(size=(N, d[0])), rng.normal(size=(V, d[0]))
    if noise is None:
        F2, G2 = rng.normal(size=(N, d[1])), rng.normal(size=(V, d[1]))
    else:
        M = rng.normal(size=(d[0], d[0])) + 3 * np.eye(d[0])
        F2 = F1 @ M + noise * rng.normal(size=F1.shape)
        G2 = G1 @ np.linalg.inv(M).T + noise * rng.normal(size=G1.shape)
    return (F1, G1, F2, G2), idlin.Predictor(F1, G1), idlin.Predictor(F2, G2)


def _close(a, b, rtol=1e-11, atol=1e-13):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    ("seed", "d", "noise", "weight"),
    [(0, (3, 3), None, 1.0), (1, (2, 4), None, 0.5), (2, (3, 3), 0.05, 1.0), (3, (3, 3), 0.3, 2.0)],
)
def test_search_matches_the_float64_loop(seed, d, noise, weight):
    arrays, p, q = _pair(seed, d=d, noise=noise)
    res = d_llv(p, q, key=jax.random.key(seed), weight=weight)
    sets = np.asarray(res.candidate_sets)
    assert sets.shape == (min(20, 40 // (max(d) + 1)), max(d) + 1)
    assert np.unique(sets).size == sets.size  # disjoint candidates, as theirs
    ref = _reference(*arrays, sets, weight=weight)
    _close(np.asarray(res.pivot_scores), ref["pivot_scores"])
    _close(np.asarray(res.candidate_scores), ref["scores"])
    assert (res.label_pivot, res.left_out_label) == (ref["k"], ref["lo"])
    assert np.asarray(res.input_set).tolist() == sets[ref["chosen"]].tolist()
    _close(
        [res.t1, res.t2, res.t3, res.t4, res.value],
        [ref[k] for k in ("t1", "t2", "t3", "t4", "value")],
    )
    assert res.value > 1e-3 and res.weight == weight
    swapped = d_llv(q, p, key=jax.random.key(seed), weight=weight)
    _close(swapped.value, res.value)


def test_t2_cap_keeps_the_first_candidate_when_none_is_below_it():
    arrays, p, q = _pair(4, N=60)
    res = d_llv(p, q, key=jax.random.key(0))
    scores = np.asarray(res.candidate_scores)
    assert scores.min() > 1.0 and np.argmin(scores) != 0  # the case their running minimum hits
    assert np.asarray(res.input_set).tolist() == np.asarray(res.candidate_sets)[0].tolist()
    plain = d_llv(p, q, key=jax.random.key(0), t2_cap=None)
    ref = _reference(*arrays, np.asarray(plain.candidate_sets), cap=None)
    assert plain.t2 == pytest.approx(scores.min(), rel=1e-12) and ref["chosen"] == np.argmin(scores)
    _close(plain.value, ref["value"])


def test_fixed_pivots_and_given_sets_need_no_key():
    arrays, p, q = _pair(5)
    res = d_llv(p, q, input_set=[3, 0, 7, 9], label_pivot=2, left_out_label=5)
    assert res.pivot_scores is None and res.candidate_sets is None
    assert (res.label_pivot, res.left_out_label) == (2, 5)
    ref = _reference(*arrays, [[3, 0, 7, 9]], pivots=(2, 5))
    _close([res.t1, res.t2, res.t3, res.t4], [ref[k] for k in ("t1", "t2", "t3", "t4")])
    sets = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    searched = d_llv(p, q, input_sets=sets)
    assert np.asarray(searched.candidate_sets).tolist() == sets.tolist()


def test_keys_seed_every_draw():
    _, p, q = _pair(6, noise=0.1)
    a, b = (d_llv(p, q, key=jax.random.key(7)) for _ in range(2))
    assert a.value == b.value and np.array_equal(a.candidate_sets, b.candidate_sets)
    c = d_llv(p, q, key=jax.random.key(8))
    assert not np.array_equal(a.candidate_sets, c.candidate_sets)
    with pytest.raises(idlin.ConfigError, match="key"):
        d_llv(p, q)


def test_zero_for_equivalent_pairs_of_any_width():
    _, p, _ = _pair(9, N=50, V=9, d=(4, 4))
    M = np.random.default_rng(1).normal(size=(4, 4)) + 4 * np.eye(4)
    q = idlin.Predictor(p.embeddings @ M, p.unembeddings @ np.linalg.inv(M).T)
    # Extended: a column the unembeddings ignore, whatever the embeddings put in it.
    wide = idlin.Predictor(
        np.hstack([np.asarray(p.embeddings), np.arange(50.0)[:, None]]),
        np.hstack([np.asarray(p.unembeddings), np.zeros((9, 1))]),
    )
    for other in (q, wide):
        res = d_llv(p, other, key=jax.random.key(0))
        assert res.value < 1e-12 and res.t1 < 1e-13


def test_legacy_input_sets_are_numpys_seeded_draw():
    # Their code's global legacy generator, on purpose (state restored afterwards).
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(3)  # noqa: NPY002
        expected = np.random.choice(100, 4 * 5, replace=False).reshape(5, 4)  # noqa: NPY002
    finally:
        np.random.set_state(state)  # noqa: NPY002
    assert legacy_numpy_input_sets(100, 3, num_samples=5, seed=3).tolist() == expected.tolist()
    with pytest.raises(idlin.ConfigError, match="disjoint"):
        legacy_numpy_input_sets(10, 3, num_samples=5)


def test_bad_inputs_raise_specific_errors():
    _, p, q = _pair(10)
    key = jax.random.key(0)
    cases = [
        (dict(weight=-1.0), idlin.ConfigError, "weight"),
        (dict(log_likelihood_dtype="float16"), idlin.ConfigError, "log_likelihood_dtype"),
        (dict(t2_cap=0.0), idlin.ConfigError, "t2_cap"),
        (dict(label_pivot=1), idlin.ConfigError, "both or neither"),
        (dict(label_pivot=1, left_out_label=1), idlin.ConfigError, "differ"),
        (dict(label_pivot=7, left_out_label=1), idlin.ConfigError, r"\[0, 7\)"),
        (dict(label_pivot=1.0, left_out_label=2), idlin.ConfigError, "integer"),
        (dict(input_set=[1, 2], input_sets=[[1, 2]]), idlin.ConfigError, "not both"),
        (dict(input_set=[1, 1, 2]), idlin.ConfigError, "distinct"),
        (dict(input_sets=[1, 2, 3]), idlin.ConfigError, r"\(s, m\+1\)"),
        (dict(num_samples=11), idlin.ConfigError, "num_samples"),
        (dict(num_samples=2, input_set=[1, 2]), idlin.ConfigError, "without input_set"),
    ]
    for kwargs, err, match in cases:
        with pytest.raises(err, match=match):
            d_llv(p, q, key=key, **kwargs)
    small = idlin.Predictor(np.ones((4, 2)), np.eye(2))
    with pytest.raises(idlin.ConfigError, match="V ≥ 3"):
        d_llv(small, small, key=key)
    G = np.asarray(p.unembeddings).copy()
    G[4] = G[2]  # a duplicated token: σ(2, 4) = 0 for every pivot pair containing both
    twin = idlin.Predictor(p.embeddings, G)
    with pytest.raises(idlin.RankError, match="label"):
        d_llv(twin, q, key=key)
    with pytest.raises(idlin.RankError, match="label pivot 2"):
        d_llv(twin, q, key=key, label_pivot=2, left_out_label=0)
    F = np.asarray(p.embeddings).copy()
    F[5] = F[3]
    with pytest.raises(idlin.RankError, match="input"):
        d_llv(
            idlin.Predictor(F, p.unembeddings),
            q,
            input_set=[3, 5, 6],
            label_pivot=0,
            left_out_label=1,
        )
    with pytest.raises(idlin.IncompatibleError):
        d_llv(p, idlin.Predictor(np.ones((41, 3)), np.eye(7, 3)), key=key)


# ------------------------------------------------------------------- their numbers (fixture)
def _fixture():
    doc = json.loads((FIXTURES / "d_llv_reference.json").read_text())
    with np.load(FIXTURES / "d_llv_reference.npz", allow_pickle=False) as z:
        arrays = {k: np.asarray(z[k]) for k in z.files}
    return doc, arrays


def _models(arrays, pair):
    F1, G1, F2, G2 = (arrays[f"{pair}__{n}"] for n in ("F1", "G1", "F2", "G2"))
    return (F1, G1, F2, G2), idlin.Predictor(F1, G1), idlin.Predictor(F2, G2)


def _agree32(ours, theirs):
    assert abs(ours - theirs) <= RTOL32 * abs(theirs) + ATOL32, (ours, theirs)


@pytest.mark.parametrize("table", [None, "float32"])
@pytest.mark.parametrize("pair", PAIRS)
def test_fixture_fixed_pivots(pair, table):
    doc, arrays = _fixture()
    ref = doc["pairs"][pair]["fixed_pivots"]
    raw, p, q = _models(arrays, pair)
    res = d_llv(
        p, q, input_set=ref["input_set"], label_pivot=ref["label_pivot"],
        left_out_label=ref["left_out_label"], log_likelihood_dtype=table,
    )  # fmt: skip
    for field in ("d_llv", "t1", "t2"):
        _agree32(res.value if field == "d_llv" else getattr(res, field), ref[field])
    if table is None:  # and the plain float64 definition to float64 rounding
        loop = _reference(
            *raw, [ref["input_set"]], pivots=(ref["label_pivot"], ref["left_out_label"])
        )
        _close(
            [res.value, res.t1, res.t2, res.t3, res.t4],
            [loop[k] for k in ("value", "t1", "t2", "t3", "t4")],
        )


@pytest.mark.parametrize("pair", PAIRS)
def test_fixture_search_with_their_table_finds_their_pivots(pair):
    """Their float32 table, their NumPy-seeded candidates: the same choices, every pair."""
    doc, arrays = _fixture()
    ref = doc["pairs"][pair]["search_with_np_random_seed_0"]
    _, p, q = _models(arrays, pair)
    sets = legacy_numpy_input_sets(p.num_contexts, p.width, seed=0)
    res = d_llv(p, q, input_sets=sets, log_likelihood_dtype="float32")
    assert np.asarray(res.input_set).tolist() == ref["input_set"]
    assert (res.label_pivot, res.left_out_label) == (ref["label_pivot"], ref["left_out_label"])
    for field in ("d_llv", "t1", "t2"):
        _agree32(res.value if field == "d_llv" else getattr(res, field), ref[field])


@pytest.mark.parametrize("pair", PAIRS)
def test_fixture_search_in_float64(pair):
    """In float64 the choices agree wherever the minimum is unique; on the two exactly
    equivalent pairs every choice ties (all terms are rounding noise) and theirs is one of them."""
    doc, arrays = _fixture()
    ref = doc["pairs"][pair]["search_with_np_random_seed_0"]
    _, p, q = _models(arrays, pair)
    res = d_llv(p, q, input_sets=legacy_numpy_input_sets(p.num_contexts, p.width, seed=0))
    for field in ("d_llv", "t1", "t2"):
        _agree32(res.value if field == "d_llv" else getattr(res, field), ref[field])
    if pair in ("b_perturbed", "c_unrelated"):
        assert np.asarray(res.input_set).tolist() == ref["input_set"]
        assert (res.label_pivot, res.left_out_label) == (ref["label_pivot"], ref["left_out_label"])
        runner_up = np.sort(np.asarray(res.pivot_scores))[1]
        assert runner_up - res.t1 > 1e-6  # a unique minimiser, far above rounding
    else:
        theirs = d_llv(
            p, q, input_set=ref["input_set"], label_pivot=ref["label_pivot"],
            left_out_label=ref["left_out_label"],
        )  # fmt: skip
        assert max(theirs.t1, theirs.t2, res.t1, res.t2, float(np.max(res.pivot_scores))) < 1e-12


def test_docstring_examples_run():
    import idlin.core.metrics._causal as causal
    import idlin.core.metrics._cca as cca
    import idlin.core.metrics._dllv as dllv
    import idlin.core.metrics._llv as llv
    import idlin.core.metrics._pivot_odds as pivot_odds

    for module in (dllv, llv, pivot_odds, cca, causal):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
