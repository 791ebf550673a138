"""Sampling members of a distribution-equivalence class: the moves of THEORY §5.

Every move keeps the centered log-odds `C = F Ĝᵀ` unchanged; composing them samples the class.
Moves are applied in the order given, each recomputing the spans it needs from the *current*
model — adding an invisible embedding part and an invisible unembedding part against the old
spans would break equivalence, because `h(x)ᵀ k(y)` need not vanish (§5, move 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._errors import ConfigError
from ._predictor import Predictor, as_predictor
from ._subspaces import minimal, subspaces

MOVES = (
    "basis",  # 1. f ↦ M f, g ↦ M^{-ᵀ} g, M invertible with a chosen condition number
    "shift",  # 2. g ↦ g + c
    "embedding_null",  # 3. f(x) ↦ f(x) + h(x), h(x) ∈ U^⊥
    "unembedding_null",  # 4. g(y) ↦ g(y) + k(y), k(y) ∈ E^⊥ of the current f
    "widen",  # 5. f ↦ [f; a(x)], g ↦ [g; c'] (constant extra unembedding coordinates)
    "widen_unembedding",  # 5'. f ↦ [f; 0], g ↦ [g; k(y)] (zero extra embedding coordinates)
    "shrink",  # 6. the minimal model (φ, γ), width r
)
DEFAULT_MOVES = ("basis", "shift", "embedding_null", "widen", "unembedding_null", "basis")


def random_orthogonal(key: PRNGKeyArray, d: int, dtype=jnp.float32) -> Float[Array, "d d"]:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian with the sign of R's diagonal)."""
    Z = jax.random.normal(key, (d, d), dtype)
    Q, R = jnp.linalg.qr(Z)
    return Q * jnp.sign(jnp.diag(R))[None, :]


def random_invertible(
    key: PRNGKeyArray, d: int, *, condition: float = 10.0, dtype=jnp.float32
) -> Float[Array, "d d"]:
    """A random `M = Q₁ diag(s) Q₂ᵀ` with singular values log-spaced from 1 to `condition`, so
    `cond(M) = condition` exactly (up to rounding).

    Raises:
        ConfigError: `condition < 1` or `d < 1`.
    """
    if d < 1:
        raise ConfigError(f"d: expected a width ≥ 1, got {d}")
    if not condition >= 1.0:
        raise ConfigError(f"condition: expected a condition number ≥ 1, got {condition}")
    return _invertible(key, d, jnp.asarray(condition, dtype), dtype)


def _invertible(key, d: int, condition, dtype):
    """Traceable body of `random_invertible` (condition may be a traced scalar)."""
    k1, k2 = jax.random.split(key)
    s = jnp.exp(jnp.linspace(0.0, 1.0, d, dtype=dtype) * jnp.log(condition))
    return (random_orthogonal(k1, d, dtype) * s[None, :]) @ random_orthogonal(k2, d, dtype).T


def _rms(a: jax.Array) -> jax.Array:
    r = jnp.sqrt(jnp.mean(a**2))
    return jnp.where(r > 0, r, 1.0)


# Each move is one jitted program per shape: in a property suite, a handful of XLA compilations
# instead of one per eager primitive. Spans (ranks are data-dependent) are computed on the host
# and passed in as projectors.


@jax.jit
def _basis(F, G, key, condition):
    M = _invertible(key, F.shape[1], condition, F.dtype)
    # f ↦ M f  ⇔  F ↦ F Mᵀ;  g ↦ M^{-ᵀ} g  ⇔  G ↦ G M^{-1} (a solve, not an inverse).
    return F @ M.T, jnp.linalg.solve(M.T, G.T).T


@jax.jit
def _shift(G, key):
    c = jax.random.normal(key, (G.shape[1],), G.dtype) * _rms(G)
    return G + c[None, :]


@jax.jit
def _invisible(X, P, key, scale):
    """`X + Z(I − P)`: a random part orthogonal to the span that P projects onto."""
    Z = jax.random.normal(key, X.shape, X.dtype) * scale * _rms(X)
    return X + Z - Z @ P


def widen_embedding(
    p: Predictor, extra: Float[Array, "contexts k"], *, constant: Float[Array, " k"] | None = None
) -> Predictor:
    """`f ↦ [f; a(x)]`, `g ↦ [g; c']` (THEORY §5 move 5): the extra embedding coordinates
    `a(x)` (rows of `extra`) are arbitrary, the extra unembedding coordinates are one constant
    `c'` (default 0) for every token, so logits shift by `a(x)ᵀc'` per context and `C` is kept."""
    extra = jnp.asarray(extra, p.dtype)
    k = extra.shape[1]
    c = jnp.zeros((k,), p.dtype) if constant is None else jnp.asarray(constant, p.dtype)
    return Predictor(
        jnp.concatenate([p.embeddings, extra], axis=1),
        jnp.concatenate([p.unembeddings, jnp.broadcast_to(c[None, :], (p.vocab_size, k))], axis=1),
    )


