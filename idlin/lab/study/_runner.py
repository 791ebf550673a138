"""Run the study point by point: train K seeds, analyse them in one vmap, write one JSON.

Each point's result is written atomically (`points/KEY.json` via a temporary file and
`os.replace`), so an interrupted run loses at most the point in progress and a rerun skips
every finished point (the key names the point's whole configuration, see `StudyPoint`). One
progress line per point goes to `log`. A run holds `OUT/study-pNNNN.lock` (the sweep's lock,
`idlin.lab.sweep._lock`): a second run on the same --out and process index is refused, and a start
removes only the temporaries of its own points.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ...core._errors import ConfigError, FileFormatError
from ...core._paths import atomic_write
from ..sweep import ensure_directory, exclusive
from ..train import owned, process_share, seed_sharding
from ._config import StudyConfig, StudyPoint
from ._evaluate import analyze_seeds, evaluate_properties, gaps, seed_analysis
from ._probes import describe, probe_specs
from ._train import train_seeds

FORMAT = "idlin-study-point/1"


def make_truth(params: Mapping[str, Any]):
    """The `idlin.lab.data` truth of a `[distributions.NAME]` table, and its rank r (the planted
    rank, or the table's `rank` key for an HMM).

    Raises:
        ConfigError: an unknown kind or arguments the generator rejects.
    """
    from .. import data

    params = dict(params)
    kind, seed = params.pop("kind"), int(params.pop("seed", 0))
    try:
        if kind == "morphology":
            truth = data.morphology_truth(**params)
        elif kind == "hmm":
            rank = int(params.pop("rank"))
            truth = data.hmm_truth(key=jax.random.key(seed), **params)
            return truth, rank
        else:
            truth = getattr(data, f"{kind}_truth")(key=jax.random.key(seed), **params)
    except TypeError as err:
        raise ConfigError(f"[distributions] kind = {kind!r}: {err}") from err
    if truth.rank is None:  # only the HMM plants none, and its table gives `rank` (above)
        raise ConfigError(f"[distributions] kind = {kind!r}: expected a family with a planted rank")
    return truth, int(truth.rank)


def write_json(path: Path, obj: Any) -> None:
    """Write `obj` as JSON to `path` atomically (`idlin.core._paths.atomic_write`): a reader sees
    the old file or the new one, never half of one."""
    atomic_write(path, lambda fh: json.dump(obj, fh, indent=1, sort_keys=True), binary=False)


def _truth_entry(truth, rank: int, specs, tolerances) -> dict[str, Any]:
    from ...core._analysis import analyze

    a = analyze(truth.predictor)
    return {
        "rank": rank,
        "effective_complexity": int(a.effective_complexity),
        "num_contexts": truth.num_contexts,
        "vocab_size": truth.vocab_size,
        "width": truth.predictor.width,
        "probes": describe(truth),
        "properties": evaluate_properties(a, specs, tolerances),
    }


def run_point(
    point: StudyPoint, truth, truth_entry, specs, config: StudyConfig, sharding=None
) -> dict[str, Any]:
    """Train, analyse and evaluate one point; the JSON-able record of its K seeds (the seed
    axis of the training split over `sharding`'s devices, if given)."""
    t0 = time.perf_counter()
    stacked, losses = train_seeds(
        truth, architecture=point.architecture, width=point.width, steps=point.steps,
        learning_rate=point.learning_rate, seeds=point.seeds, options=point.options,
        chunk_steps=config.chunk_steps, sharding=sharding,
    )  # fmt: skip
    jax.block_until_ready(stacked.embeddings)
    t_train = time.perf_counter() - t0
    # one flag per seed (np.asarray: NumPy types a reduction over some axes as maybe a scalar)
    finite = np.asarray(
        np.isfinite(np.asarray(stacked.embeddings)).all(axis=(1, 2))
        & np.isfinite(np.asarray(stacked.unembeddings)).all(axis=(1, 2))
    )
    keep = np.flatnonzero(finite)
    if keep.size < len(point.seeds):  # a diverged seed is recorded, not analysed
        stacked = jax.tree_util.tree_map(lambda x: x[keep], stacked)
    models: list[dict[str, Any]] = [
        {"seed": s, "failed": "non-finite parameters after training"}
        for s, ok in zip(point.seeds, finite, strict=True) if not ok
    ]  # fmt: skip
    t1 = time.perf_counter()
    if keep.size:
        kl, rel = gaps(truth.predictor, stacked)
        batched = analyze_seeds(stacked, kl)
        ranks = np.asarray(batched.effective_complexity)
        for j, row in enumerate(keep):
            a = seed_analysis(batched, j)
            models.append({
                "seed": point.seeds[row], "mean_kl": float(kl[j]), "relative_gap": float(rel[j]),
                "loss": float(losses[row]), "rank": int(ranks[j]),
                "properties": evaluate_properties(a, specs, config.tolerances),
            })  # fmt: skip
    models.sort(key=lambda m: m["seed"])
    return {
        "format": FORMAT,
        "key": point.key,
        "distribution": point.distribution,
        "distribution_params": dict(config.distributions[point.distribution]),
        "architecture": point.architecture,
        "width": point.width,
        "multiple": point.multiple,
        "steps": point.steps,
        "learning_rate": point.learning_rate,
        "options": dict(point.options),
        "seeds": list(point.seeds),
        "tolerances": list(config.tolerances),
        "truth": truth_entry,
        "models": models,
        "seconds": {"train": t_train, "evaluate": time.perf_counter() - t1},
    }


def machine() -> dict[str, Any]:
    """Where the run happened: this process's devices (and the process count), CPU count, load
    average, Python and JAX versions."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    devices = jax.local_devices()
    processes = jax.process_count()
    each = f" in each of {processes} processes" if processes > 1 else ""
    return {
        "device": f"{len(devices)}×{devices[0].device_kind}{each}",
        "platform": devices[0].platform,
        "cpu_count": os.cpu_count(),
        "load_average": list(load) if load else None,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "machine": platform.machine(),
    }


def read_point(path: Path) -> dict[str, Any]:
    """One point record, checked: JSON whose `format` is this one's and whose `key` is the file's
    name (a truncated, foreign or renamed file is refused, not half-read).

    Raises:
        FileFormatError: the file is not such a record (naming it, and how to recompute it).
    """
    fix = "delete it to recompute the point"
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (ValueError, UnicodeDecodeError) as err:
        raise FileFormatError(
            f"{path}: expected a study point record (JSON), got {err}; {fix}"
        ) from None
    got = rec.get("format") if isinstance(rec, dict) else type(rec).__name__
    if got != FORMAT:
        raise FileFormatError(f"{path}: expected a record of format {FORMAT}, got {got!r}; {fix}")
    missing = sorted({"key", "truth", "models", "distribution"} - set(rec))
    if missing or rec["key"] != path.name[:-5]:
        got = f"missing {missing}" if missing else f"key {rec['key']!r}"
        raise FileFormatError(
            f"{path}: expected the record of point {path.name[:-5]!r}, got {got}; {fix}"
        )
    return rec


def load_points(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every finished point record under `out_dir/points/` (unfinished temporaries ignored).

    Raises:
        FileFormatError: a `points/*.json` that is not a point record (`read_point`).
    """
    folder = Path(out_dir) / "points"
    return [read_point(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def run_study(
    config: StudyConfig,
    out_dir: str | os.PathLike[str],
    *,
    log: Callable[[str], None] = lambda _msg: None,
    max_seconds: float | None = None,
    process_index: int | None = None,
    process_count: int | None = None,
    devices: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the study into `out_dir/points/`: every point of this process's share
    not yet written (with `max_seconds`, no new point is started after that much wall time;
    `stopped_early` says so, and a rerun continues).

    Points are split over processes as the sweep splits its grid (docs/sweeps.md): point i
    belongs to process `i mod process_count` (default: JAX's `process_index()`/`process_count()`,
    i.e. after `jax.distributed.initialize`), each writes its own points' files into the shared
    `out_dir`, and the seed axis of every point's training is sharded over `devices` (default
    `jax.local_devices()`).

    Returns:
        `{"points" (of the whole study), "owned", "skipped", "seconds" (wall), "started",
        "finished", "load_average_start", "process_index", "process_count",
        "machine": machine()}` of this call (the machine's load average is the one at the end).

    Raises:
        OutputError: `out_dir` is a file, cannot be created, or another run holds its lock.
        ConfigError: bad distribution parameters or training options, a process index out of
            range.

    Example (a few seconds): `run_study(load_config("examples/study.toml", "tiny"), "out")`,
    then `load_points("out")`; `tests/test_study.py` runs it end to end.
    """
    t0 = time.perf_counter()
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    index, count = process_share(process_index, process_count)  # before touching --out
    folder = Path(out_dir) / "points"
    ensure_directory(str(folder))
    with exclusive(os.fspath(out_dir), index, stem="study", what="study"):
        stopped, skipped, points, mine = _run_owned(
            config, folder, index, count, devices, log, max_seconds, t0
        )
    return {"points": len(points), "owned": len(mine), "skipped": skipped, "stopped_early": stopped,
            "process_index": index, "process_count": count,
            "seconds": time.perf_counter() - t0,
            "started": started, "load_average_start": load_start,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine()}  # fmt: skip


def _run_owned(config, folder: Path, index: int, count: int, devices, log, max_seconds, t0):
    """`run_study`'s loop over this process's points, under its lock."""
    sharding = seed_sharding(devices)
    if sharding.mesh.size == 1:
        sharding = None  # one device: nothing to split
    truths = {name: make_truth(params) for name, params in config.distributions.items()}
    points = config.points({name: r for name, (_, r) in truths.items()})
    done = {rec["key"] for rec in load_points(folder.parent)}  # each file checked
    cache: dict[str, Any] = {}
    skipped = 0
    stopped = False
    mine = owned(list(enumerate(points, 1)), index, count)  # (number, point): the log counts all
    for _, point in mine:  # temporaries an interrupted write of *this* process's points left
        for stale in folder.glob(f"{glob.escape(point.key)}.json.*.tmp"):
            stale.unlink(missing_ok=True)
    for i, point in mine:
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            stopped = True
            log(f"[{i}/{len(points)}] time budget of {max_seconds:g} s spent: stopping here")
            break
        if point.key in done:
            skipped += 1
            log(f"[{i}/{len(points)}] {point.label}: done earlier, skipped")
            continue
        truth, rank = truths[point.distribution]
        if point.distribution not in cache:
            from ...core._analysis import analyze

            specs = probe_specs(truth, analyze(truth.predictor))
            cache[point.distribution] = (specs, _truth_entry(truth, rank, specs, config.tolerances))
        specs, entry = cache[point.distribution]
        t = time.perf_counter()
        record = run_point(point, truth, entry, specs, config, sharding)
        write_json(folder / f"{point.key}.json", record)
        kls = [m["mean_kl"] for m in record["models"] if "mean_kl" in m]
        log(f"[{i}/{len(points)}] {point.label}: {len(point.seeds)} seeds, "
            f"median KL {np.median(kls) if kls else float('nan'):.2e}, "
            f"{time.perf_counter() - t:.1f} s")  # fmt: skip
    return stopped, skipped, points, mine
