"""d_LLV with the full pivot search (docs/theory.md §8): idlin's vectorised route vs a NumPy loop.

Both compute Nielsen et al.'s d_LLV (bemigini/close-dist-rep-sim, `d_prob`, dist_type "max",
sum_or_max "sum", weight 1) with their pivot search — every label pivot `k` and left-out label
`l` (V(V−1) pairs), then 20 disjoint candidate input sets of d+1 contexts — on one float64
pair (q a perturbed change of basis of p):

- `idlin`        `idlin.core.metrics.d_llv`: one thin QR puts every label in d₁+d₂+2 dimensions,
                 the exhaustive (k, y) search is then O(V² d), jitted.
- `numpy_loop`   the straightforward NumPy loop over pivots `k` (vectorised over the other
                 labels and the N inputs, O(V² N)), the left-out loop and the candidate loop,
                 as their code is structured.

Correctness first: same pivots, same input set, value to 1e-9 relative, else the script fails.
Timing (`_common.timeit`): warm-up runs first, then the median of the repeats.

Usage: `python benchmarks/bench_llv.py [--quick] [--repeats R] [--out PATH]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import enable_x64, fmt_table, goal, parser, timeit, write_json

FULL = {"N": 5000, "V": 500, "d": 32}
QUICK = {"N": 300, "V": 40, "d": 8}
NUM_SAMPLES = 20
SPEEDUP_GOAL = 100.0
NOISE = 0.1


def make_pair(N: int, V: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((N, d))
    G = rng.standard_normal((V, d)) / np.sqrt(d)
    M = np.eye(d) + 0.5 * rng.standard_normal((d, d)) / np.sqrt(d)
    F2 = F @ M.T + NOISE * rng.standard_normal((N, d))
    G2 = G @ np.linalg.inv(M) + NOISE * rng.standard_normal((V, d)) / np.sqrt(d)
    return F, G, F2, G2


def _loglik(F, G):
    """(V, N) table `log p(y|x)`, their layout."""
    Z = F @ G.T
    Z = Z - Z.max(axis=1, keepdims=True)
    return (Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))).T


def _pivot_terms(a1, a2, b1, b2, axis):
    """Rows/columns `a` against the pivot `b`: R, P (their `get_terms_1_2_pivot`) and S."""
    s1 = np.std(a1 - b1, axis=axis, ddof=1, keepdims=True)
    s2 = np.std(a2 - b2, axis=axis, ddof=1, keepdims=True)
    R = np.std(a1 / s1 - a2 / s2, axis=axis, ddof=1)
    P = np.std(b1 / s1 - b2 / s2, axis=axis, ddof=1)
    return R, P, np.abs(s1 - s2).squeeze(axis)


def numpy_loop(F1, G1, F2, G2, sets, weight=1.0, cap=1.0):
    """d_LLV with their search, one pivot at a time (float64)."""
    L1, L2 = _loglik(F1, G1), _loglik(F2, G2)
    V = L1.shape[0]
    table = np.empty((V, V - 1))
    for k in range(V):
        rest = np.arange(V) != k
        R, P, _ = _pivot_terms(L1[rest], L2[rest], L1[k], L2[k], axis=1)
        term = np.concatenate([R, P])
        for j in range(V - 1):
            keep = np.ones(2 * (V - 1), bool)
            keep[[j, j + V - 1]] = False
            table[k, j] = term[keep].max()
    k, j = np.unravel_index(np.argmin(table), table.shape)
    lo = j + (j >= k)
    keep = (np.arange(V) != k) & (np.arange(V) != lo)
    R, P, S = _pivot_terms(L1[keep], L2[keep], L1[k], L2[k], axis=1)
    t1, t3 = max(R.max(), P.max()), S.max()
    best, chosen = cap, 0
    for i, c in enumerate(sets):
        R, P, _ = _pivot_terms(L1[:, c[1:]], L2[:, c[1:]], L1[:, c[:1]], L2[:, c[:1]], axis=0)
        if max(R.max(), P.max()) < best:
            best, chosen = max(R.max(), P.max()), i
    c = sets[chosen]
    R, P, S = _pivot_terms(L1[:, c[1:]], L2[:, c[1:]], L1[:, c[:1]], L2[:, c[:1]], axis=0)
    t2, t4 = max(R.max(), P.max()), S.max()
    return {
        "value": float(t1 + t2 + weight * (t3 + t4)),
        "t1": float(t1),
        "t2": float(t2),
        "label_pivot": int(k),
        "left_out_label": int(lo),
        "input_set": [int(i) for i in c],
    }


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    enable_x64()
    import jax

    import idlin
    from idlin.core.metrics import d_llv

    size = QUICK if args.quick else FULL
    N, V, d = size["N"], size["V"], size["d"]
    repeats = args.repeats or (3 if args.quick else 5)
    loop_repeats = args.repeats or (3 if args.quick else 2)
    F1, G1, F2, G2 = make_pair(N, V, d)
    p, q = idlin.Predictor(F1, G1), idlin.Predictor(F2, G2)
    key = jax.random.key(0)
    sets = np.asarray(d_llv(p, q, key=key).candidate_sets)  # one draw, shared by both

    def run_idlin():
        return d_llv(p, q, input_sets=sets)

    ours, ref = run_idlin(), numpy_loop(F1, G1, F2, G2, sets)
    same = {
        "label_pivot": ours.label_pivot == ref["label_pivot"],
        "left_out_label": ours.left_out_label == ref["left_out_label"],
        "input_set": np.asarray(ours.input_set).tolist() == ref["input_set"],
    }
    rel = {k: abs(getattr(ours, k) - ref[k]) / abs(ref[k]) for k in ("value", "t1", "t2")}
    if not all(same.values()) or max(rel.values()) > 1e-9:
        raise SystemExit(f"d_llv disagrees with the NumPy loop: {same}, relative {rel}")

    t_idlin = timeit(lambda: run_idlin().value, repeats=repeats, warmup=1)
    t_loop = timeit(lambda: numpy_loop(F1, G1, F2, G2, sets), repeats=loop_repeats, warmup=0)
    speedup = t_loop.median / t_idlin.median
    payload = {
        "quick": bool(args.quick),
        "size": {**size, "num_samples": int(sets.shape[0]), "dtype": "float64"},
        "result": {
            "d_llv": ours.value,
            "t1": ours.t1,
            "t2": ours.t2,
            "label_pivot": ours.label_pivot,
            "left_out_label": ours.left_out_label,
            "input_set": np.asarray(ours.input_set).tolist(),
        },
        "agreement": {"same_choices": same, "relative_difference": rel},
        "seconds": {"idlin": t_idlin.median, "numpy_loop": t_loop.median},
        "timings": {"idlin": t_idlin, "numpy_loop": t_loop},
        "speedup": speedup,
        "speedup_goal": goal(speedup, SPEEDUP_GOAL),
    }
    path = write_json("llv_quick" if args.quick else "llv", payload, args.out)
    print(
        fmt_table(
            [
                ["idlin d_llv", f"{t_idlin.median:.4g}", ours.value],
                ["numpy loop", f"{t_loop.median:.4g}", ref["value"]],
            ],
            ["method", "median s", "d_llv"],
        )
    )
    print(f"speedup {speedup:.1f}× (goal {SPEEDUP_GOAL:g}×) → {path}")


if __name__ == "__main__":
    main()
