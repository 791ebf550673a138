"""The generators of a predictor's class as parametrised members (docs/theory.md §5, §9).

Each generator of §9 is one family `θ ↦ (F_θ, G_θ)` of members of p's class, shared by the local
test (its tangent direction at θ = 0) and the global search (ascent over θ):

- `basis`: `M = Q₁ diag(σ) Q₂ᵀ` with `Q₁, Q₂` Cayley transforms of skew matrices (orthogonal for
  every θ, no `expm`) and `σ = exp(b·tanh s)`, so `cond M ≤ e^{2b} = max_condition` and
  `M⁻¹ = Q₂ diag(1/σ) Q₁ᵀ` needs no inversion: `F ↦ F Mᵀ`, `G ↦ G M⁻¹` (§5.1), each one product
  with a d×d matrix formed first (one `(N + V)d²` pass, not two);
- `shift`: `G ↦ G + 1cᵀ` (§5.2);
- `invisible_embedding`: `F ↦ F + H Bᵤᵀ` (§5.3); `invisible_unembedding`: `G ↦ G + K Bₑᵀ`
  (§5.4), with `Bᵤ` (d×(d − k_g)) and `Bₑ` (d×(d − k_f)) orthonormal bases of `U^⊥` and `E^⊥`
  (`Bᵤ Bᵤᵀ = I − P_U`): θ has exactly the family's dimension (`N(d − k_g)`, `V(d − k_f)`), and a
  family of dimension 0 (full rank, e.g. every real LM with N > d) is p alone and is not searched.
  One generator per family, so each is a straight line in the class and §5.4's order question
  does not arise;
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
import numpy as np

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
    vectors masked by the ranks `k_g`, `k_f` (docs/theory.md §3); `null_u` (d×(d − k_g)) and
    `null_e` (d×(d − k_f)) orthonormal bases of their complements; `scale_f`, `scale_g` the RMS
    entries of F and of Ĝ (the units of the additive parts)."""

    F: jax.Array
    G: jax.Array
    P_U: jax.Array
    P_E: jax.Array
    null_u: jax.Array
    null_e: jax.Array
    scale_f: jax.Array
    scale_g: jax.Array

    def astype(self, dtype) -> Base:
        """The same base in another float dtype (the search runs in the stored precision)."""
        return jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), self)


def _complement(right, rank: int, d: int, dtype) -> np.ndarray:
    """An orthonormal basis (d×(d − rank)) of the complement of the first `rank` right singular
    vectors (rows of `right`): the last columns of a full QR of their transpose."""
    B = np.asarray(right, np.float64)[:rank].T  # (d, rank), orthonormal columns
    if rank == 0:
        return np.eye(d, dtype=dtype)
    Q, _ = np.linalg.qr(B, mode="complete")
    return Q[:, rank:].astype(dtype)


def base_of(a, F=None, G=None) -> Base:
    """A `Base` from an `idlin.Analysis` (eager: the complements' widths are the ranks'), on
    the Analysis' factors or on `F`, `G` given (the same model in another dtype)."""
    mf, mg, _ = a.masks()
    VF = a.embedding_right * mf[:, None].astype(a.embedding_right.dtype)
    VG = a.unembedding_right * mg[:, None].astype(a.unembedding_right.dtype)
    F = a.embeddings if F is None else F
    G = a.unembeddings if G is None else G
    dtype = F.dtype
    d = F.shape[1]
    rms = lambda X: jnp.sqrt(jnp.mean(jnp.square(X)))  # noqa: E731
    sf = rms(F)
    sg = rms(a.centered_unembeddings).astype(dtype)
    one = jnp.ones((), dtype)
    return Base(
        F=F,
        G=G,
        P_U=(VG.T @ VG).astype(dtype),
        P_E=(VF.T @ VF).astype(dtype),
        null_u=jnp.asarray(_complement(a.unembedding_right, int(a.unembedding_rank), d, dtype)),
        null_e=jnp.asarray(_complement(a.embedding_right, int(a.embedding_rank), d, dtype)),
        scale_f=jnp.where(sf > 0, sf, one),
        scale_g=jnp.where(sg > 0, sg, one),
    )


def _cayley(S):
    """`(I − K)(I + K)⁻¹` with `K = (S − Sᵀ)/2` skew: orthogonal for every S (I + K is always
    invertible, its eigenvalues are 1 + iλ)."""
    K = 0.5 * (S - S.T)
    eye = jnp.eye(S.shape[0], dtype=S.dtype)
    return jnp.linalg.solve((eye + K).T, (eye - K).T).T


def shapes(name: str, b: Base, extra: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the parameters θ of generator `name` on base b (empty dims: a trivial
    family)."""
    N, d = b.F.shape
    V = b.G.shape[0]
    return {
        "basis": {"left": (d, d), "right": (d, d), "log_sv": (d,)},
        "shift": {"c": (d,)},
        "invisible_embedding": {"H": (N, b.null_u.shape[1])},
        "invisible_unembedding": {"K": (V, b.null_e.shape[1])},
        "widen_embedding": {"A": (N, extra), "c": (extra,)},
        "widen_unembedding": {"K": (V, extra)},
    }[name]


def trivial(name: str, b: Base) -> bool:
    """Whether generator `name`'s family is p alone (an invisible part of a full-rank side)."""
    return any(0 in s for s in shapes(name, b, 1).values())


def member(name: str, theta: dict, b: Base, *, max_condition: float, reach: float):
    """`(F_θ, G_θ)`: the member of generator `name` at parameters θ (θ = 0 gives p, or the
    zero-padded p for the widenings)."""
    F, G = b.F, b.G
    if name == "basis":
        half_log = 0.5 * math.log(max_condition)
        sv = jnp.exp(half_log * jnp.tanh(theta["log_sv"]))
        Q1, Q2 = _cayley(theta["left"]), _cayley(theta["right"])
        return F @ ((Q2 * sv[None, :]) @ Q1.T), G @ ((Q2 / sv[None, :]) @ Q1.T)
    if name == "shift":
        c = reach * b.scale_g * jnp.tanh(theta["c"])
        return F, G + c[None, :]
    if name == "invisible_embedding":
        H = reach * b.scale_f * jnp.tanh(theta["H"])
        return F + H @ b.null_u.T, G
    if name == "invisible_unembedding":
        K = reach * b.scale_g * jnp.tanh(theta["K"])
        return F, G + K @ b.null_e.T
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
