"""`train`: K seeds of one model trained together, resumable, with a progress bar (THEORY §8)."""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import time
from typing import Any

import jax
import numpy as np
from flax import nnx
from jaxtyping import PRNGKeyArray
from tqdm.auto import tqdm

from .._errors import ConfigError
from .._gap import distribution_gap
from .._predictor import Predictor
from ..data import Truth, sample_stream
from ..models import NextTokenModel, export_predictor
from ._checkpoint import Checkpoints
from ._config import TrainConfig
from ._step import TrainState, init_states, make_data, make_runner, seed_data_keys, unstack


@dataclasses.dataclass(frozen=True, eq=False)
class TrainResult:
    """K trained seeds of one configuration.

    Attributes:
        config: the `TrainConfig`.
        graphdef: the static model structure (`nnx.split`).
        states: the final `TrainState`, leaves stacked over seeds (leading axis K).
        predictors: per seed, the model exported on `truth.contexts` (`export_predictor`).
        loss_history: (steps, K) per-step minibatch loss (table: KL to the truth; stream:
            cross-entropy).
        mean_kl: (K,) `mean_x KL(p* ‖ p_θ)` over all contexts, by `idlin.distribution_gap`.
        resumed_from: the checkpoint step this call started from (None: from scratch).
        steps_done: steps completed (`config.steps` unless stopped early by `stop_after`).
        seconds: wall-clock seconds of this call's training loop (compilation included).
    """

    config: TrainConfig
    graphdef: nnx.GraphDef
    states: TrainState
    predictors: tuple[Predictor, ...]
    loss_history: np.ndarray
    mean_kl: np.ndarray
    resumed_from: int | None
    steps_done: int
    seconds: float

    @property
    def params(self) -> Any:
        """The stacked parameters (leading seed axis)."""
        return self.states.params

    def model(self, seed: int) -> NextTokenModel:
        """Seed `seed` as an nnx model."""
        return nnx.merge(self.graphdef, unstack(self.states.params, seed))


def _fingerprint(truth: Truth, config: TrainConfig, key: PRNGKeyArray) -> dict:
    digest = hashlib.sha256(np.ascontiguousarray(truth.probs).tobytes())
    digest.update(np.ascontiguousarray(truth.contexts).tobytes())
    return {
        "config": {k: v for k, v in dataclasses.asdict(config).items()},
        "key": np.asarray(jax.random.key_data(key)).ravel().tolist(),
        "truth": f"{truth.name}:{digest.hexdigest()[:16]}",
    }


def train(
    truth: Truth,
    config: TrainConfig,
    *,
    key: PRNGKeyArray,
    checkpoint_dir: str | pathlib.Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Train `config.seeds` models from scratch on `truth`, all seeds in one vmapped program.

    Seed k is initialised from `split(key, K)[k]` and draws its own minibatches; with
    `source="stream"` all seeds share one stream sampled with `fold_in(key, 2)`. Everything is a
    function of `(truth, config, key)`: a run stopped and resumed from its checkpoint ends with
    bitwise the same parameters as an uninterrupted one.

    Args:
        truth: the distribution (`idlin.data`).
        config: a `TrainConfig`.
        key: JAX PRNG key.
        checkpoint_dir: save to (and resume from the last checkpoint in) this directory.
        progress: show a progress bar with the current mean loss over seeds.
        stop_after: stop once this many steps are done, as if killed after a checkpoint
            (for time-limited jobs and for testing resumption).

    Returns:
        A `TrainResult`.

    Raises:
        ConfigError: a checkpoint directory from a different run, a bad `stop_after`.
    """
    K, total = config.seeds, config.steps
    end = total if stop_after is None else int(stop_after)
    if not 1 <= end <= total:
        raise ConfigError(
            f"stop_after: expected 1 ≤ stop_after ≤ steps = {total}, got {stop_after}"
        )
    stream = None
    if config.source == "stream":
        stream = sample_stream(
            truth, key=jax.random.fold_in(key, 2), num_samples=config.stream_samples
        )
    data = make_data(truth, config, stream)
    graphdef, states = init_states(truth, config, key=key)
    data_keys = seed_data_keys(key, K)
    losses = np.full((total, K), np.nan, dtype=np.float64)
    start, resumed_from = 0, None
    ckpt = meta = None
    if checkpoint_dir is not None:
        ckpt = Checkpoints(checkpoint_dir)
        meta = _fingerprint(truth, config, key)
        last = ckpt.latest()
        if last is not None:
            states, losses = ckpt.restore(last, states, losses, meta)
            start = resumed_from = int(last)
    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=start, disable=not progress, leave=False,
               desc=f"{config.architecture} d={config.width} K={K}")  # fmt: skip
    step = start
    try:
        while step < end:
            n = min(config.chunk_steps, end - step,
                    config.checkpoint_every - step % config.checkpoint_every)  # fmt: skip
            states, chunk = make_runner(graphdef, config, n)(states, data, data_keys)
            losses[step : step + n] = np.asarray(chunk).T  # (n, K)
            step += n
            bar.update(n)
            bar.set_postfix(loss=f"{losses[step - 1].mean():.3e}")
            if (
                ckpt is not None
                and meta is not None
                and (step % config.checkpoint_every == 0 or step == end)
            ):
                ckpt.save(step, states, losses, meta)
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
    seconds = time.perf_counter() - t0
    predictors = tuple(
        export_predictor((graphdef, unstack(states.params, k)), jax.numpy.asarray(truth.contexts))
        for k in range(K)
    )
    kl = np.array([distribution_gap(truth.predictor, p).mean_kl for p in predictors])
    return TrainResult(
        config=config,
        graphdef=graphdef,
        states=states,
        predictors=predictors,
        loss_history=losses[:step],
        mean_kl=kl,
        resumed_from=resumed_from,
        steps_done=step,
        seconds=seconds,
    )
