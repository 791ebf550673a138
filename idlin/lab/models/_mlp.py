"""An MLP over the context: `f(x) = W₂ σ(W₁ [e(x_1); …; e(x_T)] + b₁) + b₂` (docs/theory.md §1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ...core._errors import ConfigError
from ._base import NextTokenModel

ACTIVATIONS = {"tanh": jnp.tanh, "gelu": jax.nn.gelu, "relu": jax.nn.relu, "identity": lambda h: h}


class MLPModel(NextTokenModel):
    """Token embeddings of each position, concatenated, one hidden layer, a linear map to width d.

    Args:
        vocab_size: V; context_length: T; width: d.
        hidden: hidden units; embed: token embedding size e.
        activation: "tanh" | "gelu" | "relu" | "identity" (an encoder affine in its inputs).
        bias: a per-token output bias `b(y)` (docs/theory.md §1: the same model one dimension up).
        dtype: parameter dtype.
        rngs: `nnx.Rngs`.
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        context_length: int,
        width: int,
        hidden: int = 64,
        embed: int = 16,
        activation: str = "tanh",
        bias: bool = False,
        dtype=jnp.float32,
        rngs: nnx.Rngs,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}"
            )
        self.activation = activation
        self.embed = nnx.Embed(vocab_size, embed, param_dtype=dtype, rngs=rngs)
        self.hidden = nnx.Linear(context_length * embed, hidden, param_dtype=dtype, rngs=rngs)
        self.out = nnx.Linear(hidden, width, param_dtype=dtype, rngs=rngs)
        self.init_head(vocab_size, width, bias, dtype, rngs.params())

    def embed_tokens(self, contexts):
        return self.embed(contexts)  # (B, T, e)

    def encode_embedded(self, h):
        h = h.reshape(h.shape[0], -1)  # (B, T·e)
        return self.out(ACTIVATIONS[self.activation](self.hidden(h)))  # (B, d)
