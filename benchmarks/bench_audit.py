"""The symmetry audit (issue 13): `idlin.audit` of a raw cosine of two embedding differences.

On an (N=4096, V=8192, d=128) float32 model (`--quick`: (64, 128, 8)), in ONE invocation:
- one evaluation of the measure (jitted), the baseline of every ratio;
- the local test (the §9.1 gradients of every same-width generator from one reverse pass, and
  their relative norms), compiled once, then timed;
- the global search of each generator (one compiled program: `starts` × `budget` Adam steps,
  candidate verification included), compile time and steady time;
- one end-to-end `idlin.audit` call (compilations included).
Ratios are to one evaluation of the measure, wall and CPU time. The 1-minute load average is
recorded and results taken above the core count are flagged NOT QUIET (do not publish them).

Usage: `python benchmarks/bench_audit.py [--quick] [--budget N] [--starts K] [--out PATH]`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_table, load_line, load_record, parser, timeit, write_json


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=None, help="Adam steps per start")
    ap.add_argument("--starts", type=int, default=None, help="random starts per generator")
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)  # float32 model; x64 for the float64 gap Gram
    import idlin
    from idlin._audit._generators import SEARCHED, base_of
    from idlin._audit._local import relative_derivatives, tangent_gradients
    from idlin._audit._search import compiler_options_for, make_search

    N, V, d = (64, 128, 8) if args.quick else (4096, 8192, 128)
    budget = args.budget or (5 if args.quick else 100)
    starts = args.starts or (2 if args.quick else 8)
    repeats = args.repeats or (2 if args.quick else 5)
    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()

    rng = np.random.default_rng(0)
    r = d // 2  # not diverse: invisible parts are non-trivial
    F = (rng.normal(size=(N, r)) @ rng.normal(size=(r, d))).astype(np.float32)
    G = (rng.normal(size=(V, r)) @ rng.normal(size=(r, d))).astype(np.float32)
    p = idlin.Predictor(F, G)

    def cosine(F, G):
        u, v = F[1] - F[0], F[3] - F[2]
        return u @ v / jnp.sqrt((u @ u) * (v @ v))

    mvec = lambda F, G: jnp.stack([cosine(F, G)])  # noqa: E731
    a = idlin.analyze(p)
    b = base_of(a)
    options = compiler_options_for(N, V, d)
    measure = jax.jit(cosine)
    t_eval = timeit(lambda: measure(p.embeddings, p.unembeddings), repeats=repeats)

    local = jax.jit(
        lambda b: relative_derivatives(*tangent_gradients(mvec, b), b.F, b.G),
        compiler_options=options,
    )
    t_local = timeit(lambda: local(b), repeats=repeats)

    m0 = mvec(p.embeddings, p.unembeddings)
    scale = jnp.ones((1,), p.dtype)
    eq_tol = jnp.asarray(1e-4, p.dtype)
    rows, searches = [], {}
    for i, name in enumerate(SEARCHED):
        program = make_search(
            name, mvec, leaves=1, starts=starts, steps=budget, extra=1, learning_rate=0.1,
            max_condition=100.0, reach=3.0, compiler_options=options,
        )  # fmt: skip
        key = jax.random.key(i)
        c0 = time.perf_counter()
        out = jax.block_until_ready(program(key, b, m0, scale, eq_tol))
        first = time.perf_counter() - c0
        t = timeit(lambda program=program, key=key: program(key, b, m0, scale, eq_tol),
                   repeats=repeats, warmup=0)  # fmt: skip
        searches[name] = {
            "first_call_s": first,
            "wall_median_s": t.median,
            "cpu_median_s": t.cpu_median,
            "ratio_wall": t.median / t_eval.median,
            "ratio_cpu": t.cpu_median / max(t_eval.cpu_median, 1e-12),
            "per_step_ratio_wall": t.median / t_eval.median / (budget * starts),
            "best_relative_change": float(np.asarray(out[0])[0]),
            "witness_gap": float(np.asarray(out[1])[0]),
        }
        rows.append([name, f"{first:.2f}", f"{t.median:.3f}", f"{t.median / t_eval.median:.3g}",
                     f"{searches[name]['best_relative_change']:.2e}"])  # fmt: skip

    c0 = time.perf_counter()
    result = idlin.audit(cosine, p, key=jax.random.key(0), budget=budget, starts=starts)
    end_to_end = time.perf_counter() - c0
    assert not result.invariant and result.generators["basis"].verdict == "✗"
    assert result.generators["shift"].verdict == "✓"

    payload = {
        "quick": args.quick,
        "sizes": {"N": N, "V": V, "d": d, "r": r},
        "dtype": "float32",
        "budget": budget,
        "starts": starts,
        "measure_eval": {"wall_median_s": t_eval.median, "cpu_median_s": t_eval.cpu_median},
        "local_test": {
            "wall_median_s": t_local.median,
            "cpu_median_s": t_local.cpu_median,
            "ratio_wall": t_local.median / t_eval.median,
            "ratio_cpu": t_local.cpu_median / max(t_eval.cpu_median, 1e-12),
        },
        "search": searches,
        "audit_end_to_end_s": end_to_end,
        "verdicts": result.verdicts(),
        **load_record(load0),
        "seconds": time.perf_counter() - t_start,
    }
    path = write_json("audit", payload, args.out)
    print(f"measure: {t_eval.median * 1e6:.1f} µs; local test {t_local.median * 1e3:.2f} ms "
          f"({t_local.median / t_eval.median:.3g}× the measure)")  # fmt: skip
    print(fmt_table(rows, ["generator", "compile+1st s", "search s", "× measure", "rel. change"]))
    print(f"audit end to end: {end_to_end:.1f} s; verdicts {result.verdicts()}")
    print(load_line(payload))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
