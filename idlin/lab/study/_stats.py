"""The statistics that answer the study's question, from the point records (docs/theory.md §7, §8).

Per (distribution, architecture, width, property, verdict tolerance), over the K seeds whose
property could be evaluated:

- **spread**: the sample standard deviation (ddof = 1) of the raw and of the identifiable
  verdict statistic (`statistic` of `_evaluate.evaluate_properties`);
- **seed-pair agreement**: for verdicts `v_1..v_K` with `a` true and `b = K − a` false, the
  fraction of the `K(K−1)/2` unordered seed pairs with equal verdicts,
  `(a(a−1) + b(b−1)) / (K(K−1))` — raw and identifiable;
- **agreement with the truth**: the fraction of seeds whose verdict equals the truth's verdict
  in the same form at the same tolerance — raw and identifiable;
- a **percentile bootstrap** 95% interval for each: resample the K seeds with replacement
  `bootstrap` times (the same resample for every quantity of the point), with the generator
  `numpy.random.default_rng([bootstrap_seed, point index])`. In a resample a seed drawn twice
  forms a pair with itself, which always agrees: the pair-agreement interval leans high by
  about 1/K (stated, not corrected).

`kl_bins` relates agreement with the truth to fit quality: every trained model, binned by its
KL to the truth at the tertiles of all models' KLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ...properties import FORMS
from ._probes import PROPERTIES


def pair_agreement(verdicts: Any) -> float:
    """Fraction of unordered pairs of seeds whose verdicts agree (NaN for fewer than 2 seeds).

    >>> pair_agreement([True, True, False])
    0.3333333333333333
    """
    v = np.asarray(verdicts, bool)
    k = v.size
    if k < 2:
        return float("nan")
    a = int(v.sum())
    b = k - a
    return (a * (a - 1) + b * (b - 1)) / (k * (k - 1))


def _pair_agreement_rows(v: np.ndarray) -> np.ndarray:
    """`pair_agreement` of every row of a (B, K) boolean array."""
    k = v.shape[1]
    a = v.sum(axis=1)
    b = k - a
    return (a * (a - 1) + b * (b - 1)) / (k * (k - 1))


def _interval(samples: np.ndarray) -> list[float]:
    return [float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))]


def point_statistics(
    verdicts: Mapping[str, np.ndarray],
    statistics: Mapping[str, np.ndarray],
    truth: Mapping[str, bool],
    *,
    bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The statistics of one point, one property, one tolerance (module docstring).

    Args:
        verdicts: form → (K,) booleans of the trained seeds.
        statistics: form → (K,) verdict statistics of the same seeds.
        truth: form → the truth's verdict.
        bootstrap: number of resamples B.
        rng: the generator of the resamples.

    Returns:
        For each form f: `f_pair_agreement`, `f_truth_agreement`, `f_spread`, `f_mean`, each
        with `_ci` (a [low, high] 95% interval); and `seeds` = K.

    >>> import numpy as np
    >>> from idlin.lab.study import point_statistics
    >>> v = {"raw": np.array([True, False, True]), "identifiable": np.array([True] * 3)}
    >>> s = {"raw": np.array([0.0, 0.5, 0.1]), "identifiable": np.array([0.01, 0.02, 0.0])}
    >>> out = point_statistics(v, s, {"raw": True, "identifiable": True}, bootstrap=100,
    ...                        rng=np.random.default_rng([0, 0]))
    >>> round(out["raw_pair_agreement"], 3), out["identifiable_truth_agreement"]
    (0.333, 1.0)
    """
    k = len(next(iter(verdicts.values())))
    out: dict[str, Any] = {"seeds": k}
    idx = rng.integers(0, k, size=(bootstrap, k)) if k else np.zeros((bootstrap, 0), int)
    for form in FORMS:
        v = np.asarray(verdicts[form], bool)
        s = np.asarray(statistics[form], np.float64)
        agree_truth = v == bool(truth[form])
        out[f"{form}_pair_agreement"] = pair_agreement(v)
        out[f"{form}_truth_agreement"] = float(agree_truth.mean()) if k else float("nan")
        out[f"{form}_spread"] = float(np.std(s, ddof=1)) if k > 1 else float("nan")
        out[f"{form}_mean"] = float(np.mean(s)) if k else float("nan")
        if k > 1:
            out[f"{form}_pair_agreement_ci"] = _interval(_pair_agreement_rows(v[idx]))
            out[f"{form}_truth_agreement_ci"] = _interval(agree_truth[idx].mean(axis=1))
            out[f"{form}_spread_ci"] = _interval(np.std(s[idx], axis=1, ddof=1))
            out[f"{form}_mean_ci"] = _interval(s[idx].mean(axis=1))
    return out


