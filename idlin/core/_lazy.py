"""Lazy package namespaces (PEP 562): a public name's module is imported on first access.

`import idlin` (and the `idlin` command's help and usage errors) then costs no JAX import;
`from idlin import X`, `idlin.X`, `dir(idlin)` and `__all__` behave as with eager imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_namespace(
    package: str,
    namespace: dict[str, Any],
    exports: Mapping[str, str],
    submodules: Iterable[str] = (),
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """`(__all__, __getattr__, __dir__)` for `package` whose public `exports` map each name to the
    (relative) module defining it; `submodules` are public modules reachable as attributes.

    Example:
        >>> ns = {}
        >>> all_, getattr_, dir_ = lazy_namespace("json", ns, {"JSONDecoder": ".decoder"})
        >>> getattr_("JSONDecoder").__name__, "JSONDecoder" in ns
        ('JSONDecoder', True)
    """
    subs = frozenset(submodules)
    public = sorted({*exports, *subs})

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name], package), name)
        elif name in subs:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # cached: later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return public, __getattr__, __dir__
