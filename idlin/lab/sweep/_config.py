"""A sweep's configuration (TOML) and its grid: distributions × widths × architectures × rates.

One grid point is one compiled training program; its seeds are the vectorised axis inside it
(docs/theory.md §8 asks whether identifiable scores agree across seeds and widths). A point is
named by a
hash of everything that determines its results, so editing a distribution's parameters or the
step count makes new records instead of silently reusing stale ones.

Example TOML (see `examples/sweep.toml`)::

    [sweep]
    name = "demo"
    seeds = 4                      # or an explicit list, e.g. [0, 1, 5]
    steps = 200
    checkpoint_every = 50

    [grid]
    distribution = ["lowrank3"]
    width = [2, 3, 6]
    architecture = ["bilinear"]
    learning_rate = [0.05]

    [distributions.lowrank3]
    kind = "lowrank"
    contexts = 24
    vocab = 12
    rank = 3
    seed = 0
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import tomllib
from collections.abc import Mapping
from typing import Any

from ...core._errors import ConfigError, FileFormatError

_SWEEP_KEYS = {"name", "seeds", "steps", "checkpoint_every", "journal_mode"}
_GRID_KEYS = ("distribution", "width", "architecture", "learning_rate")
_JOURNAL_MODES = ("wal", "delete")
_TRAIN_RESERVED = {"architecture", "width", "steps", "learning_rate", "seeds", "dtype"}
# `idlin.lab.train.TrainConfig` fields a `[train]` table may set (the others come from [sweep] and
# [grid], or do not apply to sweeps); kept here so parsing a config does not import flax.
# (`stream_samples`, `chunk_steps`, `checkpoint_every` do not apply: sweeps train on the table
# and checkpoint by [sweep] checkpoint_every.)
_TRAIN_FIELDS = ("bias", "batch_size", "warmup_steps", "source", "hidden", "embed", "activation",
                 "layers", "heads")  # fmt: skip


def _name(value: Any) -> str:
    """The sweep's name, which is also the default output directory `idlin-out/sweeps/NAME`:
    one plain path component (no separators, no `..`, not absolute)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"sweep.name: expected a non-empty string, got {value!r}")
    bad = (
        "/" in value
        or "\\" in value
        or (os.altsep is not None and os.altsep in value)
        or ".." in value
        or value in (".", "~")
        or "\0" in value
        or os.path.isabs(value)
    )
    if bad:
        raise ConfigError(
            "sweep.name: expected a plain name (it becomes the directory idlin-out/sweeps/NAME: "
            f"no path separators, no '..', not absolute), got {value!r}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class GridPoint:
    """One point of the grid: a training problem whose seeds run vectorised in one program.

    Attributes:
        distribution: name of the distribution (a key of the config's `[distributions]`).
        distribution_params: that distribution's table (`kind` plus its parameters).
        width: model width `d` (docs/theory.md §1).
        architecture: name of the model family.
        learning_rate: optimiser step size.
        steps: training steps per seed.
        train_options: the config's `[train]` table (extra `idlin.lab.train.TrainConfig` fields
            for the `mlp` and `transformer` architectures, e.g. `batch_size`, `hidden`).
        key: stable 16-hex-digit identity of all the above (the store's primary key, with the seed).
    """

    distribution: str
    distribution_params: Mapping[str, Any]
    width: int
    architecture: str
    learning_rate: float
    steps: int
    train_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    key: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The point's configuration as plain JSON-able data (without `key`)."""
        return {
            "distribution": self.distribution,
            "distribution_params": dict(self.distribution_params),
            "width": self.width,
            "architecture": self.architecture,
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "train_options": dict(self.train_options),
        }

    @property
    def label(self) -> str:
        """A short human-readable name, e.g. `lowrank3/bilinear/d=4/lr=0.05`."""
        return f"{self.distribution}/{self.architecture}/d={self.width}/lr={self.learning_rate:g}"


# Part of every point key: bumped when the training numerics change, so a store or checkpoint
# written by an older idlin is not mixed with new results (2: sweeps train with idlin.lab.train's
# key schedule and step, the learning rate as data).
TRAINING_VERSION = 2


def _point_key(data: Mapping[str, Any]) -> str:
    data = {**data, "training_version": TRAINING_VERSION}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: the grid, the seeds, and how often to checkpoint.

    Attributes:
        name: the sweep's name (informational).
        seeds: the seeds run at every grid point (distinct non-negative ints).
        steps: training steps per seed.
        checkpoint_every: steps between checkpoints (the unit of work lost to a crash).
        points: the expanded grid, in a fixed order (distribution, architecture, width, rate).
        journal_mode: SQLite journal: `"wal"` (local disks) or `"delete"` (network filesystems,
            where WAL's shared memory does not work).
    """

    name: str
    seeds: tuple[int, ...]
    steps: int
    checkpoint_every: int
    points: tuple[GridPoint, ...]
    journal_mode: str = "wal"

    @property
    def num_records(self) -> int:
        """Records a finished sweep holds: one per (grid point, seed)."""
        return len(self.points) * len(self.seeds)


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a positive integer, got {value!r}")
    return value


def _as_list(where: str, value: Any) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigError(f"{where}: expected a non-empty list, got []")
    return values


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(range(_positive_int("sweep.seeds", value)))
    seeds = _as_list("sweep.seeds", value)
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**31:
            raise ConfigError(f"sweep.seeds: expected integers in [0, 2³¹), got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"sweep.seeds: expected distinct seeds, got {seeds}")
    return tuple(seeds)


def parse_config(data: Mapping[str, Any]) -> SweepConfig:
    """Validate a parsed TOML document and expand its grid.

    Args:
        data: the TOML document as a mapping with tables `sweep`, `grid`, `distributions`.

    Returns:
        A `SweepConfig` with one `GridPoint` per element of
        `distribution × architecture × width × learning_rate`.

    Raises:
        ConfigError: a missing or unknown key, a wrong type, an empty axis, an undefined
            distribution, or a duplicated grid point; the message names the key, what was
            expected and what arrived.
    """
    for table in ("sweep", "grid", "distributions"):
        if not isinstance(data.get(table), Mapping):
            raise ConfigError(f"config: expected a [{table}] table, got {data.get(table)!r}")
    extra = set(data) - {"sweep", "grid", "distributions", "train"}
    if extra:
        raise ConfigError(
            f"config: unknown tables {sorted(extra)}; expected sweep, grid, distributions, train"
        )
    train = data.get("train", {})
    if not isinstance(train, Mapping) or set(train) & _TRAIN_RESERVED:
        raise ConfigError(
            f"[train]: expected a table without {sorted(_TRAIN_RESERVED)} (set by [sweep] and "
            f"[grid]), got {train!r}"
        )
    unknown = sorted(set(train) - set(_TRAIN_FIELDS))
    if unknown:
        raise ConfigError(
            f"[train]: unknown fields {unknown}; expected some of {sorted(_TRAIN_FIELDS)}"
        )
    sweep, grid, dists = data["sweep"], data["grid"], data["distributions"]
    unknown = set(sweep) - _SWEEP_KEYS
    if unknown:
        raise ConfigError(
            f"[sweep]: unknown keys {sorted(unknown)}; expected {sorted(_SWEEP_KEYS)}"
        )
    unknown = set(grid) - set(_GRID_KEYS)
    if unknown:
        raise ConfigError(f"[grid]: unknown keys {sorted(unknown)}; expected {list(_GRID_KEYS)}")
    for k in _GRID_KEYS:
        if k not in grid:
            raise ConfigError(f"[grid]: expected key {k!r}, got keys {sorted(grid)}")
    steps = _positive_int("sweep.steps", sweep.get("steps"))
    every = _positive_int("sweep.checkpoint_every", sweep.get("checkpoint_every", steps))
    journal = sweep.get("journal_mode", "wal")
    if journal not in _JOURNAL_MODES:
        raise ConfigError(f"sweep.journal_mode: expected one of {_JOURNAL_MODES}, got {journal!r}")
    seeds = _seeds(sweep.get("seeds", 1))

    names = _as_list("grid.distribution", grid["distribution"])
    for n in names:
        if not isinstance(dists.get(n), Mapping) or "kind" not in dists[n]:
            raise ConfigError(
                f"grid.distribution: {n!r} needs a table [distributions.{n}] with a 'kind', "
                f"got {dists.get(n)!r} (defined: {sorted(dists)})"
            )
    widths = [_positive_int("grid.width", w) for w in _as_list("grid.width", grid["width"])]
    archs = _as_list("grid.architecture", grid["architecture"])
    for a in archs:
        if not isinstance(a, str) or not a:
            raise ConfigError(f"grid.architecture: expected non-empty strings, got {a!r}")
    rates = []
    for lr in _as_list("grid.learning_rate", grid["learning_rate"]):
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < math.inf:
            raise ConfigError(
                f"grid.learning_rate: expected positive numbers, got {lr!r} (finite and > 0)"
            )
        rates.append(float(lr))

    points = []
    for name, arch, width, lr in itertools.product(names, archs, widths, rates):
        p = GridPoint(name, dict(dists[name]), width, arch, lr, steps, dict(train))
        points.append(dataclasses.replace(p, key=_point_key(p.as_dict())))
    keys = [p.key for p in points]
    if len(set(keys)) != len(keys):
        dup = sorted({p.label for p in points if keys.count(p.key) > 1})
        raise ConfigError(f"[grid]: expected distinct grid points, got duplicates {dup}")
    return SweepConfig(
        name=_name(sweep.get("name", "sweep")),
        seeds=seeds,
        steps=steps,
        checkpoint_every=min(every, steps),
        points=tuple(points),
        journal_mode=journal,
    )


def read_toml(path: str | os.PathLike[str], what: str) -> dict:
    """The parsed TOML at `path`; a FileFormatError naming `what` when it is missing, a
    directory, unreadable or invalid (shared by the sweep and study configs)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as err:
        raise FileFormatError(f"{what}: expected a TOML file at {path}, got none") from err
    except IsADirectoryError as err:
        raise FileFormatError(f"{what}: expected a TOML file at {path}, got a directory") from err
    except (OSError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{what} {path}: expected a readable file, got {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise FileFormatError(f"{what} {path}: expected valid TOML, got {err}") from err


def load_config(path: str | os.PathLike[str]) -> SweepConfig:
    """Read and validate a sweep TOML file (see the module docstring for the format).

    Raises:
        FileFormatError: the file is missing, a directory, unreadable or not valid TOML.
        ConfigError: as `parse_config`.
    """
    data = read_toml(path, "sweep config")
    return parse_config(data)
