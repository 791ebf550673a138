"""The local test: the gradient of a measure along every class generator from one reverse-mode
pass (docs/theory.md §9.1–§9.2).

With `∇_F = ∂m/∂F` (N×d) and `∇_G = ∂m/∂G` (V×d), the gradient of m along each generator is

| generator | gradient |
|---|---|
| basis change `M = e^{tA}` | `∇_Fᵀ F − Gᵀ ∇_G` (d×d) |
| shift `c` | `∇_Gᵀ 1` (d) |
| invisible embedding part | `∇_F (I − P_U)` (N×d), `I − P_U = Bᵤ Bᵤᵀ` |
| invisible unembedding part | `∇_G (I − P_E)` (V×d), `I − P_E = Bₑ Bₑᵀ` |
| widen embedding `([F, a], [G, 1c'ᵀ])` | new columns of `(∇_F, 1ᵀ∇_G)` at `([F, 0], [G, 0])` |
| widen unembedding `([F, 0], [G, k])` | new columns of `∇_G` at `([F, 0], [G, 0])` |

No finite differences: one `jax.vjp` per model point (p and its zero-padded copy), its pullback
vmapped over the measure's leaves.

The derivative reported is relative: each gradient is paired with a perturbation of unit
*relative* size (‖A‖_F = 1; ‖1cᵀ‖_F = ‖G‖_F; ‖H‖_F = ‖F‖_F; ‖K‖_F = ‖G‖_F) and divided by
`‖∇_F‖_F‖F‖_F + ‖∇_G‖_F‖G‖_F`, the largest first-order change any perturbation of that relative
size can cause (Cauchy–Schwarz). So it lies in [0, 1] (up to √2 for the two-part widening) and
is ~ε for a measure constant along the generator, whatever the measure's units.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._generators import Base, padded


def _pullbacks(mvec, F, G):
    """`(m, ∇_F, ∇_G)` for every leaf of the measure: one vjp, vmapped over leaf cotangents."""
    m, pull = jax.vjp(mvec, F, G)
    eye = jnp.eye(m.shape[0], dtype=m.dtype)
    gF, gG = jax.vmap(pull)(eye)  # (L, N, d), (L, V, d)
    return m, gF, gG


def tangent_gradients(mvec, b: Base):
    """The §9.1 gradients at p for every leaf: dict name → array with a leading leaf axis."""
    F, G = b.F, b.G
    _, gF, gG = _pullbacks(mvec, F, G)
    # `X(I − P) = (X B)Bᵀ` with B the complement's basis: O(d·(d − k)) per row, nothing for a
    # full-rank side.
    return {
        "basis": jnp.einsum("lnd,ne->lde", gF, F) - jnp.einsum("vd,lve->lde", G, gG),
        "shift": jnp.sum(gG, axis=1),
        "invisible_embedding": (gF @ b.null_u) @ b.null_u.T,
        "invisible_unembedding": (gG @ b.null_e) @ b.null_e.T,
    }, (gF, gG)


def widening_gradients(mvec, F, G, extra: int):
    """The §9.1 widening gradients at the zero-padded model, and the measure there."""
    d = F.shape[1]
    Fp, Gp = padded(F, G, extra)
    m_pad, gF, gG = _pullbacks(mvec, Fp, Gp)
    grads = {
        "widen_embedding": (gF[:, :, d:], jnp.sum(gG[:, :, d:], axis=1)),
        "widen_unembedding": (gG[:, :, d:],),
    }
    return grads, (gF, gG), m_pad


def _norm(X):
    return jnp.sqrt(jnp.sum(jnp.square(X), axis=tuple(range(1, X.ndim))))


def _ratio(num, den):
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1), 0.0)


def relative_derivatives(grads, full, F, G):
    """Relative derivative per generator and leaf (module docstring), and the per-row
    sensitivity `‖∇_F‖_F·‖F‖_F/√N + ‖∇_G‖_F·‖Ĝ‖_F/√V` per leaf: the first-order change of m
    when every row moves by its RMS size (the unit of `Audit`'s relative changes; unlike the
    whole-model norm it does not grow with N for a measure that reads a few rows)."""
    # G's size modulo the shift generator (‖Ĝ‖, not ‖G‖): a large common offset ḡ carries no
    # information about the distribution and would inflate every G-side unit.
    nF, nG = jnp.linalg.norm(F), jnp.linalg.norm(G - jnp.mean(G, axis=0, keepdims=True))
    sqrt_v = jnp.sqrt(jnp.asarray(G.shape[0], F.dtype))
    gF, gG = full
    sens = _norm(gF) * nF + _norm(gG) * nG
    units = {
        "basis": (1.0,),
        "shift": (nG / sqrt_v,),
        "invisible_embedding": (nF,),
        "invisible_unembedding": (nG,),
        "widen_embedding": (nF, nG / sqrt_v),
        "widen_unembedding": (nG,),
    }
    out = {}
    for name, parts in grads.items():
        parts = parts if isinstance(parts, tuple) else (parts,)
        sq = sum(jnp.square(_norm(g) * u) for g, u in zip(parts, units[name], strict=True))
        out[name] = _ratio(jnp.sqrt(sq), sens)
    sqrt_n = jnp.sqrt(jnp.asarray(F.shape[0], F.dtype))
    return out, _norm(gF) * nF / sqrt_n + _norm(gG) * nG / sqrt_v
