"""Model factory and export of a trained model to an `idlin.Predictor` (docs/theory.md §1).

A model is exported on a context set as `F = f(contexts)` (N×d) and `G` (V×d), plus the bias folded
in by `Predictor`, so every core routine applies to it.
"""

from __future__ import annotations

import inspect
from typing import Any

import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Int

from ...core._errors import ConfigError, ShapeError
from ...core._predictor import Predictor
from ._base import NextTokenModel
from ._mlp import MLPModel
from ._transformer import TransformerModel

ARCHITECTURES = {"mlp": MLPModel, "transformer": TransformerModel}


def make_model(
    architecture: str,
    *,
    vocab_size: int,
    context_length: int,
    width: int,
    rngs: nnx.Rngs,
    **options: Any,
) -> NextTokenModel:
    """Build a next-token model by name ("mlp" or "transformer"); `options` go to its constructor.

    Raises:
        ConfigError: unknown architecture, or options it does not take.
    """
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"architecture: expected one of {sorted(ARCHITECTURES)}, got {architecture!r}"
        )
    allowed = model_options(architecture)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{architecture}: unknown model options {unknown}; expected some of {sorted(allowed)}"
        )
    try:
        return ARCHITECTURES[architecture](
            vocab_size=vocab_size, context_length=context_length, width=width, rngs=rngs, **options
        )
    except TypeError as e:
        raise ConfigError(f"{architecture}: bad model options {sorted(options)}: {e}") from e


def model_options(architecture: str) -> tuple[str, ...]:
    """The keyword options of an architecture's constructor (besides the sizes and `rngs`)."""
    params = inspect.signature(ARCHITECTURES[architecture].__init__).parameters
    fixed = {"self", "vocab_size", "context_length", "width", "rngs"}
    return tuple(n for n, p in params.items() if n not in fixed and p.kind is p.KEYWORD_ONLY)


def as_model(model_or_state: Any) -> NextTokenModel:
    """A model from a model, or from `(graphdef, state)` as returned by `nnx.split`."""
    if isinstance(model_or_state, NextTokenModel):
        return model_or_state
    if isinstance(model_or_state, tuple) and len(model_or_state) == 2:
        model = nnx.merge(*model_or_state)
        if isinstance(model, NextTokenModel):
            return model
    raise TypeError(
        "expected an idlin next-token model or (graphdef, state) from nnx.split, got "
        f"{type(model_or_state).__name__}"
    )


def export_predictor(model_or_state: Any, contexts: Int[Array, "contexts length"]) -> Predictor:
    """The model as a `Predictor` on `contexts`: `F = f(contexts)`, `G`, bias (docs/theory.md §1).

    Args:
        model_or_state: a model (`MLPModel`, `TransformerModel`) or `(graphdef, state)`.
        contexts: (N, T) integer token ids.

    Returns:
        `Predictor(F, G, bias)`; with a bias its width is d + 1.

    Raises:
        ShapeError: contexts not a 2-D integer array.
    """
    model = as_model(model_or_state)
    contexts = jnp.asarray(contexts)
    if contexts.ndim != 2 or not jnp.issubdtype(contexts.dtype, jnp.integer):
        raise ShapeError(
            f"contexts: expected a 2-D integer array (N, T), got {contexts.dtype} {contexts.shape}"
        )
    return Predictor(model.encode(contexts), model.unembeddings(), model.bias_vector())
