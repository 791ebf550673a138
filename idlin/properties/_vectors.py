"""Validation of the real vectors a probe set carries (steering vectors, log-odds shifts)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import DTypeError, NonFiniteError, ShapeError


def as_real_vector(name: str, value: Any, *, size: int, what: str) -> np.ndarray:
    """A finite real (size,) float64 array — never a silent cast of complex, strings or bools."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise DTypeError(f"{name}: expected a real-valued vector, got dtype {arr.dtype}")
    if arr.shape != (size,):
        raise ShapeError(f"{name}: expected shape ({size},) ({what}), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise NonFiniteError(f"{name}: expected finite values, got {bad} NaN/Inf entries")
    return arr
