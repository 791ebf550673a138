"""Sweep defects of issue 11: the writer lock, multi-host options, unusable `--out`, read-only
readers, `--plot` paths, never-run directories, and failed records that are retried."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import textwrap

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from idlin import NonFiniteError
from idlin.apps.cli import app
from idlin.core._errors import OutputError
from idlin.lab.sweep import (
    Program,
    Record,
    ResultsStore,
    load_config,
    parse_config,
    register_architecture,
    run_sweep,
)
from idlin.lab.sweep._lock import exclusive, writer_active
from idlin.lab.sweep._summary import sweep_status

CONFIG = """
[sweep]
name = "rel"
seeds = 2
steps = 2
[grid]
distribution = ["q"]
width = [2]
architecture = ["quadratic"]
learning_rate = [0.1]
[distributions.q]
kind = "quadratic"
"""


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(CONFIG))
    return path


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("idlin: error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def _listing(directory):
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in directory.rglob("*"))


# -- the writer lock ---------------------------------------------------------------------------


def test_a_second_sweep_on_a_locked_directory_exits_2_naming_the_holder(cfg, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with exclusive(str(out), 0):  # as a running `idlin sweep` holds it
        assert writer_active(str(out))
        line = error_line(invoke("sweep", cfg, "--out", out))
        assert f"is locked by pid {os.getpid()} (host {socket.gethostname()})" in line
        with pytest.raises(OutputError, match="is locked by pid"):
            run_sweep(load_config(cfg), out)
        assert not list(out.glob("records-*.sqlite"))  # refused before opening the store
    assert not writer_active(str(out))
    # The holder is gone (the kernel drops the lock, also after kill -9): the next run works.
    assert invoke("sweep", cfg, "--out", out).exit_code == 0
    assert sweep_status(load_config(cfg), out).finished


# -- multi-host options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--num-processes", "2"], "--num-processes: expected together with --coordinator"),
        (["--process-id", "1"], "--process-id: expected together with --coordinator"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "-1"],
         r"--process-id: expected 0 ≤ id < --num-processes = 2, got -1"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"],
         r"--process-id: expected 0 ≤ id < --num-processes = 2, got 2"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "0", "--process-id", "0"],
         r"--num-processes: expected an integer ≥ 1, got 0"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2"],
         r"--coordinator: expected --num-processes N and --process-id I"),
        (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
         r"--coordinator: expected HOST:PORT, got 'localhost'"),
    ],
)  # fmt: skip
def test_bad_multi_host_options_are_idlin_errors(cfg, tmp_path, args, match):
    import re

    line = error_line(invoke("sweep", cfg, "--out", tmp_path / "o", *args))
    assert re.search(match, line), line
    assert not (tmp_path / "o").exists()  # refused before anything was created


# -- unusable --out ----------------------------------------------------------------------------


def test_out_that_is_a_file_or_under_a_file(cfg, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    assert "expected a directory, got an existing file" in error_line(
        invoke("sweep", cfg, "--out", f)
    )
    assert "expected a sweep directory, got an existing file" in error_line(
        invoke("sweep", cfg, "--out", f, "--status")
    )
    assert "expected a sweep directory, got an existing file" in error_line(
        invoke("sweep-summary", cfg, "--out", f)
    )
    assert "expected a directory that can be created" in error_line(
        invoke("sweep", cfg, "--out", f / "sub")
    )
    assert f.read_text() == "x"


def test_unwritable_out_is_refused_before_computing(cfg, tmp_path, monkeypatch):
    """`os.access` says read-only (as on read-only media; root ignores chmod, so the check is
    simulated): an idlin error before any training, no store created."""
    import idlin.lab.sweep._runner as runner

    out = tmp_path / "ro"
    out.mkdir()
    real = os.access

    def access(path, mode, **kw):
        return False if os.fspath(path) == str(out) and mode & os.W_OK else real(path, mode, **kw)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(runner, "_run_point", lambda *a: pytest.fail("computed on read-only out"))
    assert "expected a writable directory, got read-only" in error_line(
        invoke("sweep", cfg, "--out", out)
    )
    assert list(out.iterdir()) == []


@contextlib.contextmanager
def read_only(directory):
    """`directory` made read-only: a read-only bind mount when root (root ignores permission
    bits) and mounting is allowed, else `chmod a-w`; skips the test when neither works."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [directory, *directory.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield directory
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    target = directory.parent / (directory.name + "-ro")
    target.mkdir()
    ok = subprocess.run(["mount", "--bind", str(directory), str(target)], capture_output=True)
    if ok.returncode != 0:
        pytest.skip("root, and no bind mounts here: cannot make a read-only directory")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], capture_output=True)
        if ro.returncode != 0:
            pytest.skip("cannot remount read-only")
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_finished_sweep_on_read_only_media_can_be_read(cfg, tmp_path):
    out = tmp_path / "out"
    assert invoke("sweep", cfg, "--out", out).exit_code == 0
    with read_only(out) as ro:
        with pytest.raises(OSError):
            (ro / "probe").write_text("x")
        status = invoke("sweep", cfg, "--out", ro, "--status")
        assert status.exit_code == 0 and "2/2 records" in status.output, status.output
        summary = invoke("sweep-summary", cfg, "--out", ro, "--json")
        assert summary.exit_code == 0 and '"loss"' in summary.output, summary.output
        assert "expected a writable directory" in error_line(invoke("sweep", cfg, "--out", ro))
        assert "expected a directory that can be created" in error_line(
            invoke("sweep", cfg, "--out", ro / "new")
        )


