"""The command line's error contract, shared by every subcommand (`idlin/apps/cli.py` and the
subcommands that register themselves: sweep, export, audit, study — which may not import the CLI).

Exit codes: 0 success, 1 "no" (verify: not equivalent; audit: not invariant), 2 bad input (one
`idlin: error: …` line on stderr), 3 an unexpected error (a bug: rerun with `--debug`),
130 interrupted (one line, `idlin.apps._cli_interrupt`).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator

EXIT_OK, EXIT_NO, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# `idlin --debug COMMAND ...` (set by the root callback) or `--debug` on the subcommand.
DEBUG = {"on": False}


def error(message: object) -> None:
    """One line on stderr, `idlin: error: …` (plain print: never re-wrapped or marked up)."""
    print(f"idlin: error: {' '.join(str(message).split())}", file=sys.stderr)


@contextlib.contextmanager
def user_errors(debug: bool = False) -> Iterator[None]:
    """idlin's input errors as one stderr line and exit code 2 (the traceback with --debug)."""
    import typer

    from ..core._errors import IdlinError

    try:
        yield
    except IdlinError as e:
        if debug or DEBUG["on"]:
            traceback.print_exc()
        error(e)
        raise typer.Exit(EXIT_BAD_INPUT) from None
