"""Sweeps in one process: config and grid, results store, checkpoints, runner, summary."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
import statistics

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import idlin
from idlin import ConfigError, FileFormatError, Predictor
from idlin.lab.sweep import (
    Program,
    Record,
    ResultsStore,
    build_program,
    load_config,
    make_truth,
    owned_points,
    parse_config,
    register_architecture,
    run_sweep,
)
from idlin.lab.sweep._summary import summarize, summarize_records, sweep_status
from idlin.lab.train import SWEEP_ROOT, init_key, seed_keys, step_key
from idlin.lab.train._checkpoint import (
    load_checkpoint,
    remove_temporaries,
    restore,
    save_checkpoint,
)


def sweep_seed_key(seed):
    """The key schedule of every training run: a sweep's seed s under root key(SWEEP_ROOT)."""
    return seed_keys(jax.random.key(SWEEP_ROOT), [seed])[0]


def make_config(**over):
    sweep = {"name": "t", "seeds": 2, "steps": 6, "checkpoint_every": 2}
    sweep.update(over.pop("sweep", {}))
    grid = {
        "distribution": ["q"],
        "width": [2, 3],
        "architecture": ["quadratic"],
        "learning_rate": [0.1, 0.2],
    }
    grid.update(over.pop("grid", {}))
    dists = {"q": {"kind": "quadratic", "seed": 1}, "lr": {"kind": "lowrank", "vocab_size": 4,
             "context_length": 2, "rank": 2, "seed": 0}}  # fmt: skip
    dists.update(over.pop("distributions", {}))
    return {"sweep": sweep, "grid": grid, "distributions": dists, **over}


# -- config and grid ---------------------------------------------------------------------------


