"""The `idlin` command's fast paths and its error contract (issue 11).

Help, `--version`, usage errors and path checks import neither JAX nor the numerical core; every
failure is one `idlin: error:` line with exit 2 (bad input) or 3 (a bug, asking for --debug).
"""

import doctest
import json
import os
import subprocess
import sys
import tomllib

import pytest
from test_cli_helpers import REPO, assert_one_line_error, run_idlin

import idlin
from idlin.apps import cli as idlin_cli
from idlin.core import _lazy, _paths

HEAVY = (
    "jax",
    "jaxlib",
    "numpy",
    "idlin.core._predictor",
    "idlin.core._gap",
    "idlin.core._subspaces",
    "idlin.core.io",
)


def _modules_after(*argv: str) -> tuple[int, list[str], str, str]:
    """Run the command in a fresh interpreter: (exit code, heavy modules loaded, stdout, stderr)."""
    code = (
        "import json, sys\n"
        "from idlin.apps.cli import run\n"
        f"rc = run({list(argv)!r})\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('\\n@@' + json.dumps([rc, heavy]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out, _, tail = proc.stdout.rpartition("\n@@")
    rc, heavy = json.loads(tail)
    return rc, heavy, out, proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        [],
        ["verify", "--help"],
        ["inspect", "--help"],
        ["reproduce", "--help"],
        ["sweep", "--help"],
        ["sweep-summary", "--help"],
        ["verify", "--bogus"],
        ["verify", "only-one.npz"],
        ["nonsense"],
        ["verify", "absent-a.npz", "absent-b.npz"],
        ["verify", "a.npz", "b.npz", "--rtol", "-1"],
        ["inspect", "absent.npz"],
        ["inspect", str(REPO / "README.md"), "--pairs", "absent.tsv"],
        ["inspect", str(REPO / "README.md"), "--labels", str(REPO)],
    ],
)
def test_help_version_and_input_errors_import_no_jax(argv):
    rc, heavy, _, _ = _modules_after(*argv)
    assert heavy == [], f"idlin {' '.join(argv)} imported {heavy}"
    assert rc == (0 if argv and argv[-1] in ("--help", "--version") else 2)


def test_out_that_cannot_be_written_fails_before_computing(tmp_path):
    (tmp_path / "file").write_text("x")
    rc, heavy, _, err = _modules_after(
        "reproduce", "--quick", "--out", str(tmp_path / "file" / "q")
    )
    assert rc == 2 and heavy == []
    assert err.startswith("idlin: error: --out: expected a writable directory"), err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_out_fails_before_computing(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, heavy, _, err = _modules_after("reproduce", "--quick", "--out", str(ro / "q"))
    finally:
        ro.chmod(0o755)
    assert rc == 2 and heavy == []
    assert "expected a writable directory" in err and "Permission denied" in err


def test_read_only_existing_out_is_refused(tmp_path, monkeypatch):
    """An existing directory whose probe file cannot be created (as on a read-only mount)."""

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(_paths.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(idlin.ConfigError, match=r"--out: expected a writable directory, got .*"
                       r"\(Read-only file system\)"):  # fmt: skip
        _paths.writable_dir(tmp_path, "--out")


def test_version_matches_the_package_metadata():
    rc, _, out, _ = _modules_after("--version")
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert rc == 0 and out.strip() == f"idlin {version}" and idlin.__version__ == version


@pytest.mark.parametrize("command", [[], ["verify"], ["inspect"], ["reproduce"], ["sweep"]])
def test_help_has_no_bool_placeholders(command):
    rc, _, out, _ = _modules_after(*command, "--help")
    assert rc == 0 and "--help" in out
    assert "<bool>" not in out, out


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["verify", "--bogus"], ["No such option: --bogus", "idlin verify --help"]),
        (["verify", "a.npz"], ["Missing argument 'b'"]),
        (["verify", "a.npz", "b.npz", "--rtol", "abc"], ["--rtol", "valid number"]),
        (["frobnicate"], ["No such command 'frobnicate'"]),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv, fragments):
    assert_one_line_error(run_idlin(*argv), *fragments)


def test_a_directory_as_sweep_config_is_one_line_and_exit_2(tmp_path):
    assert_one_line_error(run_idlin("sweep", tmp_path), str(tmp_path))


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


def test_unexpected_error_exits_3_and_asks_for_debug(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(_paths, "require_file", _boom)
    assert idlin_cli.run(["verify", str(tmp_path / "a"), str(tmp_path / "b")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("idlin: error: unexpected RuntimeError: boom")
    assert "--debug" in err and "Traceback" not in err


@pytest.mark.parametrize("where", ["root", "command"])
def test_debug_shows_the_traceback_of_an_unexpected_error(monkeypatch, capsys, tmp_path, where):
    monkeypatch.setattr(_paths, "require_file", _boom)
    files = [str(tmp_path / "a"), str(tmp_path / "b")]
    argv = ["--debug", "verify", *files] if where == "root" else ["verify", *files, "--debug"]
    assert idlin_cli.run(argv) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err


def test_tables_never_cut_names(capsys):
    long = "a_property_name_much_longer_than_any_column_would_allow_" * 3
    t = idlin_cli._table("t", [f"c{i}" for i in range(8)])
    t.add_row(long, *(["widen_unembedding_with_a_long_suffix"] * 7))
    idlin_cli._show(t)
    out = capsys.readouterr().out
    assert long in out and "widen_unembedding_with_a_long_suffix" in out and "…" not in out


def test_import_idlin_is_lazy_and_complete():
    code = (
        "import sys, idlin\n"
        "assert 'jax' not in sys.modules, 'import idlin imported jax'\n"
        "names = [n for n in dir(idlin) if not n.startswith('_')]\n"
        "assert set(idlin.__all__) <= set(names), set(idlin.__all__) - set(names)\n"
        "from idlin import Predictor, sample_equivalent, IdlinError\n"
        "assert idlin.Predictor is Predictor and idlin.core.io.load and idlin.core.metrics.cca\n"
        "assert idlin.properties.steering_shift\n"
        "print(len(idlin.__all__))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(idlin._EXPORTS) + len(idlin._SUBMODULES)


def test_every_lazy_name_resolves_to_its_module():
    for name, module in idlin._EXPORTS.items():
        obj = getattr(idlin, name)
        assert obj is getattr(sys.modules[f"idlin{module}"], name)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = idlin.no_such_name


@pytest.mark.parametrize("module", [_lazy, _paths])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
