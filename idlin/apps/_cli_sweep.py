"""`idlin sweep` and `idlin sweep-summary`: run, resume, inspect and aggregate a sweep.

    idlin sweep CONFIG.toml [--out DIR]             run or resume (skips finished records)
    idlin sweep CONFIG.toml [--out DIR] --status    progress only, computes nothing
    idlin sweep CONFIG.toml --coordinator HOST:PORT --num-processes N --process-id I
                                                    one process of a multi-host sweep
    idlin sweep CONFIG.toml --distributed           multi-host, settings auto-detected
                                                    (TPU pods, SLURM, Open MPI)
    idlin sweep-summary CONFIG.toml [--out DIR] [--plot FILE] [--json]

`--json` prints only JSON on stdout (the run's `SweepRun`, the `--status`, or the summary rows;
non-finite values as null) and turns the progress bar off; `--debug` adds the traceback to an
error. On a terminal a progress bar on stderr estimates the time left from the points done.

Registered on the main app by `register(app)` (called from `idlin/apps/cli.py`). Every bad input —
a config error, `--out` that is a file, read-only or locked by another run, process ids without
`--coordinator` or out of range, a `--plot` path that cannot be written, `sweep-summary` on a
directory never run — prints one `idlin: error: …` line and exits 2, before any computation.
`--status` and `sweep-summary` only read (SQLite read-only), so they work on read-only media and
never create the directory; `--plot` creates the figure's parent directory if it is missing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ._cli_errors import user_errors
from ._cli_processes import (
    Coordinator,
    Distributed,
    NumProcesses,
    ProcessId,
    check_process_options,
    start_processes,
)

_out = Console(width=110)

Config = Annotated[Path, typer.Argument(help="Sweep configuration (TOML).", metavar="CONFIG.toml")]
Out = Annotated[
    Path | None,
    typer.Option("--out", help="Sweep directory (default: idlin-out/sweeps/NAME)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]


def _out_dir(config, out: Path | None) -> Path:
    return out if out is not None else Path("idlin-out") / "sweeps" / config.name


def _check_readable_out(out_dir: Path) -> None:
    from ..core._errors import OutputError

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir}: expected a sweep directory, got an existing file")


# the runner's line when a point is finished: "LABEL: 4 records" or "LABEL: done earlier, skipped"
_POINT_DONE = re.compile(r": (\d+ records|done earlier, skipped)$")


def sweep(
    config_path: Config,
    out: Out = None,
    status: Annotated[bool, typer.Option("--status", help="Show progress and exit.")] = False,
    coordinator: Coordinator = None,
    num_processes: NumProcesses = None,
    process_id: ProcessId = None,
    distributed: Distributed = False,
    as_json: Json = False,
    debug: Debug = False,
) -> None:
    """Run or resume a sweep: seeds vectorised, sharded over local devices, resumable.

    With --status: the records done per grid point, computing nothing.
    """
    with user_errors(debug):
        from ..lab.sweep import load_config

        config = load_config(config_path)
        out_dir = _out_dir(config, out)
        if status:
            from ..lab.sweep import sweep_status

            _check_readable_out(out_dir)
            s = sweep_status(config, out_dir)
            if as_json:
                print(json.dumps(_standard(dataclasses.asdict(s)), indent=2, allow_nan=False))
            else:
                _print_status(s, out_dir)
            return
        check_process_options(coordinator, num_processes, process_id, distributed)
        from ..lab.sweep import ensure_directory

        ensure_directory(str(out_dir))  # a file, read-only media: say so before computing
        import jax

        from ..lab.sweep import owned_points, run_sweep
        from ._cli_progress import steps

        start_processes(coordinator, num_processes, process_id, distributed)
        from ._cli_interrupt import kept

        kept(f"records and checkpoints so far are kept in {out_dir}; rerun the same command to "
             "resume")  # fmt: skip
        mine = owned_points(config, jax.process_index(), jax.process_count())
        with steps(f"sweep {config.name}", len(mine), quiet=as_json) as bar:
            finished = 0

            def log(message: str) -> None:
                nonlocal finished
                if not as_json:
                    _out.print(message)
                finished += bool(_POINT_DONE.search(message))
                bar.done(finished, message)

            result = run_sweep(config, out_dir, log=log)
    if as_json:
        doc = _standard({**dataclasses.asdict(result), "out": str(out_dir)})
        print(json.dumps(doc, indent=2, allow_nan=False))
    else:
        _out.print(
            f"process {result.process_index}/{result.process_count} on {result.devices}: "
            f"{result.records_written} records written, {result.points_skipped} of "
            f"{result.points_owned} points already done, {result.points_resumed} resumed; "
            f"{result.seed_steps} seed·steps in {result.seconds:.1f} s "
            f"({result.throughput:.3g} seed·steps/s) → {out_dir}"
        )
    if result.process_count > 1:
        jax.distributed.shutdown()


def _standard(obj):
    """Standard JSON: non-finite floats as null (idlin's convention,
    `idlin.apps.report.jsonable`)."""
    from .report import jsonable

    return jsonable(obj)


def _print_status(s, out_dir: Path) -> None:
    # print, not rich, for the summary line: never re-wrapped, easy to grep.
    state = "finished" if s.finished else "unfinished"
    print(
        f"{out_dir}: {s.done}/{s.total} records ({state}; failed, to retry {s.failed}; "
        f"duplicates {s.duplicates}, records of grid points not in the config {s.stale})"
    )
    t = Table()
    for col in ("grid point", "key", "seeds done", "checkpoint step"):
        t.add_column(col)
    for p in s.points:
        step = "—" if p.checkpoint_step is None else str(p.checkpoint_step)
        t.add_row(p.label, p.key, f"{p.done}/{p.seeds}", step)
    _out.print(t)


def sweep_summary(
    config_path: Config,
    out: Out = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a figure (PNG/PDF): one panel per metric, a grid.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print rows as JSON (undefined values as null).")
    ] = False,
    debug: Debug = False,
) -> None:
    """Metrics per grid point over seeds: mean ± standard error (and a plot)."""
    with user_errors(debug):
        from ..lab.sweep import load_config, plot_summary, summarize

        config = load_config(config_path)
        out_dir = _out_dir(config, out)
        _check_readable_out(out_dir)
        rows = summarize(config, out_dir)
    if as_json:
        rows_json = [dataclasses.asdict(r) for r in rows]
        print(json.dumps(_standard(rows_json), indent=2, allow_nan=False))
    else:
        t = Table(title="mean ± standard error over seeds (docs/theory.md §8)")
        for col in ("grid point", "metric", "n", "mean", "± sem"):
            t.add_column(col)
        for r in rows:
            sem = "—" if math.isnan(r.sem) else f"{r.sem:.3g}"
            t.add_row(r.label, r.metric, str(r.n), f"{r.mean:.4g}", sem)
        _out.print(t)
    if plot is not None:
        with user_errors(debug):
            written = plot_summary(config, rows, plot)
        if not as_json:
            _out.print(f"figure → {written}")


def register(app: typer.Typer) -> None:
    """Add `sweep` and `sweep-summary` to the `idlin` command."""
    app.command("sweep")(sweep)
    app.command("sweep-summary")(sweep_summary)
