"""`python -m idlin` runs the `idlin` command."""

from ._cli_interrupt import guard

guard()  # first: Ctrl-C while the CLI imports is answered like any other (`_cli_interrupt`)

from .cli import main  # noqa: E402

main()
