"""`show_figure(fig, name)` for the notebooks: displayed in a notebook or an interactive window;
saved as `figures/NAME.png` (next to the notebooks, or in `$IDLIN_NOTEBOOK_FIGURES`) when the
notebook runs as a script under a non-interactive backend (`python notebooks/01_….py` on a
machine without a display, or `MPLBACKEND=Agg`), where `plt.show()` would discard it."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

_NON_INTERACTIVE = {"agg", "pdf", "pgf", "ps", "svg", "cairo", "template"}


def interactive() -> bool:
    """Whether `plt.show()` displays figures (a notebook's inline backend or a GUI window)."""
    return matplotlib.get_backend().lower() not in _NON_INTERACTIVE


def show_figure(fig, name: str) -> Path | None:
    """Display `fig`, or save it as `NAME.png` when nothing would display it (returns the path)."""
    if interactive():
        plt.show()
        return None
    folder = Path(os.environ.get("IDLIN_NOTEBOOK_FIGURES") or Path(__file__).parent / "figures")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"figure saved: {path}")
    return path
