"""Shared helpers of the benchmark scripts: timing, peak memory in a fresh process, JSON output.

Timing excludes compilation: every callable is run `warmup` times first (compiling and touching
its memory), then `repeats` times with `jax.block_until_ready` on the result; the median is the
figure reported, the minimum and all samples are kept. Peak memory of XLA buffers is invisible to
tracemalloc, so each measured case runs in its own subprocess (`run_case`), which reports its
peak resident set (`VmHWM`) and its resident set once its inputs exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_CASE_FLAG = "--run-case"


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds of one measured callable (compile and warm-up excluded).

    `median`/`minimum`/`samples` are wall-clock; `cpu_median` is the median CPU time (user +
    system, all threads) of this process per call — on a shared machine it is far less sensitive
    to other load than wall time, so ratios are reported for both.
    """

    median: float
    minimum: float
    samples: tuple[float, ...]
    cpu_median: float


def timeit(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1) -> Timing:
    """Median wall time of `fn()`, synchronising on its result with `jax.block_until_ready`."""
    import jax

    for _ in range(warmup):
        jax.block_until_ready(fn())
    samples, cpu = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        samples.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return Timing(statistics.median(samples), min(samples), tuple(samples), statistics.median(cpu))


def rss_mib(field: str = "VmHWM") -> float:
    """This process's peak (`VmHWM`) or current (`VmRSS`) resident set in MiB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource  # portable fallback: the peak only (KiB on Linux, bytes on macOS)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def readme_with(text: str, start: str, end: str, generated: str) -> str:
    """`text` with what lies between the markers `start` and `end` replaced by `generated` (one
    newline either side): the one splice of the README's generated sections (the benchmark
    table, `idlin reproduce`'s results, the real-model tables). Exits naming the markers when
    the README lacks them."""
    if start not in text or end not in text:
        sys.exit(f"README.md lacks the markers {start} … {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{generated}\n{end}{tail}"


def run_measured(cmd: Sequence[str]) -> dict[str, Any]:
    """Run a command in a child process: its wall time, exit code, stdout, stderr and **its own**
    peak resident set in MiB. The peak comes from GNU time (`/usr/bin/time -f %M`): rusage of a
    child forked from this process would report *this* process's resident set when it is larger
    (Linux carries the forked copy's high-water mark across exec), and a fork from the small
    `time` process does not. Output goes to files, not pipes (a child blocked on a full pipe never
    exits)."""
    import shutil
    import tempfile

    gnu_time = shutil.which("time") or "/usr/bin/time"
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        full = [gnu_time, "-f", "%M", "-o", rss_file, *cmd] if os.path.exists(gnu_time) else cmd
        with (
            open(os.path.join(tmp, "out"), "w+") as out,
            open(os.path.join(tmp, "err"), "w+") as err,
        ):
            t0 = time.perf_counter()
            rc = subprocess.run(full, stdout=out, stderr=err, check=False).returncode
            wall = time.perf_counter() - t0
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        peak = float("nan")
        if os.path.exists(rss_file):
            lines = [ln for ln in open(rss_file).read().splitlines() if ln.strip().isdigit()]
            peak = int(lines[-1]) / 1024.0 if lines else peak
    return {"rc": rc, "wall_s": wall, "peak_rss_mib": peak, "stdout": stdout, "stderr": stderr}


def machine() -> dict[str, Any]:
    """Device, library versions and CPU facts recorded with every result."""
    import jax
    import numpy as np

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {
        "device": str(jax.devices()[0]),
        "platform": jax.default_backend(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_1min": load,
        "jax": jax.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "blas": blas(),
    }


def blas() -> dict[str, Any]:
    """NumPy's BLAS: library, kernel architecture and threads (threadpoolctl, when installed),
    and the OPENBLAS_* variables it ran under. A machine may force an older kernel (e.g.
    `OPENBLAS_CORETYPE=Haswell` on an AVX-512 CPU halves NumPy's GEMM rate): NumPy baselines
    and idlin's host Grams are only comparable across runs with the same kernel."""
    out: dict[str, Any] = {
        "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS")}
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return out
    libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    if libs:
        lib = libs[0]
        out.update({k: lib.get(k) for k in ("internal_api", "version", "architecture")})
        out["num_threads"] = lib.get("num_threads")
    return out


def result_path(name: str, *, quick: bool, out: Path | None = None) -> Path:
    """Where a benchmark writes: `out`, else `results/<name>.json` — or `results/<name>_quick.json`
    for a `--quick` run, so that a smoke run never overwrites the committed full-size result the
    README table is generated from (`readme_table.py` refuses quick results)."""
    if out is not None:
        return Path(out)
    base = name.removesuffix("_quick")
    return RESULTS_DIR / (f"{base}_quick.json" if quick else f"{base}.json")


def write_json(name: str, payload: dict[str, Any], out: Path | None) -> Path:
    """Write `payload` (plus machine facts and a timestamp) to `out` or `result_path(name, ...)`;
    `payload["quick"]` is required (every benchmark says whether it ran at `--quick` size)."""
    if "quick" not in payload:
        raise ValueError(f"benchmark {name}: payload must say whether it is quick")
    path = result_path(name, quick=bool(payload["quick"]), out=out)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def parser(description: str) -> argparse.ArgumentParser:
    """The flags every benchmark script shares."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke run)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default: results/)")
    ap.add_argument(_CASE_FLAG, dest="run_case", default=None, help=argparse.SUPPRESS)
    return ap


def run_case(
    script: str,
    case: dict[str, Any],
    *,
    inline: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    timeout: float | None = None,
) -> dict:
    """Run one measured case of `script` in a fresh Python process and return its JSON result.

    The child is `python script --run-case '<json>'`; it must print one JSON object as its last
    stdout line (see `case_main`). A fresh process makes its peak RSS that case's alone. With
    `inline` (quick smoke runs) the case runs in this process instead and no peak is reported.
    """
    if inline is not None:
        result = inline(case)
        result["peak_rss_mib"] = float("nan")
        result.setdefault("rss_inputs_mib", float("nan"))
        return json.loads(json.dumps(result, default=_jsonable))
    cmd = [sys.executable, script, _CASE_FLAG, json.dumps(case)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark case {case} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def case_main(run: Callable[[dict[str, Any]], dict[str, Any]], raw: str) -> None:
    """Child side of `run_case`: run `run(case)`, add peak RSS, print the JSON line."""
    case = json.loads(raw)
    result = run(case)
    result["peak_rss_mib"] = rss_mib("VmHWM")
    print(json.dumps(result, default=_jsonable))


def enable_x64(on: bool = True) -> None:
    """Set `jax_enable_x64` before any array is created."""
    import jax

    jax.config.update("jax_enable_x64", on)


def goal(value: float, target: float, *, higher_is_better: bool = True) -> dict[str, Any]:
    """`{"value", "target", "met", "margin"}`; margin is value/target (or target/value), None
    where that ratio is undefined (a zero target or value)."""
    met = value >= target if higher_is_better else value <= target
    num, den = (value, target) if higher_is_better else (target, value)
    margin = num / den if den > 0 else None
    return {"value": value, "target": target, "met": bool(met), "margin": margin}


def fmt_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A small markdown table (for the console and the README)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_record(start: float) -> dict[str, Any]:
    """The payload fields of a benchmark's load: the 1-minute load average at its `start`
    (`os.getloadavg()[0]` taken then) and now, and `quiet` — whether neither exceeded the cores
    (results that are not quiet must not be published: figures taken under load do not
    reproduce)."""
    end = os.getloadavg()[0]
    return {"load_average_1min": {"start": start, "end": end},
            "quiet": max(start, end) <= (os.cpu_count() or 1)}  # fmt: skip


def load_line(record: dict[str, Any]) -> str:
    """`load A → B on C cores`, flagged NOT QUIET when it was not."""
    load = record["load_average_1min"]
    flag = "" if record["quiet"] else " — NOT QUIET: do not publish these times"
    return f"load {load['start']:.2f} → {load['end']:.2f} on {os.cpu_count() or 1} cores{flag}"


# --- the machine's rates, measured in the run that uses them (floors, docs/theory.md §2.1, §3.2)


def syrk64(*blocks, center=None, rows_per_block: int = 4096):
    """`XᵀX` (float64, symmetric) of the column concatenation `X = [blocks…]` of float32 arrays
    by SciPy's BLAS `dsyrk`, a block of rows converted to float64 at a time (minus the float64
    row vector `center`): the float64-accumulated Gram a careful NumPy/SciPy user writes,
    independent of idlin's own (`idlin.core._gram`)."""
    from scipy.linalg.blas import dsyrk

    k = sum(B.shape[1] for B in blocks)
    out = np.zeros((k, k), order="F")
    for i in range(0, blocks[0].shape[0], rows_per_block):
        x = np.concatenate([B[i : i + rows_per_block] for B in blocks], axis=1, dtype=np.float64)
        if center is not None:
            x -= center[None, :]
        out = dsyrk(1.0, x.T, beta=1.0, c=out, trans=0, lower=0, overwrite_c=1)
    return np.triu(out) + np.triu(out, 1).T