def test_grid_is_the_product_in_a_fixed_order_with_distinct_stable_keys():
    c = parse_config(make_config())
    assert c.seeds == (0, 1)
    assert [(p.width, p.learning_rate) for p in c.points] == [
        (2, 0.1),
        (2, 0.2),
        (3, 0.1),
        (3, 0.2),
    ]
    assert len({p.key for p in c.points}) == 4 and c.num_records == 8
    assert [p.key for p in parse_config(make_config()).points] == [p.key for p in c.points]
    # Anything that changes results changes the key: distribution parameters, steps.
    c2 = parse_config(make_config(distributions={"q": {"kind": "quadratic", "seed": 2}}))
    c3 = parse_config(make_config(sweep={"steps": 8}))
    keys = {p.key for p in c.points}
    assert keys.isdisjoint(p.key for p in c2.points) and keys.isdisjoint(p.key for p in c3.points)
    # ... but checkpointing frequency does not.
    c4 = parse_config(make_config(sweep={"checkpoint_every": 3}))
    assert [p.key for p in c4.points] == [p.key for p in c.points]


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"sweep": {"steps": 0}}, r"sweep.steps: expected a positive integer, got 0"),
        ({"sweep": {"seeds": [1, 1]}}, r"expected distinct seeds"),
        ({"sweep": {"seeds": [-1]}}, r"expected integers in \[0, 2³¹\), got -1"),
        ({"sweep": {"seeds": [2**31]}}, r"expected integers in \[0, 2³¹\), got 2147483648"),
        ({"sweep": {"bogus": 1}}, r"unknown keys \['bogus'\]"),
        ({"sweep": {"journal_mode": "mmap"}}, r"journal_mode: expected one of"),
        ({"grid": {"width": []}}, r"grid.width: expected a non-empty list"),
        ({"grid": {"width": [2, 2]}}, r"expected distinct grid points"),
        ({"grid": {"learning_rate": [-0.1]}}, r"expected positive numbers, got -0.1"),
        ({"grid": {"distribution": ["nope"]}}, r"'nope' needs a table \[distributions.nope\]"),
        ({"extra": {}}, r"unknown tables \['extra'\]"),
        ({"train": {"width": 3}}, r"\[train\]: expected a table without \['architecture'"),
    ],
)
def test_bad_configs_raise_config_error_naming_expected_and_got(over, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(make_config(**over))


def test_load_config_file_errors(tmp_path):
    with pytest.raises(FileFormatError, match="expected a TOML file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep\n")
    with pytest.raises(FileFormatError, match="expected valid TOML"):
        load_config(bad)


def test_example_config_parses():
    c = load_config("examples/sweep.toml")
    assert c.num_records == len(c.points) * len(c.seeds) > 0


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_process_partition_is_disjoint_and_covering(count):
    c = parse_config(make_config(grid={"width": [1, 2, 3]}))
    parts = [owned_points(c, i, count) for i in range(count)]
    keys = [p.key for part in parts for p in part]
    assert sorted(keys) == sorted(p.key for p in c.points)


# -- store -------------------------------------------------------------------------------------


def test_store_is_idempotent_and_reads_every_process_file(tmp_path):
    r = Record("k1", 0, {"a": 1}, {"loss": 0.5, "skipped": {"x": "ImportError"}})
    with (
        ResultsStore(tmp_path, process_index=0) as s0,
        ResultsStore(tmp_path, process_index=1) as s1,
    ):
        assert s0.put([r, dataclasses.replace(r, seed=1)]) == 2
        assert s0.put([r]) == 0  # already committed: no-op
        assert s1.put([dataclasses.replace(r, point_key="k2")]) == 1
        assert s0.done() == s1.done() == {("k1", 0), ("k1", 1), ("k2", 0)}
        got = s1.records()
        assert [(x.point_key, x.seed, x.process_index) for x in got] == [
            ("k1", 0, 0), ("k1", 1, 0), ("k2", 0, 1)
        ]  # fmt: skip
        assert got[0].metrics == r.metrics and got[0].config == r.config
        assert s0.duplicates() == 0
        s1.put([r])  # the same record in a second file is a duplicate, and is reported
        assert s0.duplicates() == 1


def test_store_rejects_a_file_that_is_not_sqlite(tmp_path):
    (tmp_path / "records-p0003.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(FileFormatError, match="expected an SQLite database"):
        ResultsStore(tmp_path, process_index=3)


# -- checkpoints -------------------------------------------------------------------------------


def test_checkpoint_roundtrip_restore_and_bad_file(tmp_path):
    path = str(tmp_path / "c" / "k.npz")
    state = {"w": np.arange(6.0).reshape(3, 2), "n": np.array([1, 2, 3], np.int32)}
    save_checkpoint(path, state, step=4, seeds=(5, 6, 6))
    ck = load_checkpoint(path)
    assert ck is not None and ck.step == 4 and ck.seeds == (5, 6, 6)
    got = restore(state, ck, np.array([2, 0]))
    np.testing.assert_array_equal(got["w"], state["w"][[2, 0]])
    np.testing.assert_array_equal(got["n"], state["n"][[2, 0]])
    assert restore({"w": np.zeros((3, 3)), "n": state["n"]}, ck, np.array([0])) is None
    assert list((tmp_path / "c").iterdir()) == [tmp_path / "c" / "k.npz"]  # no temp left
    # A temp file left by a kill inside save_checkpoint is swept up by the owner; others stay.
    (tmp_path / "c" / "k.npz.abc123.tmp").write_bytes(b"partial")
    (tmp_path / "c" / "other.npz.abc123.tmp").write_bytes(b"partial")
    remove_temporaries(path)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["k.npz", "other.npz.abc123.tmp"]
    (tmp_path / "c" / "k.npz").write_bytes(b"torn")
    with pytest.raises(FileFormatError, match="delete it to restart"):
        load_checkpoint(path)


# -- runner ------------------------------------------------------------------------------------


def _sequential(point, seed, steps):
    """Independent reference: one seed, no vmap, no sharding, no checkpoints."""
    prog = build_program(point)
    base = sweep_seed_key(seed)
    state = prog.init(init_key(base), prog.data)
    step = jax.jit(prog.step)
    for t in range(steps):
        state, _ = step(state, prog.data, step_key(base, t))
    return prog.evaluate(jax.tree_util.tree_map(np.asarray, state))


def test_vmapped_sweep_matches_sequential_seeds_and_reruns_are_noops(tmp_path):
    c = parse_config(make_config(grid={"width": [3], "learning_rate": [0.1]}, sweep={"seeds": 3}))
    run = run_sweep(c, tmp_path)
    assert (run.records_written, run.seed_steps, run.points_skipped) == (3, 18, 0)
    with ResultsStore(tmp_path) as s:
        records = s.records()
    for r in records:
        ref = _sequential(c.points[0], r.seed, c.steps)
        for name, value in ref.items():
            np.testing.assert_allclose(r.metrics[name], value, rtol=1e-12, atol=1e-14)
    again = run_sweep(c, tmp_path)
    assert (again.records_written, again.seed_steps, again.points_skipped) == (0, 0, 1)
    # A new seed runs alone; the others are not recomputed.
    more = run_sweep(dataclasses.replace(c, seeds=(0, 1, 2, 7)), tmp_path)
    assert (more.records_written, more.seed_steps) == (1, c.steps)


def test_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    c = parse_config(make_config(grid={"width": [2], "learning_rate": [0.2]}))
    run_sweep(c, tmp_path / "ref")
    # Fake a crash after 4 of 6 steps: a checkpoint as the runner would have left it.
    prog, point = build_program(c.points[0]), c.points[0]
    states = []
    for seed in c.seeds:
        base = sweep_seed_key(seed)
        st = prog.init(init_key(base), prog.data)
        for t in range(4):
            st, _ = prog.step(st, prog.data, step_key(base, t))
        states.append(st)
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *states)
    ckpt = tmp_path / "run" / "checkpoints" / f"{point.key}.npz"
    save_checkpoint(str(ckpt), stacked, step=4, seeds=c.seeds)
    run = run_sweep(c, tmp_path / "run")
    assert (run.points_resumed, run.seed_steps) == (1, 2 * len(c.seeds))
    assert not ckpt.exists()
    with ResultsStore(tmp_path / "ref") as a, ResultsStore(tmp_path / "run") as b:
        ra, rb = a.records(), b.records()
    # Leaf by leaf (pytest.approx takes no nested data): same records, every metric to 1e-12.
    assert [(r.point_key, r.seed) for r in ra] == [(r.point_key, r.seed) for r in rb]
    for x, y in zip(ra, rb, strict=True):
        assert x.metrics.keys() == y.metrics.keys()
        for name, value in x.metrics.items():
            assert y.metrics[name] == pytest.approx(value, rel=1e-12), (x.seed, name)


def test_bilinear_records_match_a_numpy_reference(tmp_path):
    c = parse_config(make_config(
        grid={"distribution": ["lr"], "architecture": ["bilinear"], "width": [3],
              "learning_rate": [0.1]},
        sweep={"steps": 20, "checkpoint_every": 10},
    ))  # fmt: skip
    run_sweep(c, tmp_path)
    with ResultsStore(tmp_path) as s:
        records = s.records()
    assert len(records) == 2
    point = c.points[0]
    prog = build_program(point)
    truth = make_truth(point.distribution_params)
    assert truth.probs.shape == (16, 4)
    step = jax.jit(prog.step)
    for r in records:
        base = sweep_seed_key(r.seed)
        st = prog.init(init_key(base), prog.data)
        for t in range(c.steps):
            st, _ = step(st, prog.data, step_key(base, t))
        F, G = np.asarray(st["params"]["F"]), np.asarray(st["params"]["G"])
        Fs = np.asarray(truth.predictor.embeddings)
        Gs = np.asarray(truth.predictor.unembeddings)
        lp = np.log(truth.probs)
        lq = F @ G.T
        lq = lq - np.log(np.exp(lq).sum(1, keepdims=True))
        kl = np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1))
        Cs = Fs @ (Gs - Gs.mean(0)).T
        Cq = F @ (G - G.mean(0)).T
        m = r.metrics
        np.testing.assert_allclose(m["mean_kl"], kl, rtol=1e-9)
        np.testing.assert_allclose(m["loss"], -np.mean(np.sum(np.exp(lp) * lq, 1)), rtol=1e-12)
        np.testing.assert_allclose(
            m["relative_gap"], np.linalg.norm(Cs - Cq) / np.linalg.norm(Cs), rtol=1e-9
        )
        s = np.linalg.svd(Cq, compute_uv=False)  # rank at the KL-tied threshold (docs/theory.md §8)
        tau = 2 * np.sqrt(2 * kl) * (np.sqrt(Cq.shape[0]) + np.sqrt(Cq.shape[1]))
        rtol = np.clip(tau / s[0], np.finfo(np.float64).eps, 0.5)
        assert m["truth_rank"] == 2 and m["rank"] == int(np.sum(s > rtol * s[0]))
        for name in ("canonical_r2", "parallelism_raw", "parallelism_identifiable"):
            assert name in m or name in m["skipped"]
        assert r.config["seed"] == r.seed and r.config["width"] == 3


