"""The symmetry audit at real scale (issues 13, 23): `idlin audit` on LM-shaped float32 exports.

Rows (each case a fresh process, so its peak RSS is its own; `idlin.testing._audit.lm_shaped`
models saved with `idlin.core.io`, the CLI run as a user runs it, default budget):
- SmolLM2-shaped (N = 1078, V = 49152, d = 576): `raw_cosine` and `identifiable_parallelism`,
  target ≤ 60 s each on 2 quiet cores;
- Gemma-3-shaped (N = 1078, V = 262144, d = 640): the same two, target peak RSS < 8 GB.
Each row records wall time, peak RSS, the verdicts, the budget the audit sized itself, and the
1-minute load average before and after (results taken above the core count are NOT QUIET: do
not publish them). Also, per generator of one API audit (a non-diverse model, so that every
generator is searched): seconds, seconds per Adam step (timed by the progress callback), verdict
and witness gap.

Usage: `python benchmarks/bench_audit.py [--quick] [--out PATH]`; `--quick` (tiny sizes and
budgets, a CI smoke run) writes `results/audit_quick.json`, never the full-size
`results/audit.json`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    case_main,
    fmt_table,
    goal,
    load_line,
    load_record,
    parser,
    run_case,
    timeit,
    write_json,
)

FULL_SHAPES = {"smollm2": (1078, 49152, 576), "gemma3": (1078, 262144, 640)}
QUICK_SHAPES = {"smollm2": (48, 300, 40), "gemma3": (48, 600, 40)}
MEASURES = ("raw_cosine", "identifiable_parallelism")
TIME_TARGET_S = 60.0  # SmolLM2 shape, each measure (issue 23)
MEMORY_TARGET_MIB = 8 * 1024.0  # Gemma shape


def _cli_case(case: dict) -> dict:
    """One `idlin audit FILE --measure M --json` in this process: wall time and the JSON."""
    import contextlib
    import io as text_io
    import json

    from idlin.apps.cli import run

    out = text_io.StringIO()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = run(["audit", case["file"], "--measure", case["measure"], "--json",
                    *case.get("options", [])])  # fmt: skip
    seconds = time.perf_counter() - t0
    doc = json.loads(out.getvalue())
    return {
        "exit_code": code,
        "seconds": seconds,
        "budget": doc["budget"],
        "starts": doc["starts"],
        "budget_note": doc["budget_note"],
        "verdicts": {k: g["verdict"] for k, g in doc["generators"].items()},
        "load_average_1min": {"start": load0, "end": os.getloadavg()[0]},
    }


def _generator_timings(quick: bool) -> tuple[dict, dict]:
    """Per generator of one API audit of a raw cosine on a non-diverse float32 model."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import idlin

    N, V, d = (64, 128, 8) if quick else (1024, 8192, 128)
    rng = np.random.default_rng(0)
    r = d // 2  # not diverse: the invisible families are searched
    F = (rng.normal(size=(N, r)) @ rng.normal(size=(r, d))).astype(np.float32)
    G = (rng.normal(size=(V, r)) @ rng.normal(size=(r, d))).astype(np.float32)
    p = idlin.Predictor(F, G)

    def cosine(F, G):
        u, v = F[1] - F[0], F[3] - F[2]
        return u @ v / jnp.sqrt((u @ u) * (v @ v))

    marks: dict[str, list[tuple[float, int]]] = {}

    def progress(event, **info):
        if event == "steps":
            marks.setdefault(info["generator"], []).append((time.perf_counter(), info["done"]))
        elif event == "plan":
            marks["_start"] = [(time.perf_counter(), 0)]

    # The baselines of the ratios: one evaluation of the measure, and the local test (the §9.1
    # gradients of every same-width generator from one reverse pass), both compiled first.
    from idlin.properties.audit._generators import base_of
    from idlin.properties.audit._local import relative_derivatives, tangent_gradients

    mvec = lambda F, G: jnp.stack([cosine(F, G)])  # noqa: E731
    t_eval = timeit(lambda: jax.jit(cosine)(p.embeddings, p.unembeddings), repeats=3)
    b = base_of(idlin.analyze(p))
    local = jax.jit(lambda b: relative_derivatives(*tangent_gradients(mvec, b), b.F, b.G))
    t_local = timeit(lambda: local(b), repeats=3)

    t0 = time.perf_counter()
    budget = {"budget": 5, "starts": 2} if quick else {}  # full: sized to the model
    result = idlin.audit(cosine, p, key=jax.random.key(0), progress=progress, **budget)
    end_to_end = time.perf_counter() - t0
    search, previous = {}, marks["_start"][0][0]
    for name, ticks in marks.items():
        if name == "_start":
            continue
        (t_first, n_first), (t_last, n_last) = ticks[0], ticks[-1]
        rec = result.generators[name]
        per_step = (t_last - t_first) / max(n_last - n_first, 1)
        search[name] = {
            "seconds": t_last - previous,
            "first_chunk_s": t_first - previous,  # compilation included
            "per_step_s": per_step,
            # the search's steady time (every step at the compiled rate) ÷ one evaluation
            "ratio_wall": per_step * n_last / t_eval.median,
            "verdict": rec.verdict,
            "relative_change": rec.relative_change,
            "witness_gap": rec.witness_gap,
        }
        previous = t_last
    info = {"sizes": {"N": N, "V": V, "d": d, "r": r}, "budget": result.budget,
            "starts": result.starts, "audit_end_to_end_s": end_to_end,
            "measure_eval": {"wall_median_s": t_eval.median},
            "local_test": {"wall_median_s": t_local.median,
                           "ratio_wall": t_local.median / t_eval.median}}  # fmt: skip
    return search, {"verdicts": result.verdicts(), **info}


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    if args.run_case:
        case_main(_cli_case, args.run_case)
        return

    import jax

    jax.config.update("jax_enable_x64", True)  # as the CLI runs
    import idlin.core.io
    from idlin.testing._audit import lm_shaped

    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    rows, table = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for label, shape in shapes.items():
            path = Path(tmp) / f"{label}.safetensors"
            idlin.core.io.save(path, lm_shaped(shape, seed=0))
            for measure in MEASURES:
                case = {"file": str(path), "measure": measure}
                if args.quick:  # a smoke run: the default budget is what the full rows time
                    case["options"] = ["--budget", "5", "--starts", "1"]
                r = run_case(__file__, case, inline=_cli_case if args.quick else None)
                rows.append({"model": label, "shape": list(shape), "measure": measure, **r})
                table.append([label, measure, f"{r['seconds']:.1f}",
                              f"{r['peak_rss_mib']:.0f}", f"{r['budget']}×{r['starts']}",
                              f"{r['load_average_1min']['start']:.1f}"])  # fmt: skip
    search, api = _generator_timings(args.quick)
    goals = {}
    if not args.quick:
        for r in rows:
            if r["model"] == "smollm2":
                goals[f"smollm2_{r['measure']}_s"] = goal(
                    r["seconds"], TIME_TARGET_S, higher_is_better=False
                )
            else:
                goals[f"gemma3_{r['measure']}_peak_mib"] = goal(
                    r["peak_rss_mib"], MEMORY_TARGET_MIB, higher_is_better=False
                )
    payload = {
        "quick": args.quick,
        "rows": rows,
        "goals": goals,
        "search": search,
        **api,
        **load_record(load0),
        "seconds": time.perf_counter() - t_start,
    }
    path = write_json("audit_quick" if args.quick else "audit", payload, args.out)
    print(fmt_table(table, ["model", "measure", "wall s", "peak MiB", "budget", "load"]))
    print(fmt_table([[k, f"{v['seconds']:.2f}", f"{v['per_step_s'] * 1e3:.2f}", v["verdict"]]
                     for k, v in search.items()],
                    ["generator", "seconds", "ms/step", "verdict"]))  # fmt: skip
    print(load_line(payload))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
