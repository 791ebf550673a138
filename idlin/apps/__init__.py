"""The applications: what a researcher runs (docs/theory.md §10).

| part | what it is |
|---|---|
| `cli` | the `idlin` command; `_cli_*`: its errors, interrupts, processes, progress, `idlin audit`
|
| `report/` | what `verify`/`inspect` print, the figures and the markdown/JSON report |
| `export/` | `idlin export`: a Hugging Face or GGUF causal LM on a context set → a predictor file |

Nothing imports the CLI; the report and export build on the core, the properties and the lab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core._lazy import lazy_namespace

# `guard`: `python -m idlin` installs the CLI's Ctrl-C handling before anything else imports.
__all__, __getattr__, __dir__ = lazy_namespace(
    __name__, globals(), {"guard": "._cli_interrupt"}, ("cli", "report", "export")
)

if TYPE_CHECKING:
    from . import cli as cli
    from . import export as export
    from . import report as report
    from ._cli_interrupt import guard as guard
