"""`idlin study`: run (or resume) the study and write its table, figure and summary.

    idlin study CONFIG.toml [--out DIR]                the config's full size
    idlin study CONFIG.toml [--out DIR] --size tiny    a named [size.NAME] of the config
    idlin study CONFIG.toml [--out DIR] --quick        the same as --size tiny (a plumbing check)
    idlin study CONFIG.toml --json                     the summary as JSON only
    idlin study CONFIG.toml --out DIR --coordinator HOST:PORT --num-processes N --process-id I
                                                       one process of a multi-host study

Registered on the main app by `register(app)` (called from `idlin/apps/cli.py`). Every bad input —
a config error, an unknown size, `--out` that is a file or cannot be created — prints one
`idlin: error: …` line and exits 2 before anything is trained. An interrupted run resumes at
the first unfinished point. `--out` defaults to `idlin-out/study/NAME` (`NAME-SIZE` for a
size other than full). A size other than full prints, and writes atop table.md, that it is a
plumbing check (`plumbing_caveat`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from ._cli_errors import user_errors
from ._cli_processes import (
    Coordinator,
    Distributed,
    NumProcesses,
    ProcessId,
    check_process_options,
    start_processes,
)

Config = Annotated[Path, typer.Argument(help="Study configuration (TOML).", metavar="CONFIG.toml")]


def default_out(config) -> Path:
    """`idlin-out/study/NAME` for the full size, `idlin-out/study/NAME-SIZE` otherwise (a tiny
    run never resumes into, or mixes its points with, a full one)."""
    leaf = config.name if config.size == "full" else f"{config.name}-{config.size}"
    return Path("idlin-out") / "study" / leaf


def study(
    config_path: Config,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output directory: points/, summary.json, table.md, agreement.png "
            "[default: idlin-out/study/NAME, or NAME-SIZE for a --size other than full].",
            show_default=False,
        ),
    ] = None,
    size: Annotated[
        str, typer.Option("--size", help="full, or a size.NAME table of the config (tiny, gpu).")
    ] = "full",
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Same as --size tiny: a plumbing check, not a result."),
    ] = False,
    coordinator: Coordinator = None,
    num_processes: NumProcesses = None,
    process_id: ProcessId = None,
    distributed: Distributed = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the summary (or the partial state) as JSON only."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """The study: do trained models agree on identifiable verdicts and disagree on raw ones?

    Trains every point's seeds, evaluates the five properties raw and identifiable, and writes
    one JSON file per point (an interrupted run resumes at the first unfinished point), then
    summary.json, table.md and agreement.png. Processes of a multi-host run (--coordinator or
    --distributed, as for `idlin sweep`) split the points over one shared --out; the one that
    finishes the last point writes the summary.
    """
    with user_errors(debug):
        from ..core._errors import ConfigError, OutputError
        from ..lab.study import load_config

        if quick and size not in ("full", "tiny"):
            raise ConfigError(
                f"--quick is --size tiny: expected one of them, got --size {size} too"
            )
        config = load_config(config_path, "tiny" if quick else size)
        out = default_out(config) if out is None else out
        if out.exists() and not out.is_dir():
            raise OutputError(f"--out {out}: expected a directory, got an existing file")
        check_process_options(coordinator, num_processes, process_id, distributed)
        from ..core._paths import write_text
        from ..lab.study import figure, load_points, run_study, summarize, table, write_json
        from ._cli_interrupt import kept
        from ._cli_progress import steps

        start_processes(coordinator, num_processes, process_id, distributed)
        kept(f"finished points are kept in {out}/points; rerun the same command to resume")
        with steps(f"study {config.name} ({config.size})", quiet=as_json) as bar:

            def log(message: str) -> None:
                if not as_json:
                    print(message, flush=True)
                if m := _POINT.match(message):  # "[i/N] …": point i of N is done or skipped
                    bar.total(int(m[2]))
                    bar.done(int(m[1]), message.split("] ", 1)[-1])

            run = run_study(config, out, log=log)
        keys = {p for p in _keys(config)}
        records = [r for r in load_points(out) if r["key"] in keys]
        complete = len(records) == len(keys)
        caveat = plumbing_caveat(config, records)
        if complete:
            summary = summarize(records, config, run)
            if caveat:
                summary["caveat"] = caveat
            write_json(out / "summary.json", _standard(summary))
            write_text(out / "table.md", (f"> {caveat}\n\n" if caveat else "") + table(summary))
            figure(summary, out / "agreement.png")
    if as_json:
        partial = {"complete": False, "points_done": len(records), "points": len(keys),
                   "run": run, "caveat": caveat}  # fmt: skip
        state = summary if complete else partial
        print(json.dumps(_standard(state), indent=1, sort_keys=True, allow_nan=False))
        return
    who = "" if run["process_count"] == 1 else (
        f"process {run['process_index']}/{run['process_count']}: {run['owned']} of "
    )  # fmt: skip
    done = f"{who}{run['points']} points ({run['skipped']} done earlier) in {run['seconds']:.1f} s"
    if not complete:
        have = f"{len(records)} of {len(keys)} points are in {out} so far"
        print(f"{done} on {run['machine']['device']}; {have}: the summary is written when all "
              "are (rerun to finish)")  # fmt: skip
        return
    if caveat:
        print(f"note: {caveat}")
    print(table(summary), end="")
    print(f"{done} on {run['machine']['device']} → {out}/summary.json, table.md, agreement.png")


_POINT = re.compile(r"^\[(\d+)/(\d+)\]")


def plumbing_caveat(config, records) -> str:
    """For a size other than full: say that its table checks the plumbing, with the worst
    point's median KL to the truth as the measure of how underfit its models are ("" at full
    size)."""
    if config.size == "full":
        return ""
    import numpy as np

    medians = [
        float(np.median(kls))
        for r in records
        if (kls := [m["mean_kl"] for m in r["models"] if "mean_kl" in m])
    ]
    worst = f"; median KL to the truth up to {max(medians):.2g} nats" if medians else ""
    return (
        f"--size {config.size} is a plumbing check, not a result: {len(config.seeds)} seeds, "
        f"steps × {config.steps_scale:g}{worst}. Its models are underfit and its agreement "
        "figures say nothing about the question; the full size's table is docs/study/table.md"
    )


def _standard(obj):
    """Standard JSON: non-finite floats as null (idlin's convention,
    `idlin.apps.report.jsonable`)."""
    from .report import jsonable

    return jsonable(obj)


def _keys(config) -> list[str]:
    from ..lab.study import make_truth

    ranks = {n: make_truth(p)[1] for n, p in config.distributions.items()}
    return [p.key for p in config.points(ranks)]


def register(app: typer.Typer) -> None:
    """Add `study` to the `idlin` command."""
    app.command("study")(study)
