"""One evaluation of two predictors against each other (docs/theory.md §2–§4, §8).

`compare(p, q)` is what `idlin verify`, `idlin reproduce`, the experiments and the sweeps report
about a pair: the gap both ways, `d_logit`, the ranks and their thresholds, the recovered map
(Theorem L or EL) with its residuals, the canonical-coordinate R² and principal angles, and a
three-level verdict — *equivalent* (within the precision policy's tolerance for the stored
dtypes), *near-equivalent* (relative gap within the policy's `near_rtol`; the numbers say how
near), or *not equivalent*. Every tolerance comes from one `Precision` (the caller's, else the
reference's), and the `Comparison` records it. `evaluate(models, truth)` runs it for trained
models against their truth and between models of one configuration.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._analysis import CLEAR_GAP, Analysis, analyze, spectral_gap
from ._errors import ConfigError, IdlinError
from ._gap import Gap, distribution_gap, pair_analyses
from ._maps import recover_extended_map, recover_linear_map
from ._precision import Precision, coarser, equivalence_rtol, with_legacy
from ._predictor import Predictor

VERDICTS = ("equivalent", "near-equivalent", "not equivalent")


@dataclasses.dataclass(frozen=True)
class Side:
    """One model of a comparison (docs/theory.md §3).

    Attributes:
        contexts, vocab, width: N, V, d.
        stored_dtype: the precision its tolerances follow.
        effective_complexity, embedding_rank, unembedding_rank: r, k_f, k_g (precision policy).
        diverse: `k_f = k_g = d`.
        log_odds_threshold: the threshold on σ(C) when r was counted there (KL-tied or explicit
            `rank_atol`), else 0.
        log_odds_gap: `σ_r(C)/σ_{r+1}(C)` (`spectral_gap`; inf when nothing is cut off).
        log_odds_spectrum: singular values of C (largest first).
        rank_rule: how r was counted: "principal cosines" (default, obeys Sylvester's bound),
            "KL-tied" or "absolute" (on the spectrum of C; docs/theory.md §3).
        rank_gap: the gap where r was counted (`Analysis.rank_gap`); embedding_gap,
            unembedding_gap: the gaps at k_f and k_g.
        clear_rank: every gap ≥ `CLEAR_GAP` (10); otherwise a rank is a threshold's choice.
    """

    contexts: int
    vocab: int
    width: int
    stored_dtype: str
    effective_complexity: int
    embedding_rank: int
    unembedding_rank: int
    diverse: bool
    log_odds_threshold: float
    log_odds_gap: float
    log_odds_spectrum: tuple[float, ...]
    rank_rule: str
    rank_gap: float
    embedding_gap: float
    unembedding_gap: float
    clear_rank: bool

    @classmethod
    def of(cls, a: Analysis) -> Side:
        return cls(
            contexts=a.num_contexts,
            vocab=a.vocab_size,
            width=a.width,
            stored_dtype=np.dtype(a.precision.stored).name,
            effective_complexity=int(a.effective_complexity),
            embedding_rank=int(a.embedding_rank),
            unembedding_rank=int(a.unembedding_rank),
            diverse=bool(int(a.embedding_rank) == a.width == int(a.unembedding_rank)),
            log_odds_threshold=float(a.log_odds_threshold),
            log_odds_gap=float(a.log_odds_gap),
            log_odds_spectrum=tuple(float(s) for s in np.asarray(a.log_odds_singular_values)),
            rank_rule=rank_rule(a.precision),
            rank_gap=float(a.rank_gap),
            embedding_gap=float(a.embedding_gap),
            unembedding_gap=float(a.unembedding_gap),
            clear_rank=bool(
                min(float(a.rank_gap), float(a.embedding_gap), float(a.unembedding_gap))
                >= CLEAR_GAP
            ),
        )


def rank_rule(precision: Precision) -> str:
    """How a policy counts r (docs/theory.md §3): on principal cosines unless KL-tied/absolute."""
    if precision.mean_kl is not None:
        return "KL-tied"
    return "absolute" if precision.rank_atol is not None else "principal cosines"


@dataclasses.dataclass(frozen=True)
class MapSummary:
    """The recovered relation from p to q (docs/theory.md §4).

    Attributes:
        theorem: "L" (both diverse, one width: `f_q = M f_p`) or "EL" (`P_U f_q = T P_U f_p`).
        embedding_residual, unembedding_residual: relative residuals of the two sides.
        rank: rank of the relation (d for Theorem L, r for Theorem EL).
        condition_number: `cond(M)` for Theorem L, None for Theorem EL.
        matrix: `M` (Theorem L) or `T` (Theorem EL), d_q × d_p.
    """

    theorem: str
    embedding_residual: float
    unembedding_residual: float
    rank: int
    condition_number: float | None
    matrix: np.ndarray


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Everything idlin reports about a pair p, q (docs/theory.md §2–§4, §8).

    Attributes:
        verdict: "equivalent", "near-equivalent" or "not equivalent".
        gap: `distribution_gap(p, q)` (p the reference of the relative gap and of `mean_kl`).
        kl_pq, kl_qp: mean KL(p‖q) and KL(q‖p) in nats.
        d_logit: `‖C_p − C_q‖_F² / N` (Nielsen et al.).
        tolerance: the equivalence tolerance on `gap.relative` (coarser stored dtype, §3.1).
        near_tolerance: the relative gap under which a pair is near-equivalent.
        precision: the policy every tolerance above was resolved from (the caller's, else p's),
            its `stored` the coarser of the pair's: `precision.resolved_equivalence_rtol()` is
            `tolerance`, `precision.resolved_near_rtol()` is `near_tolerance`.
        smallest_tolerance: the smallest tolerance on the relative gap at which the pair would
            count as equivalent (= `gap.relative`).
        p, q: the two `Side`s under the default precision policy.
        fit_rank: rank of `C_q` at the threshold tied to `kl_pq` (docs/theory.md §3.1, §8) —
            the rank a trained q has "as far as its fit can tell"; `fit_threshold` that
            threshold (absolute, on the singular values of `C_q`).
        reference_rank: the rank the canonical coordinates were compared at (p's r unless given).
        spectral_gap: `σ_k(C_q)/σ_{k+1}(C_q)` at `k = reference_rank` (the one definition).
        canonical_r2: R² of the least-squares map from p's canonical coordinates to q's at
            `reference_rank` (`metrics.canonical_fit`), or None when q lacks that rank.
        max_principal_angle: largest principal angle between `col(C_p)` and `col(C_q)` at
            `reference_rank` (radians), or None.
        map: the recovered map (Theorem L when both are diverse of one width, else EL).
        notes: caveats a reader needs (e.g. N < d: identifiability relative to few contexts).
    """

    verdict: str
    gap: Gap
    kl_pq: float
    kl_qp: float
    d_logit: float
    tolerance: float
    near_tolerance: float
    smallest_tolerance: float
    p: Side
    q: Side
    fit_rank: int
    fit_threshold: float
    reference_rank: int
    spectral_gap: float
    canonical_r2: float | None
    max_principal_angle: float | None
    map: MapSummary
    precision: Precision
    notes: tuple[str, ...] = ()

    @property
    def equivalent(self) -> bool:
        return self.verdict == "equivalent"


def _map(ap: Analysis, aq: Analysis) -> MapSummary:
    both_diverse = Side.of(ap).diverse and Side.of(aq).diverse and ap.width == aq.width
    if both_diverse:
        m = recover_linear_map(ap, aq)
        return MapSummary(
            "L",
            float(m.embedding_residual),
            float(m.unembedding_residual),
            ap.width,
            float(m.condition_number),
            np.asarray(m.matrix),
        )
    e = recover_extended_map(ap, aq)
    return MapSummary(
        "EL",
        float(e.embedding_residual),
        float(e.unembedding_residual),
        int(e.rank),
        None,
        np.asarray(e.embedding_map),
    )


def _optional(fn):
    try:
        return fn()
    except IdlinError:
        return None


def compare(
    p: Predictor | Analysis,
    q: Predictor | Analysis,
    *,
    precision: Precision | None = None,
    reference_rank: int | None = None,
    rtol: float | None = None,
    near_rtol: float | None = None,
) -> Comparison:
    """Compare q with the reference p: gap, KL both ways, ranks, map, R², verdict (§2–§4, §8).

    Symbols: `C_p`, `C_q` the centered log-odds; `g = ‖C_p − C_q‖_F/‖C_p‖_F`. Verdict:
    *equivalent* when `g ≤ tolerance` (the policy's `equivalence_rtol`, default that of the
    coarser stored dtype), *near-equivalent* when `g ≤` the policy's `near_rtol` (default 0.1),
    else *not equivalent*. For a pair that is not equivalent, q's rank is also reported at the
    threshold tied to `KL(p‖q)` (`fit_rank`): a trained model has full rank at rounding
    thresholds.

    Args:
        p: the reference model (e.g. the truth), or its `Analysis`.
        q: the model compared with it, or its `Analysis`.
        precision: the precision policy (stored dtypes default to the models' own). Default:
            the policy p's `Analysis` was made with (`Precision()` for a `Predictor`).
        reference_rank: rank to compare canonical coordinates at (default p's r).
        rtol, near_rtol: deprecated: `Precision(equivalence_rtol=...)`,
            `Precision(near_rtol=...)`.

    Raises:
        IncompatibleError: different N or V.
        ConfigError: a tolerance that is not a finite positive number.

    Example:
        >>> import jax, numpy as np, idlin
        >>> rng = np.random.default_rng(0)
        >>> p = idlin.Predictor(rng.normal(size=(20, 3)), rng.normal(size=(9, 3)))
        >>> idlin.compare(p, idlin.sample_equivalent(p, key=jax.random.key(0))).verdict
        'equivalent'
    """
    precision = with_legacy(
        "compare",
        precision,
        rtol=("equivalence_rtol", rtol),
        near_rtol=("near_rtol", near_rtol),
    )
    ap, aq = pair_analyses(p, q, precision=precision)
    gap = distribution_gap(ap, aq)  # both KL directions in one streamed pass
    # The policy: the caller's, else the reference's own; judged at the coarser stored dtype.
    policy = dataclasses.replace(
        ap.precision if precision is None else precision,
        stored=coarser(ap.precision.stored, aq.precision.stored),
        arithmetic=ap.precision.arithmetic,
    ).on_host()
    tol = equivalence_rtol(ap.precision.stored, aq.precision.stored, policy)
    near = float(policy.resolved_near_rtol())
    relative = float(gap.relative)
    if relative <= tol:
        verdict = "equivalent"
    elif relative <= near:
        verdict = "near-equivalent"
    else:
        verdict = "not equivalent"
    kl_pq = float(gap.mean_kl or 0.0)
    fitted = (
        aq
        if verdict == "equivalent"
        else aq.with_precision(dataclasses.replace(aq.precision, mean_kl=kl_pq))
    )
    k = int(ap.effective_complexity) if reference_rank is None else int(reference_rank)
    from .metrics import canonical_fit, principal_angles

    r2 = _optional(lambda: float(canonical_fit(ap, aq, rank=k).r2)) if k else None
    angle = _optional(lambda: float(principal_angles(ap, aq, rank=k).max_angle)) if k else None
    notes = []
    if ap.num_contexts < ap.width or aq.num_contexts < aq.width:
        notes.append(
            f"N = {ap.num_contexts} contexts < width: identifiability is relative to these "
            "contexts; E has dimension ≤ N and the class of equivalent models is large"
        )
    return Comparison(
        verdict=verdict,
        gap=gap,
        kl_pq=kl_pq,
        kl_qp=float(gap.reverse_kl or 0.0),
        d_logit=float(gap.frobenius) * float(gap.frobenius) / ap.num_contexts,  # inf, not
        # OverflowError (`**`), past 1e154
        tolerance=tol,
        near_tolerance=near,
        smallest_tolerance=relative,
        p=Side.of(ap),
        q=Side.of(aq),
        fit_rank=int(fitted.effective_complexity),
        fit_threshold=float(fitted.log_odds_threshold),
        reference_rank=k,
        spectral_gap=float(spectral_gap(aq.log_odds_singular_values, k)),
        canonical_r2=r2,
        max_principal_angle=angle,
        map=_map(ap, fitted),
        precision=policy,
        notes=tuple(notes),
    )


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Trained models against their truth and against each other (docs/theory.md §8).

    Attributes:
        labels: one label per model (e.g. `(width, seed)`).
        to_truth: `compare(truth, model)` per model.
        between: `((i, j), compare(model_i, model_j))` for every pair `i < j` in the same group
            (every ordered pair `i ≠ j` with `ordered=True`).
        truth, analyses: the `Analysis` of the truth and of each model that every comparison
            above was computed from (spectra, subspaces, the models' properties read them, so
            a caller never decomposes a model twice).
    """

    labels: tuple[Any, ...]
    to_truth: tuple[Comparison, ...]
    between: tuple[tuple[tuple[int, int], Comparison], ...]
    truth: Analysis
    analyses: tuple[Analysis, ...]


def evaluate(
    models: Sequence[Predictor],
    truth: Predictor,
    *,
    rank: int | None = None,
    labels: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    precision: Precision | None = None,
    ordered: bool = False,
) -> Evaluation:
    """`compare(truth, model)` for every model, and `compare` between the models of each group
    (e.g. the seeds of one width) — the one §8 evaluation of `idlin reproduce`, `idlin sweep`
    (`idlin.lab.sweep.truth_metrics`) and `idlin.lab.experiments.trained_models`.

    Args:
        models: trained predictors on the truth's contexts and vocabulary.
        truth: the ground truth.
        rank: the truth's effective complexity, if known (default: its numerical rank).
        labels: a label per model (default its index).
        groups: a group key per model; only models of one group are compared with each other
            (default: all in one group).
        precision: the precision policy of every analysis and every `compare`.
        ordered: compare every ordered pair (`compare` is not symmetric: the canonical R² fits
            the second model's coordinates from the first's), not only `i < j`.

    Raises:
        ConfigError: labels or groups of the wrong length, no models.
    """
    models = list(models)
    if not models:
        raise ConfigError("models: expected at least one predictor, got none")
    labels = tuple(range(len(models))) if labels is None else tuple(labels)
    groups = tuple([0] * len(models)) if groups is None else tuple(groups)
    for name, seq in (("labels", labels), ("groups", groups)):
        if len(seq) != len(models):
            raise ConfigError(
                f"{name}: expected {len(models)} entries (one per model), got {len(seq)}"
            )
    at = analyze(truth, precision=precision)
    k = int(at.effective_complexity) if rank is None else int(rank)
    analyses = [analyze(m, precision=precision) for m in models]
    to_truth = tuple(compare(at, a, precision=precision, reference_rank=k) for a in analyses)
    between = tuple(
        ((i, j), compare(analyses[i], analyses[j], precision=precision, reference_rank=k))
        for i, j in (itertools.permutations if ordered else itertools.combinations)(
            range(len(models)), 2
        )
        if groups[i] == groups[j]
    )
    return Evaluation(labels, to_truth, between, truth=at, analyses=tuple(analyses))
