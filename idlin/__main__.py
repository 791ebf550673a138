"""`python -m idlin` runs the `idlin` command."""

from .apps import guard

guard()  # first: Ctrl-C while the CLI imports is answered like any other (`_cli_interrupt`)

from .apps.cli import main  # noqa: E402

main()
