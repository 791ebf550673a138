"""Orbax checkpoints of a vectorised training run: stacked states, the loss history and a
fingerprint of the run, so that a rerun resumes exactly where the last checkpoint left off."""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from .._errors import ConfigError, FileFormatError


class Checkpoints:
    """A checkpoint directory: `save(step, states, losses, meta)`, `latest()`, `restore(...)`."""

    def __init__(self, directory: str | pathlib.Path, *, max_to_keep: int = 2) -> None:
        self.directory = pathlib.Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True
        )
        self.manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "meta")
        )

    def latest(self) -> int | None:
        """The last saved step, or None."""
        return self.manager.latest_step()

    def save(self, step: int, states: Any, losses: np.ndarray, meta: dict) -> None:
        tree = {"states": states, "losses": losses}
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave(meta)
            ),
        )
        self.manager.wait_until_finished()

    def restore(self, step: int, states: Any, losses: np.ndarray, meta: dict) -> tuple[Any, Any]:
        """Restore into the structure of `states`/`losses`; the saved `meta` must equal `meta`.

        Raises:
            ConfigError: the directory holds a different run (config, key or truth).
            FileFormatError: the checkpoint cannot be read into this structure.
        """
        saved_meta = self.manager.restore(
            step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
        )["meta"]
        if saved_meta != meta:
            diff = sorted(
                k for k in set(meta) | set(saved_meta) if meta.get(k) != saved_meta.get(k)
            )
            saved = {k: saved_meta.get(k) for k in diff}
            wanted = {k: meta.get(k) for k in diff}
            raise ConfigError(
                f"checkpoint {self.directory}: expected a run with {wanted}, got {saved}; "
                "use a fresh directory"
            )
        abstract = jax.tree.map(
            ocp.utils.to_shape_dtype_struct, {"states": states, "losses": losses}
        )
        try:
            tree = self.manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
            )["state"]
        except (ValueError, KeyError, FileNotFoundError) as e:
            raise FileFormatError(f"checkpoint {self.directory} step {step}: {e}") from e
        return tree["states"], np.asarray(tree["losses"])

    def close(self) -> None:
        self.manager.close()
