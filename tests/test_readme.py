"""Every ```python block of README.md runs as a user would paste it (issues 11, 25).

Each block runs ALONE, in a fresh interpreter without the suite's JAX settings (conftest's strict
promotion is not a user's default): a block that uses a name another block defined, or relies on
a setting another block made (`jax_enable_x64`), fails here. Only a block preceded by
`<!-- not-run: needs torch -->` is skipped. The core example's printed numbers are checked
against what its comments say. The README's numbers from `idlin reproduce` are generated from the
committed run (`docs/reproduce/`), and checked to be what the generator writes.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SKIP_MARKER = "<!-- not-run: needs torch -->"

# Runs in the subprocess: execute one block, print a JSON line with its output.
DRIVER = r"""
import contextlib, io, json, sys, time, traceback
code = sys.stdin.read()
out = io.StringIO()
start = time.perf_counter()
try:
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README block", "exec"), {"__name__": "__main__"})
except BaseException:
    print(json.dumps({"ok": False, "out": out.getvalue(), "error": traceback.format_exc()}))
    sys.exit(1)
print(json.dumps({"ok": True, "out": out.getvalue(), "seconds": time.perf_counter() - start}))
"""


def run_block(code: str, cwd: Path) -> dict:
    """Run one README block alone in a fresh interpreter; its JSON result line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env.update(PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=code,
        capture_output=True,
        text=True,
        cwd=cwd,  # blocks may write files (checkpoints)
        env=env,
        timeout=300,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, proc.stderr[-3000:]
    return {**lines[-1], "returncode": proc.returncode}


def python_blocks(text: str) -> tuple[list[str], list[str]]:
    """(blocks to run, blocks skipped by the marker), each the code of one ```python fence."""
    run, skipped = [], []
    pattern = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
    for m in pattern.finditer(text):
        before = text[: m.start()].rstrip().splitlines()
        (skipped if before and before[-1].strip() == SKIP_MARKER else run).append(m.group(1))
    return run, skipped


def test_the_extractor_honours_only_the_marker():
    text = (
        "```python\na = 1\n```\n<!-- not-run: needs torch -->\n```python\nimport torch\n```\n"
        "<!-- something else -->\n```python\nb = a\n```\n```bash\nls\n```\n"
    )
    run, skipped = python_blocks(text)
    assert run == ["a = 1\n", "b = a\n"] and skipped == ["import torch\n"]


def test_every_readme_python_block_runs_alone_and_prints_what_it_says(tmp_path):
    run, skipped = python_blocks(README.read_text(encoding="utf-8"))
    assert len(run) >= 3, "README lost its Python examples"
    assert all("torch" in code for code in skipped), "only the torch export may be skipped"
    results = []
    for i, code in enumerate(run):
        folder = tmp_path / f"block{i}"  # a fresh directory and interpreter per block
        folder.mkdir()
        results.append(run_block(code, folder))
    failed = [(i, r["error"]) for i, r in enumerate(results) if not r["ok"] or r["returncode"]]
    assert not failed, failed

    # The core example: three printed numbers, as its comments say.
    core = next(i for i, code in enumerate(run) if "sample_equivalent" in code)
    gap, rank, residual = results[core]["out"].split()
    assert 0 <= float(gap) < 1e-12  # relative gap ≈ 0: equivalent
    assert int(rank) == 4  # r = 4 < d = 8
    assert 0 <= float(residual) < 1e-10  # Theorem EL residual ≈ 0

    # The properties example prints its commented verdicts.
    props = next(i for i, code in enumerate(run) if "counterexample(" in code)
    assert results[props]["out"].split() == ["True", "False", "True"]


def test_a_block_that_leans_on_another_fails_alone(tmp_path):
    """The check above can fail: a block using a name it does not define is an error alone."""
    result = run_block("print(np.zeros(2))\n", tmp_path)
    assert not result["ok"] and "NameError" in result["error"]


def _reproduce_section():
    spec = importlib.util.spec_from_file_location(
        "readme_section", REPO / "docs" / "reproduce" / "readme_section.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_reproduce_numbers_are_generated_from_the_committed_run():
    """issue 25: the README quoted a run ~150 commits old. Its `idlin reproduce` numbers are now
    the generator's output on the committed `docs/reproduce/report.json`, word for word."""
    module = _reproduce_section()
    report = json.loads((REPO / "docs" / "reproduce" / "report.json").read_text(encoding="utf-8"))
    text = README.read_text(encoding="utf-8")
    generated = module.section(report)
    assert module.readme_with(text, generated) == text, "README is stale: run the generator"
    # The excerpt's rows are report.md's rows: README, report.md and report.json agree.
    md = (REPO / "docs" / "reproduce" / "report.md").read_text(encoding="utf-8")
    rows = [ln for ln in generated.splitlines() if ln.startswith("| parallelism | unembedding")]
    assert len(rows) == 6 and all(row in md for row in rows)
    # No number the old README quoted from an older run survives outside the generated part.
    for stale in ("0.2045", "0.04993", "≤ 0.075", "0.511–0.519", "0.435–0.512", "Orbax"):
        assert stale not in text, stale


def test_the_generator_refuses_a_claim_the_numbers_do_not_support():
    module = _reproduce_section()
    report = json.loads((REPO / "docs" / "reproduce" / "report.json").read_text(encoding="utf-8"))
    par = next(p for p in report["properties"] if p["name"] == "parallelism"
               and p["side"] == "unembedding")  # fmt: skip
    for s in par["trained"]:  # raw no longer larger in the wider models
        s["raw_score"] = 0.9 if s["width"] == min(t["width"] for t in par["trained"]) else 0.5
    with pytest.raises(module.UnsupportedClaim, match="wider models"):
        module.section(report)


def test_ci_runs_exactly_the_quickstart_test_commands():
    """The Quickstart's test line (`pip install -e ".[test,hf]" && python -m pytest`) is what
    `.ci/run` runs, command for command, inside the fresh virtualenv it creates."""
    quickstart = README.read_text(encoding="utf-8").split("## Quickstart", 1)[1].split("\n## ")[0]
    bash = re.search(r"```bash\n(.*?)```", quickstart, re.S).group(1)
    line = next(ln for ln in bash.splitlines() if "pytest" in ln).split("#")[0]
    commands = [c.strip() for c in line.split("&&")]
    assert commands == ['pip install -e ".[test,hf]"', "python -m pytest"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [ln.strip() for ln in ci.splitlines()]
    for command in commands:
        assert command in ci_lines, f".ci/run does not run {command!r}"
    assert ci_lines.index(commands[0]) < ci_lines.index(commands[1])
    assert re.search(r"^rm -rf \"\$venv\"$", ci, re.M) and '-m venv "$venv"' in ci
    assert re.search(r'source "\$venv/bin/activate"', ci)
    assert '"$rc" -eq 5' in ci  # "no tests collected" fails CI
