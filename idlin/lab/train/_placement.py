"""Where the work of a multi-seed run goes (docs/sweeps.md): grid points split over processes,
the seed axis over local devices. Shared by `idlin.lab.sweep` and `idlin.lab.study`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ...core._errors import ConfigError

T = TypeVar("T")


def process_share(process_index: int | None, process_count: int | None) -> tuple[int, int]:
    """`(index, count)` of this process (default: JAX's, i.e. after `jax.distributed.initialize`).

    Raises:
        ConfigError: count < 1 or index outside `0 … count−1`.
    """
    count = jax.process_count() if process_count is None else int(process_count)
    index = jax.process_index() if process_index is None else int(process_index)
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"process_index: expected 0 ≤ index < {count}, got {index}")
    return index, count


def owned(items: Sequence[T], index: int, count: int) -> list[T]:
    """Item `i` belongs to process `i mod count` (a fixed, shared partition)."""
    return [x for i, x in enumerate(items) if i % count == index]


def seed_sharding(devices: Sequence[Any] | None = None) -> NamedSharding:
    """The seed axis split over `devices` (default `jax.local_devices()`): a 1-D mesh "seed".

    Raises:
        ConfigError: no devices.
    """
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ConfigError("devices: expected at least one device, got none")
    return NamedSharding(Mesh(np.asarray(devices), ("seed",)), PartitionSpec("seed"))


def replicated(sharding: NamedSharding) -> NamedSharding:
    """Every device of `sharding`'s mesh holds the whole array (data shared by all seeds)."""
    return NamedSharding(sharding.mesh, PartitionSpec())


def pad_seeds(seeds: Sequence[int], multiple: int) -> tuple[int, ...]:
    """`seeds` padded with copies of the last one to a multiple of `multiple` (the device count),
    so the seed axis splits evenly; callers drop the copies' results."""
    extra = -len(seeds) % multiple
    return tuple(seeds) + (seeds[-1],) * extra
