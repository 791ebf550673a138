"""Sweeps across devices and processes, in subprocesses: 4 simulated CPU devices, two processes
cooperating through `jax.distributed` on localhost, and `kill -9` at random points then resume."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from idlin.lab.sweep import ResultsStore, load_config, run_sweep

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_sweep_kill.py"
KILL_TRIALS = 5


def _env(devices: int = 1) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _write_config(path: Path, *, widths, seeds, steps, every, archs=("quadratic",)) -> Path:
    path.write_text(
        textwrap.dedent(f"""
        [sweep]
        name = "t"
        seeds = {seeds}
        steps = {steps}
        checkpoint_every = {every}
        [grid]
        distribution = ["q"]
        width = {list(widths)}
        architecture = {json.dumps(list(archs))}
        learning_rate = [0.05]
        [distributions.q]
        kind = "quadratic"
        seed = 3
        noise = 0.1
        """)
    )
    return path


def _metrics(directory: Path) -> dict[tuple[str, int], dict]:
    with ResultsStore(directory) as s:
        records = s.records()
        assert s.duplicates() == 0
    out = {(r.point_key, r.seed): dict(r.metrics) for r in records}
    assert len(out) == len(records)
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        for name, v in a[k].items():
            np.testing.assert_allclose(b[k][name], v, rtol=1e-12, atol=0, err_msg=f"{k} {name}")


SHARDED_SCRIPT = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from idlin.lab.sweep import build_program, parse_config, run_sweep
from idlin.lab.train import SWEEP_ROOT, init_runner, seed_keys

cfg = parse_config(json.loads(sys.argv[1]))
devices = jax.local_devices()
assert len(devices) == 4, devices
sharded = run_sweep(cfg, sys.argv[2], devices=devices)
single = run_sweep(cfg, sys.argv[3], devices=devices[:1])
# The seed axis really is split over the 4 devices, one seed per device.
sh = NamedSharding(Mesh(np.asarray(devices), ("seed",)), PartitionSpec("seed"))
prog = build_program(cfg.points[0])
keys = jax.device_put(seed_keys(jax.random.key(SWEEP_ROOT), range(4)), sh)
state = init_runner(prog.init, sh)(keys, prog.data)
leaf = jax.tree_util.tree_leaves(state)[0]
print(json.dumps({"devices": [sharded.devices, single.devices],
                  "shards": sorted(s.data.shape[0] for s in leaf.addressable_shards),
                  "device_set": len(leaf.sharding.device_set)}))
"""


def test_sharded_over_4_devices_equals_unsharded(tmp_path):
    # 3 seeds, padded to 4 on 4 devices; the quadratic plumbing check and a bilinear model (the
    # quadratic ignores the distribution table apart from its seed).
    data = {
        "sweep": {"seeds": 3, "steps": 8, "checkpoint_every": 4},
        "grid": {"distribution": ["lr"], "width": [2], "architecture": ["quadratic", "bilinear"],
                 "learning_rate": [0.05]},
        "distributions": {
            "lr": {"kind": "lowrank", "vocab_size": 3, "context_length": 2, "rank": 2}
        },
    }  # fmt: skip
    script = tmp_path / "sharded.py"
    script.write_text(SHARDED_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), json.dumps(data), str(tmp_path / "a"), str(tmp_path / "b")],
        env=_env(devices=4), cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info == {"devices": ["4×cpu", "1×cpu"], "shards": [1, 1, 1, 1], "device_set": 4}
    a, b = _metrics(tmp_path / "a"), _metrics(tmp_path / "b")
    assert len(a) == 2 * 3
    _assert_same(a, b)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_cooperate_through_jax_distributed(tmp_path):
    cfg_path = _write_config(tmp_path / "s.toml", widths=[2, 3, 4], seeds=2, steps=6, every=3)
    out = tmp_path / "dist"
    port = _free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "idlin",
                "sweep",
                str(cfg_path),
                "--out",
                str(out),
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ],
            env=_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert "process 0/2" in logs[0] and "process 1/2" in logs[1]
    config = load_config(cfg_path)
    # Each process computed and stored only its own half of the grid...
    for i in range(2):
        with ResultsStore(out, process_index=i) as s:
            mine = {r.point_key for r in s.records() if r.process_index == i}
        assert mine == {p.key for p in config.points[i::2]}
    # ... together every record exactly once, equal to a single-process run.
    reference = tmp_path / "ref"
    run_sweep(config, reference)
    _assert_same(_metrics(reference), _metrics(out))


def _bench():
    spec = importlib.util.spec_from_file_location("bench_sweep_kill", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sweep_kill"] = module  # dataclasses resolves the module by name
    spec.loader.exec_module(module)
    return module


def test_kill_minus_9_at_random_points_then_resume_keeps_every_record_once(tmp_path):
    """The harness of `benchmarks/bench_sweep_kill.py` with 5 trials: every record exactly
    once after resuming, equal to an uninterrupted run; no checkpoint or temp file left."""
    bench = _bench()
    cfg = bench.write_config(tmp_path / "kill.toml")
    seed = int(os.environ.get("IDLIN_KILL_SEED", "0"))
    stats = bench.kill_campaign(cfg, tmp_path, trials=KILL_TRIALS, seed=seed)
    assert stats.records == load_config(cfg).num_records and stats.duplicates == 0
    assert stats.killed_running >= 1, "no kill landed while the sweep was running"


@pytest.mark.parametrize("argv", [["--status"], []])
def test_cli_reports_bad_config_in_one_line(tmp_path, argv):
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep]\nsteps = 0\n[grid]\n[distributions]\n")
    from typer.testing import CliRunner

    from idlin.apps.cli import app

    result = CliRunner().invoke(app, ["sweep", str(bad), *argv])
    assert result.exit_code == 2
    assert "idlin: error:" in result.output and "expected" in result.output
