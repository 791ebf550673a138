"""`idlin inspect` driven as a user would, on a model whose raw and identifiable verdicts differ.

The model is a diverse model with planted parallel context differences, widened by two invisible
embedding coordinates (docs/theory.md §5 move 5): the parallelism is a fact about the distribution
(its
identifiable form holds) but the raw differences are no longer parallel, and the inclusion
condition fails (docs/theory.md §7.4, first row). Scores are checked against NumPy float64
references.
"""

import json

import numpy as np
import pytest
from test_cli_helpers import assert_one_line_error, centered_log_odds, run_idlin

N, V, D = 24, 16, 4
PAIRS = np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])


def _parallel_ratio(X: np.ndarray) -> float:
    """Reference: σ₂/σ₁ of the unit differences of the pairs' rows."""
    diff = X[PAIRS[:, 1]] - X[PAIRS[:, 0]]
    unit = diff / np.linalg.norm(diff, axis=1, keepdims=True)
    s = np.linalg.svd(unit, compute_uv=False)
    return s[1] / s[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("inspect")
    F, G = rng.normal(size=(N, D)), rng.normal(size=(V, D))
    u = rng.normal(size=D)
    for i, (a, b) in enumerate(PAIRS):
        F[b] = F[a] + (1.0 + i) * u  # planted: f(bᵢ) − f(aᵢ) ∥ u
    Fw = np.hstack([F, rng.normal(size=(N, 2))])  # invisible coordinates a(x)
    Gw = np.hstack([G, np.broadcast_to(rng.normal(size=2), (V, 2))])  # constant extra g
    np.savez(root / "wide.npz", embeddings=Fw, unembeddings=Gw)
    (root / "pairs.tsv").write_text(
        "# source\ttarget (rows of embeddings)\n" + "".join(f"{a}\t{b}\n" for a, b in PAIRS)
    )
    (root / "tokens.tsv").write_text("0\t1\n2\t3\n4\t5\n")
    C = centered_log_odds(Fw, Gw)
    labels = (C[:, 0] > np.median(C[:, 0])).astype(int)  # a linear function of C's rows
    (root / "labels.tsv").write_text("".join(f"{i}\t{ell}\n" for i, ell in enumerate(labels)))
    (root / "bad_pairs.tsv").write_text("0\t1\n2\tthree\n")
    (root / "range.tsv").write_text(f"0\t1\n2\t{N + 5}\n")
    (root / "bad_labels.tsv").write_text("0\t1\n1\tmaybe\n")
    np.savetxt(root / "vector.txt", Fw[0] - Fw[3])
    return root, Fw, Gw, labels


def test_json_report_matches_reference_numbers(model):
    root, Fw, Gw, _ = model
    proc = run_idlin(
        "inspect", root / "wide.npz", "--pairs", root / "pairs.tsv",
        "--token-pairs", root / "tokens.tsv", "--labels", root / "labels.tsv", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    m = out["model"]
    assert (m["width"], m["effective_complexity"], m["embedding_rank"]) == (D + 2, D, D + 2)
    assert m["diverse"] is False
    props = {(p["name"], p["side"]): p for p in out["properties"]}
    assert set(props) == {
        ("parallelism", "embedding"),
        ("relational_linearity", "embedding"),
        ("parallelism", "unembedding"),
        ("linear_probe", "embedding"),
    }
    par = props[("parallelism", "embedding")]
    C = centered_log_odds(Fw, Gw)
    np.testing.assert_allclose(par["raw"]["score"], _parallel_ratio(Fw), rtol=1e-8)
    assert par["raw"]["score"] > 0.1 and par["raw"]["holds"] is False
    np.testing.assert_allclose(par["identifiable"]["score"], _parallel_ratio(C), atol=1e-12)
    assert par["identifiable"]["holds"] is True
    assert par["raw"]["inclusion"]["holds"] is False
    assert "not visible in these coordinates" in par["reading"]
    probe = props[("linear_probe", "embedding")]
    assert probe["identifiable"]["holds"] is True and probe["raw"]["holds"] is True  # id ⇒ raw
    assert out["tol"] == pytest.approx(np.sqrt(np.finfo(np.float64).eps))


def test_human_report_reads_the_verdicts(model):
    root, *_ = model
    proc = run_idlin("inspect", root / "wide.npz", "--pairs", root / "pairs.tsv")
    assert proc.returncode == 0, proc.stderr
    assert "effective complexity r = rank C = 4" in proc.stdout and "not diverse" in proc.stdout
    assert "parallelism on 5 context pairs from pairs.tsv: identifiable but not visible" in (
        proc.stdout
    )


@pytest.mark.parametrize(
    ("option", "name", "fragments"),
    [
        ("--pairs", "bad_pairs.tsv", ["bad_pairs.tsv:2", "source<TAB>target", "'2\\tthree'"]),
        ("--pairs", "absent.tsv", ["absent.tsv", "no such file"]),
        ("--pairs", "range.tsv", ["indices in [0, 24)", str(N + 5)]),
        ("--labels", "bad_labels.tsv", ["bad_labels.tsv:2", "label 0/1"]),
    ],
)
def test_unreadable_probe_files_are_one_line_and_exit_2(model, option, name, fragments):
    root, *_ = model
    proc = run_idlin("inspect", root / "wide.npz", option, root / name)
    assert_one_line_error(proc, *fragments)


def test_json_carries_controls_p_values_vacuity_and_ranks(model):
    """Per property: the controls with their p-values (the library's, for the same seed), the
    vacuity flag and Cover's probability; the ranks with their spectral gaps; no null samples."""
    import idlin

    root, Fw, Gw, _ = model
    proc = run_idlin(
        "inspect", root / "wide.npz", "--pairs", root / "pairs.tsv",
        "--labels", root / "labels.tsv", "--steering", root / "vector.txt",
        "--seed", "3", "--permutations", "40", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"samples"' not in proc.stdout
    out = json.loads(proc.stdout)
    assert (out["seed"], out["permutations"], out["geometry"]) == (3, 40, "isometric")
    ranks = out["ranks"]
    assert (ranks["embedding_rank"], ranks["unembedding_rank"]) == (D + 2, D)
    # JSON null: an infinite gap (nothing cut off), README "JSON conventions"
    assert ranks["effective_complexity"] == D and ranks["embedding_gap"] is None
    # r is counted on the principal cosines between E and U: D of them, all 1, nothing cut
    assert ranks["rank_rule"] == "principal cosines" and ranks["rank_gap"] is None
    sG = np.linalg.svd(Gw - Gw.mean(0), compute_uv=False)
    assert ranks["unembedding_gap"] == pytest.approx(sG[D - 1] / sG[D], rel=1e-3)
    assert ranks["clear"] is True
    props = {(p["name"], p["side"]): p for p in out["properties"]}
    par = props[("parallelism", "embedding")]
    p = idlin.Predictor(Fw, Gw)
    for form in ("raw", "identifiable"):
        ref = idlin.parallelism(p, PAIRS, form=form, seed=3, permutations=40)
        got = {(c["control"], c["statistic"]): c for c in par[form]["controls"]}
        assert len(got) == 4
        for c in ref.controls:
            assert got[(c.control, c.statistic)]["p_value"] == c.p_value
            assert got[(c.control, c.statistic)]["quantiles"] == list(c.quantiles)
        assert [r["cosine"] for r in par[form]["pairs"]] == [r.cosine for r in ref.pairs]
        assert par[form]["mean_cosine"] == ref.mean_cosine
    probe = props[("linear_probe", "embedding")]
    for form, k in (("raw", D + 2), ("identifiable", D)):
        res = probe[form]
        assert res["vacuous"] is (N <= 2 * (k + 1)) is False
        assert 0 < res["cover_probability"] < 0.5
        (control,) = res["controls"]
        assert control["control"] == "random labels" and 0 < control["p_value"] <= 1
        assert res["heldout_accuracy"] >= 0.75
    rel = props[("relational_linearity", "embedding")]
    assert rel["raw"]["vacuous"] is (len(PAIRS) <= D + 3)
    steer = props[("steering", "embedding")]
    assert steer["raw"]["relative_shift"] > 0
    assert {c["statistic"] for c in steer["identifiable"]["controls"]} == {
        "relative shift",
        "reach residual",
    }


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """A diverse model whose file stores token and context names; superlative token pairs with a
    planted shared direction, and a handful of labelled contexts (vacuous by Cover's count)."""
    import idlin
    import idlin.core.io

    rng = np.random.default_rng(4)
    root = tmp_path_factory.mktemp("named")
    n, v, d = 30, 20, 5
    F, G = rng.normal(size=(n, d)), rng.normal(size=(v, d))
    u = rng.normal(size=d)
    words = ["easy", "easiest", "big", "biggest", "small", "smallest", "new", "newest"]
    tokens = words + [f"t{i}" for i in range(len(words), v)]
    for i in range(0, len(words), 2):
        G[i + 1] = G[i] + u + 0.05 * rng.normal(size=d)
    contexts = [f"ctx{i}" for i in range(n)]
    idlin.core.io.save(
        root / "m.safetensors", idlin.Predictor(F, G), tokens=tokens, contexts=contexts
    )
    sup = zip(words[::2], words[1::2], strict=True)
    (root / "sup.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in sup))
    (root / "random.tsv").write_text("t8\tt9\nt10\tt13\nt11\tt15\n")
    (root / "few.tsv").write_text("".join(f"ctx{i}\t{i % 2}\n" for i in range(8)))
    return root


def test_text_names_pairs_and_reads_controls(named):
    proc = run_idlin(
        "inspect", named / "m.safetensors", "--token-pairs", named / "sup.tsv",
        "--labels", named / "few.tsv", "--permutations", "50",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "4 token pairs from sup.tsv: easy→easiest, big→biggest, small→smallest, …" in out
    assert "per pair: cosine with the leading direction" in out
    for pair in ("easy→easiest", "big→biggest", "small→smallest", "new→newest"):
        assert pair in out.split("per pair")[1]
    assert "σ₂/σ₁ matched" in out and "vs shuffled targets median" in out and "p = 0.02" in out
    # 8 labelled contexts in dimension 5: vacuous, never a separability verdict.
    assert "vacuous (" in out and "separability is vacuous here" in out
    assert "held-out accuracy (k-fold ridge)" in out and "random labels median" in out
    assert "N = 30 ≥ d and diverse" in out
    # Parallelism is close but not exact ("no" at √ε) and the vacuous probe is no verdict.
    assert "hint: every verdict is 'no'" in out


def test_all_no_hints_tol_and_inclusion_reads_verdicts_not_scores(named):
    args = ("inspect", named / "m.safetensors", "--token-pairs", named / "random.tsv")
    proc = run_idlin(*args, "--permutations", "0")
    assert proc.returncode == 0, proc.stderr
    assert "hint: every verdict is 'no' at the default tol" in proc.stdout
    assert "--tol" in proc.stdout and "controls:" not in proc.stdout
    assert "inclusion holds, so the verdicts agree (all or none), but not the scores" in (
        proc.stdout
    )
    proc = run_idlin(*args, "--tol", "0.05")
    assert "hint: every verdict" not in proc.stdout


def test_whitened_geometry_and_bad_options(named):
    args = ("inspect", named / "m.safetensors", "--token-pairs", named / "sup.tsv", "--json")
    iso = json.loads(run_idlin(*args).stdout)["properties"][0]["identifiable"]
    proc = run_idlin(*args, "--geometry", "whitened")
    white = json.loads(proc.stdout)["properties"][0]["identifiable"]
    assert white["geometry"] == "whitened" and white["score"] != iso["score"]
    assert_one_line_error(run_idlin(*args, "--geometry", "round"), "geometry", "'round'")
    assert_one_line_error(run_idlin(*args, "--permutations", "-1"), "permutations", "-1")


def test_reading_names_the_vacuous_form_and_keeps_the_other_verdict():
    """Raw (rank 30) vacuous at N = 40, identifiable (r ≤ 11) not: the reading says which."""
    import idlin
    from idlin.apps.report._inspect import reading

    rng = np.random.default_rng(0)
    p = idlin.Predictor(rng.normal(size=(40, 30)), rng.normal(size=(12, 30)))
    args = (p, np.arange(40), np.arange(40) % 2)
    raw = idlin.linear_probe(*args, form="raw", folds=0)
    ident = idlin.linear_probe(*args, form="identifiable", folds=0)
    assert raw.vacuous and not ident.vacuous
    text = reading(raw, ident)
    assert text.startswith("separability is vacuous here (raw: ")
    assert text.endswith(f"identifiable verdict: {'yes' if ident.holds else 'no'}")
