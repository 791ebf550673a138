"""`idlin study`: run (or resume) the study and write its table, figure and summary.

    idlin study CONFIG.toml --out DIR                  the config's full size
    idlin study CONFIG.toml --out DIR --size tiny      a named [size.NAME] of the config
    idlin study CONFIG.toml --out DIR --quick          the same as --size tiny
    idlin study CONFIG.toml --out DIR --coordinator HOST:PORT --num-processes N --process-id I
                                                       one process of a multi-host study

Registered on the main app by `register(app)` (called from `idlin/cli.py`). Every bad input —
a config error, an unknown size, `--out` that is a file or cannot be created — prints one
`idlin: error: …` line and exits 2 before anything is trained. An interrupted run resumes at
the first unfinished point.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .._cli_processes import (
    Coordinator,
    Distributed,
    NumProcesses,
    ProcessId,
    check_process_options,
    start_processes,
)

Config = Annotated[Path, typer.Argument(help="Study configuration (TOML).", metavar="CONFIG.toml")]


def study(
    config_path: Config,
    out: Annotated[Path, typer.Option("--out", help="Output directory (points/, summary).")],
    size: Annotated[
        str, typer.Option("--size", help="full, or a size.NAME table of the config (tiny, gpu).")
    ] = "full",
    quick: Annotated[bool, typer.Option("--quick", help="Same as --size tiny.")] = False,
    coordinator: Coordinator = None,
    num_processes: NumProcesses = None,
    process_id: ProcessId = None,
    distributed: Distributed = False,
) -> None:
    """The study: do trained models agree on identifiable verdicts and disagree on raw ones?

    Processes of a multi-host run (--coordinator or --distributed, as for `idlin sweep`) split
    the points over one shared --out; the one that finishes the last point writes the summary.
    """
    from .._errors import IdlinError, OutputError

    try:
        from ._config import load_config

        if quick and size not in ("full", "tiny"):
            from .._errors import ConfigError

            raise ConfigError(
                f"--quick is --size tiny: expected one of them, got --size {size} too"
            )
        config = load_config(config_path, "tiny" if quick else size)
        if out.exists() and not out.is_dir():
            raise OutputError(f"--out {out}: expected a directory, got an existing file")
        check_process_options(coordinator, num_processes, process_id, distributed)
        from .._cli_interrupt import kept
        from .._paths import write_text
        from ._report import figure, summarize, table
        from ._runner import load_points, run_study, write_json

        start_processes(coordinator, num_processes, process_id, distributed)
        kept(f"finished points are kept in {out}/points; rerun the same command to resume")
        run = run_study(config, out, log=lambda m: print(m, flush=True))
        keys = {p for p in _keys(config)}
        records = [r for r in load_points(out) if r["key"] in keys]
        complete = len(records) == len(keys)
        if complete:
            summary = summarize(records, config, run)
            write_json(out / "summary.json", summary)
            write_text(out / "table.md", table(summary))
            figure(summary, out / "agreement.png")
    except IdlinError as err:
        print(f"idlin: error: {err}", file=sys.stderr)
        raise typer.Exit(2) from None
    who = "" if run["process_count"] == 1 else (
        f"process {run['process_index']}/{run['process_count']}: {run['owned']} of "
    )  # fmt: skip
    done = f"{who}{run['points']} points ({run['skipped']} done earlier) in {run['seconds']:.1f} s"
    if not complete:
        have = f"{len(records)} of {len(keys)} points are in {out} so far"
        print(f"{done} on {run['machine']['device']}; {have}: the summary is written when all "
              "are (rerun to finish)")  # fmt: skip
        return
    print(table(summary), end="")
    print(f"{done} on {run['machine']['device']} → {out}/summary.json, table.md, agreement.png")


def _keys(config) -> list[str]:
    from ._runner import make_truth

    ranks = {n: make_truth(p)[1] for n, p in config.distributions.items()}
    return [p.key for p in config.points(ranks)]


def register(app: typer.Typer) -> None:
    """Add `study` to the `idlin` command."""
    app.command("study")(study)
