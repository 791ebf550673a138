"""One precision policy: every tolerance idlin decides with comes from here (docs/theory.md §3.1).

Three questions, three named tolerances:

- **rank** — which singular values of F and Ĝ count as nonzero (`k_f`, `k_g`), and which principal
  cosines between their row spaces E and U do (`r`, so Sylvester's bound `k_f + k_g − d ≤ r` holds
  by construction, docs/theory.md §3). Thresholds `max(rank_rtol·σ₁, floor)` on the spectra and
  `rank_rtol` on the cosines, with `rank_rtol = √ε` of the *arithmetic* (float64 whenever the
  decomposition runs in float64, whatever the stored dtype: the model is the numbers as stored) and
  an absolute floor for the rounding of forming Ĝ. Two policies count `r` on the spectrum of C
  instead, and say so: a trained model that matches a distribution only to mean KL `mean_kl` (the
  KL-tied `τ_KL = 2·√(2·KL)·(√N + √V)`: rank up to the fit), and an explicit `rank_atol`.
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

# Constant of the absolute rank floor of Ĝ, `FLOOR_FACTOR·√max(N, V)·ε·√V‖ḡ‖`.
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
        rank_rtol: relative rank threshold on singular values of F and Ĝ, and threshold on the
            principal cosines that count r (default `√ε` of the arithmetic).
        rank_atol: an explicit absolute threshold on the singular values of F, Ĝ and C (r is
            then counted on C's spectrum; default: none — the rounding floor of forming Ĝ,
            `4·√max(N,V)·ε·√V‖ḡ‖`, guards k_g).
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
        arithmetic: the dtype the decomposition computes in (filled in by `analyze`: float64 on
            the Gram route); its ε sets the default rank thresholds.

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
    arithmetic: Any = None

    _LEAVES = ("rank_rtol", "rank_atol", "mean_kl", "equivalence_rtol", "verdict_tol")

    # -- pytree protocol: the tolerances are leaves, the stored dtype is static; rebuilding from
    # leaves skips validation (leaves may be tracers, or placeholders JAX passes through).
    def tree_flatten(self):
        aux = (self.stored, self.decomposition, self.arithmetic)
        return tuple(getattr(self, n) for n in self._LEAVES), aux

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        obj = object.__new__(cls)
        for n, v in zip(cls._LEAVES, leaves, strict=True):
            object.__setattr__(obj, n, v)
        object.__setattr__(obj, "stored", aux[0])
        object.__setattr__(obj, "decomposition", aux[1])
        object.__setattr__(obj, "arithmetic", aux[2])
        return obj

    def __post_init__(self) -> None:
        _check_fraction("rank_rtol", self.rank_rtol, error=RankError)
        _check_nonnegative("rank_atol", self.rank_atol)
        _check_nonnegative("mean_kl", self.mean_kl)
        _check_fraction("equivalence_rtol", self.equivalence_rtol, upper=math.inf)
        _check_fraction("verdict_tol", self.verdict_tol)
        if self.stored is not None:
            object.__setattr__(self, "stored", _dtype("stored", self.stored))
        if self.arithmetic is not None:
            object.__setattr__(self, "arithmetic", _dtype("arithmetic", self.arithmetic))
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
        """ε of the stored dtype (float64's if unset): the resolution of the numbers themselves,
        which sets the equivalence and verdict tolerances."""
        return _RESOLUTIONS[self.stored or np.dtype("float64")]

    @property
    def arithmetic_eps(self) -> float:
        """ε of the arithmetic the decomposition runs in (`analyze` fills `arithmetic` in; the
        stored dtype's ε until then): the error every default rank threshold is set by
        (docs/theory.md §3, "The rank of a stored model")."""
        if self.arithmetic is not None:
            return _RESOLUTIONS[self.arithmetic]
        return self.eps

    @property
    def counts_log_odds_spectrum(self) -> bool:
        """Whether `r` is counted on the spectrum of C (a KL-tied or explicit absolute threshold:
        rank up to a fit or a user's cut) instead of the principal cosines between E and U."""
        return self.mean_kl is not None or self.rank_atol is not None

    def resolved_rank_rtol(self):
        return math.sqrt(self.arithmetic_eps) if self.rank_rtol is None else self.rank_rtol

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


def rank_floor(precision: Precision, *, num_contexts: int, vocab_size: int, mean_norm):
    """The absolute rounding floor on singular values of Ĝ (docs/theory.md §3.1):
    `4·√max(N,V)·ε·√V‖ḡ‖` with ε of the arithmetic — forming Ĝ = G − 1ḡᵀ rounds each entry by
    ~ε·|ḡ|, a perturbation of spectral norm up to ~ε√V‖ḡ‖, so singular values below it are
    indistinguishable from rounding (a model whose every token has the same unembedding gets
    k_g = 0, hence r = 0)."""
    c = FLOOR_FACTOR * math.sqrt(max(num_contexts, vocab_size)) * precision.arithmetic_eps
    return c * math.sqrt(vocab_size) * mean_norm


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