def test_mlp_sweep_matches_sequential_idlin_train_steps(tmp_path):
    """A Flax NNX architecture through `idlin.lab.train`'s pure step: the vmapped, checkpointed
    sweep equals stepping each seed alone (independent loop, no vmap)."""
    c = parse_config(make_config(
        grid={"distribution": ["lr"], "architecture": ["mlp"], "width": [2],
              "learning_rate": [0.01]},
        sweep={"steps": 4, "checkpoint_every": 2},
        train={"batch_size": 4, "hidden": 4, "embed": 2},
    ))  # fmt: skip
    run_sweep(c, tmp_path)
    with ResultsStore(tmp_path) as s:
        records = s.records()
    assert [r.seed for r in records] == [0, 1]
    for r in records:
        ref = _sequential(c.points[0], r.seed, c.steps)
        assert set(ref) == set(r.metrics)
        for name in ("mean_kl", "relative_gap", "canonical_r2", "parallelism_raw"):
            np.testing.assert_allclose(r.metrics[name], ref[name], rtol=1e-10)
        assert r.metrics["truth_rank"] == 2 and r.config["train_options"]["hidden"] == 4


def _exploding(point):
    """A user architecture whose parameters overflow to inf: its records say why it failed."""

    def init(key, data):
        return {"w": jax.random.normal(key, (2,), jnp.float64)}

    def step(state, data, key):
        return {"w": state["w"] * data}, jnp.sum(state["w"])

    def evaluate(state):
        p = Predictor(state["w"][None, :], np.eye(2))  # NonFiniteError once w overflows
        return {"gap": idlin.distribution_gap(p, p).frobenius}

    return Program(init, step, evaluate, jnp.asarray(float(point.learning_rate)))


