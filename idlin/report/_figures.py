"""The PNG figures of `idlin reproduce` (matplotlib, Agg backend; imported only when plotting).

- `spectra.png`: singular values of F, Ĝ and C, truth vs trained models (THEORY §3, §8).
- `property_scores.png`: per trained model, raw vs identifiable score of each property (§6, §8).
- `map_fit.png`: recovered-map fit — R² of the canonical-coordinate map to the truth and between
  seeds, and the Theorem EL residuals (§4, §8).
- `parallel.png`: *easy→easiest ∥ lucky→luckiest* — token differences in 2-D projections of raw
  and identifiable coordinates, for a member of the truth's class and a trained model (§7.4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def property_scores(result, path: Path) -> Path:
    """One panel per property: raw (×) and identifiable (●) score of every trained model."""
    plt = _pyplot()
    props = [p for p in result.properties if p.trained]
    fig, axes = plt.subplots(1, max(len(props), 1), figsize=(3.0 * max(len(props), 1), 3.2),
                             squeeze=False)  # fmt: skip
    for ax, p in zip(axes[0], props, strict=False):
        labels = [f"d{s.width}\ns{s.seed}" for s in p.trained]
        x = np.arange(len(labels))
        ax.plot(x, [s.raw_score for s in p.trained], "x", color="tab:red", ms=8, label="raw")
        ax.plot(x, [s.identifiable_score for s in p.trained], "o", color="tab:blue", mfc="none",
                ms=8, label="identifiable")  # fmt: skip
        ax.axhline(p.truth_identifiable[1], color="k", ls=":", lw=1, label="truth (id.)")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_title(f"{p.name}\n({p.side})", fontsize=9)
    axes[0][0].set_ylabel("score")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Trained models: raw vs identifiable scores (THEORY §6, §8)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def map_fit(result, path: Path) -> Path:
    """R² of the canonical-coordinate map (to the truth, between seeds) and EL residuals."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    ms = result.models
    x = np.arange(len(ms))
    labels = [f"{m.experiment[:4]} d{m.width} s{m.seed}" for m in ms]
    ax1.bar(x - 0.2, [m.canonical_r2 or 0.0 for m in ms], 0.4, label="R²: truth → model")
    ax1.bar(x + 0.2, [1 - m.relative_gap for m in ms], 0.4, label="1 − ‖C*−C‖/‖C*‖")
    ax1.set_xticks(x, labels, rotation=60, fontsize=7, ha="right")
    ax1.set_ylim(min(0.0, *(m.canonical_r2 or 0.0 for m in ms)) if ms else 0.0, 1.02)
    ax1.set_title("fit to the truth (THEORY §8)", fontsize=9)
    ax1.legend(fontsize=7, loc="lower left")
    ax2.semilogy(x, [m.map_embedding_residual for m in ms], "o", label="EL map: embeddings")
    ax2.semilogy(x, [m.map_unembedding_residual for m in ms], "s", label="EL map: unembeddings")
    for i, sp in enumerate(result.seed_pairs):
        ax2.axhline(sp.relative_gap, color=f"C{i + 2}", ls=":", lw=1,
                    label=f"seed gap {sp.experiment[:4]} d{sp.width} {sp.seeds}")  # fmt: skip
    ax2.set_xticks(x, labels, rotation=60, fontsize=7, ha="right")
    ax2.set_title("recovered map truth → model: relative residuals (THEORY §4)", fontsize=9)
    ax2.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
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
    """`models`: (title, Predictor) rows; columns: raw `ĝ` vs identifiable coordinates. Equal
    axis scales, so the angles between arrows are the angles in the projection plane."""
    from ..properties._coordinates import coordinates

    plt = _pyplot()
    fig, axes = plt.subplots(len(models), 2, figsize=(9, 3.6 * len(models)), squeeze=False)
    for row, (title, p) in zip(axes, models, strict=True):
        for ax, form in zip(row, ("raw", "identifiable"), strict=True):
            pts = np.asarray(coordinates(p, "unembedding", form).points, dtype=np.float64)
            starts, diffs = _projected_arrows(pts, pairs)
            for i, ((x, y), (dx, dy)) in enumerate(zip(starts, diffs, strict=True)):
                ax.annotate(
                    "",
                    xy=(x + dx, y + dy),
                    xytext=(x, y),
                    arrowprops={"arrowstyle": "->", "color": f"C{i % 10}", "lw": 1.4},
                )
                ax.text(x + dx, y + dy, labels[i], fontsize=7, color=f"C{i % 10}")  # fmt: skip
            ends = np.vstack([starts, starts + diffs])
            ax.plot(ends[:, 0], ends[:, 1], ls="none")  # arrows do not set the data limits
            ax.margins(0.12)
            coords = "ĝ(y)" if form == "raw" else "Σ^½γ(y) (columns of C)"
            ax.set_title(f"{title}: {form} {coords}", fontsize=9)
            ax.set_aspect("equal", adjustable="datalim")  # true angles between the arrows
            ax.set_xlabel("difference axis 1")
            ax.set_ylabel("difference axis 2")
    fig.suptitle("easy→easiest ∥ lucky→luckiest? token differences, 2-D projections", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
