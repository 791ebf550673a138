"""The study's configuration (TOML): distributions × architectures × widths, K seeds per point.

Example (see `examples/study.toml`)::

    [study]
    name = "study"
    seeds = 8                       # seeds 0..7 of every point, trained as one vmapped program
    width_multiples = [1, 2, 4]     # widths r, 2r, 4r of each distribution's rank r
    architectures = ["bilinear", "mlp", "transformer"]
    distributions = ["lowrank", "markov", "hmm", "morphology"]
    tolerances = [0.03, 0.1, 0.3]   # verdict tolerances; the middle one is the headline
    bootstrap = 1000                # bootstrap resamples of the seeds per confidence interval
    bootstrap_seed = 0

    [train.bilinear]                # steps, learning_rate, and idlin.lab.train.TrainConfig fields
    steps = 2000
    learning_rate = 0.05

    [distributions.lowrank]         # keyword arguments of idlin.lab.data.<kind>_truth, plus seed
    kind = "lowrank"
    vocab_size = 8
    context_length = 2
    rank = 4

    [size.tiny]                     # a named size overrides [study] keys; steps_scale
    seeds = 3                       # multiplies every architecture's steps
    steps_scale = 0.05

An HMM truth has no exact rank: its `rank` key (the r of the widths) is taken out of the
generator's arguments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from ...core._checks import integer, known_keys, positive_number, seed
from ...core._errors import ArgumentError, ConfigError
from ..sweep import read_toml

ARCHITECTURES = ("bilinear", "mlp", "transformer")
KINDS = ("lowrank", "markov", "hmm", "morphology")
_STUDY_KEYS = {"name", "seeds", "width_multiples", "architectures", "distributions", "tolerances",
               "bootstrap", "bootstrap_seed", "chunk_steps"}  # fmt: skip
_SIZE_KEYS = (_STUDY_KEYS - {"name"}) | {"steps_scale"}
_TRAIN_KEYS = {"steps", "learning_rate", "bias", "batch_size", "warmup_steps", "hidden", "embed",
               "activation", "layers", "heads"}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class StudyPoint:
    """One (distribution, architecture, width): K seeds trained and analysed together.

    Attributes:
        distribution: the distribution's name (a key of `[distributions]`).
        architecture: "bilinear", "mlp" or "transformer".
        width: d; multiple: d / r.
        steps, learning_rate: training; options: the other `[train.ARCH]` fields.
        seeds: the seeds of the point.
        key: 16 hex digits naming everything above and the distribution's parameters (the file
            name of the point's result, so an edited config never reuses a stale one).
    """

    distribution: str
    architecture: str
    width: int
    multiple: int
    steps: int
    learning_rate: float
    options: Mapping[str, Any]
    seeds: tuple[int, ...]
    key: str

    @property
    def label(self) -> str:
        return f"{self.distribution}/{self.architecture}/d={self.width}"


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """A validated study configuration at one size (see the module docstring)."""

    name: str
    size: str
    seeds: tuple[int, ...]
    width_multiples: tuple[int, ...]
    architectures: tuple[str, ...]
    distributions: Mapping[str, Mapping[str, Any]]
    tolerances: tuple[float, ...]
    bootstrap: int
    bootstrap_seed: int
    chunk_steps: int
    train: Mapping[str, Mapping[str, Any]]
    steps_scale: float = 1.0

    def points(self, ranks: Mapping[str, int]) -> list[StudyPoint]:
        """Every point, distribution-major, given each distribution's rank r."""
        out = []
        for dist in self.distributions:
            for arch in self.architectures:
                opts = dict(self.train[arch])
                steps = max(1, round(int(opts.pop("steps")) * self.steps_scale))
                lr = float(opts.pop("learning_rate"))
                for m in self.width_multiples:
                    width = m * int(ranks[dist])
                    ident = {"distribution": dict(self.distributions[dist]), "architecture": arch,
                             "width": width, "steps": steps, "learning_rate": lr,
                             "options": opts, "seeds": list(self.seeds)}  # fmt: skip
                    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
                    out.append(StudyPoint(dist, arch, width, m, steps, lr, opts, self.seeds,
                                          key[:16]))  # fmt: skip
        return out


def _checked(check, where: str, value: Any, **kwargs):
    """`idlin.core._checks.check(where, value)`, a wrong type reported as a `ConfigError` (a config
    file's value, not an argument)."""
    try:
        return check(where, value, **kwargs)
    except ArgumentError as err:
        raise ConfigError(str(err)) from None


def _int_list(where: str, value: Any, minimum: int) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if where.endswith("seeds") and value < 1:
            raise ConfigError(
                f"{where}: expected a seed count ≥ 1 or a list of seeds, got {value!r}"
            )
        value = list(range(value)) if where.endswith("seeds") else [value]
    if (not isinstance(value, list) or not value or len(set(value)) != len(value)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                       for v in value)):  # fmt: skip
        raise ConfigError(
            f"{where}: expected a non-empty list of distinct integers ≥ {minimum}, got {value!r}"
        )
    return tuple(value)


def _names(where: str, value: Any, allowed) -> tuple[str, ...]:
    if (not isinstance(value, list) or not value or not all(v in allowed for v in value)
            or len(set(value)) != len(value)):  # fmt: skip
        raise ConfigError(
            f"{where}: expected a non-empty list of distinct names from {sorted(allowed)}, got "
            f"{value!r}"
        )
    return tuple(value)


