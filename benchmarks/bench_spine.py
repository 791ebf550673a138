"""The spine (issue 12): one decomposition per model instead of one per property call.

Rows, each measured in ONE invocation of this script (ratios from the same run):
1. `all_or_none(members=6)` and the `inspect` property table on an (N=2048, V=4096, d=64)
   model: factorisation calls, wall and CPU time — this tree ("after") against a baseline
   checkout of idlin given by `--baseline-src` ("before", e.g. a `git worktree` of an older
   commit), each in a fresh process so that nothing is shared.
2. `jax.vmap(idlin.analyze)` over 8 stacked seeds against a Python loop of 8 `analyze` calls.

A "factorisation call" is one call of the jitted SVD program (`_analysis._decompose` here,
`_subspaces.svd_kernel` in the first version), counted by wrapping it. The script records the
1-minute load average and flags results taken when it exceeds the cores used.

Usage: `python benchmarks/bench_spine.py [--quick] [--baseline-src DIR] [--out PATH]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_table, load_line, load_record, parser, timeit, write_json

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, time
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
import idlin
from idlin.properties import Parallelism
N, V, d, repeats = (int(x) for x in sys.argv[1:5])
calls = {"n": 0}
try:
    from idlin.core import _analysis as mod
    name = "_decompose"
except ImportError:
    from idlin.core import _subspaces as mod
    name = "svd_kernel"
original = getattr(mod, name)
def counted(*a, **k):
    calls["n"] += 1
    return original(*a, **k)
setattr(mod, name, counted)
rng = np.random.default_rng(0)
r = d // 2
F = (rng.normal(size=(N, r)) @ rng.normal(size=(r, d))).astype(np.float32)
p = idlin.Predictor(F, rng.normal(size=(V, d)).astype(np.float32))
prop = Parallelism(np.arange(8).reshape(4, 2))
pairs = np.arange(16).reshape(8, 2)
contexts, labels = np.arange(10), np.arange(10) % 2

def harness():
    return idlin.all_or_none(p, prop, key=jax.random.key(0), members=6)

def table():
    from idlin.apps.report._inspect import holdout_split
    try:
        from idlin.apps.report import inspect_model as run
    except ImportError:
        from idlin.apps.report import inspect as run
    return run(p, pairs=pairs, token_pairs=pairs, labels=(contexts, labels))

out = {}
for label, fn in (("all_or_none", harness), ("inspect", table)):
    fn()  # compile
    calls["n"] = 0
    fn()
    count = calls["n"]
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    out[label] = {"factorisations": count, "wall": sorted(walls)[len(walls) // 2],
                  "cpu": sorted(cpus)[len(cpus) // 2]}
print(json.dumps(out))
"""


def _child(src: Path, sizes, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, (*sizes, repeats))],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(src),
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed for {src}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _vmap_row(N: int, V: int, d: int, seeds: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    import idlin

    rng = np.random.default_rng(1)
    models = [
        idlin.Predictor(
            rng.normal(size=(N, d)).astype(np.float32), rng.normal(size=(V, d)).astype(np.float32)
        )
        for _ in range(seeds)
    ]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *models)
    batched = jax.jit(jax.vmap(idlin.analyze))
    loop = lambda: [idlin.analyze(p) for p in models]  # noqa: E731
    # Same numbers first: the batched program equals the loop to float32 rounding.
    got = np.asarray(batched(stacked).log_odds_singular_values)
    want = np.stack([np.asarray(a.log_odds_singular_values) for a in loop()])
    err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30)))
    tv = timeit(lambda: batched(stacked), repeats=repeats)
    tl = timeit(loop, repeats=repeats)
    return {
        "sizes": {"N": N, "V": V, "d": d, "seeds": seeds},
        "max_relative_difference": err,
        "vmap": {"wall": tv.median, "cpu": tv.cpu_median},
        "loop": {"wall": tl.median, "cpu": tl.cpu_median},
        "ratio_wall": tl.median / tv.median,
        "ratio_cpu": tl.cpu_median / tv.cpu_median,
    }


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--baseline-src", type=Path, default=None, help="checkout of the 'before'")
    args = ap.parse_args()
    sizes = (64, 128, 8) if args.quick else (2048, 4096, 64)
    repeats = args.repeats or (1 if args.quick else 3)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    after = _child(ROOT, sizes, repeats)
    before = _child(args.baseline_src, sizes, repeats) if args.baseline_src else None
    rows = []
    for label in ("all_or_none", "inspect"):
        a = after[label]
        b = before[label] if before else None
        rows.append(
            [label, b and b["factorisations"], a["factorisations"], b and f"{b['wall']:.2f}",
             f"{a['wall']:.2f}", b and f"{b['wall'] / a['wall']:.2f}×",
             b and f"{b['cpu'] / a['cpu']:.2f}×"]
        )  # fmt: skip
    vm = _vmap_row(*((64, 128, 8) if args.quick else (2048, 4096, 64)), 8, repeats)
    payload = {
        "quick": args.quick,
        "sizes": dict(zip(("N", "V", "d"), sizes, strict=True)),
        "after": after,
        "before": before,
        "vmap_analyze_8_seeds": vm,
        **load_record(load0),
        "seconds": time.perf_counter() - t0,
    }
    path = write_json("spine", payload, args.out)
    print(fmt_table(rows, ["case", "fact. before", "after", "wall before s", "after s",
                           "ratio wall", "ratio CPU"]))  # fmt: skip
    print(f"vmap(analyze) × 8 vs loop: {vm['ratio_wall']:.2f}× wall, {vm['ratio_cpu']:.2f}× CPU "
          f"(max rel. diff {vm['max_relative_difference']:.1e})")  # fmt: skip
    print(load_line(payload))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
