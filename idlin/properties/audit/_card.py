"""The report card: the field's measures audited generator by generator, against the verdicts
docs/theory.md §9.5 predicts.

`report_card(p, key=...)` audits every measure of `_catalogue.MEASURES` on p (a non-diverse
model, so that the invisible-part and shrink columns can show anything; the default has
`k_f = k_g = 4 > r = 2` in width 6) — measures that need a diverse model (`d_rep(p, ref)`) on a
diverse member-sized model built from p's minimal model by a fixed basis change — and compares
each verdict with `EXPECTED`, theory's table with ‡ resolved for such a model (`k_f, k_g > r`:
✗) and † as ✓.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from ...core._predictor import Predictor
from ...core._subspaces import minimal
from ._audit import Audit, audit
from ._catalogue import MEASURES, build, default_probes
from ._generators import GENERATORS

_Y, _N, _NA = "✓", "✗", "n/a"
_RAW_EMB = (_N, _Y, _N, _Y, _N, _Y, _N)
_ALL = (_Y,) * 7

# docs/theory.md §9.5, rows in the catalogue's names; columns in GENERATORS order.
EXPECTED: dict[str, tuple[str, ...]] = {
    "raw_cosine": _RAW_EMB,
    "embedding_norm": _RAW_EMB,
    "raw_parallelism": _RAW_EMB,
    "identifiable_parallelism": _ALL,
    "raw_margin": _RAW_EMB,
    "identifiable_margin": _ALL,
    "raw_steering": (_Y, _Y, _Y, _N, _Y, _N, _N),
    "identifiable_steering": _ALL,
    "raw_faithfulness": (_Y, _Y, _N, _Y, _N, _Y, _N),
    "identifiable_faithfulness": _ALL,
    "mcca_embeddings": (_Y, _Y, _N, _Y, _N, _Y, _N),
    "mcca_unembeddings": (_Y, _Y, _Y, _N, _Y, _N, _N),
    "cka_embeddings": _RAW_EMB,
    "d_rep_second": (_Y, _Y, _Y, _Y, _NA, _NA, _NA),
    "d_rep_first": (_N, _Y, _Y, _Y, _NA, _NA, _NA),
    "d_logit": _ALL,
    "m_svd": _ALL,
    "causal_cosine": (_Y, _Y, _Y, _N, _Y, _N, _N),
    "log_odds_norm": _ALL,
}


# Where the audit and docs/theory.md §9.5 disagree, and why (see docs/report_card.md).
DISAGREEMENTS: dict[str, dict[str, str]] = {
    "d_rep_first": {
        "shrink": "audited on a diverse model (r = d): shrinking keeps the width and is a basis "
        "change there, which changes d_rep(p, ref); the theory's n/a assumes d > r",
    },
}


@dataclasses.dataclass(frozen=True)
class CardRow:
    """One measure's audit: `verdicts` per generator, `changes` the largest relative change
    found, `expected` theory's verdicts, `model` what it was audited on."""

    measure: str
    description: str
    verdicts: dict[str, str]
    changes: dict[str, float]
    expected: dict[str, str]
    model: str
    audit: Audit
    audit_model: Predictor

    @property
    def disagreements(self) -> list[str]:
        return [g for g in GENERATORS if self.verdicts[g] != self.expected[g]]


@dataclasses.dataclass(frozen=True)
class ReportCard:
    """The report card (docs/theory.md §9.5): one `CardRow` per measure."""

    rows: list[CardRow]
    shape: tuple[int, int, int]
    ranks: tuple[int, int, int]
    budget: int
    starts: int

    def disagreements(self) -> dict[str, list[str]]:
        return {r.measure: r.disagreements for r in self.rows if r.disagreements}

    def to_markdown(self) -> str:
        N, V, d = self.shape
        kf, kg, r = self.ranks
        head = ["measure", *(g.replace("_", " ") for g in GENERATORS)]
        lines = [
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for row in self.rows:
            cells = []
            for g in GENERATORS:
                v = row.verdicts[g]
                cell = f"✗ {row.changes[g]:.1e}" if v == _N else v
                if v != row.expected[g]:
                    cell += f" (theory {row.expected[g]})"
                cells.append(cell)
            lines.append(f"| {row.description} | " + " | ".join(cells) + " |")
        intro = (
            f"Audited on a model with N={N}, V={V}, d={d}, k_f={kf}, k_g={kg}, r={r} (float64), "
            f"{self.starts} starts × {self.budget} Adam steps per generator; ✗ shows the largest "
            "relative change `|Δm|/max(|m|, ‖∇_F‖s_F+‖∇_G‖s_G)` (s: RMS row norms) realised by "
            "a verified equivalent member (gap ≤ 1e-8)."
        )
        return intro + "\n\n" + "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "ranks": list(self.ranks),
            "budget": self.budget,
            "starts": self.starts,
            "rows": [
                {
                    "measure": r.measure,
                    "description": r.description,
                    "model": r.model,
                    "verdicts": r.verdicts,
                    "changes": r.changes,
                    "expected": r.expected,
                }
                for r in self.rows
            ],
        }


