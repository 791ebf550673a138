"""Peak memory and wall time of every command at real-LM sizes (issue 23, "Memory at V = 262144").

Synthetic float32 predictor files of the shapes `idlin export` writes for SmolLM2-135M
(N = 1078, V = 49152, d = 576) and Gemma 3 270M (N = 1078, V = 262144, d = 640), shaped like real
LMs (a dominant context direction, a large common unembedding offset, token and context names),
and an equivalent second file (a basis change) for `verify`. Each command runs in its own process;
its own peak resident set comes from GNU time (`_common.run_measured`), and the interpreter's
own footprint (`python -c "import idlin.apps.cli, jax"`) is subtracted, so "above the interpreter"
is what the command's data cost. The target is ≤ 3× the input file's size.

Usage: `python benchmarks/bench_memory.py [--quick] [--only smollm2|gemma] [--out PATH]`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_table, load_line, load_record, parser, run_measured, write_json

SHAPES = {"smollm2": (1078, 49152, 576), "gemma": (1078, 262144, 640)}
QUICK_SHAPES = {"smollm2": (60, 2000, 48), "gemma": (60, 4000, 40)}

_ANALYZE = (
    "import sys, jax; jax.config.update('jax_enable_x64', True); import idlin, idlin.core.io; "
    "a = idlin.analyze(idlin.core.io.load(sys.argv[1], dtype='compute')); "
    "print(int(a.effective_complexity))"
)
_BASELINE = (
    "import jax; jax.config.update('jax_enable_x64', True); import idlin.apps.cli, idlin.core.io"
)


def write_models(folder: Path, shape: tuple[int, int, int], seed: int = 0) -> tuple[Path, Path]:
    """Two equivalent LM-shaped float32 files (B = A with a basis change) with names."""
    import numpy as np

    from idlin.core import io

    N, V, d = shape
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(N, d)).astype(np.float32) * np.logspace(0, -2, d, dtype=np.float32)
    F += (
        np.float32(10)
        * rng.normal(size=(N, 1)).astype(np.float32)
        * rng.normal(size=(1, d)).astype(np.float32)
    )
    G = rng.standard_normal(size=(V, d), dtype=np.float32)
    G += np.float32(5) * rng.normal(size=(1, d)).astype(np.float32)
    tokens = [f"tok{i}" for i in range(V)]
    contexts = [f"context {i}" for i in range(N)]
    a, b = folder / "a.safetensors", folder / "b.safetensors"
    io.save(a, io.Predictor(F, G), tokens=tokens, contexts=contexts)
    M = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)  # orthogonal: M^{-T} = M
    io.save(b, io.Predictor(F @ M.T, G @ M.T), tokens=tokens, contexts=contexts)
    del F, G
    return a, b


def measure(cmd: list[str]) -> dict:
    """Run `cmd` (`_common.run_measured`): wall time, exit code, its own peak RSS (MiB)."""
    m = run_measured(cmd)
    return {
        "command": " ".join(Path(c).name if "/" in c else c for c in cmd),
        "rc": m["rc"],
        "wall_s": m["wall_s"],
        "peak_rss_mib": m["peak_rss_mib"],
        "stderr_tail": m["stderr"][-300:] if m["rc"] not in (0, 1) else "",
    }


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(SHAPES), default=None)
    args = ap.parse_args()
    start = os.getloadavg()[0]
    shapes = QUICK_SHAPES if args.quick else SHAPES
    py = sys.executable
    baseline = measure([py, "-c", _BASELINE])["peak_rss_mib"]
    rows, results = [], {}
    for name, shape in shapes.items():
        if args.only and name != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            a, b = write_models(Path(tmp), shape)
            size = a.stat().st_size / 2**20
            commands = {
                "analyze (API)": [py, "-c", _ANALYZE, str(a)],
                "inspect": [py, "-m", "idlin", "inspect", str(a), "--json"],
                "verify": [py, "-m", "idlin", "verify", str(a), str(b), "--json"],
                "audit raw_cosine": [
                    py,
                    "-m",
                    "idlin",
                    "audit",
                    str(a),
                    "--measure",
                    "raw_cosine",
                    "--json",
                ],
            }
            cases = {}
            for label, cmd in commands.items():
                m = measure(cmd)
                m["above_interpreter_mib"] = m["peak_rss_mib"] - baseline
                # the ratio to what the command reads: verify reads both files
                m["input_mib"] = size * (2 if label == "verify" else 1)
                m["times_input"] = m["above_interpreter_mib"] / m["input_mib"]
                cases[label] = m
                rows.append([name, label, f"{m['wall_s']:.1f}", f"{m['peak_rss_mib']:.0f}",
                             f"{m['above_interpreter_mib']:.0f}", f"{m['times_input']:.2f}",
                             m["rc"]])  # fmt: skip
            results[name] = {"shape": {"N": shape[0], "V": shape[1], "d": shape[2]},
                             "file_mib": size, "cases": cases}  # fmt: skip
    load = load_record(start)
    header = ["model", "command", "wall s", "peak MiB", "above interpreter MiB", "× input", "rc"]
    print(fmt_table(rows, header))
    print(f"interpreter baseline {baseline:.0f} MiB; {load_line(load)}")
    name = "memory_quick" if args.quick else "memory"
    out = args.out
    path = write_json(name, {"quick": args.quick, "interpreter_mib": baseline,
                             "models": results, **load}, out)  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
