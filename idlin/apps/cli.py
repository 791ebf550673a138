"""The `idlin` command: `reproduce`, `verify`, `inspect` (a thin layer over the library).

    idlin reproduce [--out DIR] [--quick]     the main experiment on its embedded default
    idlin verify A B [--rtol X] [--json]      are two exported predictors equivalent? (exit 0/1/2)
    idlin inspect A [--pairs F] [--labels F]  which linear properties are identifiable?
    idlin --version

The command enables JAX float64 (`jax_enable_x64`) before anything is computed, so verification
and ranks run in float64 arithmetic whatever the files store (float32 files stay float32 in memory
and go through the float64-accumulated Gram route, docs/theory.md §3.2); equivalence and verdict
tolerances follow the *stored* precision.
Exit codes: 0 success (verify: equivalent; audit: invariant), 1 "no" (verify: near-equivalent
or not equivalent; audit: not invariant), 2 bad input (idlin's errors, usage errors, unreadable or
unwritable paths), 3 an unexpected error (a bug: rerun with `--debug`), 130 interrupted (Ctrl-C:
one line `idlin: interrupted; …`, `_cli_interrupt`). Errors print one line on stderr,
`idlin: error: ...`; `--debug` (after the command name, or `idlin --debug COMMAND ...`) prints
the traceback as well.

Help, `--version`, usage errors, a missing file for `verify`/`inspect`, an unwritable
`reproduce --out` and a missing `sweep` config answer without importing JAX or NumPy; the other
checks on files (the extension and contents of a predictor file, `audit`'s, `export`'s,
`study`'s and `sweep-summary`'s) import them first (`tests/test_cli_help.py` checks both lists).
Long commands show a progress bar with an estimate on a terminal (`_cli_progress`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ._cli_errors import (
    DEBUG,
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NO,
    EXIT_OK,
    error,
    user_errors,
)

app = typer.Typer(
    name="idlin",
    help="Identifiable linear properties of next-token predictors (Marconato et al., 2025).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_out = Console(width=110)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"idlin {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of any error (every command).")
    ] = False,
) -> None:
    """idlin: is a linear property of a language model a fact about its distribution, or about
    its coordinates? (Marconato et al., AISTATS 2025)"""
    del version
    DEBUG["on"] = DEBUG["on"] or debug


Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]


def _table(title: str, columns: Sequence[str]) -> Table:
    """A rich table whose cells are never wrapped or cut with "…" (see `_show`)."""
    t = Table(title=title)
    for col in columns:
        t.add_column(col, no_wrap=True, overflow="fold")
    return t


def _show(t: Table) -> None:
    """Print `t` at its natural width, wider than the console if it must be: a property or
    construction name is read whole, never as `relational_linea…`."""
    from rich.measure import Measurement

    width = Measurement.get(_out, _out.options.update_width(10_000), t).maximum
    (_out if width <= _out.width else Console(width=width)).print(t)


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
    with user_errors(debug):
        from ..core._errors import ConfigError
        from ..core._paths import require_file

        # Refused as `Precision(equivalence_rtol=...)` refuses it (a finite tolerance > 0), before
        # JAX loads; tests/test_precision_policy.py checks the two agree.
        if rtol is not None and not (math.isfinite(rtol) and rtol > 0):
            raise ConfigError(f"--rtol: expected a finite tolerance > 0, got {rtol}")
        for f in (a, b):
            require_file(f, "a predictor file")

        from ._cli_progress import steps
        from .report import VERIFY_STEPS

        with steps("reading", 1 + VERIFY_STEPS, quiet=as_json) as bar:
            bar.step(f"reading {a.name} and {b.name}")
            result = _compare_files(a, b, rtol, bar)
    if as_json:
        from .report import comparison_dict

        print(json.dumps(comparison_dict(result), indent=2))
    else:
        _print_verification(result, a, b)
    raise typer.Exit(EXIT_OK if result.equivalent else EXIT_NO)


def _compare_files(a: Path, b: Path, rtol: float | None, bar):
    """Read A and B (float32 stays float32: float64 arithmetic on the Gram route) and compare
    them with each model's tolerances following its stored dtype (`report.verify`)."""
    from ..core import io
    from ..core._errors import IncompatibleError
    from .report import verify as compare

    # load_named checks stored names against the sizes, as `inspect` does
    na, nb = io.load_named(a, dtype="compute"), io.load_named(b, dtype="compute")
    stored = (na.stored_dtype, nb.stored_dtype)
    pa, pb = na.predictor, nb.predictor
    if (pa.num_contexts, pa.vocab_size) != (pb.num_contexts, pb.vocab_size):
        raise IncompatibleError(
            f"{a} and {b} must share contexts and vocabulary: expected equal (N, V), got "
            f"A (N={pa.num_contexts}, V={pa.vocab_size}) and "
            f"B (N={pb.num_contexts}, V={pb.vocab_size})"
        )
    _same_names("contexts", na.contexts, nb.contexts, a, b)
    _same_names("tokens", na.tokens, nb.tokens, a, b)
    from ..core._precision import Precision

    policy = Precision(equivalence_rtol=rtol)
    return compare(pa, pb, stored=stored, precision=policy, say=bar.step)


