"""Scaling curves at language-model sizes (docs/theory.md §2–§3): time and peak memory of
`distribution_gap` and `analyze` vs V up to 256k (d = 768) and vs d up to 4096 (V = 50257), and
vs N, with the floor drawn.

Around a base size (N=4096, V=50257, d=768, float32, x64 on), one axis varies at a time; each
point runs in its own process (peak RSS is that point's alone). The fitted log-log slope of time
along each axis is compared with the slope the cost model `(N+V)·d²` has over the same points
(along d it is 2), and memory with `(N+V)·d`. The floor of each point is what correctness
requires (docs/theory.md §2.1, §3.2), at this machine's rates measured in the same run (`rates`,
its own process): the float64-accumulated Grams at the float64 `dsyrk` rate — `n·(2d)²` FLOP
for the gap (n = min(N, V)), `(N+V)d²` for `analyze` — plus the float32 products at the float32
GEMM rate: `4·n'·d²` (n' = max(N, V)) for the gap, `2(N+V)d·m` for `analyze` (`U_C`, `W`).
Saves a log-log PNG next to the JSON. About 6 minutes on 2 cores.

Usage: `python benchmarks/bench_scaling.py [--quick] [--repeats R] [--out PATH]`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS_DIR,
    case_main,
    enable_x64,
    fmt_table,
    gemm32_rate,
    load_record,
    parser,
    rss_mib,
    run_case,
    syrk64_rate,
    timeit,
    write_json,
)

FULL = {
    "base": {"N": 4096, "V": 50257, "d": 768},
    "N": [1024, 4096, 16384],
    "V": [8192, 50257, 131072, 262144],
    "d": [256, 768, 2048, 4096],
}
QUICK = {"base": {"N": 64, "V": 96, "d": 8}, "N": [32, 64], "V": [48, 96], "d": [4, 8]}
ROUTINES = ("distribution_gap", "analyze")


def floor_seconds(routine: str, N: int, V: int, d: int, syrk: float, gemm: float) -> float:
    """The point's floor at the float64 syrk rate `syrk` and float32 GEMM rate `gemm` (FLOP/s)."""
    if routine == "distribution_gap":
        return min(N, V) * (2 * d) ** 2 / syrk + 4.0 * max(N, V) * d * d / gemm
    return (N + V) * d * d / syrk + 2.0 * (N + V) * d * min(N, V, d) / gemm


def run(case: dict) -> dict:
    """One point (child process): float32 inputs, x64 on (the library's default set-up)."""
    enable_x64()
    import idlin

    if case["routine"] == "rates":
        return {"syrk64": syrk64_rate(case["rows"], case["cols"], case["repeats"]),
                "gemm32": gemm32_rate(case["n"], case["repeats"]),
                "rss_inputs_mib": rss_mib("VmRSS")}  # fmt: skip

    N, V, d = case["N"], case["V"], case["d"]
    rng = np.random.default_rng(0)
    F = rng.standard_normal((N, d), dtype=np.float32)
    G = rng.standard_normal((V, d), dtype=np.float32)
    Ft = rng.standard_normal((N, d), dtype=np.float32)
    Gt = rng.standard_normal((V, d), dtype=np.float32)
    p, q = idlin.Predictor(F, G), idlin.Predictor(Ft, Gt)
    rss0 = rss_mib("VmRSS")
    if case["routine"] == "distribution_gap":
        t = timeit(
            lambda: idlin.distribution_gap(p, q, frobenius_only=True), repeats=case["repeats"]
        )
    else:
        t = timeit(lambda: idlin.analyze(p), repeats=case["repeats"])
    return {"seconds": t.median, "cpu_seconds": t.cpu_median, "timing": t, "rss_inputs_mib": rss0}


def slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    if args.run_case is not None:
        case_main(run, args.run_case)
        return
    load0 = os.getloadavg()[0]
    grid = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    base = grid["base"]
    n = 256 if args.quick else 2048
    rows, cols = min(base["N"], base["V"]), 2 * base["d"]
    case = {"routine": "rates", "n": n, "rows": rows, "cols": cols, "repeats": repeats}
    rates = run_case(__file__, case, inline=run if args.quick else None)
    syrk, gemm = rates["syrk64"]["flops_per_s"], rates["gemm32"]["best"]
    print(f"  float64 dsyrk {rows}×{cols}: {syrk / 1e9:.0f} GFLOP/s; float32 GEMM {n}³: "
          f"{gemm / 1e9:.0f} GFLOP/s", flush=True)  # fmt: skip
    points: dict = {r: {ax: [] for ax in "NVd"} for r in ROUTINES}
    done: dict = {}  # the base point lies on every axis: measure it once per routine
    for routine in ROUTINES:
        for ax in "NVd":
            for value in grid[ax]:
                case = {**base, ax: value, "routine": routine, "repeats": repeats}
                tag = (routine, case["N"], case["V"], case["d"])
                if tag not in done:
                    done[tag] = run_case(__file__, case, inline=run if args.quick else None)
                res = dict(done[tag])
                res["extra_mib"] = res["peak_rss_mib"] - res["rss_inputs_mib"]
                res["floor_seconds"] = floor_seconds(
                    routine, case["N"], case["V"], case["d"], syrk, gemm
                )
                points[routine][ax].append({**case, **res})
                over = res["seconds"] / res["floor_seconds"]
                print(f"  {routine} {ax}={value}: {res['seconds']:.3g} s ({over:.1f}× floor)",
                      flush=True)  # fmt: skip
    fits, rows = {}, []
    for routine in ROUTINES:
        fits[routine] = {}
        for ax in "NVd":
            pts = points[routine][ax]
            x = np.array([p[ax] for p in pts], float)
            cost = np.array([(p["N"] + p["V"]) * p["d"] ** 2 for p in pts], float)
            mem = np.array([(p["N"] + p["V"]) * p["d"] for p in pts], float)
            t = np.array([p["seconds"] for p in pts])
            cpu = np.array([p["cpu_seconds"] for p in pts])
            extra = np.array([p["extra_mib"] for p in pts])
            fit = {"time": slope(x, t), "cpu_time": slope(x, cpu), "expected_time": slope(x, cost)}
            if np.all(np.isfinite(extra)) and np.all(extra > 0):
                fit.update(memory=slope(x, extra), expected_memory=slope(x, mem))
            fits[routine][ax] = fit
            rows.append(
                [
                    routine,
                    ax,
                    f"{fit['time']:.2f}",
                    f"{fit['cpu_time']:.2f}",
                    f"{fit['expected_time']:.2f}",
                    f"{fit.get('memory', float('nan')):.2f}",
                    f"{fit.get('expected_memory', float('nan')):.2f}",
                ]
            )
    print(
        fmt_table(
            rows,
            [
                "routine",
                "axis",
                "wall slope",
                "CPU slope",
                "(N+V)d² slope",
                "memory slope",
                "(N+V)d slope",
            ],
        )
    )
    name = "scaling_quick" if args.quick else "scaling"
    path = write_json(
        name,
        {
            "quick": args.quick,
            "grid": grid,
            **load_record(load0),
            "repeats": repeats,
            "rates": {"syrk64": rates["syrk64"], "gemm32": rates["gemm32"]},
            "points": points,
            "fits": fits,
        },
        args.out,
    )
    png = plot(points, path.with_suffix(".png") if args.out else RESULTS_DIR / f"{name}.png", base)
    print(f"wrote {path} and {png}")


def plot(points: dict, png: Path, base: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5), constrained_layout=True)
    for j, ax_name in enumerate("NVd"):
        for routine, marker in zip(ROUTINES, "os", strict=True):
            pts = points[routine][ax_name]
            x = [p[ax_name] for p in pts]
            line = axes[0, j].loglog(
                x, [p["seconds"] for p in pts], marker=marker, label=f"{routine} wall"
            )
            floors = {r: [p["floor_seconds"] for p in points[r][ax_name]] for r in ROUTINES}
            shared = all(f == floors[ROUTINES[0]] for f in floors.values())  # one line if equal
            if not shared or routine == ROUTINES[0]:
                axes[0, j].loglog(
                    x, floors[routine], ls=":", color="k" if shared else line[0].get_color(),
                    label="floor (both)" if shared else f"{routine} floor",
                )  # fmt: skip
            extra = [p["extra_mib"] for p in pts]
            if all(np.isfinite(extra)) and all(e > 0 for e in extra):
                axes[1, j].loglog(x, extra, marker=marker, label=routine)
        others = ", ".join(f"{k}={v}" for k, v in base.items() if k != ax_name)
        axes[0, j].set(xlabel=ax_name, ylabel="seconds (median, wall)",
                       title=f"time vs {ax_name} ({others})")  # fmt: skip
        axes[1, j].set(
            xlabel=ax_name, ylabel="peak RSS above inputs (MiB)", title=f"memory vs {ax_name}"
        )
        axes[0, j].legend(fontsize=7)
        for row in range(2):
            axes[row, j].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


if __name__ == "__main__":
    main()
