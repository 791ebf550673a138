"""Sampling members of a distribution-equivalence class: the moves of docs/theory.md §5.

Every move keeps the centered log-odds `C = F Ĝᵀ` unchanged; composing them samples the class.
Moves are applied in the order given, each recomputing the spans it needs from the *current*
model — adding an invisible embedding part and an invisible unembedding part against the old
spans would break equivalence, because `h(x)ᵀ k(y)` need not vanish (§5, move 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._checks import prng_key, real_scalar
from ._deprecation import warn_renamed
from ._errors import ConfigError
from ._precision import Precision, with_legacy
from ._predictor import Predictor, as_predictor
from ._subspaces import minimal, subspaces

# The one vocabulary of the class's moves: `sample_equivalent` draws them, the symmetry audit
# (`_audit._generators`, as GENERATORS) parametrises them, in this order.
MOVES = (
    "basis",  # 1. f ↦ M f, g ↦ M^{-ᵀ} g, M invertible with a chosen condition number
    "shift",  # 2. g ↦ g + c
    "invisible_embedding",  # 3. f(x) ↦ f(x) + h(x), h(x) ∈ U^⊥
    "invisible_unembedding",  # 4. g(y) ↦ g(y) + k(y), k(y) ∈ E^⊥ of the current f
    "widen_embedding",  # 5. f ↦ [f; a(x)], g ↦ [g; c'] (constant extra unembedding coordinates)
    "widen_unembedding",  # 5'. f ↦ [f; 0], g ↦ [g; k(y)] (zero extra embedding coordinates)
    "shrink",  # 6. the minimal model (φ, γ), width r
)
# Old names `sample_equivalent` still accepts for one release (README, "Deprecations").
RENAMED_MOVES = {
    "embedding_null": "invisible_embedding",
    "unembedding_null": "invisible_unembedding",
    "widen": "widen_embedding",
}
DEFAULT_MOVES = (
    "basis", "shift", "invisible_embedding", "widen_embedding", "invisible_unembedding", "basis"
)  # fmt: skip

# The moves are a few small dense operations (a d×d QR and solve, Gaussian draws, one projection)
# done on the host in float64 NumPy and cast back to the model's dtype. As jitted JAX programs
# they cost one XLA compilation per move and per width — ~10 s for one `sample_equivalent` on a
# 100×8 model, against milliseconds of arithmetic. The JAX key still decides every draw: its
# key data seeds NumPy's generator (`_generator`). Spans (data-dependent ranks) come from
# `subspaces`, the one rank decision of the library.


def _generator(key: Any) -> np.random.Generator:
    """A NumPy generator seeded by a JAX PRNG key (typed `jax.random.key` or raw `PRNGKey`)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = np.asarray(key, dtype=np.uint32).ravel()
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


def _orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian with the sign of R's diagonal)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))[None, :]


def _invertible(rng: np.random.Generator, d: int, condition: float) -> np.ndarray:
    """`M = Q₁ diag(s) Q₂ᵀ`, singular values log-spaced from 1 to `condition` (float64)."""
    s = np.exp(np.linspace(0.0, 1.0, d) * np.log(condition))
    return (_orthogonal(rng, d) * s[None, :]) @ _orthogonal(rng, d).T


