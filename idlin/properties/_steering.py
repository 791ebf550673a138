"""Linear steering: can a model shift every context's log-odds by a given `δ` (docs/theory.md §6,
last row).

Adding `αv` to every embedding shifts every row of the centered log-odds by `δ = αĜv`. A model
θ̃ *reaches* `δ` when some steering vector does that in θ̃: `δ ∈ col(Ĝ_θ̃)` (raw form; depends on
the member). The identifiable form asks for `δ ∈ rowspace(C) = col(W)`, which every member of
the class reaches because `col(W) ⊆ col(Ĝ_θ̃)` for all of them; it is also the inclusion
condition (`⇔ P_U v ∈ P_U(E)`). A constant shift of all log-odds changes no distribution, so a
given `δ` is centered first.

The zero test and the control (docs/theory.md §6.5): `‖Ĝv‖` is compared with `σ₁(Ĝ)‖v‖`, the
largest shift a vector of that norm can make (`‖Ĝ‖_F‖v‖` overstates it ~√V-fold on a real LM and
calls ordinary vectors null), and a vector's shift and reach are set against random vectors of
the same norm, computed from the factors of Ĝ and C (d-dimensional work, no V-long shift each).
Every reach residual is `steering_score`, the one definition (the audit's catalogue calls it);
the verdict evaluates it on V-row bases a block of rows at a time (`reach_residual`: at
V = 262144 the two V×d bases were 3 GB of Gemma 3 270M's `inspect --steering`).

Vacuity (docs/theory.md §6.5): for a *vector* `v` the raw verdict is true of every vector
(`Ĝv ∈ col(Ĝ)` by construction), and so is the identifiable one when `r = rank Ĝ`
(`rowspace(C) = col(Ĝ)`, the diverse regime of a real LM exported on N ≥ d contexts). Those
verdicts are flagged `vacuous`: the vector is then judged by its shift against random vectors.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from ..core._analysis import Analysis, as_analysis
from ..core._checks import real_vector
from ..core._errors import ConfigError, ProbeError
from ..core._precision import Precision
from ..core._predictor import Predictor
from ._controls import check_count, check_seed, summarise
from ._coordinates import Rows, identifiable_coordinates
from ._result import FORMS, PropertyResult, check_choice, inclusion_of, property_analysis


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
    v = real_vector("vector", vector, size=a.width, what="the model's width").astype(a.dtype)
    Gh = Rows(a.unembeddings, a.mean_unembedding)  # Ĝ, a block of rows at a time
    return np.concatenate([block @ v for _, block in Gh.chunks()])


def column_basis(a: Analysis, form: str) -> Rows:
    """The orthonormal V×k basis a shift is reached in: `W` (rowspace C, k = r) in the
    identifiable form, `U_G = Ĝ V_G S_G⁻¹` (col Ĝ, k = rank Ĝ) in the raw form; formed a block of
    rows at a time, in float64."""
    if form == "identifiable":
        basis = Rows(*a.log_odds_right_parts, columns=int(a.effective_complexity))
    else:
        basis = Rows(*a.unembedding_left_parts, columns=int(a.unembedding_rank))
    return basis.astype(np.float64)


def reach_residual(delta, basis: Rows) -> float:
    """`steering_score(delta, basis)` for an orthonormal `Rows` basis B: `c = Bᵀδ`, then
    `‖δ − Bc‖/‖δ‖`, each one pass over the stored rows through B's small factors
    (`Rows.rmatvec`, `Rows.matvec`), so no V×k array is formed and the cost is O(V·d): the same
    quantity, equal to `steering_score` on the whole basis to rounding (a test says so)."""
    delta = np.asarray(delta, dtype=np.float64)
    size = float(np.linalg.norm(delta))
    if size == 0:
        return 0.0
    return float(np.linalg.norm(delta - basis.matvec(basis.rmatvec(delta)))) / size


def steering_score(delta, basis, rcond: float | None = None):
    """The score of steering: `‖δ − Π δ‖/‖δ‖`, the distance of the log-odds shift δ from the
    column span of `basis` (Π its orthogonal projector; 0 iff δ is reachable), a pure,
    differentiable JAX function — the one definition the verdict, its control (`jax.vmap`)
    and the audit's catalogue call. Without `rcond` the columns of `basis` are orthonormal
    (`Π = BBᵀ`); with it, any spanning set (`Π = B B⁺`, the pseudo-inverse cut at `rcond`
    relative to the largest singular value). A zero δ scores 0 (it has no direction)."""
    delta, basis = jnp.asarray(delta), jnp.asarray(basis)
    if rcond is None:
        coefficients = basis.T @ delta
    else:
        coefficients = jnp.linalg.pinv(basis, rtol=rcond) @ delta
    size = jnp.linalg.norm(delta)
    out = jnp.linalg.norm(delta - basis @ coefficients)
    return jnp.where(size > 0, out / jnp.where(size > 0, size, 1.0), 0.0)


def random_vector_scores(a: Analysis, vectors: np.ndarray, zero: float):
    """`(relative shift, reach residual)` of each row `u` of `vectors` (R, d):
    `‖Ĝu‖/(σ₁‖u‖)` and the distance of `δ = Ĝu` from rowspace(C) relative to `‖δ‖`, in the
    coordinates of `Ĝ = U_G S_G V_Gᵀ`: `δ = U_G c` with `c = S_G V_Gᵀ u`, and
    `col(W) = U_G col(Q)` with `Q = U_Gᵀ W = S_G V_Gᵀ Fᵀ U_C Σ⁻¹` (as `ĜᵀĜ = V_G S_G² V_Gᵀ`), so
    the residual is `‖c − Π_Q c‖/‖c‖`, d-dimensional work. Residuals ≤ `zero` (the policy's
    zero length) are reported as 0 (rounding, so that the real vector and the random ones are
    compared alike)."""
    sG = np.asarray(a.unembedding_singular_values, dtype=np.float64)
    VGt = np.asarray(a.unembedding_right, dtype=np.float64)
    r = int(a.effective_complexity)
    U_C = np.asarray(a.log_odds_left, dtype=np.float64)[:, :r]
    sC = np.asarray(a.log_odds_singular_values, dtype=np.float64)[:r]
    F = np.asarray(a.embeddings, dtype=np.float64)
    Q = np.linalg.qr((sG[:, None] * (VGt @ (F.T @ U_C))) / sC[None, :])[0]  # basis of col(Q)
    c = (vectors @ VGt.T) * sG  # (R, kG)
    shift = np.linalg.norm(c, axis=1)
    residual = np.asarray(jax.vmap(steering_score, in_axes=(0, None))(c, Q))
    relative = shift / (sG[0] * np.linalg.norm(vectors, axis=1))
    return relative, np.where(residual <= zero, 0.0, residual)


def steering_controls(a: Analysis, v: np.ndarray, form: str, n: int, seed: int):
    """The `Null`s of random vectors of `‖v‖` (Gaussian directions drawn by
    `np.random.default_rng(seed).normal(size=(n, d))`): the relative shift (higher = the vector
    moves the log-odds more than a random one), and in the identifiable form the reach residual
    (lower = more reachable than a random one)."""
    R = np.random.default_rng(seed).normal(size=(n, v.size))
    R *= np.linalg.norm(v) / np.linalg.norm(R, axis=1, keepdims=True)
    zero = a.precision.resolved_zero_rtol()
    (rel_v,), (res_v,) = random_vector_scores(a, v[None, :], zero)
    rel, res = random_vector_scores(a, R, zero)
    out = [summarise("random vectors", "relative shift", rel_v, rel, "higher", seed)]
    if form == "identifiable":
        out.append(summarise("random vectors", "reach residual", res_v, res, "lower", seed))
    return tuple(out)


def vacuity(a: Analysis, form: str) -> tuple[str, bool]:
    """`(note, vacuous)` of reaching a steering *vector*'s own shift: every vector reaches in
    the raw form, and in the identifiable form when `r = rank Ĝ` (then `col(W) = col(Ĝ)`)."""
    r, k = int(a.effective_complexity), int(a.unembedding_rank)
    if form == "raw":
        return "vacuous: every vector v reaches its own shift Ĝv in this model's coordinates", True
    if r == k:
        return (
            f"vacuous: r = rank Ĝ = {k}, so rowspace(C) = col(Ĝ) and every vector's shift is "
            "reachable in every member",
            True,
        )
    return "", False


def steering(
    p: Predictor | Analysis,
    vector: Float[Any, " dim"] | None = None,
    *,
    shift: Float[Any, " vocab"] | None = None,
    form: str = "raw",
    precision: Precision | None = None,
    random_vectors: int = 100,
    seed: int = 0,
    tol: float | None = None,
    rtol: float | None = None,
) -> PropertyResult:
    """Whether the log-odds shift of a steering vector is reachable (docs/theory.md §6, §7.4).

    Symbols: `v` (`vector`, width d of p) with `δ = Ĝv`, or `δ` given directly (`shift`, V
    entries, centered here). Raw: `score = ‖δ − Π_{col Ĝ} δ‖/‖δ‖` (`Π` the orthogonal projector,
    from the SVD of Ĝ); identifiable: `score = ‖δ − W Wᵀ δ‖/‖δ‖` with `W` the right singular
    vectors of C. `holds = score ≤ tol`, the policy's verdict tolerance. Inclusion:
    `δ ∈ rowspace(C)`, the identifiable residual.
    With `vector` the raw verdict on p itself is true by construction; pass `shift` to ask the
    question of another member (that is what `all_or_none` does).

    Zero test (docs/theory.md §6.5): `‖δ‖ ≤ z · σ₁(Ĝ)‖v‖` (the largest shift a vector of norm
    `‖v‖` can make) raises, as does `‖δ‖ ≤ z · ‖shift‖` for a given shift, with `z` the
    policy's zero length (`resolved_zero_rtol()`, default the verdict tolerance). With `vector`,
    `relative_shift = ‖Ĝv‖/(σ₁(Ĝ)‖v‖)`, and the control sets it (and, in the identifiable form,
    the reach residual) against `random_vectors` random vectors of the same norm. With `vector`
    the raw verdict, and the identifiable one when `r = rank Ĝ`, are `vacuous` (true of every
    vector; see `vacuity`).

    Args:
        p: the model.
        vector: steering vector of shape (p.width,); exactly one of `vector`, `shift`.
        shift: target log-odds shift δ of shape (V,).
        form, precision, seed, tol, rtol: as in `parallelism`.
        random_vectors: random vectors of the control (default 100; 0: none; only with
            `vector`).

    Raises:
        ShapeError: a vector of the wrong width, a shift of the wrong length.
        ProbeError: δ = 0 (after centering), e.g. `v` in the null space of Ĝ.
        ConfigError: both or neither of `vector` and `shift`, unknown form, a tolerance outside
            (0, 1), a negative count.
    """
    a = property_analysis("steering", p, precision, tol=tol, rtol=rtol)
    check_choice("form", form, FORMS)
    verdict_tol = a.precision.resolved_verdict_tol()  # `tol` (deprecated) is folded in
    if (vector is None) == (shift is None):
        raise ConfigError(
            "steering: expected exactly one of vector= or shift=, got "
            + ("both" if vector is not None else "neither")
        )
    random_vectors = check_count("random_vectors", random_vectors)
    seed = check_seed(seed)
    if vector is not None:
        delta = steering_shift(a, vector)
        sigma1 = float(np.asarray(a.unembedding_singular_values)[0])
        scale = sigma1 * float(np.linalg.norm(np.asarray(vector, dtype=float)))
    else:
        d = real_vector("shift", shift, size=a.vocab_size, what="one per token")
        d = d.astype(a.dtype)
        scale = float(np.linalg.norm(d))
        delta = d - np.mean(d)
    size = float(np.linalg.norm(delta))
    if size <= a.precision.resolved_zero_rtol() * scale or size == 0.0:
        raise ProbeError(
            f"steering: expected a non-zero log-odds shift, got ‖δ‖ = {size:.3g} (scale "
            f"{scale:.3g}); the vector lies in the null space of Ĝ or the shift is constant"
        )
    identifiable_coordinates(a, "embedding")  # RankError when r = 0: nothing to reach
    incl = reach_residual(delta, column_basis(a, "identifiable"))  # δ ∈ rowspace(C)
    score = incl if form == "identifiable" else reach_residual(delta, column_basis(a, "raw"))
    relative, controls, note, vacuous = None, (), "", False
    if vector is not None:
        note, vacuous = vacuity(a, form)
        relative = size / scale
        if random_vectors:
            v = np.asarray(vector, dtype=np.float64)
            controls = steering_controls(a, v, form, random_vectors, seed)
    return PropertyResult(
        name="steering",
        form=form,
        side="embedding",
        holds=bool(score <= verdict_tol),
        score=score,
        tol=verdict_tol,
        inclusion=inclusion_of(incl, verdict_tol),
        relative_shift=relative,
        note=note,
        vacuous=vacuous,
        controls=controls,
        precision=a.precision.on_host(),
    )
