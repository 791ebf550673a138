"""The README's "Real language models" tables, generated from `results-*.json` (`run.py`).

    python examples/real_lm/readme.py          # rewrite the section between the markers
    python examples/real_lm/readme.py --check  # exit 1 if the README differs (tests do this)

Every number in the section comes from the committed JSON; `tests/test_real_lm_readme.py`
fails when the README and the JSON disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "benchmarks"))
from _common import readme_with  # noqa: E402  (the README splice)

README = HERE.parent.parent / "README.md"
START, END = "<!-- real-lm:start -->", "<!-- real-lm:end -->"


def _q(c: dict) -> str:
    lo, mid, hi = c["quantiles"]
    return f"{mid:.3f} ({lo:.3f}–{hi:.3f})"


def _control(form: dict, control: str, statistic: str) -> dict | None:
    found = [c for c in form["controls"] if (c["control"], c["statistic"]) == (control, statistic)]
    return found[0] if found else None


def _p(c: dict | None) -> str:
    return "—" if c is None else f"{c['p_value']:.3g} (n = {c['n']})"


def render(results: list[dict]) -> str:
    lines = []
    for res in results:
        e, m = res["export"], res["machine"]
        load = m["load_average_1min"]
        lines += [
            f"**{res['model']}** (`{res['gguf']}`, {e['model_type']}, V = {e['vocab']}, "
            f"d = {e['width']}): exported on {e['contexts']['large']} contexts — 240 labelled "
            f"sentences, 10 adjective frames and every prefix of {e['texts']} texts — "
            f"max |F Gᵀ − logits| = {e['max_logit_error']:.1e} (logits up to "
            f"{e['max_abs_logit']:.0f}); `small` is the first 250 of them (N < d).",
            "",
            "| contexts | N | k_f = rank F | k_g = rank Ĝ | r | regime | gap where r is counted |",
            "|---|---|---|---|---|---|---|",
        ]
        for which, run in res["runs"].items():
            mo = run["model"]
            regime = "N < d: E has dim ≤ N" if mo["contexts"] < mo["width"] else (
                "diverse (k_f = k_g = d)" if mo["diverse"] else "N ≥ d, not diverse"
            )  # fmt: skip
            gap = mo["rank_gap"]  # JSON null (or the old "inf"): nothing cut off
            gap = "∞, nothing cut" if gap in (None, "inf") else f"{gap:.3g}"
            lines.append(
                f"| {which} | {mo['contexts']} | {mo['embedding_rank']} | "
                f"{mo['unembedding_rank']} | {mo['effective_complexity']} | {regime} | "
                f"{gap} ({mo['rank_rule']}) |"
            )
        lines += [
            "",
            f"Parallelism of {e['token_pairs']} single-token adjective→superlative pairs "
            f"(σ₂/σ₁ of the unit differences, lower is more parallel; median and 5–95% of "
            f"the controls; p = (1 + #null ≤ matched)/(1 + n)):",
            "",
            "| contexts | form | matched σ₂/σ₁ | shuffled targets | p | random pairs | "
            "mean cosine matched | shuffled |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for which, run in res["runs"].items():
            par = run["parallelism"]
            for form in ("raw", "identifiable"):
                f = par[form]
                sh = _control(f, "shuffled targets", "sigma ratio")
                rp = _control(f, "random pairs", "sigma ratio")
                shc = _control(f, "shuffled targets", "mean cosine")
                lines.append(
                    f"| {which} | {form} | {f['score']:.3f} | {_q(sh)} | {_p(sh)} | {_q(rp)} | "
                    f"{f['mean_cosine']:.3f} | {_q(shc)} |"
                )
        lines += [
            "",
            "Probe (food vs other, 240 sentences) and steering (difference of the mean embeddings "
            "of the two classes):",
            "",
            "| contexts | form | probe: separable? | held-out accuracy | random labels | p | "
            "steering: reachable? | relative shift ‖Ĝv‖/(σ₁‖v‖) | random vectors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for which, run in res["runs"].items():
            for form in ("raw", "identifiable"):
                pr, st = run["linear_probe"][form], run["steering"][form]
                sep = "vacuous (Cover)" if pr["vacuous"] else ("yes" if pr["holds"] else "no")
                rl = _control(pr, "random labels", "held-out accuracy")
                rv = _control(st, "random vectors", "relative shift")
                reach = "vacuous (every v)" if st["vacuous"] else ("yes" if st["holds"] else "no")
                lines.append(
                    f"| {which} | {form} | {sep} | {pr['heldout_accuracy']:.3f} | {_q(rl)} | "
                    f"{_p(rl)} | {reach} | "
                    f"{st['relative_shift']:.3f} | {_q(rv)} |"
                )
        small, large = res["runs"]["small"], res["runs"]["large"]
        rate = e["contexts_per_second"]
        lines += [
            "",
            f"Cost on {m['cpu']} ({m['cpu_count']} cores, {m['device']}, jax {m['jax']}), "
            f"load {load['start']:.1f} → {load['end']:.1f}: export {rate['prefixes']} "
            f"contexts/s with `--prefixes`, {rate['contexts']} contexts/s one context per row; "
            f"`idlin inspect` {_cost(small['inspect'])} (small), {_cost(large['inspect'])} "
            f"(large); `idlin verify` of the large file with itself {_cost(large['verify'])} "
            f"({e['file_mib']['large']} MiB file).",
        ]
        if e["dropped_pairs"]:
            names = ", ".join(d["pair"] for d in e["dropped_pairs"])
            lines += ["", f"Not single tokens in this vocabulary, so not asked: {names}."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cost(c: dict) -> str:
    peak = "peak not measured" if c["peak_rss_mib"] is None else f"{c['peak_rss_mib']} MiB"
    return f"{c['wall_s']:.0f} s / {peak}"


def results() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(HERE.glob("results-*.json"))]


def section() -> str:
    return f"{START}\n{render(results()).rstrip()}\n{END}"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = readme_with(text, START, END, render(results()).rstrip())
    if "--check" in sys.argv:
        if new != text:
            print("README's real-model section is stale: run python examples/real_lm/readme.py")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
