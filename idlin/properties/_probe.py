"""Linear probing: are binary labels linearly separable, raw and identifiable (docs/theory.md §6,
fourth row), and is a probe evidence at all (docs/theory.md §6.5).

Raw: `∃w, b: sign(wᵀf(x) + b) = ℓ(x)`. Identifiable: the same with `w ∈ U`, i.e. scores
`aᵀC[x,:] + b` — evaluated in the coordinates `z` isometric to rows of C. The score is a margin:
points are scaled by their RMS norm `ρ` and lifted to `x̃ = [x/ρ, 1]`; the margin is that of the
max-margin homogeneous separator of the `ℓ x̃` (equivalently the max-margin probe with the bias
penalised like a weight). It is found exactly, as a least-distance problem solved by non-negative
least squares (Lawson & Hanson 1974, ch. 23): minimise `‖u‖` subject to `ℓᵢ x̃ᵢᵀu ≥ 1`. The
labels are separable iff that problem is feasible, and then `margin = 1/‖u*‖ > 0`; otherwise the
reported margin is ≤ 0. `probe_margin` is that score as a differentiable JAX function (NNLS on
the host, the derivative of the maximum by Danskin's theorem): `linear_probe` reports it and the
audit's catalogue audits it, so the report card audits what `inspect` prints.

Separability of N points in dimension k is vacuous when Cover's probability of separating random
labels is ≥ ½ (`N ≤ 2(k + 1)` with a bias); probes are then judged by k-fold held-out accuracy
of a ridge classifier against random labels of the same class balance (`_heldout`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Int, Shaped

from ..core._analysis import Analysis
from ..core._checks import indices
from ..core._errors import ConfigError, ProbeError, ShapeError
from ..core._precision import Precision
from ..core._predictor import Predictor
from ._controls import check_count, check_seed, summarise
from ._coordinates import coordinates
from ._heldout import cover_probability, ridge_heldout_accuracy, stratified_folds
from ._nnls import nnls
from ._result import (
    PropertyResult,
    check_call,
    inclusion_of,
)


def as_labels(labels: Any, n: int) -> np.ndarray:
    """Labels as ±1 floats from booleans, {0, 1} or {−1, +1}; exactly two classes required."""
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ShapeError(f"labels: expected shape ({n},) to match contexts, got {arr.shape}")
    values = np.unique(arr)
    if arr.dtype == bool:
        signs = np.where(arr, 1.0, -1.0)
    elif set(values.tolist()) <= {0, 1}:
        signs = np.where(arr == 1, 1.0, -1.0)
    elif set(values.tolist()) <= {-1, 1}:
        signs = arr.astype(np.float64)
    else:
        raise ProbeError(f"labels: expected bool, {{0, 1}} or {{−1, +1}}, got values {values[:5]}")
    if np.unique(signs).size < 2:
        raise ProbeError(
            f"labels: expected two classes, got a single class ({values.tolist()}) for {n} items"
        )
    return signs


def lifted(X, signs):
    """`A = ℓ ⊙ [X/ρ, 1]` (n, k+1), ρ the RMS norm of the points: the signed, lifted points
    whose max-margin homogeneous separator is the probe (JAX; NumPy arrays go through too)."""
    X = jnp.asarray(X)
    signs = jnp.asarray(signs, X.dtype)
    rho = jnp.sqrt(jnp.mean(jnp.sum(X**2, axis=1)))
    rho = jnp.where(rho > 0, rho, 1.0)  # all-zero points: margin ≤ 0, never NaN
    one = jnp.ones((X.shape[0], 1), X.dtype)
    return signs[:, None] * jnp.concatenate([X / rho, one], axis=1)


def max_margin_dual(A: np.ndarray) -> np.ndarray:
    """The dual weights `α ≥ 0` of the minimum-norm solution `u = Aᵀα` of `A u ≥ 1` (NumPy,
    float64), zeros when no separator exists.

    Least-distance programming by NNLS (Lawson & Hanson, Algorithm LDP): solve
    `min_{v ≥ 0} ‖Ev − e‖` with `E = [Aᵀ; 1ᵀ]`, `e = (0, …, 0, 1)`. The residual `r = Ev − e`
    is 0 iff `A u ≥ 1` is infeasible; otherwise `u = −r[:-1]/r[-1] = Aᵀv/(1 − 1ᵀv)`, so
    `α = v/(1 − 1ᵀv)`."""
    A = np.asarray(A, dtype=np.float64)
    E = np.concatenate([A.T, np.ones((1, A.shape[0]))], axis=0)  # (k+2, n)
    e = np.zeros(E.shape[0])
    e[-1] = 1.0
    v = nnls(E, e)
    gap = 1.0 - float(np.sum(v))  # = −r[-1] = ‖r‖² ≥ 0
    if not gap > 0.0:
        return np.zeros(A.shape[0])
    return v / gap


def margin_of(A, alpha):
    """The probe margin of the lifted points `A` given the dual weights `alpha` of their
    max-margin separator (`max_margin_dual`): the one definition `linear_probe` reports and the
    audit's catalogue audits (through `probe_margin`).

    Value: `min(A u)/‖u‖` with `u = Aᵀα` — the geometric margin of the separator found, a
    certificate (≤ 0 when the labels are not separable, 0 when no separator exists).
    Derivative (Danskin): at the optimum `½‖u‖² = Σα − ½‖Aᵀα‖²` with `α` held fixed, and the
    margin is `1/‖u‖`, so the gradient is that of `(2(Σα − ½‖Aᵀα‖²))^{−1/2}` through `A`
    alone — the derivative of the maximum, not of one support vector's constraint."""
    A = jnp.asarray(A)
    alpha = jax.lax.stop_gradient(jnp.asarray(alpha, A.dtype))
    u = A.T @ alpha
    norm = jnp.sqrt(u @ u)
    found = norm > 0
    certificate = jnp.where(found, jnp.min(A @ u) / jnp.where(found, norm, 1.0), 0.0)
    half = jnp.sum(alpha) - 0.5 * (u @ u)  # = ½‖u‖² at the optimum (Σα = ‖u‖²)
    smooth = jnp.where(half > 0, jax.lax.rsqrt(2.0 * jnp.where(half > 0, half, 1.0)), 0.0)
    smooth = jnp.where(certificate > 0, smooth, 0.0)
    return jax.lax.stop_gradient(certificate) + smooth - jax.lax.stop_gradient(smooth)


