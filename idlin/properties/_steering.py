"""Linear steering: can a model shift every context's log-odds by a given `δ` (THEORY §6, last
row).

Adding `αv` to every embedding shifts every row of the centered log-odds by `δ = αĜv`. A model
θ̃ *reaches* `δ` when some steering vector does that in θ̃: `δ ∈ col(Ĝ_θ̃)` (raw form; depends on
the member). The identifiable form asks for `δ ∈ rowspace(C) = col(W)`, which every member of
the class reaches because `col(W) ⊆ col(Ĝ_θ̃)` for all of them; it is also the inclusion
condition (`⇔ P_U v ∈ P_U(E)`). A constant shift of all log-odds changes no distribution, so a
given `δ` is centered first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from jaxtyping import Float

from .._errors import ConfigError, ProbeError, ShapeError
from .._predictor import Predictor, as_predictor, as_real_array
from .._subspaces import analyse, canonical
from ._result import FORMS, PropertyResult, check_choice, check_tol, inclusion_of


def steering_shift(p: Predictor, vector: Float[Any, " dim"]) -> Float[np.ndarray, " vocab"]:
    """`δ = Ĝ v` (V,): the log-odds shift of the steering vector `v` of width `p.width`.

    Raises:
        ShapeError: `v` is not of shape (p.width,).
        DTypeError: complex, string or object values.
        NonFiniteError: NaN or Inf in `v`.
    """
    p = as_predictor("p", p)
    v = as_real_array("vector", vector, p.dtype)
    if v.shape != (p.width,):
        raise ShapeError(
            f"vector: expected a steering vector of shape ({p.width},) (the model's width), "
            f"got {v.shape}"
        )
    return np.asarray(p.centered_unembeddings) @ v


def _reach_residual(basis, delta) -> float:
    """`‖δ − B Bᵀ δ‖ / ‖δ‖` for an orthonormal basis B: distance of δ from col(B)."""
    basis, delta = np.asarray(basis), np.asarray(delta)
    return float(np.linalg.norm(delta - basis @ (basis.T @ delta)) / np.linalg.norm(delta))


def steering(
    p: Predictor,
    vector: Float[Any, " dim"] | None = None,
    *,
    shift: Float[Any, " vocab"] | None = None,
    form: str = "raw",
    tol: float | None = None,
    rtol: float | None = None,
) -> PropertyResult:
    """Whether the log-odds shift of a steering vector is reachable (THEORY §6, §7.4).

    Symbols: `v` (`vector`, width d of p) with `δ = Ĝv`, or `δ` given directly (`shift`, V
    entries, centered here). Raw: `score = ‖δ − Π_{col Ĝ} δ‖/‖δ‖` (`Π` the orthogonal projector,
    from the SVD of Ĝ); identifiable: `score = ‖δ − W Wᵀ δ‖/‖δ‖` with `W` the right singular
    vectors of C. `holds = score ≤ tol`. Inclusion: `δ ∈ rowspace(C)`, the identifiable residual.
    With `vector` the raw verdict on p itself is true by construction; pass `shift` to ask the
    question of another member (that is what `all_or_none` does).

    Args:
        p: the model.
        vector: steering vector of shape (p.width,); exactly one of `vector`, `shift`.
        shift: target log-odds shift δ of shape (V,).
        form, tol, rtol: as in `parallelism`.

    Raises:
        ShapeError: a vector of the wrong width, a shift of the wrong length.
        ProbeError: δ = 0 (after centering), e.g. `v` in the null space of Ĝ.
        ConfigError: both or neither of `vector` and `shift`, unknown form, tol outside (0, 1).
    """
    p = as_predictor("p", p)
    check_choice("form", form, FORMS)
    tol = check_tol(tol, p.dtype)
    if (vector is None) == (shift is None):
        raise ConfigError(
            "steering: expected exactly one of vector= or shift=, got "
            + ("both" if vector is not None else "neither")
        )
    if vector is not None:
        delta = steering_shift(p, vector)
        G = np.asarray(p.unembeddings)
        scale = float(np.linalg.norm(G - G.mean(axis=0)) * np.linalg.norm(vector))
    else:
        d = as_real_array("shift", shift, p.dtype)
        if d.shape != (p.vocab_size,):
            raise ShapeError(
                f"shift: expected shape ({p.vocab_size},) (one per token), got {d.shape}"
            )
        scale = float(np.linalg.norm(d))
        delta = d - np.mean(d)
    size = float(np.linalg.norm(delta))
    if size <= tol * scale or size == 0.0:
        raise ProbeError(
            f"steering: expected a non-zero log-odds shift, got ‖δ‖ = {size:.3g} (scale "
            f"{scale:.3g}); the vector lies in the null space of Ĝ or the shift is constant"
        )
    c = canonical(p, rtol=rtol)
    W = np.asarray(c.gamma) / np.sqrt(np.asarray(c.singular_values))[None, :]
    incl = float(_reach_residual(W, delta))
    if form == "identifiable":
        score = incl
    else:
        s, svds = analyse(p, rtol=rtol)
        UG = np.asarray(svds[3])[:, : s.unembedding_rank]  # orthonormal basis of col(Ĝ)
        score = float(_reach_residual(UG, delta))
    return PropertyResult(
        name="steering",
        form=form,
        side="embedding",
        holds=bool(score <= tol),
        score=score,
        tol=tol,
        inclusion=inclusion_of(incl, tol),
    )
