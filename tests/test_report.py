"""idlin.apps.report in-process: number formatting, JSON conversion, tolerances, readings, the
markdown report and the projection behind the *easy→easiest ∥ lucky→luckiest* figure."""

import json
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import idlin
from idlin.apps.report import fmt, markdown
from idlin.apps.report._figures import _projected_arrows
from idlin.apps.report._inspect import holdout_split, reading
from idlin.apps.report._summary import jsonable
from idlin.core._analysis import arithmetic_dtype
from idlin.lab.reproduce import (
    ModelRecord,
    ReproduceConfig,
    ReproduceResult,
    SeedPair,
    TruthRecord,
)
from idlin.properties import Inclusion, PropertyResult

ROOT = Path(__file__).resolve().parents[1]


def test_fmt_rounds_floats_to_four_significant_digits():
    assert fmt(0.123456) == "0.1235"
    assert fmt(1.5e-9) == "1.5e-09"
    assert fmt(3) == "3" and fmt(True) == "yes" and fmt(None) == "—"


def test_jsonable_gives_plain_json():
    data = {"a": (np.float64(1.5), np.bool_(True)), "b": float("inf"), "c": [float("nan")]}
    out = jsonable(data)
    # non-finite values are null (standard JSON), never strings or bare NaN tokens (issue 25)
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == {"a": [1.5, True], "b": None, "c": [None]}
    assert jsonable({"x": np.float32(-np.inf), "y": [np.float64(2.0)]}) == {"x": None, "y": [2.0]}


@pytest.mark.parametrize(
    ("dtype", "rtol"),
    [(np.float64, 1e-8), (np.float32, 1e-4), (np.float16, 1e-2), (ml_dtypes.bfloat16, 1e-2)],
)
def test_tolerances_follow_the_stored_precision(dtype, rtol):
    stored = np.dtype(dtype)
    policy = idlin.Precision(stored=stored, arithmetic=arithmetic_dtype(stored))
    assert policy.resolved_equivalence_rtol() == rtol
    # Rank thresholds follow the arithmetic, not the storage (THEORY §3, "The rank of a stored
    # model"): float64 under x64 whatever the file's dtype; the equivalence tolerance above keeps
    # the stored precision.
    assert policy.resolved_rank_rtol() == np.sqrt(np.finfo(np.float64).eps)


def _result(raw: bool, ident: bool, inclusion: bool) -> tuple[PropertyResult, PropertyResult]:
    inc = Inclusion(holds=inclusion, residual=0.0 if inclusion else 0.3, tol=1e-8)
    mk = lambda form, holds: PropertyResult("parallelism", form, "embedding", holds, 0.1, 1e-8, inc)  # noqa: E731
    return mk("raw", raw), mk("identifiable", ident)


@pytest.mark.parametrize(
    ("raw", "ident", "inclusion", "phrase"),
    [
        (True, True, True, "a fact about the distribution; inclusion holds"),
        (False, True, False, "not visible in these coordinates"),
        (True, False, False, "holds only in these coordinates"),
        (False, False, True, "absent in both forms"),
    ],
)
def test_reading_follows_theory_section_7(raw, ident, inclusion, phrase):
    text = reading(*_result(raw, ident, inclusion))
    assert phrase in text
    assert ("raw = identifiable" in text) == inclusion


def test_holdout_split_keeps_every_fourth_pair():
    pairs = np.arange(20).reshape(10, 2)
    train, test = holdout_split(pairs)
    np.testing.assert_array_equal(test, pairs[[3, 7]])
    assert len(train) == 8
    assert holdout_split(pairs[:3])[1] is None


def test_projection_puts_parallel_differences_on_one_axis():
    rng = np.random.default_rng(0)
    starts = rng.normal(size=(5, 6))
    u = rng.normal(size=6)
    points = np.vstack([starts, starts + np.arange(1, 6)[:, None] * u])
    pairs = np.array([[i, i + 5] for i in range(5)])
    _, diffs = _projected_arrows(points, pairs)
    np.testing.assert_allclose(diffs[:, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(diffs[:, 0], np.arange(1, 6) * np.linalg.norm(u), rtol=1e-12)
    noisy = points.copy()
    noisy[5:] += rng.normal(size=(5, 6))
    _, diffs = _projected_arrows(noisy, pairs)
    assert np.abs(diffs[:, 1]).max() > 0.1


def test_markdown_lists_records_and_what_was_skipped():
    truth = TruthRecord("lowrank", 10, 5, 4, 3, (3.0, 2.0), (1.0,), (2.0, 1.0))
    model = ModelRecord("lowrank", 4, 1, 0.012345, 0.25, 0.01, 3, 7.5, 0.987654, 0.111, 0.222,
                        (1.0,), (1.0,), (1.0,))  # fmt: skip
    pair = SeedPair("lowrank", 4, (0, 1), 0.3333333, 0.0044444, None)
    result = ReproduceResult(ReproduceConfig(), (truth,), (model,), (pair,), (),
                             ("parallelism (embedding) on width 4 seed 1: zero difference",), 1.0,
                             {"jax": "x", "idlin": "y"})  # fmt: skip
    md = markdown(result, ["spectra.png"])
    assert "| lowrank | 4 | 1 | 0.01235 | 0.25 | 3 | 7.5 | 0.9877 | 0.111 | 0.222 |" in md
    assert "| lowrank | 4 | 0 vs 1 | 0.3333 | 0.004444 | — |" in md
    assert "![spectra](spectra.png)" in md
    assert "## Not evaluated\n\n- parallelism (embedding) on width 4 seed 1: zero difference" in md


def test_the_core_does_not_import_the_cli_or_plotting():
    """Direction of dependencies (ARCHITECTURE.md): nothing imports `cli`; `import idlin` pulls
    in neither typer, rich nor matplotlib."""
    for path in (ROOT / "idlin").rglob("*.py"):
        if path.relative_to(ROOT).as_posix() in ("idlin/apps/cli.py", "idlin/__main__.py"):
            continue
        text = path.read_text(encoding="utf-8")
        for bad in ("from .cli import", "from ..cli import", "idlin.apps.cli"):
            assert bad not in text, (path, bad)
    code = "import sys, idlin; print(sorted({'typer', 'rich', 'matplotlib'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
