"""Progress with an estimate for the commands that take more than a few seconds (`verify`,
`reproduce`, `study`, `sweep`): a rich bar on stderr — what is running, steps done of the total,
time elapsed and an estimate of the time left (rich's `TimeRemainingColumn`: the mean time per
finished step so far times the steps left, so it appears after the first step and sharpens as the
run goes on).

Shown only when stderr is a terminal and the output is for people: off with `--json` and when
stderr is not a TTY (a pipe, a file, CI), where the commands' own lines on stdout are the log and
stderr carries only errors (and the one line of an interrupt, `idlin.apps._cli_interrupt`). The bar
is transient: it leaves nothing behind on the terminal.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class Steps:
    """A handle on the bar: `step(message)` says a step started (finishing the one before),
    `done(n)` sets the number finished, `total(n)` fixes the total once it is known. Every method
    does nothing when the bar is off."""

    def __init__(self, progress=None, task=None) -> None:
        self._progress, self._task = progress, task
        self._started = 0

    @property
    def on(self) -> bool:
        return self._progress is not None

    def step(self, message: str) -> None:
        """A step named `message` starts; the previous one (if any) is finished."""
        if self._progress is not None:
            self._progress.update(self._task, description=message, completed=self._started)
            self._started += 1

    def done(self, finished: int, message: str | None = None) -> None:
        if self._progress is not None:
            self._started = finished
            fields = {} if message is None else {"description": message}
            self._progress.update(self._task, completed=finished, **fields)

    def total(self, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)


def wanted(quiet: bool = False) -> bool:
    """Whether to show a bar: stderr is a terminal and the output is not machine-readable."""
    try:
        return not quiet and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stderr
        return False


@contextlib.contextmanager
def steps(title: str, total: int | None = None, *, quiet: bool = False) -> Iterator[Steps]:
    """A progress bar on stderr for `total` steps (unknown: `None`, fixed later by `total()`),
    or a handle that does nothing when `wanted(quiet)` is false."""
    if not wanted(quiet):
        yield Steps()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left ≈"),
        TimeRemainingColumn(),
    )
    # redirect_stdout: the command's own lines print above the bar, not through it
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield Steps(progress, progress.add_task(title, total=total))
