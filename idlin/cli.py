"""The `idlin` command: `reproduce`, `verify`, `inspect` (a thin layer over the library).

    idlin reproduce [--out DIR] [--quick]     the main experiment on its embedded default
    idlin verify A B [--rtol X] [--json]      are two exported predictors equivalent? (exit 0/1/2)
    idlin inspect A [--pairs F] [--labels F]  which linear properties are identifiable?

The command enables JAX float64 (`jax_enable_x64`) before anything is computed, so verification
runs in double precision whatever the files store; tolerances follow the *stored* precision.
Exit codes: 0 success (verify: equivalent), 1 verify: not equivalent, 2 bad input. Errors print
one line on stderr, `idlin: error: ...`; `--debug` prints the traceback as well.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="idlin",
    help="Identifiable linear properties of next-token predictors (Marconato et al., 2025).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_NOT_EQUIVALENT, EXIT_BAD_INPUT = 0, 1, 2

_out = Console(width=110)
_err = Console(stderr=True, width=110)


@app.callback()
def _root() -> None:
    """idlin: is a linear property of a language model a fact about its distribution, or about
    its coordinates? (THEORY.md; Marconato et al., AISTATS 2025)"""


Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]


@contextlib.contextmanager
def _user_errors(debug: bool) -> Iterator[None]:
    """Turn idlin's input errors into one stderr line and exit code 2 (traceback with --debug)."""
    from ._errors import IdlinError

    try:
        yield
    except IdlinError as e:
        if debug:
            traceback.print_exc()
        # print, not rich: one line, never re-wrapped or marked up.
        print(f"idlin: error: {e}", file=sys.stderr)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _fmt(x: float | None, spec: str = ".3e") -> str:
    return "—" if x is None else format(x, spec)


