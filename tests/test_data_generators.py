"""Controlled distributions: exact tables against independent NumPy references (docs/theory.md §1,
§3)."""

import itertools

import jax
import numpy as np
import pytest

import idlin
import idlin.lab.data as D
from idlin.properties import parallelism


def np_log_odds(probs):
    """Reference `C = log p − row mean` (docs/theory.md §2) from the table alone."""
    L = np.log(probs)
    return L - L.mean(axis=1, keepdims=True)


def np_rank(C, rtol=1e-9):
    s = np.linalg.svd(C, compute_uv=False)
    return int(np.sum(s > rtol * s[0]))


def check_table(truth):
    P = truth.probs
    assert P.shape == (truth.num_contexts, truth.vocab_size)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (P > 0).all()
    # The predictor and the table describe the same distribution.
    F, G = np.asarray(truth.predictor.embeddings), np.asarray(truth.predictor.unembeddings)
    L = F @ G.T
    ref = np.exp(L - L.max(1, keepdims=True))
    np.testing.assert_allclose(P, ref / ref.sum(1, keepdims=True), rtol=1e-12, atol=1e-15)


def test_all_contexts_is_lexicographic_product():
    got = D.all_contexts(3, 2)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.array(list(itertools.product(range(3), repeat=2))))


@pytest.mark.parametrize(("V", "T", "r", "d"), [(6, 2, 2, None), (8, 2, 3, 6), (5, 3, 4, 4)])
def test_lowrank_has_rank_r(V, T, r, d):
    t = D.lowrank_truth(vocab_size=V, context_length=T, rank=r, width=d, key=jax.random.key(V))
    check_table(t)
    assert t.contexts.shape == (V**T, T) and t.rank == r
    assert t.predictor.width == (r if d is None else d)
    assert np_rank(np_log_odds(t.probs)) == r
    if d is not None:
        assert idlin.subspaces(t.predictor).effective_complexity == r


def test_lowrank_sampled_contexts_are_distinct():
    t = D.lowrank_truth(
        vocab_size=6, context_length=3, rank=2, num_contexts=50, key=jax.random.key(1)
    )
    assert t.contexts.shape == (50, 3)
    assert len({tuple(c) for c in t.contexts.tolist()}) == 50
    check_table(t)


def test_lowrank_is_a_function_of_the_key():
    a = D.lowrank_truth(vocab_size=5, context_length=2, rank=2, key=jax.random.key(3))
    b = D.lowrank_truth(vocab_size=5, context_length=2, rank=2, key=jax.random.key(3))
    c = D.lowrank_truth(vocab_size=5, context_length=2, rank=2, key=jax.random.key(4))
    np.testing.assert_array_equal(a.probs, b.probs)
    assert not np.allclose(a.probs, c.probs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vocab_size": 8, "context_length": 2, "rank": 5, "width": 4}, "r ≤ the truth's width"),
        ({"vocab_size": 8, "context_length": 0, "rank": 2}, "context_length"),
        ({"vocab_size": 1, "context_length": 2, "rank": 1}, "vocab_size"),
        ({"vocab_size": 4, "context_length": 2, "rank": 4}, "V − 1"),
        ({"vocab_size": 4, "context_length": 2, "rank": 2, "num_contexts": 17}, "num_contexts"),
    ],
)
def test_lowrank_bad_configs(kwargs, match):
    with pytest.raises(idlin.ConfigError, match=match):
        D.lowrank_truth(key=jax.random.key(0), **kwargs)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_rank_and_memory(order):
    t = D.markov_truth(vocab_size=6, context_length=3, rank=3, order=order, key=jax.random.key(2))
    check_table(t)
    assert np_rank(np_log_odds(t.probs)) == 3
    # The next token depends on the last `order` tokens only.
    groups = {}
    for row, c in zip(t.probs, t.contexts.tolist(), strict=True):
        groups.setdefault(tuple(c[-order:]), []).append(row)
    assert len(groups) == 6**order
    for rows in groups.values():
        np.testing.assert_allclose(rows, np.broadcast_to(rows[0], np.shape(rows)), rtol=1e-12)


def test_markov_order_above_context_length():
    with pytest.raises(idlin.ConfigError, match="order"):
        D.markov_truth(vocab_size=4, context_length=2, rank=2, order=3, key=jax.random.key(0))


