"""Every ```python block of README.md runs, in order, as a user would paste it (issue 11).

The blocks build on each other, so they run cumulatively in one namespace, in a fresh
interpreter without the suite's JAX settings (conftest's strict promotion is not a user's
default). Only a block preceded by `<!-- not-run: needs torch -->` is skipped. The core example's
printed numbers are checked against what its comments say.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SKIP_MARKER = "<!-- not-run: needs torch -->"

# Runs in the subprocess: execute each block, print a JSON line per block with its output.
DRIVER = r"""
import contextlib, io, json, sys, time, traceback
blocks = json.loads(sys.stdin.read())
namespace = {"__name__": "__main__"}
for i, code in enumerate(blocks):
    out = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README block {i}", "exec"), namespace)
    except BaseException:
        print(json.dumps({"block": i, "ok": False, "out": out.getvalue(),
                          "error": traceback.format_exc()}))
        sys.exit(1)
    seconds = time.perf_counter() - start
    print(json.dumps({"block": i, "ok": True, "out": out.getvalue(), "seconds": seconds}))
"""


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


def test_every_readme_python_block_runs_and_prints_what_it_says(tmp_path):
    run, skipped = python_blocks(README.read_text(encoding="utf-8"))
    assert len(run) >= 3, "README lost its Python examples"
    assert all("torch" in code for code in skipped), "only the torch export may be skipped"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env.update(PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=json.dumps(run),
        capture_output=True,
        text=True,
        cwd=tmp_path,  # blocks may write files (checkpoints)
        env=env,
        timeout=300,
    )
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    failed = [r for r in results if not r["ok"]]
    assert proc.returncode == 0 and not failed, failed or proc.stderr[-3000:]
    assert len(results) == len(run)

    # The core example: three printed numbers, as its comments say.
    core = next(i for i, code in enumerate(run) if "sample_equivalent" in code)
    gap, rank, residual = results[core]["out"].split()
    assert 0 <= float(gap) < 1e-12  # relative gap ≈ 0: equivalent
    assert int(rank) == 4  # r = 4 < d = 8
    assert 0 <= float(residual) < 1e-10  # Theorem EL residual ≈ 0

    # The properties example prints its commented verdicts.
    props = next(i for i, code in enumerate(run) if "counterexample(" in code)
    assert results[props]["out"].split() == ["True", "False", "True"]


def test_ci_runs_exactly_the_quickstart_test_commands():
    """The Quickstart's test line (`pip install -e ".[test]" && python -m pytest`) is what
    `.ci/run` runs, command for command, inside the fresh virtualenv it creates."""
    quickstart = README.read_text(encoding="utf-8").split("## Quickstart", 1)[1].split("\n## ")[0]
    bash = re.search(r"```bash\n(.*?)```", quickstart, re.S).group(1)
    line = next(ln for ln in bash.splitlines() if "pytest" in ln).split("#")[0]
    commands = [c.strip() for c in line.split("&&")]
    assert commands == ['pip install -e ".[test]"', "python -m pytest"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [ln.strip() for ln in ci.splitlines()]
    for command in commands:
        assert command in ci_lines, f".ci/run does not run {command!r}"
    assert ci_lines.index(commands[0]) < ci_lines.index(commands[1])
    assert re.search(r"^rm -rf \"\$venv\"$", ci, re.M) and "-m venv \"$venv\"" in ci
    assert re.search(r'source "\$venv/bin/activate"', ci)
    assert '"$rc" -eq 5' in ci  # "no tests collected" fails CI
