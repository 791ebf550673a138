"""What `idlin inspect` reports: is a linear property a fact about the distribution, or about
these coordinates, and is its score evidence at all? (docs/theory.md §3, §6, §6.5, §7)

Each requested property is evaluated by `idlin.properties` in both forms on the model's one
`Analysis`, with the library's precision policy for the stored dtype (`idlin.Precision`,
docs/theory.md §3.1), with its controls (shuffled pairings, random pairs, random labels, random
vectors; seeded); this module reads the pair of verdicts through docs/theory.md §7 and each
score against its controls through docs/theory.md §6.5.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core._analysis import analyze
from ...core._compare import Side
from ...core._precision import Precision
from ...core._predictor import Predictor
from ...properties import (
    PropertyResult,
    both_forms,
    linear_probe,
    parallelism,
    relational_linearity,
    steering,
)
from ._summary import jsonable, summarise_model

SCORE_NAMES = {
    "parallelism": "σ₂/σ₁",
    "relational_linearity": "held-out top-1",
    "linear_probe": "margin",
    "steering": "reach residual",
}
STATISTIC_NAMES = {
    "sigma ratio": "σ₂/σ₁",
    "mean cosine": "mean cosine",
    "held-out accuracy": "held-out accuracy",
    "relative shift": "shift ‖Ĝv‖/(σ₁‖v‖)",
    "reach residual": "reach residual",
}


def verdict(r: PropertyResult) -> str:
    """ "vacuous" where the verdict is no evidence (docs/theory.md §6.5), else "yes" / "no"."""
    return "vacuous" if r.vacuous else ("yes" if r.holds else "no")


def _close(x: float, y: float, tol: float) -> bool:
    return abs(x - y) <= tol * max(1.0, abs(x), abs(y))


def reading(raw: PropertyResult, ident: PropertyResult) -> str:
    """One sentence reading the raw and identifiable verdicts together (docs/theory.md
    §6.5, §7.3–§7.4). Vacuous verdicts are not read as evidence; inclusion makes the *verdicts*
    agree, not the scores."""
    if raw.vacuous or ident.vacuous:
        both = (("raw", raw), ("identifiable", ident))
        empty = " and ".join(form for form, r in both if r.vacuous)
        if raw.name == "linear_probe":
            # a vacuous probe always has its Cover probability
            chances = (r.cover_probability for _, r in both if r.vacuous)
            chance = max(c for c in chances if c is not None)
            text = (
                f"separability is vacuous here ({empty}: random labels would be separable with "
                f"probability {chance:.2g}, Cover): judge the probe by its held-out accuracy "
                "against random labels"
            )
        elif raw.name == "steering":
            text = (
                f"every vector reaches its own shift here ({empty}: "
                + "; ".join(r.note.removeprefix("vacuous: ") for _, r in both if r.vacuous)
                + "): judge the vector by its shift against random vectors"
            )
        else:
            text = (
                f"an affine map fits these pairs whatever they are ({empty}: too few pairs for "
                "the dimension): judge the relation by its held-out faithfulness"
            )
        rest = [f"{form} verdict: {verdict(r)}" for form, r in both if not r.vacuous]
        return "; ".join([text, *rest])
    if ident.holds and raw.holds:
        verdict_text = "holds and is identifiable: a fact about the distribution"
    elif ident.holds:
        verdict_text = "identifiable but not visible in these coordinates (another member shows it)"
    elif raw.holds:
        verdict_text = "holds only in these coordinates: not a fact about the distribution"
    else:
        verdict_text = "absent in both forms"
    if not raw.inclusion.holds:
        return f"{verdict_text}; inclusion fails (residual {raw.inclusion.residual:.2g})"
    if _close(raw.score, ident.score, raw.tol):
        return f"{verdict_text}; inclusion holds, so raw = identifiable (all or none)"
    return (
        f"{verdict_text}; inclusion holds, so the verdicts agree (all or none), but not the "
        f"scores ({SCORE_NAMES[raw.name]} raw {raw.score:.3g}, identifiable {ident.score:.3g}): "
        "a score depends on the coordinates it is measured in"
    )


def _null_text(c) -> str:
    lo, mid, hi = c.quantiles
    return f"{c.control} median {mid:.3g} (5–95% {lo:.3g}–{hi:.3g}), p = {c.p_value:.2g}"


def evidence(r: PropertyResult) -> tuple[str, ...]:
    """What the score means against its controls, one line per statistic (docs/theory.md
    §6.5), e.g. "σ₂/σ₁ matched 0.19 vs shuffled targets median 0.25 (…), p = 0.01"."""
    lines = []
    if r.name == "linear_probe" and r.heldout_accuracy is not None:
        line = f"held-out accuracy (k-fold ridge) {r.heldout_accuracy:.3g}"
        c = r.control("random labels", "held-out accuracy")
        lines.append(line + (f" vs {_null_text(c)}" if c else ""))
    if r.name == "linear_probe":
        lines.append(
            f"separable: {verdict(r)} (margin {r.score:.3g}, training accuracy "
            f"{r.accuracy:.3g}; Cover's chance for random labels {r.cover_probability:.2g})"
        )
    if r.name == "relational_linearity":
        lines.append(
            f"affine fit on all pairs: residual {r.residual:.3g} ({verdict(r)}); held-out top-1 "
            f"faithfulness {r.score:.3g} (fraction of held-out targets whose decoded top-1 "
            "matches the model's)"
        )
    if r.name == "steering" and r.relative_shift is not None:
        if not r.controls:
            lines.append(f"shift ‖Ĝv‖/(σ₁‖v‖) {r.relative_shift:.3g}")
    for stat in ("sigma ratio", "mean cosine", "relative shift", "reach residual"):
        found = [c for c in r.controls if c.statistic == stat]
        if found:
            observed = found[0].observed
            nulls = "; ".join(_null_text(c) for c in found)
            lines.append(f"{STATISTIC_NAMES[stat]} matched {observed:.3g} vs {nulls}")
    return tuple(lines)


@dataclasses.dataclass(frozen=True)
class PropertyReport:
    """One property on one probe set, in both forms.

    Attributes:
        name, side: the property and the side it probes ("embedding" or "unembedding").
        probe: what it was asked on (e.g. "12 pairs from pairs.tsv").
        raw, identifiable: the two `PropertyResult`s (controls, p-values and vacuity flags in
            them).
        reading: `reading(raw, identifiable)`.
        score_name: what `score` measures (e.g. "σ₂/σ₁").
        evidence: `evidence(...)` of each form: the scores against their controls.
    """

    name: str
    side: str
    probe: str
    raw: PropertyResult
    identifiable: PropertyResult
    reading: str
    score_name: str = ""
    evidence: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Ranks:
    """The three ranks and how clearly each separates where it is counted (docs/theory.md §3).

    Attributes:
        embedding_rank, unembedding_rank, effective_complexity: k_f, k_g, r.
        embedding_gap, unembedding_gap: `σ_k/σ_{k+1}` of F and Ĝ (`idlin.spectral_gap`; inf
            when nothing is cut off).
        rank_gap, rank_rule: the gap where r is counted and how (`Analysis.rank_gap`: principal
            cosines by default, the spectrum of C under a KL-tied or absolute policy).
        log_odds_gap: `σ_r(C)/σ_{r+1}(C)`, for reference.
        clear: every gap ≥ `CLEAR_GAP` (10); below that a rank is a threshold's choice.
    """

    embedding_rank: int
    unembedding_rank: int
    effective_complexity: int
    embedding_gap: float
    unembedding_gap: float
    rank_gap: float
    rank_rule: str
    log_odds_gap: float
    clear: bool

    @classmethod
    def of(cls, a) -> Ranks:
        side = Side.of(a)
        return cls(
            side.embedding_rank,
            side.unembedding_rank,
            side.effective_complexity,
            side.embedding_gap,
            side.unembedding_gap,
            side.rank_gap,
            side.rank_rule,
            side.log_odds_gap,
            clear=side.clear_rank,
        )


@dataclasses.dataclass(frozen=True)
class Inspection:
    """Everything `idlin inspect A` reports.

    Attributes:
        model: sizes, effective complexity, diversity (docs/theory.md §3).
        properties: one `PropertyReport` per requested property.
        tol: the properties' relative tolerance (`Precision.verdict_tol`: `√ε` of the stored
            dtype unless given).
        ranks: k_f, k_g, r and their spectral gaps.
        seed, permutations: the controls' seed and sample count (0: no controls).
        geometry: the identifiable coordinates ("isometric" or "whitened").
        default_tol: whether `tol` is the default (`√ε`) rather than the caller's.
    """

    model: Side
    properties: tuple[PropertyReport, ...]
    tol: float
    ranks: Ranks | None = None
    seed: int = 0
    permutations: int = 0
    geometry: str = "isometric"
    default_tol: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; the controls' null samples are left out (quantiles and p-values
        stay)."""
        return jsonable(_drop_samples(dataclasses.asdict(self)))