def _same_names(what: str, x, y, a: Path, b: Path) -> None:
    """Two files that both name their contexts (tokens) must name them alike: models exported
    on different contexts or vocabularies are not comparable row by row (docs/theory.md §10)."""
    if x is None or y is None or x == y:
        return
    from ..core._errors import IncompatibleError

    i = next(i for i, (u, v) in enumerate(zip(x, y, strict=True)) if u != v)
    raise IncompatibleError(
        f"{a} and {b} must name their {what} alike: expected the same names, got {what} {i} "
        f"named {x[i]!r} in A and {y[i]!r} in B"
    )


def _print_verification(v, a: Path, b: Path) -> None:
    t = _table(
        "Models (docs/theory.md §3)",
        ("", "N", "V", "d", "stored", "r = rank C", "rank F", "rank Ĝ", "diverse", "gap at r",
         "σ_r/σ_r+1"),
    )  # fmt: skip
    for name, m in ((f"A {a.name}", v.p), (f"B {b.name}", v.q)):
        t.add_row(
            name, str(m.contexts), str(m.vocab), str(m.width), m.stored_dtype,
            str(m.effective_complexity), str(m.embedding_rank), str(m.unembedding_rank),
            "yes" if m.diverse else "no", _fmt(m.rank_gap, ".2e"), _fmt(m.log_odds_gap, ".2e"),
        )  # fmt: skip
    _show(t)
    for name, m in (("A", v.p), ("B", v.q)):
        if not m.clear_rank:
            _out.print(
                f"note: model {name} has no clear rank (a gap below 10 at k_f, k_g or r, counted "
                f"on {m.rank_rule}): its ranks are a threshold's choice; read the spectra "
                "(docs/theory.md §3)"
            )
    g = v.gap
    _out.print(
        f"gap (docs/theory.md §2): ‖C_A − C_B‖_F = {_fmt(g.frobenius)}, "
        f"relative {_fmt(g.relative)} "
        f"(tolerance {_fmt(v.tolerance, '.1e')}), max |ΔC| = {_fmt(g.max_abs)}, "
        f"mean KL(A‖B) = {_fmt(v.kl_pq)}, KL(B‖A) = {_fmt(v.kl_qp)} nats, "
        f"d_logit² = {_fmt(v.d_logit)}"
    )
    m = v.map
    what = "f_B = M f_A (Theorem L)" if m.theorem == "L" else "P_U f_B = T P_U f_A (Theorem EL)"
    cond = f", cond M = {_fmt(m.condition_number, '.2e')}" if m.condition_number else ""
    _out.print(
        f"map (docs/theory.md §4): {what}, rank {m.rank}{cond}; relative residuals: embeddings "
        f"{_fmt(m.embedding_residual)}, unembeddings {_fmt(m.unembedding_residual)}"
    )
    if v.verdict != "equivalent":
        r2 = "—" if v.canonical_r2 is None else f"{v.canonical_r2:.6f}"
        _out.print(
            f"fit (docs/theory.md §8): rank of C_B at the threshold tied to KL(A‖B): {v.fit_rank} "
            f"(A: {v.p.effective_complexity}); canonical R² at rank {v.reference_rank}: {r2}"
        )
    for note in v.notes:
        _out.print(f"note: {note}")
    _out.print(f"verdict: {v.verdict} ({_verdict_reason(v)})")


