"""Deprecated keyword arguments and names, kept for one release (README, "Deprecations").

A public function folds its deprecated tolerance keywords (`rtol=`, `tol=`, `near_rtol=`) into a
`Precision` at its entry (`_precision.with_legacy`) and passes only `precision=` on, so one call
warns once however many routines the policy then reaches.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import Any


class IdlinDeprecationWarning(DeprecationWarning):
    """A keyword or name idlin still accepts but will remove in its next release."""


def warn_deprecated(where: str, fields: dict[str, str], *, stacklevel: int) -> None:
    """One `IdlinDeprecationWarning` naming every deprecated keyword of one call and the
    `Precision` field that replaces it, attributed to the caller `stacklevel` frames up."""
    old = ", ".join(f"{kw}=" for kw in fields)
    new = ", ".join(f"{field}=..." for field in fields.values())
    warnings.warn(
        f"{where}: {old} is deprecated and will be removed in the next release; pass "
        f"precision=idlin.Precision({new})",
        IdlinDeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def warn_renamed(where: str, renamed: dict[str, str], *, stacklevel: int) -> None:
    """One `IdlinDeprecationWarning` naming every old name of one call and its new name,
    attributed to the caller `stacklevel` frames up."""
    pairs = ", ".join(f"{old!r} → {new!r}" for old, new in renamed.items())
    warnings.warn(
        f"{where}: renamed, the old names still work for this release: {pairs}",
        IdlinDeprecationWarning,
        stacklevel=stacklevel + 1,
    )


# Modules that moved when the package was laid out by layer (README, "Deprecations"): the old
# path still imports, as the same module object, and warns once per old path.
LAYER_OF_MOVED = {
    "core": ("io", "metrics"),
    "lab": ("data", "models", "train", "study", "sweep", "reproduce", "experiments"),
    "apps": ("cli", "report", "export"),
}
MOVED = {f"idlin.{m}": f"idlin.{layer}.{m}" for layer, ms in LAYER_OF_MOVED.items() for m in ms}


def moved_to(name: str) -> str | None:
    """The new dotted path of a module below an old path of `MOVED` (None if it did not move)."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return None


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`import idlin.data` (old path) → the module `idlin.lab.data`, with one warning."""

    def __init__(self) -> None:
        self._specs: dict[str, Any] = {}

    def find_spec(self, fullname, path, target=None):
        if moved_to(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = moved_to(spec.name)
        assert new is not None
        warnings.warn(
            f"{spec.name} moved to {new} (idlin is laid out by layer: core, properties, lab, "
            "apps); the old path still works for this release",
            IdlinDeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        self._specs[new] = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # Already executed under its own name: keep its own spec (the import system set the
        # alias's on it).
        module.__spec__ = self._specs[module.__name__]


def install_moved_modules() -> None:
    """Put the old paths' finder on `sys.meta_path` once."""
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModules())  # before the path finder: submodules too
