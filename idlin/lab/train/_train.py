"""`train`: K seeds of one model trained together, resumable, with a progress bar (docs/theory.md
§8)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import time
from typing import Any

import jax
import numpy as np
from flax import nnx
from jaxtyping import PRNGKeyArray
from tqdm.auto import tqdm

from ...core._errors import ConfigError, FileFormatError
from ...core._gap import distribution_gap
from ...core._predictor import Predictor
from ..data import Truth, sample_stream
from ..models import NextTokenModel, export_predictor
from ._checkpoint import load_checkpoint, remove_temporaries, restore, save_checkpoint
from ._config import TrainConfig
from ._driver import init_runner, run_chunks
from ._keys import seed_keys, stream_key
from ._step import TrainState, make_data, make_init, make_step, unstack

CHECKPOINT_FILE = "train.npz"


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
    meta = {
        "config": dataclasses.asdict(config),
        "key": np.asarray(jax.random.key_data(key)).ravel().tolist(),
        "truth": f"{truth.name}:{digest.hexdigest()[:16]}",
    }
    return json.loads(json.dumps(meta, sort_keys=True))  # as it reads back from a checkpoint


def _resume(path: str, meta: dict, states: TrainState, losses: np.ndarray):
    """`(states, losses, step)` from the checkpoint at `path`, or None when there is none.

    Raises:
        ConfigError: the checkpoint is of a different run (config, key or truth).
        FileFormatError: it cannot be read into this run's structure.
    """
    remove_temporaries(path)  # a kill -9 inside save_checkpoint leaves one; it is ours
    ckpt = load_checkpoint(path, last=losses.shape[0])  # at most at the run's last step
    if ckpt is None:
        return None
    saved = ckpt.meta or {}
    if saved != meta:
        diff = sorted(k for k in set(meta) | set(saved) if meta.get(k) != saved.get(k))
        raise ConfigError(
            f"checkpoint {path}: expected a run with { ({k: meta.get(k) for k in diff}) }, got "
            f"{ ({k: saved.get(k) for k in diff}) }; use a fresh directory"
        )
    rows = np.arange(losses.shape[1])
    restored = restore(states, ckpt, rows)
    saved_losses = ckpt.extras.get("losses")
    if restored is None or saved_losses is None or saved_losses.shape != losses.shape:
        raise FileFormatError(
            f"checkpoint {path}: expected the state and (steps, seeds) = {losses.shape} losses "
            "of this run, got a different structure; delete it to restart from step 0"
        )
    return jax.tree.map(jax.numpy.asarray, restored), saved_losses.astype(np.float64), ckpt.step


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

    Seed k uses the key schedule of `idlin.lab.train._keys`: initialisation from
    `init_key(seed_keys(key, [k])[0])`, minibatches of step t from `step_key(·, t)`; with
    `source="stream"` all seeds share one stream sampled with `stream_key(key)`. Seed k does not
    depend on K, and a sweep's seed s is seed s of `train(..., key=jax.random.key(0))` (same
    step function, same keys). Everything is a function of `(truth, config, key)`: a run stopped
    and resumed from its checkpoint ends with bitwise the same parameters as an uninterrupted
    one. The learning rate and schedule are data (`TrainData.hyper`): configurations that
    differ only in them reuse one compiled program.

    Args:
        truth: the distribution (`idlin.lab.data`).
        config: a `TrainConfig`.
        key: JAX PRNG key.
        checkpoint_dir: save to (and resume from) `checkpoint_dir/train.npz`, written
            atomically (`idlin.lab.train._checkpoint`) every `checkpoint_every` steps and at the
            end.
        progress: show a progress bar with the current mean loss over seeds.
        stop_after: stop once this many steps are done, as if killed after a checkpoint
            (for time-limited jobs and for testing resumption).

    Returns:
        A `TrainResult`.

    Raises:
        ConfigError: a checkpoint directory from a different run, a bad `stop_after`.
        FileFormatError: a checkpoint that cannot be read into this run.

    Example:
        >>> import jax, idlin.lab.data as D
        >>> from idlin.lab.train import TrainConfig, train
        >>> truth = D.lowrank_truth(vocab_size=4, context_length=1, rank=2, key=jax.random.key(0))
        >>> cfg = TrainConfig(width=2, steps=3, batch_size=4, hidden=4, embed=2, seeds=2)
        >>> train(truth, cfg, key=jax.random.key(0), progress=False).loss_history.shape
        (3, 2)
    """
    K, total = config.seeds, config.steps
    end = total if stop_after is None else int(stop_after)
    if not 1 <= end <= total:
        raise ConfigError(
            f"stop_after: expected 1 ≤ stop_after ≤ steps = {total}, got {stop_after}"
        )
    stream = None
    if config.source == "stream":
        stream = sample_stream(truth, key=stream_key(key), num_samples=config.stream_samples)
    data = make_data(truth, config, stream)
    graphdef, init = make_init(config, truth.vocab_size, truth.context_length)
    keys = seed_keys(key, range(K))
    states = init_runner(init)(keys, data)
    losses = np.full((total, K), np.nan, dtype=np.float64)
    start, resumed_from = 0, None
    path = meta = None
    if checkpoint_dir is not None:
        path = os.path.join(os.fspath(checkpoint_dir), CHECKPOINT_FILE)
        meta = _fingerprint(truth, config, key)
        found = _resume(path, meta, states, losses)
        if found is not None:
            states, losses, start = found
            resumed_from = start
    step_fn = make_step(graphdef, config)
    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=start, disable=not progress, leave=False,
               desc=f"{config.architecture} d={config.width} K={K}")  # fmt: skip
    step = start
    try:
        chunks = run_chunks(
            step_fn, states, keys, data, start=start, end=end,
            chunk_steps=config.chunk_steps, checkpoint_every=config.checkpoint_every,
        )  # fmt: skip
        for step, states, chunk in chunks:
            n = chunk.shape[1]
            losses[step - n : step] = np.asarray(chunk).T  # (n, K)
            bar.update(n)
            bar.set_postfix(loss=f"{losses[step - 1].mean():.3e}")
            if path is not None and (step % config.checkpoint_every == 0 or step == end):
                save_checkpoint(
                    path, states, step=step, seeds=tuple(range(K)), extras={"losses": losses},
                    meta=meta,
                )  # fmt: skip
    finally:
        bar.close()
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