def _table(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table, got {value!r}")
    return value


def parse_config(data: Mapping[str, Any], size: str = "full") -> StudyConfig:
    """Validate a parsed study TOML document at `size` (a `[size.NAME]` table, or "full" for
    the `[study]` values as written).

    Raises:
        ConfigError: a missing or unknown table or key, a wrong type, an unknown size,
            architecture or distribution kind; the message names the key and what arrived.

    >>> from idlin.lab.study import parse_config
    >>> doc = {"study": {"seeds": 4, "architectures": ["bilinear"], "width_multiples": [1, 2]},
    ...        "train": {"bilinear": {"steps": 100, "learning_rate": 0.05}},
    ...        "distributions": {"toy": {"kind": "markov", "vocab_size": 4,
    ...                                  "context_length": 2, "rank": 2}},
    ...        "size": {"tiny": {"seeds": 2}}}
    >>> [p.label for p in parse_config(doc, "tiny").points({"toy": 2})]
    ['toy/bilinear/d=2', 'toy/bilinear/d=4']
    """
    extra = set(data) - {"study", "train", "distributions", "size"}
    if extra:
        raise ConfigError(f"config: unknown tables {sorted(extra)}; expected study, train, "
                          "distributions, size")  # fmt: skip
    study = data.get("study")
    if not isinstance(study, Mapping):
        raise ConfigError(f"config: expected a [study] table, got {study!r}")
    unknown = set(study) - _STUDY_KEYS
    if unknown:
        raise ConfigError(
            f"[study]: unknown keys {sorted(unknown)}; expected {sorted(_STUDY_KEYS)}"
        )
    sizes = _table("config: [size]", data.get("size", {}))
    if size != "full" or size in sizes:
        if size not in sizes:
            raise ConfigError(f"--size: expected one of {sorted({'full', *sizes})}, got {size!r}")
        over = _table(f"[size.{size}]", sizes[size])
        unknown = set(over) - _SIZE_KEYS
        if unknown:
            raise ConfigError(f"[size.{size}]: unknown keys {sorted(unknown)}")
        study = {**study, **over}
    dists = data.get("distributions")
    if not isinstance(dists, Mapping) or not dists:
        raise ConfigError(f"config: expected a [distributions] table, got {dists!r}")
    chosen = _names("study.distributions", study.get("distributions", list(dists)), set(dists))
    for name in chosen:
        kind = _table(f"[distributions.{name}]", dists[name]).get("kind")
        if kind not in KINDS:
            raise ConfigError(f"[distributions.{name}] kind: expected one of {KINDS}, got {kind!r}")
        if kind == "hmm" and "rank" not in dists[name]:
            raise ConfigError(f"[distributions.{name}]: an HMM has no exact rank; expected a "
                              "`rank` key for its widths, got none")  # fmt: skip
        if "seed" in dists[name]:
            _checked(seed, f"[distributions.{name}] seed", dists[name]["seed"])
        if "rank" in dists[name]:
            _checked(integer, f"[distributions.{name}] rank", dists[name]["rank"], minimum=1)
    archs = _names("study.architectures", study.get("architectures", list(ARCHITECTURES)),
                   set(ARCHITECTURES))  # fmt: skip
    train = _table("config: [train]", data.get("train", {}))
    for arch in archs:
        table = train.get(arch)
        if not isinstance(table, Mapping) or not {"steps", "learning_rate"} <= set(table):
            raise ConfigError(f"[train.{arch}]: expected steps and learning_rate, got {table!r}")
        known_keys(f"[train.{arch}]", table, _TRAIN_KEYS)
        _checked(integer, f"[train.{arch}] steps", table["steps"], minimum=1)
        _checked(positive_number, f"[train.{arch}] learning_rate", table["learning_rate"])
    tols = study.get("tolerances", [0.03, 0.1, 0.3])
    if (not isinstance(tols, list) or not tols
            or not all(isinstance(t, float | int) and 0 < t < 1 for t in tols)):  # fmt: skip
        raise ConfigError(f"study.tolerances: expected a list of numbers in (0, 1), got {tols!r}")
    scale = _checked(positive_number, f"size.{size}.steps_scale", study.get("steps_scale", 1.0))
    return StudyConfig(
        name=str(study.get("name", "study")),
        size=size,
        seeds=_int_list("study.seeds", study.get("seeds", 8), 0),
        width_multiples=_int_list(
            "study.width_multiples", study.get("width_multiples", [1, 2, 4]), 1
        ),
        architectures=archs,
        distributions={n: dict(dists[n]) for n in chosen},
        tolerances=tuple(float(t) for t in tols),
        bootstrap=_int_list("study.bootstrap", study.get("bootstrap", 1000), 10)[0],
        bootstrap_seed=_int_list("study.bootstrap_seed", study.get("bootstrap_seed", 0), 0)[0],
        chunk_steps=_int_list("study.chunk_steps", study.get("chunk_steps", 500), 1)[0],
        train={a: dict(train[a]) for a in archs},
        steps_scale=float(scale),
    )  # fmt: skip


def load_config(path: str | os.PathLike[str], size: str = "full") -> StudyConfig:
    """Read a study TOML file at `size` (see `parse_config`).

    Raises:
        FileFormatError: missing, unreadable or invalid TOML.
        ConfigError: as `parse_config`.
    """
    data = read_toml(path, "study config")
    return parse_config(data, size)
