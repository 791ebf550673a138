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
