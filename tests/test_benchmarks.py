"""The benchmark scripts' `--quick` modes (so they cannot rot) and their shared helpers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402


def run_quick(name: str, tmp_path: Path) -> dict:
    out = tmp_path / f"{name}.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / f"bench_{name}.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["quick"] is True
    assert {"device", "jax", "cpu_count", "platform"} <= set(doc["machine"])
    return doc


def test_timeit_reports_the_median_of_the_samples():
    calls = []
    t = _common.timeit(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and len(t.samples) == 5
    assert t.minimum <= t.median <= max(t.samples)
    assert t.median == sorted(t.samples)[2]


def test_goal_compares_in_the_stated_direction():
    assert _common.goal(9.0, 8.0)["met"] and _common.goal(9.0, 8.0)["margin"] == 9.0 / 8.0
    assert not _common.goal(7.0, 8.0)["met"]
    assert _common.goal(1e-7, 1e-6, higher_is_better=False)["met"]
    assert not _common.goal(2e-6, 1e-6, higher_is_better=False)["met"]
    assert _common.goal(0.5, 0.0)["margin"] is None


def test_rss_is_measured_and_peak_is_not_below_current():
    assert 0 < _common.rss_mib("VmRSS") <= _common.rss_mib("VmHWM")


def rendered_rows(doc: dict, name: str, tmp_path: Path, monkeypatch) -> list[list[str]]:
    """The README table's rows for `doc` alone (marked full-size so the table accepts it)."""
    import readme_table

    results = tmp_path / "results"
    results.mkdir()
    (results / f"{name}.json").write_text(json.dumps({**doc, "quick": False}))
    monkeypatch.setattr(readme_table, "RESULTS", results)
    return readme_table.rows()


def test_gap_benchmark_quick(tmp_path, monkeypatch):
    doc = run_quick("gap", tmp_path)
    assert len(doc["results"]) == 2 and isinstance(doc["quiet"], bool)
    for r in doc["results"]:
        err = r["relative_error"]
        # float32 inputs against the float64 reference: every route of the factored gap is accurate.
        for k in ("idlin", "idlin_householder", "idlin_cholesky", "idlin_x64_off"):
            assert err[k] < 1e-5, (k, err[k])
        assert err["max_abs"] < 1e-5 and err["mean_kl"] < 1e-4
        assert 0.1 < r["relative_gap"] < 1.0
        assert set(r["seconds"]) == {"idlin", "idlin_householder", "idlin_cholesky",
                                     "idlin_x64_off", "streamed"}  # fmt: skip
        assert all(s > 0 for s in r["seconds"].values())
        # the floor: the float64 Gram of the factored side (n·(2d)²) at the measured dsyrk rate
        # plus the triangular products (4·n'·d²) at the measured float32 GEMM rate
        f, (N, V, d) = r["floor"], (r["size"][k] for k in "NVd")
        assert f["gram_float64_flops"] == min(N, V) * (2 * d) ** 2
        assert f["product_float32_flops"] == 4 * max(N, V) * d * d
        want = (f["gram_float64_flops"] / f["syrk64"]["flops_per_s"]
                + f["product_float32_flops"] / f["gemm32"]["best"])  # fmt: skip
        assert f["seconds"] == pytest.approx(want) and f["seconds"] > 0
        both = (N + V) * (2 * d) ** 2 / f["syrk64"]["flops_per_s"]
        assert f["both_grams_float64_seconds"] == pytest.approx(both)
        assert r["goals"]["over_floor"]["target"] == 1.5
        assert r["route"]["chosen"] in ("householder", "cholesky")
        assert r["route"]["faster_measured"] in ("householder", "cholesky")
        assert r["streamed"]["fraction_of_gemm_peak"] > 0
    rows = rendered_rows(doc, "gap", tmp_path, monkeypatch)
    assert len(rows) == 2 and all("÷ its floor" in row[0] for row in rows)
    ratio = doc["results"][0]["floor"]["idlin_over_floor"]
    assert rows[0][2].startswith(f"{ratio:.2f}×")


def test_maps_benchmark_quick(tmp_path):
    doc = run_quick("maps", tmp_path)
    m = doc["methods"]
    assert set(m) == {
        "recover_linear_map",
        "canonical_fit",
        "numpy_lstsq",
        "idlin_cca",
        "sklearn_cca",
    }
    assert m["recover_linear_map"]["r2"] == pytest.approx(m["numpy_lstsq"]["r2"], abs=1e-9)
    assert 0.9 < m["recover_linear_map"]["r2"] < 1.0  # noisy pair: good, not perfect
    assert m["idlin_cca"]["m_cca"] == pytest.approx(m["sklearn_cca"]["m_cca"], abs=1e-3)


def test_training_benchmark_quick(tmp_path):
    doc = run_quick("training", tmp_path)
    res = doc["results"]
    assert set(res) == {"1", "2"}
    steps = doc["size"]["steps"]
    for k, r in res.items():
        assert r["vmapped_seed_steps_per_s"] == pytest.approx(int(k) * steps / r["vmapped_seconds"])
    assert res["1"]["wall_vs_one_seed"] == 1.0