def test_a_failed_seed_is_recorded_with_its_reason_and_the_sweep_goes_on(tmp_path):
    register_architecture("exploding", _exploding)
    c = parse_config(make_config(grid={"architecture": ["exploding"], "width": [2],
                                       "learning_rate": [1.0, 1e200]}))  # fmt: skip
    run = run_sweep(c, tmp_path)
    assert run.records_written == 4
    with ResultsStore(tmp_path) as s:
        by_lr = {(r.config["learning_rate"], r.seed): r.metrics for r in s.records()}
    assert by_lr[(1.0, 0)] == {"gap": 0.0}
    assert by_lr[(1e200, 0)]["failed"].startswith("NonFiniteError: embeddings: expected finite")


def test_runner_input_errors(tmp_path):
    c = parse_config(make_config())
    with pytest.raises(ConfigError, match=r"expected 0 ≤ index < 2, got 2"):
        run_sweep(c, tmp_path, process_index=2, process_count=2)
    with pytest.raises(ConfigError, match=r"expected one of \[.*'quadratic'.*\], got 'cnn'"):
        run_sweep(parse_config(make_config(grid={"architecture": ["cnn"]})), tmp_path)
    grid = {"architecture": ["bilinear"], "distribution": ["lr"]}
    for dist, match in [
        ({"kind": "zipf"}, r"expected one of \('lowrank', 'markov', 'hmm'\), got 'zipf'"),
        ({"kind": "lowrank", "vocab_size": 3, "context_length": 1, "rank": 3}, r"r ≤ V − 1"),
        ({"kind": "lowrank", "vocab_size": 3, "context_length": 1, "rank": 1, "bogus": 1},
         r"kind = 'lowrank': .*bogus"),
    ]:  # fmt: skip
        bad = parse_config(make_config(grid=grid, distributions={"lr": dist}))
        with pytest.raises(ConfigError, match=match):
            run_sweep(bad, tmp_path)


# -- status and summary ------------------------------------------------------------------------


def test_status_and_summary_against_statistics_module(tmp_path):
    c = parse_config(make_config(grid={"width": [2], "learning_rate": [0.1, 0.2]},
                                 sweep={"seeds": 3}))  # fmt: skip
    st = sweep_status(c, tmp_path)
    assert (st.total, st.done, st.finished) == (6, 0, False)
    p0, p1 = c.points
    recs = [Record(p0.key, s, {}, {"x": v, "n": 1, "s": "str", "bad": math.nan})
            for s, v in zip((0, 1, 2), (1.0, 2.5, 4.0), strict=True)]  # fmt: skip
    recs.append(Record(p1.key, 0, {}, {"x": 3.0}))
    recs.append(Record("stale-key", 0, {}, {"x": 9.0}))
    with ResultsStore(tmp_path) as s:
        s.put(recs)
    st = sweep_status(c, tmp_path)
    assert (st.done, st.stale, st.duplicates) == (4, 1, 0)
    assert [(p.done, p.seeds) for p in st.points] == [(3, 3), (1, 3)]
    rows = {(r.key, r.metric): r for r in summarize(c, tmp_path)}
    assert set(rows) == {(p0.key, "x"), (p0.key, "n"), (p1.key, "x")}
    x = rows[(p0.key, "x")]
    assert x.n == 3 and x.mean == pytest.approx(statistics.mean([1.0, 2.5, 4.0]), rel=1e-15)
    assert x.sem == pytest.approx(statistics.stdev([1.0, 2.5, 4.0]) / math.sqrt(3), rel=1e-14)
    assert math.isnan(rows[(p1.key, "x")].sem) and rows[(p1.key, "x")].n == 1
    assert summarize_records(c, []) == ()


