"""The input checks every public function shares: one place, one error class per mistake.

- a wrong *kind* of argument (not a number, not a key, not a Predictor) → `ArgumentError`;
- a real vector or scalar that is NaN/Inf → `NonFiniteError`; complex/strings/bools where reals
  are expected → `DTypeError`; the wrong shape → `ShapeError`;
- integer indices of the wrong dtype → `DTypeError`, out of range → `ProbeError`;
- configuration values (seeds, step counts, rates, keyword names): the wrong type →
  `ArgumentError`, out of range → `ConfigError`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._errors import (
    ArgumentError,
    ConfigError,
    DTypeError,
    NonFiniteError,
    ProbeError,
    ShapeError,
)

# The largest seed `jax.random.key` takes (a C long); larger ones overflow inside JAX.
MAX_SEED = 2**63 - 1


def real_scalar(name: str, value: Any) -> float:
    """A concrete real number as float; `ArgumentError` for bools, strings, complex numbers and
    arrays of more than one element (NaN passes: range checks are the caller's)."""
    ok = isinstance(value, int | float | np.floating | np.integer) or (
        isinstance(value, np.ndarray | jax.Array)
        and np.ndim(value) == 0
        and np.asarray(value).dtype.kind in "iuf"
    )
    if isinstance(value, bool) or not ok:
        raise ArgumentError(f"{name}: expected a real number, got {value!r}")
    return float(value)


def real_vector(name: str, value: Any, *, size: int, what: str) -> np.ndarray:
    """A finite real (size,) float64 array (float, integer or bool entries, any byte order) —
    never a silent cast of complex numbers, strings or objects."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"{name}: expected real numbers (float, integer or bool), got {arr.dtype}")
    if arr.shape != (size,):
        raise ShapeError(f"{name}: expected shape ({size},) ({what}), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise NonFiniteError(f"{name}: expected finite values, got {bad} NaN/Inf entries")
    return arr


def indices(name: str, value: Any, *, size: int, what: str) -> np.ndarray:
    """An int64 array whose entries index `size` items (contexts or tokens); unsigned values too
    large for int64 are reported as they are, not wrapped to negatives."""
    arr = np.asarray(value)
    if arr.size and arr.dtype.kind not in "iu":
        raise DTypeError(f"{name}: expected integer {what} indices, got dtype {arr.dtype}")
    if arr.size and arr.dtype.kind == "u" and int(arr.max()) >= size:
        bad = [int(v) for v in arr[arr >= size][:5]]  # before a cast that could wrap them
        raise ProbeError(f"{name}: expected {what} indices in [0, {size}), got out-of-range {bad}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        bad = arr[(arr < 0) | (arr >= size)]
        raise ProbeError(
            f"{name}: expected {what} indices in [0, {size}), got out-of-range {bad[:5].tolist()}"
        )
    return arr


def prng_key(name: str, key: Any) -> jax.Array:
    """A JAX PRNG key (`jax.random.key(...)`, or a legacy uint32[2] `PRNGKey`); `ArgumentError`
    for anything else (an int seed, a NumPy generator, None)."""
    if isinstance(key, jax.Array | np.ndarray):
        dtype = key.dtype
        typed = jax.numpy.issubdtype(dtype, jax.dtypes.prng_key)
        if typed and key.ndim == 0 and isinstance(key, jax.Array):  # NumPy has no key dtypes
            return key
        if dtype == np.uint32 and key.shape == (2,):
            return jax.numpy.asarray(key)
    raise ArgumentError(
        f"{name}: expected a JAX PRNG key such as jax.random.key(0), got "
        f"{type(key).__name__}{'' if not hasattr(key, 'shape') else f' of shape {key.shape}'}"
    )


def integer(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer (Python or NumPy; never a bool, a float or a string) in
    `[minimum, maximum]`.

    Raises:
        ArgumentError: not an integer. ConfigError: out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        lo = "" if minimum is None else f"{minimum} ≤ "
        hi = "" if maximum is None else f" ≤ {maximum}"
        raise ConfigError(f"{name}: expected an integer {lo}n{hi}, got {value}")
    return value


def seed(name: str, value: Any) -> int:
    """A PRNG seed: an integer in `[0, 2⁶³ − 1]` (what `jax.random.key` accepts without
    wrapping or overflowing)."""
    return integer(name, value, minimum=0, maximum=MAX_SEED)


def positive_number(name: str, value: Any) -> float:
    """A finite real number > 0 (a learning rate, a scale); `ArgumentError` for non-numbers,
    `ConfigError` for ≤ 0, NaN or ±inf."""
    x = real_scalar(name, value)
    if not (np.isfinite(x) and x > 0):
        raise ConfigError(f"{name}: expected a finite number > 0, got {value!r}")
    return x


def known_keys(name: str, given: Any, allowed) -> None:
    """`given` (a mapping's keys) ⊆ `allowed`, else a `ConfigError` naming the unknown ones and
    the nearest allowed name ("did you mean")."""
    import difflib

    unknown = sorted(set(given) - set(allowed))
    if unknown:
        near = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ConfigError(
            f"{name}: unknown keys {unknown}{hint}; expected some of {sorted(allowed)}"
        )
