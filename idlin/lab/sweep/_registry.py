"""The architecture registry of sweeps: the built-ins of `_architectures.py` and the user's.

Built once, explicitly: `build_program` looks a name up first among the user's registrations
(`register_architecture`), then among the built-ins (`_architectures.BUILTINS`, a plain dict —
nothing registers by import side effect). **User registrations win**: registering a built-in
name (e.g. `"bilinear"`) replaces the built-in for every later sweep in the process, and
registering a name again replaces the earlier registration (a re-run notebook cell works).
"""

from __future__ import annotations

from collections.abc import Callable

from ...core._errors import ConfigError
from ._config import GridPoint
from ._trial import Program

Builder = Callable[[GridPoint], Program]
_USER: dict[str, Builder] = {}


def register_architecture(name: str, builder: Builder) -> None:
    """Make `builder(point) -> Program` available as `architecture = "name"` in a sweep; it
    takes precedence over a built-in of the same name (see the module docstring).

    >>> from idlin.lab.sweep import register_architecture
    >>> from idlin.lab.sweep._architectures import quadratic
    >>> register_architecture("my-quadratic", quadratic)

    Raises:
        ConfigError: `name` not a non-empty string, or `builder` not callable.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"register_architecture: expected a non-empty name, got {name!r}")
    if not callable(builder):
        raise ConfigError(
            f"register_architecture({name!r}): expected a callable builder(point) -> Program, "
            f"got {type(builder).__name__}"
        )
    _USER[name] = builder


def architectures() -> dict[str, Builder]:
    """Every architecture name a sweep can use, mapped to its builder (user's over built-ins)."""
    from ._architectures import BUILTINS  # jax/optax/flax only when a sweep is built

    return {**BUILTINS, **_USER}


def build_program(point: GridPoint) -> Program:
    """The `Program` for a grid point, from its architecture's builder.

    Raises:
        ConfigError: unknown architecture, or a distribution or option it cannot use.
    """
    known = architectures()
    builder = known.get(point.architecture)
    if builder is None:
        raise ConfigError(
            f"grid.architecture: expected one of {sorted(known)}, got {point.architecture!r}"
        )
    return builder(point)
