"""`idlin audit`: the symmetry audit (docs/theory.md §9) of one of the catalogue's measures on an
exported model.

    idlin audit MODEL --measure NAME [--pairs pairs.tsv] [--reference REF]
                [--budget N] [--starts K] [--seed S] [--json]

The budget defaults to one sized to the model (`_audit.default_budget`, said in the output); a
progress bar per generator and, once one step has been timed, an estimate of the rest go to
stderr. A float32 file is searched in float32, its witnesses are float32 models verified by the
float64-accumulated gap, and m(p), the local test and the witnesses' changes are computed in
float64. Exit codes as `verify`:
0 invariant on every generator, 1 not invariant, 2 bad input (one line `idlin: error: …` on
stderr). Registered on the main app by `register(app)` (from idlin/apps/cli.py); no JAX import until
the command runs.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..properties.audit import MEASURES, PAIR_MEASURES, REFERENCE_MEASURES

# Seeds of the probes (NumPy) and the search (jax.random.key): non-negative 64-bit integers.
MAX_SEED = 2**63 - 1

_MEASURE_HELP = (
    "A catalogue measure (docs/report_card.md): "
    + ", ".join(MEASURES)
    + f". --pairs applies to {', '.join(PAIR_MEASURES)}; --reference (required) to "
    + ", ".join(REFERENCE_MEASURES)
    + "."
)


def check_measure(measure: str) -> None:
    """A `ConfigError` naming the closest measures for an unknown name."""
    from ..core._errors import ConfigError

    if measure in MEASURES:
        return
    close = difflib.get_close_matches(measure, list(MEASURES), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ConfigError(f"--measure: expected one of {', '.join(MEASURES)}, got {measure!r}{hint}")


def check_options(measure: str, pairs, reference, budget, starts, seed) -> None:
    """The options' consistency with the measure, before any file is read."""
    from ..core._errors import ConfigError

    check_measure(measure)
    if pairs is not None and measure not in PAIR_MEASURES:
        raise ConfigError(
            f"--pairs: measure {measure!r} reads no context pairs (those that do: "
            f"{', '.join(PAIR_MEASURES)}), got {pairs}"
        )
    if reference is not None and measure not in REFERENCE_MEASURES:
        raise ConfigError(
            f"--reference: measure {measure!r} is of one model and takes no reference (those "
            f"that do: {', '.join(REFERENCE_MEASURES)}), got {reference}"
        )
    if reference is None and measure in REFERENCE_MEASURES:
        raise ConfigError(f"--reference: measure {measure!r} needs a reference model file")
    for flag, value in (("--budget", budget), ("--starts", starts)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag}: expected an integer ≥ 1, got {value}")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed: expected an integer in [0, 2**63 − 1], got {seed}")


def _load(path: Path):
    """`(predictor, context names, stored dtype)`: float32 (or narrower) files in float32, the
    search precision; float64 files in float64."""
    from ..core import io

    # one read of the file (a real LM's is hundreds of MB), in `io.compute_dtype` of its precision
    named = io.load_named(path, dtype="compute")
    return named.predictor, named.contexts, named.stored_dtype


