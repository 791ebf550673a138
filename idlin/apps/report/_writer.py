"""`report.json`, `report.md` and the figures of `idlin reproduce` (docs/theory.md §3–§8).

`report.json` is the `ReproduceResult` as plain JSON (non-finite floats as `null`, idlin's JSON
convention: `idlin.apps.report.jsonable`); `report.md` shows the same numbers rounded by `fmt`
(4 significant digits), so every number in the markdown can be traced to the JSON.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ...core._paths import write_text
from ._summary import jsonable

FIGURES = ("spectra.png", "property_scores.png", "map_fit.png", "parallel.png")


def fmt(x: Any) -> str:
    """The markdown rendering of one JSON value: floats to 4 significant digits."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return format(x, ".4g")
    return str(x)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return [*out, ""]


def markdown(result, figures: list[str]) -> str:
    """The markdown report of a `ReproduceResult`."""
    c = result.config
    lines = [
        "# idlin reproduce — report",
        "",
        "Identifiable linear properties of next-token predictors (Marconato et al., AISTATS "
        "2025), checked on models trained from scratch. Numbers are rounded to 4 significant "
        "digits; `report.json` has them in full.",
        "",
        f"Run: seed {c.seed}, {c.seeds} seeds × widths r + {list(c.width_offsets)}, "
        f"{c.steps} steps; {fmt(result.seconds)} s; jax {result.versions['jax']}, "
        f"idlin {result.versions['idlin']}.",
        "",
        "## Ground truths (docs/theory.md §3)",
        "",
    ]
    lines += _table(
        ["truth", "contexts N", "vocabulary V", "width d", "effective complexity r"],
        [[t.name, t.contexts, t.vocab, t.width, t.rank] for t in result.truths],
    )
    if result.models:
        lines += [
            "## Trained models against the truth (docs/theory.md §4, §8)",
            "",
            "Rank: singular values of C above a threshold tied to each model's KL to the truth "
            "(`idlin.accuracy_rtol`); R²: least-squares map between canonical coordinates cut at "
            "the truth's r; EL residuals: `recover_extended_map(truth, model)`.",
            "",
        ]
        lines += _table(
            ["truth", "width", "seed", "KL to truth", "relative gap", "rank of C",
             "σ_r/σ_r+1", "R² canonical", "EL residual F", "EL residual Ĝ"],
            [[m.experiment, m.width, m.seed, m.kl_to_truth, m.relative_gap,
              m.effective_complexity, m.rank_separation, m.canonical_r2,
              m.map_embedding_residual, m.map_unembedding_residual] for m in result.models],
        )  # fmt: skip
    if result.seed_pairs:
        lines += ["## Between seeds (docs/theory.md §8)", ""]
        lines += _table(
            ["truth", "width", "seeds", "relative gap", "mean KL", "R² canonical"],
            [[s.experiment, s.width, f"{s.seeds[0]} vs {s.seeds[1]}", s.relative_gap,
              s.mean_kl, s.canonical_r2] for s in result.seed_pairs],
        )  # fmt: skip
    if result.properties:
        lines += [
            "## Linear properties of the morphology language (docs/theory.md §6–§7)",
            "",
            "On the exact truth: raw and identifiable verdict (score), the inclusion condition, "
            "the all-or-none harness over members of the truth's class (identifiable verdict "
            "constant? raw pattern over all members / over members satisfying inclusion) and the "
            "counterexample of docs/theory.md §7.4.",
            "",
        ]
        rows = []
        for p in result.properties:
            a, ce = p.all_or_none, p.counterexample
            flip = (
                f"{ce.construction} (width {ce.member_width}, gap "
                f"{fmt(ce.member_relative_gap)}): raw {fmt(ce.raw_on_truth)} → "
                f"{fmt(ce.raw_on_member)}"
                if ce.construction
                else "none: " + ce.reason
            )
            rows.append([
                p.name, p.side, f"{fmt(p.truth_raw[0])} ({fmt(p.truth_raw[1])})",
                f"{fmt(p.truth_identifiable[0])} ({fmt(p.truth_identifiable[1])})",
                p.truth_inclusion, a.identifiable_agrees, a.raw_pattern,
                a.included_pattern, flip,
            ])  # fmt: skip
        lines += _table(
            ["property", "side", "raw", "identifiable", "inclusion", "id. agrees",
             "raw: class", "raw: included", "counterexample"],
            rows,
        )  # fmt: skip
        lines += ["Probe sets: " + "; ".join(f"{p.name} ({p.side}): {p.probe}" for p in
                                             result.properties) + ".", ""]  # fmt: skip
        trained = [(p, s) for p in result.properties for s in p.trained]
        if trained:
            lines += ["### Trained models: raw vs identifiable scores (docs/theory.md §8)", ""]
            lines += _table(
                ["property", "side", "width", "seed", "raw score", "identifiable score"],
                [[p.name, p.side, s.width, s.seed, s.raw_score, s.identifiable_score]
                 for p, s in trained],
            )  # fmt: skip
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in figures] + [""]
    if result.skipped:
        lines += ["## Not evaluated", ""] + [f"- {s}" for s in result.skipped] + [""]
    return "\n".join(lines)


def write_report(result, artifacts, out: Path, *, figures: bool = True) -> list[Path]:
    """Write `report.json`, `report.md` and (with `figures`) the PNGs into `out`.

    Returns:
        The paths written.
    """
    from . import _figures

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    names: list[str] = []
    if figures and result.truths:
        written.append(_figures.spectra(result, out / "spectra.png"))
        if result.models:
            written.append(_figures.map_fit(result, out / "map_fit.png"))
        if any(p.trained for p in result.properties):
            written.append(_figures.property_scores(result, out / "property_scores.png"))
        if artifacts.parallel_pairs is not None:
            rows = []
            if artifacts.counterexample_member is not None:
                rows.append(("truth's class member", artifacts.counterexample_member))
            trained = artifacts.trained.get("morphology") or []
            if trained:  # the widest model, seed 0: most room for invisible coordinates
                w, s, q = max(trained, key=lambda t: (t[0], -t[1]))
                rows.append((f"trained d={w} seed {s}", q))
            if rows:
                written.append(
                    _figures.parallel(rows, artifacts.parallel_pairs, artifacts.parallel_labels,
                                      out / "parallel.png")
                )  # fmt: skip
        names = [p.name for p in written]
    data = jsonable(dataclasses.asdict(result))
    data["figures"] = names
    write_text(out / "report.json", json.dumps(data, indent=2, allow_nan=False) + "\n")
    write_text(out / "report.md", markdown(result, names))
    return [*written, out / "report.json", out / "report.md"]
