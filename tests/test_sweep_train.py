"""One training driver (issue 12): a sweep trains through `idlin.lab.train` — same step, same key
schedule, same checkpoint format — and scalar hyperparameters are data (one compilation)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import idlin.lab.data as D
from idlin import ConfigError, FileFormatError
from idlin.lab.sweep import (
    ResultsStore,
    _registry,
    build_program,
    make_truth,
    parse_config,
    register_architecture,
    run_sweep,
    truth_metrics,
)
from idlin.lab.sweep import _runner as runner_module
from idlin.lab.train import (
    SWEEP_ROOT,
    TrainConfig,
    chunk_runner,
    load_checkpoint,
    make_init,
    make_step,
    seed_keys,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
DIST = {"kind": "lowrank", "vocab_size": 4, "context_length": 2, "rank": 2, "seed": 0}
TRAIN = {"batch_size": 4, "hidden": 4, "embed": 2}


def mlp_config(rates=(0.01,), seeds=2, steps=4, every=2, width=2, train=TRAIN):
    return parse_config({
        "sweep": {"name": "t", "seeds": seeds, "steps": steps, "checkpoint_every": every},
        "grid": {"distribution": ["lr"], "width": [width], "architecture": ["mlp"],
                 "learning_rate": list(rates)},
        "distributions": {"lr": DIST},
        "train": train,
    })  # fmt: skip


def test_same_seed_same_model_in_train_and_in_a_sweep(tmp_path, monkeypatch):
    """Sweep seed s is seed s of `train(..., key=jax.random.key(SWEEP_ROOT))`: with the same
    number of seeds the final parameters are bitwise equal (and so are the records' metrics),
    although the sweep checkpoints every 2 steps and shards its seed axis."""
    c = mlp_config(seeds=3, steps=6, every=2)
    captured = {}
    original = runner_module.evaluate_seeds

    def capture(program, states, count):
        captured["states"] = jax.device_get(states)
        return original(program, states, count)

    monkeypatch.setattr(runner_module, "evaluate_seeds", capture)
    run_sweep(c, tmp_path)
    truth = make_truth(DIST)
    fields = {"architecture": "mlp", "width": 2, "steps": 6, "learning_rate": 0.01,
              "dtype": "float64", "seeds": 3, "chunk_steps": 2}  # fmt: skip
    config = TrainConfig.from_mapping({**fields, **TRAIN})
    result = train(truth, config, key=jax.random.key(SWEEP_ROOT), progress=False)
    swept = jax.tree.leaves(captured["states"].params)
    trained = jax.tree.leaves(result.states.params)
    assert len(swept) == len(trained) > 0
    for a, b in zip(swept, trained, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with ResultsStore(tmp_path) as s:
        records = s.records()
    for r in records:
        ref = truth_metrics(truth, result.predictors[r.seed])
        assert ref["mean_kl"] > 0 and set(ref) == set(r.metrics)
        for name in ("mean_kl", "relative_gap", "rank", "canonical_r2"):
            assert r.metrics[name] == ref[name], name
    # ... and seed s does not depend on how many other seeds are trained with it: same keys, so
    # the same model to float64 rounding (a vmap of 1 and of 3 compile to different kernels).
    alone = train(truth, config.replace(seeds=1), key=jax.random.key(SWEEP_ROOT), progress=False)
    for a, b in zip(jax.tree.leaves(alone.states.params), trained, strict=True):
        np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b[0]), rtol=1e-12, atol=1e-15)


def test_a_learning_rate_grid_compiles_once(tmp_path):
    # A model shape no other test uses, so the compiled-program cache starts empty.
    c = mlp_config(rates=(0.01, 0.03, 0.1), width=3, train={**TRAIN, "hidden": 5})
    programs = [build_program(p) for p in c.points]
    assert all(p.step is programs[0].step for p in programs)  # one step object ...
    run = run_sweep(c, tmp_path)
    assert run.records_written == 6
    sharding = NamedSharding(
        Mesh(np.asarray(jax.local_devices()), ("seed",)), PartitionSpec("seed")
    )
    chunk = chunk_runner(programs[0].step, c.checkpoint_every, sharding)
    assert chunk._cache_size() == 1  # ... and one compiled program for the three rates
    with ResultsStore(tmp_path) as s:
        kl = {(r.config["learning_rate"], r.seed): r.metrics["mean_kl"] for r in s.records()}
    assert len({kl[(lr, 0)] for lr in (0.01, 0.03, 0.1)}) == 3  # the rate really is used


def test_train_learning_rates_share_one_compiled_program():
    truth = D.lowrank_truth(vocab_size=4, context_length=2, rank=2, key=jax.random.key(1))
    base = TrainConfig(width=2, steps=6, batch_size=4, hidden=4, embed=2, seeds=2,
                       chunk_steps=3, warmup_steps=2)  # fmt: skip
    results = [
        train(truth, base.replace(learning_rate=lr, warmup_steps=w), key=jax.random.key(0),
              progress=False)
        for lr, w in ((1e-3, 2), (3e-2, 2), (3e-2, 0))
    ]  # fmt: skip
    graphdef, _ = make_init(base, truth.vocab_size, truth.context_length)
    step = make_step(graphdef, base)
    assert all(make_step(graphdef, r.config) is step for r in results)
    assert chunk_runner(step, 3)._cache_size() == 1
    finals = [np.asarray(jax.tree.leaves(r.params)[0]) for r in results]
    assert not np.array_equal(finals[0], finals[1]) and not np.array_equal(finals[1], finals[2])


def test_train_checkpoint_is_the_atomic_npz_format(tmp_path):
    truth = D.lowrank_truth(vocab_size=4, context_length=1, rank=2, key=jax.random.key(0))
    config = TrainConfig(width=2, steps=4, batch_size=4, hidden=4, embed=2, seeds=2,
                         chunk_steps=2, checkpoint_every=2)  # fmt: skip
    train(truth, config, key=jax.random.key(3), checkpoint_dir=tmp_path, progress=False,
          stop_after=2)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.npz"]  # no temporary left
    ck = load_checkpoint(tmp_path / "train.npz")
    assert ck is not None and ck.step == 2 and ck.seeds == (0, 1)
    assert ck.extras["losses"].shape == (4, 2) and ck.meta["config"]["steps"] == 4
    (tmp_path / "train.npz.x1.tmp").write_bytes(b"left by a kill -9 inside save")
    resumed = train(truth, config, key=jax.random.key(3), checkpoint_dir=tmp_path, progress=False)
    assert resumed.resumed_from == 2 and not (tmp_path / "train.npz.x1.tmp").exists()
    (tmp_path / "train.npz").write_bytes(b"torn")
    with pytest.raises(FileFormatError, match="delete it to restart"):
        train(truth, config, key=jax.random.key(3), checkpoint_dir=tmp_path, progress=False)


# -- the architecture registry -----------------------------------------------------------------

USER_BILINEAR = """
import jax, jax.numpy as jnp, json
jax.config.update("jax_enable_x64", True)
from idlin.lab.sweep import Program, parse_config, register_architecture, run_sweep, ResultsStore

def mine(point):
    init = lambda key, data: {"w": jnp.zeros(2)}
    step = lambda state, data, key: (state, jnp.zeros(()))
    return Program(init, step, lambda state: {"mine": 1.0}, None)

register_architecture("bilinear", mine)   # before the first sweep of the process
cfg = parse_config(json.loads(sys.argv[1]))
run_sweep(cfg, sys.argv[2])
with ResultsStore(sys.argv[2]) as s:
    print(json.dumps([r.metrics for r in s.records()]))
"""


def test_a_user_registration_before_the_first_sweep_wins(tmp_path):
    import json

    data = {"sweep": {"seeds": 1, "steps": 1}, "distributions": {"lr": DIST},
            "grid": {"distribution": ["lr"], "width": [2], "architecture": ["bilinear"],
                     "learning_rate": [0.1]}}  # fmt: skip
    script = tmp_path / "user.py"
    script.write_text("import sys\n" + textwrap.dedent(USER_BILINEAR))
    out = subprocess.run(
        [sys.executable, str(script), json.dumps(data), str(tmp_path / "o")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [{"mine": 1.0}]


def test_registry_in_process_and_bad_registrations(monkeypatch):
    from idlin.lab.sweep._architectures import quadratic

    monkeypatch.setattr(_registry, "_USER", {})
    c = parse_config({"sweep": {"steps": 1}, "distributions": {"q": {"kind": "quadratic"}},
                      "grid": {"distribution": ["q"], "width": [2], "architecture": ["bilinear"],
                               "learning_rate": [0.1]}})  # fmt: skip
    register_architecture("bilinear", quadratic)  # a user's override of a built-in name
    assert set(build_program(c.points[0]).data) == {"A", "b", "noise", "learning_rate"}
    with pytest.raises(ConfigError, match="expected a non-empty name, got ''"):
        register_architecture("", quadratic)
    with pytest.raises(ConfigError, match=r"expected a callable builder.*got int"):
        register_architecture("x", 3)  # type: ignore[arg-type]


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / "idlin" / "lab" / "sweep" / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            names.add(node.module)
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            names.update(a.name for a in node.names)
    return names


def test_no_import_cycle_between_architectures_trial_and_registry():
    assert not _imports("_trial") & {"_architectures", "_registry", "_runner"}
    assert "_registry" not in _imports("_architectures")
    assert "_trial" in _imports("_architectures")


# -- config validation -------------------------------------------------------------------------


def _grid(**train):
    return {"sweep": {"steps": 2}, "distributions": {"lr": DIST}, "train": train,
            "grid": {"distribution": ["lr"], "width": [2], "architecture": ["mlp"],
                     "learning_rate": [0.1]}}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_grid(hiden=4), r"\[train\]: unknown fields \['hiden'\]; expected some of \['activation'"),
        (_grid(stream_samples=4), r"unknown fields \['stream_samples'\].*'heads', 'hidden'"),
        ({**_grid(), "sweep": {"steps": 2, "name": "../../x"}}, r"sweep.name: expected a plain"),
        ({**_grid(), "sweep": {"steps": 2, "name": "/tmp/x"}}, r"no path separators.*'/tmp/x'"),
        ({**_grid(), "sweep": {"steps": 2, "name": "a\\b"}}, r"sweep.name"),
        ({**_grid(), "sweep": {"steps": 2, "name": ".."}}, r"sweep.name"),
        ({**_grid(), "sweep": {"steps": 2, "name": ""}}, r"expected a non-empty string"),
    ],
)
def test_bad_sweep_fields_raise_config_error(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), 0.0, -1.0])
def test_non_finite_or_non_positive_learning_rates(lr):
    data = _grid()
    data["grid"]["learning_rate"] = [lr]
    with pytest.raises(ConfigError, match=r"grid\.learning_rate: expected positive numbers"):
        parse_config(data)
    with pytest.raises(ConfigError, match="learning_rate: expected a finite number > 0"):
        TrainConfig(learning_rate=lr)


def test_unknown_activation_and_model_options(tmp_path):
    with pytest.raises(ConfigError, match=r"activation: expected one of \['gelu', 'identity'"):
        TrainConfig(activation="swish")
    c = parse_config(_grid(activation="swish"))
    with pytest.raises(ConfigError, match="activation: expected one of"):
        run_sweep(c, tmp_path)
    from flax import nnx

    from idlin.lab.models import make_model

    with pytest.raises(ConfigError, match=r"unknown model options \['hiden'\]; expected some"):
        make_model("mlp", vocab_size=3, context_length=1, width=2, rngs=nnx.Rngs(0), hiden=3)
    with pytest.raises(ConfigError, match="activation: expected one of"):
        make_model("mlp", vocab_size=3, context_length=1, width=2, rngs=nnx.Rngs(0),
                   activation="swish")  # fmt: skip
    with pytest.raises(ConfigError, match=r"TrainConfig: unknown fields \['widht'\]"):
        TrainConfig().replace(widht=3)


def test_train_fields_allowed_in_a_sweep_are_train_config_fields():
    import dataclasses

    from idlin.lab.sweep._config import _TRAIN_FIELDS, _TRAIN_RESERVED

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unused = {"stream_samples", "chunk_steps", "checkpoint_every"}
    assert set(_TRAIN_FIELDS) | _TRAIN_RESERVED | unused == fields
    assert not set(_TRAIN_FIELDS) & (_TRAIN_RESERVED | unused)


def test_load_config_on_a_directory(tmp_path):
    from idlin.lab.sweep import load_config

    with pytest.raises(FileFormatError, match=r"expected a TOML file at .*, got a directory"):
        load_config(tmp_path)


def test_seed_keys_do_not_depend_on_the_other_seeds():
    key = jax.random.key(5)
    a, b = seed_keys(key, [0, 1, 7]), seed_keys(key, [7])
    np.testing.assert_array_equal(jax.random.key_data(a[2]), jax.random.key_data(b[0]))
    assert not np.array_equal(jax.random.key_data(a[0]), jax.random.key_data(a[1]))


def test_point_keys_change_with_the_training_version(monkeypatch):
    """Records and checkpoints of an older training scheme are never mixed with new ones."""
    from idlin.lab.sweep import _config

    before = [p.key for p in mlp_config().points]
    monkeypatch.setattr(_config, "TRAINING_VERSION", _config.TRAINING_VERSION + 1)
    after = [p.key for p in mlp_config().points]
    assert set(before).isdisjoint(after)
