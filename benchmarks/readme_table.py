"""Regenerate the README's benchmark table from `benchmarks/results/*.json` (one script).

Every row states where its numbers come from: the JSON file, the date, and the 1-minute load
average the benchmark recorded. A result taken while the load exceeded the machine's cores is
marked "busy" and its times are not to be trusted (figures measured under load do not
reproduce). A result produced with `--quick` is refused (exit with a message): quick runs write
`*_quick.json`, so a `<name>.json` saying `"quick": true` was overwritten by mistake. The table
replaces the text between `<!-- bench-table:start -->` and `<!-- bench-table:end -->` in README.md.

Usage: `python benchmarks/readme_table.py [--check]` (`--check`: exit 1 if README is stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import readme_with

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


class QuickResultError(SystemExit):
    """A result file the table would cite holds a `--quick` run (tiny sizes: not publishable)."""


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    if doc.get("quick"):
        raise QuickResultError(
            f"{path}: expected a full-size result, got a --quick one (quick runs write "
            f"{name}_quick.json; rerun `python benchmarks/bench_{name}.py` without --quick, or "
            f"restore the committed file with `git checkout -- {path}`)"
        )
    return doc


def _source(doc: dict, name: str) -> str:
    m = doc["machine"]
    load = m.get("load_average_1min", float("nan"))
    loads = doc.get("load_average_1min")
    if isinstance(loads, dict):
        load = max(load, *loads.values())
    busy = load > (m.get("cpu_count") or 1)
    date = doc.get("created_utc", "")[:10]
    kernel = (m.get("blas") or {}).get("architecture") or "not recorded"
    return f"`{name}.json`, {date}, load {load:.1f}, NumPy BLAS {kernel}" + (
        " **busy**" if busy else ""
    )


def rows() -> list[list[str]]:
    out = []
    doc = _load("gap")
    for r in doc["results"] if doc else []:
        s, e = r["size"], r["relative_error"]
        if "route" in r:  # the floor correctness requires (issue 23)
            f, rt = r["floor"], r["route"]
            out.append([
                "gap ÷ its floor (float64 Gram at the measured dsyrk rate + float32 products)",
                f"N={s['N']}, V={s['V']}, d={s['d']}",
                f"{f['idlin_over_floor']:.2f}× ({r['seconds']['idlin']:.3f} s vs "
                f"{f['seconds']:.3f} s); rel. error {e['idlin']:.1e}; R by {rt['chosen']} "
                f"(measured faster: {rt['faster_measured']})",
                _source(doc, "gap"),
            ])  # fmt: skip
            continue
        out.append([
            "gap vs NumPy materialising both logit matrices",
            f"N={s['N']}, V={s['V']}, d={s['d']}",
            f"{r['speedup_vs_numpy']['idlin']:.1f}× wall ({r['seconds']['idlin']:.2f} s vs "
            f"{r['seconds']['numpy']:.2f} s), {r['cpu_time_speedup_vs_numpy']['idlin']:.1f}× "
            f"CPU; rel. error {e['idlin']:.1e} (NumPy float32 {e['numpy']:.0e})"
            + (f"; {r['floor']['idlin_over_floor']:.1f}× the GEMM floor" if "floor" in r else ""),
            _source(doc, "gap"),
        ])  # fmt: skip
    doc = _load("decomposition")
    if doc and "baseline" in doc:  # the best NumPy/SciPy route to the same outputs (issue 23)
        s, sec, b = doc["sizes"], doc["seconds"], doc["baseline"]
        other = "qr" if b["route"] == "gram" else "gram"
        out.append([
            "`analyze` ÷ the faster NumPy/SciPy route to the same outputs (float64 Gram + "
            "eigh, or float64 QR-R + SVD)",
            f"N={s['N']}, V={s['V']}, d={s['d']}",
            f"{b['analyze_over_baseline']:.2f}× ({sec['analyze']['wall']:.2f} s vs "
            f"{b['route']} {b['seconds']:.2f} s, {other} {sec[other]['wall']:.2f} s); "
            f"{doc['floor']['analyze_over_floor']:.1f}× its floor; σ rel. error "
            f"{doc['relative_error_vs_float64']['analyze']:.1e}, ranks "
            + ("equal" if doc["ranks_agree"] else "DIFFER"),
            _source(doc, "decomposition"),
        ])  # fmt: skip
    elif doc:  # a result of the earlier benchmark (before issue 23)
        s, sec = doc["sizes"], doc["seconds"]
        out.append([
            "`analyze` vs NumPy QR + SVD route",
            f"N={s['N']}, V={s['V']}, d={s['d']}",
            f"{doc['speedup_vs_numpy']:.1f}× ({sec['analyze']['wall']:.2f} s vs "
            f"{sec['numpy']['wall']:.2f} s); {doc['analyze_over_floor']:.1f}× the GEMM floor; "
            f"σ rel. error {doc['relative_error_vs_float64']['analyze']:.1e}, ranks equal",
            _source(doc, "decomposition"),
        ])  # fmt: skip
    doc = _load("spine")
    if doc:
        s = doc["sizes"]
        for case in ("all_or_none", "inspect"):
            a, b = doc["after"][case], (doc["before"] or {}).get(case)
            ratio = (
                f", {b['wall'] / a['wall']:.1f}× wall, {b['cpu'] / a['cpu']:.1f}× CPU" if b else ""
            )
            before = f"{b['factorisations']} → " if b else ""
            out.append([
                f"`{case}` factorisations before → after the spine",
                f"N={s['N']}, V={s['V']}, d={s['d']}",
                f"{before}{a['factorisations']}{ratio}",
                _source(doc, "spine"),
            ])  # fmt: skip
        vm = doc["vmap_analyze_8_seeds"]
        out.append([
            "`vmap(analyze)` over 8 stacked seeds vs a Python loop",
            f"N={vm['sizes']['N']}, V={vm['sizes']['V']}, d={vm['sizes']['d']}",
            f"{vm['ratio_wall']:.2f}× wall, {vm['ratio_cpu']:.2f}× CPU",
            _source(doc, "spine"),
        ])  # fmt: skip
    doc = _load("llv")
    if doc and "speedup" in doc:
        s = doc.get("sizes", doc.get("size", {}))
        size = ", ".join(f"{k}={v}" for k, v in s.items()) if isinstance(s, dict) else str(s)
        out.append([
            "`d_llv` (full pivot search) vs a NumPy loop of the same definition",
            size,
            f"{doc['speedup']:.0f}×, same pivots and value",
            _source(doc, "llv"),
        ])  # fmt: skip
    doc = _load("audit")
    if doc:
        s = doc["sizes"]
        search = ", ".join(f"{k} {v['ratio_wall']:.2g}×" for k, v in doc["search"].items())
        out.append([
            "`audit` of a raw cosine: time ÷ one evaluation of the measure",
            f"N={s['N']}, V={s['V']}, d={s['d']}",
            f"local test (one reverse pass, every generator) "
            f"{doc['local_test']['ratio_wall']:.0f}×; "
            f"search ({doc['starts']} starts × {doc['budget']} Adam steps, compiled once): "
            f"{search}; `idlin.audit` end to end {doc['audit_end_to_end_s']:.0f} s",
            _source(doc, "audit"),
        ])  # fmt: skip
        for r in doc.get("rows", []):  # the CLI at real-LM shapes (issue 23)
            N, V, d = r["shape"]
            target = "≤ 60 s" if r["model"] == "smollm2" else "peak < 8 GB"
            out.append([
                f"`idlin audit --measure {r['measure']}` on a {r['model']}-shaped float32 "
                f"export, default budget (target {target})",
                f"N={N}, V={V}, d={d}",
                f"{r['seconds']:.0f} s, peak {r['peak_rss_mib']:.0f} MiB, budget "
                f"{r['budget']}×{r['starts']}",
                _source(doc, "audit"),
            ])  # fmt: skip
    doc = _load("memory")
    if doc:
        for name, m in doc["models"].items():
            sh = m["shape"]
            cases = "; ".join(
                f"{label} {c['above_interpreter_mib']:.0f} MiB = {c['times_input']:.2f}× "
                f"{'the two files' if c['input_mib'] > m['file_mib'] else 'the file'} "
                f"({c['wall_s']:.1f} s)"
                for label, c in m["cases"].items()
            )
            out.append([
                f"peak memory above the interpreter ({name}-shaped float32 file of "
                f"{m['file_mib']:.0f} MiB; verify reads two); target ≤ 3× the file(s), the audit "
                "says its ~8× first",
                f"N={sh['N']}, V={sh['V']}, d={sh['d']}",
                cases,
                _source(doc, "memory"),
            ])  # fmt: skip
    doc = _load("study")
    if doc:
        for r in doc["analysis"]:
            s = r["sizes"]
            out.append([
                f"study: `vmap(analyze)` of {s['seeds']} float64 seeds (Householder route) vs a "
                "Python loop",
                f"N={s['N']}, V={s['V']}, d={s['d']}",
                f"{r['ratio_wall']:.1f}× wall, {r['ratio_cpu']:.1f}× CPU",
                _source(doc, "study"),
            ])  # fmt: skip
        sc, pt = doc["seeds_scaling"], doc.get("study_point")
        out.append([
            f"study: training {sc['seeds']} seeds as one program vs 1 seed",
            f"transformer, morphology truth, {sc['steps']} steps",
            f"{sc['ratio']:.2f}× the time of one seed (8 = no gain)",
            _source(doc, "study"),
        ])  # fmt: skip
        if pt:
            out.append([
                f"study: one point's `run_point` for {pt['seeds']} seeds vs a per-seed loop",
                f"{pt['point']}, {pt['steps']} steps",
                f"{pt['ratio_wall']:.1f}× wall warm ({pt['together']['wall']:.2f} s vs "
                f"{pt['loop']['wall']:.2f} s); {pt['ratio_first_call']:.1f}× with compilation",
                _source(doc, "study"),
            ])  # fmt: skip
    return out


def table() -> str:
    lines = [
        "| case | size | result | source |",
        "|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows()),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = readme_with(text, START, END, table())
    if args.check:
        sys.exit(0 if new == text else 1)
    readme.write_text(new, encoding="utf-8")
    print(table())


if __name__ == "__main__":
    main()