def test_hmm_forward_matches_path_enumeration():
    rng = np.random.default_rng(0)
    S, V, T = 2, 3, 3
    pi = rng.dirichlet(np.ones(S))
    A = rng.dirichlet(np.ones(S), size=S)
    B = rng.dirichlet(np.ones(V), size=S)
    contexts = D.all_contexts(V, T)
    got = D.hmm_predictive(contexts, pi, A, B)
    for x, row in zip(contexts.tolist(), got, strict=True):
        joint = np.zeros(V)  # p(x_1..x_T, y) summed over hidden paths s_1..s_{T+1}
        for path in itertools.product(range(S), repeat=T + 1):
            w = pi[path[0]] * np.prod([A[path[t], path[t + 1]] for t in range(T)])
            w *= np.prod([B[path[t], x[t]] for t in range(T)])
            joint += w * B[path[T]]
        np.testing.assert_allclose(row, joint / joint.sum(), rtol=1e-12)


def test_hmm_truth_is_not_exactly_low_rank():
    t = D.hmm_truth(vocab_size=6, context_length=3, hidden_states=2, key=jax.random.key(5))
    check_table(t)
    assert t.rank is None
    assert np_rank(t.probs) <= 2  # the mixture P = Q B has rank ≤ S ...
    assert np_rank(np_log_odds(t.probs)) > 2  # ... its log does not


def test_morphology_table_and_strings():
    t = D.morphology_truth(adjectives=("easy", "lucky", "big", "happy"))
    check_table(t)
    m = 4
    assert t.probs.shape == (3 * m, 3 * m + 3) and len(t.tokens) == 3 * m + 3
    i = t.context_index("easy", "superlative")
    assert t.tokens[int(np.argmax(t.probs[i]))] == "easiest"
    assert t.tokens[t.token_index("big", "comparative")] == "bigger"
    assert t.context_pairs[i] == ("easy", "superlative")
    marker, lemma = t.contexts[i]
    assert (t.tokens[marker], t.tokens[lemma]) == ("<superlative>", "easy")
    # Additive log-odds: rank m + 2 (two one-hot blocks sharing the all-ones direction).
    assert np_rank(np_log_odds(t.probs)) == m + 2 == t.rank


def test_morphology_planted_parallelism_is_identifiable():
    t = D.morphology_truth(adjectives=("easy", "lucky", "happy", "tall"))
    C = np_log_odds(t.probs)
    ctx = t.context_pairs_for("positive", "superlative")
    diffs = C[ctx[:, 1]] - C[ctx[:, 0]]  # easy→easiest, lucky→luckiest, ... (contexts)
    np.testing.assert_allclose(diffs, np.broadcast_to(diffs[0], diffs.shape), atol=1e-12)
    tok = t.token_pairs_for("positive", "superlative")
    cols = C[:, tok[:, 1]] - C[:, tok[:, 0]]  # columns of C: unembedding side
    np.testing.assert_allclose(cols, np.broadcast_to(cols[:, :1], cols.shape), atol=1e-12)
    for side, pairs in (("embedding", ctx), ("unembedding", tok)):
        res = parallelism(t.predictor, pairs, side=side, form="identifiable")
        assert res.holds, (side, res.score)
    # A non-relation (easy→easiest vs lucky→luckier) is not parallel.
    mixed = np.array([ctx[0], [t.context_index("lucky", "positive"),
                               t.context_index("lucky", "comparative")]])  # fmt: skip
    assert not parallelism(t.predictor, mixed, form="identifiable").holds


@pytest.mark.parametrize(
    ("adjectives", "match"),
    [(("easy", "zzqxv"), "zzqxv"), (("easy", "beautiful"), "beautiful"), (("easy",), "≥ 2")],
)
def test_morphology_bad_adjectives(adjectives, match):
    with pytest.raises(idlin.ConfigError, match=match):
        D.morphology_truth(adjectives=adjectives)


def test_stream_frequencies_match_the_table():
    t = D.lowrank_truth(vocab_size=3, context_length=1, rank=2, key=jax.random.key(0))
    s = D.sample_stream(t, key=jax.random.key(1), num_samples=30_000)
    assert s.context_ids.shape == s.next_tokens.shape == (30_000,)
    emp = D.empirical_probs(t, s)
    counts = np.bincount(s.context_ids, minlength=3)[:, None]
    sigma = np.sqrt(t.probs * (1 - t.probs) / counts)
    assert np.all(np.abs(emp - t.probs) < 5 * sigma)
    again = D.sample_stream(t, key=jax.random.key(1), num_samples=30_000)
    np.testing.assert_array_equal(s.next_tokens, again.next_tokens)
    with pytest.raises(idlin.ConfigError, match="num_samples"):
        D.sample_stream(t, key=jax.random.key(1), num_samples=0)
