"""Relational linearity of a trained model via the exact Jacobian of its context encoder
(docs/theory.md §6, relational linearity; Hernandez et al. 2024, "linear relational embeddings").

A relation is read at one position of the context: the subject `s_i` is the input embedding of the
token there, the object is the context embedding `f(t_i)`. The first-order model of the map
`e ↦ f(t_i with the input at that position replaced by e)` is `f(t) ≈ J s + b` with
`J = mean_i ∂f/∂e |_{s_i}` (exact, `jax.jacfwd`) and `b = mean_i (f(t_i) − J s_i)`; it is compared
with the affine least-squares fit `f(t) ≈ A s + c` over the same pairs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ...core._errors import ProbeError
from ._export import as_model


@dataclasses.dataclass(frozen=True)
class JacobianRelation:
    """The Jacobian and least-squares linear relational embeddings of one relation.

    Attributes:
        jacobian: `J` (d×e), the mean exact Jacobian of the encoder in the subject input.
        offset: `b` (d,), `mean_i (f(t_i) − J s_i)`.
        jacobian_r2: `R²` of `f(t_i) ≈ J s_i + b` (1 − SS_res/SS_tot, SS_tot centered).
        lstsq_map: `A` (d×e) and `lstsq_offset` `c` (d,) of the affine least-squares fit.
        lstsq_r2: its `R²` (an upper bound for any affine map, so `≥ jacobian_r2`).
        relative_difference: `‖J − A‖_F / ‖A‖_F`.
    """

    jacobian: Float[Array, "dim e"]
    offset: Float[Array, " dim"]
    jacobian_r2: float
    lstsq_map: Float[Array, "dim e"]
    lstsq_offset: Float[Array, " dim"]
    lstsq_r2: float
    relative_difference: float


def _r2(Y: np.ndarray, pred: np.ndarray) -> float:
    ss_tot = float(np.sum((Y - Y.mean(axis=0, keepdims=True)) ** 2))
    ss_res = float(np.sum((Y - pred) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else float("-inf"))


def jacobian_relation(
    model_or_state: Any, contexts: Int[Array, "m length"], *, position: int
) -> JacobianRelation:
    """Fit the relation `s_i ↦ f(t_i)` at `position` by the exact Jacobian and by least squares.

    Args:
        model_or_state: a next-token model or `(graphdef, state)`.
        contexts: (m, T) the object contexts `t_i`; their token at `position` is the subject.
        position: the subject position, `0 ≤ position < T` (negative counts from the end).

    Returns:
        A `JacobianRelation`.

    Raises:
        ProbeError: fewer than 2 contexts, or `position` out of range.
    """
    model = as_model(model_or_state)
    contexts = jnp.asarray(contexts)
    m, T = contexts.shape
    if m < 2:
        raise ProbeError(f"contexts: expected at least 2 object contexts, got {m}")
    if not -T <= position < T:
        raise ProbeError(f"position: expected an index into length {T}, got {position}")
    pos = position % T
    H = model.embed_tokens(contexts)  # (m, T, e)

    def encode_at(e, h):  # f(t) with the subject input replaced by e
        return model.encode_embedded(h.at[pos].set(e)[None])[0]

    S = H[:, pos]  # (m, e) subjects
    Js = jax.vmap(jax.jacfwd(encode_at))(S, H)  # (m, d, e)
    Y = np.asarray(model.encode_embedded(H), np.float64)  # (m, d)
    S_np = np.asarray(S, np.float64)
    J = np.asarray(Js, np.float64).mean(axis=0)
    b = (Y - S_np @ J.T).mean(axis=0)
    S1 = np.concatenate([S_np, np.ones((m, 1))], axis=1)
    X = np.linalg.lstsq(S1, Y, rcond=None)[0]  # ((e+1), d)
    A, c = X[:-1].T, X[-1]
    return JacobianRelation(
        jacobian=jnp.asarray(J),
        offset=jnp.asarray(b),
        jacobian_r2=_r2(Y, S_np @ J.T + b),
        lstsq_map=jnp.asarray(A),
        lstsq_offset=jnp.asarray(c),
        lstsq_r2=_r2(Y, S1 @ X),
        relative_difference=float(np.linalg.norm(J - A) / np.linalg.norm(A)),
    )
