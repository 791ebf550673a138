"""Training (docs/theory.md §8): K seeds in one vmapped program vs K sequential single-seed runs.

The jitted driver of `idlin.lab.train` (`chunk_runner`: `vmap` over seeds of a `lax.scan` over
steps, the program `train` and sweeps both run) is compiled and warmed up first, then timed;
sequential means the compiled K=1 runner called K times. Reports seeds·steps/s. Goals (issue 7):
on CPU the vmapped program is never slower per seed than sequential; on a GPU, 8 seeds take
≤ 1.5× the wall time of one.

Usage: `python benchmarks/bench_training.py [--quick] [--repeats R] [--out PATH]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_table, goal, parser, timeit, write_json

FULL = {"vocab": 64, "context_length": 2, "rank": 6, "width": 8, "steps": 100, "seeds": (1, 8, 32)}
QUICK = {"vocab": 6, "context_length": 2, "rank": 2, "width": 3, "steps": 5, "seeds": (1, 2)}
GPU_WALL_GOAL = 1.5  # 8 seeds ≤ 1.5× the wall of 1 seed


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    import jax

    from idlin.lab.data import lowrank_truth
    from idlin.lab.train import (
        TrainConfig,
        chunk_runner,
        init_states,
        make_data,
        make_step,
        seed_keys,
    )

    size = QUICK if args.quick else FULL
    repeats = args.repeats or (2 if args.quick else 3)
    steps = size["steps"]
    key = jax.random.key(0)
    truth = lowrank_truth(
        vocab_size=size["vocab"],
        context_length=size["context_length"],
        rank=size["rank"],
        key=key,
    )

    def runner_for(K: int):
        config = TrainConfig(width=size["width"], steps=steps, seeds=K, chunk_steps=steps)
        graphdef, states = init_states(truth, config, key=key)
        data = make_data(truth, config)
        run = chunk_runner(make_step(graphdef, config), steps)
        keys = seed_keys(key, range(K))
        start = jax.numpy.asarray(0, jax.numpy.int32)
        return lambda: run(states, keys, data, start)

    single = runner_for(1)
    results, rows = {}, []
    for K in size["seeds"]:
        # Interleaved per K (one seed, K sequential, K vmapped) so that all three see the same
        # load on a shared machine; CPU time (all threads) is reported next to wall time.
        t1 = timeit(single, repeats=repeats)
        vmapped = runner_for(K) if K > 1 else single
        tv = timeit(vmapped, repeats=repeats) if K > 1 else t1

        def sequential(K=K):
            return [jax.block_until_ready(single()) for _ in range(K)]

        ts = timeit(sequential, repeats=repeats, warmup=0) if K > 1 else t1
        results[K] = {
            "vmapped_seconds": tv.median,
            "sequential_seconds": ts.median,
            "one_seed_seconds": t1.median,
            "vmapped_seed_steps_per_s": K * steps / tv.median,
            "sequential_seed_steps_per_s": K * steps / ts.median,
            "speedup_vs_sequential": ts.median / tv.median,
            "cpu_time_speedup_vs_sequential": ts.cpu_median / tv.cpu_median,
            "wall_vs_one_seed": tv.median / t1.median,
            "timing": {"vmapped": tv, "sequential": ts, "one_seed": t1},
        }
        r = results[K]
        rows.append(
            [
                K,
                f"{r['vmapped_seconds']:.3f}",
                f"{r['sequential_seconds']:.3f}",
                f"{r['vmapped_seed_steps_per_s']:.0f}",
                f"{r['sequential_seed_steps_per_s']:.0f}",
                f"{r['speedup_vs_sequential']:.2f}×"
                f" (CPU {r['cpu_time_speedup_vs_sequential']:.2f}×)",
                f"{r['wall_vs_one_seed']:.2f}",
            ]
        )
    gpu = jax.default_backend() == "gpu"
    goals = {
        f"K={K}_not_slower_than_sequential": goal(results[K]["speedup_vs_sequential"], 1.0)
        for K in size["seeds"]
        if K > 1
    }
    if gpu and 8 in results:
        goals["gpu_8_seeds_wall"] = goal(
            results[8]["wall_vs_one_seed"], GPU_WALL_GOAL, higher_is_better=False
        )
    header = [
        "K",
        "vmapped s",
        "sequential s",
        "vmapped seed·steps/s",
        "sequential",
        "ratio",
        "wall/K=1",
    ]
    print(fmt_table(rows, header))
    path = write_json(
        "training_quick" if args.quick else "training",
        {
            "quick": args.quick,
            "size": {**size, "num_contexts": truth.num_contexts, "architecture": "mlp"},
            "results": {str(k): v for k, v in results.items()},
            "goals": goals,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
