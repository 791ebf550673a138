"""Progress of a sweep, and its metrics aggregated over seeds: mean ± standard error, and a plot.

docs/theory.md §8's question — do identifiable scores agree across seeds and widths while raw scores
scatter? — is answered by the spread over seeds at each grid point, so each metric is reported as
`mean ± s/√n` with `s` the sample standard deviation (ddof = 1) over the `n` seeds.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ...core._errors import FileFormatError, OutputError
from ...core._paths import save_figure
from ..train import load_checkpoint
from ._config import SweepConfig
from ._store import Record, ResultsStore, checkpoint_path


@dataclasses.dataclass(frozen=True)
class PointStatus:
    """Progress of one grid point: `done` of `seeds` records, and the step of its checkpoint
    (None when it has none: not started, or finished)."""

    label: str
    key: str
    done: int
    seeds: int
    checkpoint_step: int | None


@dataclasses.dataclass(frozen=True)
class SweepStatus:
    """Progress of a sweep directory against its config.

    Attributes:
        total: records a finished sweep holds (grid points × seeds).
        done: successful records of the current grid present in the store.
        failed: seeds of the current grid whose only record is a failure (the next run retries).
        duplicates: records stored more than once across processes' files (must be 0).
        stale: records whose grid point is not in the current config (an edited config).
        points: per-point progress, in grid order.
    """

    total: int
    done: int
    duplicates: int
    failed: int
    stale: int
    points: tuple[PointStatus, ...]

    @property
    def finished(self) -> bool:
        """Every (grid point, seed) of the config has its record."""
        return self.done == self.total


def sweep_status(config: SweepConfig, out_dir: str | os.PathLike[str]) -> SweepStatus:
    """How far the sweep in `out_dir` has got. Reads the store (read-only, so it works on
    read-only media) and checkpoints; writes and creates nothing. A directory never run (missing,
    or without store files) has done = 0.

    Raises:
        FileFormatError: a store file or checkpoint that cannot be read.
    """
    try:
        store = ResultsStore.open_readonly(out_dir)
    except FileFormatError:
        if any(os.path.basename(f).startswith("records-p") for f in _listing(out_dir)):
            raise  # a store file is there but unreadable
        done_keys, failed_keys, duplicates = set(), set(), 0
    else:
        with store:
            done_keys, failed_keys = store.done(), store.failed()
            duplicates = store.duplicates()
    wanted = {(p.key, s) for p in config.points for s in config.seeds}
    present = done_keys
    points = []
    for p in config.points:
        ckpt = load_checkpoint(checkpoint_path(os.fspath(out_dir), p.key))
        done = sum((p.key, s) in present for s in config.seeds)
        points.append(
            PointStatus(p.label, p.key, done, len(config.seeds), ckpt.step if ckpt else None)
        )
    return SweepStatus(
        total=config.num_records,
        done=len(present & wanted),
        duplicates=duplicates,
        failed=len(failed_keys & wanted),
        stale=len((present | failed_keys) - wanted),
        points=tuple(points),
    )


@dataclasses.dataclass(frozen=True)
class SummaryRow:
    """One metric at one grid point over its seeds: `mean ± sem` from `n` seeds.

    `sem = s/√n` with `s` the sample standard deviation (ddof = 1); NaN when `n = 1`.
    """

    label: str
    key: str
    width: int
    metric: str
    n: int
    mean: float
    sem: float


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def summarize_records(config: SweepConfig, records: Sequence[Record]) -> tuple[SummaryRow, ...]:
    """Aggregate the numeric metrics of `records` over seeds, per grid point of `config`
    (records of other grid points are ignored; non-numeric and non-finite values are dropped
    and so lower `n`)."""
    by_point: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_point[r.point_key].append(r)
    rows = []
    for p in config.points:
        values: dict[str, list[float]] = defaultdict(list)
        for r in by_point.get(p.key, []):
            for name, v in r.metrics.items():
                if _numeric(v) and math.isfinite(v):
                    values[name].append(float(v))
        for name in sorted(values):
            x = np.asarray(values[name], np.float64)
            sem = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
            rows.append(SummaryRow(p.label, p.key, p.width, name, x.size, float(x.mean()), sem))
    return tuple(rows)


def _listing(directory) -> list[str]:
    return os.listdir(directory) if os.path.isdir(directory) else []


def summarize(config: SweepConfig, out_dir: str | os.PathLike[str]) -> tuple[SummaryRow, ...]:
    """`summarize_records` over every record stored in `out_dir` (opened read-only: works on
    read-only media, creates nothing).

    Raises:
        FileFormatError: `out_dir` holds no sweep (never run: missing or without store files).
    """
    with ResultsStore.open_readonly(out_dir) as store:
        records = store.records()
    return summarize_records(config, records)


PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def check_plot_path(path: str | os.PathLike[str]) -> str:
    """Validate a figure path before computing anything: a known suffix, and a parent directory
    that exists or can be created (it is created: `--plot out/figs/f.png` makes `out/figs`).

    Raises:
        OutputError: an unknown suffix, or a parent that is a file or cannot be created.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in PLOT_SUFFIXES:
        raise OutputError(
            f"--plot {path}: expected a file ending in {PLOT_SUFFIXES}, got {suffix!r}"
        )
    parent = os.path.dirname(path) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as err:
        raise OutputError(
            f"--plot {path}: expected a directory {parent} that exists or can be created, got "
            f"{err.strerror.lower() if err.strerror else err}"
        ) from err
    if os.path.isdir(path):
        raise OutputError(f"--plot {path}: expected a file name, got a directory")
    return path