def test_readers_open_the_store_read_only_and_create_nothing(cfg, tmp_path):
    out = tmp_path / "out"
    assert invoke("sweep", cfg, "--out", out).exit_code == 0
    before = _listing(out)
    assert invoke("sweep", cfg, "--out", out, "--status").exit_code == 0
    assert invoke("sweep-summary", cfg, "--out", out).exit_code == 0
    assert _listing(out) == before  # no -wal/-shm, no lock, no new store file
    with ResultsStore.open_readonly(out) as store:
        assert store.readonly and len(store.records()) == 2
        with pytest.raises(OutputError, match="opened read-only"):
            store.put([Record("k", 0, {}, {})])


# -- never-run directories and --plot ----------------------------------------------------------


def test_summary_of_a_never_run_directory_exits_2_and_creates_nothing(cfg, tmp_path):
    missing = tmp_path / "never"
    line = error_line(invoke("sweep-summary", cfg, "--out", missing))
    assert "expected a sweep directory with records-p*.sqlite" in line
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "got none" in error_line(invoke("sweep-summary", cfg, "--out", empty))
    assert list(empty.iterdir()) == []
    status = invoke("sweep", cfg, "--out", missing, "--status")  # progress: 0 of 2, no dir made
    assert status.exit_code == 0 and "0/2 records" in status.output and not missing.exists()


def test_plot_into_a_missing_directory_creates_it_and_bad_plot_paths_are_errors(cfg, tmp_path):
    out = tmp_path / "out"
    assert invoke("sweep", cfg, "--out", out).exit_code == 0
    fig = tmp_path / "figs" / "deeper" / "s.png"
    result = invoke("sweep-summary", cfg, "--out", out, "--plot", fig)
    assert result.exit_code == 0, result.output
    assert fig.stat().st_size > 1000
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "expected a directory" in error_line(
        invoke("sweep-summary", cfg, "--out", out, "--plot", blocker / "s.png")
    )
    assert "expected a file ending in" in error_line(
        invoke("sweep-summary", cfg, "--out", out, "--plot", tmp_path / "s.txt")
    )


def test_sweep_name_cannot_escape_the_output_directory(tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text(textwrap.dedent(CONFIG).replace('name = "rel"', 'name = "../../escape"'))
    monkeypatch.chdir(tmp_path)
    assert "sweep.name: expected a plain name" in error_line(invoke("sweep", bad))
    assert not (tmp_path.parent / "escape").exists()


# -- failed records are retried ----------------------------------------------------------------

FAIL = {"on": True}


def _flaky(point):
    """A user architecture whose evaluation fails while FAIL["on"] (a diverged seed)."""

    def init(key, data):
        return {"w": jnp.ones(2)}

    def step(state, data, key):
        return state, jnp.zeros(())

    def evaluate(state):
        if FAIL["on"]:
            raise NonFiniteError("w: expected finite values, got NaN")
        return {"w0": float(np.asarray(state["w"])[0])}

    return Program(init, step, evaluate, None)


def test_failed_records_are_retried_by_the_next_run(tmp_path, monkeypatch):
    register_architecture("flaky", _flaky)
    c = parse_config({"sweep": {"seeds": 2, "steps": 1}, "distributions": {"q": {"kind": "q"}},
                      "grid": {"distribution": ["q"], "width": [2], "architecture": ["flaky"],
                               "learning_rate": [0.1]}})  # fmt: skip
    monkeypatch.setitem(FAIL, "on", True)
    assert run_sweep(c, tmp_path).records_written == 2
    st = sweep_status(c, tmp_path)
    assert (st.done, st.failed, st.finished) == (0, 2, False)
    with ResultsStore(tmp_path) as s:
        assert [r.failed for r in s.records()] == [True, True] and s.done() == set()
    FAIL["on"] = False
    again = run_sweep(c, tmp_path)
    assert (again.records_written, again.points_skipped) == (2, 0)  # retried, not skipped
    with ResultsStore(tmp_path) as s:
        assert [r.metrics for r in s.records()] == [{"w0": 1.0}, {"w0": 1.0}]
        assert s.duplicates() == 0
    st = sweep_status(c, tmp_path)
    assert (st.done, st.failed, st.finished) == (2, 0, True)
    assert run_sweep(c, tmp_path).points_skipped == 1  # successful records are final


def test_a_success_in_another_process_file_supersedes_a_failure(tmp_path):
    failed = Record("k", 0, {}, {"failed": "NonFiniteError: nan"})
    with (
        ResultsStore(tmp_path, process_index=1) as s1,
        ResultsStore(tmp_path, process_index=0) as s0,
    ):
        s1.put([failed, Record("k", 1, {}, {"failed": "x"})])
        assert s0.failed() == {("k", 0), ("k", 1)} and s0.done() == set()
        s0.put([Record("k", 0, {}, {"x": 1.0})])
        assert [(r.seed, r.failed) for r in s0.records()] == [(0, False), (1, True)]
        assert s0.done() == {("k", 0)} and s0.failed() == {("k", 1)} and s0.duplicates() == 0
        # In the same file, a new attempt replaces the failed record.
        assert s1.put([Record("k", 1, {}, {"x": 2.0})]) == 1
        assert s1.put([Record("k", 1, {}, {"x": 3.0})]) == 0  # a success is final
        assert [r.metrics for r in s1.records()] == [{"x": 1.0}, {"x": 2.0}]
