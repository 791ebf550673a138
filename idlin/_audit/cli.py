"""`idlin audit`: the symmetry audit (docs/theory.md §9) of one of the catalogue's measures on an
exported model.

    idlin audit MODEL.npz --measure NAME [--pairs pairs.tsv] [--reference REF.npz]
                [--budget N] [--starts K] [--seed S] [--json]

Exit codes as `verify`: 0 invariant on every generator, 1 not invariant, 2 bad input (one line
`idlin: error: …` on stderr). Registered on the main app by `register(app)` (from idlin/cli.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

# Measures against a fixed reference model: they need --reference.
REFERENCE_MEASURES = (
    "mcca_embeddings",
    "mcca_unembeddings",
    "cka_embeddings",
    "d_rep_second",
    "d_rep_first",
    "d_logit",
    "m_svd",
)


def audit(
    model: Annotated[Path, typer.Argument(help="Predictor file (.safetensors or .npz).")],
    measure: Annotated[
        str, typer.Option(help="A catalogue measure, e.g. raw_cosine (see docs/report_card.md).")
    ],
    pairs: Annotated[
        Path | None,
        typer.Option(help="TSV of context pairs 'a<TAB>b' (cosine, parallelism, faithfulness)."),
    ] = None,
    reference: Annotated[
        Path | None, typer.Option(help="Reference predictor of the two-model measures.")
    ] = None,
    budget: Annotated[int, typer.Option(help="Adam steps per start of the search.")] = 100,
    starts: Annotated[int, typer.Option(help="Random starts per generator.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the probes and the search.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as JSON.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """Is a measure of this model identifiable? Audit it along every generator of its class."""
    from .._cli_errors import EXIT_NO, EXIT_OK, user_errors

    with user_errors(debug):
        import jax
        import numpy as np

        from .. import io
        from .._analysis import analyze
        from .._errors import ConfigError, IncompatibleError
        from .._precision import Precision
        from . import MEASURES
        from ._audit import audit as run
        from ._catalogue import build, default_probes

        if measure not in MEASURES:
            raise ConfigError(f"--measure: expected one of {', '.join(MEASURES)}, got {measure!r}")
        if budget < 1 or starts < 1:
            raise ConfigError(f"--budget/--starts: expected ≥ 1, got {budget} and {starts}")
        arrays = io.read_arrays(model)
        p = io.from_arrays(arrays, dtype=np.float64, source=str(model))
        ref = None
        if measure in REFERENCE_MEASURES:
            if reference is None:
                raise ConfigError(f"--reference: measure {measure!r} needs a reference model file")
            ref = io.from_arrays(io.read_arrays(reference), dtype=np.float64, source=str(reference))
            if (ref.num_contexts, ref.vocab_size) != (p.num_contexts, p.vocab_size):
                raise IncompatibleError(
                    f"{model} and {reference} must share contexts and vocabulary: expected "
                    f"(N={p.num_contexts}, V={p.vocab_size}), got "
                    f"(N={ref.num_contexts}, V={ref.vocab_size})"
                )
        probes = default_probes(
            p, seed=seed, reference=ref, pairs=None if pairs is None else io.read_pairs(pairs)
        )
        a = analyze(p, precision=Precision(stored=io.stored_dtype(arrays)))
        result = run(
            build(measure, probes), a, key=jax.random.key(seed), budget=budget, starts=starts
        )
    if as_json:
        print(json.dumps({"model": str(model), "measure": measure, **result.to_dict()}, indent=2))
    else:
        print(f"{model.name}: {MEASURES[measure][0]}")
        print(result)
    raise typer.Exit(EXIT_OK if result.invariant else EXIT_NO)


def register(app: typer.Typer) -> None:
    """Add `idlin audit` to the main app."""
    app.command(name="audit")(audit)
