"""No private imports across packages: what one subpackage shares, its `__init__` exports.

A module's *package* is the subpackage of `idlin` it lives in (`idlin/study/_train.py` → `study`),
or the root for `idlin/*.py`. Importing from a *different* package may not name an underscore
module below that package (`sweep._lock`) nor an underscore name (`_morphology_specs`). The
root's underscore modules (`_errors`, `_predictor`, ...) are the numerical core that every
layer builds on (ARCHITECTURE.md), so their *modules* may be imported — but not their
underscore names.
"""

import ast
import pathlib
import re
import sys

import idlin

PACKAGE = pathlib.Path(idlin.__file__).parent


def _package_of(parts: tuple[str, ...]) -> str:
    """'' for the root, else the subpackage name (parts start with 'idlin')."""
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else ""


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
            # Module components below the target package (the root's core modules are shared).
            below = mod[2:] if target else ()
            private = [m for m in below if m.startswith("_") and m != "__init__"]
            for name in names:
                if _is_module((*mod, name)):
                    if target and name.startswith("_"):
                        private.append(name)
                elif name.startswith("_"):
                    private.append(name)
            if private:
                found.append(f"{where} imports {'.'.join(mod)}: {', '.join(private)}")
    return found


def test_no_private_imports_across_packages():
    found = [re.sub(r":\d+ ", " ", v) for v in violations()]  # without line numbers
    assert found == []


def test_the_scan_sees_a_private_import(tmp_path, monkeypatch):
    """The rule can fail: a study module importing `sweep._lock` is reported."""
    fake = tmp_path / "idlin"
    for sub in ("study", "sweep"):
        (fake / sub).mkdir(parents=True)
        (fake / sub / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "sweep" / "_lock.py").write_text("def exclusive(): pass\n")
    (fake / "_core.py").write_text("def _helper(): pass\n")
    (fake / "study" / "_runner.py").write_text(
        "from ..sweep._lock import exclusive\nfrom .._core import _helper\n"
        "from .. import _core\nfrom ..sweep import exclusive as ok\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert violations() == [
        "idlin/study/_runner.py:1 imports idlin.sweep._lock: _lock",
        "idlin/study/_runner.py:2 imports idlin._core: _helper",
    ]