def test_plot_summary_writes_a_figure(tmp_path):
    from idlin.lab.sweep._summary import plot_summary

    c = parse_config(make_config(grid={"learning_rate": [0.1]}))
    recs = [Record(p.key, s, {}, {"loss": float(s + p.width)}) for p in c.points for s in c.seeds]
    path = plot_summary(c, summarize_records(c, recs), tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000 and path.endswith("f.png")


def test_store_files_are_wal_sqlite_with_a_primary_key(tmp_path):
    with ResultsStore(tmp_path) as s:
        s.put([Record("k", 0, {}, {})])
    conn = sqlite3.connect(tmp_path / "records-p0000.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO records VALUES ('k', 0, '{}', '{}', 0, 0)")
    conn.close()


def test_cli_status_and_summary_on_a_stored_sweep(tmp_path):
    import json

    from typer.testing import CliRunner

    from idlin.apps.cli import app

    cfg = tmp_path / "s.toml"
    cfg.write_text(
        '[sweep]\nseeds = 2\nsteps = 3\n[grid]\ndistribution = ["q"]\nwidth = [2]\n'
        'architecture = ["quadratic"]\nlearning_rate = [0.1]\n'
        '[distributions.q]\nkind = "quadratic"\n'
    )
    point = load_config(cfg).points[0]
    with ResultsStore(tmp_path / "out") as s:
        s.put([Record(point.key, 0, {}, {"loss": 1.0}), Record(point.key, 1, {}, {"loss": 3.0})])
    runner = CliRunner()
    status = runner.invoke(app, ["sweep", str(cfg), "--out", str(tmp_path / "out"), "--status"])
    assert status.exit_code == 0 and "2/2 records" in status.output
    args = ["sweep-summary", str(cfg), "--out", str(tmp_path / "out"), "--json"]
    summary = runner.invoke(app, [*args, "--plot", str(tmp_path / "f.png")])
    assert summary.exit_code == 0, summary.output
    rows = json.loads(summary.output)  # --json: nothing but the JSON on stdout
    assert [(r["metric"], r["n"], r["mean"], r["sem"]) for r in rows] == [("loss", 2, 2.0, 1.0)]
    assert (tmp_path / "f.png").exists()
    # --status --json; one seed's sem is undefined: null, never a bare NaN token (issue 25)
    status = runner.invoke(app, ["sweep", str(cfg), "--out", str(tmp_path / "out"), "--status",
                                 "--json"])  # fmt: skip
    assert status.exit_code == 0 and json.loads(status.output)["done"] == 2
    with ResultsStore(tmp_path / "one") as s:
        s.put([Record(point.key, 0, {}, {"loss": 1.0})])
    args = ["sweep-summary", str(cfg), "--out", str(tmp_path / "one"), "--json"]
    one = runner.invoke(app, args)
    bad = lambda c: pytest.fail(f"non-standard JSON constant {c}")  # noqa: E731
    assert json.loads(one.output, parse_constant=bad)[0]["sem"] is None


def test_cli_sweep_and_study_list_json_and_debug_in_help(capsys, monkeypatch):
    from idlin.apps.cli import run

    monkeypatch.setenv("COLUMNS", "200")
    for name in ("sweep", "sweep-summary", "study"):
        assert run([name, "--help"]) == 0
        text = capsys.readouterr().out
        assert "--json" in text and "--debug" in text, (name, text)


@pytest.mark.parametrize(("panels", "shape"), [(1, (1, 1)), (2, (1, 2)), (4, (2, 2)),
                                               (5, (2, 3)), (9, (3, 3)), (10, (4, 3))])  # fmt: skip
def test_summary_plot_is_a_grid_not_a_strip(panels, shape, tmp_path):
    """issue 25: 9 metrics were 9 panels in one 2880×280 row."""
    from idlin.lab.sweep._summary import grid_shape, plot_summary

    assert grid_shape(panels) == shape
    rows, cols = shape
    assert rows * cols >= panels > (rows - 1) * cols  # no empty row
    if panels == 9:
        import matplotlib.image

        c = parse_config(make_config(grid={"learning_rate": [0.1]}))
        recs = [
            Record(p.key, s, {}, {f"m{i}": float(s + i) for i in range(9)})
            for p in c.points
            for s in c.seeds
        ]
        plot_summary(c, summarize_records(c, recs), tmp_path / "g.png")
        height, width = matplotlib.image.imread(tmp_path / "g.png").shape[:2]
        assert 0.6 < width / height < 2.0, (width, height)