def syrk64_rate(rows: int, cols: int, repeats: int) -> dict[str, float]:
    """float64 `dsyrk` rate of this process on a rows×cols float64 matrix already in memory
    (best repeat): FLOP/s counting `rows·cols²` (a symmetric rank-k update does half a GEMM's
    `2·rows·cols²`)."""
    from scipy.linalg.blas import dsyrk

    x = np.random.default_rng(2).standard_normal((rows, cols))
    t = timeit(lambda: dsyrk(1.0, x.T, trans=0), repeats=max(3, repeats))
    flops = float(rows) * cols * cols
    return {"rows": rows, "cols": cols, "flops_per_s": flops / t.minimum,
            "median_flops_per_s": flops / t.median}  # fmt: skip


def gemm32_rate(n: int, repeats: int) -> dict[str, float]:
    """float32 GEMM rate (FLOP/s, `2n³`) of an n×n×n product by XLA and by NumPy's BLAS; `best`
    is the faster one's best repeat (a peak: a slow repeat must not make a floor easier)."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    mm = jax.jit(jnp.matmul)
    flops = 2.0 * n**3
    t_jax = timeit(lambda: mm(ja, jb), repeats=max(3, repeats))
    t_np = timeit(lambda: a @ b, repeats=max(3, repeats))
    return {"n": n, "jax": flops / t_jax.median, "numpy": flops / t_np.median,
            "best": flops / min(t_jax.minimum, t_np.minimum),
            "jax_per_cpu_second": flops / t_jax.cpu_median,
            "numpy_per_cpu_second": flops / t_np.cpu_median}  # fmt: skip
