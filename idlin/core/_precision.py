"""One precision policy: every tolerance idlin decides with comes from here (docs/theory.md §3.1).

`Precision` holds the settings (None: "the default"); a named resolver turns each into the number a
routine decides with, as lineax's `resolve_rcond` does for its solvers. No threshold is written
anywhere else in idlin.

The questions, and their resolvers:

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
- **near-equivalence** — the relative gap under which a pair that is not equivalent is
  *near-equivalent* (`resolved_near_rtol`, default `NEAR_RTOL` = 0.1: C agrees to 10%).
- **verdicts** — the relative tolerance of property verdicts (`verdict_tol`, default `√ε`).
- **least squares** — the cut-off `rcond·σ₁` below which a least-squares solve (relational
  linearity's affine fit, the canonical fit, the probe's fallback) treats a direction as absent
  (`resolved_lstsq_rcond`, default the rank threshold: a fit inverts the directions a rank counts).
- **zero length** — a difference or a shift shorter than `zero_rtol` × its scale has no direction
  (parallelism's zero differences, steering's zero test against `σ₁(Ĝ)·‖v‖`;
  `resolved_zero_rtol`, default the verdict tolerance).
- **rounding** — a singular value below `max(sizes)·ε·σ₁` of an exact matrix is rounding (NumPy's
  convention, used where the numbers are data, not a model: the CCA cut-off, the nonzero
  spectrum a requested canonical rank must fit in, the causal inner product's singular Σ;
  `resolved_rounding_rtol`).
- **regularisation and iteration** — the causal inner product's relative ridge
  (`resolved_causal_reg`, default 1e-8) and the NNLS active-set step limit (`nnls_max_iter`).

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
from jax.core import Tracer

from ._checks import real_scalar
from ._errors import ArgumentError, ConfigError, DTypeError, IdlinError, RankError

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

# Default relative gap under which a non-equivalent pair is near-equivalent: C agrees to 10% in
# Frobenius norm (trained models on one distribution reach 1e-3–1e-2; unrelated models ~1).
NEAR_RTOL = 0.1

# Default relative ridge of the causal inner product, `ε = CAUSAL_REG·λ_max(Σ)` (docs/theory.md §8).
CAUSAL_REG = 1e-8

# NNLS active-set steps allowed per column (the method needs about one per support vector).
NNLS_STEPS_PER_COLUMN = 10

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
    return not isinstance(x, Tracer)


def _check_fraction(
    name: str, value: Any, *, upper: float = 1.0, error: type[IdlinError] = ConfigError
) -> None:
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
        near_rtol: relative gap under which a non-equivalent pair is near-equivalent
            (default `NEAR_RTOL` = 0.1).
        lstsq_rcond: least-squares cut-off relative to the largest singular value of the design
            (default: the rank threshold).
        zero_rtol: a difference (shift) shorter than `zero_rtol` × its scale counts as zero
            (default: the verdict tolerance).
        rounding_rtol: relative threshold below which singular values of data count as rounding
            (default `max(sizes)·ε` of the data's dtype).
        causal_reg: relative ridge of the causal inner product (default `CAUSAL_REG` = 1e-8).

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
    near_rtol: float | None = None
    lstsq_rcond: float | None = None
    zero_rtol: float | None = None
    rounding_rtol: float | None = None
    causal_reg: float | None = None

    _LEAVES = (
        "rank_rtol",
        "rank_atol",
        "mean_kl",
        "equivalence_rtol",
        "verdict_tol",
        "near_rtol",
        "lstsq_rcond",
        "zero_rtol",
        "rounding_rtol",
        "causal_reg",
    )

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
        _check_fraction("near_rtol", self.near_rtol, upper=math.inf)
        _check_fraction("lstsq_rcond", self.lstsq_rcond)
        _check_fraction("zero_rtol", self.zero_rtol)
        _check_fraction("rounding_rtol", self.rounding_rtol)
        _check_nonnegative("causal_reg", self.causal_reg)
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
        """Rank: `rank_rtol`, else `√ε` of the arithmetic (docs/theory.md §3)."""
        return math.sqrt(self.arithmetic_eps) if self.rank_rtol is None else self.rank_rtol

    def resolved_verdict_tol(self):
        """Verdicts: `verdict_tol`, else `√ε` of the stored dtype (docs/theory.md §3.1, §6)."""
        return math.sqrt(self.eps) if self.verdict_tol is None else _number(self.verdict_tol)

    def resolved_equivalence_rtol(self):
        """Equivalence: `equivalence_rtol`, else `EQUIVALENCE_RTOL` of the stored dtype (§3.1);
        for a pair use the module's `equivalence_rtol` (the coarser dtype)."""
        if self.equivalence_rtol is not None:
            return _number(self.equivalence_rtol)
        return EQUIVALENCE_RTOL[self.stored or np.dtype("float64")]

    def resolved_near_rtol(self):
        """Near-equivalence: `near_rtol`, else `NEAR_RTOL` (docs/theory.md §3.1, §8)."""
        return NEAR_RTOL if self.near_rtol is None else _number(self.near_rtol)

    def resolved_lstsq_rcond(self):
        """Least-squares cut-off: `lstsq_rcond`, else the rank threshold — a fit inverts exactly
        the directions a rank would count (docs/theory.md §3, §6.3)."""
        return self.resolved_rank_rtol() if self.lstsq_rcond is None else self.lstsq_rcond

    def resolved_zero_rtol(self):
        """Zero length: `zero_rtol`, else the verdict tolerance. A vector shorter than this
        times its scale (the largest endpoint for a difference, `σ₁(Ĝ)·‖v‖` for a steering
        shift) has no direction (docs/theory.md §6.5)."""
        return self.resolved_verdict_tol() if self.zero_rtol is None else self.zero_rtol

    def resolved_rounding_rtol(self, *sizes: int, dtype: Any) -> float:
        """Rounding of data: `rounding_rtol`, else `max(sizes)·ε(dtype)` — NumPy's threshold for
        an exact matrix of those sizes (the CCA cut-off, the nonzero spectrum of C a requested
        canonical rank must fit in, a singular causal covariance)."""
        if self.rounding_rtol is not None:
            return float(self.rounding_rtol)
        return max(sizes) * float(np.finfo(np.dtype(dtype)).eps)

    def resolved_causal_reg(self):
        """Causal inner product: `causal_reg`, else `CAUSAL_REG` (relative to `λ_max(Σ)`)."""
        return CAUSAL_REG if self.causal_reg is None else _number(self.causal_reg)

    def on_host(self) -> Precision:
        """This policy with its concrete leaves as Python floats (traced ones kept): what a
        result records (an `Analysis` made under `jit` carries them as 0-d arrays)."""
        leaves, aux = self.tree_flatten()
        return Precision.tree_unflatten(aux, tuple(x if x is None else _number(x) for x in leaves))

    def resolved(self) -> dict[str, Any]:
        """Every tolerance this policy decides with (size-dependent ones by their rule), for
        reports: what a result was decided at."""
        return {
            "stored": None if self.stored is None else np.dtype(self.stored).name,
            "arithmetic": None if self.arithmetic is None else np.dtype(self.arithmetic).name,
            "decomposition": self.decomposition,
            "rank_rtol": _number(self.resolved_rank_rtol()),
            "rank_atol": None if self.rank_atol is None else _number(self.rank_atol),
            "mean_kl": None if self.mean_kl is None else _number(self.mean_kl),
            "equivalence_rtol": _number(self.resolved_equivalence_rtol()),
            "near_rtol": _number(self.resolved_near_rtol()),
            "verdict_tol": _number(self.resolved_verdict_tol()),
            "lstsq_rcond": _number(self.resolved_lstsq_rcond()),
            "zero_rtol": _number(self.resolved_zero_rtol()),
            "rounding_rtol": (
                "max(sizes)·ε" if self.rounding_rtol is None else _number(self.rounding_rtol)
            ),
            "causal_reg": _number(self.resolved_causal_reg()),
        }


