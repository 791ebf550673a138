"""The PNG figures of `idlin reproduce` (matplotlib, Agg backend; imported only when plotting).

- `spectra.png`: singular values of F, Ĝ and C, truth vs trained models (docs/theory.md §3, §8).
- `property_scores.png`: per trained model, raw vs identifiable score of each property whose
  scores vary, each panel saying which direction is better (§6, §8).
- `map_fit.png`: recovered-map fit on log scales — `1 − R²` of the canonical-coordinate map and
  the relative gap to the truth, the Theorem EL residuals and the gap between seeds (§4, §8).
- `parallel.png`: *easy→easiest ∥ lucky→luckiest* — token differences in 2-D projections of raw
  and identifiable coordinates, for a member of the truth's class and a trained model (§7.4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core._paths import save_figure


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def spectra(result, path: Path) -> Path:
    """Singular values (log scale) of F, Ĝ, C: one row per experiment, truth in black."""
    plt = _pyplot()
    names = [t.name for t in result.truths]
    fig, axes = plt.subplots(len(names), 3, figsize=(11, 3.1 * len(names)), squeeze=False)
    fields = ("embedding_spectrum", "unembedding_spectrum", "log_odds_spectrum")
    titles = ("F (embeddings)", "Ĝ (centered unembeddings)", "C = F Ĝᵀ (centered log-odds)")
    for row, truth in zip(axes, result.truths, strict=True):
        for ax, field, title in zip(row, fields, titles, strict=True):
            s = np.asarray(getattr(truth, field))
            ax.semilogy(np.arange(1, s.size + 1), np.maximum(s, 1e-17), "k-o", ms=4, label="truth")
            for m in (m for m in result.models if m.experiment == truth.name):
                s = np.asarray(getattr(m, field))
                ax.semilogy(np.arange(1, s.size + 1), np.maximum(s, 1e-17), "-", marker=".",
                            alpha=0.7, label=f"d={m.width} seed {m.seed}")  # fmt: skip
            ax.axvline(truth.rank + 0.5, color="grey", ls=":", lw=1)
            ax.set_title(f"{truth.name}: {title}", fontsize=9)
            ax.set_xlabel("index")
        row[0].set_ylabel(f"singular value (truth r = {truth.rank})")
        row[2].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


# How to read each property's score (docs/theory.md §6): what it measures, which way is better.
_SCORE_READING = {
    "parallelism": (r"$\sigma_2/\sigma_1$ of unit differences", "lower is better: 0 = parallel"),
    "relational_linearity": ("top-1 faithfulness", "higher is better: 1 = faithful"),
    "linear_probe": ("max-margin of the probe", "higher is better: wider margin"),
    "steering": (r"distance of $\delta$ from the reachable shifts", "lower is better: 0 = reached"),
}

# Scores below this are rounding noise of an exact zero (a float64 residual of a property that
# holds exactly), not a quantity to compare between models.
_NOISE = 1e-10


def _uninformative(values: list[float]) -> str | None:
    """Why a panel of these scores would show nothing (constant, or rounding noise), else None."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return "no finite scores"
    if np.max(np.abs(v)) < _NOISE:
        return f"every score < {_NOISE:.0e} (an exact 0 up to rounding)"
    if np.ptp(v) <= 1e-9 * max(1.0, float(np.max(np.abs(v)))):
        return f"every score = {float(v[0]):.4g} (constant)"
    return None


