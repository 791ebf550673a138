"""Crash-safety benchmark of `idlin sweep`: `kill -9` at random instants, resume, check records.

Each trial starts `idlin sweep CONFIG --out DIR` in a subprocess, waits until it starts training
a grid point drawn at random from those left (its k-th "training" log line), sleeps a random
fraction of a point's training time, and SIGKILLs it. The kill instants follow the subprocess's
own progress, not a clock measured elsewhere: a persistent compile cache makes the subprocess
several times faster than an in-process run, and clock-sized delays let it finish first.
After all trials one uninterrupted run finishes the sweep. Then every (grid point, seed) must be
stored exactly once, no checkpoint or temporary file may remain, and every record must equal an
uninterrupted in-process reference run (relative 1e-12). `tests/test_sweep_distributed.py` runs
this harness with 5 trials; this script runs more and writes JSON.

    python benchmarks/bench_sweep_kill.py            # 30 trials
    python benchmarks/bench_sweep_kill.py --quick    # 5 trials
    python benchmarks/bench_sweep_kill.py --trials 100 --seed 7
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[sweep]
name = "kill"
seeds = 3
steps = {steps}
checkpoint_every = 5

[grid]
distribution = ["q"]
width = [2, 3]
architecture = ["quadratic"]
learning_rate = [0.05, 0.1]

[distributions.q]
kind = "quadratic"
seed = 3
noise = 0.1
"""


@dataclasses.dataclass(frozen=True)
class KillStats:
    """Outcome of a kill campaign: kills that hit a running sweep, records before the final
    resume, and the check's verdict (the campaign raises AssertionError if it fails)."""

    trials: int
    killed_running: int
    records_before_final: int
    records: int
    duplicates: int
    seconds: float


def write_config(path: Path, *, steps: int = 600) -> Path:
    path.write_text(textwrap.dedent(CONFIG.format(steps=steps)))
    return path


def cpu_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    return env


def sweep_cmd(cfg: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "idlin", "sweep", str(cfg), "--out", str(out)]


def kill_once(cfg: Path, out: Path, point: int, delay: float) -> bool:
    """Start a sweep, wait until it starts training its `point`-th grid point (1-based; its
    `point`-th "training" log line), SIGKILL it `delay` s later; return whether it was still
    running then."""
    env = {**cpu_env(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        sweep_cmd(cfg, out), env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    started = 0
    for line in proc.stdout:  # ends at EOF if the sweep has nothing left to train
        started += ": training " in line
        if started == point:
            break
    time.sleep(delay)
    alive = proc.poll() is None
    assert alive or proc.returncode == 0, f"the sweep crashed (exit {proc.returncode})"
    if os.environ.get("IDLIN_KILL_DEBUG"):
        print(f"kill after {delay:.2f} s: {'running' if alive else 'already finished'}", flush=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    return alive


def _metrics(directory: Path) -> dict:
    from idlin.lab.sweep import ResultsStore

    with ResultsStore(directory) as s:
        return {(r.point_key, r.seed): dict(r.metrics) for r in s.records()}


def kill_campaign(cfg: Path, workdir: Path, *, trials: int, seed: int) -> KillStats:
    """Run `trials` random kills then a final resume in `workdir/killed`; check the store
    against an uninterrupted reference run in `workdir/ref`."""
    from idlin.lab.sweep import load_config, run_sweep
    from idlin.lab.sweep._summary import sweep_status

    t0 = time.perf_counter()
    config = load_config(cfg)
    run_sweep(config, workdir / "ref")
    rng = random.Random(seed)
    out = workdir / "killed"
    alive = 0
    for _ in range(trials):
        status = sweep_status(config, out)
        left = sum(1 for p in status.points if p.done < p.seeds)
        # A random point among those left, then a short random delay: the kill lands in
        # training, in checkpointing or in writing records; rarely after the last point.
        alive += kill_once(cfg, out, rng.randint(1, max(left, 1)), rng.uniform(0.0, 0.1))
    before = sweep_status(config, out)
    assert before.duplicates == 0, f"duplicates after kills: {before.duplicates}"
    final = subprocess.run(
        sweep_cmd(cfg, out), env=cpu_env(), cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert final.returncode == 0, final.stderr[-3000:]
    after = sweep_status(config, out)
    assert (after.done, after.duplicates, after.stale) == (config.num_records, 0, 0), after
    assert all(p.checkpoint_step is None for p in after.points), "checkpoint left behind"
    assert not list(out.glob("checkpoints/*.tmp")), "temporary file left behind"
    a, b = _metrics(workdir / "ref"), _metrics(out)
    assert a.keys() == b.keys()
    for k, metrics in a.items():
        for name, v in metrics.items():
            np.testing.assert_allclose(b[k][name], v, rtol=1e-12, atol=0, err_msg=f"{k} {name}")
    return KillStats(
        trials=trials,
        killed_running=alive,
        records_before_final=before.done,
        records=after.done,
        duplicates=after.duplicates,
        seconds=time.perf_counter() - t0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="5 trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    trials = 5 if args.quick else args.trials

    import jax

    jax.config.update("jax_enable_x64", True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(Path(tmp) / "kill.toml")
        stats = kill_campaign(cfg, Path(tmp), trials=trials, seed=args.seed)
    result = {
        "benchmark": "sweep_kill",
        "quick": args.quick,
        **dataclasses.asdict(stats),
        "passed": True,
        "device": f"{jax.devices()[0].platform} ({jax.devices()[0].device_kind})",
        "jax": jax.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    # a --quick run never replaces the committed full-size result (readme_table.py, issue 25)
    name = "sweep_kill_quick.json" if args.quick else "sweep_kill.json"
    (args.out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