def _drop_samples(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_samples(v) for k, v in x.items() if k != "samples"}
    if isinstance(x, list | tuple):
        return [_drop_samples(v) for v in x]
    return x


def _both(fn, probe: str, geometry: str = "isometric", **kwargs) -> PropertyReport:
    only = {} if fn is steering else {"geometry": geometry}
    raw, ident = both_forms(fn, identifiable=only, **kwargs)
    return PropertyReport(
        raw.name, raw.side, probe, raw, ident, reading(raw, ident), SCORE_NAMES[raw.name],
        {"raw": evidence(raw), "identifiable": evidence(ident)},
    )  # fmt: skip


def holdout_split(pairs: np.ndarray, every: int = 4) -> tuple[np.ndarray, np.ndarray | None]:
    """Every `every`-th pair held out to score relational faithfulness (in-sample below
    `every` pairs, and for `every = 0`)."""
    if every <= 0 or len(pairs) < every:
        return pairs, None
    test = np.arange(len(pairs)) % every == every - 1
    return pairs[~test], pairs[test]


def _pair_names(pairs: np.ndarray, names: Sequence[str] | None, limit: int = 3) -> str:
    """ "easy→easiest, big→biggest, …" (the first `limit` pairs), "" without names."""
    if names is None:
        return ""
    shown = ", ".join(f"{names[a]}→{names[b]}" for a, b in np.asarray(pairs)[:limit].tolist())
    return f": {shown}" + (", …" if len(pairs) > limit else "")


