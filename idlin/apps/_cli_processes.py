"""The multi-host options `idlin sweep` and `idlin study` share (docs/sweeps.md): the typer
annotations, their checks, and starting `jax.distributed`. Imports neither jax nor numpy at
module level (`idlin --help` stays fast)."""

from __future__ import annotations

from typing import Annotated

import typer

Coordinator = Annotated[
    str | None, typer.Option(help="Coordinator HOST:PORT for jax.distributed (multi-host).")
]
NumProcesses = Annotated[int | None, typer.Option(help="Processes in the run.")]
ProcessId = Annotated[int | None, typer.Option(help="This process's index.")]
Distributed = Annotated[
    bool, typer.Option("--distributed", help="jax.distributed.initialize() auto-detected.")
]


def check_process_options(
    coordinator: str | None, num_processes: int | None, process_id: int | None, distributed: bool
) -> None:
    """Multi-host options make sense only together: refuse ids that would be silently ignored
    (every rank would run the whole grid) and ids jax.distributed would reject with a traceback."""
    from ..core._errors import ConfigError

    given = [f"--{n}" for n, v in (("num-processes", num_processes), ("process-id", process_id))
             if v is not None]  # fmt: skip
    if coordinator is None and not distributed:
        if given:
            raise ConfigError(
                f"{' and '.join(given)}: expected together with --coordinator HOST:PORT (or "
                "--distributed), got no coordinator; without one every process would run the "
                "whole grid"
            )
        return
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"--coordinator: expected HOST:PORT, got {coordinator!r}")
        if num_processes is None or process_id is None:
            raise ConfigError(
                "--coordinator: expected --num-processes N and --process-id I with it, got "
                f"{' and '.join(given) or 'neither'}"
            )
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes: expected an integer ≥ 1, got {num_processes}")
    if process_id is not None:
        if process_id < 0 or (num_processes is not None and process_id >= num_processes):
            bound = "" if num_processes is None else f" < --num-processes = {num_processes}"
            raise ConfigError(f"--process-id: expected 0 ≤ id{bound}, got {process_id}")


def start_processes(
    coordinator: str | None, num_processes: int | None, process_id: int | None, distributed: bool
) -> None:
    """`jax.distributed.initialize` when the options ask for a multi-host run (checked first)."""
    if coordinator is None and not distributed:
        return
    import jax

    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )
