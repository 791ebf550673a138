"""The decomposition (docs/theory.md §3.2): `idlin.analyze` against the best NumPy/SciPy route a
careful user would write for the same outputs, measured in the same run.

`analyze` returns the singular values of F, Ĝ and C to float64 accuracy, the right singular
vectors of F and Ĝ, and the left factors `U_C` (N×m) and `W` (V×m). The baselines compute exactly
those, from the same float32 model (N contexts, V tokens, width d; F of exact rank d/2, so
`k_f = r = d/2`, `k_g = d`), and the faster of them is the baseline:

- `gram`  float64 Grams `FᵀF`, `ĜᵀĜ` by SciPy's `dsyrk` (float32 rows converted to float64 a block
          at a time, Ĝ centred in float64), `scipy.linalg.eigh`, the singular values a Gram cannot
          resolve (`σ² ≤ 16(√n + k)ε₆₄‖A‖_F²`) recomputed from the R factor of `A V_tail`, the core
          `K = S_F V_FᵀV_G S_G` and its SVD in float64, then `U_C = F·(V_F S_F⁺ P)` and
          `W = Ĝ·(V_G S_G⁺ Q)` as float32 GEMMs.
- `qr`    Householder QR in R-only mode of F and Ĝ upcast to float64 (LAPACK `dgeqrf`), SVDs of
          `R_F`, `R_G` and `R_F R_Gᵀ`, then `U_C = F·R_F⁻¹P` and `W = Ĝ·R_G⁻¹Q` (triangular solves;
          the rank-truncated pseudo-inverse from `R`'s SVD where R is singular), float32 GEMMs.

Every route (analyze included) is checked against a float64 reference that shares no code with
them (NumPy's `gesdd` thin SVDs of F and Ĝ in float64; `σ(C) = σ(S_F V_FᵀV_G S_G)`): singular
values above the rank thresholds to relative error, the whole spectra to `|Δσ|/σ₁`, the right
singular subspaces (sine of the largest principal angle), and the factors by their residuals
`‖C w_i − σ_i u_i‖/σ₁`, `‖Cᵀu_i − σ_i w_i‖/σ₁` (i < r, C applied in float64 in factored form, never
N×V). Ranks: an independent float64 NumPy implementation of the default policy (`k_f`, `k_g`:
singular values above `√ε₆₄·σ₁`; `r`: principal cosines between the two spans above `√ε₆₄`,
docs/theory.md §3 "The rank of a stored model").

The floor (what correctness requires): the two Grams accumulated in float64 at this machine's
float64 `dsyrk` rate (`(N+V)d²` FLOP) plus the two factor GEMMs at the float32 GEMM rate
(`2(N+V)d·m`), both rates measured in this run. The target: `analyze` within 1.2× the faster
baseline (`goals`). Records the load average and the machine; results taken under load are
marked not quiet.

Usage: `python benchmarks/bench_decomposition.py [--quick] [--repeats R] [--out PATH]`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    enable_x64,
    fmt_table,
    gemm32_rate,
    goal,
    load_line,
    load_record,
    parser,
    syrk64,
    syrk64_rate,
    timeit,
    write_json,
)

FULL = (4096, 50257, 768)
QUICK = (128, 700, 24)
SPEED_GOAL = 1.2  # analyze ÷ the faster baseline
REL_ERROR_GOAL = 1e-6
EPS64 = float(np.finfo(np.float64).eps)
RTOL = math.sqrt(EPS64)


def make_model(N: int, V: int, d: int, seed: int = 0):
    """float32 F of *exact* rank d/2 (a product of ±1 matrices: small integers, exact in
    float32, so its tail singular values are 0, not rounding) and a full-rank G."""
    rng = np.random.default_rng(seed)
    r = d // 2
    A = rng.choice([-1.0, 1.0], size=(N, r))
    B = rng.choice([-1.0, 1.0], size=(r, d))
    F = (A @ B / 16.0).astype(np.float32)  # |entries| ≤ r/16: exact
    G = (rng.standard_normal((V, d)) * (3.0 / np.sqrt(d))).astype(np.float32)
    return F, G


# -- the float64 reference and the policy (independent of every route) ------------------------


def reference(F, G) -> dict:
    """float64 thin SVDs (LAPACK gesdd) of F and Ĝ, and σ(C) from the core."""
    F64 = F.astype(np.float64)
    gbar = G.mean(axis=0, dtype=np.float64)
    Gh64 = G.astype(np.float64) - gbar
    _, sF, VFt = np.linalg.svd(F64, full_matrices=False)
    _, sG, VGt = np.linalg.svd(Gh64, full_matrices=False)
    sC = np.linalg.svd(sF[:, None] * (VFt @ VGt.T) * sG[None, :], compute_uv=False)
    return {"sF": sF, "VFt": VFt, "sG": sG, "VGt": VGt, "sC": sC, "gbar": gbar}


def policy_ranks(sF, VFt, sG, VGt) -> dict[str, int]:
    """The default rank policy in float64 NumPy: `k_f`, `k_g` above `√ε₆₄·σ₁`, `r` = principal
    cosines between span(V_F[:k_f]) and span(V_G[:k_g]) above `√ε₆₄`."""
    kf = int(np.sum(sF > RTOL * sF[0])) if sF.size and sF[0] > 0 else 0
    kg = int(np.sum(sG > RTOL * sG[0])) if sG.size and sG[0] > 0 else 0
    E, U = np.asarray(VFt, np.float64)[:kf], np.asarray(VGt, np.float64)[:kg]
    # orthonormalise (a route's vectors are orthonormal only to its accuracy)
    E, U = np.linalg.qr(E.T)[0], np.linalg.qr(U.T)[0]
    cos = np.linalg.svd(E.T @ U, compute_uv=False) if kf and kg else np.zeros(0)
    return {"k_f": kf, "k_g": kg, "r": int(np.sum(cos > RTOL))}


def _pinv_diag(s, k):
    out = np.zeros_like(s)
    out[:k] = 1.0 / s[:k]
    return out


# -- the baselines ----------------------------------------------------------------------------


def _refine_tail(A, center, s, V):
    """Recompute the singular values an eigh of the float64 Gram cannot resolve, from the R
    factor of `(A − center) V_tail` (float64, a block of rows at a time)."""
    n, k = A.shape
    bound = 16.0 * (math.sqrt(n) + k) * EPS64 * float(np.sum(s**2))
    tail = np.flatnonzero(s**2 <= bound)
    if tail.size == 0:
        return s, V
    Vt = V[:, tail]
    R = np.zeros((0, tail.size))
    for i in range(0, n, 8192):
        x = A[i : i + 8192].astype(np.float64)
        if center is not None:
            x -= center
        R = np.linalg.qr(np.vstack([R, x @ Vt]), mode="r")
    _, sig, Zt = np.linalg.svd(R)
    s, V = s.copy(), V.copy()
    s[tail], V[:, tail] = sig, Vt @ Zt.T
    order = np.argsort(-s, kind="stable")
    return s[order], V[:, order]


def _eigh_svd(S):
    """Descending singular values and right singular vectors (columns) from a Gram's eigh."""
    import scipy.linalg

    w, V = scipy.linalg.eigh(S, check_finite=False)
    return np.sqrt(np.maximum(w[::-1], 0.0)), V[:, ::-1]


def _factors(F, G, gbar, BF, BG):
    """`U_C = F·B_F`, `W = Ĝ·B_G` as float32 GEMMs (Ĝ formed in float32, as analyze does)."""
    Gh = G - gbar.astype(np.float32)[None, :]
    return F @ BF.astype(np.float32), Gh @ BG.astype(np.float32)


def gram_route(F, G):
    """float64 Gram + eigh (+ tail) + core SVD + two float32 GEMMs (see the module docstring)."""
    gbar = G.mean(axis=0, dtype=np.float64)
    sF, VF = _refine_tail(F, None, *_eigh_svd(syrk64(F)))
    sG, VG = _refine_tail(G, gbar, *_eigh_svd(syrk64(G, center=gbar)))
    kf, kg = int(np.sum(sF > RTOL * sF[0])), int(np.sum(sG > RTOL * sG[0]))
    P, sC, Qt = np.linalg.svd(sF[:, None] * (VF.T @ VG) * sG[None, :])
    BF = (VF * _pinv_diag(sF, kf)[None, :]) @ P
    BG = (VG * _pinv_diag(sG, kg)[None, :]) @ Qt.T
    UC, W = _factors(F, G, gbar, BF, BG)
    return {"sF": sF, "VFt": VF.T, "sG": sG, "VGt": VG.T, "sC": sC, "UC": UC, "W": W}


def _r_inverse_times(R, s, u, Vt, k, M):
    """`R⁻¹M` by a triangular solve where R is nonsingular at the policy's rank, else the
    rank-k pseudo-inverse `V S⁺ uᵀ M` from R's SVD."""
    import scipy.linalg

    if k == R.shape[1] == R.shape[0]:
        return scipy.linalg.solve_triangular(R, M, check_finite=False)
    return Vt.T @ (_pinv_diag(s, k)[:, None] * (u.T @ M))


def _qr_r(A64):
    """R (k×d, k = min(rows, d)) of a float64 array by LAPACK `dgeqrf` in place (R only)."""
    from scipy.linalg.lapack import dgeqrf

    qr, _, _, info = dgeqrf(A64, overwrite_a=1)
    if info != 0:
        raise RuntimeError(f"dgeqrf failed: info={info}")
    k = min(A64.shape)
    return np.triu(qr[:k])


def qr_route(F, G):
    """float64 Householder QR (R only) + SVDs of R_F, R_G, R_F R_Gᵀ + solves + float32 GEMMs."""
    gbar = G.mean(axis=0, dtype=np.float64)
    RF = _qr_r(np.asfortranarray(F, dtype=np.float64))
    Gh64 = np.asfortranarray(G, dtype=np.float64)
    Gh64 -= gbar
    RG = _qr_r(Gh64)
    del Gh64
    uF, sF, VFt = np.linalg.svd(RF)
    uG, sG, VGt = np.linalg.svd(RG)
    kf, kg = int(np.sum(sF > RTOL * sF[0])), int(np.sum(sG > RTOL * sG[0]))
    P, sC, Qt = np.linalg.svd(RF @ RG.T)
    BF = _r_inverse_times(RF, sF, uF, VFt, kf, P)
    BG = _r_inverse_times(RG, sG, uG, VGt, kg, Qt.T)
    UC, W = _factors(F, G, gbar, BF, BG)
    return {"sF": sF, "VFt": VFt, "sG": sG, "VGt": VGt, "sC": sC, "UC": UC, "W": W}


def analyze_outputs(a) -> dict:
    return {"sF": np.asarray(a.embedding_singular_values), "VFt": np.asarray(a.embedding_right),
            "sG": np.asarray(a.unembedding_singular_values),
            "VGt": np.asarray(a.unembedding_right), "sC": np.asarray(a.log_odds_singular_values),
            "UC": np.asarray(a.log_odds_left), "W": np.asarray(a.log_odds_right)}  # fmt: skip


# -- accuracy ----------------------------------------------------------------------------------


def _sin_max(Vt_ref, Vt, k):
    """Sine of the largest principal angle between the first k right singular vectors."""
    if k == 0:
        return 0.0
    Q = np.linalg.qr(np.asarray(Vt, np.float64)[:k].T)[0]
    Pref = Vt_ref[:k].T
    return float(np.linalg.norm(Q - Pref @ (Pref.T @ Q), 2))


