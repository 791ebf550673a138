"""`idlin reproduce --quick` end to end, as a user runs it (one subprocess, ~1 minute on 2 cores).

Checks that the report files exist, that `report.md` shows the numbers `report.json` holds, that
those numbers are right (recomputed with NumPy from the predictor files the run saved), and that
the theory's exact claims hold on the truth (docs/theory.md §7).
"""

import json

import numpy as np
import pytest
from test_cli_helpers import centered_log_odds, run_idlin

from idlin.apps.report import FIGURES


def _fmt(x: float) -> str:
    return format(x, ".4g")  # the report's documented rounding: 4 significant digits


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "out"
    proc = run_idlin("reproduce", "--quick", "--out", out, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    return out, proc, report, (out / "report.md").read_text()


def _load(path):
    with np.load(path, allow_pickle=False) as z:
        return z["embeddings"], z["unembeddings"]


def test_writes_report_figures_and_models(run):
    out, proc, report, md = run
    assert report["skipped"] == []
    assert set(report["figures"]) == set(FIGURES)
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
        assert f"]({name})" in md
    assert "Trained models (docs/theory.md §8)" in proc.stdout
    assert "Morphology language: all or none" in proc.stdout
    assert (out / "models" / "lowrank_truth.npz").is_file()


def test_markdown_shows_the_json_numbers(run):
    _, _, report, md = run
    for m in report["models"]:
        start = f"| {m['experiment']} | {m['width']} | {m['seed']} |"
        row = next(line for line in md.splitlines() if line.startswith(start))
        keys = ("kl_to_truth", "relative_gap", "canonical_r2", "map_embedding_residual",
                "map_unembedding_residual")  # fmt: skip
        for key in keys:
            assert f"| {_fmt(m[key])} |" in row, (key, row)
    for s in report["seed_pairs"]:
        assert f"| {_fmt(s['relative_gap'])} | {_fmt(s['mean_kl'])} |" in md
    for p in report["properties"]:
        for s in p["trained"]:
            assert f"| {_fmt(s['raw_score'])} | {_fmt(s['identifiable_score'])} |" in md
        assert f"({_fmt(p['truth_identifiable'][1])})" in md


def test_json_numbers_match_numpy_on_the_saved_models(run):
    out, _, report, _ = run
    checked = 0
    for m in report["models"]:
        Ft, Gt = _load(out / "models" / f"{m['experiment']}_truth.npz")
        F, G = _load(out / "models" / f"{m['experiment']}_d{m['width']}_seed{m['seed']}.npz")
        Cs, C = centered_log_odds(Ft, Gt), centered_log_odds(F, G)
        gap = np.linalg.norm(Cs - C) / np.linalg.norm(Cs)
        np.testing.assert_allclose(m["relative_gap"], gap, rtol=1e-9)
        lp = Cs - np.log(np.exp(Cs).sum(axis=1, keepdims=True))
        lq = C - np.log(np.exp(C).sum(axis=1, keepdims=True))
        kl = (np.exp(lp) * (lp - lq)).sum(axis=1).mean()
        np.testing.assert_allclose(m["kl_to_truth"], kl, rtol=1e-8)
        s = np.linalg.svd(C, compute_uv=False)[: len(m["log_odds_spectrum"])]
        np.testing.assert_allclose(m["log_odds_spectrum"], s, rtol=1e-8, atol=1e-10 * s[0])
        assert m["effective_complexity"] == int(np.sum(s > m["rank_rtol"] * s[0]))
        checked += 1
    assert checked == len(report["models"]) >= 4


def test_theory_holds_exactly_on_the_truth(run):
    _, _, report, _ = run
    props = {(p["name"], p["side"]): p for p in report["properties"]}
    assert len(props) == 5
    for p in props.values():
        a = p["all_or_none"]
        assert a["identifiable_agrees"] is True  # §7.1
        assert a["included_pattern"] != "split"  # §7.3: all or none under inclusion
        assert a["max_relative_gap"] < 1e-10  # every member is equivalent
        ce = p["counterexample"]
        if ce["construction"]:
            assert ce["member_relative_gap"] < 1e-10 and ce["raw_on_member"] != ce["raw_on_truth"]
    # §7.4: identifiable parallelism true ⇒ raw parallelism split over the class.
    for side in ("embedding", "unembedding"):
        p = props[("parallelism", side)]
        assert p["truth_identifiable"][0] is True and p["all_or_none"]["raw_pattern"] == "split"


def test_out_must_be_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = run_idlin("reproduce", "--quick", "--out", tmp_path / "file")
    assert proc.returncode == 2 and proc.stderr.startswith("idlin: error: --out: expected")
    assert "Traceback" not in proc.stderr


def test_inspect_on_the_written_files_reproduces_the_report_property_rows(run):
    """issue 14: the run writes its models with token/context names and its probe sets as files
    next to them; `idlin inspect` on those files gives the report's truth rows number for number."""
    out, proc, report, _ = run
    probes = out / "probes"
    args = [
        "inspect", out / "models" / "morphology_truth.npz",
        "--pairs", probes / "context_pairs.tsv", "--token-pairs", probes / "token_pairs.tsv",
        "--labels", probes / "labels.tsv", "--steering", probes / "steering_morphology_truth.txt",
        "--holdout", "0", "--json",
    ]  # fmt: skip
    res = run_idlin(*args)
    assert res.returncode == 0, res.stderr[-2000:]
    got = {(p["name"], p["side"]): p for p in json.loads(res.stdout)["properties"]}
    assert len(got) == len(report["properties"]) == 5
    for row in report["properties"]:
        g = got[(row["name"], row["side"])]
        assert [g["raw"]["holds"], g["identifiable"]["holds"]] == [
            row["truth_raw"][0], row["truth_identifiable"][0]
        ]  # fmt: skip
        assert g["raw"]["score"] == pytest.approx(row["truth_raw"][1], rel=1e-9, abs=1e-12)
        assert g["identifiable"]["score"] == pytest.approx(
            row["truth_identifiable"][1], rel=1e-9, abs=1e-12
        )
    # The files name their items: the probe files are written by name, not index.
    first = (probes / "token_pairs.tsv").read_text().splitlines()[1]
    assert first.split("\t")[0].isalpha()
    assert "idlin inspect" in proc.stdout and "--holdout 0" in proc.stdout


def test_one_steering_vector_per_model_in_its_own_width(run):
    """issue 25: a single steering.txt fitted only the truth's width (`expected 13 numbers, got
    11` on a trained model). Each model gets its own, named after its model file."""
    out, proc, report, _ = run
    probes = out / "probes"
    models = sorted((out / "models").glob("morphology_*.npz"))
    assert len(models) == 1 + sum(m["experiment"] == "morphology" for m in report["models"])
    for model in models:
        vector = probes / f"steering_{model.stem}.txt"
        numbers = [ln for ln in vector.read_text().splitlines() if not ln.startswith("#")]
        assert len(numbers) == _load(model)[0].shape[1], model.name
    assert not (probes / "steering.txt").exists()
    assert "steering_morphology_truth.txt" in proc.stdout


def test_inspect_on_a_trained_model_with_its_files_gives_its_report_rows(run):
    out, _, report, _ = run
    m = next(m for m in report["models"] if m["experiment"] == "morphology")
    stem = f"morphology_d{m['width']}_seed{m['seed']}"
    probes = out / "probes"
    res = run_idlin(
        "inspect", out / "models" / f"{stem}.npz", "--pairs", probes / "context_pairs.tsv",
        "--token-pairs", probes / "token_pairs.tsv", "--labels", probes / "labels.tsv",
        "--steering", probes / f"steering_{stem}.txt", "--holdout", "0", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    got = {(p["name"], p["side"]): p for p in json.loads(res.stdout)["properties"]}
    for row in report["properties"]:
        score = next(
            s for s in row["trained"] if (s["width"], s["seed"]) == (m["width"], m["seed"])
        )
        g = got[(row["name"], row["side"])]
        assert g["raw"]["score"] == pytest.approx(score["raw_score"], rel=1e-9, abs=1e-12)
        assert g["identifiable"]["score"] == pytest.approx(
            score["identifiable_score"], rel=1e-9, abs=1e-12
        )


def test_each_stage_is_announced_as_the_progress_total_says(run):
    """The progress bar's total (`reproduce.stages` + writing) is the number of stages run."""
    from idlin.lab.reproduce import ReproduceConfig, stages

    _, proc, _, _ = run
    announced = [ln for ln in proc.stdout.splitlines() if ln.startswith("· ")]
    assert len(announced) == stages(ReproduceConfig.preset(quick=True)) + 1, announced
    assert proc.stderr == ""  # not a terminal: no bar, stderr is for errors only