def _number(x: Any):
    """A concrete tolerance as a Python float; a traced one passes through (under `jit`)."""
    return float(x) if _concrete(x) else x


def check_precision(precision: Any) -> Precision:
    """`precision` itself, `Precision()` for None; ArgumentError for anything else."""
    if precision is None:
        return Precision()
    if not isinstance(precision, Precision):
        raise ArgumentError(
            f"precision: expected an idlin.Precision or None, got {type(precision).__name__}"
        )
    return precision


def with_legacy(where: str, precision: Any, *, depth: int = 1, **legacy: Any) -> Precision | None:
    """`precision` with the deprecated keywords of `where` folded in: `legacy` maps a keyword
    to `(field, value)`; a value of None was not given. The values are checked (as the fields
    they become) before one `IdlinDeprecationWarning` names them all, attributed to the caller
    `depth` frames above the caller of this function. None when neither was given."""
    given = {kw: fv for kw, fv in legacy.items() if fv[1] is not None}
    if not given:
        return precision if precision is None else check_precision(precision)
    out = dataclasses.replace(check_precision(precision), **dict(given.values()))
    from ._deprecation import warn_deprecated

    warn_deprecated(where, {kw: field for kw, (field, _) in given.items()}, stacklevel=depth + 2)
    return out


def as_precision(precision: Any, dtype: Any, *, rtol: Any = None) -> Precision:
    """Accept `None` or a `Precision` (and, deprecated, `rtol=` for `rank_rtol`, as `analyze`
    does); fill in the stored dtype."""
    if rtol is not None:
        _check_fraction("rtol", rtol, error=RankError)
        precision = with_legacy("analyze", precision, depth=2, rtol=("rank_rtol", rtol))
    return check_precision(precision).for_dtype(dtype)


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