def probe_margin(X, signs):
    """The probe margin of points `X` (n, k) with ±1 labels `signs`: `margin_of` the lifted
    points with their dual weights from NNLS (`max_margin_dual`, on the host through
    `jax.pure_callback`, mapped one problem at a time under `vmap`). A pure, differentiable JAX
    function of `X`: what `linear_probe` reports and the audit's catalogue audits."""
    A = lifted(X, signs)
    shape = jax.ShapeDtypeStruct((A.shape[0],), A.dtype)

    def host(a):
        return max_margin_dual(np.asarray(a)).astype(a.dtype)

    alpha = jax.pure_callback(host, shape, jax.lax.stop_gradient(A), vmap_method="sequential")
    return margin_of(A, alpha)


def max_margin(X: np.ndarray, signs: np.ndarray) -> tuple[float, np.ndarray]:
    """`(margin, u)` of the max-margin homogeneous separator of `lifted(X, signs)` (float64):
    `margin_of` with the dual weights of `max_margin_dual`, and `u = Aᵀα` (zeros when the
    labels are not separable)."""
    X = np.asarray(X, dtype=np.float64)
    if not np.any(X):
        raise ProbeError("contexts: every probed item has the zero representation")
    A = np.asarray(lifted(X, signs), dtype=np.float64)
    alpha = max_margin_dual(A)
    return float(margin_of(A, alpha)), A.T @ alpha


def _least_squares_accuracy(X: np.ndarray, signs: np.ndarray, rcond: float) -> float:
    X1 = np.concatenate([X, np.ones((X.shape[0], 1))], axis=1)
    w, *_ = np.linalg.lstsq(X1, signs, rcond=rcond)
    return float(np.mean(np.sign(X1 @ w) == signs))


def coordinate_dimension(a: Analysis, side: str, form: str) -> int:
    """The dimension Cover's count uses: rank F (embedding side) or rank Ĝ (unembedding side)
    in the raw form, the effective complexity r in the identifiable form."""
    if form == "identifiable":
        return int(a.effective_complexity)
    return int(a.embedding_rank if side == "embedding" else a.unembedding_rank)


def heldout_controls(X, signs, *, folds, random_labels, seed, ridge):
    """`(held-out accuracy, its random-label Null or None)`: stratified `folds`-fold accuracy
    of the ridge classifier on the real labels, and on `random_labels` permutations of them
    (same class balance, same folds), all solved together. Draws from
    `np.random.default_rng(seed)`: the folds, then `rng.permuted(tile(signs), axis=1)`."""
    rng = np.random.default_rng(seed)
    fold_of = stratified_folds(signs, min(folds, signs.size), rng)
    shuffled = rng.permuted(np.tile(signs, (random_labels, 1)), axis=1).T  # (n, R)
    acc = ridge_heldout_accuracy(X, np.column_stack([signs, shuffled]), fold_of, ridge)
    if not random_labels:
        return float(acc[0]), None
    null = summarise("random labels", "held-out accuracy", acc[0], acc[1:], "higher", seed)
    return float(acc[0]), null


