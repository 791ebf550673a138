"""The experiment front ends give identical numbers for one configuration (issue 24).

One tiny configuration — a Markov truth, the bilinear model at width 2, two seeds, 40 steps — run
through `idlin sweep` (`run_sweep`) and `idlin study` (`run_study`): the same seeds train the
same models (study seed s is sweep seed s of the same grid point), and the §8 numbers each
records — mean KL to the truth, relative gap, KL-tied rank — agree to rtol 1e-12. `idlin
reproduce`'s evaluation stage (`idlin.evaluate`, read into its `ModelRecord`s) gives the same
numbers on those models.
"""

import jax
import numpy as np
import pytest

import idlin
from idlin.lab import reproduce, study, sweep

DIST = {"kind": "markov", "vocab_size": 4, "context_length": 2, "order": 2, "rank": 2}
STEPS, RATE, WIDTH, SEEDS = 40, 0.05, 2, 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("front_ends")
    s = sweep.parse_config({
        "sweep": {"name": "t", "seeds": SEEDS, "steps": STEPS, "checkpoint_every": STEPS},
        "grid": {"distribution": ["m"], "width": [WIDTH], "architecture": ["bilinear"],
                 "learning_rate": [RATE]},
        "distributions": {"m": DIST},
    })  # fmt: skip
    sweep.run_sweep(s, out / "sweep")
    with sweep.ResultsStore(out / "sweep") as store:
        swept = {r.seed: r.metrics for r in store.records()}
    c = study.parse_config({
        "study": {"seeds": SEEDS, "width_multiples": [1], "architectures": ["bilinear"],
                  "distributions": ["m"], "tolerances": [0.1], "bootstrap": 10},
        "train": {"bilinear": {"steps": STEPS, "learning_rate": RATE}},
        "distributions": {"m": DIST},
    })  # fmt: skip
    study.run_study(c, out / "study")
    (point,) = study.load_points(out / "study")
    assert point["width"] == WIDTH
    studied = {m["seed"]: m for m in point["models"]}
    return swept, studied


def test_sweep_and_study_agree_to_1e_12(runs):
    swept, studied = runs
    assert sorted(swept) == sorted(studied) == list(range(SEEDS))
    for seed in range(SEEDS):
        a, b = swept[seed], studied[seed]
        assert a["rank"] == b["rank"]
        for name in ("mean_kl", "relative_gap"):
            np.testing.assert_allclose(a[name], b[name], rtol=1e-12, err_msg=name)


def test_reproduce_evaluates_the_same_models_to_the_same_numbers(runs):
    swept, _ = runs
    truth = sweep.make_truth(DIST)
    stacked, _ = study.train_seeds(
        truth, architecture="bilinear", width=WIDTH, steps=STEPS, learning_rate=RATE,
        seeds=range(SEEDS),
    )  # fmt: skip
    trained = [
        (WIDTH, k, jax.tree_util.tree_map(lambda x, k=k: np.asarray(x[k]), stacked))
        for k in range(SEEDS)
    ]
    records, pairs = reproduce.evaluate_trained("m", truth.predictor, trained, truth.rank)
    for rec in records:
        ref = swept[rec.seed]
        assert rec.effective_complexity == ref["rank"]
        np.testing.assert_allclose(rec.kl_to_truth, ref["mean_kl"], rtol=1e-12)
        np.testing.assert_allclose(rec.relative_gap, ref["relative_gap"], rtol=1e-12)
        np.testing.assert_allclose(rec.rank_separation, ref["spectral_gap"], rtol=1e-12)
    # The seed pair is `idlin.compare` of the two models, as `evaluate` computes it.
    (pair,) = pairs
    c = idlin.compare(trained[0][2], trained[1][2], reference_rank=truth.rank)
    assert pair.seeds == (0, 1)
    np.testing.assert_allclose(pair.relative_gap, float(c.gap.relative), rtol=1e-12)