def numerical_rank(spectrum, rtol: float) -> int:
    """Number of singular values above `rtol · σ_max` (0 for an all-zero spectrum); host helper
    for spectra other than those of F, Ĝ, C (whose ranks `analyze` counts)."""
    s = np.asarray(spectrum)
    if s.size == 0 or s[0] <= 0:
        return 0
    return int(np.sum(s > rtol * s[0]))


def nnls_max_iter(columns: int) -> int:
    """NNLS active-set steps allowed for a problem with `columns` unknowns:
    `NNLS_STEPS_PER_COLUMN·columns` (the method needs about one per support vector)."""
    return NNLS_STEPS_PER_COLUMN * max(int(columns), 1)


def accuracy_rtol(p: Any, mean_kl: float, *, spectrum=None) -> float:
    """The KL-tied rank threshold of `Precision(mean_kl=...)`, expressed relative to `σ₁(C)`
    and clipped into `[ε, 0.5]` (0.5 for C = 0; docs/theory.md §3.1, §8).

    `τ = 2·√(2·KL)·(√N + √V)`: by Weyl, `σ_{r+1}(C_θ) ≤ ‖C_θ − C*‖₂` when the truth has rank r;
    a mean KL gives an RMS log-odds error of about `√(2·KL)`, and an N×V error of RMS s has
    spectral norm ≈ `s(√N + √V)`; ×2 for safety.

    Args:
        p: the trained model (a `Predictor` or its `Analysis`); mean_kl: its mean KL to the
            distribution it approximates (nats).
        spectrum: singular values of `C_θ` if already computed.
    """
    if spectrum is None:
        from ._analysis import as_analysis

        spectrum = as_analysis("p", p).log_odds_singular_values
    s1 = float(np.asarray(spectrum)[0])
    eps = float(np.finfo(p.dtype).eps)
    if s1 <= 0:
        return 0.5
    tau = float(kl_threshold(mean_kl, num_contexts=p.num_contexts, vocab_size=p.vocab_size))
    return float(np.clip(tau / s1, eps, 0.5))