def random_orthogonal(key: PRNGKeyArray, d: int, dtype=jnp.float32) -> Float[Array, "d d"]:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian with the sign of R's diagonal),
    drawn with the JAX PRNG `key`."""
    return jnp.asarray(_orthogonal(_generator(key), d), dtype)


def random_invertible(
    key: PRNGKeyArray, d: int, *, condition: float = 10.0, dtype=jnp.float32
) -> Float[Array, "d d"]:
    """A random `M = Q₁ diag(s) Q₂ᵀ` with singular values log-spaced from 1 to `condition`, so
    `cond(M) = condition` exactly (up to rounding); `Q₁, Q₂` Haar-orthogonal, drawn with `key`.

    Raises:
        ConfigError: `condition < 1` or `d < 1`.

    Example:
        >>> import jax, numpy as np
        >>> M = random_invertible(jax.random.key(0), 4, condition=100.0, dtype=np.float64)
        >>> round(float(np.linalg.cond(M)), 6)
        100.0
    """
    if d < 1:
        raise ConfigError(f"d: expected a width ≥ 1, got {d}")
    if not condition >= 1.0:
        raise ConfigError(f"condition: expected a condition number ≥ 1, got {condition}")
    return jnp.asarray(_invertible(_generator(key), d, float(condition)), dtype)


def _rms(a: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(a**2)))
    return r if r > 0 else 1.0


def _host(p: Predictor) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(p.embeddings, np.float64), np.asarray(p.unembeddings, np.float64)


def _model(F: np.ndarray, G: np.ndarray, dtype: np.dtype) -> Predictor:
    return Predictor(F.astype(dtype, copy=False), G.astype(dtype, copy=False))


def _invisible(X: np.ndarray, P: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """`X + Z(I − P)`: a random part orthogonal to the span that P projects onto."""
    Z = rng.standard_normal(X.shape) * (scale * _rms(X))
    return X + Z - Z @ P


def widen_embedding(
    p: Predictor, extra: Float[Array, "contexts k"], *, constant: Float[Array, " k"] | None = None
) -> Predictor:
    """`f ↦ [f; a(x)]`, `g ↦ [g; c']` (docs/theory.md §5 move 5): the extra embedding coordinates
    `a(x)` (rows of `extra`) are arbitrary, the extra unembedding coordinates are one constant
    `c'` (default 0) for every token, so logits shift by `a(x)ᵀc'` per context and `C` is kept."""
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    A = np.asarray(extra, p.dtype)
    k = A.shape[1]
    c = np.zeros((k,), p.dtype) if constant is None else np.asarray(constant, p.dtype)
    return Predictor(
        np.concatenate([F, A], axis=1),
        np.concatenate([G, np.broadcast_to(c[None, :], (p.vocab_size, k))], axis=1),
    )


def widen_unembedding(p: Predictor, extra: Float[Array, "vocab k"]) -> Predictor:
    """`f ↦ [f; 0]`, `g ↦ [g; k(y)]` (docs/theory.md §5 move 5, mirrored): arbitrary extra
    unembedding
    coordinates against zero embedding coordinates. (Constant nonzero embedding coordinates
    would add the per-token term `c'ᵀk(y)` and change the distribution.)"""
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    K = np.asarray(extra, p.dtype)
    zeros = np.zeros((p.num_contexts, K.shape[1]), p.dtype)
    return Predictor(np.concatenate([F, zeros], axis=1), np.concatenate([G, K], axis=1))


def _move(
    p: Predictor, name: str, rng, *, condition, null_scale, extra_width, precision
) -> Predictor:
    if name == "shrink":
        return minimal(p, precision=precision)
    F, G = _host(p)
    if name == "basis":
        M = _invertible(rng, p.width, condition)
        # f ↦ M f  ⇔  F ↦ F Mᵀ;  g ↦ M^{-ᵀ} g  ⇔  G ↦ G M^{-1} (a solve, not an inverse).
        return _model(F @ M.T, np.linalg.solve(M.T, G.T).T, p.dtype)
    if name == "shift":
        return _model(F, G + rng.standard_normal(p.width) * _rms(G), p.dtype)
    if name == "invisible_embedding":  # rows of H(I − P_U) ∈ U^⊥
        PU = np.asarray(subspaces(p, precision=precision).projector("unembedding"), np.float64)
        return _model(_invisible(F, PU, rng, null_scale), G, p.dtype)
    if name == "invisible_unembedding":  # rows of K(I − P_E) ∈ E^⊥ of the current F
        PE = np.asarray(subspaces(p, precision=precision).projector("embedding"), np.float64)
        return _model(F, _invisible(G, PE, rng, null_scale), p.dtype)
    if name == "widen_embedding":
        A = rng.standard_normal((p.num_contexts, extra_width)) * _rms(F)
        c = rng.standard_normal(extra_width) * _rms(G)
        return widen_embedding(p, A.astype(p.dtype), constant=c.astype(p.dtype))
    if name == "widen_unembedding":
        K = rng.standard_normal((p.vocab_size, extra_width)) * _rms(G)
        return widen_unembedding(p, K.astype(p.dtype))
    raise ConfigError(f"moves: expected names from {MOVES}, got {name!r}")


def current_moves(where: str, moves: Sequence[str]) -> tuple[str, ...]:
    """`moves` with every old name (`RENAMED_MOVES`) replaced by its name in `MOVES`, warning
    once for the call when there was one."""
    moves = tuple(moves)
    old = {m: RENAMED_MOVES[m] for m in moves if isinstance(m, str) and m in RENAMED_MOVES}
    if old:
        warn_renamed(f"{where}(moves=...)", old, stacklevel=3)
    return tuple(RENAMED_MOVES.get(m, m) if isinstance(m, str) else m for m in moves)


def sample_equivalent(
    p: Predictor,
    *,
    key: PRNGKeyArray,
    moves: Sequence[str] = DEFAULT_MOVES,
    condition: float = 10.0,
    null_scale: float = 1.0,
    extra_width: int = 2,
    precision: Precision | None = None,
    rtol: float | None = None,
) -> Predictor:
    """A random member of p's equivalence class, by composing the moves of docs/theory.md §5.

    Moves (applied in order, each on the result of the previous one):
    `"basis"` `f ↦ M f, g ↦ M^{-ᵀ} g` with `cond(M) = condition`; `"shift"` `g ↦ g + c`;
    `"invisible_embedding"` `f ↦ f + h`, `h(x) ∈ U^⊥`; `"invisible_unembedding"` `g ↦ g + k`,
    `k(y) ∈ E^⊥` of the current f; `"widen_embedding"` `f ↦ [f; a(x)], g ↦ [g; c']`;
    `"widen_unembedding"` `f ↦ [f; 0], g ↦ [g; k(y)]`; `"shrink"` the minimal model `(φ, γ)`
    (`MOVES`; the old names "embedding_null", "unembedding_null", "widen" still work for
    this release and warn).

    Args:
        p: the predictor whose class is sampled.
        key: a JAX PRNG key; it seeds every random draw of the moves.
        moves: move names of `MOVES`, repeats allowed.
        condition: condition number of each basis change (≥ 1).
        null_scale: size of invisible parts relative to the RMS of F (or G).
        extra_width: coordinates added by each widen move (≥ 1).
        precision: the policy of the ranks of the spans the null moves project against, and
            of the minimal model.
        rtol: deprecated: `Precision(rank_rtol=...)`.

    Returns:
        A predictor with the same `C` as p (up to rounding amplified by `condition`).

    Raises:
        ConfigError: an unknown move, `condition < 1`, `extra_width < 1`.

    Example:
        >>> import jax, numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(6, 3)), rng.normal(size=(5, 3)))
        >>> q = idlin.sample_equivalent(p, key=jax.random.key(0))
        >>> q.width, bool(idlin.equivalent(p, q))
        (5, True)
    """
    precision = with_legacy("sample_equivalent", precision, rtol=("rank_rtol", rtol))
    p = as_predictor("p", p)
    moves = current_moves("sample_equivalent", moves)
    unknown = [m for m in moves if m not in MOVES]
    if unknown:
        raise ConfigError(f"moves: expected names from {MOVES}, got {unknown}")
    if int(extra_width) < 1:
        raise ConfigError(f"extra_width: expected ≥ 1, got {extra_width}")
    condition, null_scale = (
        real_scalar("condition", condition),
        real_scalar("null_scale", null_scale),
    )
    if not (condition >= 1.0 and np.isfinite(condition)):
        raise ConfigError(f"condition: expected a finite condition number ≥ 1, got {condition}")
    if not (null_scale >= 0.0 and np.isfinite(null_scale)):
        raise ConfigError(f"null_scale: expected a finite scale ≥ 0, got {null_scale}")
    prng_key("key", key)
    rng = _generator(key)  # one stream, consumed move after move in order
    for name in moves:
        p = _move(
            p,
            name,
            rng,
            condition=float(condition),
            null_scale=float(null_scale),
            extra_width=int(extra_width),
            precision=precision,
        )
    return p