def accuracy(out: dict, ref: dict, ranks: dict, F64, Gh64) -> dict:
    """Errors of one route's outputs against the float64 reference (module docstring)."""
    kf, kg, r = ranks["k_f"], ranks["k_g"], ranks["r"]
    errs = {}
    for key, k in (("sF", kf), ("sG", kg), ("sC", r)):
        s, s_ref = np.asarray(out[key], np.float64), ref[key]
        n = min(s.size, s_ref.size)
        errs[f"{key}_relative_above_rank"] = float(np.max(np.abs(s[:k] - s_ref[:k]) / s_ref[:k]))
        errs[f"{key}_absolute_over_sigma1"] = float(np.max(np.abs(s[:n] - s_ref[:n])) / s_ref[0])
    errs["VF_sin_max"] = _sin_max(ref["VFt"], out["VFt"], kf)
    errs["VG_sin_max"] = _sin_max(ref["VGt"], out["VGt"], kg)
    U = np.asarray(out["UC"][:, :r], np.float64)
    W = np.asarray(out["W"][:, :r], np.float64)
    sC = np.asarray(out["sC"][:r], np.float64)
    CW = F64 @ (Gh64.T @ W)  # C W, factored
    CtU = Gh64 @ (F64.T @ U)  # Cᵀ U
    s1 = ref["sC"][0]
    errs["UC_residual"] = float(np.max(np.linalg.norm(CW - U * sC, axis=0)) / s1)
    errs["W_residual"] = float(np.max(np.linalg.norm(CtU - W * sC, axis=0)) / s1)
    errs["max_relative_sigma"] = max(errs[f"{k}_relative_above_rank"] for k in ("sF", "sG", "sC"))
    return errs


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    enable_x64()
    import jax

    import idlin

    N, V, d = QUICK if args.quick else FULL
    m = min(N, V, d)
    repeats = args.repeats or (2 if args.quick else 3)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    F, G = make_model(N, V, d)
    p = idlin.Predictor(F, G)
    svd_policy = idlin.Precision(decomposition="svd")

    a = jax.block_until_ready(idlin.analyze(p))
    ref = reference(F, G)
    ranks_ref = policy_ranks(ref["sF"], ref["VFt"], ref["sG"], ref["VGt"])
    outputs = {"analyze": analyze_outputs(a), "gram": gram_route(F, G), "qr": qr_route(F, G)}
    if args.quick:
        outputs["analyze_svd"] = analyze_outputs(idlin.analyze(p, precision=svd_policy))
    F64, Gh64 = F.astype(np.float64), G.astype(np.float64) - ref["gbar"]
    errors = {k: accuracy(o, ref, ranks_ref, F64, Gh64) for k, o in outputs.items()}
    del F64, Gh64
    ranks = {k: policy_ranks(o["sF"], o["VFt"], o["sG"], o["VGt"]) for k, o in outputs.items()}
    ranks["analyze_reported"] = {"k_f": int(a.embedding_rank), "k_g": int(a.unembedding_rank),
                                 "r": int(a.effective_complexity)}  # fmt: skip
    ranks["reference"] = ranks_ref

    times = {
        "analyze": timeit(lambda: idlin.analyze(p), repeats=repeats),
        "gram": timeit(lambda: gram_route(F, G), repeats=repeats),
        "qr": timeit(lambda: qr_route(F, G), repeats=repeats),
    }
    if args.quick:
        times["analyze_svd"] = timeit(lambda: idlin.analyze(p, precision=svd_policy), repeats=1)
    baseline = min(("gram", "qr"), key=lambda k: times[k].median)
    ratio = times["analyze"].median / times[baseline].median
    # The floor: the Grams at the float64 syrk rate + the factor GEMMs at the float32 rate.
    syrk = syrk64_rate(min(V, 16384), d, repeats)
    gemm = gemm32_rate(256 if args.quick else 2048, repeats)
    gram_flops, gemm_flops = float(N + V) * d * d, 2.0 * (N + V) * d * m
    floor = gram_flops / syrk["flops_per_s"] + gemm_flops / gemm["best"]
    grams = gram_times(G, repeats)
    payload = {
        "quick": args.quick,
        "sizes": {"N": N, "V": V, "d": d, "dtype": "float32", "model": "F exact rank d/2"},
        "seconds": {
            k: {"wall": t.median, "cpu": t.cpu_median, "samples": t.samples}
            for k, t in times.items()
        },
        "baseline": {
            "route": baseline,
            "seconds": times[baseline].median,
            "analyze_over_baseline": ratio,
            "analyze_over_gram": times["analyze"].median / times["gram"].median,
            "analyze_over_qr": times["analyze"].median / times["qr"].median,
        },
        "floor": {
            "seconds": floor,
            "gram_flops": gram_flops,
            "gemm_flops": gemm_flops,
            "syrk64": syrk,
            "gemm32": gemm,
            "analyze_over_floor": times["analyze"].median / floor,
        },
        "gram_of_G_float64": grams,
        "relative_error_vs_float64": {k: e["max_relative_sigma"] for k, e in errors.items()},
        "accuracy": errors,
        "ranks": ranks,
        "ranks_agree": all(ranks[k] == ranks_ref for k in ranks),
        "goals": {
            "analyze_over_baseline": goal(ratio, SPEED_GOAL, higher_is_better=False),
            "relative_error": goal(
                errors["analyze"]["max_relative_sigma"], REL_ERROR_GOAL, higher_is_better=False
            ),
        },
        **load_record(load0),
        "benchmark_seconds": time.perf_counter() - t0,
    }
    path = write_json("decomposition", payload, args.out)
    rows = [
        [name, f"{t.median:.3f}", f"{t.cpu_median:.3f}",
         f"{t.median / times[baseline].median:.2f}×", f"{t.median / floor:.2f}×",
         f"{errors[name]['max_relative_sigma']:.1e}",
         f"{max(errors[name]['UC_residual'], errors[name]['W_residual']):.1e}",
         "{k_f}/{k_g}/{r}".format(**ranks[name])]
        for name, t in times.items()
    ]  # fmt: skip
    print(f"N={N} V={V} d={d} float32; baseline: {baseline} (the faster NumPy/SciPy route); "
          f"floor {floor:.3f} s (float64 syrk {syrk['flops_per_s'] / 1e9:.0f} GFLOP/s, "
          f"float32 GEMM {gemm['best'] / 1e9:.0f} GFLOP/s)")  # fmt: skip
    print(fmt_table(rows, ["route", "wall s", "CPU s", "÷ baseline", "÷ floor", "σ rel. err",
                           "U_C/W residual", "k_f/k_g/r"]))  # fmt: skip
    print(
        "reference ranks k_f/k_g/r: {k_f}/{k_g}/{r}".format(**ranks_ref)
        + ("" if payload["ranks_agree"] else " — RANKS DISAGREE")
    )
    g = payload["goals"]["analyze_over_baseline"]
    met = "met" if g["met"] else "not met"
    print(f"analyze ÷ baseline {ratio:.2f} (target ≤ {SPEED_GOAL}: {met})")
    print(load_line(payload))
    print(f"wrote {path}")


def gram_times(G, repeats: int) -> dict:
    """The float64-accumulated Gram `GᵀG` of the float32 V×d unembeddings three ways: XLA's
    mixed-precision dot (jitted), idlin's `gram64` (jitted: the host BLAS through a callback on
    CPU), and SciPy's dsyrk called directly (`syrk64`, no callback)."""
    import jax
    import jax.numpy as jnp

    from idlin.core._gram import gram64

    Gj = jnp.asarray(G)
    xla = jax.jit(lambda A: jnp.matmul(A.T, A, preferred_element_type=jnp.float64))
    host = jax.jit(gram64)
    np.testing.assert_allclose(np.asarray(host(Gj)[0]), syrk64(G), rtol=1e-12,
                               atol=1e-9 * float(np.abs(G).max()) ** 2)  # fmt: skip
    out = {}
    for name, fn in (("xla_mixed_dot", lambda: xla(Gj)), ("gram64", lambda: host(Gj)),
                     ("scipy_dsyrk_direct", lambda: syrk64(G))):  # fmt: skip
        t = timeit(fn, repeats=repeats)
        out[name] = {"wall": t.median, "cpu": t.cpu_median}
    return out


if __name__ == "__main__":
    main()
