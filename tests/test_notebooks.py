"""Execute every notebook in `notebooks/` at tiny size, as a notebook, and fail on any error.

The jupytext percent-format `.py` files are the source of truth: each is converted to a notebook
(jupytext → nbformat) and run cell by cell in a fresh `python3` kernel (nbclient), with
`IDLIN_NOTEBOOK_SIZE=tiny`. The notebooks' own assertions check the claims they reproduce, so a
claim that stops holding fails CI here. Figures are rendered by matplotlib's headless inline
backend; every notebook must produce at least one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
# Wall-clock limit per cell at tiny size (generous: CI has 2 cores, compilation dominates).
CELL_TIMEOUT_S = 180
FAST_COMPILE_FLAGS = (
    "--xla_backend_optimization_level=0",
    "--xla_llvm_disable_expensive_passes=true",
)


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env["IDLIN_NOTEBOOK_SIZE"] = "tiny"
    # Headless rendering that still yields image/png outputs (Agg would draw nothing to check).
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    # The kernel must import this checkout of idlin even when it is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["JAX_PLATFORMS"] = env.get("JAX_PLATFORMS", "cpu")
    # At tiny size the notebooks are dominated by XLA compiling many small programs once each;
    # cheaper CPU codegen cuts that by about a third without changing any result's meaning.
    env["XLA_FLAGS"] = " ".join(filter(None, [env.get("XLA_FLAGS"), *FAST_COMPILE_FLAGS]))
    return env


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch):
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    # The kernel inherits its environment from the process that starts it.
    for name, value in _kernel_env().items():
        monkeypatch.setenv(name, value)
    client.execute()
    return nb


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2, f"expected notebooks in {NOTEBOOK_DIR}, found {NOTEBOOKS}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_at_tiny_size(path: Path, monkeypatch: pytest.MonkeyPatch):
    nb = _execute(path, monkeypatch)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "some cells did not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name}: expected at least one rendered figure, got none"
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "size=tiny" in text, f"{path.name}: did not report running at tiny size"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_documented(path: Path):
    """Each notebook reads the size switch, cites docs/theory.md, asserts its claim, labels
    plots."""
    nb = jupytext.read(path)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert re.search(r"docs/theory.md §\d", markdown), f"{path.name}: cite a THEORY section"
    assert 'os.environ.get("IDLIN_NOTEBOOK_SIZE"' in code
    assert re.search(r"^\s*assert ", code, flags=re.M), f"{path.name}: check the claim numerically"
    for call in ("set_title", "set_xlabel", "set_ylabel", "legend"):
        assert call in code, f"{path.name}: figures need {call}"


def test_readme_links_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if f"notebooks/{p.name}" not in readme]
    assert not missing, f"README.md: expected links to {missing}"


def test_python3_kernelspec_is_found():
    """A `python3` kernelspec resolves on a fresh setup (ipykernel ships it; no install step)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.language == "python", spec.to_dict()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_go_through_show_figure(path: Path):
    """issue 25: `plt.show()` discards figures when a notebook runs as a script; `show_figure`
    displays them in a notebook and saves them under a non-interactive backend."""
    code = path.read_text(encoding="utf-8")
    assert not re.search(r"^\s*plt\.show\(\)", code, flags=re.M), path.name
    assert "from _show import show_figure" in code and "show_figure(fig, " in code


@pytest.mark.slow
def test_a_notebook_run_as_a_script_saves_its_figures(tmp_path):
    import subprocess
    import sys

    path = NOTEBOOK_DIR / "03_parallelism_counterexample.py"
    names = re.findall(r'show_figure\(fig, "([^"]+)"\)', path.read_text(encoding="utf-8"))
    env = {**_kernel_env(), "MPLBACKEND": "Agg", "IDLIN_NOTEBOOK_FIGURES": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names and saved == sorted(f"{n}.png" for n in names)
    assert all((tmp_path / s).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for s in saved)
