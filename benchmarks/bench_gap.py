"""Equivalence gap (docs/theory.md §2.1): the factored Frobenius gap against the floor correctness
requires, the R factor's two routes, and the streamed max-abs/KL.

Cases, each in its own process (so its peak RSS is its own), on one float32 model pair of
relative gap ~0.3 (q = p under an invertible change of basis and a token shift, with its
embeddings perturbed):

- `idlin`              `distribution_gap(p, q, frobenius_only=True)`, x64 on: the R factor by the
                       route `idlin.core._gap.r_factor_route` picks, then chunked products.
- `idlin_householder`, `idlin_cholesky`  the same with the route forced (`gap_kernel(route=…)`):
                       float32 Householder QR, or CholeskyQR from the float64-accumulated Gram.
                       Which is faster is recorded with whether the cost rule chose it.
- `idlin_x64_off`      the same call with x64 off (float32 Householder QR, float32 sums).
- `rates`              this machine's float64 `dsyrk` rate on the factored side's shape and its
                       float32 GEMM rate (n×n×n, XLA and NumPy, best repeat).
- `streamed`           the streamed exact max |ΔC| and mean KL pass; its FLOP rate as a fraction
                       of the float32 GEMM peak measured in the same process.
- `reference`          float64 direct evaluation in blocks of contexts (never N×V in float64).

The floor is what correctness requires (docs/theory.md §2.1): deciding equivalence of a float32
pair needs the Gram of the factored side `[F, F̃]` (n rows, n = min(N, V), width 2d) accumulated
in float64 — `n·(2d)²` FLOP at the float64 `dsyrk` rate — plus the products of the other side
against the triangle, `4·n'·d²` FLOP (n' = max(N, V), a triangular multiply) at the float32 GEMM
rate; both rates measured in the same run (`rates`). Targets: the gap ≤ 1.5× the floor, relative
error ≤ 1e-6 against the float64 reference (`goals`). Also recorded: the time of the other correct
route's work, both sides' Grams in float64 (`(N+V)(2d)²` at the dsyrk rate), and the ratio to it.

Usage: `python benchmarks/bench_gap.py [--quick] [--repeats R] [--out PATH] [--only I]`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    case_main,
    enable_x64,
    fmt_table,
    gemm32_rate,
    goal,
    load_line,
    load_record,
    parser,
    rss_mib,
    run_case,
    syrk64_rate,
    timeit,
    write_json,
)

FULL_SIZES = [(4096, 50257, 768), (16384, 50257, 256)]
QUICK_SIZES = [(96, 700, 24), (256, 601, 8)]
FLOOR_GOAL = 1.5  # the gap ÷ its floor
REL_ERROR_GOAL = 1e-6
STREAM_FRACTION_GOAL = 0.5


def make_pair(N: int, V: int, d: int, seed: int = 0):
    """A float32 pair: p random (logits of order 3), q = p moved by an invertible M and a shift,
    with perturbed embeddings so that ‖C_p − C_q‖_F / ‖C_p‖_F ≈ 0.3."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((N, d), dtype=np.float32)
    G = rng.standard_normal((V, d), dtype=np.float32) * np.float32(3.0 / np.sqrt(d))
    M = np.eye(d) + rng.standard_normal((d, d)) / np.sqrt(d) * 0.5
    noise = rng.standard_normal((N, d)) * 0.3
    Ft = ((F + noise) @ M.T).astype(np.float32)
    Gt = (G @ np.linalg.inv(M) + rng.standard_normal(d)).astype(np.float32)
    return F, G, Ft, Gt


def reference(F, G, Ft, Gt, block: int = 256) -> dict:
    """Float64 direct evaluation over blocks of contexts: ‖ΔC‖_F, ‖C_p‖_F, max|ΔC|, mean KL."""
    G64 = G.astype(np.float64)
    Gt64 = Gt.astype(np.float64)
    Gh, Ght = G64 - G64.mean(0), Gt64 - Gt64.mean(0)
    sq = ref_sq = max_abs = kl = 0.0
    for i in range(0, F.shape[0], block):
        C1 = F[i : i + block].astype(np.float64) @ Gh.T  # (block, V)
        C2 = Ft[i : i + block].astype(np.float64) @ Ght.T
        D = C1 - C2
        sq += float(np.sum(D * D))
        ref_sq += float(np.sum(C1 * C1))
        max_abs = max(max_abs, float(np.abs(D).max()))
        lp = C1 - C1.max(1, keepdims=True)
        lp -= np.log(np.exp(lp).sum(1, keepdims=True))
        lq = C2 - C2.max(1, keepdims=True)
        lq -= np.log(np.exp(lq).sum(1, keepdims=True))
        kl += float(np.sum(np.exp(lp) * (lp - lq)))
    return {
        "frobenius": float(np.sqrt(sq)),
        "reference_norm": float(np.sqrt(ref_sq)),
        "max_abs": max_abs,
        "mean_kl": kl / F.shape[0],
    }


