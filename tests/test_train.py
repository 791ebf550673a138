"""Training: config errors, vmapped seeds = per-seed runs, KL against NumPy, resume = no resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import idlin
import idlin.lab.data as D
from idlin.lab.train import (
    TrainConfig,
    init_states,
    make_data,
    make_step,
    seed_keys,
    step_key,
    train,
)

TRUTH = D.lowrank_truth(vocab_size=6, context_length=2, rank=2, key=jax.random.key(0))
# One small configuration shared by the tests, so compiled programs are reused.
CONFIG = TrainConfig(width=2, steps=200, batch_size=32, seeds=2, hidden=16, embed=4,
                     learning_rate=2e-2, chunk_steps=100, checkpoint_every=100)  # fmt: skip
KEY = jax.random.key(7)


@pytest.fixture(scope="module")
def result():
    return train(TRUTH, CONFIG, key=KEY, progress=False)


def np_mean_kl(probs, p):
    F, G = np.asarray(p.embeddings, np.float64), np.asarray(p.unembeddings, np.float64)
    L = F @ G.T
    logq = L - L.max(1, keepdims=True)
    logq -= np.log(np.exp(logq).sum(1, keepdims=True))
    return float(np.mean(np.sum(probs * (np.log(probs) - logq), axis=1)))


def test_training_reduces_kl_and_reports_it(result):
    assert result.steps_done == 200 and result.loss_history.shape == (200, 2)
    assert result.resumed_from is None
    h = result.loss_history
    assert np.all(h[-20:].mean(0) < 0.5 * h[:20].mean(0))  # every seed learns
    for k, p in enumerate(result.predictors):
        assert (p.num_contexts, p.vocab_size, p.width) == (36, 6, 2)
        assert result.mean_kl[k] == pytest.approx(np_mean_kl(TRUTH.probs, p), rel=1e-5)
    # The seeds are different models.
    assert idlin.distribution_gap(*result.predictors).relative > 1e-3


def test_vmapped_seeds_equal_separate_runs(result):
    """The vmapped program trains seed k exactly as a plain loop of the pure step would."""
    graphdef, states = init_states(TRUTH, CONFIG, key=KEY)
    step = jax.jit(make_step(graphdef, CONFIG))
    data = make_data(TRUTH, CONFIG)
    for k in range(CONFIG.seeds):
        state = jax.tree.map(lambda x, k=k: x[k], states)
        seed_key = seed_keys(KEY, [k])[0]
        for s in range(CONFIG.steps):
            state, _ = step(state, data, step_key(seed_key, s))
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(result.params), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b[k]), rtol=2e-5, atol=1e-6)


def test_resume_from_checkpoint_is_identical(result, tmp_path):
    first = train(TRUTH, CONFIG, key=KEY, checkpoint_dir=tmp_path, progress=False, stop_after=100)
    assert first.steps_done == 100  # "killed" after the step-100 checkpoint
    resumed = train(TRUTH, CONFIG, key=KEY, checkpoint_dir=tmp_path, progress=False)
    assert resumed.resumed_from == 100 and resumed.steps_done == 200
    for a, b in zip(jax.tree.leaves(result.states), jax.tree.leaves(resumed.states), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(result.loss_history, resumed.loss_history)
    np.testing.assert_array_equal(result.mean_kl, resumed.mean_kl)
    # A different run must not silently resume from this directory.
    with pytest.raises(idlin.ConfigError, match="checkpoint"):
        train(TRUTH, CONFIG, key=jax.random.key(8), checkpoint_dir=tmp_path, progress=False)


def test_stream_training_learns():
    config = CONFIG.replace(source="stream", stream_samples=4000, seeds=1)
    res = train(TRUTH, config, key=KEY, progress=False)
    h = res.loss_history[:, 0]
    assert np.isfinite(h).all() and h[-20:].mean() < h[:20].mean()
    uniform_kl = float(np.mean(np.sum(TRUTH.probs * np.log(TRUTH.probs * 6), axis=1)))
    assert res.mean_kl[0] < 0.5 * uniform_kl  # better than predicting uniformly


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"architecture": "rnn"}, "architecture"),
        ({"source": "web"}, "source"),
        ({"width": 0}, "width"),
        ({"steps": 0}, "steps"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"warmup_steps": 200}, "warmup_steps"),
        ({"dtype": "float16"}, "dtype"),
        ({"architecture": "transformer", "embed": 5, "heads": 2}, "multiple of heads"),
    ],
)
def test_bad_configs(changes, match):
    with pytest.raises(idlin.ConfigError, match=match):
        CONFIG.replace(**changes)


def test_bad_stop_after():
    with pytest.raises(idlin.ConfigError, match="stop_after"):
        train(TRUTH, CONFIG, key=KEY, progress=False, stop_after=201)


def test_params_are_stacked_per_seed(result):
    leaves = jax.tree.leaves(result.params)
    assert all(x.shape[0] == CONFIG.seeds for x in leaves)
    model = result.model(1)
    out = model(jnp.asarray(TRUTH.contexts[:3]))
    np.testing.assert_allclose(
        np.asarray(jax.nn.log_softmax(out, -1)),
        np.asarray(jax.nn.log_softmax(result.predictors[1].logits()[:3], -1)),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip


@pytest.mark.parametrize("module", ["idlin.lab.data", "idlin.lab.models", "idlin.lab.train"])
def test_public_names_are_documented(module):
    import importlib
    import inspect

    mod = importlib.import_module(module)
    for name in (n for n in dir(mod) if not n.startswith("_")):
        obj = getattr(mod, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{module}.{name} has no docstring"


def test_lowrank_docstring_example_runs():
    import doctest

    from idlin.lab.data import _lowrank

    result = doctest.testmod(_lowrank)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("warmup", [0, 3])
def test_learning_rate_schedule_is_optax_warmup_cosine(warmup):
    """The schedule the step computes from data equals optax's (independent implementation)."""
    import optax

    from idlin.lab.train import hyperparameters, learning_rate_at

    config = CONFIG.replace(steps=10, warmup_steps=warmup, learning_rate=0.3)
    if warmup:
        ref = optax.warmup_cosine_decay_schedule(0.0, 0.3, warmup, 10)
    else:
        ref = optax.cosine_decay_schedule(0.3, 10)
    hyper = hyperparameters(config.replace(dtype="float64"))
    for t in range(12):
        got = float(learning_rate_at(hyper, jnp.asarray(t, jnp.int32)))
        assert got == pytest.approx(float(ref(t)), rel=1e-12, abs=1e-15), t


def test_stream_data_needs_a_stream():
    with pytest.raises(idlin.ConfigError, match="'stream' needs a sampled stream"):
        make_data(TRUTH, CONFIG.replace(source="stream"))
