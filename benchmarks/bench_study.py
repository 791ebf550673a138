"""The study's vectorisation: vmapped analysis of K seeds vs a per-seed loop, and training of K
seeds as one program vs one seed (issue 16).

1. `analysis`: `idlin.lab.study.analyze_seeds` (ONE jitted `jax.vmap(idlin.analyze)`, seed k with
   `Precision(mean_kl=KL_k)`) against the Python loop `[idlin.analyze(q_k,
   precision=Precision(mean_kl=KL_k)) for k]`, for K = 8 and 32 stacked float64 seeds at the
   study's size (N=64, V=8, d=16) and at a larger one (N=1024, V=2048, d=64); the two are
   checked equal (ranks, singular values to float64 rounding) before anything is timed.
2. `seeds_scaling`: one study point (transformer, morphology truth) trained for K = 1 and K = 8
   seeds as one vmapped program (`idlin.lab.study._train.train_seeds`); compile excluded (each
   program is run once first); `ratio` = time(K=8)/time(K=1) (8 would be no gain from vmap).
3. `study_point`: the study's own unit of work, `run_point` (train, analyse, evaluate every
   property raw and identifiable) of one point of `examples/study.toml` (markov, MLP, width 2r)
   for K = 8 seeds as one vectorised call, against a Python loop of 8 one-seed `run_point`
   calls; both warm (each run once first, compile excluded) and first calls (compile included)
   reported; the seeds' KL to the truth are checked equal first.

Usage: `python benchmarks/bench_study.py [--quick] [--repeats R] [--out PATH]`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import enable_x64, fmt_table, load_line, load_record, parser, timeit, write_json

ROOT = Path(__file__).resolve().parent.parent

FULL_SIZES = [(64, 8, 16), (1024, 2048, 64)]
QUICK_SIZES = [(64, 8, 16)]


def analysis_row(N: int, V: int, d: int, seeds: int, repeats: int) -> dict:
    """vmapped analysis vs the per-seed loop on `seeds` random stacked float64 models."""
    import jax.numpy as jnp
    import numpy as np

    import idlin
    from idlin.lab.study import analyze_seeds, seed_analysis
    from idlin.lab.study._train import stack

    rng = np.random.default_rng(0)
    r = max(1, d // 4)
    F = rng.normal(size=(seeds, N, r)) @ rng.normal(size=(seeds, r, d))
    F += 1e-3 * rng.normal(size=F.shape)  # small extra directions, as in a trained model
    G = rng.normal(size=(seeds, V, d))
    kl = np.geomspace(1e-8, 1e-3, seeds)
    stacked = stack(jnp.asarray(F), jnp.asarray(G))
    models = [idlin.Predictor(F[k], G[k]) for k in range(seeds)]
    precisions = [idlin.Precision(mean_kl=float(x)) for x in kl]

    def loop():
        return [idlin.analyze(q, precision=p) for q, p in zip(models, precisions, strict=True)]

    def vmapped():
        return analyze_seeds(stacked, kl)

    batched, singles = vmapped(), loop()
    for k, one in enumerate(singles):  # same numbers first
        a = seed_analysis(batched, k)
        assert int(a.effective_complexity) == int(one.effective_complexity)
        np.testing.assert_allclose(a.log_odds_singular_values, one.log_odds_singular_values,
                                   rtol=1e-12, atol=1e-12)  # fmt: skip
    tv = timeit(vmapped, repeats=repeats)
    tl = timeit(loop, repeats=repeats)
    return {
        "sizes": {"N": N, "V": V, "d": d, "seeds": seeds},
        "vmap": {"wall": tv.median, "cpu": tv.cpu_median},
        "loop": {"wall": tl.median, "cpu": tl.cpu_median},
        "ratio_wall": tl.median / tv.median,
        "ratio_cpu": tl.cpu_median / tv.cpu_median,
    }


def seeds_scaling(steps: int, seeds: int = 8, repeats: int = 1) -> dict:
    """Wall time of training 1 and `seeds` seeds of one study point as one program each."""
    import jax

    from idlin.lab.data import morphology_truth
    from idlin.lab.study._train import train_seeds

    truth = morphology_truth(adjectives=["easy", "lucky", "happy", "big"])
    opts = {"batch_size": 64, "embed": 16, "layers": 1, "heads": 2}

    def run(k):
        out = train_seeds(truth, architecture="transformer", width=12, steps=steps,
                          learning_rate=5e-3, seeds=range(k), options=opts,
                          chunk_steps=steps)  # fmt: skip
        return out[0].embeddings

    times = {}
    for k in (1, seeds):
        jax.block_until_ready(run(k))  # compile
        times[k] = timeit(lambda k=k: run(k), repeats=repeats, warmup=0)
    return {
        "steps": steps, "seeds": seeds,
        "one_seed": {"wall": times[1].median, "cpu": times[1].cpu_median},
        "k_seeds": {"wall": times[seeds].median, "cpu": times[seeds].cpu_median},
        "ratio": times[seeds].median / times[1].median,
    }  # fmt: skip


def study_point(quick: bool, seeds: int = 8) -> dict:
    """Wall time of one study point's `run_point` for `seeds` seeds at once vs one seed at a
    time (the per-seed loop a study without vectorisation would run)."""
    import dataclasses

    import numpy as np

    from idlin.core._analysis import analyze
    from idlin.lab.study import load_config
    from idlin.lab.study._probes import probe_specs
    from idlin.lab.study._runner import _truth_entry, make_truth, run_point

    config = load_config(ROOT / "examples" / "study.toml", "tiny" if quick else "full")
    truths = {n: make_truth(p) for n, p in config.distributions.items()}
    points = config.points({n: r for n, (_, r) in truths.items()})
    wanted = ("markov", "mlp", 2)
    point = next(p for p in points if (p.distribution, p.architecture, p.multiple) == wanted)
    point = dataclasses.replace(point, seeds=tuple(range(seeds)))
    truth, rank = truths["markov"]
    specs = probe_specs(truth, analyze(truth.predictor))
    entry = _truth_entry(truth, rank, specs, config.tolerances)

    def together():
        return run_point(point, truth, entry, specs, config)["models"]

    def loop():
        return [m for s in point.seeds
                for m in run_point(dataclasses.replace(point, seeds=(s,)), truth, entry, specs,
                                   config)["models"]]  # fmt: skip

    c0 = time.perf_counter()
    a = together()
    first_together = time.perf_counter() - c0
    c0 = time.perf_counter()
    b = loop()
    first_loop = time.perf_counter() - c0
    np.testing.assert_allclose([m["mean_kl"] for m in a], [m["mean_kl"] for m in b], rtol=1e-4)
    tv, tl = timeit(together, repeats=1, warmup=0), timeit(loop, repeats=1, warmup=0)
    return {
        "point": point.label, "seeds": seeds, "steps": point.steps,
        "together": {"wall": tv.median, "cpu": tv.cpu_median, "first_call": first_together},
        "loop": {"wall": tl.median, "cpu": tl.cpu_median, "first_call": first_loop},
        "ratio_wall": tl.median / tv.median,
        "ratio_first_call": first_loop / first_together,
    }  # fmt: skip


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    enable_x64()
    repeats = args.repeats or (1 if args.quick else 5)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    rows = [analysis_row(*size, seeds, repeats) for size in sizes for seeds in (8, 32)]
    scaling = seeds_scaling(steps=20 if args.quick else 500, repeats=repeats)
    point = study_point(args.quick)
    payload = {
        "quick": args.quick,
        "analysis": rows,
        "seeds_scaling": scaling,
        "study_point": point,
        **load_record(load0),
        "seconds": time.perf_counter() - t0,
    }
    path = write_json("study", payload, args.out)
    print(fmt_table(
        [[f"{r['sizes']['N']}×{r['sizes']['V']}×{r['sizes']['d']}", r["sizes"]["seeds"],
          f"{r['vmap']['wall'] * 1e3:.2f}", f"{r['loop']['wall'] * 1e3:.2f}",
          f"{r['ratio_wall']:.1f}×", f"{r['ratio_cpu']:.1f}×"] for r in rows],
        ["N×V×d", "seeds", "vmap ms", "loop ms", "ratio wall", "ratio CPU"],
    ))  # fmt: skip
    print(f"training {scaling['seeds']} seeds vs 1 ({scaling['steps']} steps): "
          f"{scaling['ratio']:.2f}× the time of one seed")  # fmt: skip
    print(f"study point {point['point']}, {point['seeds']} seeds: one call "
          f"{point['together']['wall']:.2f} s vs a per-seed loop {point['loop']['wall']:.2f} s = "
          f"{point['ratio_wall']:.1f}× (first calls, compile included: "
          f"{point['ratio_first_call']:.1f}×)")  # fmt: skip
    print(load_line(payload))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
