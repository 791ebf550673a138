"""One precision policy: every tolerance idlin decides with comes from here (docs/theory.md §3.1).

Three questions, three named tolerances:

- **rank** — which singular values of F, Ĝ and C count as nonzero. Threshold
  `τ = max(rank_rtol·σ₁, floor, τ_KL)`: relative `rank_rtol` (default `√ε` of the *stored* dtype),
  an absolute floor tied to ε and the data scale (so a C made of rounding noise has r = 0), and,
  for a trained model that matches a distribution only to mean KL `mean_kl`, the KL-tied
  `τ_KL = 2·√(2·KL)·(√N + √V)` (a rank is only as sharp as the fit).
- **equivalence** — the tolerance on the relative gap `‖C_p − C_q‖_F/‖C_p‖_F` (`equivalence_rtol`),
  per stored dtype; a pair stored at different precisions is judged at the coarser one.
- **verdicts** — the relative tolerance of property verdicts (`verdict_tol`, default `√ε`).

`Precision` is a pytree (its float fields are leaves, the stored dtype is static), so it passes
through `jax.jit` and `jax.vmap` with the model it describes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import real_scalar
from ._errors import ArgumentError, ConfigError, DTypeError, RankError

# Stored dtypes idlin knows the resolution of; float16/bfloat16 files are computed in float32.
_RESOLUTIONS = {
    np.dtype("float64"): float(np.finfo(np.float64).eps),
    np.dtype("float32"): float(np.finfo(np.float32).eps),
    np.dtype("float16"): float(np.finfo(np.float16).eps),
    np.dtype(jnp.bfloat16): 2.0**-7,
}

# Equivalence tolerance on the relative gap per stored dtype: a few hundred ulps of the factored
# evaluation for float64/float32 (it errs by ~ε·‖X‖‖Y‖/‖C‖), and the storage rounding itself
# (~ε_half·‖C‖ per entry) for 16-bit files.
EQUIVALENCE_RTOL = {
    np.dtype("float64"): 1e-8,
    np.dtype("float32"): 1e-4,
    np.dtype("float16"): 1e-2,
    np.dtype(jnp.bfloat16): 1e-2,
}

DECOMPOSITIONS = ("auto", "svd", "gram")

# Constant of the absolute rank floor `FLOOR_FACTOR·√max(N, V)·ε·σ₁(F)·(σ₁(Ĝ) + √V‖ḡ‖)`.
FLOOR_FACTOR = 4.0


def _dtype(name: str, value: Any) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except TypeError as e:
        raise DTypeError(f"{name}: expected a float dtype, got {value!r}") from e
    if dtype not in _RESOLUTIONS:
        raise DTypeError(
            f"{name}: expected one of float64, float32, float16, bfloat16, got {dtype}"
        )
    return dtype


def resolution(dtype: Any) -> float:
    """Machine ε of a stored dtype (float64, float32, float16 or bfloat16)."""
    return _RESOLUTIONS[_dtype("dtype", dtype)]


def coarser(a: Any, b: Any) -> np.dtype:
    """The stored dtype with the larger ε: a pair is judged at its coarser precision."""
    a, b = _dtype("dtype", a), _dtype("dtype", b)
    return a if _RESOLUTIONS[a] >= _RESOLUTIONS[b] else b


def _concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _check_fraction(name: str, value: Any, *, upper: float = 1.0, error=ConfigError) -> None:
    """`value` in (0, upper) and finite (NaN refused) — checked when it is concrete."""
    if value is None or not _concrete(value):
        return
    v = real_scalar(name, value)
    if not (math.isfinite(v) and 0.0 < v < upper):
        what = "a relative threshold" if upper == 1.0 else "a finite tolerance"
        raise error(f"{name}: expected {what} in (0, {upper:g}), got {v}")


def _check_nonnegative(name: str, value: Any) -> None:
    if value is None or not _concrete(value):
        return
    v = real_scalar(name, value)
    if not (math.isfinite(v) and v >= 0.0):
        raise ConfigError(f"{name}: expected a finite number ≥ 0, got {v}")


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True)
class Precision:
    """The tolerances of one analysis (docs/theory.md §3.1). `None` means "the default for the
    stored dtype".

    Attributes:
        rank_rtol: relative rank threshold on singular values (default `√ε(stored)`).
        rank_atol: absolute rank threshold (default: the rounding floor
            `4·√max(N,V)·ε·σ₁(F)·(σ₁(Ĝ) + √V‖ḡ‖)`, ḡ the mean unembedding).
        mean_kl: the model's mean KL (nats) to the distribution it approximates; adds the
            KL-tied threshold `2·√(2·KL)·(√N + √V)` on the singular values of C.
        equivalence_rtol: tolerance on the relative gap `‖C_p − C_q‖_F/‖C_p‖_F`
            (default `EQUIVALENCE_RTOL` of the stored dtype).
        verdict_tol: relative tolerance of property verdicts (default `√ε(stored)`).
        stored: the dtype the model was stored in (default: its compute dtype). A float32 file
            computed in float64 keeps float32's tolerances.
        decomposition: "auto" (default: the float64-accumulated Gram route for float32 data
            with x64 on, Householder SVDs otherwise), "svd" or "gram" (docs/theory.md §3.2). The
            Gram route's singular values are more accurate than a float32 SVD's; its singular
            vectors lose orthogonality like `ε₃₂·σ₁/σᵢ`.

    Raises:
        ConfigError: a tolerance that is NaN, infinite, negative, or (relative ones) ≥ 1.
        DTypeError: an unknown stored dtype.

    Example:
        >>> import idlin
        >>> idlin.Precision(stored="float32").resolved_rank_rtol()
        0.00034526698300124393
    """

    rank_rtol: float | None = None
    rank_atol: float | None = None
    mean_kl: float | None = None
    equivalence_rtol: float | None = None
    verdict_tol: float | None = None
    stored: Any = None
    decomposition: str = "auto"

    _LEAVES = ("rank_rtol", "rank_atol", "mean_kl", "equivalence_rtol", "verdict_tol")

    # -- pytree protocol: the tolerances are leaves, the stored dtype is static; rebuilding from
    # leaves skips validation (leaves may be tracers, or placeholders JAX passes through).
    def tree_flatten(self):
        return tuple(getattr(self, n) for n in self._LEAVES), (self.stored, self.decomposition)

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        obj = object.__new__(cls)
        for n, v in zip(cls._LEAVES, leaves, strict=True):
            object.__setattr__(obj, n, v)
        object.__setattr__(obj, "stored", aux[0])
        object.__setattr__(obj, "decomposition", aux[1])
        return obj

    def __post_init__(self) -> None:
        _check_fraction("rank_rtol", self.rank_rtol, error=RankError)
        _check_nonnegative("rank_atol", self.rank_atol)
        _check_nonnegative("mean_kl", self.mean_kl)
        _check_fraction("equivalence_rtol", self.equivalence_rtol, upper=math.inf)
        _check_fraction("verdict_tol", self.verdict_tol)
        if self.stored is not None:
            object.__setattr__(self, "stored", _dtype("stored", self.stored))
        if self.decomposition not in DECOMPOSITIONS:
            raise ConfigError(
                f"decomposition: expected one of {DECOMPOSITIONS}, got {self.decomposition!r}"
            )

    def for_dtype(self, dtype: Any) -> Precision:
        """This policy with `stored` filled in (kept if already set)."""
        if self.stored is not None:
            return self
        return dataclasses.replace(self, stored=_dtype("dtype", dtype))

    @property
    def eps(self) -> float:
        """ε of the stored dtype (float64's if unset)."""
        return _RESOLUTIONS[self.stored or np.dtype("float64")]

    def resolved_rank_rtol(self):
        return math.sqrt(self.eps) if self.rank_rtol is None else self.rank_rtol

    def resolved_verdict_tol(self) -> float:
        return math.sqrt(self.eps) if self.verdict_tol is None else float(self.verdict_tol)

    def resolved_equivalence_rtol(self) -> float:
        if self.equivalence_rtol is not None:
            return float(self.equivalence_rtol)
        return EQUIVALENCE_RTOL[self.stored or np.dtype("float64")]


def as_precision(precision: Any, dtype: Any, *, rtol: Any = None) -> Precision:
    """Accept `None`, a `Precision`, or the legacy `rtol=` shorthand for `rank_rtol`; fill in the
    stored dtype."""
    if precision is None:
        precision = Precision()
    elif not isinstance(precision, Precision):
        raise ArgumentError(
            f"precision: expected an idlin.Precision or None, got {type(precision).__name__}"
        )
    if rtol is not None:
        _check_fraction("rtol", rtol, error=RankError)
        precision = dataclasses.replace(precision, rank_rtol=rtol)
    return precision.for_dtype(dtype)


def rank_floor(precision: Precision, *, num_contexts: int, vocab_size: int, sF1, sG1, mean_norm):
    """The absolute rounding floor on singular values of C (docs/theory.md §3.1):
    `4·√max(N,V)·ε·σ₁(F)·(σ₁(Ĝ) + √V‖ḡ‖)` — forming Ĝ rounds each entry by ~ε·|g|, and the
    factored SVD rounds by ~ε·‖F‖₂‖Ĝ‖₂, so singular values below it are indistinguishable from
    rounding (a model whose every context predicts the uniform distribution gets r = 0)."""
    scale_g = sG1 + math.sqrt(vocab_size) * mean_norm
    c = FLOOR_FACTOR * math.sqrt(max(num_contexts, vocab_size)) * precision.eps
    return c * sF1 * scale_g, c * scale_g


def kl_threshold(mean_kl, *, num_contexts: int, vocab_size: int):
    """`τ_KL = 2·√(2·KL)·(√N + √V)` (docs/theory.md §3.1, §8): by Weyl `σ_{r+1}(C_θ) ≤ ‖C_θ − C*‖₂`;
    mean KL ≈ ½·Var_y ΔC gives an RMS log-odds error `√(2·KL)`, and an N×V error of RMS s has
    spectral norm ≈ `s(√N + √V)`; ×2 for safety."""
    return (
        2.0
        * jnp.sqrt(2.0 * jnp.maximum(mean_kl, 0.0))
        * (math.sqrt(num_contexts) + math.sqrt(vocab_size))
    )


def equivalence_rtol(p_dtype: Any, q_dtype: Any, precision: Precision | None = None) -> float:
    """The tolerance on the relative gap for a pair stored as `p_dtype` and `q_dtype`: the
    coarser dtype's (docs/theory.md §3.1), unless `precision.equivalence_rtol` is set."""
    if precision is not None and precision.equivalence_rtol is not None:
        return float(precision.equivalence_rtol)
    return EQUIVALENCE_RTOL[coarser(p_dtype, q_dtype)]