def linear_probe(
    p: Predictor | Analysis,
    contexts: Int[Any, " n"],
    labels: Shaped[Any, " n"],
    *,
    side: str = "embedding",
    form: str = "raw",
    precision: Precision | None = None,
    geometry: str = "isometric",
    folds: int = 5,
    random_labels: int = 100,
    seed: int = 0,
    ridge: float = 1e-3,
    tol: float | None = None,
    rtol: float | None = None,
) -> PropertyResult:
    """Whether a linear probe separates the labels (docs/theory.md §6).

    Symbols: items `x` (contexts, or tokens on the unembedding side) with labels `ℓ(x) = ±1`;
    raw points `f(x)` (`ĝ(y)`), identifiable points `z(x)` with `C[x,:] = W z(x)`. Score: the
    margin of the max-margin probe on `[x/ρ, 1]` (ρ = RMS norm of the probed points; see the
    module docstring), `holds = margin > tol` (the policy's verdict tolerance). `accuracy` is
    that of the best probe found: the max-margin probe when separable (1.0), otherwise the
    least-squares probe (cut-off: the policy's `resolved_lstsq_rcond`).

    Inclusion condition: the raw max-margin direction `w` lies in `U` (embedding side) or `E`;
    residual `‖(I−P)w‖/‖w‖`. When the raw labels are not separable it holds vacuously (then
    both forms are false: identifiable ⇒ raw, docs/theory.md §7.2).

    Is it evidence (docs/theory.md §6.5)? `cover_probability` is Cover's
    `P = 2^{1−n} Σ_{i=0}^{k} C(n−1, i)` (with a bias) for `k` = rank F (rank Ĝ) in the raw form,
    r in the identifiable form; `vacuous = P ≥ ½` (⇔ `n ≤ 2(k + 1)`): then `holds` is a fact of
    linear algebra, not about the labels, and reports print "vacuous". `heldout_accuracy` is the
    stratified `folds`-fold accuracy of the ridge classifier (`_heldout`); its control is the
    same accuracy on `random_labels` permutations of the labels (same class balance, same
    folds), with p-value `(1 + #{random ≥ real}) / (1 + random_labels)`.

    Args:
        p: the model, or its `Analysis` (then no decomposition is recomputed).
        contexts: (n,) distinct integer indices of contexts (tokens).
        labels: (n,) booleans, {0, 1} or {−1, +1}, both classes present.
        side, form, precision, geometry, seed, tol, rtol: as in `parallelism`.
        folds: k of the k-fold held-out accuracy (default 5, at most n; 0: none, no control).
        random_labels: label permutations of the control (default 100; 0: none).
        ridge: the ridge penalty relative to the mean eigenvalue of the training Gram.

    Raises:
        ShapeError: labels and contexts of different lengths.
        DTypeError: non-integer contexts.
        ProbeError: a single class, duplicate or out-of-range contexts, all-zero points.
        ConfigError: unknown side, form or geometry, a tolerance outside (0, 1), folds = 1, a
            negative count, ridge ≤ 0.
    """
    call = check_call("linear_probe", p, side, form, precision, tol=tol, rtol=rtol)
    a, tol, size, what = call.a, call.tol, call.size, call.what
    idx = indices("contexts", contexts, size=size, what=what)
    if idx.ndim != 1:
        raise ShapeError(f"contexts: expected a 1-D array of indices, got shape {idx.shape}")
    if np.unique(idx).size != idx.size:
        raise ProbeError(f"contexts: expected distinct indices, got duplicates in {idx.tolist()}")
    signs = as_labels(labels, idx.size)
    folds = check_count("folds", folds)
    if folds == 1:
        raise ConfigError("folds: expected 0 (no held-out accuracy) or ≥ 2, got 1")
    random_labels = check_count("random_labels", random_labels)
    seed = check_seed(seed)
    if isinstance(ridge, bool) or not isinstance(ridge, int | float) or not ridge > 0:
        raise ConfigError(f"ridge: expected a positive relative penalty, got {ridge!r}")
    coords = coordinates(a, side, form, geometry)
    raw_margin, u = max_margin(np.asarray(coords.raw_points[idx]), signs)  # the probe's rows only
    X = np.asarray(coords.points[idx])
    margin = raw_margin if form == "raw" else max_margin(X, signs)[0]
    holds = margin > tol
    if raw_margin > tol:
        w = u[:-1]
        P = np.asarray(coords.inclusion_projector)
        size = float(np.linalg.norm(w))
        residual = float(np.linalg.norm(w - P @ w)) / size if size > 0 else 0.0
    else:
        residual = 0.0
    heldout, null = None, None
    if folds:
        X64 = np.asarray(X, dtype=np.float64)
        heldout, null = heldout_controls(
            X64, signs, folds=folds, random_labels=random_labels, seed=seed, ridge=float(ridge)
        )
    k = coordinate_dimension(a, side, form)
    cover = cover_probability(idx.size, k)
    note = (
        f"vacuous: {idx.size} points ≤ 2(k + 1) = {2 * (k + 1)} in dimension k = {k}, so random "
        f"labels are separable with probability {cover:.2g} (Cover)"
        if cover >= 0.5
        else ""
    )
    return PropertyResult(
        name="linear_probe",
        form=form,
        side=side,
        holds=bool(holds),
        score=float(margin),
        tol=tol,
        inclusion=inclusion_of(residual, tol),
        accuracy=1.0
        if holds
        else _least_squares_accuracy(X, signs, a.precision.resolved_lstsq_rcond()),
        note=note,
        vacuous=bool(cover >= 0.5),
        heldout_accuracy=heldout,
        cover_probability=float(cover),
        geometry=None if form == "raw" else geometry,
        controls=() if null is None else (null,),
        precision=a.precision.on_host(),
    )
