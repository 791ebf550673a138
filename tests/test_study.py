"""The study (issue 16): statistics against hand-computed values, vmapped analysis against the
per-seed loop, configuration errors, and the study end to end at a tiny size."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import idlin
from idlin.core._errors import ConfigError, FileFormatError
from idlin.lab.study import (
    analyze_seeds,
    evaluate_properties,
    load_points,
    pair_agreement,
    parse_config,
    point_statistics,
    run_study,
    seed_analysis,
    study_rows,
)
from idlin.lab.study._probes import PROPERTIES
from idlin.lab.study._stats import headline, kl_bins
from idlin.lab.study._train import stack

# -- statistics, by hand ------------------------------------------------------------------


def test_pair_agreement_by_hand():
    # 3 true, 1 false: pairs among the trues 3, among the falses 0, of 6 → 1/2.
    assert pair_agreement([True, True, True, False]) == pytest.approx(0.5)
    assert pair_agreement([True, True, False, False]) == pytest.approx(2 / 6)
    assert pair_agreement([False] * 5) == 1.0
    assert np.isnan(pair_agreement([True]))


def _loop_bootstrap(v, s, truth, idx):
    """An independent (loop) version of the bootstrap quantities of one form."""
    pa, ta, sd = [], [], []
    for row in idx:
        vv, ss = [v[i] for i in row], [s[i] for i in row]
        k = len(vv)
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        pa.append(sum(vv[i] == vv[j] for i, j in pairs) / len(pairs))
        ta.append(sum(x == truth for x in vv) / k)
        m = sum(ss) / k
        sd.append((sum((x - m) ** 2 for x in ss) / (k - 1)) ** 0.5)
    return [np.percentile(x, [2.5, 97.5]) for x in (pa, ta, sd)]


def test_point_statistics_by_hand_and_bootstrap_against_a_loop():
    verdicts = {"raw": np.array([True, False, True, False]), "identifiable": np.array([True] * 4)}
    stats = {"raw": np.array([0.0, 1.0, 2.0, 3.0]), "identifiable": np.array([0.1, 0.1, 0.1, 0.1])}
    truth = {"raw": True, "identifiable": True}
    out = point_statistics(verdicts, stats, truth, bootstrap=300, rng=np.random.default_rng([7, 0]))
    assert out["seeds"] == 4
    assert out["raw_pair_agreement"] == pytest.approx(2 / 6)  # 1 pair of trues + 1 of falses
    assert out["identifiable_pair_agreement"] == 1.0
    assert out["raw_truth_agreement"] == 0.5 and out["identifiable_truth_agreement"] == 1.0
    assert out["raw_spread"] == pytest.approx(np.sqrt(5 / 3))  # std of 0..3, ddof 1
    assert out["identifiable_spread"] == pytest.approx(0.0, abs=1e-15)
    assert out["identifiable_pair_agreement_ci"] == [1.0, 1.0]
    idx = np.random.default_rng([7, 0]).integers(0, 4, size=(300, 4))
    pa, ta, sd = _loop_bootstrap(list(verdicts["raw"]), list(stats["raw"]), True, idx)
    np.testing.assert_allclose(out["raw_pair_agreement_ci"], pa, rtol=1e-12)
    np.testing.assert_allclose(out["raw_truth_agreement_ci"], ta, rtol=1e-12)
    np.testing.assert_allclose(out["raw_spread_ci"], sd, rtol=1e-12)


def _entry(raw, ident, stat=0.0):
    return {"raw": {"score": stat, "statistic": stat, "holds": raw},
            "identifiable": {"score": stat, "statistic": stat, "holds": ident},
            "inclusion": 0.0}  # fmt: skip


def _record(models, truth_raw, truth_ident, key="p0", arch="bilinear", multiple=1):
    """A synthetic point: every property gets the same verdict lists (2 tolerances)."""
    props = {p: _entry(truth_raw, truth_ident) for p in PROPERTIES}
    return {
        "key": key, "distribution": "toy", "architecture": arch, "width": 4 * multiple,
        "multiple": multiple, "tolerances": [0.1, 0.2],
        "truth": {"properties": props},
        "models": [{"seed": i, "mean_kl": kl,
                    "properties": {p: _entry(r, d, float(i)) for p in PROPERTIES}}
                   for i, (kl, r, d) in enumerate(models)],
    }  # fmt: skip


def test_study_rows_and_headline_on_a_synthetic_store():
    rec = _record(
        [(1e-3, [True, True], [True, True]), (2e-3, [False, True], [True, True]),
         (3e-3, [False, False], [True, False])],
        truth_raw=[True, True], truth_ident=[True, True],
    )  # fmt: skip
    rows = study_rows([rec], bootstrap=50, seed=0)
    assert len(rows) == len(PROPERTIES) * 2
    r0 = next(r for r in rows if r["property"] == "steering" and r["tolerance_index"] == 0)
    # tolerance 0: raw verdicts T, F, F → 1 agreeing pair of 3; identifiable all T → 1.
    assert r0["raw_pair_agreement"] == pytest.approx(1 / 3)
    assert r0["identifiable_pair_agreement"] == 1.0
    assert r0["raw_truth_agreement"] == pytest.approx(1 / 3)
    assert r0["identifiable_truth_agreement"] == 1.0
    assert r0["median_kl"] == pytest.approx(2e-3)
    r1 = next(r for r in rows if r["property"] == "steering" and r["tolerance_index"] == 1)
    # tolerance 1: raw T, T, F and identifiable T, T, F → 1/3 each; with the truth 2/3 each.
    assert r1["raw_pair_agreement"] == r1["identifiable_pair_agreement"] == pytest.approx(1 / 3)
    assert r1["identifiable_truth_agreement"] == pytest.approx(2 / 3)
    assert r0["raw_spread"] == pytest.approx(1.0)  # statistics 0, 1, 2
    h = headline(rows, [0.1, 0.2])
    assert h[0]["identifiable_higher@0.1"] == 1 and h[0]["raw_higher@0.1"] == 0
    assert h[0]["identifiable_pair_agreement@0.2"] == pytest.approx(1 / 3)
    # The same seed gives the same intervals; another seed (generally) different ones.
    assert study_rows([rec], bootstrap=50, seed=0) == rows


def test_the_table_of_a_partial_study_marks_tolerances_without_points():
    """A study stopped early (its time budget) may have no point of ≥ 2 seeds at some tolerance:
    the table shows "—" there (it raised KeyError: device_check's one-point study found it)."""
    from idlin.lab.study._report import table

    rec = _record(
        [(1e-3, [True, True], [True, True]), (2e-3, [False, True], [True, True])],
        truth_raw=[True, True], truth_ident=[True, True],
    )  # fmt: skip
    rows = study_rows([rec], bootstrap=20, seed=0)  # tolerance indices 0 and 1 only
    tols = [0.1, 0.2, 0.3]
    summary = {"tolerances": tols, "headline_tolerance": 0.2, "headline": headline(rows, tols),
               "sizes": {"distributions": {}}, "rows": rows, "kl_bins": []}  # fmt: skip
    md = table(summary)
    steering = next(line for line in md.splitlines() if line.startswith("| steering"))
    assert steering.endswith("pts | — |") and steering.count(" pts") == 2


def test_kl_bins_by_hand():
    rec = _record(
        [(1.0, [True], [True]), (2.0, [False], [True]), (3.0, [False], [False])],
        truth_raw=[True], truth_ident=[True],
    )  # fmt: skip
    rec["tolerances"] = [0.1]
    bins = kl_bins([rec], 0)
    assert [b["items"] for b in bins] == [5, 5, 5]  # one model × five properties per bin
    assert [b["raw_truth_agreement"] for b in bins] == [1.0, 0.0, 0.0]
    assert [b["identifiable_truth_agreement"] for b in bins] == [1.0, 1.0, 0.0]


def test_a_verdict_that_cannot_be_evaluated_is_left_out():
    rec = _record([(1e-3, [True], [True]), (1e-3, [None], [True]), (1e-3, [False], [True])],
                  truth_raw=[True], truth_ident=[True])  # fmt: skip
    rec["tolerances"] = [0.1]
    row = study_rows([rec], bootstrap=20, seed=0)[0]
    assert row["seeds"] == 2 and row["raw_pair_agreement"] == 0.0


# -- vmapped analysis equals the per-seed loop ----------------------------------------------


def _stacked(k=4, n=12, v=7, d=5, r=3, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(k, n, r)) @ rng.normal(size=(k, r, d))
    F += 1e-3 * rng.normal(size=F.shape)  # small extra directions: the KL-tied rank matters
    G = rng.normal(size=(k, v, d))
    return stack(jnp.asarray(F), jnp.asarray(G)), F, G


def test_vmapped_analysis_equals_the_per_seed_loop_to_float64_rounding():
    stacked, F, G = _stacked()
    kl = np.array([0.0, 1e-8, 1e-4, 1e-2])
    batched = analyze_seeds(stacked, kl)
    specs = {
        "parallelism": idlin.properties.Parallelism(np.array([[0, 1], [2, 3], [4, 5]])),
        "probe": idlin.properties.LinearProbe(np.arange(6), np.array([0, 1, 0, 1, 0, 1])),
    }
    ranks = []
    for k in range(len(kl)):
        one = idlin.analyze(idlin.Predictor(F[k], G[k]), precision=idlin.Precision(mean_kl=kl[k]))
        a = seed_analysis(batched, k)
        assert int(a.effective_complexity) == int(one.effective_complexity)
        ranks.append(int(one.effective_complexity))
        ref = np.linalg.svd(F[k] @ (G[k] - G[k].mean(axis=0)).T, compute_uv=False)[: F.shape[2]]
        np.testing.assert_allclose(a.log_odds_singular_values, ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            a.log_odds_singular_values, one.log_odds_singular_values, rtol=1e-13, atol=1e-14
        )
        got, want = evaluate_properties(a, specs, [0.1]), evaluate_properties(one, specs, [0.1])
        for name in specs:
            for form in ("raw", "identifiable"):
                assert got[name][form]["holds"] == want[name][form]["holds"]
                np.testing.assert_allclose(
                    got[name][form]["statistic"], want[name][form]["statistic"],
                    rtol=1e-9, atol=1e-12,
                )  # fmt: skip
    assert ranks[0] == 5 and ranks[-1] == 3  # the KL-tied threshold cut the extra directions


def test_evaluate_properties_verdicts_are_the_librarys():
    _, F, G = _stacked(k=1)
    p = idlin.Predictor(F[0], G[0])
    spec = idlin.properties.Parallelism(np.array([[0, 1], [2, 3], [4, 5]]))
    out = evaluate_properties(idlin.analyze(p), {"x": spec}, [0.05, 0.2])
    for form in ("raw", "identifiable"):
        want = [
            idlin.parallelism(
                p, spec.pairs, form=form, precision=idlin.Precision(verdict_tol=t)
            ).holds
            for t in (0.05, 0.2)
        ]
        assert out["x"][form]["holds"] == want
        assert out["x"][form]["statistic"] == pytest.approx(
            idlin.parallelism(
                p, spec.pairs, form=form, precision=idlin.Precision(verdict_tol=0.05)
            ).score
        )


# -- configuration --------------------------------------------------------------------------

_DOC = {
    "study": {"seeds": 2, "width_multiples": [1, 2], "architectures": ["bilinear", "mlp"],
              "distributions": ["markov", "morphology"], "tolerances": [0.05, 0.1, 0.3],
              "bootstrap": 50},
    "train": {"bilinear": {"steps": 40, "learning_rate": 0.05},
              "mlp": {"steps": 30, "learning_rate": 0.005, "batch_size": 16, "hidden": 16}},
    "distributions": {
        "markov": {"kind": "markov", "vocab_size": 4, "context_length": 2, "order": 2, "rank": 2},
        "morphology": {"kind": "morphology", "adjectives": ["easy", "lucky", "big"]},
    },
    "size": {"tiny": {"architectures": ["bilinear"], "seeds": 3}},
}  # fmt: skip


def test_config_sizes_and_errors(tmp_path):
    c = parse_config(_DOC, "tiny")
    assert c.seeds == (0, 1, 2) and c.architectures == ("bilinear",)
    assert parse_config(_DOC).architectures == ("bilinear", "mlp")
    with pytest.raises(ConfigError, match="--size"):
        parse_config(_DOC, "huge")
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_config({**_DOC, "study": {**_DOC["study"], "sedes": 3}})
    with pytest.raises(ConfigError, match="HMM"):
        parse_config({**_DOC, "study": {**_DOC["study"], "distributions": ["hmm"]},
                      "distributions": {"hmm": {"kind": "hmm", "vocab_size": 4}}})  # fmt: skip
    with pytest.raises(ConfigError, match="tolerances"):
        parse_config({**_DOC, "study": {**_DOC["study"], "tolerances": [0.1, 1.5]}})
    with pytest.raises(ConfigError, match=r"train\.mlp"):
        parse_config({**_DOC, "train": {"bilinear": _DOC["train"]["bilinear"]}})
    with pytest.raises(FileFormatError):
        idlin.lab.study.load_config(tmp_path / "missing.toml")
    keys = [p.key for p in c.points({"markov": 2, "morphology": 5})]
    assert len(set(keys)) == len(keys) == 4


# -- end to end ------------------------------------------------------------------------------


def test_the_study_end_to_end_at_tiny_size_and_resumes(tmp_path, capsys):
    from idlin.apps.cli import run

    doc = dict(_DOC, size={"tiny": {"seeds": 3, "width_multiples": [1, 2]}})
    cfg = tmp_path / "study.toml"
    cfg.write_text(_toml(doc))
    out = tmp_path / "out"
    assert run(["study", str(cfg), "--out", str(out), "--quick"]) == 0
    records = load_points(out)
    assert len(records) == 8  # 2 distributions × 2 architectures × 2 widths
    for rec in records:
        assert [m["seed"] for m in rec["models"]] == [0, 1, 2]
        for m in rec["models"]:
            assert m["mean_kl"] >= 0 and set(m["properties"]) == set(PROPERTIES)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sizes"]["points"] == 8 and summary["size"] == "tiny"
    assert {"device", "load_average"} <= set(summary["run"]["machine"])
    assert summary["truths"]["markov"]["verdicts"]["parallelism_embedding"]["identifiable"] == [
        True, True, True]  # planted: the differences are all E_0[1] − E_0[0]  # fmt: skip
    assert (out / "agreement.png").stat().st_size > 10_000
    assert "identifiable" in (out / "table.md").read_text()
    # A tiny run says it is a plumbing check (issue 25), on stdout and atop table.md, with the
    # worst point's median KL taken from the point records.
    printed = capsys.readouterr().out
    worst = max(float(np.median([m["mean_kl"] for m in r["models"]])) for r in records)
    for text in (printed, (out / "table.md").read_text(), summary["caveat"]):
        assert "--size tiny is a plumbing check, not a result" in text
        assert f"up to {worst:.2g} nats" in text
    # --json: the summary alone on stdout, standard JSON (nothing to train: every point is done)
    assert run(["study", str(cfg), "--out", str(out), "--quick", "--json"]) == 0
    bad = lambda c: pytest.fail(f"non-standard JSON constant {c}")  # noqa: E731
    shown = json.loads(capsys.readouterr().out, parse_constant=bad)
    assert shown["headline"] == json.loads((out / "summary.json").read_text())["headline"]
    assert shown["sizes"]["points"] == 8 and "plumbing check" in shown["caveat"]
    # Interrupt-safety: a temporary left by a killed write of one of this run's points (named
    # as `atomic_write` names it) is removed, nothing is redone; any other temporary is another
    # process's write in progress, and kept.
    (out / "points" / f"{records[0]['key']}.json.x1.tmp").write_text("{")
    (out / "points" / "other.json.x2.tmp").write_text("{")
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}
    config = idlin.lab.study.load_config(cfg, "tiny")
    run_again = run_study(config, out)
    assert run_again["skipped"] == 8
    assert {p: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")} == mtimes
    assert [p.name for p in (out / "points").glob("*.tmp")] == ["other.json.x2.tmp"]


def test_bad_output_directory_exits_2(tmp_path, capsys):
    from idlin.apps.cli import run

    cfg = tmp_path / "study.toml"
    cfg.write_text(_toml(_DOC))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert run(["study", str(cfg), "--out", str(blocker)]) == 2
    assert "expected a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--process-id", "1"], "expected together with --coordinator"),
        (["--coordinator", "localhost"], "expected HOST:PORT"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], "0 ≤ id < "),
    ],
)
def test_bad_process_options_exit_2_before_training(tmp_path, capsys, argv, message):
    from idlin.apps.cli import run

    cfg = tmp_path / "study.toml"
    cfg.write_text(_toml(_DOC))
    assert run(["study", str(cfg), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_run_study_refuses_a_process_index_out_of_range(tmp_path):
    with pytest.raises(ConfigError, match="process_index"):
        run_study(parse_config(_DOC, "tiny"), tmp_path / "o", process_index=2, process_count=2)
    assert not (tmp_path / "o").exists()


def _toml(doc) -> str:
    def value(v):
        return json.dumps(v)

    lines = []
    for table, body in doc.items():
        nested = {k: v for k, v in body.items() if isinstance(v, dict)}
        flat = {k: v for k, v in body.items() if not isinstance(v, dict)}
        if flat:
            lines.append(f"[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in flat.items()]
        for name, sub in nested.items():
            lines.append(f"[{table}.{name}]")
            lines += [f"{k} = {value(v)}" for k, v in sub.items()]
    return "\n".join(lines) + "\n"


def test_stack_keeps_the_seed_axis():
    stacked, F, _ = _stacked(k=3)
    assert stacked.embeddings.shape == F.shape
    assert jax.tree_util.tree_leaves(stacked)[0].shape[0] == 3


@pytest.mark.parametrize("module", ["_evaluate", "_stats", "_config"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"idlin.lab.study.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_out_has_a_default_per_size(tmp_path, capsys, monkeypatch):
    """`--out` is optional, as for sweeps: idlin-out/study/NAME (NAME-SIZE below full size)."""
    from idlin.apps._cli_study import default_out
    from idlin.apps.cli import run

    cfg = tmp_path / "study.toml"
    cfg.write_text(_toml(dict(_DOC, size={"tiny": {"seeds": 1}})))
    name = idlin.lab.study.load_config(cfg).name
    assert default_out(idlin.lab.study.load_config(cfg)) == Path("idlin-out", "study", name)
    assert default_out(idlin.lab.study.load_config(cfg, "tiny")) == Path(
        "idlin-out", "study", f"{name}-tiny"
    )
    monkeypatch.chdir(tmp_path)
    assert run(["study", str(cfg), "--process-id", "1"]) == 2  # checked before --out is made
    assert "expected together with --coordinator" in capsys.readouterr().err
    assert not (tmp_path / "idlin-out").exists()
