"""The training configuration: one frozen dataclass, validated on construction."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax

from ...core._checks import known_keys
from ...core._errors import ConfigError

SOURCES = ("table", "stream")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train K seeds of one next-token model on a `Truth` (docs/theory.md §8).

    Attributes:
        architecture: "mlp" (an MLP over the context) or "transformer" (small causal transformer).
        width: d, the representation width of `f(x)` and `g(y)`.
        bias: a per-token output bias.
        steps: optimisation steps per seed.
        batch_size: contexts (table) or sampled pairs (stream) per step, drawn with `randint`.
        learning_rate: peak Adam learning rate; cosine decay to 0 over `steps`.
        warmup_steps: linear warm-up steps before the cosine decay.
        seeds: K, trained together by one vmapped program.
        source: "table" — minimise the exact `KL(p* ‖ p_θ)` on minibatches of contexts;
            "stream" — minimise the cross-entropy of `stream_samples` sampled `(x, y)` pairs.
        stream_samples: M, the size of the sampled training stream.
        dtype: parameter dtype, "float32" or "float64" (float64 needs `jax_enable_x64`).
        hidden, embed, activation: MLP sizes (hidden units, token embedding size, nonlinearity);
            `embed` is also the transformer's model width.
        layers, heads: transformer depth and attention heads.
        chunk_steps: steps per jitted `lax.scan` call (progress and checkpoint granularity).
        checkpoint_every: save a checkpoint every this many steps (and at the end).
    """

    architecture: str = "mlp"
    width: int = 4
    bias: bool = False
    steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 5e-3
    warmup_steps: int = 0
    seeds: int = 1
    source: str = "table"
    stream_samples: int = 200_000
    dtype: str = "float32"
    hidden: int = 128
    embed: int = 16
    activation: str = "tanh"
    layers: int = 2
    heads: int = 2
    chunk_steps: int = 250
    checkpoint_every: int = 1000

    def __new__(cls, *args: Any, **kwargs: Any):
        # A misspelt keyword (`widht=4`) gets a ConfigError naming the nearest field, not the
        # dataclass's TypeError.
        known_keys(cls.__name__, kwargs, {f.name for f in dataclasses.fields(cls)})
        return super().__new__(cls)

    def __post_init__(self) -> None:
        from ..models import ACTIVATIONS, ARCHITECTURES  # models import flax: imported late

        if self.architecture not in ARCHITECTURES:
            raise ConfigError(
                f"architecture: expected one of {sorted(ARCHITECTURES)}, got {self.architecture!r}"
            )
        if self.source not in SOURCES:
            raise ConfigError(f"source: expected one of {SOURCES}, got {self.source!r}")
        for name in ("width", "steps", "batch_size", "seeds", "stream_samples", "hidden",
                     "embed", "layers", "heads", "chunk_steps", "checkpoint_every"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected an integer ≥ 1, got {value!r}")
        if not isinstance(self.warmup_steps, int) or not 0 <= self.warmup_steps < self.steps:
            raise ConfigError(
                f"warmup_steps: expected an integer in [0, steps={self.steps}), got "
                f"{self.warmup_steps!r}"
            )
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < math.inf:
            raise ConfigError(f"learning_rate: expected a finite number > 0, got {lr!r}")
        if self.architecture == "mlp" and self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation: expected one of {sorted(ACTIVATIONS)}, got {self.activation!r}"
            )
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}")
        if self.dtype == "float64" and not jax.config.read("jax_enable_x64"):
            raise ConfigError("dtype: 'float64' needs jax_enable_x64, which is off")
        if self.architecture == "transformer" and self.embed % self.heads:
            raise ConfigError(
                f"embed: expected a multiple of heads = {self.heads}, got {self.embed}"
            )

    def model_options(self) -> dict[str, Any]:
        """Constructor options of the chosen architecture."""
        if self.architecture == "mlp":
            return {"hidden": self.hidden, "embed": self.embed, "activation": self.activation}
        return {"embed": self.embed, "layers": self.layers, "heads": self.heads}

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again).

        Raises:
            ConfigError: a field that does not exist (named, with the allowed ones) or a bad value.
        """
        check_fields("TrainConfig", changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> TrainConfig:
        """A config from a mapping (e.g. a TOML `[train]` table).

        >>> TrainConfig.from_mapping({"width": 3, "hidden": 8}).hidden
        8

        Raises:
            ConfigError: an unknown field (named, with the allowed ones) or a bad value.
        """
        check_fields("TrainConfig", options)
        return cls(**options)


FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def check_fields(where: str, options: Mapping[str, Any], allowed: Sequence[str] = FIELDS) -> None:
    """Raise ConfigError naming the fields of `options` that are not in `allowed`."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown fields {unknown}; expected some of {sorted(allowed)}")
