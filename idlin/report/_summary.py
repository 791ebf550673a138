"""What `idlin verify` reports about two predictors: gap, complexities, map (THEORY §2–§4).

Everything here calls the core (`distribution_gap`, `subspaces`, `recover_*_map`); this module only
chooses tolerances for the precision the models were stored in and collects the numbers into
frozen dataclasses that the CLI prints and serialises.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .._gap import DEFAULT_RTOL, Gap, check_comparable, distribution_gap
from .._maps import recover_extended_map, recover_linear_map
from .._predictor import Predictor
from .._subspaces import Subspaces, subspaces


def rank_rtol(stored: np.dtype, num_contexts: int, vocab_size: int) -> float:
    """NumPy's matrix_rank threshold `max(N, V)·ε` for the precision the model was *stored* in:
    a float32 export computed in float64 still carries float32 rounding (THEORY §3)."""
    from ..io import machine_epsilon

    # Capped below 1 so that half-precision exports of large vocabularies keep a usable threshold.
    return min(max(num_contexts, vocab_size) * machine_epsilon(stored), 1e-2)


def equivalence_rtol(stored: np.dtype) -> float:
    """`equivalent`'s default relative tolerance for the stored precision: 1e-8 for float64,
    1e-4 for float32 (exact equivalence stored in float32 leaves a ~1e-7 gap) and 1e-2 for
    float16/bfloat16 (~1e-3 rounding)."""
    size = np.dtype(stored).itemsize
    if size <= 2:
        return 1e-2
    return DEFAULT_RTOL[np.dtype("float32") if size == 4 else np.dtype("float64")]


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """Sizes and identifiable dimensions of one predictor (THEORY §3).

    Attributes:
        contexts, vocab, width: N, V, d.
        stored_dtype: dtype the arrays were stored in (name).
        effective_complexity: `r = rank(C)`.
        embedding_rank, unembedding_rank: `k_f = rank F`, `k_g = rank Ĝ`.
        diverse: `k_f = k_g = d`.
        log_odds_gap: `σ_r(C)/σ_{r+1}(C)` (inf when nothing is cut off).
        rank_rtol: the relative threshold behind the three ranks.
        log_odds_spectrum: singular values of C (largest first).
    """

    contexts: int
    vocab: int
    width: int
    stored_dtype: str
    effective_complexity: int
    embedding_rank: int
    unembedding_rank: int
    diverse: bool
    log_odds_gap: float
    rank_rtol: float
    log_odds_spectrum: tuple[float, ...]


def summarise_model(p: Predictor, sub: Subspaces, stored: np.dtype) -> ModelSummary:
    return ModelSummary(
        contexts=p.num_contexts,
        vocab=p.vocab_size,
        width=p.width,
        stored_dtype=np.dtype(stored).name,
        effective_complexity=sub.effective_complexity,
        embedding_rank=sub.embedding_rank,
        unembedding_rank=sub.unembedding_rank,
        diverse=sub.diverse,
        log_odds_gap=sub.log_odds_gap,
        rank_rtol=sub.rtol,
        log_odds_spectrum=tuple(float(s) for s in sub.log_odds_spectrum),
    )


@dataclasses.dataclass(frozen=True)
class MapSummary:
    """The recovered relation between A and B (THEORY §4).

    Attributes:
        theorem: `"L"` (both diverse, one width: `f_B = M f_A`) or `"EL"` (`P_U f_B = T P_U f_A`).
        embedding_residual, unembedding_residual: relative residuals of the two sides.
        rank: rank of the relation (d for Theorem L, r for Theorem EL).
        condition_number: `cond(M)` for Theorem L, None for Theorem EL.
        matrix: `M` (Theorem L) or `T` (Theorem EL), as nested lists (d_B × d_A).
    """

    theorem: str
    embedding_residual: float
    unembedding_residual: float
    rank: int
    condition_number: float | None
    matrix: tuple[tuple[float, ...], ...]


@dataclasses.dataclass(frozen=True)
class Verification:
    """Everything `idlin verify A B` reports (THEORY §2–§4).

    Attributes:
        a, b: the two `ModelSummary`s.
        gap: `distribution_gap(A, B)` (A is the reference of the relative gap and of the KL).
        rtol: the equivalence tolerance on `gap.relative`.
        equivalent: `gap.relative ≤ rtol`.
        map: the recovered map (always attempted; residuals are large when not equivalent).
    """

    a: ModelSummary
    b: ModelSummary
    gap: Gap
    rtol: float
    equivalent: bool
    map: MapSummary

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (inf becomes the string "inf")."""
        return jsonable(dataclasses.asdict(self))


def jsonable(x: Any) -> Any:
    """Plain JSON types: tuples as lists, NumPy scalars as Python ones, inf/nan as strings."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def _matrix(m: Any) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in np.asarray(m))


def verify(
    a: Predictor,
    b: Predictor,
    *,
    stored: tuple[np.dtype, np.dtype] | None = None,
    rtol: float | None = None,
) -> Verification:
    """Compare two predictors: gap, effective complexities, recovered map, verdict.

    Args:
        a, b: predictors on the same contexts and vocabulary (widths may differ).
        stored: the dtypes the two were stored in; they set the rank thresholds (`rank_rtol`)
            and the default `rtol` (`equivalence_rtol` of the coarser one). Default: their dtypes.
        rtol: equivalence tolerance on `‖C_A − C_B‖_F / ‖C_A‖_F`.

    Raises:
        IncompatibleError: different N or V.
    """
    a, b = check_comparable(a, b)
    sa, sb = stored if stored is not None else (a.dtype, b.dtype)
    coarse = sa if np.dtype(sa).itemsize <= np.dtype(sb).itemsize else sb
    rtol = equivalence_rtol(coarse) if rtol is None else float(rtol)
    gap = distribution_gap(a, b)
    rank_tol = rank_rtol(coarse, a.num_contexts, a.vocab_size)
    sub_a, sub_b = subspaces(a, rtol=rank_tol), subspaces(b, rtol=rank_tol)
    if sub_a.diverse and sub_b.diverse and a.width == b.width:
        m = recover_linear_map(a, b, rtol=rank_tol)
        mapped = MapSummary(
            "L",
            m.embedding_residual,
            m.unembedding_residual,
            a.width,
            m.condition_number,
            _matrix(m.matrix),
        )
    else:
        e = recover_extended_map(a, b, rtol=rank_tol)
        mapped = MapSummary(
            "EL",
            e.embedding_residual,
            e.unembedding_residual,
            e.rank,
            None,
            _matrix(e.embedding_map),
        )
    return Verification(
        a=summarise_model(a, sub_a, sa),
        b=summarise_model(b, sub_b, sb),
        gap=gap,
        rtol=rtol,
        equivalent=bool(gap.relative <= rtol),
        map=mapped,
    )
