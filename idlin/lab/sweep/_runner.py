"""Run a sweep: seeds vectorised, seed axis sharded over local devices, grid split over processes.

For each grid point this process owns, the seeds not yet in the store (or whose record failed)
run as one compiled program of `idlin.lab.train`'s driver (`init_runner`, `run_chunks`): `jax.vmap`
over seeds of a `lax.scan` over `checkpoint_every` steps, jitted with the seed axis sharded over
a 1-D `Mesh` of the local devices (`NamedSharding(mesh, P("seed"))`), keys from `idlin.lab.train`'s
schedule with root `jax.random.key(SWEEP_ROOT)`. Seeds are padded to a multiple of the device
count by repeating the last one (padded rows are dropped). After each chunk the stacked state
is checkpointed atomically (`idlin.lab.train`'s checkpoint format); when a point finishes, all its
records are committed in one transaction and only then is its checkpoint deleted. So a crash at
any instant loses at most one chunk and a rerun neither repeats nor drops a record. The whole
run holds the directory's writer lock (`_lock.py`): a concurrent second run is refused.

Multi-host (multi-controller JAX): every process calls `jax.distributed.initialize` and runs
this same function; grid point `i` belongs to process `i mod process_count`, each process
computes on its own devices and writes its own store file, and a final barrier
(`multihost_utils.sync_global_devices`) lets them finish together.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from ...core._errors import IdlinError
from ..train import (
    SWEEP_ROOT,
    init_runner,
    load_checkpoint,
    owned,
    pad_seeds,
    process_share,
    remove_checkpoint,
    remove_temporaries,
    replicated,
    restore,
    run_chunks,
    save_checkpoint,
    seed_keys,
    seed_sharding,
)
from ._config import GridPoint, SweepConfig
from ._lock import exclusive
from ._registry import build_program
from ._store import Record, ResultsStore, checkpoint_path, ensure_directory


@dataclasses.dataclass(frozen=True)
class SweepRun:
    """What one call of `run_sweep` did in this process.

    Attributes:
        points_owned: grid points assigned to this process.
        points_skipped: of those, points whose every seed was already in the store.
        points_resumed: points restarted from a checkpoint rather than from step 0.
        records_written: records this call committed.
        seed_steps: training steps executed, summed over seeds (padding excluded).
        seconds: wall time of this call.
        throughput: `seed_steps / seconds` (compilation and evaluation included).
        devices: the devices the seed axis was sharded over, e.g. `"4×cpu"`.
        process_index, process_count: this process's place in a multi-host run.
    """

    points_owned: int
    points_skipped: int
    points_resumed: int
    records_written: int
    seed_steps: int
    seconds: float
    throughput: float
    devices: str
    process_index: int
    process_count: int


def owned_points(config: SweepConfig, process_index: int, process_count: int) -> list[GridPoint]:
    """Grid point `i` belongs to process `i mod process_count` (a fixed, shared partition)."""
    return owned(config.points, process_index, process_count)


def _run_point(point, seeds, config, store, sharding, n_devices, log):
    """Train the missing `seeds` of one point (resuming a checkpoint if any); commit records."""
    program = build_program(point)
    padded = pad_seeds(seeds, n_devices)
    keys = jax.device_put(seed_keys(jax.random.key(SWEEP_ROOT), padded), sharding)
    data = jax.device_put(program.data, replicated(sharding))
    path = checkpoint_path(store.directory, point.key)
    init = init_runner(program.init, sharding)
    states, start = None, 0
    remove_temporaries(path)
    ckpt = load_checkpoint(path, last=config.steps - 1)  # saved only before the last step
    if ckpt is not None and set(seeds) <= set(ckpt.seeds):
        rows = np.asarray([ckpt.seeds.index(s) for s in padded])
        restored = restore(jax.eval_shape(init, keys, data), ckpt, rows)
        if restored is not None:
            states, start = jax.device_put(restored, sharding), ckpt.step
            log(f"{point.label}: resuming {len(seeds)} seeds at step {start}")
    resumed = states is not None
    if states is None:
        states = init(keys, data)
    log(f"{point.label}: training {len(seeds)} seeds from step {start}")
    steps_done = 0
    chunks = run_chunks(
        program.step, states, keys, data, start=start, end=config.steps,
        chunk_steps=config.checkpoint_every, checkpoint_every=config.checkpoint_every,
        sharding=sharding,
    )  # fmt: skip
    for t, states, _ in chunks:
        steps_done += (t - start) * len(seeds)
        start = t
        if t < config.steps:
            save_checkpoint(path, states, step=t, seeds=padded)
    records = [
        Record(point.key, seed, {**point.as_dict(), "seed": seed}, metrics)
        for seed, metrics in zip(seeds, evaluate_seeds(program, states, len(seeds)), strict=True)
    ]
    written = store.put(records)
    remove_checkpoint(path)  # only after the commit: a crash in between just reruns nothing
    log(f"{point.label}: {written} records")
    return written, steps_done, resumed


def evaluate_seeds(program, states, count: int) -> list[dict[str, Any]]:
    """The metrics of the first `count` seeds of the stacked `states` (`program.evaluate` on
    each seed's NumPy leaves); a seed whose evaluation raises an idlin error (e.g. a diverged
    seed with NaN parameters) gets `{"failed": reason}`, which the next run retries."""
    host = jax.device_get(states)
    out = []
    for row in range(count):
        one = jax.tree_util.tree_map(lambda leaf, r=row: np.asarray(leaf[r]), host)
        try:
            out.append(program.evaluate(one))
        except IdlinError as err:
            out.append({"failed": f"{type(err).__name__}: {err}"})
    return out


def run_sweep(
    config: SweepConfig,
    out_dir: str | os.PathLike[str],
    *,
    devices: Sequence[Any] | None = None,
    process_index: int | None = None,
    process_count: int | None = None,
    log: Callable[[str], None] | None = None,
) -> SweepRun:
    """Run (or resume) a sweep into `out_dir`: train every missing (grid point, seed), store it.

    Each grid point's missing seeds run as one jitted program, vectorised with `jax.vmap` and
    sharded over `devices` along the seed axis; results go to `out_dir/records-p*.sqlite`
    (`ResultsStore`), checkpoints to `out_dir/checkpoints/`. Calling it again after a crash (or
    on a finished sweep) resumes: finished records are skipped, unfinished points continue from
    their last checkpoint, and every (grid point, seed) ends up stored exactly once.

    Args:
        config: the sweep (`load_config` / `parse_config`).
        out_dir: the sweep's directory (created if missing).
        devices: local devices to shard the seed axis over (default `jax.local_devices()`).
        process_index, process_count: this process's share of the grid (default: JAX's, i.e.
            `jax.process_index()` / `jax.process_count()` after `jax.distributed.initialize`).
        log: called with one line per grid point (default: silent).

    Returns:
        A `SweepRun` with counts and throughput.

    Raises:
        ConfigError: an invalid process index/count or an unknown architecture or distribution.
        OutputError: `out_dir` is a file, cannot be created or written, or another run holds
            its lock (raised before anything is computed).
    """
    log = log or (lambda _msg: None)
    t0 = time.perf_counter()
    index, count = process_share(process_index, process_count)
    sharding = seed_sharding(devices)
    assert isinstance(sharding.mesh, jax.sharding.Mesh)  # concrete devices, not an AbstractMesh
    devices = list(sharding.mesh.devices.flat)
    owned = owned_points(config, index, count)
    skipped = resumed = written = seed_steps = 0
    directory = os.fspath(out_dir)
    ensure_directory(directory)
    with (
        exclusive(directory, index),
        ResultsStore(directory, process_index=index, journal_mode=config.journal_mode) as store,
    ):
        done = store.done()
        for point in owned:
            missing = [s for s in config.seeds if (point.key, s) not in done]
            if not missing:
                skipped += 1
                remove_checkpoint(checkpoint_path(store.directory, point.key))
                log(f"{point.label}: done earlier, skipped")
                continue
            w, s, r = _run_point(point, missing, config, store, sharding, len(devices), log)
            written, seed_steps, resumed = written + w, seed_steps + s, resumed + int(r)
    if count > 1 and process_count is None:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("idlin-sweep-done")
    seconds = time.perf_counter() - t0
    return SweepRun(
        points_owned=len(owned),
        points_skipped=skipped,
        points_resumed=resumed,
        records_written=written,
        seed_steps=seed_steps,
        seconds=seconds,
        throughput=seed_steps / seconds if seconds > 0 else 0.0,
        devices=f"{len(devices)}×{devices[0].platform}",
        process_index=index,
        process_count=count,
    )