def widen_unembedding(p: Predictor, extra: Float[Array, "vocab k"]) -> Predictor:
    """`f ↦ [f; 0]`, `g ↦ [g; k(y)]` (THEORY §5 move 5, mirrored): arbitrary extra unembedding
    coordinates against zero embedding coordinates. (Constant nonzero embedding coordinates
    would add the per-token term `c'ᵀk(y)` and change the distribution.)"""
    extra = jnp.asarray(extra, p.dtype)
    zeros = jnp.zeros((p.num_contexts, extra.shape[1]), p.dtype)
    return Predictor(
        jnp.concatenate([p.embeddings, zeros], axis=1),
        jnp.concatenate([p.unembeddings, extra], axis=1),
    )


def _move(p: Predictor, name: str, key, *, condition, null_scale, extra_width, rtol) -> Predictor:
    F, G = p.embeddings, p.unembeddings
    if name == "basis":
        return Predictor(*_basis(F, G, key, jnp.asarray(condition, F.dtype)))
    if name == "shift":
        return Predictor(F, _shift(G, key))
    if name == "embedding_null":  # rows of H(I − P_U) ∈ U^⊥
        PU = jnp.asarray(subspaces(p, rtol=rtol).projector("unembedding"), F.dtype)
        return Predictor(_invisible(F, PU, key, null_scale), G)
    if name == "unembedding_null":  # rows of K(I − P_E) ∈ E^⊥ of the current F
        PE = jnp.asarray(subspaces(p, rtol=rtol).projector("embedding"), G.dtype)
        return Predictor(F, _invisible(G, PE, key, null_scale))
    if name == "widen":
        ka, kc = jax.random.split(key)
        A = jax.random.normal(ka, (p.num_contexts, extra_width), F.dtype) * _rms(F)
        c = jax.random.normal(kc, (extra_width,), G.dtype) * _rms(G)
        return widen_embedding(p, A, constant=c)
    if name == "widen_unembedding":
        K = jax.random.normal(key, (p.vocab_size, extra_width), G.dtype) * _rms(G)
        return widen_unembedding(p, K)
    if name == "shrink":
        return minimal(p, rtol=rtol)
    raise ConfigError(f"moves: expected names from {MOVES}, got {name!r}")


def sample_equivalent(
    p: Predictor,
    *,
    key: PRNGKeyArray,
    moves: Sequence[str] = DEFAULT_MOVES,
    condition: float = 10.0,
    null_scale: float = 1.0,
    extra_width: int = 2,
    rtol: float | None = None,
) -> Predictor:
    """A random member of p's equivalence class, by composing the moves of THEORY §5.

    Moves (applied in order, each on the result of the previous one):
    `"basis"` `f ↦ M f, g ↦ M^{-ᵀ} g` with `cond(M) = condition`; `"shift"` `g ↦ g + c`;
    `"embedding_null"` `f ↦ f + h`, `h(x) ∈ U^⊥`; `"unembedding_null"` `g ↦ g + k`, `k(y) ∈ E^⊥`
    of the current f; `"widen"` `f ↦ [f; a(x)], g ↦ [g; c']`; `"widen_unembedding"`
    `f ↦ [f; 0], g ↦ [g; k(y)]`; `"shrink"` the minimal model `(φ, γ)`.

    Args:
        p: the predictor whose class is sampled.
        key: a JAX PRNG key (each move gets its own split).
        moves: move names, repeats allowed.
        condition: condition number of each basis change (≥ 1).
        null_scale: size of invisible parts relative to the RMS of F (or G).
        extra_width: coordinates added by each widen move (≥ 1).
        rtol: rank threshold for the spans the null moves project against.

    Returns:
        A predictor with the same `C` as p (up to rounding amplified by `condition`).

    Raises:
        ConfigError: an unknown move, `condition < 1`, `extra_width < 1`.

    Example:
        >>> import jax, numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(6, 3)), rng.normal(size=(5, 3)))
        >>> q = idlin.sample_equivalent(p, key=jax.random.key(0))
        >>> q.width, idlin.equivalent(p, q)
        (5, True)
    """
    p = as_predictor("p", p)
    unknown = [m for m in moves if m not in MOVES]
    if unknown:
        raise ConfigError(f"moves: expected names from {MOVES}, got {unknown}")
    if int(extra_width) < 1:
        raise ConfigError(f"extra_width: expected ≥ 1, got {extra_width}")
    if not condition >= 1.0:
        raise ConfigError(f"condition: expected a condition number ≥ 1, got {condition}")
    keys = jax.random.split(key, max(len(moves), 1))
    for name, k in zip(moves, keys, strict=False):
        p = _move(
            p,
            name,
            k,
            condition=float(condition),
            null_scale=float(null_scale),
            extra_width=int(extra_width),
            rtol=rtol,
        )
    return p
