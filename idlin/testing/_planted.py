"""Hypothesis strategies for probe sets with a planted linear property (docs/theory.md §6).

Each strategy draws a predictor (from `predictors` unless a `base` strategy is given), then
rewrites a few of its embedding (or unembedding) rows so that the property holds exactly —
`planted=True` — or fails for every model of the class — `planted=False`:

- `parallel_pairs`: differences `cᵢu` with one direction `u` inside the identifiable span, or
  directions spanning two dimensions of it;
- `affine_pairs`: targets `A h(s) + b` of their sources, or generic targets (more pairs than an
  affine map has parameters);
- `separable_labels`: labelled points pushed apart along a visible direction, or a point of one
  class at the midpoint of two of the other (no linear image can separate that);
- `steering_vectors`: a vector in `E` (its shift is in rowspace C, reachable in every member),
  or in `E^⊥` of a model with `k_f < k_g` (reachable in p, not in the minimal model).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from ..core._classes import sample_equivalent
from ..core._errors import ConfigError
from ..core._predictor import Predictor
from ..core._subspaces import subspaces
from ._strategies import SIZES, planted_predictor, predictors

# Relational linearity needs more items than an affine map has parameters (d + 1 per
# coordinate) plus held-out pairs: one extra shape, used only there.
RELATIONAL_SHAPE = (16, 14, 3)


@dataclasses.dataclass(frozen=True)
class PlantedPairs:
    """A predictor and m pairs whose differences are parallel iff `planted`."""

    predictor: Predictor
    pairs: np.ndarray
    side: str
    planted: bool


@dataclasses.dataclass(frozen=True)
class PlantedRelation:
    """A predictor and (source, target) pairs related by one affine map iff `planted`."""

    predictor: Predictor
    train_pairs: np.ndarray
    test_pairs: np.ndarray
    side: str
    planted: bool


@dataclasses.dataclass(frozen=True)
class PlantedLabels:
    """A predictor, distinct items and ±1 labels, linearly separable iff `planted`."""

    predictor: Predictor
    contexts: np.ndarray
    labels: np.ndarray
    side: str
    planted: bool


@dataclasses.dataclass(frozen=True)
class PlantedSteering:
    """A predictor and a steering vector whose shift `Ĝv` is in rowspace(C) iff `reachable`."""

    predictor: Predictor
    vector: np.ndarray
    reachable: bool


def _split(p: Predictor, side: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows to rewrite (F, or G for the unembedding side) and the visible span's basis."""
    s = subspaces(p)  # eager: its bases are NumPy arrays already
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    if side == "embedding":
        return F, np.asarray(s.unembedding_basis)
    return G, np.asarray(s.embedding_basis)


def _rebuild(p: Predictor, side: str, rows: np.ndarray) -> Predictor:
    dtype = p.dtype
    if side == "embedding":
        return Predictor(rows.astype(dtype), np.asarray(p.unembeddings))
    return Predictor(np.asarray(p.embeddings), rows.astype(dtype))


