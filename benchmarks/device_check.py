"""One command for an accelerator: the Gemma-size gap and `analyze`, the audit at SmolLM2 size,
8 vs 1 seeds of the study and a short study run, all written to one JSON with the device name.

1. `gap`: `idlin.distribution_gap(p, q, frobenius_only=True)` on float32 models at Gemma 3 sizes
   (V = 262144; N = 1078, d = 640 and N = 4096, d = 3584; q = p with perturbed embeddings,
   relative gap ≈ 0.1), each accumulation in its own process: `float32` (x64 off: Householder QR,
   float32 sums — the route of a backend without float64) and `float64_accumulated` (x64 on). The
   float32 figure counts as accurate enough within 1e-3 (relative) of the float64-accumulated one.
   Each x64-off process also asks `idlin.equivalent` of an exactly equivalent pair (q = p with F
   doubled and G halved: powers of two, C_q = C_p exactly) and of the perturbed pair: the float32
   route must say equivalent / not equivalent, or refuse (`ConfigError`), never answer wrongly.
2. `analyze`: `idlin.analyze` at the same sizes, x64 on (float64-accumulated Gram route) and off
   (float32 Householder SVDs), each in its own process; ranks and σ₁ recorded.
   Every gap/analyze process records whether its program holds a host callback: the host-BLAS
   paths (`idlin.core._gram`, the gap's host Cholesky) are CPU-only, so off CPU there must be none.
3. `audit`: `idlin audit m.safetensors --measure raw_cosine --pairs … --json` (the CLI in a
   subprocess, so the audit's internals do not matter here) on a synthetic float32 model of
   SmolLM2's shape, N = 1078, V = 49152, d = 576; wall time, exit code, peak RSS and the verdict.
4. `seeds_scaling`: one study point trained with 1 and with 8 seeds as one vmapped program
   (`bench_study.seeds_scaling`); the ratio time(8)/time(1) is the cost of 7 more seeds.
5. `study`: `idlin study examples/study.toml --size gpu` under a wall-time budget (no point is
   started after it; resumable) into `--work DIR`; its summary's headline rows.

`--quick` runs everything at CPU sizes (CI): gap and analyze at N = 512, V = 4096, d = 64, the
audit at N = 64, V = 512, d = 16 with a small budget, 20 training steps, the study at `--size
tiny`. `--skip` drops parts (e.g. `--skip study audit`). A part that fails or times out is
recorded with its error; the others still run.

Usage: `python benchmarks/device_check.py [--quick] [--budget SECONDS] [--work DIR] [--out PATH]
[--skip PART …]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import case_main, load_record, parser, run_case, run_measured, timeit, write_json

ROOT = Path(__file__).resolve().parent.parent
FULL_SIZES = [(1078, 262144, 640), (4096, 262144, 3584)]
QUICK_SIZES = [(512, 4096, 64)]
FULL_AUDIT = (1078, 49152, 576)
QUICK_AUDIT = (64, 512, 16)
PARTS = ("gap", "analyze", "audit", "seeds_scaling", "study")


def _model(N: int, V: int, d: int, seed: int = 0):
    """float32 p (F/√d, G standard normal) and q = p with perturbed embeddings, on the device."""
    import jax
    import jax.numpy as jnp

    import idlin

    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    F = jax.random.normal(k1, (N, d), jnp.float32) / jnp.sqrt(jnp.float32(d))
    G = jax.random.normal(k2, (V, d), jnp.float32)
    E = F + 0.1 * jax.random.normal(k3, (N, d), jnp.float32) / jnp.sqrt(jnp.float32(d))
    return idlin.Predictor(F, G), idlin.Predictor(E, G)


def _host_callbacks(fn, *args) -> bool:
    """Whether the traced program of `fn(*args)` calls back into the host (NumPy/SciPy)."""
    import jax

    return "callback" in str(jax.make_jaxpr(fn)(*args))


def _case(case: dict) -> dict:
    """One gap or analyze measurement in its own process (x64 is process-wide)."""
    import jax

    jax.config.update("jax_enable_x64", case["x64"])
    import idlin
    from idlin.core import _gap
    from idlin.core._analysis import _decompose
    from idlin.core._errors import ConfigError

    N, V, d = case["sizes"]
    p, q = _model(N, V, d)
    out = {"x64": case["x64"], "device": str(jax.devices()[0]), "backend": jax.default_backend()}
    if case["kind"] == "gap":
        gap = idlin.distribution_gap(p, q, frobenius_only=True)
        t = timeit(lambda: idlin.distribution_gap(p, q, frobenius_only=True).relative,
                   repeats=case["repeats"], warmup=0)  # fmt: skip
        args = (p.embeddings, p.unembeddings, q.embeddings, q.unembeddings)

        def kernel(*a):
            return _gap.gap_kernel(*a, block=1, frobenius_only=True)

        out.update(relative=float(gap.relative), wall=t.median, samples=list(t.samples),
                   route=_gap.r_factor_route(min(N, V), 2 * d, p.dtype),
                   host_callback=_host_callbacks(kernel, *args))  # fmt: skip
        same = idlin.Predictor(p.embeddings * 2.0, p.unembeddings * 0.5)  # C exactly equal
        near = idlin.Predictor(p.embeddings + 0.01 * (q.embeddings - p.embeddings),
                               p.unembeddings)  # relative gap ≈ 1e-3  # fmt: skip
        want = {"exactly_equivalent": (same, True), "perturbed_1e-3": (near, False),
                "perturbed": (q, False)}  # fmt: skip
        verdicts = {}
        for name, (other, _) in want.items():
            try:
                verdicts[name] = bool(idlin.equivalent(p, other))
            except ConfigError as e:
                verdicts[name] = f"refused: {e}"
        out["equivalent"] = verdicts
        # right, or refused with a reason: never the wrong verdict
        out["equivalence_correct"] = all(
            verdicts[k] is w or str(verdicts[k]).startswith("refused") for k, (_, w) in want.items()
        )
        return out
    a = jax.block_until_ready(idlin.analyze(p))
    t = timeit(lambda: idlin.analyze(p), repeats=case["repeats"], warmup=0)
    precision = a.precision
    out.update(wall=t.median, samples=list(t.samples), k_f=int(a.embedding_rank),
               k_g=int(a.unembedding_rank), r=int(a.effective_complexity),
               sigma1=float(a.log_odds_singular_values[0]),
               host_callback=_host_callbacks(lambda F, G: _decompose(F, G, precision),
                                             p.embeddings, p.unembeddings))  # fmt: skip
    return out


def measured_rows(kind: str, sizes, repeats: int) -> list[dict]:
    """`kind` ("gap" or "analyze") at each size, x64 off and on, each in its own process."""
    script = str(Path(__file__).resolve())
    rows = []
    for size in sizes:
        row: dict = {"sizes": dict(zip(("N", "V", "d"), size, strict=True))}
        for name, x64 in (("float32", False), ("float64_accumulated", True)):
            case = {"kind": kind, "sizes": list(size), "x64": x64, "repeats": repeats}
            try:
                row[name] = run_case(script, case, timeout=600)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                row[name] = {"error": str(e)[-2000:]}
        a, b = row["float32"], row["float64_accumulated"]
        if kind == "gap" and "relative" in a and "relative" in b:
            diff = abs(a["relative"] - b["relative"]) / abs(b["relative"])
            row["float32_relative_difference"] = diff
            row["float32_accurate_enough"] = diff <= 1e-3
        rows.append(row)
    return rows


def audit_row(quick: bool, work: Path, timeout: float) -> dict:
    """`idlin audit` of raw_cosine on a synthetic float32 model of SmolLM2's shape (the CLI)."""
    import numpy as np

    import idlin
    import idlin.core.io

    N, V, d = QUICK_AUDIT if quick else FULL_AUDIT
    rng = np.random.default_rng(0)
    F = (rng.standard_normal((N, d)) / np.sqrt(d)).astype(np.float32)
    G = rng.standard_normal((V, d)).astype(np.float32)
    work.mkdir(parents=True, exist_ok=True)
    model, pairs = work / "smollm2_shape.safetensors", work / "pairs.tsv"
    idlin.core.io.save(model, idlin.Predictor(F, G))
    pairs.write_text("".join(f"{2 * i}\t{2 * i + 1}\n" for i in range(5)))
    cmd = [sys.executable, "-m", "idlin", "audit", str(model), "--measure", "raw_cosine",
           "--pairs", str(pairs), "--json"]  # fmt: skip
    if quick:
        cmd += ["--budget", "5", "--starts", "1"]
    env_cmd = ["timeout", str(int(timeout)), *cmd]
    res = run_measured(env_cmd)
    out = {"sizes": {"N": N, "V": V, "d": d}, "file_mib": model.stat().st_size / 2**20,
           "command": " ".join(cmd[1:]), "rc": res["rc"], "wall_s": res["wall_s"],
           "peak_rss_mib": res["peak_rss_mib"], "timed_out": res["rc"] == 124}  # fmt: skip
    try:  # exit 0: invariant, 1: not invariant (docs: the CLI's exit codes); else a failure
        doc = json.loads(res["stdout"])
        out.update(invariant=doc.get("invariant"), value=doc.get("value"),
                   budget=doc.get("budget"), starts=doc.get("starts"))  # fmt: skip
    except json.JSONDecodeError:
        out["stdout_tail"] = res["stdout"][-1500:]
    out["completed"] = res["rc"] in (0, 1) and "invariant" in out
    if not out["completed"]:
        out["stderr_tail"] = res["stderr"][-1500:]
    return out