def run(case: dict) -> dict:
    """One measured case (child process)."""
    N, V, d = case["size"]
    kind, repeats = case["kind"], case["repeats"]
    enable_x64(kind != "idlin_x64_off")
    import jax
    import jax.numpy as jnp

    import idlin
    from idlin.core import _gap

    out: dict = {"kind": kind, "size": [N, V, d]}
    if kind == "rates":
        out["syrk64"] = syrk64_rate(min(N, V), 2 * d, repeats)
        out["gemm32"] = gemm32_rate(case["gemm_n"], repeats)
        return out
    F, G, Ft, Gt = make_pair(N, V, d)
    if kind == "reference":
        out.update(reference(F, G, Ft, Gt))
        return out
    p, q = idlin.Predictor(F, G), idlin.Predictor(Ft, Gt)
    if kind in ("idlin", "idlin_x64_off"):
        out["rss_inputs_mib"] = rss_mib("VmRSS")
        t = timeit(lambda: idlin.distribution_gap(p, q, frobenius_only=True), repeats=repeats)
        gap = idlin.distribution_gap(p, q, frobenius_only=True)
        out.update(frobenius=gap.frobenius, reference_norm=gap.reference_norm, time=t)
        out["route"] = _gap.r_factor_route(min(N, V), 2 * d, p.dtype)
        return out
    if kind in ("idlin_householder", "idlin_cholesky"):
        route = kind.removeprefix("idlin_")
        args = (p.embeddings, p.unembeddings, q.embeddings, q.unembeddings)

        def gap():
            return _gap.gap_kernel(*args, block=1, frobenius_only=True, route=route)

        out["rss_inputs_mib"] = rss_mib("VmRSS")
        t = timeit(gap, repeats=repeats)
        frob, ref_norm, _, _ = gap()
        out.update(frobenius=float(frob), reference_norm=float(ref_norm), time=t, route=route)
        return out
    if kind == "streamed":
        out["gemm32"] = gemm32_rate(case["gemm_n"], repeats)
        Gh1 = p.unembeddings - jnp.mean(p.unembeddings, axis=0, keepdims=True)
        Gh2 = q.unembeddings - jnp.mean(q.unembeddings, axis=0, keepdims=True)
        block = _gap.stream_block(N, V)
        streamed = jax.jit(_gap._streamed, static_argnums=4)
        out["rss_inputs_mib"] = rss_mib("VmRSS")
        t = timeit(lambda: streamed(p.embeddings, Gh1, q.embeddings, Gh2, block), repeats=repeats)
        max_abs, kl = streamed(p.embeddings, Gh1, q.embeddings, Gh2, block)  # kl: (p‖q, q‖p)
        out.update(
            max_abs=float(max_abs),
            mean_kl=float(kl[0]),
            reverse_kl=float(kl[1]),
            time=t,
            block=block,
            flops=4.0 * N * V * d,
        )
        return out
    raise ValueError(f"unknown case kind {kind!r}")


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b != 0 else abs(a - b)


