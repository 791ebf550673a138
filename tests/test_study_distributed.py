"""The study across devices and processes, in subprocesses: the seed axis sharded over two
simulated CPU devices (3 seeds padded to 4), the points split between two processes that
cooperate through `jax.distributed` on localhost — equal, point by point, to one process on
one device."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
from test_study import _DOC, _toml

import idlin
from idlin.lab.study._runner import load_points, run_study

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _by_key(records) -> dict[str, dict]:
    return {r["key"]: r for r in records}


def test_two_processes_on_two_devices_each_equal_one_process(tmp_path):
    tiny = {"seeds": 3, "width_multiples": [1, 2], "architectures": ["bilinear"]}
    doc = dict(_DOC, size={"tiny": tiny})
    cfg = tmp_path / "study.toml"
    cfg.write_text(_toml(doc))
    out, port = tmp_path / "dist", _free_port()
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    argv = [sys.executable, "-m", "idlin", "study", str(cfg), "--out", str(out), "--quick",
            "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]  # fmt: skip
    procs = [
        subprocess.Popen(
            [*argv, "--process-id", str(i)],
            env=env,
            cwd=ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert "process 0/2: 2 of 4 points" in logs[0] and "process 1/2: 2 of 4 points" in logs[1]
    assert "on 2×cpu in each of 2 processes" in logs[0]
    assert (out / "summary.json").exists()  # written by the process that finished last
    config = idlin.lab.study.load_config(cfg, "tiny")
    reference = tmp_path / "ref"
    run_study(config, reference, devices=jax.local_devices()[:1])
    got, want = _by_key(load_points(out)), _by_key(load_points(reference))
    assert set(got) == set(want) and len(want) == 4
    for key, rec in want.items():
        a, b = rec["models"], got[key]["models"]
        assert [m["seed"] for m in b] == [0, 1, 2]
        np.testing.assert_allclose([m["mean_kl"] for m in b], [m["mean_kl"] for m in a],
                                   rtol=1e-6, atol=1e-12)  # fmt: skip
        assert [m["rank"] for m in b] == [m["rank"] for m in a]
        _assert_close([m["properties"] for m in b], [m["properties"] for m in a], key)


def _assert_close(got, want, where) -> None:
    """Equal structure and verdicts; numbers equal to 1e-6 (two devices may round apart)."""
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for k in want:
            _assert_close(got[k], want[k], f"{where}/{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=where)
    else:
        assert got == want, where