def _verdict_reason(v) -> str:
    """Why `v.verdict` (one of `idlin.compare`'s three words, as in `--json`): the relative gap
    against the equivalence tolerance and the near-equivalence bound."""
    gap, tol = f"relative gap {_fmt(v.gap.relative)}", _fmt(v.tolerance, ".1e")
    if v.verdict == "equivalent":
        return f"{gap} ≤ tolerance {tol}"
    if v.verdict == "near-equivalent":
        return (
            f"{gap} > tolerance {tol} but ≤ {v.near_tolerance:g}; equivalent at any tolerance "
            f"≥ {v.smallest_tolerance:.1e}"
        )
    return f"{gap} > tolerance {tol} and > {v.near_tolerance:g}"


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
    steering: Annotated[
        Path | None,
        typer.Option(help="A steering vector (d numbers, the model's coordinates): steering."),
    ] = None,
    holdout: Annotated[
        int,
        typer.Option(
            help="Hold out every N-th context pair to score relational faithfulness "
            "(0: fit and score in-sample)."
        ),
    ] = 4,
    tol: Annotated[
        float | None,
        typer.Option(
            help="Relative tolerance of the property verdicts (default √ε of the stored dtype; "
            "for a trained model choose one at the scale of its fit, e.g. 0.05)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the controls (shuffles, random draws).")] = 0,
    permutations: Annotated[
        int,
        typer.Option(
            help="Samples per control: shuffled pairings, random pairs, random labels, random "
            "vectors (0: no controls)."
        ),
    ] = 200,
    geometry: Annotated[
        str,
        typer.Option(
            help="Identifiable coordinates: 'isometric' (to rows of C) or 'whitened' (unit-scale "
            "canonical coordinates; docs/theory.md §6.5)."
        ),
    ] = "isometric",
    first_subtoken: Annotated[
        bool,
        typer.Option(
            "--first-subtoken",
            help="In --token-pairs, a word that is not one token stands for its first sub-token "
            "(opt-in; by default such a word is refused by name, docs/theory.md §10).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Is each linear property a fact about the distribution, or about these coordinates?

    Prints the effective complexity and diversity (docs/theory.md §3) and each requested property
    in raw and identifiable form with its inclusion condition (docs/theory.md §6–§7), its score
    against seeded controls, and "vacuous" where a verdict is no evidence (docs/theory.md §6.5).
    """
    with user_errors(debug):
        from ..core._paths import require_file

        require_file(a, "a predictor file")
        for option, f in (("--pairs", pairs), ("--token-pairs", token_pairs), ("--labels", labels)):
            if f is not None:
                require_file(f, f"a TSV file for {option}")

        from ..core import io
        from .report import inspect_model as examine

        # its names resolve named probe items; float32 stays float32 (float64 arithmetic on the
        # Gram route, docs/theory.md §3.2: a third of the memory of a float64 copy)
        named = io.load_named(a, dtype="compute")
        p, contexts, tokens = named.predictor, named.contexts, named.tokens
        probes: dict = {}
        if pairs is not None:
            probes["pairs"] = io.read_pairs(pairs, contexts, what="context")
        if token_pairs is not None:
            probes["token_pairs"] = io.read_pairs(
                token_pairs, tokens, what="token", first_subtoken=first_subtoken
            )
        if labels is not None:
            probes["labels"] = io.read_labels(labels, contexts, what="context")
        if steering is not None:
            probes["steering_vector"] = io.read_vector(steering, size=p.width)
        if holdout < 0:
            from ..core._errors import ConfigError

            raise ConfigError(f"--holdout: expected 0 (in-sample) or a period ≥ 1, got {holdout}")
        files = {"pairs": pairs, "token_pairs": token_pairs, "labels": labels, "steering": steering}
        sources = {k: f.name for k, f in files.items() if f is not None}
        result = examine(
            p, tol=tol, holdout=holdout, stored=named.stored_dtype, sources=sources,
            names={"contexts": contexts, "tokens": tokens}, seed=seed, permutations=permutations,
            geometry=geometry, **probes,
        )  # fmt: skip
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_inspection(result, a)


def _print_inspection(r, a: Path) -> None:
    from .report import verdict

    m, k = r.model, r.ranks
    _out.print(
        f"{a.name}: N = {m.contexts} contexts, V = {m.vocab} tokens, width d = {m.width} "
        f"({m.stored_dtype})"
    )
    _out.print(
        f"effective complexity r = rank C = {m.effective_complexity} (gap "
        f"{_fmt(k.rank_gap, '.2e')} on {k.rank_rule}); rank F = {m.embedding_rank} (gap "
        f"{_fmt(k.embedding_gap, '.2e')}), rank Ĝ = {m.unembedding_rank} (gap "
        f"{_fmt(k.unembedding_gap, '.2e')}); {'diverse' if m.diverse else 'not diverse'} "
        "(docs/theory.md §3)"
    )
    if not k.clear:
        _out.print(
            "note: a spectral gap is below 10, so that rank is a threshold's choice, not a clear "
            "fact; read the spectrum (--json)"
        )
    if m.contexts < m.width:
        _out.print(
            f"note: N = {m.contexts} contexts < width {m.width}: identifiability is relative to "
            "these contexts; E has dimension ≤ N and the class of equivalent models is large"
        )
    elif m.diverse:
        _out.print(
            f"note: N = {m.contexts} ≥ d and diverse: raw and identifiable verdicts agree "
            "(docs/theory.md §7.5); only the scores differ"
        )
    if not r.properties:
        _out.print("no probe files given: pass --pairs, --token-pairs, --labels or --steering")
        return
    t = _table(
        f"Linear properties, raw vs identifiable (docs/theory.md §6–§7; tol {r.tol:.1e})",
        ("#", "property", "side", "score", "raw: verdict (score)", "identifiable",
         "inclusion (res.)"),
    )  # fmt: skip
    for i, pr in enumerate(r.properties, start=1):
        t.add_row(
            str(i), pr.name, pr.side, pr.score_name,
            f"{verdict(pr.raw)} ({pr.raw.score:.3g})",
            f"{verdict(pr.identifiable)} ({pr.identifiable.score:.3g})",
            f"{'yes' if pr.raw.inclusion.holds else 'no'} ({pr.raw.inclusion.residual:.2g})",
        )  # fmt: skip
    _show(t)
    for i, pr in enumerate(r.properties, start=1):
        note = f" [{pr.raw.note}]" if pr.raw.note else ""
        _out.print(f"{i}. {pr.name} on {pr.probe}: {pr.reading}{note}", soft_wrap=True)
        raw, ident = pr.evidence.get("raw", ()), pr.evidence.get("identifiable", ())
        if raw == ident:
            raw, ident = (), [f"raw = identifiable: {line}" for line in raw]
        else:
            raw, ident = [f"raw: {x}" for x in raw], [f"identifiable: {x}" for x in ident]
        for line in (*raw, *ident):
            _out.print(f"   {line}", soft_wrap=True)
    if r.permutations:
        _out.print(
            f"controls: {r.permutations} samples each, seed {r.seed}; p = (1 + #{{control at "
            "least as strong}) / (1 + samples); identifiable scores in the "
            f"{r.geometry} geometry (docs/theory.md §6.5)",
            soft_wrap=True,
        )
    for i, pr in enumerate(r.properties, start=1):
        if pr.name == "parallelism":
            _print_pairs(i, pr)
    verdicts = [v for pr in r.properties for v in (pr.raw, pr.identifiable) if not v.vacuous]
    if r.default_tol and verdicts and not any(v.holds for v in verdicts):
        _out.print(
            f"hint: every verdict is 'no' at the default tol {r.tol:.1e} (√ε: exact properties "
            "only). A trained model never has them exactly: read the scores against their "
            "controls, or pass --tol at the scale of its fit (e.g. --tol 0.05).",
            soft_wrap=True,
        )


def _print_pairs(i: int, pr) -> None:
    """The per-pair table of a parallelism row: names, and each difference's cosine with the
    leading direction in both forms."""
    _out.print(f"{i}. {pr.side} parallelism per pair: cosine with the leading direction")
    t = Table()
    for col in ("pair", "raw cos", "identifiable cos"):
        t.add_column(col, no_wrap=True, overflow="fold")
    for row, ident in zip(pr.raw.pairs, pr.identifiable.pairs, strict=True):
        name = (
            f"{row.source_name}→{row.target_name}"
            if row.source_name is not None
            else f"{row.source}→{row.target}"
        )
        t.add_row(name, f"{row.cosine:.3f}", f"{ident.cosine:.3f}")
    _show(t)


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

    with user_errors(debug):
        from ..core._paths import writable_dir, write_text

        # Before computing: a run that cannot write its report must not train for a minute first.
        writable_dir(out, "--out")
        writable_dir(out / "models", "--out")

        from ..core import io
        from ..lab.reproduce import ReproduceConfig, model_stem, stages
        from ..lab.reproduce import reproduce as run
        from ._cli_interrupt import kept
        from ._cli_progress import steps
        from .report import write_report

        config = dataclasses.replace(ReproduceConfig.preset(quick=quick), seed=seed)
        kept(f"each file in {out} is whole (written atomically); rerun to write them all")
        with steps("starting", stages(config) + 1) as bar:

            def say(message: str) -> None:
                _out.print(f"[dim]·[/dim] {message}")
                bar.step(message)

            result, artifacts = run(config, say=say)
            say("writing the report and figures")
            written = write_report(result, artifacts, out)
            models = out / "models"
            for name, p in artifacts.truths.items():
                tokens, contexts = artifacts.names.get(name, (None, None))
                io.save(models / f"{model_stem(name)}.npz", p, tokens=tokens, contexts=contexts)
            for name, trained in artifacts.trained.items():
                tokens, contexts = artifacts.names.get(name, (None, None))
                for width, s, q in trained:
                    stem = model_stem(name, width, s)
                    io.save(models / f"{stem}.npz", q, tokens=tokens, contexts=contexts)
            probes = out / "probes"
            probes.mkdir(parents=True, exist_ok=True)
            for fname, text in artifacts.probes.items():
                write_text(probes / fname, text)
    _print_summary(result)
    _out.print(
        f"wrote {', '.join(p.name for p in written)}, models/*.npz and probes/ (pairs and labels "
        f"for every model, one steering_<model>.txt per model: a vector is in its model's "
        f"coordinates) to {out}/"
    )
    m, pr = f"{out}/models", f"{out}/probes"
    trained = model_stem("morphology", _widest(artifacts), 0)
    _out.print(
        f"in {result.seconds:.0f} s. Try: idlin verify {m}/morphology_truth.npz {m}/{trained}.npz "
        "(a trained model against its truth: KL both ways, its rank at the fit's threshold, "
        f"canonical R²), or idlin inspect {m}/morphology_truth.npz --pairs "
        f"{pr}/context_pairs.tsv --token-pairs {pr}/token_pairs.tsv --labels {pr}/labels.tsv "
        f"--steering {pr}/steering_morphology_truth.txt --holdout 0 (the report's property rows; "
        f"for {trained}.npz pass --steering {pr}/steering_{trained}.txt and a --tol at the "
        "scale of its fit, e.g. 0.05)"
    )


def _widest(artifacts) -> int:
    trained = artifacts.trained.get("morphology") or [(0, 0, None)]
    return max(w for w, _, _ in trained)


def _print_summary(result) -> None:
    t = _table(
        "Trained models (docs/theory.md §8)",
        ("truth", "r", "models", "mean KL to truth", "mean R² to truth", "seed gap (rel.)"),
    )
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
    _show(t)
    if result.properties:
        t = _table(
            "Morphology language: all or none (docs/theory.md §6–§7)",
            ("property", "side", "identifiable", "id. agrees", "raw: class", "raw: included",
             "counterexample"),
        )  # fmt: skip
        for p in result.properties:
            a, ce = p.all_or_none, p.counterexample
            t.add_row(
                p.name, p.side, "yes" if p.truth_identifiable[0] else "no",
                "yes" if a.identifiable_agrees else "no", a.raw_pattern,
                a.included_pattern, ce.construction or "none (see report)",
            )  # fmt: skip
        _show(t)
    for line in result.skipped:
        _out.print(f"not available: {line}")


# -- Further subcommands register themselves here, e.g. `idlin sweep` from idlin/lab/sweep:
from ._cli_sweep import register as _register_sweep  # noqa: E402

_register_sweep(app)
from ._cli_export import register as _register_export  # noqa: E402

_register_export(app)
from ._cli_study import register as _register_study  # noqa: E402

_register_study(app)
from ._cli_audit import register as _register_audit  # noqa: E402

_register_audit(app)


def _float64() -> None:
    """`jax_enable_x64` on before anything computes, without importing JAX here: JAX reads the
    environment variable when it is first imported (the fast paths never import it)."""
    if "jax" in sys.modules:
        sys.modules["jax"].config.update("jax_enable_x64", True)
    else:
        os.environ["JAX_ENABLE_X64"] = "1"


def compile_cache_dir() -> Path | None:
    """Where the CLI keeps JAX's persistent compilation cache: `$IDLIN_COMPILE_CACHE`, else
    `$XDG_CACHE_HOME/idlin/jax` (default `~/.cache/idlin/jax`); None when switched off
    (`IDLIN_COMPILE_CACHE=off`, or `0`) or when JAX's own `JAX_COMPILATION_CACHE_DIR` is set
    (the user's choice wins)."""
    chosen = os.environ.get("IDLIN_COMPILE_CACHE", "")
    if chosen.lower() in ("off", "0", "no", "false") or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "idlin" / "jax"


def _compile_cache() -> None:
    """A persistent compilation cache for the command (issue 23: small models are
    compile-bound): every compiled program is kept, so a second `idlin verify` of the same
    shapes skips XLA. Set through JAX's environment variables before JAX is imported; a process
    that has already imported JAX (a test calling `run`) is left as it is."""
    folder = compile_cache_dir()
    if folder is None or "jax" in sys.modules:
        return
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


def command():
    """The click command behind `app`, with flags shown without a `<bool>` value placeholder."""
    cmd = typer.main.get_command(app)
    _plain_flags(cmd)
    return cmd


def _seed_in_range(ctx, param, value):
    """A `--seed` callback: `0 ≤ seed ≤ 2⁶³ − 1` (`idlin.core._checks.MAX_SEED`; no JAX import)."""
    if value is not None and not 0 <= value <= 2**63 - 1:
        raise typer.BadParameter(f"expected a seed 0 ≤ seed ≤ 2**63 - 1, got {value}", ctx, param)
    return value


def _plain_flags(cmd) -> None:
    """Flags shown without a value placeholder; every `--seed` option of every command bounded
    to the seeds `jax.random.key` takes (a usage error, exit 2, instead of an OverflowError or
    a silently wrapped negative seed deep inside JAX); help paragraphs reflowed (`reflow`)."""
    import typer.models

    for param in [*cmd.params, cmd.get_help_option(typer.models.Context(cmd))]:
        if param is not None and getattr(param, "is_flag", False):
            param.metavar = ""  # rich help prints the metavar in place of the type `<bool>`
        if param is not None and param.name == "seed" and param.callback is None:
            param.callback = _seed_in_range
    if cmd.help:
        cmd.help = reflow(cmd.help)
    for sub in getattr(cmd, "commands", {}).values():
        _plain_flags(sub)


def reflow(doc: str) -> str:
    """A docstring as help text: each paragraph one line, which the help then wraps to the
    terminal (typer's rich help keeps single line breaks after the first paragraph, so a
    docstring wrapped at 100 columns printed as ragged half-lines); a paragraph starting with
    `\\b` is kept verbatim, as click does."""
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command on `argv` (default `sys.argv[1:]`) and return its exit code.

    Every way out is an exit code and, on failure, one `idlin: error: ...` line on stderr:
    usage errors and unreadable or unwritable paths exit 2 like other bad input; an unexpected
    exception exits 3 (1 means "not equivalent") and asks for `--debug`.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _compile_cache()
    _float64()
    DEBUG["on"] = False
    try:
        rv = command().main(args=args, prog_name="idlin", standalone_mode=False)
    except typer.Exit as e:  # raised outside a command's context (e.g. by a parameter callback)
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C outside typer's own handler
        return _interrupted()
    except typer.TyperException as e:  # usage errors: bad option, missing argument, bad value
        if type(e).__name__ == "NoArgsIsHelpError":
            return EXIT_BAD_INPUT  # `idlin` alone: the help was printed while raising this
        ctx = getattr(e, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        error(f"{e.format_message().rstrip('.')}{where}")
        return EXIT_BAD_INPUT
    except OSError as e:  # the environment, not idlin: a disk that is full or read-only, …
        if debug or DEBUG["on"]:
            traceback.print_exc()
        what = f"{e.filename}: " if e.filename else ""
        error(f"{what}{e.strerror or e}")
        return EXIT_BAD_INPUT
    except Exception as e:
        if debug or DEBUG["on"]:
            traceback.print_exc()
        error(
            f"unexpected {type(e).__name__}: {e} — a bug in idlin; rerun with --debug "
            "(e.g. `idlin --debug COMMAND ...`) and report the traceback"
        )
        return EXIT_INTERNAL
    if rv == EXIT_INTERRUPTED:  # typer's answer to KeyboardInterrupt (no command exits 130)
        return _interrupted()
    return rv if isinstance(rv, int) else EXIT_OK


def _interrupted() -> int:
    from ._cli_interrupt import message

    sys.stdout.flush()
    print(message(), file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def main() -> None:
    """Console-script entry point (`idlin = "idlin.apps.cli:main"`): Ctrl-C is taken by a watcher
    thread that prints one line and exits 130 at once (`idlin.apps._cli_interrupt`)."""
    from ._cli_interrupt import exit_now, guard

    guard()
    exit_now(run())
