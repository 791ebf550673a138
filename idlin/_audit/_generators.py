"""The generators of a predictor's class as parametrised members (docs/theory.md §5, §9).

Each generator of §9 is one family `θ ↦ (F_θ, G_θ)` of members of p's class, shared by the local
test (its tangent direction at θ = 0) and the global search (ascent over θ):

- `basis`: `M = Q₁ diag(σ) Q₂ᵀ` with `Q₁, Q₂` Cayley transforms of skew matrices (orthogonal for
  every θ, no `expm`) and `σ = exp(b·tanh s)`, so `cond M ≤ e^{2b} = max_condition` and
  `M⁻¹ = Q₂ diag(1/σ) Q₁ᵀ` needs no inversion: `F ↦ F Mᵀ`, `G ↦ G M⁻¹` (§5.1);
- `shift`: `G ↦ G + 1cᵀ` (§5.2);
- `invisible_embedding`: `F ↦ F + H(I − P_U)` (§5.3); `invisible_unembedding`:
  `G ↦ G + K(I − P_E)` (§5.4) — one generator per family, so each is a straight line in the class
  and §5.4's order question does not arise;
- `widen_embedding`: `([F, A], [G, 1c'ᵀ])`; `widen_unembedding`: `([F, 0], [G, K])` (§5.5);
- `shrink`: the minimal model (§5.6), a single point.

Additive parts are bounded, `reach · scale · tanh(θ)` entry-wise, with `scale` the RMS row norm of
the side they are added to divided by √(columns), so every member is a model of comparable size
and its equivalence can be verified at the precision policy's tolerance.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

GENERATORS = (
    "basis",
    "shift",
    "invisible_embedding",
    "invisible_unembedding",
    "widen_embedding",
    "widen_unembedding",
    "shrink",
)
SEARCHED = GENERATORS[:-1]
WIDENING = ("widen_embedding", "widen_unembedding")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Base:
    """What every member is built from: p's factors and the projectors of its spans.

    `P_U = V_Gᵀ diag(mask) V_G`, `P_E = V_Fᵀ diag(mask) V_F` from the Analysis' right singular
    vectors masked by the ranks `k_g`, `k_f` (docs/theory.md §3); `scale_f`, `scale_g` the RMS
    entries of F and of Ĝ (the units of the additive parts)."""

    F: jax.Array
    G: jax.Array
    P_U: jax.Array
    P_E: jax.Array
    scale_f: jax.Array
    scale_g: jax.Array


def base_of(a) -> Base:
    """A `Base` from an `idlin.Analysis`."""
    mf, mg, _ = a.masks()
    VF = a.embedding_right * mf[:, None].astype(a.embedding_right.dtype)
    VG = a.unembedding_right * mg[:, None].astype(a.unembedding_right.dtype)
    F, G = a.embeddings, a.unembeddings
    rms = lambda X: jnp.sqrt(jnp.mean(jnp.square(X)))  # noqa: E731
    sf = rms(F)
    sg = rms(a.centered_unembeddings)
    one = jnp.ones((), F.dtype)
    return Base(
        F=F,
        G=G,
        P_U=VG.T @ VG,
        P_E=VF.T @ VF,
        scale_f=jnp.where(sf > 0, sf, one),
        scale_g=jnp.where(sg > 0, sg, one),
    )


def _cayley(S):
    """`(I − K)(I + K)⁻¹` with `K = (S − Sᵀ)/2` skew: orthogonal for every S (I + K is always
    invertible, its eigenvalues are 1 + iλ)."""
    K = 0.5 * (S - S.T)
    eye = jnp.eye(S.shape[0], dtype=S.dtype)
    return jnp.linalg.solve((eye + K).T, (eye - K).T).T


def shapes(name: str, N: int, V: int, d: int, extra: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the parameters θ of generator `name`."""
    return {
        "basis": {"left": (d, d), "right": (d, d), "log_sv": (d,)},
        "shift": {"c": (d,)},
        "invisible_embedding": {"H": (N, d)},
        "invisible_unembedding": {"K": (V, d)},
        "widen_embedding": {"A": (N, extra), "c": (extra,)},
        "widen_unembedding": {"K": (V, extra)},
    }[name]


def member(name: str, theta: dict, b: Base, *, max_condition: float, reach: float):
    """`(F_θ, G_θ)`: the member of generator `name` at parameters θ (θ = 0 gives p, or the
    zero-padded p for the widenings)."""
    F, G = b.F, b.G
    d = F.shape[1]
    if name == "basis":
        half_log = 0.5 * math.log(max_condition)
        sv = jnp.exp(half_log * jnp.tanh(theta["log_sv"]))
        Q1, Q2 = _cayley(theta["left"]), _cayley(theta["right"])
        return (F @ Q2) * sv[None, :] @ Q1.T, (G @ Q2) / sv[None, :] @ Q1.T
    if name == "shift":
        c = reach * b.scale_g * jnp.tanh(theta["c"])
        return F, G + c[None, :]
    if name == "invisible_embedding":
        H = reach * b.scale_f * jnp.tanh(theta["H"])
        eye = jnp.eye(d, dtype=F.dtype)
        return F + H @ (eye - b.P_U), G
    if name == "invisible_unembedding":
        K = reach * b.scale_g * jnp.tanh(theta["K"])
        eye = jnp.eye(d, dtype=F.dtype)
        return F, G + K @ (eye - b.P_E)
    if name == "widen_embedding":
        A = reach * b.scale_f * jnp.tanh(theta["A"])
        c = reach * b.scale_g * jnp.tanh(theta["c"])
        return (
            jnp.concatenate([F, A], axis=1),
            jnp.concatenate([G, jnp.broadcast_to(c[None, :], (G.shape[0], c.shape[0]))], axis=1),
        )
    if name == "widen_unembedding":
        K = reach * b.scale_g * jnp.tanh(theta["K"])
        return (
            jnp.concatenate([F, jnp.zeros((F.shape[0], K.shape[1]), F.dtype)], axis=1),
            jnp.concatenate([G, K], axis=1),
        )
    raise KeyError(name)


def padded(F, G, extra: int):
    """The zero-padded model `([F, 0], [G, 0])` of width d + extra (§9.1, widening)."""
    zf = jnp.zeros((F.shape[0], extra), F.dtype)
    zg = jnp.zeros((G.shape[0], extra), G.dtype)
    return jnp.concatenate([F, zf], axis=1), jnp.concatenate([G, zg], axis=1)
