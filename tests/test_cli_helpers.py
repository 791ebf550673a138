"""Helpers (no tests): run the `idlin` command as a user does, `python -m idlin ...`."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def run_idlin(*args, cwd=None, timeout=240) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("MPLBACKEND", "Agg")
    # JAX's persistent compilation cache, shared by the subprocesses: each would otherwise
    # recompile the same kernels (~half of a small `verify`'s CPU time on 2 cores).
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(REPO / ".pytest_cache" / "idlin-jax-cache"))
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    return subprocess.run(
        [sys.executable, "-m", "idlin", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, a single `idlin: error:` line on stderr naming every fragment, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("idlin: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in proc.stderr + proc.stdout


def centered_log_odds(F: np.ndarray, G: np.ndarray) -> np.ndarray:
    """NumPy reference: `C = F Ĝᵀ` with `Ĝ = G − mean_y G` (docs/theory.md §2)."""
    return F @ (G - G.mean(axis=0, keepdims=True)).T
