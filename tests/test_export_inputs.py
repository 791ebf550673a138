"""`idlin export` without torch: its input files, the missing-dependency error, and that the core
(and `idlin --help`) never import torch or transformers."""

import ast
import doctest
import pathlib
import subprocess
import sys

import pytest

import idlin
from idlin.apps.export import (
    MissingDependencyError,
    _inputs,
    export_hf,
    read_contexts,
    read_token_ids,
)
from idlin.core import _probe_files
from idlin.core import io as idlin_io

PACKAGE = pathlib.Path(idlin.__file__).parent


def test_contexts_are_lines_taken_verbatim(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("The cat is the\r\n  two  spaces \nU+2028\u2028inside\nlast".encode())
    assert read_contexts(path) == ["The cat is the", "  two  spaces ", "U+2028\u2028inside", "last"]


def test_token_ids_are_ascii_integers(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("1 2 3\n  40\t5 \n")
    assert read_token_ids(path) == [[1, 2, 3], [40, 5]]


@pytest.mark.parametrize(
    ("reader", "text", "pattern"),
    [
        (read_contexts, "a\n\nb\n", r"f.txt:2: expected one context per line, got a blank line"),
        (read_contexts, "a\n   \n", r"f.txt:2: .*blank line"),
        (read_contexts, "", "expected at least one context, got an empty file"),
        (read_token_ids, "1 2\n3 ²\n",
         r"f.txt:2: expected whitespace-separated non-negative token ids \(ASCII digits\), "
         r"got '²'"),
        (read_token_ids, "1 ١٢\n", r"f.txt:1: .*got '١٢'"),
        (read_token_ids, "1 -2\n", r"f.txt:1: .*non-negative.*'-2'"),
        (read_token_ids, "the cat\n", r"f.txt:1: .*got 'the'"),
    ],
)  # fmt: skip
def test_malformed_context_files(tmp_path, reader, text, pattern):
    path = tmp_path / "f.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(idlin.FileFormatError, match=pattern):
        reader(path)


def test_missing_or_undecodable_context_files(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    for name, pattern in (
        ("d", "got a directory"),
        ("absent", "no such file"),
        ("latin1.txt", "UTF-8"),
    ):
        with pytest.raises(idlin.FileFormatError, match=pattern):
            read_contexts(tmp_path / name)


def test_export_without_torch_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'idlin\[hf\]'"):
        export_hf(object(), None, [[1, 2]])
    assert issubclass(MissingDependencyError, idlin.IdlinError)


def _imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_exporter_imports_torch_or_transformers():
    allowed = {PACKAGE / "apps" / "export" / "_hf.py", PACKAGE / "apps" / "export" / "_load.py"}
    for f in PACKAGE.rglob("*.py"):
        heavy = _imports(f) & {"torch", "transformers", "tokenizers", "gguf", "accelerate"}
        assert f in allowed or not heavy, f"{f.relative_to(PACKAGE.parent)} imports {heavy}"


def test_cli_and_export_package_import_without_torch():
    code = (
        "import sys, idlin.apps.cli, idlin.apps.export; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", [idlin_io, _probe_files, _inputs])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
