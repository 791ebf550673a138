"""The decomposition (docs/theory.md §3.2): `idlin.analyze` at language-model size vs NumPy.

One float32 model (N contexts, V tokens, width d; effective complexity d/2), in one process:

- `analyze`      `idlin.analyze(p)` with x64 on: the float64-accumulated Gram route (default).
- `analyze_svd`  `idlin.analyze(p, precision=Precision(decomposition="svd"))`: XLA's SVDs.
- `numpy`        the NumPy route to the same factors: Householder QR of F and of Ĝ (LAPACK
                 geqrf), SVDs of the R factors and of the d×d core K (all float32).
- `floor`        the GEMM floor of the Gram route: its FLOP count `2(N+V)d² + 2(N+V)d·m` (the
                 two Grams, then `U_C = F·(V_F S_F⁻¹ u)` and `W = Ĝ·(V_G S_G⁻¹ v)`, one GEMM
                 each) at the float32 GEMM rate this process measures on a d-wide GEMM
                 of the same shape (so the floor is the machine's, measured in the same run).
- `gram`         the float64 Gram `GᵀG` alone: XLA's mixed-precision dot vs idlin's `gram64`
                 (host BLAS dsyrk through a callback on CPU) vs the same NumPy code called
                 directly (what the callback costs).

Correctness first: singular values of C above the rank threshold against a float64 reference
(LAPACK on the float64 data, `O((N+V)d²)` via QR) to 1e-6 relative, and ranks identical across
routes. Records the 1-minute load average and marks results taken on a busy machine.

Usage: `python benchmarks/bench_decomposition.py [--quick] [--repeats R] [--out PATH]`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import enable_x64, fmt_table, load_line, load_record, parser, timeit, write_json

FULL = (4096, 50257, 768)
QUICK = (128, 700, 24)


def make_model(N: int, V: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    r = d // 2
    F = (rng.standard_normal((N, r)) @ rng.standard_normal((r, d)) / np.sqrt(r)).astype(np.float32)
    G = (rng.standard_normal((V, d)) * (3.0 / np.sqrt(d))).astype(np.float32)
    return F, G


def numpy_route(F, G):
    """Spectra and factors of F, Ĝ and C by Householder QR + small SVDs (NumPy, float32)."""
    Gh = G - G.mean(axis=0, keepdims=True)
    QF, RF = np.linalg.qr(F)
    uF, sF, VFt = np.linalg.svd(RF)
    QG, RG = np.linalg.qr(Gh)
    uG, sG, VGt = np.linalg.svd(RG)
    K = (sF[:, None] * (VFt @ VGt.T)) * sG[None, :]
    u, sC, vt = np.linalg.svd(K)
    UC = (QF @ uF) @ u
    W = (QG @ uG) @ vt.T
    return sF, sG, sC, UC, W


def reference_spectrum(F, G) -> np.ndarray:
    """float64 singular values of C = F Ĝᵀ via QR of both factors (never N×V)."""
    F, G = F.astype(np.float64), G.astype(np.float64)
    Gh = G - G.mean(axis=0, keepdims=True)
    RF = np.linalg.qr(F, mode="r")
    RG = np.linalg.qr(Gh, mode="r")
    return np.linalg.svd(RF @ RG.T, compute_uv=False)


def gemm_rate(rows: int, d: int, repeats: int) -> float:
    """float32 GEMM FLOP/s of this process on a (d, rows) × (rows, d) product (a Gram)."""
    import jax
    import jax.numpy as jnp

    X = jnp.asarray(np.random.default_rng(1).standard_normal((rows, d), dtype=np.float32))
    f = jax.jit(lambda X: X.T @ X)
    t = timeit(lambda: f(X), repeats=repeats)
    return 2.0 * rows * d * d / t.median


def gram_times(G, repeats: int) -> dict:
    """The float64-accumulated Gram `GᵀG` of the float32 V×d unembeddings three ways: XLA's
    mixed-precision dot (jitted), idlin's `gram64` (jitted: the host BLAS through a callback on
    CPU), and the same NumPy code called directly (no callback)."""
    import jax
    import jax.numpy as jnp

    from idlin._gram import gram64, host_gram

    Gj = jnp.asarray(G)
    xla = jax.jit(lambda A: jnp.matmul(A.T, A, preferred_element_type=jnp.float64))
    host = jax.jit(gram64)
    np.testing.assert_allclose(np.asarray(host(Gj)[0]), np.asarray(xla(Gj)), rtol=1e-12,
                               atol=1e-9 * float(np.abs(G).max()) ** 2)  # fmt: skip
    out = {}
    for name, fn in (("xla_mixed_dot", lambda: xla(Gj)), ("gram64", lambda: host(Gj)),
                     ("numpy_direct", lambda: host_gram(G))):  # fmt: skip
        t = timeit(fn, repeats=repeats)
        out[name] = {"wall": t.median, "cpu": t.cpu_median}
    return out


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    enable_x64()
    import jax

    import idlin

    N, V, d = QUICK if args.quick else FULL
    repeats = args.repeats or (2 if args.quick else 3)
    load0 = os.getloadavg()[0]
    F, G = make_model(N, V, d)
    p = idlin.Predictor(F, G)
    svd_policy = idlin.Precision(decomposition="svd")

    a = jax.block_until_ready(idlin.analyze(p))
    a_svd = jax.block_until_ready(idlin.analyze(p, precision=svd_policy))
    ref = reference_spectrum(F, G)
    r = int(a.effective_complexity)
    _, _, np_sC, *_ = numpy_route(F, G)
    np_r = int(np.sum(np_sC > float(a.log_odds_threshold)))
    errors = {
        "analyze": float(np.max(np.abs(np.asarray(a.log_odds_singular_values[:r], np.float64)
                                       - ref[:r]) / ref[:r])),
        "analyze_svd": float(np.max(np.abs(np.asarray(a_svd.log_odds_singular_values[:r],
                                                      np.float64) - ref[:r]) / ref[:r])),
        "numpy": float(np.max(np.abs(np_sC[:r].astype(np.float64) - ref[:r]) / ref[:r])),
    }  # fmt: skip
    ranks = {"analyze": r, "analyze_svd": int(a_svd.effective_complexity), "numpy": np_r,
             "reference": int(np.sum(ref > float(a.log_odds_threshold)))}  # fmt: skip

    t0 = time.perf_counter()
    times = {
        "analyze": timeit(lambda: idlin.analyze(p), repeats=repeats),
        "numpy": timeit(lambda: numpy_route(F, G), repeats=repeats),
    }
    if args.quick or os.environ.get("IDLIN_BENCH_SVD_ROUTE"):
        times["analyze_svd"] = timeit(lambda: idlin.analyze(p, precision=svd_policy), repeats=1)
    rate = gemm_rate(V, d, repeats)
    grams = gram_times(G, repeats)
    m = min(N, V, d)
    flops = 2.0 * (N + V) * d * d + 2.0 * (N + V) * d * m  # the Grams, then F·B_F and Ĝ·B_G
    floor = flops / rate
    rows = [
        [name, f"{t.median:.3f}", f"{t.cpu_median:.3f}", f"{times['numpy'].median / t.median:.2f}×",
         f"{t.median / floor:.2f}×", f"{errors[name]:.1e}", ranks[name]]
        for name, t in times.items()
    ]  # fmt: skip
    payload = {
        "quick": args.quick,
        "sizes": {"N": N, "V": V, "d": d},
        "seconds": {
            k: {"wall": t.median, "cpu": t.cpu_median, "samples": t.samples}
            for k, t in times.items()
        },
        "speedup_vs_numpy": times["numpy"].median / times["analyze"].median,
        "gram_of_G_float64": grams,
        "gemm_rate_flops": rate,
        "route_flops": flops,
        "floor_seconds": floor,
        "analyze_over_floor": times["analyze"].median / floor,
        "relative_error_vs_float64": errors,
        "ranks": ranks,
        **load_record(load0),
        "benchmark_seconds": time.perf_counter() - t0,
    }
    path = write_json("decomposition", payload, args.out)
    print(f"N={N} V={V} d={d} float32; GEMM rate {rate / 1e9:.1f} GFLOP/s → floor {floor:.3f} s")
    print("float64 Gram of G: " + ", ".join(f"{k} {v['wall']:.3f} s" for k, v in grams.items()))
    print(fmt_table(rows, ["route", "wall s", "CPU s", "vs NumPy", "÷ floor", "σ rel. err",
                           "rank"]))  # fmt: skip
    print(load_line(payload))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
