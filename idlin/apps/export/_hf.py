"""Export a Hugging Face causal language model as a predictor `p(y|x) = softmax(f(x)ᵀ g(y) + b(y))`.

docs/theory.md §1: a model is compared on a finite set of N contexts. For each context x the
exporter runs the model once and records

- `f(x)`: the vector the LM head receives at the context's last (non-pad) position — the final
  hidden state *after* the final norm (GPT-2's `ln_f`, Llama's `norm`; for these architectures it
  equals `hidden_states[-1]` of `output_hidden_states=True`, which the tests check) — times any
  logit scale the architecture applies after the head (Cohere's `logit_scale`, Granite's
  `1/logits_scaling`), so that `f(x)ᵀ g(y) + b(y)` *are* the model's logits;
- `g(y)`: row y of the LM head's weight (V×d), `b(y)` its bias if it has one.

It then checks that `F Gᵀ + b` reproduces the model's own logits on every context (float64
arithmetic on the exported arrays vs the model's output) and reports the largest difference.
Architectures whose logits are not a softmax of `f·g` — final-logit soft-capping
`c·tanh(z/c)` (Gemma 2/3) — are refused; an architecture that transforms logits in a way this
module does not know fails the reproduction check instead of writing a wrong file.

With `prefixes`, every position of a text is a context (its prefix), from one forward pass.

torch and transformers are imported here only, lazily (`pip install 'idlin[hf]'`). Models load
through `_load.load_hf` (Hugging Face folders from safetensors only, or GGUF files; nothing
downloaded).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from jaxtyping import Float

from ...core._errors import DTypeError, ExportError, ShapeError
from ._load import load_hf, torch_modules

# Architectures that scale logits after the LM head, and the factor folded into f(x).
_SCALE_ATTRIBUTE = {
    "cohere": ("logit_scale", False),  # logits = head(h) · logit_scale
    "cohere2": ("logit_scale", False),
    "granite": ("logits_scaling", True),  # logits = head(h) / logits_scaling
    "granitemoe": ("logits_scaling", True),
    "granitemoeshared": ("logits_scaling", True),
    "granitemoehybrid": ("logits_scaling", True),
}


@dataclasses.dataclass(frozen=True)
class HFExport:
    """A model exported on N contexts: arrays, names and how well they reproduce its logits.

    Attributes:
        embeddings: `F` (N, d), row x is `f(x)` (logit scale folded in).
        unembeddings: `G` (V, d), the LM head weight.
        bias: `b` (V,), or None when the head has no bias.
        tokens: V token names (the tokenizer's strings, or `str(id)` without a tokenizer).
        contexts: N context names (the texts, or the ids joined by spaces).
        max_logit_error: `max_{x,y} |(F Gᵀ + b)[x, y] − logits_model[x, y]|`, in float64 on the
            arrays as stored.
        max_abs_logit: `max |logits_model|`, the scale of that error.
        logit_scale: the factor folded into `F` (1.0 for most architectures).
        model_type: the config's `model_type` (e.g. "gpt2", "llama").
    """

    embeddings: Float[np.ndarray, "contexts dim"]
    unembeddings: Float[np.ndarray, "vocab dim"]
    bias: Float[np.ndarray, " vocab"] | None
    tokens: tuple[str, ...]
    contexts: tuple[str, ...]
    max_logit_error: float
    max_abs_logit: float
    logit_scale: float
    model_type: str

    @property
    def width(self) -> int:
        """d, the hidden width (a bias adds one coordinate in the `Predictor`)."""
        return int(self.embeddings.shape[1])

    @property
    def caveat(self) -> str | None:
        """What the finite context set means when N < d (None otherwise), docs/theory.md §3–§4."""
        n, d = self.embeddings.shape
        d += self.bias is not None  # the bias is one more coordinate of f: [f; 1]
        if n >= d:
            return None
        width = f"{d} (with the bias coordinate)" if self.bias is not None else f"{d}"
        return (
            f"identifiability is relative to the N = {n} contexts exported: with N < d = {width}, "
            f"the embedding span E = rowspace(F) has dimension ≤ {n}, the model is not diverse, "
            "and its equivalence class (docs/theory.md §3–§5) is large — conclusions hold for "
            "these contexts only; export more contexts than the width for diversity"
        )

    def predictor(self):
        """The `idlin.Predictor` of these arrays (bias folded in)."""
        from ...core._predictor import Predictor

        return Predictor(self.embeddings, self.unembeddings, self.bias)

    def save(self, path: str | os.PathLike) -> None:
        """Write a predictor file (`idlin.core.io` format) with the bias as its own key and
        names."""
        from ...core import io

        io.save_arrays(
            path, self.embeddings, self.unembeddings, self.bias,
            tokens=self.tokens, contexts=self.contexts,
        )  # fmt: skip


def _logit_scale(config: Any) -> float:
    """The factor by which the architecture multiplies `head(h)`; refuses soft-capping."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    model_type = getattr(text, "model_type", "") or getattr(config, "model_type", "")
    cap = getattr(text, "final_logit_softcapping", None)
    if cap is not None:
        raise ExportError(
            f"{model_type}: final-logit soft-capping (logits = {cap}·tanh(z/{cap})) is not a "
            "softmax of f·g, so no exact predictor file exists; idlin refuses rather than "
            "export an approximation"
        )
    if model_type in _SCALE_ATTRIBUTE:
        name, inverse = _SCALE_ATTRIBUTE[model_type]
        value = float(getattr(text, name))
        return 1.0 / value if inverse else value
    return 1.0


def _token_names(tokenizer: Any, vocab: int) -> tuple[str, ...]:
    """The tokenizer's string for each id < V (`str(id)` where it has none, e.g. padded rows)."""
    if tokenizer is None:
        return tuple(str(i) for i in range(vocab))
    known = min(vocab, len(tokenizer))
    names = list(tokenizer.convert_ids_to_tokens(list(range(known))))
    names += [None] * (vocab - known)
    return tuple(str(i) if n is None else str(n) for i, n in enumerate(names))


def _encode(
    contexts: Sequence[str] | Sequence[Sequence[int]], tokenizer: Any, num_embeddings: int,
    max_positions: int | None,
) -> tuple[list[list[int]], tuple[str, ...]]:  # fmt: skip
    """Token ids and names of the contexts (texts through the tokenizer, or ids checked)."""
    if isinstance(contexts, str) or not isinstance(contexts, Sequence | np.ndarray):
        raise DTypeError(
            "contexts: expected a list of texts or of token-id lists, got "
            f"{type(contexts).__name__}"
        )
    if len(contexts) == 0:
        raise ShapeError("contexts: expected at least one context, got none")
    texts = all(isinstance(c, str) for c in contexts)
    if texts:
        if tokenizer is None:
            raise ExportError(
                "contexts: texts need a tokenizer, got none (the model folder has no tokenizer "
                "files: tokenizer.json, tokenizer.model, vocab.json, …): pass token ids instead "
                "(--token-ids)"
            )
        ids = [list(tokenizer(text, add_special_tokens=True)["input_ids"]) for text in contexts]
        names = tuple(c for c in contexts if isinstance(c, str))  # all of them (texts)
    else:
        ids = []
        for x, c in enumerate(contexts):
            if isinstance(c, str) or not isinstance(c, Sequence | np.ndarray):
                raise DTypeError(
                    f"contexts[{x}]: expected a token-id list (all contexts texts, or all id "
                    f"lists), got {type(c).__name__}"
                )
            row = list(c)
            if not all(isinstance(t, int | np.integer) and not isinstance(t, bool) for t in row):
                raise DTypeError(f"contexts[{x}]: expected integer token ids, got {row[:5]}")
            ids.append([int(t) for t in row])
        names = tuple(" ".join(map(str, row)) for row in ids)
    for x, row in enumerate(ids):
        if not row:
            raise (ExportError if texts else ShapeError)(
                f"contexts[{x}]: expected at least one token, got none"
                + (f" from the text {names[x][:40]!r} (an empty tokenizer?)" if texts else "")
            )
        bad = [t for t in row if not 0 <= t < num_embeddings]
        if bad:
            raise ExportError(
                f"contexts[{x}]: expected token ids in [0, {num_embeddings}) (the model's input "
                f"vocabulary), got {bad[:5]}"
            )
        if max_positions is not None and len(row) > max_positions:
            raise ExportError(
                f"contexts[{x}]: expected at most {max_positions} tokens (the model's "
                f"max_position_embeddings), got {len(row)}"
            )
    return ids, names


def _prefix_name(tokenizer: Any, ids: list[int]) -> str:
    """A prefix's name: its tokens decoded (special tokens kept), or its ids without a tokenizer."""
    if tokenizer is None:
        return " ".join(map(str, ids))
    return str(tokenizer.decode(ids, skip_special_tokens=False))


def _plan(
    ids: list[list[int]], names: tuple[str, ...], tokenizer: Any, prefixes: bool
) -> tuple[list[list[int]], tuple[str, ...]]:
    """`(positions per row, context names)`: which positions of each row become rows of F.

    Last-position export: position len − 1 of each row, named as given. Prefix export: every
    position k of each text (the context `ids[:k + 1]`), named by its decoded tokens, in text
    order; a prefix already exported from an earlier text (same token ids) is not repeated, so
    that F has no duplicate rows and names stay distinct.
    """
    if not prefixes:
        return [[len(row) - 1] for row in ids], names
    seen: set[tuple[int, ...]] = set()
    positions, out = [], []
    for row in ids:
        keep = []
        for k in range(len(row)):
            key = tuple(row[: k + 1])
            if key not in seen:
                seen.add(key)
                keep.append(k)
                out.append(_prefix_name(tokenizer, row[: k + 1]))
        positions.append(keep)
    return positions, tuple(out)


def _batch(rows: list[list[int]], pad_id: int, side: str, torch) -> tuple[Any, Any, Any]:
    """`(input_ids, attention_mask, position_ids)` for a batch padded on `side`.

    Positions count real tokens only (`cumsum(mask) − 1`), so a left-padded context sees the
    same positions as alone — GPT-2's absolute position embeddings would otherwise shift.
    """
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions


def _reproduction_rtol(dtype) -> float:
    """Allowed `max |Δlogit| / max(1, max |logit|)`: far above rounding, far below a missed
    scale or soft-cap (those change logits by O(1) relative)."""
    return 1e-3 if dtype.itemsize >= 4 else 3e-2


def export_hf(
    model: Any,
    tokenizer: Any = None,
    contexts: Sequence[str] | Sequence[Sequence[int]] = (),
    *,
    batch_size: int = 8,
    progress: bool = True,
    dtype: Any = np.float32,
    padding_side: str | None = None,
    prefixes: bool = False,
) -> HFExport:
    """Export a causal LM's `f` on N contexts and its LM head `g`, `b` (module docstring).

    Symbols (docs/theory.md §1): `F` (N×d) row x = `s·h(x)` with `h(x)` the LM head's input at
    context x's last position and `s` the architecture's logit scale; `G` (V×d) the head
    weight, `b` (V,) its bias; logits `F Gᵀ + b`.

    With `prefixes=True` every prefix of every text is a context: one forward pass per text
    gives `h` at each position k, which is `h(ids[:k+1])` because attention is causal — the same
    `f` as exporting each prefix on its own, for the cost of one pass. Contexts are then named
    by their decoded tokens; a prefix shared with an earlier text is exported once.

    Batches group contexts of similar length (sorted by length, so little padding) and ask the
    model for logits only at the positions exported (`logits_to_keep`, where the architecture
    takes it): the head's V-wide product is not spent on the other positions.

    Args:
        model: a transformers causal LM (`AutoModelForCausalLM`), or a local model folder or
            `.gguf` file (loaded by `load_hf`, which also supplies the tokenizer).
        tokenizer: its tokenizer, or None (then contexts must be token ids and tokens are
            named `str(id)`).
        contexts: N texts, or N lists of token ids (with `prefixes`, the texts whose prefixes
            are exported).
        batch_size: contexts (with `prefixes`: texts) per forward pass; memory ∝ batch · length
            · V for the logits with `prefixes`, batch · V without.
        progress: show a tqdm progress bar of contexts exported (on stderr).
        dtype: float32 or float64 for the exported arrays (float64 of a float32 model is exact).
        padding_side: "left" or "right"; default "right" with `prefixes`, else the tokenizer's,
            else "right". Either gives the same result (up to float rounding).
        prefixes: export every prefix of each text (above) instead of each text's last position.

    Returns:
        `HFExport` with the arrays, names and `max_logit_error` (the model is left in eval
        mode; its weights are not changed).

    Raises:
        MissingDependencyError: torch/transformers not installed.
        ExportError: no linear LM head, soft-capping, texts without a tokenizer, ids outside the
            vocabulary, contexts longer than the model allows, or arrays that do not reproduce
            the model's logits within `1e-3·max(1, max|logit|)` (3e-2 for 16-bit models).
        ShapeError, DTypeError: no contexts, an empty context, non-integer ids.

    Example:
        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> config = GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64, n_positions=8,
        ...                     bos_token_id=0, eos_token_id=0)
        >>> ex = export_hf(GPT2LMHeadModel(config), None, [[1, 2, 3], [4, 5]], progress=False)
        >>> ex.embeddings.shape, ex.unembeddings.shape, ex.contexts, ex.max_logit_error < 1e-5
        ((2, 16), (64, 16), ('1 2 3', '4 5'), True)
        >>> ex = export_hf(GPT2LMHeadModel(config), None, [[1, 2, 3], [1, 2, 5]], progress=False,
        ...                prefixes=True)
        >>> ex.contexts
        ('1', '1 2', '1 2 3', '1 2 5')
    """
    torch = torch_modules()
    from tqdm import tqdm

    if isinstance(model, str | os.PathLike):
        model, found = load_hf(model, progress=progress)
        tokenizer = found if tokenizer is None else tokenizer
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ShapeError(f"batch_size: expected an integer ≥ 1, got {batch_size!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise DTypeError(f"dtype: expected float32 or float64, got {dtype}")
    default_side = "right" if prefixes else getattr(tokenizer, "padding_side", None) or "right"
    side = padding_side or default_side
    if side not in ("left", "right"):
        raise ExportError(f"padding_side: expected 'left' or 'right', got {side!r}")

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not isinstance(head, torch.nn.Linear):
        raise ExportError(
            f"{type(model).__name__}: expected a causal LM whose output embeddings are a linear "
            f"LM head, got {type(head).__name__}"
        )
    config = model.config
    if getattr(config, "is_encoder_decoder", False):
        raise ExportError(
            f"{type(model).__name__}: expected a decoder-only causal LM, got an encoder-decoder "
            "model (its next-token distribution depends on two inputs)"
        )
    scale = _logit_scale(config)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    max_positions = getattr(text_config, "max_position_embeddings", None) or getattr(
        text_config, "n_positions", None
    )
    inputs = getattr(model.get_input_embeddings(), "num_embeddings", head.weight.shape[0])
    ids, given = _encode(contexts, tokenizer, inputs, max_positions)
    keep_at, names = _plan(ids, given, tokenizer, prefixes)
    starts = np.cumsum([0] + [len(k) for k in keep_at])  # row i's contexts: starts[i]:starts[i+1]
    pad_id = getattr(tokenizer, "pad_token_id", None)
    pad_id = 0 if pad_id is None else int(pad_id)  # any id: padded positions are masked

    G = head.weight.detach().to(torch.float64).cpu().numpy().astype(dtype)  # (V, d)
    b = (
        None
        if head.bias is None
        else head.bias.detach().to(torch.float64).cpu().numpy().astype(dtype)
    )
    G64, b64 = G.astype(np.float64), (0.0 if b is None else b.astype(np.float64))
    device = next(model.parameters()).device
    accepted = inspect.signature(model.forward).parameters
    captured: list[Any] = []
    hook = head.register_forward_pre_hook(lambda _module, args: captured.append(args[0]))
    F = np.empty((len(names), G.shape[1]), dtype=dtype)
    max_error = max_logit = 0.0
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch
    model.eval()
    try:
        with (
            torch.inference_mode(),
            tqdm(total=len(names), unit="context", desc="export", disable=not progress) as bar,
        ):
            for first in range(0, len(order), batch_size):
                batch = order[first : first + batch_size]
                input_ids, mask, positions = _batch([ids[i] for i in batch], pad_id, side, torch)
                width = input_ids.shape[1]
                # (row in batch, column in the padded batch, row of F) of every context exported
                shift = [width - len(ids[i]) if side == "left" else 0 for i in batch]
                pick_row = [r for r, i in enumerate(batch) for _ in keep_at[i]]
                pick_col = [shift[r] + k for r, i in enumerate(batch) for k in keep_at[i]]
                targets = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in batch])
                columns = torch.tensor(pick_col, dtype=torch.long)
                extra = {"position_ids": positions.to(device)} if "position_ids" in accepted else {}
                if "logits_to_keep" in accepted:  # logits only where exported
                    kept = torch.unique(columns)  # sorted
                    extra["logits_to_keep"] = kept.to(device)
                    columns = torch.searchsorted(kept, columns)
                captured.clear()
                out = model(
                    input_ids=input_ids.to(device), attention_mask=mask.to(device),
                    use_cache=False, **extra,
                )  # fmt: skip
                if len(captured) != 1:
                    raise ExportError(
                        f"{type(model).__name__}: expected one call of the LM head per forward "
                        f"pass, got {len(captured)}"
                    )
                pick = torch.tensor(pick_row, device=device), columns.to(device)
                h = captured[0][pick].to(torch.float64).cpu().numpy() * scale  # (n, d)
                F[targets] = h.astype(dtype)
                want = out.logits[pick].to(torch.float64).cpu().numpy()  # (n, V)
                got = F[targets].astype(np.float64) @ G64.T + b64
                max_error = max(max_error, float(np.max(np.abs(got - want))))
                max_logit = max(max_logit, float(np.max(np.abs(want))))
                bar.update(len(targets))
    finally:
        hook.remove()
    model_type = str(getattr(text_config, "model_type", type(model).__name__))
    limit = _reproduction_rtol(next(model.parameters()).dtype) * max(1.0, max_logit)
    if not max_error <= limit:  # also catches NaN
        raise ExportError(
            f"{model_type}: the exported F, G{', b' if b is not None else ''} do not reproduce "
            f"the model's logits: max |Δlogit| = {max_error:.3g} (max |logit| = "
            f"{max_logit:.3g}, tolerance {limit:.3g}); the architecture transforms logits after "
            "the LM head in a way idlin does not fold into f(x)"
        )
    for what, array in (("embeddings", F), ("unembeddings", G), ("bias", b)):
        if array is not None and not np.isfinite(array).all():
            raise ExportError(f"{model_type}: {what} contain NaN/Inf (in {dtype})")
    return HFExport(
        embeddings=F, unembeddings=G, bias=b, tokens=_token_names(tokenizer, G.shape[0]),
        contexts=names, max_logit_error=max_error, max_abs_logit=max_logit,
        logit_scale=scale, model_type=model_type,
    )  # fmt: skip
