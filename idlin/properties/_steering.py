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

from .._analysis import Analysis, as_analysis
from .._checks import real_vector
from .._errors import ConfigError, ProbeError
from .._predictor import Predictor
from ._coordinates import identifiable_coordinates
from ._result import FORMS, PropertyResult, check_choice, check_tol, inclusion_of


def steering_shift(
    p: Predictor | Analysis, vector: Float[Any, " dim"]
) -> Float[np.ndarray, " vocab"]:
    """`δ = Ĝ v` (V,): the log-odds shift of the steering vector `v` of width `p.width`.

    Raises:
        ShapeError: `v` is not of shape (p.width,).
        DTypeError: a complex, string or boolean vector.
        NonFiniteError: NaN or Inf in `v`.
    """
    a = as_analysis("p", p)
    v = real_vector("vector", vector, size=a.width, what="the model's width")
    return np.asarray(a.centered_unembeddings) @ v.astype(a.dtype)


def _reach_residual(basis, delta) -> float:
    """`‖δ − B Bᵀ δ‖ / ‖δ‖` for an orthonormal basis B: distance of δ from col(B)."""
    basis, delta = np.asarray(basis), np.asarray(delta)
    return float(np.linalg.norm(delta - basis @ (basis.T @ delta)) / np.linalg.norm(delta))


def steering(
    p: Predictor | Analysis,
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
    a = as_analysis("p", p, rtol=rtol)
    check_choice("form", form, FORMS)
    tol = check_tol(tol, a)
    if (vector is None) == (shift is None):
        raise ConfigError(
            "steering: expected exactly one of vector= or shift=, got "
            + ("both" if vector is not None else "neither")
        )
    if vector is not None:
        delta = steering_shift(a, vector)
        Gh = np.asarray(a.centered_unembeddings)
        scale = float(np.linalg.norm(Gh) * np.linalg.norm(np.asarray(vector, dtype=float)))
    else:
        d = real_vector("shift", shift, size=a.vocab_size, what="one per token")
        d = d.astype(a.dtype)
        scale = float(np.linalg.norm(d))
        delta = d - np.mean(d)
    size = float(np.linalg.norm(delta))
    if size <= tol * scale or size == 0.0:
        raise ProbeError(
            f"steering: expected a non-zero log-odds shift, got ‖δ‖ = {size:.3g} (scale "
            f"{scale:.3g}); the vector lies in the null space of Ĝ or the shift is constant"
        )
    identifiable_coordinates(a, "embedding")  # RankError when r = 0: nothing to reach
    W = np.asarray(a.log_odds_right)[:, : int(a.effective_complexity)]  # basis of rowspace(C)
    incl = float(_reach_residual(W, delta))
    if form == "identifiable":
        score = incl
    else:
        UG = np.asarray(a.unembedding_left)[:, : int(a.unembedding_rank)]  # basis of col(Ĝ)
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
