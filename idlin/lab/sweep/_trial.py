"""What one seed at one grid point does: a pure `init`, a pure `step`, a host-side `evaluate`.

The runner trains through `idlin.lab.train`'s driver (`init_runner`, `run_chunks`): it vectorises
`init` and `step` over seeds with `jax.vmap` and shards the seed axis over devices, so both must
be pure functions of one seed's state (no Python side effects, no host callbacks). Randomness
comes from explicit keys of `idlin.lab.train`'s one key schedule: `init(init_key, data)` and
`step(state, data, step_key)` — the signature of `idlin.lab.train.make_step` — so a resumed run
draws the same numbers as an uninterrupted one and sweep seed s is seed s of
`idlin.lab.train.train(..., key=jax.random.key(0))`. `evaluate` runs after training on one seed's
state (NumPy leaves) and returns the record's metrics: for trained next-token models, the one
per-trial evaluation `truth_metrics` (docs/theory.md §8).

Architectures are looked up by name in `_registry.py`; the built-in ones live in
`_architectures.py`. Ground truths come from `idlin.lab.data` (`make_truth`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from ...core._errors import ConfigError, IdlinError
from ...core._predictor import Predictor


@dataclasses.dataclass(frozen=True)
class Program:
    """The functions and data of one grid point's training (see the module docstring).

    Attributes:
        init: `(key, data) -> state` for one seed (pure; state is a pytree of arrays).
        step: `(state, data, key) -> (state, loss)` for one seed (pure; `idlin.lab.train`'s step
            signature).
        evaluate: `state -> {metric: value}` for one seed, on the host (NumPy leaves).
        data: the point's arrays (a pytree), passed to `init` and `step` as arguments rather
            than closed over, so grid points that differ only in data (e.g. the learning rate)
            reuse one compiled program: builders should return the *same* `init`/`step`
            objects for equal shapes.
    """

    init: Callable[[jax.Array, Any], Any]
    step: Callable[[Any, Any, jax.Array], tuple[Any, jax.Array]]
    evaluate: Callable[[Any], dict[str, Any]]
    data: Any = None


TRUTH_KINDS = ("lowrank", "markov", "hmm")


@functools.lru_cache(maxsize=16)
def _truth(params_json: str):
    from .. import data

    params = json.loads(params_json)
    kind = params.pop("kind", None)
    seed = params.pop("seed", 0)
    if kind not in TRUTH_KINDS:
        raise ConfigError(f"distribution kind: expected one of {TRUTH_KINDS}, got {kind!r}")
    try:
        return getattr(data, f"{kind}_truth")(key=jax.random.key(seed), **params)
    except TypeError as err:  # unknown or missing parameters of the generator
        raise ConfigError(f"[distributions] kind = {kind!r}: {err}") from err


def make_truth(params: Mapping[str, Any]):
    """The `idlin.lab.data.Truth` of a `[distributions.NAME]` table: `kind` picks the generator
    (`lowrank`, `markov`, `hmm`), `seed` (default 0) its key, the other keys its arguments.

    Raises:
        ConfigError: an unknown kind, or arguments the generator rejects.
    """
    return _truth(json.dumps(dict(params), sort_keys=True))


def probe_pairs(num_contexts: int) -> np.ndarray:
    """The default probe set: context pairs (0,1), (2,3), (4,5) (as many as N allows)."""
    m = min(3, num_contexts // 2)
    return np.arange(2 * m).reshape(m, 2)


def truth_metrics(truth, model: Predictor) -> dict[str, Any]:
    """A record's metrics for a trained `model` against the `truth`: `idlin.evaluate`, the one
    §8 evaluation (docs/theory.md §8), read into flat numbers.

    - `mean_kl` = mean_x KL(p*‖p_θ), `relative_gap` = ‖C* − C_θ‖_F/‖C*‖_F;
    - `rank` = numerical rank of `C_θ` at the threshold tied to its KL (`Precision(mean_kl=…)`),
      `truth_rank` = the planted r*, and `spectral_gap` = σ_{r*}(C_θ)/σ_{r*+1}(C_θ) (the one
      definition, `idlin.spectral_gap`; inf when nothing is cut off): how clearly the trained
      model separates at the truth's effective complexity;
    - `canonical_r2`: least-squares fit of the model's canonical coordinates (rank r*) from the
      truth's (`idlin.core.metrics.canonical_fit`);
    - `parallelism_raw`, `parallelism_identifiable`: σ₂/σ₁ of the embedding differences of the
      default probe pairs in raw and identifiable form (`idlin.properties.parallelism`), read
      from the model's one `Analysis`: identifiable scores should agree across seeds and
      widths, raw ones need not.
    Optional metrics that fail (a rank the model lacks, a zero difference) are listed under
    `skipped` with the reason instead of failing the record.
    """
    from ...core._compare import evaluate

    r = truth.rank
    ev = evaluate([model], truth.predictor, rank=r)
    c, a = ev.to_truth[0], ev.analyses[0]
    out: dict[str, Any] = {
        "mean_kl": c.kl_pq,
        "relative_gap": float(c.gap.relative),
        "rank": c.fit_rank,
    }
    skipped: dict[str, str] = {}
    if r is not None:
        out["truth_rank"] = r
        out["spectral_gap"] = c.spectral_gap
        if c.canonical_r2 is None:
            skipped["canonical_r2"] = f"RankError: the model lacks rank {r}"
        else:
            out["canonical_r2"] = c.canonical_r2

    def optional(name: str, fn: Callable[[], float]) -> None:
        try:
            out[name] = float(fn())
        except IdlinError as err:  # never costs the record
            skipped[name] = f"{type(err).__name__}: {err}"

    def parallel(form: str):
        from ...properties import parallelism

        return parallelism(a, probe_pairs(model.num_contexts), form=form).score

    optional("parallelism_raw", lambda: parallel("raw"))
    optional("parallelism_identifiable", lambda: parallel("identifiable"))
    if skipped:
        out["skipped"] = skipped
    return out