def study_row(quick: bool, budget: float, work: Path) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    from idlin.apps._cli_study import _keys
    from idlin.lab.study import load_config, load_points, run_study
    from idlin.lab.study._report import summarize, table

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
    ap.add_argument("--work", type=Path, default=None, help="work directory (default: temp)")
    ap.add_argument("--skip", nargs="*", default=[], choices=PARTS, help="parts not to run")
    ap.add_argument("--audit-timeout", type=float, default=None, help="audit wall limit (s)")
    args = ap.parse_args()
    if args.run_case:
        case_main(_case, args.run_case)
        return
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    work = args.work or Path(tempfile.mkdtemp(prefix="idlin-device-check-"))
    parts: dict = {}
    if "gap" not in args.skip:
        parts["gap"] = measured_rows("gap", sizes, repeats)
        print("gap: done", flush=True)
    if "analyze" not in args.skip:
        parts["analyze"] = measured_rows("analyze", sizes, repeats)
        print("analyze: done", flush=True)
    if "audit" not in args.skip:
        limit = args.audit_timeout or (300.0 if args.quick else 240.0)
        parts["audit"] = audit_row(args.quick, work / "audit", limit)
        print("audit: done", flush=True)
    import jax

    jax.config.update("jax_enable_x64", True)
    if "seeds_scaling" not in args.skip:
        from bench_study import seeds_scaling

        parts["seeds_scaling"] = seeds_scaling(steps=20 if args.quick else 1000, repeats=repeats)
    if "study" not in args.skip:
        budget = args.budget if args.budget is not None else (60.0 if args.quick else 120.0)
        parts["study"] = study_row(args.quick, budget, work / "study")
    payload = {
        "quick": args.quick,
        "device": str(jax.devices()[0]),
        "device_kind": jax.devices()[0].device_kind,
        **parts,
        **load_record(load0),
        "seconds": time.perf_counter() - t0,
    }
    path = write_json("device_check", payload, args.out)
    brief = {"device": payload["device"], "seconds": payload["seconds"]}
    for kind in ("gap", "analyze"):
        for row in parts.get(kind, []):
            key = "{N}x{V}x{d}".format(**row["sizes"])
            brief[f"{kind} {key} wall s (f32 / f64-acc)"] = [
                row[k].get("wall") for k in ("float32", "float64_accumulated")
            ]
            if kind == "gap":
                brief[f"gap {key} equivalence right (x64 off)"] = row["float32"].get(
                    "equivalence_correct"
                )
    if "audit" in parts:
        keys = ("rc", "completed", "invariant", "wall_s", "peak_rss_mib")
        brief["audit"] = {k: parts["audit"].get(k) for k in keys}
    if "seeds_scaling" in parts:
        brief["seeds_scaling_ratio"] = parts["seeds_scaling"]["ratio"]
    print(json.dumps(brief, indent=1))
    if "study" in parts:
        print(parts["study"]["table"])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
