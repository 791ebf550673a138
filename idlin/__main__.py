"""`python -m idlin` runs the `idlin` command."""

from .cli import main

main()