def test_scaling_benchmark_quick(tmp_path):
    doc = run_quick("scaling", tmp_path)
    assert (tmp_path / "scaling.png").stat().st_size > 0
    for routine in ("distribution_gap", "analyze"):
        fits = doc["fits"][routine]
        assert fits["d"]["expected_time"] == pytest.approx(2.0)
        assert all(len(doc["points"][routine][ax]) == 2 for ax in "NVd")
    # every point's floor: float64 Grams at the measured dsyrk rate + float32 products at the
    # measured GEMM rate (the same run's rates)
    syrk, gemm = doc["rates"]["syrk64"]["flops_per_s"], doc["rates"]["gemm32"]["best"]
    for pt in doc["points"]["analyze"]["d"]:
        N, V, d = pt["N"], pt["V"], pt["d"]
        want = (N + V) * d * d / syrk + 2 * (N + V) * d * min(N, V, d) / gemm
        assert pt["floor_seconds"] == pytest.approx(want)
    for pt in doc["points"]["distribution_gap"]["V"]:
        N, V, d = pt["N"], pt["V"], pt["d"]
        want = min(N, V) * (2 * d) ** 2 / syrk + 4 * max(N, V) * d * d / gemm
        assert pt["floor_seconds"] == pytest.approx(want)


def test_properties_benchmark_quick(tmp_path):
    doc = run_quick("properties", tmp_path)
    assert set(doc["runs"]) == {"dev", "ci"}
    for r in doc["runs"].values():
        assert r["finished"] and r["returncode"] == 0 and r["counts"] == {"passed": 1}
    assert "thorough_seconds_extrapolated" in doc["thorough_estimate"]


def test_spine_benchmark_quick(tmp_path):
    doc = run_quick("spine", tmp_path)
    after = doc["after"]
    # One factorisation for the whole inspect table (one Analysis shared by every property).
    assert after["inspect"]["factorisations"] == 1
    assert after["all_or_none"]["factorisations"] >= 1 + 6  # p and each member at least once
    vm = doc["vmap_analyze_8_seeds"]
    assert vm["max_relative_difference"] < 1e-4 and vm["ratio_wall"] > 0
    assert set(doc["load_average_1min"]) == {"start", "end"} and isinstance(doc["quiet"], bool)


def test_llv_benchmark_quick(tmp_path):
    doc = run_quick("llv", tmp_path)
    assert all(doc["agreement"]["same_choices"].values())
    assert max(doc["agreement"]["relative_difference"].values()) < 1e-9
    assert set(doc["seconds"]) == {"idlin", "numpy_loop"} and doc["speedup"] > 0


