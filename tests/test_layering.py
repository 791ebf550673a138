"""No private imports across packages: what one subpackage shares, its `__init__` exports.

A module's *package* is the folder of `idlin` it lives in, as a dotted path (`idlin/lab/study/
_train.py` → `lab.study`, `idlin/core/_gap.py` → `core`). Importing from a *different* package may
not name an underscore module below that package (`lab.sweep._lock`) nor an underscore name
(`_morphology_specs`). The modules of `core` itself (`_errors`, `_predictor`, ...) are the
numerical core that every layer builds on (ARCHITECTURE.md), so they may be imported as modules —
but not their underscore names.
"""

import ast
import pathlib
import re
import sys

import idlin

PACKAGE = pathlib.Path(idlin.__file__).parent
SHARED = "core"  # the package whose modules every layer imports


def _package_of(parts: tuple[str, ...]) -> str:
    """The dotted folder below `idlin` of a module's parts (which start with 'idlin'): '' for the
    root, else the longest prefix of the parts after 'idlin' that is a folder."""
    folders = []
    for name in parts[1:]:
        if not (PACKAGE.joinpath(*folders, name)).is_dir():
            break
        folders.append(name)
    return ".".join(folders)


def _is_module(parts: tuple[str, ...]) -> bool:
    path = PACKAGE.parent.joinpath(*parts)
    return path.is_dir() or path.with_suffix(".py").exists()


def _imports(path: pathlib.Path):
    """(target module parts, imported names) of every idlin import in `path`, line numbers too."""
    own = path.relative_to(PACKAGE.parent).with_suffix("").parts
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "idlin":
                    yield node.lineno, tuple(alias.name.split(".")), ()
        elif isinstance(node, ast.ImportFrom):
            mod = tuple((node.module or "").split(".")) if node.module else ()
            if node.level:
                base = own[:-1]  # the package of a module and of an `__init__` alike
                base = base[: len(base) - (node.level - 1)]
                mod = (*base, *mod)
            if mod and mod[0] == "idlin":
                yield node.lineno, mod, tuple(a.name for a in node.names)


def violations() -> list[str]:
    found = []
    for f in sorted(PACKAGE.rglob("*.py")):
        own = f.relative_to(PACKAGE.parent).with_suffix("").parts
        here = _package_of(own)
        for line, mod, names in _imports(f):
            target = _package_of(mod)
            if target == here:
                continue
            where = f"{f.relative_to(PACKAGE.parent)}:{line}"
            # Module components below the target package (the core's modules are shared).
            below = mod[1 + len(target.split(".")) :] if target else ()
            shared = below[1:] if target == SHARED else below  # a core module itself is shared
            private = [m for m in shared if m.startswith("_") and m != "__init__"]
            for name in names:
                if _is_module((*mod, name)):
                    if target and target != SHARED and name.startswith("_"):
                        private.append(name)
                elif name.startswith("_") and not name.endswith("__"):  # __version__ is public
                    private.append(name)
            if private:
                found.append(f"{where} imports {'.'.join(mod)}: {', '.join(private)}")
    return found


def test_no_private_imports_across_packages():
    found = [re.sub(r":\d+ ", " ", v) for v in violations()]  # without line numbers
    assert found == []


def test_the_scan_sees_a_private_import(tmp_path, monkeypatch):
    """The rule can fail: a study module importing `lab.sweep._lock` is reported, and an
    underscore name of a core module, but not a core module itself."""
    fake = tmp_path / "idlin"
    for sub in ("lab/study", "lab/sweep", "core"):
        (fake / sub).mkdir(parents=True)
        (fake / sub / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "lab" / "__init__.py").write_text("")
    (fake / "lab" / "sweep" / "_lock.py").write_text("def exclusive(): pass\n")
    (fake / "core" / "_errors.py").write_text("def _helper(): pass\n")
    (fake / "lab" / "study" / "_runner.py").write_text(
        "from ..sweep._lock import exclusive\nfrom ...core._errors import _helper\n"
        "from ...core import _errors\nfrom ..sweep import exclusive as ok\n"
        "from ...core._errors import helper\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert violations() == [
        "idlin/lab/study/_runner.py:1 imports idlin.lab.sweep._lock: _lock",
        "idlin/lab/study/_runner.py:2 imports idlin.core._errors: _helper",
    ]


def test_each_theory_section_has_its_code_by_folder_and_file():
    """The one-look test: docs/theory.md's "Where the code is" table has a row for every
    numbered section, and every file or folder it names exists."""
    theory = (PACKAGE.parent / "docs" / "theory.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\. ", theory, flags=re.M))
    table = theory.split("## Where the code is", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| §(\d+) [^|]*\| (.+) \|$", table, flags=re.M))
    assert sections and set(rows) == sections
    for section, code in rows.items():
        folders = re.findall(r"`(idlin/[\w/.]*)`", code)
        assert folders, f"§{section} names no code"
        for path in folders:
            assert (PACKAGE.parent / path).exists(), f"§{section}: {path} does not exist"
        # files listed inside a folder's parentheses, e.g. `idlin/properties/` (`_probe.py`)
        for folder, inner in re.findall(r"`(idlin/[\w/]+/)` \(([^)]*)\)", code):
            for name in re.findall(r"`([\w/.]+)`", inner):
                assert (PACKAGE.parent / folder / name).exists(), f"§{section}: {folder}{name}"


def test_old_module_paths_import_the_moved_modules_and_warn():
    """One release of shims (README, "Deprecations"): `import idlin.data` (and a submodule)
    gives the very module `idlin.lab.data`, with one `IdlinDeprecationWarning` naming the new
    path; paths that did not move are not touched."""
    import importlib

    import pytest

    from idlin.core._deprecation import MOVED, IdlinDeprecationWarning, moved_to

    assert moved_to("idlin.core.io") is None and moved_to("idlin.properties") is None
    for old, new in MOVED.items():
        sys.modules.pop(old, None)
        with pytest.warns(IdlinDeprecationWarning, match=f"{old} moved to {new}"):
            module = importlib.import_module(old)
        assert module is importlib.import_module(new)
        assert module.__spec__.name == new  # its own spec, not the alias's
    sys.modules.pop("idlin.data._hmm", None)
    with pytest.warns(IdlinDeprecationWarning):
        hmm = importlib.import_module("idlin.data._hmm")
    assert hmm is importlib.import_module("idlin.lab.data._hmm")
