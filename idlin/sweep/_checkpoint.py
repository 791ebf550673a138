"""Atomic checkpoints of a grid point's stacked training state (all its seeds at one step).

A checkpoint is one `.npz` (no pickle) written to a temporary file in the same directory, flushed
to disk and renamed over the old one: `os.replace` is atomic, so a crash at any instant leaves
either the previous checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import tempfile
import zipfile

import jax
import numpy as np

from .._errors import FileFormatError


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A stacked state saved after `step` training steps of the seeds `seeds` (leading axis)."""

    step: int
    seeds: tuple[int, ...]
    leaves: tuple[np.ndarray, ...]


def checkpoint_path(directory: str, point_key: str) -> str:
    """Where a grid point's checkpoint lives: `DIR/checkpoints/KEY.npz`."""
    return os.path.join(directory, "checkpoints", f"{point_key}.npz")


def save_checkpoint(path: str, state, *, step: int, seeds: tuple[int, ...]) -> None:
    """Write `state` (a pytree whose leaves have the seeds as leading axis) atomically."""
    leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(jax.device_get(state))]
    arrays: dict[str, np.ndarray] = {f"leaf_{i:04d}": leaf for i, leaf in enumerate(leaves)}
    arrays["step"] = np.asarray(step, np.int64)
    arrays["seeds"] = np.asarray(seeds, np.int64)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    # Named after the checkpoint, so its owner can sweep up a temp file left by a kill -9.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # pyright: ignore[reportArgumentType]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str) -> Checkpoint | None:
    """The checkpoint at `path`, or None if there is none.

    Raises:
        FileFormatError: the file exists but is not a checkpoint written by `save_checkpoint`.
    """
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            names = sorted(k for k in data.files if k.startswith("leaf_"))
            leaves = tuple(data[k] for k in names)
            step, seeds = int(data["step"]), tuple(int(s) for s in data["seeds"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise FileFormatError(
            f"checkpoint {path}: expected an .npz with leaf_*, step and seeds, got {err}; "
            "delete it to restart that grid point from step 0"
        ) from err
    return Checkpoint(step, seeds, leaves)


def restore(template, checkpoint: Checkpoint, rows: np.ndarray):
    """The checkpoint's leaves (rows `rows` of the seed axis) in the structure of `template`,
    or None when the leaves' count, shapes past the seed axis or dtypes do not match it."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(leaves) != len(checkpoint.leaves):
        return None
    for want, got in zip(leaves, checkpoint.leaves, strict=True):
        if tuple(want.shape[1:]) != got.shape[1:] or np.dtype(want.dtype) != got.dtype:
            return None
    return jax.tree_util.tree_unflatten(treedef, [c[rows] for c in checkpoint.leaves])


def remove_temporaries(path: str) -> None:
    """Delete temp files of the checkpoint `path` left by a crash inside `save_checkpoint`
    (call only from the process that owns the checkpoint)."""
    for tmp in glob.glob(glob.escape(path) + ".*.tmp"):
        os.unlink(tmp)


def remove_checkpoint(path: str) -> None:
    """Delete a finished point's checkpoint and any temp files of it."""
    remove_temporaries(path)
    if os.path.exists(path):
        os.unlink(path)
