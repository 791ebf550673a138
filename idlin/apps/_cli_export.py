"""`idlin export`: a local causal LM (Hugging Face folder or GGUF file) → a named predictor file.

    idlin export MODEL --contexts contexts.txt --out model.safetensors
    idlin export MODEL --token-ids ids.txt --out model.npz [--batch-size 8] [--dtype float64]
    idlin export model.gguf --prefixes texts.txt --out model.safetensors   # every prefix

Registered on the main app by `register(app)` (called from `idlin/apps/cli.py`). torch and
transformers are imported only when the command runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ._cli_errors import user_errors

_out = Console(width=110)


def export(
    model_dir: Annotated[
        Path,
        typer.Argument(
            help="Local model: a folder (config.json, *.safetensors, tokenizer) or a .gguf file "
            "(or a folder holding one)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Predictor file to write (.safetensors or .npz).")
    ],
    contexts: Annotated[
        Path | None, typer.Option("--contexts", help="Text file, one context per line.")
    ] = None,
    token_ids: Annotated[
        Path | None,
        typer.Option("--token-ids", help="One context per line as whitespace-separated token ids."),
    ] = None,
    prefixes: Annotated[
        Path | None,
        typer.Option(
            "--prefixes",
            help="Text file, one text per line: every prefix of each text is a context (one "
            "forward pass per text), named by its decoded tokens.",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Contexts (with --prefixes: texts) per forward pass.")
    ] = 8,
    dtype: Annotated[str, typer.Option(help="Stored precision: float32 or float64.")] = "float32",
    padding_side: Annotated[
        str | None,
        typer.Option(
            help="Pad batches on the 'left' or 'right' (default: the tokenizer's; right with "
            "--prefixes)."
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """Export F (last hidden state after the final norm), G (LM head), bias and names.

    With --prefixes, F has a row for every prefix of every text (the hidden state at each
    position of one forward pass per text).

    Checks that F Gᵀ + b reproduces the model's logits on every context and prints the largest
    difference. Identifiability is relative to the contexts exported (docs/theory.md §3): with
    fewer contexts than the width, the class of equivalent models is large.
    """
    with user_errors(debug):
        from ..core import io
        from ..core._errors import ConfigError
        from .export import export_hf, load_hf, read_contexts, read_token_ids

        given = {
            flag: value for flag, value in
            (("--contexts", contexts), ("--token-ids", token_ids), ("--prefixes", prefixes))
            if value is not None
        }  # fmt: skip
        if len(given) != 1:
            raise ConfigError(
                "expected exactly one of --contexts FILE, --token-ids FILE or --prefixes FILE, "
                "got " + (" and ".join(given) if given else "neither")
            )
        if dtype not in ("float32", "float64"):
            raise ConfigError(f"--dtype: expected float32 or float64, got {dtype!r}")
        if out.is_dir():
            raise ConfigError(f"--out: expected a file to write, got the directory {out}")
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise ConfigError(
                f"--out: expected a writable directory for {out}, got {parent} "
                + ("(missing)" if not parent.is_dir() else "(not writable)")
            )
        io._format(out)  # refuse a bad suffix before loading a model
        ((flag, path),) = given.items()
        items = read_token_ids(path) if flag == "--token-ids" else read_contexts(path)
        model, tokenizer = load_hf(model_dir, progress=progress)
        start = time.perf_counter()
        result = export_hf(
            model, tokenizer, items, batch_size=batch_size, progress=progress, dtype=dtype,
            padding_side=padding_side, prefixes=prefixes is not None,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        result.save(out)
    n, d = result.embeddings.shape
    v = result.unembeddings.shape[0]
    bias = " + bias" if result.bias is not None else ""
    scale = f", logit scale {result.logit_scale:g} folded into F" if result.logit_scale != 1 else ""
    _out.print(
        f"wrote {out}: N = {n} contexts, V = {v} tokens, width d = {d}{bias} ({dtype}, "
        f"{result.model_type}{scale}), with token and context names",
        soft_wrap=True,
    )
    source = f"every prefix of {len(items)} texts" if prefixes is not None else "contexts"
    _out.print(
        f"exported {n} {source} in {seconds:.1f} s ({n / seconds:.1f} contexts/s, batch size "
        f"{batch_size})",
        soft_wrap=True,
    )
    _out.print(
        f"logits reproduced: max |F Gᵀ + b − model logits| = {result.max_logit_error:.2e} "
        f"(max |logit| = {result.max_abs_logit:.3g})",
        soft_wrap=True,
    )
    if result.caveat:
        _out.print(f"caveat: {result.caveat}", soft_wrap=True)
    _out.print(
        f"next: idlin inspect {out} --token-pairs pairs.tsv (token names or ids)", soft_wrap=True
    )


def register(app: typer.Typer) -> None:
    """Add `idlin export` to the main app."""
    app.command(name="export")(export)
