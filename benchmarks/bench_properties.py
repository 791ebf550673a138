"""Wall time of the property-based suite under the Hypothesis profiles `dev`, `ci` and `thorough`.

Runs `python -m pytest <property test files> -q` in a fresh process per profile (selected with
`HYPOTHESIS_PROFILE`). `thorough` (≥1000 examples per property) can take hours on 2 CPU cores:
by default its time is extrapolated from the measured `dev` and `ci` runs with the line
`wall = a + b·examples` through those two points (the per-test example counts scale with the
profile's `max_examples`), and it is run for real only with `--run-thorough` (capped by
`--thorough-timeout`; a run that hits the cap is reported as a lower bound). `--quick` times a
tiny generated property test instead of the suite, to keep the script itself working in CI.

Usage: `python benchmarks/bench_properties.py [--quick] [--run-thorough] [--out PATH]`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_table, parser, write_json

ROOT = Path(__file__).resolve().parent.parent
SUITE = ("tests/test_properties_*.py", "tests/test_core_properties.py")

_QUICK_TEST = """
from hypothesis import given, strategies as st

@given(st.integers(-100, 100), st.integers(-100, 100))
def test_addition_commutes(a, b):
    assert a + b == b + a
"""
_QUICK_CONFTEST = "from idlin.testing._profiles import register_profiles\nregister_profiles()\n"


def suite_files() -> list[str]:
    files: list[str] = []
    for pattern in SUITE:
        files += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern))
    return files


def run_pytest(files: list[str], profile: str, *, cwd: Path, timeout: float | None) -> dict:
    """Wall time and outcome of one pytest process under `profile`."""
    env = {**os.environ, "HYPOTHESIS_PROFILE": profile}
    env.pop("CI", None)  # the profile comes from HYPOTHESIS_PROFILE alone
    cmd = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider", "-n", "0"]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"profile": profile, "seconds": time.perf_counter() - t0, "finished": False}
    seconds = time.perf_counter() - t0
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors)", tail)}
    inner = re.search(r" in ([0-9.]+)s", tail)
    return {
        "profile": profile,
        "seconds": seconds,
        "pytest_seconds": float(inner.group(1)) if inner else seconds,
        "finished": True,
        "returncode": proc.returncode,
        "summary": tail,
        "counts": counts,
    }


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--run-thorough", action="store_true", help="run `thorough` for real")
    ap.add_argument("--thorough-timeout", type=float, default=3600.0)
    args = ap.parse_args()
    from idlin.testing._profiles import PROFILE_EXAMPLES

    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            cwd = Path(tmp)
            (cwd / "conftest.py").write_text(_QUICK_CONFTEST)
            (cwd / "test_quick_property.py").write_text(_QUICK_TEST)
            files = ["test_quick_property.py"]
        else:
            cwd, files = ROOT, suite_files()
        runs = {p: run_pytest(files, p, cwd=cwd, timeout=None) for p in ("dev", "ci")}
        if args.run_thorough:
            runs["thorough"] = run_pytest(files, "thorough", cwd=cwd, timeout=args.thorough_timeout)
    n_dev, n_ci, n_th = (PROFILE_EXAMPLES[k] for k in ("dev", "ci", "thorough"))
    # pytest's own duration: interpreter start-up and imports are not part of the scaling.
    slope = (runs["ci"]["pytest_seconds"] - runs["dev"]["pytest_seconds"]) / (n_ci - n_dev)
    intercept = runs["dev"]["pytest_seconds"] - slope * n_dev
    estimate = {
        "thorough_seconds_extrapolated": intercept + slope * n_th,
        "fixed_seconds": intercept,
        "seconds_per_example_per_property_set": slope,
        "method": "line through the dev and ci pytest durations, evaluated at the thorough "
        "example count (a rough estimate: per-test example counts and costs differ)",
    }
    rows = [
        [p, PROFILE_EXAMPLES[p], f"{r['seconds']:.1f}", r.get("summary", "timed out: lower bound")]
        for p, r in runs.items()
    ]
    rows.append(
        ["thorough (extrapolated)", n_th, f"{estimate['thorough_seconds_extrapolated']:.0f}", ""]
    )
    print(fmt_table(rows, ["profile", "max_examples", "wall s (with start-up)", "pytest summary"]))
    path = write_json(
        "properties_quick" if args.quick else "properties",
        {"quick": args.quick, "files": files, "runs": runs, "thorough_estimate": estimate},
        args.out,
    )
    print(f"wrote {path}")
    for r in runs.values():
        if r["finished"] and r["returncode"] != 0:
            raise SystemExit(f"the suite failed under profile {r['profile']}: {r['summary']}")


if __name__ == "__main__":
    main()