@app.command()
def verify(
    a: Annotated[Path, typer.Argument(help="Predictor file A (.safetensors or .npz).")],
    b: Annotated[Path, typer.Argument(help="Predictor file B (.safetensors or .npz).")],
    rtol: Annotated[
        float | None,
        typer.Option(
            help="Tolerance on ‖C_A − C_B‖_F/‖C_A‖_F (default 1e-4 float32, 1e-8 float64)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Are A and B distribution-equivalent? Gap, effective complexities, recovered map.

    Exit code 0 when equivalent within the tolerance, 1 when not, 2 on bad input.
    """
    with _user_errors(debug):
        import numpy as np

        from . import io
        from ._errors import ConfigError, IncompatibleError
        from .report import verify as compare

        if rtol is not None and not rtol >= 0:
            raise ConfigError(f"--rtol: expected a tolerance ≥ 0, got {rtol}")
        arrays = [io.read_arrays(a), io.read_arrays(b)]
        stored = (io.stored_dtype(arrays[0]), io.stored_dtype(arrays[1]))
        pa, pb = (
            io.from_arrays(x, dtype=np.float64, source=str(f))
            for x, f in zip(arrays, (a, b), strict=True)
        )
        if (pa.num_contexts, pa.vocab_size) != (pb.num_contexts, pb.vocab_size):
            raise IncompatibleError(
                f"{a} and {b} must share contexts and vocabulary: expected equal (N, V), got "
                f"A (N={pa.num_contexts}, V={pa.vocab_size}) and "
                f"B (N={pb.num_contexts}, V={pb.vocab_size})"
            )
        result = compare(pa, pb, stored=stored, rtol=rtol)
    if as_json:
        from .report import comparison_dict

        print(json.dumps(comparison_dict(result), indent=2))
    else:
        _print_verification(result, a, b)
    raise typer.Exit(EXIT_OK if result.equivalent else EXIT_NOT_EQUIVALENT)


def _print_verification(v, a: Path, b: Path) -> None:
    t = Table(title="Models (THEORY §3)")
    for col in (
        "",
        "N",
        "V",
        "d",
        "stored",
        "r = rank C",
        "rank F",
        "rank Ĝ",
        "diverse",
        "σ_r/σ_r+1",
    ):
        t.add_column(col)
    for name, m in ((f"A {a.name}", v.p), (f"B {b.name}", v.q)):
        t.add_row(
            name, str(m.contexts), str(m.vocab), str(m.width), m.stored_dtype,
            str(m.effective_complexity), str(m.embedding_rank), str(m.unembedding_rank),
            "yes" if m.diverse else "no", _fmt(m.log_odds_gap, ".2e"),
        )  # fmt: skip
    _out.print(t)
    g = v.gap
    _out.print(
        f"gap (THEORY §2): ‖C_A − C_B‖_F = {_fmt(g.frobenius)}, relative {_fmt(g.relative)} "
        f"(tolerance {_fmt(v.tolerance, '.1e')}), max |ΔC| = {_fmt(g.max_abs)}, "
        f"mean KL(A‖B) = {_fmt(v.kl_pq)}, KL(B‖A) = {_fmt(v.kl_qp)} nats, "
        f"d_logit² = {_fmt(v.d_logit)}"
    )
    m = v.map
    what = "f_B = M f_A (Theorem L)" if m.theorem == "L" else "P_U f_B = T P_U f_A (Theorem EL)"
    cond = f", cond M = {_fmt(m.condition_number, '.2e')}" if m.condition_number else ""
    _out.print(
        f"map (THEORY §4): {what}, rank {m.rank}{cond}; relative residuals: embeddings "
        f"{_fmt(m.embedding_residual)}, unembeddings {_fmt(m.unembedding_residual)}"
    )
    if v.verdict != "equivalent":
        r2 = "—" if v.canonical_r2 is None else f"{v.canonical_r2:.6f}"
        _out.print(
            f"fit (THEORY §8): rank of C_B at the threshold tied to KL(A‖B): {v.fit_rank} "
            f"(A: {v.p.effective_complexity}); canonical R² at rank {v.reference_rank}: {r2}"
        )
    for note in v.notes:
        _out.print(f"note: {note}")
    verdict = "EQUIVALENT" if v.equivalent else "NOT EQUIVALENT"
    near = (
        f"; near-equivalent (relative gap ≤ {v.near_tolerance:g}): equivalent at any tolerance "
        f"≥ {v.smallest_tolerance:.1e}"
        if v.verdict == "near-equivalent"
        else ""
    )
    _out.print(
        f"verdict: {verdict} (relative gap {_fmt(v.gap.relative)} vs "
        f"{_fmt(v.tolerance, '.1e')}){near}"
    )



@app.command()
def inspect(
    a: Annotated[Path, typer.Argument(help="Predictor file (.safetensors or .npz).")],
    pairs: Annotated[
        Path | None,
        typer.Option(help="TSV of context pairs 'source<TAB>target' (parallelism, relations)."),
    ] = None,
    token_pairs: Annotated[
        Path | None, typer.Option(help="TSV of token pairs (parallelism of unembeddings).")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="TSV 'context<TAB>label' (linear probing), label 0/1.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Is each linear property a fact about the distribution, or about these coordinates?

    Prints the effective complexity and diversity (THEORY §3) and each requested property in raw
    and identifiable form with its inclusion condition (THEORY §6–§7).
    """
    with _user_errors(debug):
        import numpy as np

        from . import io
        from .report import inspect_model as examine

        arrays = io.read_arrays(a)
        p = io.from_arrays(arrays, dtype=np.float64, source=str(a))
        probes: dict = {}
        if pairs is not None:
            probes["pairs"] = io.read_pairs(pairs)
        if token_pairs is not None:
            probes["token_pairs"] = io.read_pairs(token_pairs)
        if labels is not None:
            probes["labels"] = io.read_labels(labels)
        files = {"pairs": pairs, "token_pairs": token_pairs, "labels": labels}
        sources = {k: f.name for k, f in files.items() if f is not None}
        result = examine(p, stored=io.stored_dtype(arrays), sources=sources, **probes)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_inspection(result, a)


def _print_inspection(r, a: Path) -> None:
    m = r.model
    _out.print(
        f"{a.name}: N = {m.contexts} contexts, V = {m.vocab} tokens, width d = {m.width} "
        f"({m.stored_dtype})"
    )
    _out.print(
        f"effective complexity r = rank C = {m.effective_complexity} (σ_r/σ_r+1 = "
        f"{_fmt(m.log_odds_gap, '.2e')}); rank F = {m.embedding_rank}, rank Ĝ = "
        f"{m.unembedding_rank}; {'diverse' if m.diverse else 'not diverse'} (THEORY §3)"
    )
    if not r.properties:
        _out.print("no probe files given: pass --pairs, --token-pairs or --labels")
        return
    t = Table(title=f"Linear properties, raw vs identifiable (THEORY §6–§7; tol {r.tol:.1e})")
    for col in ("#", "property", "side", "raw: holds (score)", "identifiable", "inclusion (res.)"):
        t.add_column(col)
    for i, pr in enumerate(r.properties, start=1):
        t.add_row(
            str(i), pr.name, pr.side,
            f"{'yes' if pr.raw.holds else 'no'} ({pr.raw.score:.3g})",
            f"{'yes' if pr.identifiable.holds else 'no'} ({pr.identifiable.score:.3g})",
            f"{'yes' if pr.raw.inclusion.holds else 'no'} ({pr.raw.inclusion.residual:.2g})",
        )  # fmt: skip
    _out.print(t)
    for i, pr in enumerate(r.properties, start=1):
        note = f" [{pr.raw.note}]" if pr.raw.note else ""
        _out.print(f"{i}. {pr.name} on {pr.probe}: {pr.reading}{note}", soft_wrap=True)


@app.command()
def reproduce(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("idlin-out"),
    quick: Annotated[bool, typer.Option("--quick", help="A smaller run (under a minute).")] = False,
    seed: Annotated[int, typer.Option(help="PRNG seed of the whole run.")] = 0,
    debug: Debug = False,
) -> None:
    """Train small models on the default truths and check the theory end to end.

    Writes report.md, report.json, PNG figures and the trained predictors (models/*.npz, ready
    for `idlin verify`) into --out.
    """
    import dataclasses

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with _user_errors(debug):
        from . import io
        from ._errors import ConfigError
        from .report import write_report
        from .reproduce import ReproduceConfig
        from .reproduce import reproduce as run

        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out: expected a directory, got the existing file {out}")
        config = dataclasses.replace(ReproduceConfig.preset(quick=quick), seed=seed)
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=_out, transient=True) as progress:
            task = progress.add_task("starting", total=None)

            def say(message: str) -> None:
                progress.console.print(f"[dim]·[/dim] {message}")
                progress.update(task, description=message)

            result, artifacts = run(config, say=say)
            say("writing the report and figures")
            written = write_report(result, artifacts, out)
            models = out / "models"
            models.mkdir(exist_ok=True)
            for name, p in artifacts.truths.items():
                io.save(models / f"{name}_truth.npz", p)
            for name, trained in artifacts.trained.items():
                for width, s, q in trained:
                    io.save(models / f"{name}_d{width}_seed{s}.npz", q)
    _print_summary(result)
    _out.print(f"wrote {', '.join(p.name for p in written)} and models/*.npz to {out}/")
    _out.print(
        f"in {result.seconds:.0f} s. Try: idlin verify {out}/models/<a>.npz {out}/models/<b>.npz"
    )


def _print_summary(result) -> None:
    t = Table(title="Trained models (THEORY §8)")
    for col in ("truth", "r", "models", "mean KL to truth", "mean R² to truth", "seed gap (rel.)"):
        t.add_column(col)
    for truth in result.truths:
        ms = [m for m in result.models if m.experiment == truth.name]
        sp = [s for s in result.seed_pairs if s.experiment == truth.name]
        r2 = [m.canonical_r2 for m in ms if m.canonical_r2 is not None]
        t.add_row(
            truth.name, str(truth.rank), str(len(ms)),
            _fmt(sum(m.kl_to_truth for m in ms) / len(ms) if ms else None, ".3g"),
            _fmt(sum(r2) / len(r2) if r2 else None, ".4f"),
            _fmt(max((s.relative_gap for s in sp), default=None), ".3g"),
        )  # fmt: skip
    _out.print(t)
    if result.properties:
        t = Table(title="Morphology language: all or none (THEORY §6–§7)")
        for col in ("property", "side", "identifiable", "id. agrees", "raw: class",
                    "raw: included", "counterexample"):  # fmt: skip
            t.add_column(col)
        for p in result.properties:
            a, ce = p.all_or_none, p.counterexample
            t.add_row(
                p.name, p.side, "yes" if p.truth_identifiable[0] else "no",
                "yes" if a["identifiable_agrees"] else "no", a["raw_pattern"],
                a["included_pattern"], ce["construction"] or "none (see report)",
            )  # fmt: skip
        _out.print(t)
    for line in result.skipped:
        _out.print(f"not available: {line}")


# -- Further subcommands register themselves here, e.g. `idlin sweep` from idlin/sweep:
from .sweep.cli import register as _register_sweep  # noqa: E402

_register_sweep(app)

from ._audit.cli import register as _register_audit  # noqa: E402

_register_audit(app)


def main() -> None:
    """Console-script entry point (`idlin = "idlin.cli:main"`): float64 on, then the app."""
    import jax

    jax.config.update("jax_enable_x64", True)
    app()
