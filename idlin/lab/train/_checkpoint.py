"""The one checkpoint format of training runs and sweeps: an atomic, pickle-free `.npz`.

A checkpoint holds a stacked training state (its leaves have the seeds as leading axis) after
`step` steps, the seeds' ids, optional extra arrays (e.g. a loss history) and an optional JSON
fingerprint of the run. It is written to a temporary file in the same directory, flushed to disk
and renamed over the old one: `os.replace` is atomic, so a crash at any instant (even `kill -9`)
leaves either the previous checkpoint or the new one, never a torn file. Resuming from it with
the key schedule of `idlin.lab.train._keys` continues bitwise as an uninterrupted run would.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import zipfile
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from ...core._errors import FileFormatError
from ...core._paths import atomic_write

_LEAF, _EXTRA = "leaf_", "extra_"


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A stacked state saved after `step` steps of the seeds `seeds` (its leading axis).

    Attributes:
        step: steps taken by every seed.
        seeds: the seed ids of the leading axis (repeats allowed: padding).
        leaves: the state's leaves, in `jax.tree_util.tree_leaves` order.
        extras: extra named arrays saved with it (e.g. `losses`).
        meta: the run's JSON fingerprint (None if saved without one).
    """

    step: int
    seeds: tuple[int, ...]
    leaves: tuple[np.ndarray, ...]
    extras: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    meta: Any = None


def save_checkpoint(
    path: str | os.PathLike[str],
    state: Any,
    *,
    step: int,
    seeds: tuple[int, ...],
    extras: Mapping[str, np.ndarray] | None = None,
    meta: Any = None,
) -> None:
    """Write `state` (a pytree whose leaves have the seeds as leading axis) atomically to `path`
    (its directory is created if missing).

    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> save_checkpoint(os.path.join(d, "c.npz"), {"w": np.zeros((2, 3))}, step=5, seeds=(0, 1))
    >>> load_checkpoint(os.path.join(d, "c.npz")).step
    5
    """
    path = os.fspath(path)
    leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(jax.device_get(state))]
    arrays: dict[str, np.ndarray] = {f"{_LEAF}{i:04d}": leaf for i, leaf in enumerate(leaves)}
    for name, value in (extras or {}).items():
        arrays[f"{_EXTRA}{name}"] = np.asarray(value)
    arrays["step"] = np.asarray(step, np.int64)
    arrays["seeds"] = np.asarray(seeds, np.int64)
    if meta is not None:  # a unicode array: loads without pickle
        arrays["meta"] = np.asarray(json.dumps(meta, sort_keys=True))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # The temporary is named after the checkpoint: `remove_temporaries` sweeps up a kill -9's.
    atomic_write(path, lambda fh: np.savez(fh, **arrays), binary=True)  # pyright: ignore


def load_checkpoint(path: str | os.PathLike[str], last: int | None = None) -> Checkpoint | None:
    """The checkpoint at `path`, or None if there is none.

    Args:
        last: the largest step a checkpoint of this run can hold, if known (a sweep saves
            only before its last step, `idlin.lab.train.train` at most at `steps`): any other step
            means a file of another run (or a forged one), which would otherwise "resume" with
            no steps left and commit untrained results.

    Raises:
        FileFormatError: the file exists but is not a checkpoint written by `save_checkpoint`,
            or its step is outside `[0, last]`.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            names = sorted(k for k in data.files if k.startswith(_LEAF))
            leaves = tuple(data[k] for k in names)
            extras = {k[len(_EXTRA) :]: data[k] for k in data.files if k.startswith(_EXTRA)}
            step, seeds = int(data["step"]), tuple(int(s) for s in data["seeds"])
            meta = json.loads(str(data["meta"])) if "meta" in data.files else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise FileFormatError(
            f"checkpoint {path}: expected an .npz with leaf_*, step and seeds, got {err}; "
            "delete it to restart from step 0"
        ) from err
    if step < 0 or (last is not None and step > last):
        raise FileFormatError(
            f"checkpoint {path}: expected a step in [0, {'∞' if last is None else last}] "
            f"(this run's), got step {step}; delete it to restart from step 0"
        )
    return Checkpoint(step, seeds, leaves, extras, meta)


def restore(template: Any, checkpoint: Checkpoint, rows: np.ndarray) -> Any:
    """The checkpoint's leaves (rows `rows` of the seed axis) in the structure of `template`
    (a pytree of arrays or `ShapeDtypeStruct`s with a leading seed axis), or None when the
    leaves' count, shapes past the seed axis or dtypes do not match it."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(leaves) != len(checkpoint.leaves):
        return None
    for want, got in zip(leaves, checkpoint.leaves, strict=True):
        if tuple(want.shape[1:]) != got.shape[1:] or np.dtype(want.dtype) != got.dtype:
            return None
    return jax.tree_util.tree_unflatten(treedef, [c[rows] for c in checkpoint.leaves])


def remove_temporaries(path: str | os.PathLike[str]) -> None:
    """Delete temp files of the checkpoint `path` left by a crash inside `save_checkpoint`
    (call only from the process that owns the checkpoint)."""
    for tmp in glob.glob(glob.escape(os.fspath(path)) + ".*.tmp"):
        os.unlink(tmp)


def remove_checkpoint(path: str | os.PathLike[str]) -> None:
    """Delete a finished run's checkpoint and any temp files of it."""
    remove_temporaries(path)
    if os.path.exists(path):
        os.unlink(path)
