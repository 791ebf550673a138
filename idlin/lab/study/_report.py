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
from ._stats import FORMS, headline, kl_bins, study_rows

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
        } | {"verdicts": {p: v if "error" in v else {f: v[f]["holds"] for f in FORMS}
                          for p, v in rec["truth"]["properties"].items()}})  # fmt: skip
    models = sum(len(r["models"]) for r in records)
    return {
        "name": config.name,
        "size": config.size,
        "sizes": {
            "points": len(records),
            "models": models,
            "seeds": len(config.seeds),
            "width_multiples": list(config.width_multiples),
            "architectures": list(config.architectures),
            "distributions": {n: dict(p) for n, p in config.distributions.items()},
            "steps": {r["architecture"]: r["steps"] for r in records},
        },
        "tolerances": tols,
        "headline_tolerance": tols[h],
        "bootstrap": {"resamples": config.bootstrap, "seed": config.bootstrap_seed},
        "run": dict(run),
        "truths": truths,
        "headline": headline(rows, tols),
        "kl_bins": kl_bins(records, h),
        "rows": rows,
    }


def _pct(x: float | np.floating) -> str:
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
        # a tolerance with no point of ≥ 2 seeds yet (a partial run) has no entry: "—"
        gain = [e.get(f"identifiable_pair_agreement@{x:g}", np.nan)
                - e.get(f"raw_pair_agreement@{x:g}", np.nan) for x in tols]  # fmt: skip
        diffs = " | ".join("—" if g != g else f"{100 * g:+.0f} pts" for g in gain)
        lines.append(
            f"| {_TITLES[e['property']]} | {_pct(e[f'raw_pair_agreement@{t}'])} | "
            f"{_pct(e[f'identifiable_pair_agreement@{t}'])} | "
            f"{_pct(e[f'raw_truth_agreement@{t}'])} | "
            f"{_pct(e[f'identifiable_truth_agreement@{t}'])} | {diffs} |"
        )
    lines += ["", f"Agreement with the truth's verdict per distribution, raw / identifiable "
              f"(tolerance {t}; mean over architectures and widths; the truth's verdict raw, "
              "identifiable in brackets):",
              "", "| property | " + " | ".join(summary["sizes"]["distributions"]) + " |",
              "|---|" + "---|" * len(summary["sizes"]["distributions"])]  # fmt: skip
    h = summary["tolerances"].index(summary["headline_tolerance"])
    for prop in PROPERTIES:
        cells = []
        for dist in summary["sizes"]["distributions"]:
            sel = [r for r in summary["rows"] if r["property"] == prop and r["distribution"] == dist
                   and r["tolerance_index"] == h and r["seeds"] >= 2]  # fmt: skip
            if not sel:
                cells.append("—")
                continue
            tv = "".join("✓" if sel[0][f"truth_{f}"] else "✗" for f in ("raw", "identifiable"))
            raw = _pct(np.mean([r["raw_truth_agreement"] for r in sel]))
            ident = _pct(np.mean([r["identifiable_truth_agreement"] for r in sel]))
            cells.append(f"{raw} / {ident} ({tv})")
        lines.append(f"| {_TITLES[prop]} | " + " | ".join(cells) + " |")
    lines += ["", f"Agreement with the truth by KL to the truth (tolerance {t}):", "",
              "| KL range | (model, property) items | raw | identifiable |",
              "|---|---|---|---|"]  # fmt: skip
    for b in summary["kl_bins"]:
        raw, ident = _pct(b["raw_truth_agreement"]), _pct(b["identifiable_truth_agreement"])
        span = f"{b['kl_low']:.1e} – {b['kl_high']:.1e}"
        lines.append(f"| {span} | {b['items']} | {raw} | {ident} |")
    return "\n".join(lines) + "\n"


def figure(summary: Mapping[str, Any], path: Path) -> Path:
    """`agreement.png` (module docstring): row 1 seed-pair agreement, row 2 agreement with the
    truth's verdict, vs width multiple d/r; one column per property."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    h = summary["tolerances"].index(summary["headline_tolerance"])
    rows = [r for r in summary["rows"] if r["tolerance_index"] == h and r["seeds"] >= 2]
    archs = summary["sizes"]["architectures"]
    mults = summary["sizes"]["width_multiples"]
    colors = dict(zip(archs, ("tab:blue", "tab:orange", "tab:green"), strict=False))
    fig, grid = plt.subplots(2, len(PROPERTIES), figsize=(3.3 * len(PROPERTIES), 6.4),
                             sharey=True, squeeze=False)  # fmt: skip
    what = (("pair_agreement", "seed pairs with equal verdicts"),
            ("truth_agreement", "seeds agreeing with the truth"))  # fmt: skip
    for axes, (stat, ylabel) in zip(grid, what, strict=True):
        for ax, prop in zip(axes, PROPERTIES, strict=True):
            for arch in archs:
                for form, style in (("raw", "--"), ("identifiable", "-")):
                    xs, ys, lo, hi = [], [], [], []
                    for m in mults:
                        sel = [r for r in rows if r["property"] == prop
                               and r["architecture"] == arch and r["multiple"] == m]  # fmt: skip
                        if not sel:
                            continue
                        xs.append(m)
                        ys.append(np.mean([r[f"{form}_{stat}"] for r in sel]))
                        cis = [r[f"{form}_{stat}_ci"] for r in sel]
                        lo.append(np.mean([c[0] for c in cis]))
                        hi.append(np.mean([c[1] for c in cis]))
                    if xs:
                        off = 0.04 * (archs.index(arch) - 1) + (0.015 if form == "raw" else 0.0)
                        ax.errorbar(np.asarray(xs) * (1 + off), ys,
                                    yerr=[np.subtract(ys, lo), np.subtract(hi, ys)],
                                    fmt=style + "o", color=colors[arch], ms=3.5, capsize=1.5,
                                    lw=1.3, elinewidth=0.7, alpha=0.9,
                                    label=f"{arch}, {form}")  # fmt: skip
            ax.set_xscale("log", base=2)
            ax.set_xticks(mults, [f"{m}r" for m in mults])
            ax.minorticks_off()
            ax.set_ylim(-0.03, 1.05)
            ax.grid(alpha=0.3)
            if stat == "pair_agreement":
                ax.set_title(_TITLES[prop], fontsize=10)
            else:
                ax.set_xlabel("width d")
        axes[0].set_ylabel(ylabel)
    handles, labels = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(archs) * 2, fontsize=8, frameon=False)
    fig.suptitle("Raw (dashed) vs identifiable (solid) verdicts of trained seeds, tolerance "
                 f"{summary['headline_tolerance']:g}, mean over distributions "
                 "(bars: mean bootstrap 95% interval)", fontsize=11)  # fmt: skip
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    from ...core._paths import save_figure  # a link at `path` is replaced, never written through

    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
