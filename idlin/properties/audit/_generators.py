"""The generators of a predictor's class as parametrised members (docs/theory.md §5, §9).

Each generator of §9 is one family `θ ↦ (F_θ, G_θ)` of members of p's class, shared by the local
test (its tangent direction at θ = 0) and the global search (ascent over θ):

- `basis`: `M = I + P(Q − I)Pᵀ`, `Q = Q₁ diag(σ) Q₂ᵀ` (k×k) with `Q₁, Q₂` Cayley transforms of
  skew matrices (orthogonal for every θ, no `expm`) and `σ = exp(b·tanh s)`, so
  `cond M ≤ e^{2b} = max_condition` and `M⁻¹ = I + P(Q⁻¹ − I)Pᵀ`, `Q⁻¹ = Q₂ diag(1/σ) Q₁ᵀ`, needs
  no inversion: `F ↦ F Mᵀ`, `G ↦ G M⁻¹` (§5.1). P (d×k, orthonormal, `Base.frame`) is the
  run's *frame*: the identity when `d ≤ FRAME` (every basis change), else k = FRAME directions
  — for a leaf's first run the top singular vectors of its basis gradient at p (the directions
  of steepest change) completed at random, for the others random — so a step costs
  `O((N + V)dk)`, not `O((N + V)d²)` (a V×d×d product per step dominated a real LM's audit);
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

from ...core._classes import MOVES as GENERATORS  # one vocabulary: the moves of docs/theory.md §5

SEARCHED = GENERATORS[:-1]
# Directions of one run's basis family past this width (module docstring).
FRAME = 32
WIDENING = ("widen_embedding", "widen_unembedding")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Base:
    """What every member is built from: p's factors and the projectors of its spans.

    `P_U`, `P_E`: projectors onto the top `k_g` (`k_f`) right singular vectors of Ĝ (F), from
    the Analysis (docs/theory.md §3); `null_u` (d×(d − k_g)), `null_e` (d×(d − k_f)): orthonormal
    bases of their complements, `P = I − null nullᵀ`; `scale_f`, `scale_g` the RMS entries of F
    and of Ĝ (the units of the additive parts). With an equivalence tolerance (`base_of`), the
    ranks are the *verifiable* ones (`verifiable_rank`). `frame` (d×k): the basis family's
    directions (module docstring), replaced per run."""

    F: jax.Array
    G: jax.Array
    frame: jax.Array
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


def verifiable_rank(s, rank: int, *, width: int, rows: int, unit: float, budget: float) -> int:
    """The smallest `k ≥ rank` with `s_{k+1} · unit · √(rows·(width − k)) ≤ budget` (s: the
    singular values of one side, descending, 0 past its end).

    An invisible part `K Bᵀ` (B: the `width − k` trailing right singular vectors of F, entries
    of K at most `unit`) changes C by `F B Kᵀ`, of Frobenius norm at most that product; with
    `budget = equivalence_rtol·‖C‖_F/4` every member of the family then passes the equivalence
    check. The rank threshold (√ε·σ₁) can leave directions below it whose parts of the searched
    size are *not* invisible at the equivalence tolerance: they are left out of the family (and
    of the local test's complement) rather than searched and rejected."""
    s = np.asarray(s, np.float64)
    for k in range(rank, width + 1):
        nxt = s[k] if k < s.shape[0] else 0.0
        if nxt * unit * math.sqrt(rows * (width - k)) <= budget:
            return k
    return width


def base_of(a, F=None, G=None, *, eq_tol: float | None = None, reach: float = 3.0) -> Base:
    """A `Base` from an `idlin.Analysis` (eager: the complements' widths are the ranks'), on
    the Analysis' factors or on `F`, `G` given (the same model in another dtype). With `eq_tol`
    the invisible families keep only the directions whose parts up to `reach` units stay within
    it (`verifiable_rank`); without, the Analysis' ranks `k_f`, `k_g`."""
    F = a.embeddings if F is None else F
    G = a.unembeddings if G is None else G
    dtype = F.dtype
    N, d = F.shape
    V = G.shape[0]
    # RMS entries on the host (NumPy views of the CPU buffers): no per-shape compilation.
    rms = lambda X: float(np.linalg.norm(np.asarray(X))) / math.sqrt(max(X.size, 1))  # noqa: E731
    sf, sg = rms(F), rms(a.centered_unembeddings)
    sf, sg = (jnp.asarray(x if x > 0 else 1.0, dtype) for x in (sf, sg))
    kf, kg = int(a.embedding_rank), int(a.unembedding_rank)
    if eq_tol is not None:
        budget = eq_tol * float(np.linalg.norm(np.asarray(a.log_odds_singular_values))) / 4
        kf = verifiable_rank(a.embedding_singular_values, kf, width=d, rows=V,
                             unit=reach * float(sg), budget=budget)  # fmt: skip
        kg = verifiable_rank(a.unembedding_singular_values, kg, width=d, rows=N,
                             unit=reach * float(sf), budget=budget)  # fmt: skip
    null_u = jnp.asarray(_complement(a.unembedding_right, kg, d, dtype))
    null_e = jnp.asarray(_complement(a.embedding_right, kf, d, dtype))
    eye = jnp.eye(d, dtype=dtype)
    return Base(
        F=F,
        G=G,
        frame=eye[:, : min(d, FRAME)],
        P_U=eye - null_u @ null_u.T,
        P_E=eye - null_e @ null_e.T,
        null_u=null_u,
        null_e=null_e,
        scale_f=sf,
        scale_g=sg,
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
    k = b.frame.shape[1]
    return {
        "basis": {"left": (k, k), "right": (k, k), "log_sv": (k,)},
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
        eye = jnp.eye(sv.shape[0], dtype=sv.dtype)
        Q, Q_inv = (Q2 * sv[None, :]) @ Q1.T, (Q2 / sv[None, :]) @ Q1.T
        P = b.frame
        if P.shape[0] == P.shape[1]:  # the full family: M = P Q Pᵀ, one d×d product per side
            return F @ (P @ Q @ P.T), G @ (P @ Q_inv @ P.T)
        return F + (F @ P) @ ((Q - eye) @ P.T), G + (G @ P) @ ((Q_inv - eye) @ P.T)
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


def frames(gradient, runs: int, rng: np.random.Generator, k: int) -> list[np.ndarray]:
    """`runs` orthonormal d×k frames for the basis family of one leaf: the first spans the top
    `k/4` left and right singular vectors of the leaf's basis gradient at p (d×d), completed at
    random; the others are random."""
    A = np.asarray(gradient, np.float64)
    d = A.shape[0]
    U, _, Vt = np.linalg.svd(A)
    j = k // 4
    out = []
    for run in range(runs):
        cols = rng.normal(size=(d, k))
        if run == 0:
            cols[:, :j], cols[:, j : 2 * j] = U[:, :j], Vt[:j].T
        out.append(np.linalg.qr(cols)[0])
    return out
