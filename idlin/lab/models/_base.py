"""The shared head of every next-token model: `logits = f(x) Gᵀ + b` (docs/theory.md §1).

Subclasses provide the context encoder in two halves, `embed_tokens` (token ids → input vectors)
and `encode_embedded` (input vectors → `f(x)`), so the encoder is differentiable in its inputs
(the exact-Jacobian relational linearity of `idlin.lab.models.jacobian_relation`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jaxtyping import Array, Float, Int


class NextTokenModel(nnx.Module):
    """`p(y|x) = softmax(f(x)ᵀ g(y) + b(y))` with an unembedding table `G` (V×d), optional bias.

    Subclasses set `self.unembedding` (nnx.Param (V, d)) and `self.bias` (nnx.Param (V,) or None)
    and implement `embed_tokens` and `encode_embedded`.
    """

    unembedding: nnx.Param
    bias: nnx.Param | None

    def init_head(self, vocab_size: int, width: int, bias: bool, dtype, key: jax.Array) -> None:
        # Unit-variance logits at initialisation when f(x) has unit-scale coordinates.
        G = jax.random.normal(key, (vocab_size, width), dtype) / jnp.sqrt(width).astype(dtype)
        self.unembedding = nnx.Param(G)
        self.bias = nnx.Param(jnp.zeros((vocab_size,), dtype)) if bias else None

    def embed_tokens(self, contexts: Int[Array, "batch length"]) -> Float[Array, "batch length e"]:
        raise NotImplementedError

    def encode_embedded(self, h: Float[Array, "batch length e"]) -> Float[Array, "batch dim"]:
        raise NotImplementedError

    def encode(self, contexts: Int[Array, "batch length"]) -> Float[Array, "batch dim"]:
        """The context embeddings `f(x)` (B×d)."""
        return self.encode_embedded(self.embed_tokens(contexts))

    def unembeddings(self) -> Float[Array, "vocab dim"]:
        """`G` (V×d)."""
        return self.unembedding[...]

    def bias_vector(self) -> Float[Array, " vocab"] | None:
        """`b` (V,) or None."""
        return None if self.bias is None else self.bias[...]

    def __call__(self, contexts: Int[Array, "batch length"]) -> Float[Array, "batch vocab"]:
        """Logits `f(x)ᵀ g(y) + b(y)` (B×V)."""
        logits = self.encode(contexts) @ self.unembeddings().T
        b = self.bias_vector()
        return logits if b is None else logits + b[None, :]
