"""The trained-models experiment at tiny size (full size: `trained_models(key=key(0))`)."""

import jax
import numpy as np
import pytest

import idlin.lab.data as D
from idlin.lab.experiments import relation_pairs, trained_models


@pytest.fixture(scope="module")
def out():
    return trained_models(
        key=jax.random.key(0), vocab_size=6, context_length=2, rank=2, seeds=2, steps=400,
        batch_size=32, learning_rate=2e-2, hidden=16, embed=4, chunk_steps=200,
        num_pairs=8, progress=False,
    )  # fmt: skip


def test_reports_every_seed_at_both_widths(out):
    assert [(s.width, s.seed) for s in out.seeds] == [(2, 0), (2, 1), (6, 0), (6, 1)]
    assert out.truth_rank == 2 and len(out.seconds) == 2
    for s in out.seeds:
        assert 0 < s.mean_kl < 0.05
        assert s.converged == (s.mean_kl <= out.kl_target)
        assert np.all(np.diff(s.spectrum) <= 0) and 0 < s.rtol < 1
        assert 1 <= s.rank <= s.width
        assert s.gap >= 1
        for r2 in (s.r2_to_truth, s.r2_between_seeds, s.r2_across_widths):
            assert 0.8 < r2 <= 1.0  # tiny training already recovers the canonical coordinates
        assert 0.0 <= s.raw_score <= 1.0 and 0.0 <= s.identifiable_score <= 1.0
    print(out.table())


def test_relation_pairs_advance_the_last_token():
    t = D.lowrank_truth(vocab_size=4, context_length=2, rank=2, key=jax.random.key(0))
    pairs = relation_pairs(t, key=jax.random.key(1), num_pairs=5)
    assert pairs.shape == (5, 2) and len(set(pairs[:, 0])) == 5
    s, u = t.contexts[pairs[:, 0]], t.contexts[pairs[:, 1]]
    np.testing.assert_array_equal(s[:, 0], u[:, 0])
    np.testing.assert_array_equal((s[:, 1] + 1) % 4, u[:, 1])