def property_scores(result, path: Path) -> Path:
    """One panel per property whose scores vary: raw (×) and identifiable (○) score of every
    trained model and the truth's identifiable score (dotted). A property whose scores are all
    equal, or all rounding noise, gets no panel but a line saying so under the figure."""
    plt = _pyplot()
    shown, dropped = [], []
    for p in (p for p in result.properties if p.trained):
        values = [s.raw_score for s in p.trained] + [s.identifiable_score for s in p.trained]
        why = _uninformative([*values, p.truth_identifiable[1]])
        (dropped if why else shown).append((p, why))
    n = max(len(shown), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n + 0.4, 3.9), squeeze=False)
    for ax, (p, _) in zip(axes[0], shown, strict=False):
        labels = [f"d={s.width}\nseed {s.seed}" for s in p.trained]
        x = np.arange(len(labels))
        ax.plot(x, [s.raw_score for s in p.trained], "x", color="tab:red", ms=8, label="raw")
        ax.plot(x, [s.identifiable_score for s in p.trained], "o", color="tab:blue", mfc="none",
                ms=8, label="identifiable")  # fmt: skip
        ax.axhline(p.truth_identifiable[1], color="k", ls=":", lw=1, label="truth (identifiable)")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        what, better = _SCORE_READING.get(p.name, ("score", ""))
        ax.set_title(f"{p.name} ({p.side})\n{better}", fontsize=9)
        ax.set_ylabel(what, fontsize=8)
        ax.margins(y=0.15)
    if not shown:
        axes[0][0].set_axis_off()
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="upper right", fontsize=7, ncol=3, frameon=False)
    fig.suptitle("Trained models: raw vs identifiable property scores (docs/theory.md §6, §8)",
                 fontsize=10, x=0.02, ha="left")  # fmt: skip
    notes = [f"not shown: {p.name} ({p.side}): {why}" for p, why in dropped]
    bottom = 0.04 + 0.05 * len(notes)
    for i, note in enumerate(notes):
        fig.text(0.02, 0.02 + 0.05 * (len(notes) - 1 - i), note, fontsize=7.5, color="0.3")
    fig.tight_layout(rect=(0, bottom, 1, 0.93))
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


def _floor(values, floor: float = 1e-17) -> np.ndarray:
    """Values for a log axis: None → NaN (not drawn), 0 and below → `floor`."""
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    return np.where(np.isnan(v), np.nan, np.maximum(v, floor))


def _group_models(ax, ms) -> None:
    """x ticks `d=…, s…` per model, the experiment's name under each group, separators between
    groups: labels stay short enough not to overlap however many models there are."""
    x = np.arange(len(ms))
    ax.set_xticks(x, [f"d={m.width}\ns{m.seed}" for m in ms], fontsize=7)
    ax.set_xlim(-0.5, len(ms) - 0.5)
    names = [m.experiment for m in ms]
    starts = [i for i in range(len(ms)) if i == 0 or names[i] != names[i - 1]]
    for a, b in zip(starts, [*starts[1:], len(ms)], strict=True):
        ax.text((a + b - 1) / 2, -0.2, names[a], transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=8)  # fmt: skip
        if a > 0:
            ax.axvline(a - 0.5, color="0.8", lw=0.8)


def map_fit(result, path: Path) -> Path:
    """How well each trained model fits its truth, on log scales (lower is better everywhere):
    left, `1 − R²` of the canonical-coordinate map truth → model and the relative gap
    `‖C* − C‖_F/‖C*‖_F`; right, the Theorem EL map's relative residuals, with the relative gap
    between each pair of seeds of one width drawn across that width's models."""
    plt = _pyplot()
    ms = result.models
    panel = max(5.0, 0.55 * len(ms) + 1.5)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(2 * panel + 0.5, 4.6))
    x = np.arange(len(ms))
    misfit = _floor([None if m.canonical_r2 is None else 1.0 - m.canonical_r2 for m in ms])
    ax1.semilogy(x, misfit, "o", color="tab:blue", ms=7,
                 label=r"$1 - R^2$ of the canonical map truth $\to$ model")  # fmt: skip
    ax1.semilogy(x, _floor([m.relative_gap for m in ms]), "s", color="tab:orange", ms=6,
                 label=r"relative gap $\|C^* - C\|_F \,/\, \|C^*\|_F$")  # fmt: skip
    ax1.set_ylabel("misfit (log scale)", fontsize=8)
    ax1.set_title("fit to the truth (docs/theory.md §8); lower is better", fontsize=9)
    ax2.semilogy(x, _floor([m.map_embedding_residual for m in ms]), "o", color="tab:green",
                 label="EL map residual: embeddings")  # fmt: skip
    ax2.semilogy(x, _floor([m.map_unembedding_residual for m in ms]), "s", color="tab:purple",
                 label="EL map residual: unembeddings")  # fmt: skip
    for k, sp in enumerate(result.seed_pairs):
        cols = [i for i, m in enumerate(ms)
                if m.experiment == sp.experiment and m.width == sp.width]  # fmt: skip
        if cols:
            ax2.hlines(sp.relative_gap, min(cols) - 0.4, max(cols) + 0.4, color="0.35",
                       ls=":", lw=1.2,
                       label="relative gap between two seeds" if k == 0 else None)  # fmt: skip
    ax2.set_ylabel("relative residual (log scale)", fontsize=8)
    ax2.set_title("recovered map truth → model (docs/theory.md §4); lower is better", fontsize=9)
    for ax in (ax1, ax2):
        _group_models(ax, ms)
        ax.margins(y=0.2)
        ax.grid(True, which="major", axis="y", alpha=0.3)
        # Legends below the axes: they never cover a point.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path