def _seed_table(record: Mapping[str, Any], prop: str, t: int):
    """Verdicts and statistics of the seeds where `prop` was evaluated, at tolerance index t."""
    rows = [m["properties"][prop] for m in record["models"]
            if "properties" in m and "error" not in m["properties"][prop]
            and all(m["properties"][prop][f]["holds"][t] is not None for f in FORMS)]  # fmt: skip
    verdicts = {f: np.array([r[f]["holds"][t] for r in rows], bool) for f in FORMS}
    stats = {f: np.array([r[f]["statistic"] for r in rows], np.float64) for f in FORMS}
    return verdicts, stats


def study_rows(records: Sequence[Mapping[str, Any]], *, bootstrap: int, seed: int) -> list[dict]:
    """One row per (point, property, tolerance) with `point_statistics` and the point's
    identity, truth verdicts and median KL. Points are ordered as given; the bootstrap
    generator of point i is `default_rng([seed, i])`. (Example: `tests/test_study.py`, on a
    synthetic store.)"""
    rows = []
    for i, rec in enumerate(records):
        rng = np.random.default_rng([seed, i])
        kls = [m["mean_kl"] for m in rec["models"] if "mean_kl" in m]
        for prop in PROPERTIES:
            tp = rec["truth"]["properties"][prop]
            for t, tol in enumerate(rec["tolerances"]):
                if "error" in tp or any(tp[f]["holds"][t] is None for f in FORMS):
                    continue
                verdicts, stats = _seed_table(rec, prop, t)
                truth = {f: tp[f]["holds"][t] for f in FORMS}
                row = {
                    "distribution": rec["distribution"], "architecture": rec["architecture"],
                    "width": rec["width"], "multiple": rec["multiple"], "property": prop,
                    "tolerance": tol, "tolerance_index": t, "median_kl": float(np.median(kls))
                    if kls else float("nan"),
                    "truth_raw": bool(truth["raw"]),
                    "truth_identifiable": bool(truth["identifiable"]),
                }  # fmt: skip
                row.update(point_statistics(verdicts, stats, truth, bootstrap=bootstrap, rng=rng))
                rows.append(row)
    return rows


def headline(rows: Iterable[Mapping[str, Any]], tolerances: Sequence[float]) -> list[dict]:
    """Per property: the mean over points of the seed-pair agreement and of the agreement with
    the truth, raw and identifiable, at each tolerance (the sensitivity columns), and the
    number of points where identifiable pair agreement is ≥ / < the raw one."""
    rows = [r for r in rows if r["seeds"] >= 2]
    out = []
    for prop in PROPERTIES:
        entry: dict[str, Any] = {"property": prop}
        for t, tol in enumerate(tolerances):
            sel = [r for r in rows if r["property"] == prop and r["tolerance_index"] == t]
            if not sel:
                continue
            for key in ("raw_pair_agreement", "identifiable_pair_agreement",
                        "raw_truth_agreement", "identifiable_truth_agreement"):  # fmt: skip
                entry[f"{key}@{tol:g}"] = float(np.mean([r[key] for r in sel]))
            diff = np.array(
                [r["identifiable_pair_agreement"] - r["raw_pair_agreement"] for r in sel]
            )
            entry[f"points@{tol:g}"] = len(sel)
            entry[f"identifiable_higher@{tol:g}"] = int((diff > 0).sum())
            entry[f"raw_higher@{tol:g}"] = int((diff < 0).sum())
        out.append(entry)
    return out


def kl_bins(records: Sequence[Mapping[str, Any]], tolerance_index: int) -> list[dict]:
    """Agreement with the truth's verdict (raw, identifiable) of every (model, property), in
    three bins of the model's KL to the truth (split at the tertiles of all models' KLs)."""
    items = []
    for rec in records:
        for m in rec["models"]:
            if "properties" not in m:
                continue
            for prop in PROPERTIES:
                tp, mp = rec["truth"]["properties"][prop], m["properties"][prop]
                if (
                    "error" in tp
                    or "error" in mp
                    or any(x[f]["holds"][tolerance_index] is None for x in (tp, mp) for f in FORMS)
                ):
                    continue
                items.append(
                    (
                        m["mean_kl"],
                        *(
                            mp[f]["holds"][tolerance_index] == tp[f]["holds"][tolerance_index]
                            for f in FORMS
                        ),
                    )
                )
    if not items:
        return []
    kl = np.array([x[0] for x in items])
    agree = {f: np.array([x[1 + i] for x in items], bool) for i, f in enumerate(FORMS)}
    edges = np.quantile(kl, [0.0, 1 / 3, 2 / 3, 1.0])
    which = np.clip(np.searchsorted(edges[1:-1], kl, side="right"), 0, 2)
    out = []
    for b in range(3):
        sel = which == b
        if sel.any():
            out.append({"kl_low": float(kl[sel].min()), "kl_high": float(kl[sel].max()),
                        "items": int(sel.sum()),
                        **{f"{f}_truth_agreement": float(agree[f][sel].mean())
                           for f in FORMS}})  # fmt: skip
    return out
