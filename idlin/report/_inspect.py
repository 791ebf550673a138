"""What `idlin inspect` reports: is a linear property a fact about the distribution, or about
these coordinates? (THEORY §3, §6, §7)

Each requested property is evaluated by `idlin.properties` in both forms on the model's one
`Analysis`, with the library's precision policy for the stored dtype (`idlin.Precision`,
docs/theory.md §3.1); this module reads the pair of verdicts through docs/theory.md §7.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._analysis import analyze
from .._precision import Precision
from .._predictor import Predictor
from ..properties import PropertyResult, linear_probe, parallelism, relational_linearity
from ._summary import ModelSummary, jsonable, summarise_model


def reading(raw: PropertyResult, ident: PropertyResult) -> str:
    """One sentence reading the raw and identifiable verdicts together (THEORY §7.3–§7.4)."""
    if ident.holds and raw.holds:
        verdict = "holds and is identifiable: a fact about the distribution"
    elif ident.holds:
        verdict = "identifiable but not visible in these coordinates (another member shows it)"
    elif raw.holds:
        verdict = "holds only in these coordinates: not a fact about the distribution"
    else:
        verdict = "absent in both forms"
    if raw.inclusion.holds:
        return f"{verdict}; inclusion holds, so raw = identifiable (all or none)"
    return f"{verdict}; inclusion fails (residual {raw.inclusion.residual:.2g})"


@dataclasses.dataclass(frozen=True)
class PropertyReport:
    """One property on one probe set, in both forms.

    Attributes:
        name, side: the property and the side it probes ("embedding" or "unembedding").
        probe: what it was asked on (e.g. "12 pairs from pairs.tsv").
        raw, identifiable: the two `PropertyResult`s.
        reading: `reading(raw, identifiable)`.
    """

    name: str
    side: str
    probe: str
    raw: PropertyResult
    identifiable: PropertyResult
    reading: str


@dataclasses.dataclass(frozen=True)
class Inspection:
    """Everything `idlin inspect A` reports.

    Attributes:
        model: sizes, effective complexity, diversity (THEORY §3).
        properties: one `PropertyReport` per requested property.
        tol: the properties' relative tolerance (`Precision.verdict_tol`: `√ε` of the stored
            dtype unless given).
    """

    model: ModelSummary
    properties: tuple[PropertyReport, ...]
    tol: float

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))


def _both(fn, probe: str, **kwargs) -> PropertyReport:
    raw, ident = fn(form="raw", **kwargs), fn(form="identifiable", **kwargs)
    return PropertyReport(raw.name, raw.side, probe, raw, ident, reading(raw, ident))


def holdout_split(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Every 4th pair held out to score relational faithfulness (in-sample below 4 pairs)."""
    if len(pairs) < 4:
        return pairs, None
    test = np.arange(len(pairs)) % 4 == 3
    return pairs[~test], pairs[test]


def inspect_model(
    p: Predictor,
    *,
    tol: float | None = None,
    pairs: np.ndarray | None = None,
    token_pairs: np.ndarray | None = None,
    labels: tuple[np.ndarray, np.ndarray] | None = None,
    stored: Any = None,
    sources: dict[str, str] | None = None,
) -> Inspection:
    """Effective complexity, diversity and the requested properties in both forms.

    - `pairs` (context pairs): parallelism of embedding differences and relational linearity
      (every 4th pair held out for the faithfulness score).
    - `token_pairs`: parallelism of unembedding differences.
    - `labels = (contexts, labels)`: linear probing of the embeddings.

    Args:
        p: the predictor.
        tol: the properties' relative tolerance (default: the precision policy's verdict
            tolerance for the stored dtype, `√ε`).
        stored: the dtype the model was stored in (sets the tolerances; default p's dtype).
        sources: names of the probe files, for the report.

    Raises:
        ProbeError, ShapeError, DTypeError: probe sets the properties cannot use.
    """
    precision = Precision(stored=p.dtype if stored is None else stored, verdict_tol=tol)
    a = analyze(p, precision=precision)  # one decomposition for every property below
    tol = precision.resolved_verdict_tol()
    sources = sources or {}
    common = {"p": a, "tol": tol}
    reports = []
    if pairs is not None:
        where = f"{len(pairs)} context pairs" + (
            f" from {sources['pairs']}" if "pairs" in sources else ""
        )
        reports.append(_both(parallelism, where, pairs=pairs, side="embedding", **common))
        train, test = holdout_split(pairs)
        reports.append(
            _both(relational_linearity, where, train_pairs=train, test_pairs=test, **common)
        )
    if token_pairs is not None:
        where = f"{len(token_pairs)} token pairs" + (
            f" from {sources['token_pairs']}" if "token_pairs" in sources else ""
        )
        reports.append(_both(parallelism, where, pairs=token_pairs, side="unembedding", **common))
    if labels is not None:
        where = f"{len(labels[0])} labelled contexts" + (
            f" from {sources['labels']}" if "labels" in sources else ""
        )
        reports.append(_both(linear_probe, where, contexts=labels[0], labels=labels[1], **common))
    return Inspection(model=summarise_model(a), properties=tuple(reports), tol=tol)
