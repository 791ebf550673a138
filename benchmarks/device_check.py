"""One command for an accelerator (< 5 minutes on one GPU): the study at a GPU size, the gap at
a large size, and the seeds-scaling benchmark, all written to one JSON with the device name.

1. `study`: `idlin study examples/study.toml --size gpu` (64 seeds per point, twice the
   steps), with a wall-time budget (no point is started after it; the run is resumable), into
   `--work DIR`; the headline rows of its summary are copied into the JSON.
2. `gap`: `idlin.distribution_gap(p, q, frobenius_only=True)` on float32 models of size
   N=16384, V=256000, d=3584 (q = p with perturbed embeddings, relative gap ≈ 0.1), each
   accumulation in its own process: `float32` (x64 off: Householder QR and GEMMs in float32)
   and `float64-accumulated` (x64 on: the Gram route, float32 inputs, float64 accumulation).
   The float32 figure is reported as accurate enough when it is within 1e-3 (relative) of the
   float64-accumulated one — a gap is a tolerance-level quantity, three digits decide it.
   The streamed KL pass (N×V softmaxes) is skipped (`frobenius_only`).
3. `seeds_scaling`: one study point trained with 1 and with 8 seeds as one vmapped program
   (`bench_study.seeds_scaling`); the ratio time(8)/time(1) is the cost of 7 more seeds.

`--quick` runs all three at CPU sizes (CI): the study at `--size tiny`, the gap at N=512,
V=4096, d=64, 20 training steps.

Usage: `python benchmarks/device_check.py [--quick] [--budget SECONDS] [--work DIR] [--out PATH]`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import case_main, load_record, parser, run_case, timeit, write_json

ROOT = Path(__file__).resolve().parent.parent
FULL_GAP = (16384, 256000, 3584)
QUICK_GAP = (512, 4096, 64)


def _gap_case(case: dict) -> dict:
    """One accumulation of the large gap, in its own process (x64 is process-wide)."""
    import jax

    jax.config.update("jax_enable_x64", case["x64"])
    import jax.numpy as jnp

    import idlin

    N, V, d = case["sizes"]
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    F = jax.random.normal(k1, (N, d), jnp.float32) / jnp.sqrt(jnp.float32(d))
    G = jax.random.normal(k2, (V, d), jnp.float32)
    E = F + 0.1 * jax.random.normal(k3, (N, d), jnp.float32) / jnp.sqrt(jnp.float32(d))
    p, q = idlin.Predictor(F, G), idlin.Predictor(E, G)
    gap = idlin.distribution_gap(p, q, frobenius_only=True)
    t = timeit(lambda: idlin.distribution_gap(p, q, frobenius_only=True).relative,
               repeats=case["repeats"], warmup=0)  # fmt: skip
    return {"x64": case["x64"], "relative": float(gap.relative), "wall": t.median,
            "samples": list(t.samples), "device": str(jax.devices()[0])}  # fmt: skip


def gap_rows(sizes, repeats: int, inline: bool) -> dict:
    script = str(Path(__file__).resolve())
    rows = {name: run_case(script, {"sizes": list(sizes), "x64": x64, "repeats": repeats},
                           inline=_gap_case if inline else None, timeout=600)
            for name, x64 in (("float32", False), ("float64_accumulated", True))}  # fmt: skip
    a, b = rows["float32"]["relative"], rows["float64_accumulated"]["relative"]
    diff = abs(a - b) / abs(b)
    return {"sizes": dict(zip(("N", "V", "d"), sizes, strict=True)), **rows,
            "float32_relative_difference": diff,
            "float32_accurate_enough": diff <= 1e-3}  # fmt: skip


def study_row(quick: bool, budget: float, work: Path) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    from idlin.study import load_config, load_points, run_study
    from idlin.study._report import summarize, table
    from idlin.study.cli import _keys

    config = load_config(ROOT / "examples" / "study.toml", "tiny" if quick else "gpu")
    run = run_study(config, work, log=lambda m: print(m, flush=True), max_seconds=budget)
    keys = set(_keys(config))
    records = [r for r in load_points(work) if r["key"] in keys]
    summary = summarize(records, config, run)
    (work / "table.md").write_text(table(summary))
    return {"size": config.size, "run": run, "points_done": len(records),
            "sizes": summary["sizes"], "headline": summary["headline"],
            "kl_bins": summary["kl_bins"], "table": table(summary)}  # fmt: skip


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=None, help="study wall-time budget (s)")
    ap.add_argument("--work", type=Path, default=None, help="study directory (default: temp)")
    args = ap.parse_args()
    if args.run_case:
        case_main(_gap_case, args.run_case)
        return
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    repeats = args.repeats or (1 if args.quick else 3)
    gap = gap_rows(QUICK_GAP if args.quick else FULL_GAP, repeats, inline=False)
    import jax
    from bench_study import seeds_scaling

    jax.config.update("jax_enable_x64", True)
    scaling = seeds_scaling(steps=20 if args.quick else 1000, repeats=repeats)
    budget = args.budget if args.budget is not None else (60.0 if args.quick else 150.0)
    work = args.work or Path(tempfile.mkdtemp(prefix="idlin-device-study-"))
    study = study_row(args.quick, budget, work)
    payload = {
        "quick": args.quick,
        "device": str(jax.devices()[0]),
        "device_kind": jax.devices()[0].device_kind,
        "gap": gap,
        "seeds_scaling": scaling,
        "study": study,
        **load_record(load0),
        "seconds": time.perf_counter() - t0,
    }
    path = write_json("device_check", payload, args.out)
    print(json.dumps({"device": payload["device"], "gap_wall_s": {k: gap[k]["wall"] for k in
                      ("float32", "float64_accumulated")},
                      "float32_relative_difference": gap["float32_relative_difference"],
                      "seeds_scaling_ratio": scaling["ratio"],
                      "study_points": study["points_done"], "seconds": payload["seconds"]},
                     indent=1))  # fmt: skip
    print(study["table"])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