def card_model(seed: int = 0) -> Predictor:
    """The default model of the card: (N, V, d) = (14, 10, 6), `k_f = k_g = 4`, `r = 2`."""
    from ...testing import planted_predictor

    return planted_predictor(
        seed, shape=(14, 10, 6), embedding_rank=4, unembedding_rank=4, effective_complexity=2
    )


def diverse_model(p: Predictor, seed: int = 0) -> Predictor:
    """A diverse member-sized model: p's minimal model under a fixed basis change (cond 10)."""
    q = minimal(p)
    rng = np.random.default_rng(seed)
    r = q.width
    U, _ = np.linalg.qr(rng.normal(size=(r, r)))
    W, _ = np.linalg.qr(rng.normal(size=(r, r)))
    M = (U * np.geomspace(1.0, 10.0, r)) @ W.T
    F, G = np.asarray(q.embeddings), np.asarray(q.unembeddings)
    return Predictor(F @ M.T, np.linalg.solve(M, G.T).T)


def report_card(
    p: Predictor | None = None,
    *,
    key: jax.Array,
    budget: int = 60,
    starts: int = 4,
    measures: tuple[str, ...] | None = None,
    seed: int = 0,
) -> ReportCard:
    """Audit the catalogue's measures on p (default `card_model()`) and compare with theory.

    Args:
        p: the model (non-diverse, with `k_f, k_g > r`, for the table to be informative).
        key: PRNG key of the searches.
        budget, starts: passed to `audit`.
        measures: a subset of `MEASURES` (default: all).
        seed: seed of the probes and of the diverse model.

    Returns:
        A `ReportCard` (`to_markdown()`, `disagreements()`).

    Example:
        >>> import jax, idlin
        >>> card = idlin.report_card(key=jax.random.key(0), budget=10, starts=1,
        ...                          measures=("log_odds_norm",))
        >>> card.rows[0].verdicts["basis"]
        '✓'
    """
    from ...core._analysis import analyze

    p = card_model(seed) if p is None else p
    a = analyze(p)
    names = tuple(MEASURES) if measures is None else tuple(measures)
    probes = default_probes(p, seed=seed)
    div = None
    rows = []
    keys = jax.random.split(key, len(names))
    for name, k in zip(names, keys, strict=True):
        description, needs_diverse = MEASURES[name]
        if needs_diverse:
            if div is None:
                div = diverse_model(p, seed)
                div_probes = default_probes(div, seed=seed)
            model, pr, where = div, div_probes, "a diverse model (p's minimal model, basis-changed)"
        else:
            model, pr, where = p, probes, "p"
        result = audit(build(name, pr), model, key=k, budget=budget, starts=starts)
        rows.append(
            CardRow(
                measure=name,
                description=description,
                verdicts=result.verdicts(),
                changes={g: result.generators[g].relative_change for g in GENERATORS},
                expected=dict(zip(GENERATORS, EXPECTED[name], strict=True)),
                model=where,
                audit=result,
                audit_model=model,
            )
        )
    return ReportCard(
        rows=rows,
        shape=(p.num_contexts, p.vocab_size, p.width),
        ranks=(int(a.embedding_rank), int(a.unembedding_rank), int(a.effective_complexity)),
        budget=budget,
        starts=starts,
    )


_PAGE = """# The report card: which of the field's measures are identifiable?

Generated by `python -m idlin.properties.audit._card docs/report_card.md` (seeded; the same code as
`idlin.report_card`). Each cell is the verdict of `idlin.audit` (docs/theory.md §9) for one
measure and one generator of the equivalence class: ✓ the measure is constant along it (zero
gradient along the generator and no verified equivalent member changing it), ✗ a verified
equivalent member changes it, n/a the measure is not defined at the member's width. A cell whose
verdict differs from docs/theory.md §9.5 says so. The figure is drawn by
`notebooks/06_audit_your_measure.py` (full size) from the same audits.

![The report card](figures/report_card.png)

{table}
Disagreements with docs/theory.md §9.5: {disagreements}.

- `d_rep(p, ref)` needs an invertible `L_p`, i.e. a diverse model, so it is audited on one (p's
  minimal model under a fixed basis change). For a diverse model `r = d`: shrinking keeps the
  width, so it is applicable, and the minimal model is a basis change of p, which changes
  `d_rep(p, ref)` like any non-orthogonal basis change. The theory's n/a assumes `d > r`.
- `d_rep` is implemented as its definition (Nielsen et al.) requires, with both models of one
  width; widening and shrinking are therefore n/a. Without that requirement, `d_rep(ref, p)`
  would be a function of `C_p` (its `L_p f_p(x)` are pivot log-odds) and invariant under every
  generator, widening included.
"""


def _main(argv: list[str] | None = None) -> None:
    import json
    import sys
    from pathlib import Path

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/report_card.md")
    card = report_card(key=jax.random.key(0))
    dis = card.disagreements()
    text = ", ".join(f"{m}: {', '.join(g)}" for m, g in dis.items()) or "none"
    out.write_text(_PAGE.format(table=card.to_markdown(), disagreements=text), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(card.to_dict(), indent=2), encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    _main()