def inspect_model(
    p: Predictor,
    *,
    tol: float | None = None,
    pairs: np.ndarray | None = None,
    token_pairs: np.ndarray | None = None,
    labels: tuple[np.ndarray, np.ndarray] | None = None,
    steering_vector: np.ndarray | None = None,
    holdout: int = 4,
    stored: Any = None,
    sources: dict[str, str] | None = None,
    names: dict[str, Sequence[str] | None] | None = None,
    seed: int = 0,
    permutations: int = 200,
    folds: int = 5,
    geometry: str = "isometric",
) -> Inspection:
    """Effective complexity, diversity and the requested properties in both forms, each with
    its controls (docs/theory.md §6.5).

    - `pairs` (context pairs): parallelism of embedding differences and relational linearity
      (every `holdout`-th pair held out for the faithfulness score; 0: in-sample).
    - `token_pairs`: parallelism of unembedding differences.
    - `labels = (contexts, labels)`: linear probing of the embeddings (held-out accuracy over
      `folds` folds, Cover's vacuity).
    - `steering_vector` (width d, in p's coordinates): linear steering (docs/theory.md §6).

    Args:
        p: the predictor.
        tol: the properties' relative tolerance (default: the precision policy's verdict
            tolerance for the stored dtype, `√ε`).
        stored: the dtype the model was stored in (sets the tolerances; default p's dtype).
        sources: names of the probe files, for the report.
        names: `{"contexts": N names, "tokens": V names}` (either may be None): items are
            reported by name.
        seed, permutations: the controls' seed and samples per control (shuffled targets,
            random pairs, random labels, random vectors); 0 turns the controls off.
        folds: k of the probe's k-fold held-out accuracy.
        geometry: the identifiable coordinates, "isometric" (default) or "whitened".

    Raises:
        ProbeError, ShapeError, DTypeError: probe sets the properties cannot use.
        ConfigError: a bad seed, count or geometry.
    """
    precision = Precision(stored=p.dtype if stored is None else stored, verdict_tol=tol)
    a = analyze(p, precision=precision)  # one decomposition for every property below
    default_tol = tol is None
    verdict_tol = precision.resolved_verdict_tol()
    sources = sources or {}
    names = names or {}
    contexts, tokens = names.get("contexts"), names.get("tokens")
    common = {"p": a, "geometry": geometry}  # every tolerance from a.precision
    controls = {"seed": seed, "permutations": permutations}
    reports = []
    if pairs is not None:
        where = f"{len(pairs)} context pairs" + (
            f" from {sources['pairs']}" if "pairs" in sources else ""
        )
        where += _pair_names(pairs, contexts)
        reports.append(
            _both(parallelism, where, pairs=pairs, side="embedding", names=contexts,
                  **controls, **common)
        )  # fmt: skip
        train, test = holdout_split(pairs, holdout)
        reports.append(
            _both(relational_linearity, where, train_pairs=train, test_pairs=test, **common)
        )
    if token_pairs is not None:
        where = f"{len(token_pairs)} token pairs" + (
            f" from {sources['token_pairs']}" if "token_pairs" in sources else ""
        )
        where += _pair_names(token_pairs, tokens)
        reports.append(
            _both(parallelism, where, pairs=token_pairs, side="unembedding", names=tokens,
                  **controls, **common)
        )  # fmt: skip
    if labels is not None:
        where = f"{len(labels[0])} labelled contexts" + (
            f" from {sources['labels']}" if "labels" in sources else ""
        )
        reports.append(
            _both(linear_probe, where, contexts=labels[0], labels=labels[1], folds=folds,
                  random_labels=permutations, seed=seed, **common)
        )  # fmt: skip
    if steering_vector is not None:
        where = "a steering vector" + (
            f" from {sources['steering']}" if "steering" in sources else ""
        )
        reports.append(
            _both(steering, where, vector=steering_vector, random_vectors=permutations,
                  seed=seed, **common)
        )  # fmt: skip
    return Inspection(
        model=summarise_model(a),
        properties=tuple(reports),
        tol=verdict_tol,
        ranks=Ranks.of(a),
        seed=seed,
        permutations=permutations,
        geometry=geometry,
        default_tol=default_tol,
    )