class _Bars:
    """`audit(progress=...)` as a rich progress bar per generator on stderr, the budget's note,
    and one estimate line once a step has been timed."""

    def __init__(self, console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console
        columns = (
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self.progress = Progress(*columns, console=console, transient=False)
        self.tasks: dict[str, Any] = {}  # rich's TaskID per generator

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, event: str, **info) -> None:
        if event == "plan":
            if info["note"]:
                self.progress.console.print(info["note"])
            for g in info["searched"]:
                self.tasks[g] = self.progress.add_task(g, total=info["steps"])
        elif event == "steps":
            self.progress.update(self.tasks[info["generator"]], completed=info["done"])
        elif event == "estimate" and info["seconds"] > 5:
            self.progress.console.print(
                f"estimated ≈ {info['seconds']:.0f} s more for the search "
                f"({info['steps']} steps × {info['per_step']:.2g} s)"
            )
        elif event == "verify" and info["generator"] in self.tasks:
            self.progress.update(
                self.tasks[info["generator"]], description=f"{info['generator']} (verify)"
            )
        elif event == "done" and info["generator"] in self.tasks:
            self.progress.update(
                self.tasks[info["generator"]], description=f"{info['generator']} {info['verdict']}"
            )


def audit(
    model: Annotated[Path, typer.Argument(help="Predictor file (.safetensors or .npz).")],
    measure: Annotated[str, typer.Option(help=_MEASURE_HELP)],
    pairs: Annotated[
        Path | None,
        typer.Option(
            help="TSV of context pairs 'a<TAB>b', by index or by the context names the model "
            "file stores (" + ", ".join(PAIR_MEASURES) + ")."
        ),
    ] = None,
    reference: Annotated[
        Path | None, typer.Option(help="Reference predictor of the two-model measures.")
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(help="Adam steps per start of the search (default: sized to the model)."),
    ] = None,
    starts: Annotated[
        int | None, typer.Option(help="Random starts per generator (default: sized to the model).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the probes and the search, ≥ 0.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as JSON.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """Is a measure of this model identifiable? Audit it along every generator of its class."""
    from ._cli_errors import EXIT_NO, EXIT_OK, user_errors

    with user_errors(debug):
        check_options(measure, pairs, reference, budget, starts, seed)
        import jax
        import numpy as np
        from rich.console import Console

        from ..core import io
        from ..core._errors import IncompatibleError
        from ..core._precision import Precision
        from ..properties.audit import audit as run
        from ..properties.audit import build, default_probes

        p, contexts, stored = _load(model)
        ref = None
        if reference is not None:
            ref, _, _ = _load(reference)
            if (ref.num_contexts, ref.vocab_size) != (p.num_contexts, p.vocab_size):
                raise IncompatibleError(
                    f"{model} and {reference} must share contexts and vocabulary: expected "
                    f"(N={p.num_contexts}, V={p.vocab_size}), got "
                    f"(N={ref.num_contexts}, V={ref.vocab_size})"
                )
        chosen = None if pairs is None else io.read_pairs(pairs, contexts, what="context")
        probes = default_probes(p, seed=seed, reference=ref, pairs=chosen)
        console = Console(file=sys.stderr)
        note = memory_note(p, with_reference=ref is not None)
        if note:
            console.print(note)
        with _Bars(console) as bars:
            result = run(
                build(measure, probes),
                p,
                key=jax.random.key(seed),
                budget=budget,
                starts=starts,
                precision=Precision(stored=stored),
                dtype=np.float64,
                progress=bars,
            )
    if as_json:
        print(json.dumps({"model": str(model), "measure": measure, **result.to_dict()}, indent=2))
    else:
        print(f"{model.name}: {MEASURES[measure][0]}")
        print(result)
    raise typer.Exit(EXIT_OK if result.invariant else EXIT_NO)


# Peak resident memory of the audit above the interpreter, in units of the model's arrays in
# float32: 7.6 at Gemma 3 size (N = 1078, V = 262144, d = 640; benchmarks/bench_memory.py), the
# model, its float64 working copy for verification and the search's parameters and gradients.
# Every other command holds at most 3× its files; this one says so before it starts.
AUDIT_MEMORY_FACTOR = 8.0


def memory_note(p, *, with_reference: bool = False) -> str | None:
    """One line before a large audit: its expected peak and, on Linux, the memory available
    (a warning when the peak exceeds it). None below 1 GiB."""
    arrays = (p.num_contexts + p.vocab_size) * p.width * 4 * (2 if with_reference else 1)
    need = AUDIT_MEMORY_FACTOR * arrays
    if need < 1 << 30:
        return None
    line = (
        f"memory: the audit holds about {need / 2**30:.1f} GiB at its peak "
        f"(~{AUDIT_MEMORY_FACTOR:.0f}× the model's arrays in float32; other commands ≤ 3×)"
    )
    available = _available_bytes()
    if available is not None:
        line += f"; {available / 2**30:.1f} GiB available"
        if need > available:
            line += " — it may run out of memory: close other programs or use a larger machine"
    return line


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for row in fh:
                if row.startswith("MemAvailable:"):
                    return int(row.split()[1]) * 1024
    except OSError:
        pass
    return None


def register(app: typer.Typer) -> None:
    """Add `idlin audit` to the main app."""
    app.command(name="audit")(audit)
