"""`idlin audit` driven as a user would (docs/theory.md §9): JSON verdicts checked against NumPy,
exit codes 0/1/2, one-line errors."""

import json

import numpy as np
import pytest
from test_cli_helpers import assert_one_line_error, centered_log_odds, run_idlin

from idlin.testing import planted_predictor


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    p = planted_predictor(
        0, shape=(14, 10, 6), embedding_rank=4, unembedding_rank=4, effective_complexity=2
    )
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    np.savez(root / "m.npz", embeddings=F, unembeddings=G)
    rng = np.random.default_rng(1)
    Fr, Gr = rng.normal(size=(14, 6)), rng.normal(size=(10, 6))
    np.savez(root / "ref.npz", embeddings=Fr, unembeddings=Gr)
    np.savez(root / "small.npz", embeddings=Fr[:8], unembeddings=Gr)
    (root / "pairs.tsv").write_text("0\t1\n2\t3\n4\t5\n6\t7\n8\t9\n")
    (root / "bad.tsv").write_text("0\t1\n2\tthree\n")
    return root, F, G, Fr, Gr


def test_raw_cosine_is_not_invariant_and_reported_as_json(files):
    root, F, _, _, _ = files
    proc = run_idlin(
        "audit", str(root / "m.npz"), "--measure", "raw_cosine", "--pairs",
        str(root / "pairs.tsv"), "--budget", "10", "--starts", "2", "--json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    u, v = F[1] - F[0], F[3] - F[2]
    assert doc["value"] == pytest.approx(u @ v / np.sqrt((u @ u) * (v @ v)), rel=1e-12)
    verdicts = {k: g["verdict"] for k, g in doc["generators"].items()}
    assert verdicts["basis"] == "✗" and verdicts["shift"] == "✓"
    assert verdicts["invisible_unembedding"] == "✓" and verdicts["widen_embedding"] == "✗"
    assert doc["generators"]["basis"]["witness_gap"] <= 1e-8 and not doc["invariant"]


def test_d_logit_against_a_reference_is_invariant(files):
    root, F, G, Fr, Gr = files
    proc = run_idlin(
        "audit", str(root / "m.npz"), "--measure", "d_logit", "--reference",
        str(root / "ref.npz"), "--budget", "5", "--starts", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    expected = np.sum((centered_log_odds(F, G) - centered_log_odds(Fr, Gr)) ** 2) / 14
    assert f"m(p) = {expected:.6g}" in proc.stdout and "INVARIANT" in proc.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--measure", "nope"], ["--measure", "raw_cosine", "'nope'"]),
        (["--measure", "d_logit"], ["--reference", "d_logit"]),
        (["--measure", "raw_cosine", "--pairs", "BAD"], ["bad.tsv:2", "three"]),
        (["--measure", "d_logit", "--reference", "SMALL"], ["share contexts", "N=8"]),
        (["--measure", "raw_cosine", "--budget", "0"], ["--budget", "≥ 1"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, args, fragments):
    root = files[0]
    args = [
        str(root / "bad.tsv") if a == "BAD" else str(root / "small.npz") if a == "SMALL" else a
        for a in args
    ]
    proc = run_idlin("audit", str(root / "m.npz"), *args)
    assert_one_line_error(proc, *fragments)
