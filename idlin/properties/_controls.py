"""Controls: the same score on probe sets that lack the property (docs/theory.md §6.5).

A score means something only against its null. `Null` summarises one control (the score on
shuffled pairings, random pairs, random labels or random vectors) by quantiles and the Monte Carlo
p-value `(1 + #{null at least as strong as observed}) / (1 + n)` (Phipson & Smyth 2010: never 0,
exact for exchangeable nulls). Every control draws from `np.random.default_rng(seed)`, so a
result is reproducible from its seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core._errors import ConfigError

QUANTILES = (0.05, 0.5, 0.95)
STRONGER = ("lower", "higher")


@dataclasses.dataclass(frozen=True)
class Null:
    """One control of one score (docs/theory.md §6.5).

    Attributes:
        control: what was randomised ("shuffled targets", "random pairs", "random labels",
            "random vectors").
        statistic: the score compared ("sigma ratio", "mean cosine", "held-out accuracy",
            "relative shift", "reach residual").
        observed: the score on the real probe set.
        stronger: "lower" or "higher": which way means *more* of the property.
        quantiles: the null's 5%, 50% and 95% quantiles.
        mean: the null's mean.
        p_value: `(1 + #{null ≤ observed}) / (1 + n)` when `stronger = "lower"` (`≥` for
            "higher"): small means the real probe set is rarely matched by chance.
        n: number of null samples.
        seed: the seed of `np.random.default_rng` the samples were drawn from.
        samples: the null samples themselves (not compared, not printed).
    """

    control: str
    statistic: str
    observed: float
    stronger: str
    quantiles: tuple[float, float, float]
    mean: float
    p_value: float
    n: int
    seed: int
    samples: np.ndarray = dataclasses.field(compare=False, repr=False)

    @property
    def median(self) -> float:
        return self.quantiles[1]


def p_value(observed: float, samples: np.ndarray, stronger: str) -> float:
    """`(1 + #{s ≤ observed}) / (1 + n)` for `stronger = "lower"`, `≥` for "higher"."""
    s = np.asarray(samples, dtype=np.float64)
    hits = np.sum(s <= observed) if stronger == "lower" else np.sum(s >= observed)
    return float((1 + int(hits)) / (1 + s.size))


def summarise(
    control: str, statistic: str, observed: float, samples, stronger: str, seed: int
) -> Null:
    """The `Null` of `samples` for a score whose `stronger` direction is "lower" or "higher"."""
    s = np.asarray(samples, dtype=np.float64).reshape(-1)
    q = np.quantile(s, QUANTILES)
    return Null(
        control=control,
        statistic=statistic,
        observed=float(observed),
        stronger=stronger,
        quantiles=(float(q[0]), float(q[1]), float(q[2])),
        mean=float(np.mean(s)),
        p_value=p_value(observed, s, stronger),
        n=int(s.size),
        seed=int(seed),
        samples=s,
    )


def check_count(name: str, value, minimum: int = 0) -> int:
    """A non-negative sample count (0 turns the control off)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}: expected an integer ≥ {minimum}, got {value!r}")
    return int(value)


def check_seed(seed) -> int:
    """An integer seed for `np.random.default_rng`."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)
