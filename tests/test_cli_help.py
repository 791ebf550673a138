"""The command line's help reads well (issue 25): docstring paragraphs are reflowed to the
terminal, not printed as the docstring's 100-column lines broken again at the terminal's width."""

from idlin.apps.cli import command, reflow, run


def test_reflow_joins_lines_within_a_paragraph_and_keeps_paragraphs():
    doc = """First line
    goes on.

    Second paragraph,
      wrapped   twice.

    \b
    kept  as
    is"""
    assert (
        reflow(doc) == "First line goes on.\n\nSecond paragraph, wrapped twice.\n\n\b\nkept  as\nis"
    )


def test_every_command_help_has_one_line_per_paragraph():
    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    for path, cmd in walk(command(), "idlin"):
        for paragraph in (cmd.help or "").split("\n\n"):
            assert paragraph.startswith("\b") or "\n" not in paragraph, (path, paragraph)


def test_help_of_inspect_is_not_broken_mid_sentence(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert run(["inspect", "--help"]) == 0
    out = capsys.readouterr().out
    assert "each requested property in raw and identifiable form" in out


# What the README says about which checks answer before JAX is imported: both lists, tested.
_DRIVER = """
import sys
from idlin.apps.cli import run
rc = run(sys.argv[1:])
print("RESULT", rc, "jax" in sys.modules, "numpy" in sys.modules)
"""
_FAST = [
    ["--help"], ["--version"], ["verify", "--help"], ["verify", "--bogus"],
    ["verify", "absent.npz", "absent2.npz"], ["inspect", "absent.npz"],
    ["reproduce", "--out", "file.txt"], ["sweep", "absent.toml"],
]  # fmt: skip
_SLOW = [
    ["verify", "file.txt", "file.txt"], ["audit", "absent.npz", "--measure", "raw_cosine"],
    ["study", "absent.toml"], ["sweep-summary", "absent.toml"],
]  # fmt: skip


def test_which_checks_import_jax_is_what_the_docs_say(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "file.txt").write_text("x")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for argv, imports in [(a, False) for a in _FAST] + [(a, True) for a in _SLOW]:
        proc = subprocess.run(
            [sys.executable, "-c", _DRIVER, *argv],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
        )  # fmt: skip
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
        _, rc, jax, numpy = line.split()
        assert rc in ("0", "2"), (argv, proc.stderr)
        assert (jax, numpy) == (str(imports), str(imports)), (argv, line)
