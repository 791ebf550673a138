"""The next-token predictor `p(y|x) = softmax(f(x)ᵀ g(y))` as an immutable pytree (docs/theory.md
§1).

A `Predictor` holds the embeddings `F` (N×d, one row per context of a fixed context set) and the
unembeddings `G` (V×d). A per-token bias is the same model one dimension up (`f ↦ [f; 1]`,
`g ↦ [g; b]`), so it is folded in at construction and every routine sees plain `(F, G)`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._errors import ArgumentError, DTypeError, NonFiniteError, ShapeError

# Above this many logits, the dense helpers (`log_probs`, `log_odds`) refuse: use the factored
# routines (`distribution_gap`, `subspaces`, `canonical`), which never build an N×V matrix.
DENSE_LIMIT = 1 << 26

_FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def as_float_matrix(name: str, value: Any, *, ndim: int = 2) -> jax.Array:
    """Check dtype and rank of one input array and return it as a JAX array (dtype kept)."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        try:
            value = np.asarray(value)
        except ValueError as e:  # a ragged nested list: NumPy's "inhomogeneous shape"
            raise ShapeError(
                f"{name}: expected a rectangular {ndim}-D array of numbers, got a ragged "
                f"{type(value).__name__} ({e})"
            ) from None
        dtype = value.dtype
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and not dtype.isnative:
        # Big-endian files (e.g. `>f8` from another platform): the numbers are fine, only the
        # byte order differs; JAX computes in native order.
        value = np.asarray(value).astype(dtype.newbyteorder("="))
        dtype = value.dtype
    if dtype not in _FLOAT_DTYPES:
        raise DTypeError(
            f"{name}: expected float32 or float64, got {dtype}"
            + (
                "; cast with .astype(np.float32)"
                if dtype.kind in "iub" or dtype.itemsize < 4
                else ""
            )
        )
    shape = tuple(np.shape(value))
    if len(shape) != ndim:
        want = "(rows, width)" if ndim == 2 else "(size,)"
        raise ShapeError(f"{name}: expected a {ndim}-D array {want}, got shape {shape}")
    return jnp.asarray(value)


