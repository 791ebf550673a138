"""`idlin audit` driven as a user would (docs/theory.md §9): JSON verdicts checked against NumPy,
exit codes 0/1/2, one-line errors."""

import json

import numpy as np
import pytest
from test_cli_helpers import assert_one_line_error, centered_log_odds, run_idlin

import idlin.core.io
from idlin.properties.audit import MEASURES
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
    idlin.core.io.save(root / "named.safetensors", p, contexts=[f"ctx {i}" for i in range(14)])
    (root / "named.tsv").write_text("ctx 3\tctx 7\nctx 0\tctx 12\n1\t2\n")
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
        (["--measure", "raw_cosin"], ["--measure", "did you mean 'raw_cosine'", "'raw_cosin'"]),
        (["--measure", "log_odds_norm", "--pairs", "PAIRS"], ["--pairs", "reads no context"]),
        (["--measure", "raw_cosine", "--reference", "REF"], ["--reference", "one model"]),
        # every command's --seed is checked once, in cli.py (one wording)
        (["--measure", "raw_cosine", "--seed", "-1"], ["--seed", "0 ≤ seed ≤ 2**63 - 1", "got -1"]),
        (["--measure", "raw_cosine", "--seed", str(2**70)], ["--seed", str(2**70)]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, args, fragments):
    root = files[0]
    files = {"BAD": "bad.tsv", "SMALL": "small.npz", "PAIRS": "pairs.tsv", "REF": "ref.npz"}
    args = [str(root / files[a]) if a in files else a for a in args]
    proc = run_idlin("audit", str(root / "m.npz"), *args)
    assert_one_line_error(proc, *fragments)


def test_help_lists_every_measure():
    proc = run_idlin("audit", "--help")
    assert proc.returncode == 0, proc.stderr
    compact = "".join(c for c in proc.stdout if not c.isspace() and c != "│")  # rich's wrapping
    for name in MEASURES:
        assert name in compact, name


def test_pairs_by_the_context_names_the_file_stores(files):
    """`--pairs` resolves names through the model file's own context names."""
    root, F, _, _, _ = files
    proc = run_idlin(
        "audit", str(root / "named.safetensors"), "--measure", "raw_cosine", "--pairs",
        str(root / "named.tsv"), "--budget", "4", "--starts", "1", "--json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    u, v = F[7] - F[3], F[12] - F[0]
    assert json.loads(proc.stdout)["value"] == pytest.approx(
        u @ v / np.sqrt((u @ u) * (v @ v)), rel=1e-12
    )


def test_a_large_audit_says_its_memory_before_it_starts(monkeypatch):
    """Issue 23: the audit holds ~8× its model (every other command ≤ 3×) and says so first,
    with a warning when that exceeds the memory available; small models get no line."""
    from idlin.apps import _cli_audit as audit_cli

    class Shape:  # only the sizes matter: no 700 MB model in a unit test
        def __init__(self, N, V, d):
            self.num_contexts, self.vocab_size, self.width = N, V, d

    assert audit_cli.memory_note(Shape(24, 27, 5)) is None
    gemma = Shape(1078, 262144, 640)
    monkeypatch.setattr(audit_cli, "_available_bytes", lambda: 64 << 30)
    note = audit_cli.memory_note(gemma)
    assert note is not None
    want = audit_cli.AUDIT_MEMORY_FACTOR * (1078 + 262144) * 640 * 4 / 2**30
    assert f"about {want:.1f} GiB" in note and "64.0 GiB available" in note
    assert "may run out of memory" not in note
    monkeypatch.setattr(audit_cli, "_available_bytes", lambda: 2 << 30)
    assert "may run out of memory" in (audit_cli.memory_note(gemma) or "")
