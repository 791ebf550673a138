"""A small causal transformer: `f(x)` is the last position's final hidden state, projected to
width d (docs/theory.md §1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ._base import NextTokenModel


class Block(nnx.Module):
    """Pre-norm block: `h + Attn(LN h)` (causal), then `h + MLP(LN h)`."""

    def __init__(self, embed: int, heads: int, dtype, rngs: nnx.Rngs) -> None:
        self.ln1 = nnx.LayerNorm(embed, param_dtype=dtype, rngs=rngs)
        # keep_rngs=False: no RNG state in the module, so the state is Params only (vmappable).
        self.attn = nnx.MultiHeadAttention(
            num_heads=heads, in_features=embed, decode=False, deterministic=True, dtype=dtype,
            param_dtype=dtype, keep_rngs=False, rngs=rngs,
        )  # fmt: skip
        self.ln2 = nnx.LayerNorm(embed, param_dtype=dtype, rngs=rngs)
        self.fc1 = nnx.Linear(embed, 4 * embed, param_dtype=dtype, rngs=rngs)
        self.fc2 = nnx.Linear(4 * embed, embed, param_dtype=dtype, rngs=rngs)

    def __call__(self, h, mask):
        h = h + self.attn(self.ln1(h), mask=mask)
        return h + self.fc2(jax.nn.gelu(self.fc1(self.ln2(h))))


class TransformerModel(NextTokenModel):
    """Token + learned position embeddings, `layers` causal blocks, final LayerNorm, linear to d.

    Args:
        vocab_size: V; context_length: T; width: d.
        embed: model width e (divisible by `heads`); layers; heads.
        bias: a per-token output bias. dtype: parameter dtype. rngs: `nnx.Rngs`.
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        context_length: int,
        width: int,
        embed: int = 32,
        layers: int = 2,
        heads: int = 2,
        bias: bool = False,
        dtype=jnp.float32,
        rngs: nnx.Rngs,
    ) -> None:
        self.embed = nnx.Embed(vocab_size, embed, param_dtype=dtype, rngs=rngs)
        self.position = nnx.Param(
            0.02 * jax.random.normal(rngs.params(), (context_length, embed), dtype)
        )
        self.blocks = nnx.List([Block(embed, heads, dtype, rngs) for _ in range(layers)])
        self.ln_f = nnx.LayerNorm(embed, param_dtype=dtype, rngs=rngs)
        self.out = nnx.Linear(embed, width, param_dtype=dtype, rngs=rngs)
        self.init_head(vocab_size, width, bias, dtype, rngs.params())

    def embed_tokens(self, contexts):
        return self.embed(contexts)  # (B, T, e)

    def encode_embedded(self, h):
        T = h.shape[1]
        h = h + self.position[...][None, :T]
        mask = jnp.tril(jnp.ones((T, T), bool))[None, None]  # (1, 1, T, T) causal
        # Flax's LayerNorm promotes its statistics with float32, which strict dtype promotion
        # rejects for float64 models; the outputs keep the parameter dtype either way.
        with jax.numpy_dtype_promotion("standard"):
            for block in self.blocks:
                h = block(h, mask)
            return self.out(self.ln_f(h[:, -1]))  # (B, d): the last position predicts x_{T+1}