def _projected_arrows(points: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and differences of the pairs projected on the top-2 right singular vectors of the
    stacked *unit* differences: parallel differences all lie on the first axis."""
    D = points[pairs[:, 1]] - points[pairs[:, 0]]
    unit = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-300)
    _, _, vt = np.linalg.svd(unit, full_matrices=False)
    basis = vt[:2].T if vt.shape[0] >= 2 else np.hstack([vt.T, np.zeros((vt.shape[1], 1))])
    basis = basis * np.where(np.sum(D @ basis, axis=0) < 0, -1.0, 1.0)  # arrows point right
    starts = points[pairs[:, 0]] - points[pairs[:, 0]].mean(axis=0)
    return starts @ basis, D @ basis


def parallel(models, pairs: np.ndarray, labels, path: Path) -> Path:
    """`models`: (title, Predictor) rows; columns: raw `ĝ` vs identifiable coordinates. Each
    arrow is one pair's difference, projected on the top two singular directions of the pairs'
    unit differences (so parallel differences all lie along axis 1); equal axis scales, so the
    angles between arrows are the angles in that plane. Pairs are told apart by colour, named
    in one legend (labels at the arrow heads overlapped)."""
    from matplotlib.lines import Line2D

    from ...properties import coordinates

    plt = _pyplot()
    fig, axes = plt.subplots(len(models), 2, figsize=(10.5, 3.7 * len(models) + 1.2),
                             squeeze=False)  # fmt: skip
    coords = {
        "raw": r"raw $\hat g(y)$ (centered unembeddings)",
        "identifiable": r"identifiable $\Sigma^{1/2}\gamma(y)$ (columns of $C$)",
    }
    for row, (title, p) in zip(axes, models, strict=True):
        for ax, form in zip(row, ("raw", "identifiable"), strict=True):
            pts = np.asarray(coordinates(p, "unembedding", form).points, dtype=np.float64)
            starts, diffs = _projected_arrows(pts, pairs)
            for i, ((x, y), (dx, dy)) in enumerate(zip(starts, diffs, strict=True)):
                ax.annotate(
                    "",
                    xy=(x + dx, y + dy),
                    xytext=(x, y),
                    arrowprops={"arrowstyle": "->", "color": f"C{i % 10}", "lw": 1.5},
                )
            ends = np.vstack([starts, starts + diffs])
            ax.plot(ends[:, 0], ends[:, 1], ls="none")  # arrows do not set the data limits
            ax.margins(0.12)
            ax.set_title(f"{title}: {coords[form]}", fontsize=9)
            ax.set_aspect("equal", adjustable="datalim")  # true angles between the arrows
            ax.set_xlabel("axis 1: main direction of the differences", fontsize=8)
            ax.set_ylabel("axis 2: next direction", fontsize=8)
    handles = [Line2D([], [], color=f"C{i % 10}", lw=2) for i in range(len(labels))]
    fig.legend(handles, list(labels), loc="lower center", ncol=min(len(labels), 5), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    fig.suptitle(
        "easy→easiest ∥ lucky→luckiest? Each arrow is one pair's token difference; arrows that "
        "all point along axis 1 are parallel",
        fontsize=9.5,
    )
    rows_of_legend = -(-len(labels) // 5)
    fig.tight_layout(rect=(0, 0.035 * rows_of_legend + 0.02, 1, 0.97))
    save_figure(fig, path, dpi=90)
    plt.close(fig)
    return path