def test_decomposition_benchmark_quick(tmp_path, monkeypatch):
    doc = run_quick("decomposition", tmp_path)
    # Ranks by an independent float64 NumPy policy (k_f, k_g at √ε₆₄·σ₁; r by principal
    # cosines): F has exact rank d/2 by construction, Ĝ full rank, so r = d/2; every route and
    # analyze's own report agree with it. Speed never buys a wrong rank.
    d = doc["sizes"]["d"]
    assert doc["ranks"]["reference"] == {"k_f": d // 2, "k_g": d, "r": d // 2}
    assert doc["ranks_agree"]
    assert all(r == doc["ranks"]["reference"] for r in doc["ranks"].values())
    acc = doc["accuracy"]
    assert set(acc) == {"analyze", "gram", "qr", "analyze_svd"}
    # analyze stores float32 values of float64-accurate results; the baselines keep float64
    assert acc["analyze"]["max_relative_sigma"] < 1e-6
    assert acc["gram"]["max_relative_sigma"] < 1e-12 and acc["qr"]["max_relative_sigma"] < 1e-12
    for route, e in acc.items():
        assert e["UC_residual"] < 1e-6 and e["W_residual"] < 1e-6, route
        assert e["VF_sin_max"] < 1e-6 and e["VG_sin_max"] < 1e-6, route
    assert set(doc["seconds"]) == {"analyze", "gram", "qr", "analyze_svd"}
    base = doc["baseline"]
    assert base["route"] == min(("gram", "qr"), key=lambda k: doc["seconds"][k]["wall"])
    ratio = doc["seconds"]["analyze"]["wall"] / doc["seconds"][base["route"]]["wall"]
    assert base["analyze_over_baseline"] == pytest.approx(ratio)
    assert doc["goals"]["analyze_over_baseline"]["target"] == 1.2
    assert doc["floor"]["seconds"] > 0 and doc["floor"]["analyze_over_floor"] > 0
    assert {"start", "end"} <= set(doc["load_average_1min"]) and doc["machine"]["cpu"] is not None
    (row,) = rendered_rows(doc, "decomposition", tmp_path, monkeypatch)
    assert "faster NumPy/SciPy route" in row[0] and "ranks equal" in row[2]
    assert row[2].startswith(f"{base['analyze_over_baseline']:.2f}×")


def test_audit_benchmark_quick(tmp_path):
    doc = run_quick("audit", tmp_path)
    assert doc["verdicts"]["basis"] == "✗" and doc["verdicts"]["shift"] == "✓"
    assert set(doc["search"]) == {
        "basis", "shift", "invisible_embedding", "invisible_unembedding",
        "widen_embedding", "widen_unembedding",
    }  # fmt: skip
    assert doc["search"]["basis"]["witness_gap"] <= 1e-4
    assert {"start", "end"} <= set(doc["load_average_1min"])


def test_study_benchmark_quick(tmp_path):
    doc = run_quick("study", tmp_path)
    assert [r["sizes"]["seeds"] for r in doc["analysis"]] == [8, 32]  # equal numbers checked first
    assert all(r["ratio_wall"] > 0 and r["vmap"]["wall"] > 0 for r in doc["analysis"])
    assert doc["seeds_scaling"]["seeds"] == 8 and doc["seeds_scaling"]["ratio"] > 0
    assert doc["study_point"]["seeds"] == 8 and doc["study_point"]["ratio_wall"] > 0


def test_device_check_quick(tmp_path):
    out = tmp_path / "device.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "device_check.py"), "--quick", "--out", str(out),
         "--work", str(tmp_path / "study"), "--budget", "1"],  # one study point: the rest is
        # the same code again (no point starts after the budget, so one always runs)
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["quick"] is True and doc["device"] and doc["machine"]["device"]
    for row in doc["gap"]:
        f32, f64 = row["float32"], row["float64_accumulated"]
        assert f32["x64"] is False and f64["x64"] is True
        assert row["float32_accurate_enough"] and 0.01 < f64["relative"] < 1
        # without float64 the float32 route decides right (or refuses): never a wrong verdict
        assert f32["equivalence_correct"] and f64["equivalence_correct"]
        assert f32["equivalent"]["exactly_equivalent"] is True
        assert f32["equivalent"]["perturbed_1e-3"] is False
    for row in doc["analyze"]:
        assert row["float32"]["r"] == row["float64_accumulated"]["r"] == row["sizes"]["d"]
    for row in doc["gap"] + doc["analyze"]:
        for r in (row["float32"], row["float64_accumulated"]):
            # host-BLAS callbacks only on CPU (here: CPU, and only with a float64 accumulator)
            assert not r["host_callback"] or r["backend"] == "cpu"
        assert row["float64_accumulated"]["host_callback"] is True  # CPU: the host Gram
    audit = doc["audit"]
    assert audit["completed"] and audit["invariant"] is False and audit["rc"] == 1
    assert audit["sizes"] == {"N": 64, "V": 512, "d": 16} and audit["wall_s"] > 0
    assert doc["seeds_scaling"]["ratio"] > 0
    assert doc["study"]["size"] == "tiny" and doc["study"]["points_done"] >= 1


# --- quick runs never replace the committed results the README table cites (issue 25) ----------

QUICK_AWARE = ("audit", "decomposition", "spine", "study", "gap", "llv", "maps", "training")


@pytest.mark.parametrize("name", QUICK_AWARE)
def test_quick_results_go_to_their_own_file(name, tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "RESULTS_DIR", tmp_path)
    full = _common.write_json(name, {"quick": False, "x": 1}, None)
    quick = _common.write_json(name, {"quick": True, "x": 2}, None)
    assert full == tmp_path / f"{name}.json" and quick == tmp_path / f"{name}_quick.json"
    assert json.loads(full.read_text())["x"] == 1  # the full-size result is untouched
    # a script that already names its quick file is not doubled
    assert _common.result_path(f"{name}_quick", quick=True) == tmp_path / f"{name}_quick.json"


def test_a_payload_must_say_whether_it_is_quick(tmp_path):
    with pytest.raises(ValueError, match="quick"):
        _common.write_json("gap", {"x": 1}, tmp_path / "gap.json")


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("bench_*.py")))
def test_every_benchmark_writes_quick_results_apart(script):
    """Every script writes through `write_json` (which names quick results `*_quick.json`) or
    names its quick file itself; none writes a fixed `results/<name>.json` on `--quick`."""
    text = (BENCH / script).read_text(encoding="utf-8")
    assert "write_json(" in text or "_quick.json" in text, script


def test_readme_table_refuses_a_quick_result(tmp_path, monkeypatch):
    import readme_table

    for name in ("gap", "audit"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"quick": True, "machine": {}}))
    monkeypatch.setattr(readme_table, "RESULTS", tmp_path)
    with pytest.raises(readme_table.QuickResultError, match="expected a full-size result"):
        readme_table.rows()
    # the committed results are full-size: the table builds from them
    monkeypatch.setattr(readme_table, "RESULTS", BENCH / "results")
    assert len(readme_table.rows()) >= 10


def test_readme_benchmark_table_is_generated_from_the_results():
    proc = subprocess.run(
        [sys.executable, str(BENCH / "readme_table.py"), "--check"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