MAX_COLUMNS = 3


def grid_shape(panels: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for `panels` panels, at most `MAX_COLUMNS` wide:
    9 metrics → 3 × 3 (not a 1 × 9 strip), 4 → 2 × 2, 1 → 1 × 1."""
    cols = max(1, min(MAX_COLUMNS, math.ceil(math.sqrt(panels))))
    return max(1, math.ceil(panels / cols)), cols


def plot_summary(
    config: SweepConfig, rows: Sequence[SummaryRow], path: str | os.PathLike[str]
) -> str:
    """One panel per metric, in a grid of at most `MAX_COLUMNS` columns (`grid_shape`): mean ±
    sem against width, one line per (distribution, architecture, learning rate). Writes `path`
    (PNG/PDF/SVG by suffix; its parent directory is created if missing) and returns it.

    Raises:
        OutputError: as `check_plot_path`, or the file cannot be written.
    """
    path = check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    point_of = {p.key: p for p in config.points}
    metrics = sorted({r.metric for r in rows})
    nrows, ncols = grid_shape(len(metrics))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[len(metrics) :]:
        ax.set_visible(False)  # the grid's last row may be short
    for ax, metric in zip(flat, metrics, strict=False):
        lines: dict[str, list[SummaryRow]] = defaultdict(list)
        for r in rows:
            if r.metric == metric:
                p = point_of[r.key]
                lines[f"{p.distribution}/{p.architecture}/lr={p.learning_rate:g}"].append(r)
        for name, pts in sorted(lines.items()):
            pts.sort(key=lambda r: r.width)
            ax.errorbar(
                [r.width for r in pts],
                [r.mean for r in pts],
                yerr=[0.0 if math.isnan(r.sem) else r.sem for r in pts],
                marker="o",
                capsize=3,
                label=name,
            )
        ax.set_xlabel("width d")
        ax.set_title(metric)
    if metrics:
        flat[0].legend(fontsize="x-small")
    fig.tight_layout()
    try:
        save_figure(fig, path)
    except OSError as err:
        raise OutputError(f"--plot {path}: expected a writable file, got {err}") from err
    finally:
        plt.close(fig)
    return path