TIMED = ("idlin", "idlin_householder", "idlin_cholesky", "idlin_x64_off", "streamed")


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--only", type=int, default=None, help="run only this size (0 or 1)")
    args = ap.parse_args()
    if args.run_case is not None:
        case_main(run, args.run_case)
        return
    load0 = os.getloadavg()[0]
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    indices = range(len(sizes)) if args.only is None else [args.only]
    repeats = args.repeats or (2 if args.quick else 3)
    gemm_n = 256 if args.quick else 2048
    results, rows, failures = [], [], []
    for i in indices:
        size = sizes[i]
        N, V, d = size
        cases = {}
        for kind in ("reference", "rates", *TIMED):
            case = {"kind": kind, "size": list(size), "repeats": repeats, "gemm_n": gemm_n}
            cases[kind] = run_case(__file__, case, inline=run if args.quick else None)
            print(f"  {size} {kind}: done", flush=True)
        ref = cases["reference"]
        t = {k: cases[k]["time"]["median"] for k in TIMED}
        cpu = {k: cases[k]["time"]["cpu_median"] for k in TIMED}
        gap_kinds = [k for k in TIMED if k != "streamed"]
        errors = {k: rel(cases[k]["frobenius"], ref["frobenius"]) for k in gap_kinds}
        errors["reference_norm"] = rel(cases["idlin"]["reference_norm"], ref["reference_norm"])
        errors["max_abs"] = rel(cases["streamed"]["max_abs"], ref["max_abs"])
        errors["mean_kl"] = rel(cases["streamed"]["mean_kl"], ref["mean_kl"])
        # The floor: the float64 Gram of the factored side at the measured dsyrk rate, plus the
        # triangular products of the other side at the measured float32 GEMM rate.
        short, tall = min(N, V), max(N, V)
        syrk, gemm = cases["rates"]["syrk64"], cases["rates"]["gemm32"]
        gram_flops, product_flops = float(short) * (2 * d) ** 2, 4.0 * tall * d * d
        floor_s = gram_flops / syrk["flops_per_s"] + product_flops / gemm["best"]
        both_grams_s = float(N + V) * (2 * d) ** 2 / syrk["flops_per_s"]
        peak = cases["streamed"]["gemm32"]
        stream_rate = cases["streamed"]["flops"] / t["streamed"]
        stream_cpu = cases["streamed"]["flops"] / cpu["streamed"]
        peak_cpu = max(peak["jax_per_cpu_second"], peak["numpy_per_cpu_second"])
        faster = min(("householder", "cholesky"), key=lambda r: t[f"idlin_{r}"])
        extra = {k: cases[k]["peak_rss_mib"] - cases[k]["rss_inputs_mib"] for k in TIMED}
        nv_mib = N * V * 4 / 2**20
        entry = {
            "size": {"N": N, "V": V, "d": d, "dtype": "float32"},
            "relative_gap": ref["frobenius"] / ref["reference_norm"],
            "seconds": t,
            "cpu_seconds": cpu,
            "relative_error": errors,
            "peak_rss_mib": {k: cases[k]["peak_rss_mib"] for k in cases},
            "peak_rss_above_inputs_mib": extra,
            "one_NxV_float32_mib": nv_mib,
            "floor": {
                "seconds": floor_s,
                "gram_float64_flops": gram_flops,
                "product_float32_flops": product_flops,
                "syrk64": syrk,
                "gemm32": gemm,
                "idlin_over_floor": t["idlin"] / floor_s,
                "idlin_cpu_over_floor": cpu["idlin"] / floor_s,
                # the other correct route's count, for comparison: both sides' Grams in float64
                # (the Gram expansion tr(XᵀX·YᵀY), error ε₆₄/g²), (N+V)(2d)² at the dsyrk rate
                "both_grams_float64_seconds": both_grams_s,
                "idlin_over_both_grams_float64": t["idlin"] / both_grams_s,
            },
            "route": {
                "chosen": cases["idlin"]["route"],
                "faster_measured": faster,
                "rule_agrees": cases["idlin"]["route"] == faster,
                "householder_over_cholesky": t["idlin_householder"] / t["idlin_cholesky"],
            },
            "streamed": {
                "flops_per_s": stream_rate,
                "fraction_of_gemm_peak": stream_rate / max(peak["jax"], peak["numpy"]),
                "fraction_of_gemm_peak_cpu_time": stream_cpu / peak_cpu,
                "block": cases["streamed"]["block"],
            },
            "goals": {
                "over_floor": goal(t["idlin"] / floor_s, FLOOR_GOAL, higher_is_better=False),
                "relative_error": goal(errors["idlin"], REL_ERROR_GOAL, higher_is_better=False),
                "streamed_fraction": goal(
                    stream_rate / max(peak["jax"], peak["numpy"]), STREAM_FRACTION_GOAL
                ),
            },
            "cases": cases,
        }
        # Self-checks: correct first, then fast. The factored gap never allocates N×V.
        if not all(errors[k] < 1e-4 for k in gap_kinds):
            failures.append(f"{size}: Frobenius gap off the float64 reference: {errors}")
        if not (errors["max_abs"] < 1e-4 and errors["mean_kl"] < 1e-3):
            failures.append(f"{size}: streamed max-abs/KL off the float64 reference: {errors}")
        if not args.quick and not extra["idlin"] < nv_mib:
            failures.append(f"{size}: idlin peak {extra['idlin']:.0f} MiB ≥ one N×V {nv_mib:.0f}")
        results.append(entry)
        rows.append([
            f"{N}×{V}×{d}",
            f"{floor_s:.3f}",
            f"{t['idlin']:.3f} ({t['idlin'] / floor_s:.2f}×; CPU {cpu['idlin'] / floor_s:.2f}×)",
            f"{entry['route']['chosen']} (faster: {faster}; H/C "
            f"{t['idlin_householder']:.3f}/{t['idlin_cholesky']:.3f})",
            f"{t['idlin_x64_off']:.3f}",
            f"{errors['idlin']:.1e} / {errors['idlin_x64_off']:.1e}",
            f"{extra['idlin']:.0f}",
            f"{entry['streamed']['fraction_of_gemm_peak']:.0%}",
        ])  # fmt: skip
    header = [
        "N×V×d",
        "floor s",
        "idlin s (÷ floor)",
        "R route chosen (measured s)",
        "x64 off s",
        "rel. err x64 on / off",
        "MiB above inputs",
        "streamed / GEMM peak",
    ]
    print(fmt_table(rows, header))
    name = "gap_quick" if args.quick else "gap"
    payload = {"quick": args.quick, "repeats": repeats, "results": results, **load_record(load0)}
    path = write_json(name if args.only is None else f"{name}_size{args.only}", payload, args.out)
    print(load_line(payload))
    print(f"wrote {path}")
    if failures:
        raise SystemExit("self-checks failed:\n" + "\n".join(failures))


if __name__ == "__main__":
    main()
