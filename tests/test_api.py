"""API hygiene: documented public names, no recompilation, and the direction of dependencies."""

import ast
import inspect
import pathlib
import sys

import numpy as np
import pytest

import idlin
from idlin.core import _analysis, _gap

PACKAGE = pathlib.Path(idlin.__file__).parent


def public_names():
    return [n for n in dir(idlin) if not n.startswith("_")]


@pytest.mark.parametrize("name", public_names())
def test_every_public_name_has_a_docstring(name):
    obj = getattr(idlin, name)
    if inspect.ismodule(obj) or not (inspect.isclass(obj) or callable(obj)):
        return
    assert inspect.getdoc(obj), f"idlin.{name} has no docstring"


def test_jitted_kernels_do_not_recompile_on_same_shapes():
    rng = np.random.default_rng(0)
    make = lambda: idlin.Predictor(rng.normal(size=(13, 4)), rng.normal(size=(11, 4)))  # noqa: E731
    p, q = make(), make()
    idlin.distribution_gap(p, q)
    idlin.subspaces(p)
    gap_before = _gap.gap_kernel._cache_size()
    svd_before = _analysis._decompose._cache_size()
    p2, q2 = make(), make()
    idlin.distribution_gap(p2, q2)
    idlin.subspaces(q2)
    assert _gap.gap_kernel._cache_size() == gap_before
    assert _analysis._decompose._cache_size() == svd_before


# The layers, bottom up (docs/theory.md "Where the code is"): a module may import idlin only from
# its own layer or one below (and the root package, for `__version__`). `testing` (the public
# Hypothesis strategies) sits beside the properties.
LAYERS = {"core": 0, "properties": 1, "testing": 1, "lab": 2, "apps": 3}
# The numerical core and the properties may import the standard library, jax, numpy, jaxtyping,
# scipy and idlin — nothing else (an allow-list: a new dependency fails here until it is argued
# for). scipy: a hard dependency of jax already; its compiled NNLS makes the max-margin probe
# seconds, not minutes, at N in the thousands (issue 22), and its dense solvers serve the held-out
# probe. The audit's search (properties/audit) steps with optax; testing/ draws with hypothesis;
# core/io.py reads and writes predictor files with safetensors (never pickle).
ALLOWED_IN_CORE = {"jax", "numpy", "jaxtyping", "scipy", "idlin", "__future__"}
ALSO_ALLOWED = {
    ("properties", "audit"): {"optax"},
    ("testing",): {"hypothesis"},
    ("core", "io.py"): {"safetensors", "ml_dtypes"},  # ml_dtypes: bfloat16 files (a jax dependency)
}


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative: resolve against the package
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                mod = ".".join([*parts, mod]) if mod else ".".join(parts)
            found.add(mod)
    return found


def _layer_of(f: pathlib.Path) -> str:
    return f.relative_to(PACKAGE).parts[0]


def test_every_module_lives_in_a_layer():
    """The root holds only the public API (`__init__`) and `python -m idlin` (`__main__`)."""
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE).parts
        assert len(parts) > 1 or f.name in {"__init__.py", "__main__.py"}, f"idlin/{f.name}"
        if len(parts) > 1:
            assert parts[0] in LAYERS, f"{f.relative_to(PACKAGE.parent)} is in no layer"


def test_imports_point_down_the_layers():
    """ARCHITECTURE.md: core ← properties (and audit) ← lab ← apps; never upwards."""
    for f in PACKAGE.rglob("*.py"):
        if len(f.relative_to(PACKAGE).parts) == 1:
            continue
        here = LAYERS[_layer_of(f)]
        for mod in _imports(f):
            parts = mod.split(".")
            if parts[0] != "idlin" or len(parts) == 1:
                continue
            assert LAYERS[parts[1]] <= here, f"{f.relative_to(PACKAGE.parent)} imports {mod}"


def test_numerical_core_imports_only_jax_and_numpy():
    """ARCHITECTURE.md: the core and the properties never import flax, optax, orbax, the CLI or
    plotting (the audit's search its optimizer excepted)."""
    checked = 0
    for layer in ("core", "properties", "testing"):
        for f in (PACKAGE / layer).rglob("*.py"):
            rel = f.relative_to(PACKAGE).parts
            extra = set().union(*(v for k, v in ALSO_ALLOWED.items() if rel[: len(k)] == k))
            for mod in _imports(f):
                top = mod.split(".")[0]
                assert top in ALLOWED_IN_CORE | extra or top in sys.stdlib_module_names, (
                    f"{f.relative_to(PACKAGE.parent)} imports {mod}, outside the allow-list"
                )
            checked += 1
    assert checked > 50


def test_nothing_imports_the_cli():
    for f in PACKAGE.rglob("*.py"):
        if f.name in {"cli.py", "__main__.py"} or f.name.startswith("_cli_"):
            continue
        for mod in _imports(f):
            assert not mod.startswith("idlin.apps.cli"), (
                f"{f.relative_to(PACKAGE.parent)} imports {mod}"
            )


@pytest.mark.parametrize("module", ["_predictor", "_gap", "_subspaces", "_maps", "_classes"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"idlin.core.{module}"))
    assert result.attempted > 0 and result.failed == 0