def _unit_in(basis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = basis @ rng.normal(size=basis.shape[1])
    return u / np.linalg.norm(u)


def _sides() -> st.SearchStrategy[str]:
    return st.sampled_from(("embedding", "unembedding"))


@st.composite
def parallel_pairs(
    draw,
    *,
    planted: bool,
    side: str | None = None,
    base: st.SearchStrategy[Predictor] | None = None,
    visible: bool = True,
) -> PlantedPairs:
    """m ∈ {2, 3} disjoint pairs with parallel differences (`planted`) or not.

    Planted: `h(bᵢ) = h(aᵢ) + cᵢu`, `|cᵢ| ∈ [0.5, 2]·rms`, `u` a unit vector in `U` (embedding
    side; `E` on the unembedding side), so raw and identifiable forms both hold and the inclusion
    condition holds. With `visible=False`, `u` also gets an invisible component (in `U^⊥`, when
    that is not empty): raw parallelism still holds, the inclusion condition does not. Absent:
    `Δ₁ ⟂ Δ₂` inside the visible span (needs it to be ≥ 2-dimensional; other draws are
    rejected), so both forms fail (σ₂/σ₁ ≥ 0.2) in every member.
    """
    side = draw(_sides()) if side is None else side
    p = draw(base if base is not None else predictors(diverse=None))
    rows, basis = _split(p, side)
    if not planted:
        assume(basis.shape[1] >= 2)
    m = draw(st.integers(2, min(3, rows.shape[0] // 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    items = rng.permutation(rows.shape[0])[: 2 * m]
    pairs = items.reshape(m, 2)
    scale = float(np.sqrt(np.mean(rows**2))) or 1.0
    rows = rows.copy()
    u = _unit_in(basis, rng)
    if planted and not visible and basis.shape[1] < rows.shape[1]:
        z = rng.normal(size=rows.shape[1])
        z -= basis @ (basis.T @ z)
        u = u + z / np.linalg.norm(z)
        u /= np.linalg.norm(u)
    w = _unit_in(basis, rng)
    w = w - (w @ u) * u
    w = w / np.linalg.norm(w) if np.linalg.norm(w) > 0 else w
    for i, (a, b) in enumerate(pairs):
        c = rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0]) * scale
        if planted:
            step = c * u
        elif i == 1:
            step = c * w
        else:
            step = c * u + rng.uniform(-1.0, 1.0) * scale * w
        rows[b] = rows[a] + step
    return PlantedPairs(_rebuild(p, side, rows), pairs, side, planted)


@st.composite
def affine_pairs(
    draw,
    *,
    planted: bool,
    side: str | None = None,
    base: st.SearchStrategy[Predictor] | None = None,
    num_test: int = 2,
) -> PlantedRelation:
    """`d + 2` training and `num_test` held-out pairs of distinct items, with targets
    `h(tᵢ) = A h(sᵢ) + b` (`planted`) or generic targets.

    The default base is a diverse predictor of shape `RELATIONAL_SHAPE`, so the inclusion
    condition holds and planted relations are exact in both forms (faithfulness 1); with
    `d + 2 + num_test > d + 1` pairs an absent relation is not vacuous.
    """
    side = draw(_sides()) if side is None else side
    p = draw(base if base is not None else predictors(diverse=True, shapes=(RELATIONAL_SHAPE,)))
    rows, basis = _split(p, side)
    d = rows.shape[1]
    m_train = d + 2
    m = m_train + num_test
    if 2 * m > rows.shape[0]:
        raise ConfigError(f"affine_pairs: need {2 * m} items on the {side} side, got {rows.shape}")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    items = rng.permutation(rows.shape[0])[: 2 * m]
    pairs = items.reshape(m, 2)
    scale = float(np.sqrt(np.mean(rows**2))) or 1.0
    rows = rows.copy()
    # Relation inside the visible span, so the identifiable form sees the same relation.
    P = basis @ basis.T
    A = P @ rng.normal(size=(d, d)) / np.sqrt(d) @ P
    b = P @ rng.normal(size=d) * scale
    for s, t in pairs:
        rows[t] = rows[s] @ A.T + b if planted else rng.normal(size=d) * scale
    return PlantedRelation(_rebuild(p, side, rows), pairs[:m_train], pairs[m_train:], side, planted)


@st.composite
def separable_labels(
    draw,
    *,
    planted: bool,
    side: str | None = None,
    base: st.SearchStrategy[Predictor] | None = None,
) -> PlantedLabels:
    """5–6 distinct items with ±1 labels (both classes).

    Planted: `h(x) += ℓ(x)·κ·w`, `w` a unit vector of the visible span and `κ` larger than every
    `|wᵀh(x)|`, so the labels are separable (with margin) in both forms. Absent: an item of one
    class is put at the midpoint of two items of the other class; affine images keep midpoints,
    so no model of the class separates the labels in the identifiable form, nor p in raw form.
    """
    side = draw(_sides()) if side is None else side
    p = draw(base if base is not None else predictors(diverse=None))
    rows, basis = _split(p, side)
    n = draw(st.integers(5, min(6, rows.shape[0])))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    items = rng.permutation(rows.shape[0])[:n]
    labels = rng.choice([-1, 1], size=n)
    labels[0], labels[1], labels[2] = 1, 1, -1
    rows = rows.copy()
    scale = float(np.sqrt(np.mean(rows**2))) or 1.0
    if planted:
        w = _unit_in(basis, rng)
        kappa = 2.0 * float(np.max(np.abs(rows[items] @ w))) + scale
        rows[items] += labels[:, None] * kappa * w[None, :]
    else:
        rows[items[2]] = 0.5 * (rows[items[0]] + rows[items[1]])
    return PlantedLabels(_rebuild(p, side, rows), items, labels, side, planted)


@st.composite
def steering_vectors(draw, *, reachable: bool) -> PlantedSteering:
    """A predictor with `k_f < k_g = d` and a steering vector `v`.

    Reachable: `v = Fᵀc ∈ E`, so `δ = Ĝv = Cᵀc ∈ rowspace(C)`. Unreachable: `v ∈ E^⊥` (non-empty
    because `k_f < d`), so `P_U v = v ⟂ P_U(E) = E` and `δ ≠ 0` lies outside rowspace(C): p
    reaches it, its minimal model cannot.
    """
    N, V, d = draw(st.sampled_from(SIZES.shapes))
    kf = draw(st.integers(1, d - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    p = planted_predictor(
        seed, shape=(N, V, d), embedding_rank=kf, unembedding_rank=d, effective_complexity=kf
    )
    rng = np.random.default_rng(seed + 7)
    F = np.asarray(p.embeddings)
    if reachable:
        v = F.T @ rng.normal(size=N)
    else:
        E = subspaces(p).embedding_basis
        z = rng.normal(size=d)
        v = z - E @ (E.T @ z)
    v = v / np.linalg.norm(v)
    return PlantedSteering(p, v.astype(p.dtype), reachable)


# Move sequences of docs/theory.md §5 covering every move with few distinct widths (d, d + 2, r +
# 2):
# each new width is a new compilation, so suites sample members from this menu.
MEMBER_MOVES = (
    ("basis", "shift"),
    ("invisible_embedding", "invisible_unembedding", "basis"),
    ("widen_embedding", "invisible_unembedding", "basis"),
    ("widen_unembedding", "invisible_embedding", "shift"),
    ("shrink", "widen_embedding", "basis"),
)


@st.composite
def class_members(
    draw,
    p: Predictor,
    *,
    menu: tuple[tuple[str, ...], ...] = MEMBER_MOVES,
    max_condition: float = 10.0,
) -> Predictor:
    """A member of p's class: one move sequence from `menu` (`sample_equivalent`) with basis
    changes of condition in `[1, max_condition]`."""
    moves = draw(st.sampled_from(menu))
    condition = 10.0 ** draw(st.floats(0.0, float(np.log10(max_condition))))
    key = jax.random.key(draw(st.integers(0, 2**32 - 1)))
    return sample_equivalent(p, key=key, moves=moves, condition=condition)
