"""The CLI's persistent compilation cache (issue 23, "Compilation once"): on by default in a user
cache folder, `IDLIN_COMPILE_CACHE` chooses the folder or switches it off, and JAX's own
`JAX_COMPILATION_CACHE_DIR` wins."""

import os
import subprocess
import sys

import numpy as np

import idlin
import idlin.core.io
from idlin.apps.cli import compile_cache_dir


def _verify(tmp_path, **env):
    rng = np.random.default_rng(0)
    F, G = rng.normal(size=(12, 3)), rng.normal(size=(9, 3))
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    idlin.core.io.save(a, idlin.Predictor(F, G))
    idlin.core.io.save(b, idlin.Predictor(2 * F, G / 2))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "IDLIN_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "idlin", "verify", str(a), str(b), "--json"],
        env={**clean, **env}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_the_cache_is_written_where_asked_and_reused(tmp_path):
    cache = tmp_path / "cache"
    first = _verify(tmp_path, IDLIN_COMPILE_CACHE=str(cache))
    entries = set(os.listdir(cache))
    assert entries  # compiled programs were kept
    second = _verify(tmp_path, IDLIN_COMPILE_CACHE=str(cache))
    assert second.stdout == first.stdout  # same answer from cached programs
    assert set(os.listdir(cache)) == entries  # nothing new to compile for the same shapes


def test_the_cache_can_be_switched_off_and_jax_setting_wins(tmp_path, monkeypatch):
    home = tmp_path / "home"
    _verify(tmp_path, IDLIN_COMPILE_CACHE="off", XDG_CACHE_HOME=str(home))
    assert not home.exists()
    monkeypatch.delenv("IDLIN_COMPILE_CACHE", raising=False)
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    assert compile_cache_dir() == home / "idlin" / "jax"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache_dir() is None
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    monkeypatch.setenv("IDLIN_COMPILE_CACHE", "0")
    assert compile_cache_dir() is None