def check_finite(name: str, value: jax.Array) -> None:
    try:
        finite = np.isfinite(np.asarray(value))  # on the host: no XLA compile per new shape
    except jax.errors.TracerArrayConversionError:
        return  # values are unknown under tracing; checked when the predictor is built eagerly
    if not finite.all():
        bad = int(finite.size - finite.sum())
        raise NonFiniteError(f"{name}: expected finite values, got {bad} NaN/Inf entries")


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True, init=False, eq=False)
class Predictor:
    """A next-token predictor `p(y|x) = softmax(f(x)ᵀ g(y))` on a fixed set of contexts.

    Symbols (docs/theory.md §1): `embeddings` is `F` (N×d), row `x` is `f(x)`; `unembeddings` is `G`
    (V×d), row `y` is `g(y)`; logits are `F Gᵀ`. A bias `b` (V,) is folded in as one more
    coordinate: `F ↦ [F, 1]`, `G ↦ [G, b]`, so `width` is then `d + 1`.

    Args:
        embeddings: (N, d) float32/float64, N ≥ 1 contexts.
        unembeddings: (V, d) float32/float64, V ≥ 2 tokens.
        bias: optional (V,) per-token bias.

    Raises:
        ShapeError: wrong ranks, empty context set, V < 2, widths that disagree.
        DTypeError: integer, boolean, float16, bfloat16, complex, string or object input
            (float32/float64 of either byte order are accepted).
        NonFiniteError: NaN or Inf anywhere.

    Example:
        >>> import numpy as np, idlin
        >>> p = idlin.Predictor(np.eye(3, 2), np.ones((4, 2)))
        >>> p.num_contexts, p.vocab_size, p.width
        (3, 4, 2)
    """

    embeddings: Float[Array, "contexts dim"]
    unembeddings: Float[Array, "vocab dim"]

    def __init__(self, embeddings: Any, unembeddings: Any, bias: Any = None) -> None:
        F = as_float_matrix("embeddings", embeddings)
        G = as_float_matrix("unembeddings", unembeddings)
        if F.shape[0] < 1:
            raise ShapeError(f"embeddings: expected at least 1 context, got shape {F.shape}")
        if G.shape[0] < 2:
            raise ShapeError(
                f"unembeddings: expected a vocabulary of at least 2 tokens, got shape {G.shape}"
            )
        if F.shape[1] != G.shape[1]:
            raise ShapeError(
                f"embeddings and unembeddings must share the width d: got F {F.shape} "
                f"and G {G.shape}"
            )
        if F.shape[1] < 1:
            raise ShapeError(f"expected width d ≥ 1, got F {F.shape}")
        if bias is not None:
            b = as_float_matrix("bias", bias, ndim=1)
            if b.shape[0] != G.shape[0]:
                raise ShapeError(
                    f"bias: expected shape ({G.shape[0]},) to match the vocabulary, got {b.shape}"
                )
            check_finite("bias", b)  # before folding, so a NaN is reported as the bias's
            b = b.astype(G.dtype)
            F = jnp.concatenate([F, jnp.ones((F.shape[0], 1), F.dtype)], axis=1)
            G = jnp.concatenate([G, b[:, None]], axis=1)
        if F.dtype != G.dtype:
            # One compute dtype per model: the wider of the two.
            dtype = np.promote_types(F.dtype, G.dtype)
            F, G = F.astype(dtype), G.astype(dtype)
        check_finite("embeddings", F)
        check_finite("unembeddings", G)
        object.__setattr__(self, "embeddings", F)
        object.__setattr__(self, "unembeddings", G)

    # -- pytree protocol: rebuilding from leaves skips validation (leaves may be tracers).
    def tree_flatten(self):
        return (self.embeddings, self.unembeddings), None

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        del aux
        obj = object.__new__(cls)
        object.__setattr__(obj, "embeddings", leaves[0])
        object.__setattr__(obj, "unembeddings", leaves[1])
        return obj

    # -- sizes
    @property
    def num_contexts(self) -> int:
        """N, the number of contexts the model is evaluated on."""
        return int(self.embeddings.shape[0])

    @property
    def vocab_size(self) -> int:
        """V, the number of tokens."""
        return int(self.unembeddings.shape[0])

    @property
    def width(self) -> int:
        """d, the representation width (including a folded-in bias coordinate)."""
        return int(self.embeddings.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.embeddings.dtype)

    @property
    def centered_unembeddings(self) -> Float[Array, "vocab dim"]:
        """`Ĝ = G − 1·mean_y(G)` (docs/theory.md §2)."""
        return center_rows(self.unembeddings)

    # -- dense quantities, small sizes only
    def _check_dense(self, what: str) -> None:
        size = self.num_contexts * self.vocab_size
        if size > DENSE_LIMIT:
            raise ShapeError(
                f"{what}: N·V = {size} exceeds the dense limit {DENSE_LIMIT}; use the factored "
                "routines (distribution_gap, subspaces, canonical) for large models"
            )

    def logits(self) -> Float[Array, "contexts vocab"]:
        """`F Gᵀ` (N×V)."""
        self._check_dense("logits")
        return self.embeddings @ self.unembeddings.T

    def log_probs(self) -> Float[Array, "contexts vocab"]:
        """`log p(y|x)` (N×V), by a max-shifted logsumexp so |logits| ≫ 1 cannot overflow."""
        return jax.nn.log_softmax(self.logits(), axis=-1)

    def log_odds(self) -> Float[Array, "contexts vocab"]:
        """The centered log-odds `C = F Ĝᵀ` (N×V), docs/theory.md §2:
        `C[x, y] = log p(y|x) − mean_{y'} log p(y'|x)`."""
        self._check_dense("log_odds")
        return self.embeddings @ self.centered_unembeddings.T

    def astype(self, dtype: Any) -> Predictor:
        """The same predictor in another float dtype."""
        return Predictor(self.embeddings.astype(dtype), self.unembeddings.astype(dtype))

    def __repr__(self) -> str:
        return (
            f"Predictor(contexts={self.num_contexts}, vocab={self.vocab_size}, "
            f"width={self.width}, dtype={self.dtype})"
        )


def center_rows(G: jax.Array) -> jax.Array:
    """Subtract the mean row: `Ĝ = G − 1·mean_y(G)`."""
    return G - jnp.mean(G, axis=0, keepdims=True)


def as_predictor(name: str, value: Any) -> Predictor:
    """Accept a `Predictor` (or anything with `embeddings`/`unembeddings` arrays) by name."""
    if isinstance(value, Predictor):
        return value
    raise ArgumentError(f"{name}: expected an idlin.Predictor, got {type(value).__name__}")
