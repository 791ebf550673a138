"""What `idlin study` writes into its directory: `summary.json`, `table.md`, `agreement.png`.

- `summary.json`: the configuration and size, the machine (device, load average), wall time,
  the per-(point, property, tolerance) rows of `_stats.study_rows`, the headline per property
  (`_stats.headline`), the KL bins (`_stats.kl_bins`) and each distribution's truth verdicts.
- `table.md`: the headline table — per property, the mean over points of the seed-pair
  agreement (raw vs identifiable) and of the agreement with the truth, at the headline
  tolerance, plus the sensitivity columns (the identifiable − raw difference at every
  tolerance) — and the KL bins.
- `agreement.png`: seed-pair agreement vs width multiple d/r, raw (dashed) vs identifiable
  (solid), one panel per property, one colour per architecture, mean over distributions at the
  headline tolerance, bars = mean of the points' bootstrap intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._probes import PROPERTIES
from ._stats import headline, kl_bins, study_rows

_TITLES = {
    "parallelism_embedding": "parallelism (embeddings)",
    "parallelism_unembedding": "parallelism (unembeddings)",
    "relational_linearity": "relational linearity",
    "linear_probe": "linear probe",
    "steering": "steering (δ* of the truth)",
}


def headline_index(tolerances: Sequence[float]) -> int:
    """The headline tolerance: the middle one of the sensitivity grid."""
    return len(tolerances) // 2


def summarize(records: Sequence[Mapping[str, Any]], config, run: Mapping[str, Any]) -> dict:
    """The summary JSON object of a finished (or partial) study."""
    tols = list(config.tolerances)
    rows = study_rows(records, bootstrap=config.bootstrap, seed=config.bootstrap_seed)
    h = headline_index(tols)
    truths = {}
    for rec in records:
        truths.setdefault(rec["distribution"], {
            k: rec["truth"][k] for k in ("rank", "effective_complexity", "num_contexts",
                                         "vocab_size", "width", "probes")
        } | {"verdicts": {p: v if "error" in v else {f: v[f]["holds"] for f in ("raw", "identifiable")}
                          for p, v in rec["truth"]["properties"].items()}})  # fmt: skip
    models = sum(len(r["models"]) for r in records)
    return {
        "name": config.name,
        "size": config.size,
        "sizes": {
            "points": len(records), "models": models, "seeds": len(config.seeds),
            "width_multiples": list(config.width_multiples),
            "architectures": list(config.architectures),
            "distributions": {n: dict(p) for n, p in config.distributions.items()},
            "steps": {r["architecture"]: r["steps"] for r in records},
        },  # fmt: skip
        "tolerances": tols,
        "headline_tolerance": tols[h],
        "bootstrap": {"resamples": config.bootstrap, "seed": config.bootstrap_seed},
        "run": dict(run),
        "truths": truths,
        "headline": headline(rows, tols),
        "kl_bins": kl_bins(records, h),
        "rows": rows,
    }


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.0f}%"


def table(summary: Mapping[str, Any]) -> str:
    """The headline table and the KL bins as Markdown."""
    tols = summary["tolerances"]
    t = f"{summary['headline_tolerance']:g}"
    sens = " | ".join(f"id − raw @{x:g}" for x in tols)
    lines = [
        f"| property | seed pairs agree: raw | identifiable | agree with truth: raw | "
        f"identifiable | {sens} |",
        "|---|---|---|---|---|" + "---|" * len(tols),
    ]
    for e in summary["headline"]:
        if f"points@{t}" not in e:
            continue
        diffs = " | ".join(
            f"{100 * (e[f'identifiable_pair_agreement@{x:g}'] - e[f'raw_pair_agreement@{x:g}']):+.0f} pts"
            for x in tols
        )  # fmt: skip
        lines.append(
            f"| {_TITLES[e['property']]} | {_pct(e[f'raw_pair_agreement@{t}'])} | "
            f"{_pct(e[f'identifiable_pair_agreement@{t}'])} | "
            f"{_pct(e[f'raw_truth_agreement@{t}'])} | "
            f"{_pct(e[f'identifiable_truth_agreement@{t}'])} | {diffs} |"
        )
    lines += ["", f"Agreement with the truth by KL to the truth (tolerance {t}):", "",
              "| KL range | (model, property) items | raw | identifiable |", "|---|---|---|---|"]  # fmt: skip
    for b in summary["kl_bins"]:
        lines.append(f"| {b['kl_low']:.1e} – {b['kl_high']:.1e} | {b['items']} | "
                     f"{_pct(b['raw_truth_agreement'])} | {_pct(b['identifiable_truth_agreement'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def figure(summary: Mapping[str, Any], path: Path) -> Path:
    """`agreement.png` (module docstring)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    h = summary["tolerances"].index(summary["headline_tolerance"])
    rows = [r for r in summary["rows"] if r["tolerance_index"] == h and r["seeds"] >= 2]
    archs = summary["sizes"]["architectures"]
    mults = summary["sizes"]["width_multiples"]
    colors = dict(zip(archs, ("tab:blue", "tab:orange", "tab:green"), strict=False))
    fig, axes = plt.subplots(1, len(PROPERTIES), figsize=(3.2 * len(PROPERTIES), 3.4), sharey=True)
    for ax, prop in zip(axes, PROPERTIES, strict=True):
        for arch in archs:
            for form, style in (("raw", "--"), ("identifiable", "-")):
                xs, ys, lo, hi = [], [], [], []
                for m in mults:
                    sel = [r for r in rows if r["property"] == prop and r["architecture"] == arch
                           and r["multiple"] == m]  # fmt: skip
                    if not sel:
                        continue
                    xs.append(m)
                    ys.append(np.mean([r[f"{form}_pair_agreement"] for r in sel]))
                    cis = [r[f"{form}_pair_agreement_ci"] for r in sel]
                    lo.append(np.mean([c[0] for c in cis]))
                    hi.append(np.mean([c[1] for c in cis]))
                if xs:
                    off = 0.03 * (archs.index(arch) - 1) + (0.01 if form == "raw" else 0.0)
                    x = np.asarray(xs) * (1 + off)
                    ax.errorbar(x, ys, yerr=[np.subtract(ys, lo), np.subtract(hi, ys)],
                                fmt=style + "o", color=colors[arch], ms=4, capsize=2, lw=1.3,
                                label=f"{arch}, {form}")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xticks(mults, [f"{m}r" for m in mults])
        ax.set_title(_TITLES[prop], fontsize=10)
        ax.set_xlabel("width d")
        ax.set_ylim(-0.03, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("seed pairs with equal verdicts")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(archs) * 2, fontsize=8, frameon=False)
    fig.suptitle(f"Do seeds agree? raw (dashed) vs identifiable (solid) verdicts, tolerance "
                 f"{summary['headline_tolerance']:g}, mean over distributions", fontsize=11)  # fmt: skip
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
