"""Load a local causal LM for `idlin export`: a Hugging Face folder or a GGUF file, offline.

    MODEL = a folder with config.json and *.safetensors (and tokenizer files), as written by
            `save_pretrained`;
          | a `.gguf` file (llama.cpp's format: weights, config and tokenizer in one file), or a
            folder without config.json holding exactly one `.gguf` file.

Every way a model can fail to load gets its own message, before transformers runs: no weights,
pickled weights only (never unpickled), a `.safetensors` file that is not safetensors, float8
weights (scaled formats that a float32 cast would silently get wrong), a `.gguf` file that is not
GGUF, an architecture transformers cannot build as a causal LM. A folder without tokenizer files
loads with no tokenizer (transformers would build an empty one that encodes every text to no
tokens); texts are then refused and token ids still work. Nothing is downloaded
(`local_files_only=True`), and no remote code is trusted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ...core._errors import ExportError, FileFormatError, MissingDependencyError

# Files that define a tokenizer; without any of them transformers builds an empty one.
_TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model",
    "sentencepiece.bpe.model", "tokenizer.tiktoken",
)  # fmt: skip
# safetensors dtypes whose values need a scale from elsewhere (or are too coarse) to mean anything.
_FLOAT8 = (
    "F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F6_E2M3", "F6_E3M2", "F4",
)  # fmt: skip
_HEADER_LIMIT = 100_000_000  # the safetensors format's own bound on the JSON header


def torch_modules():
    """`torch`, after checking that transformers imports too (the message names both)."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(
            f"exporting a Hugging Face model needs torch and transformers, got {e}: install "
            "them with pip install 'idlin[hf]'"
        ) from e
    return torch


def _check_safetensors(path: Path) -> None:
    """Refuse a `.safetensors` file whose header is not safetensors, or that stores float8."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        ok = 2 <= length <= min(size - 8, _HEADER_LIMIT)
        raw = f.read(length) if ok else b""
    try:
        header = json.loads(raw) if ok else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict):
        raise FileFormatError(
            f"{path}: expected a safetensors file (an 8-byte header length, then a JSON header), "
            f"got {size} bytes starting {head[:8]!r} that are not one (a renamed pickle or a "
            "partial download?)"
        )
    dtypes = {v.get("dtype") for v in header.values() if isinstance(v, dict)}
    narrow = sorted(d for d in dtypes if d in _FLOAT8)
    if narrow:
        raise FileFormatError(
            f"{path}: expected float32/float16/bfloat16 weights, got {', '.join(narrow)}: float8 "
            "(and narrower) checkpoints carry scales that a float32 cast ignores; dequantize the "
            "model (to bfloat16 or float32) and save_pretrained it first"
        )


def _check_gguf(path: Path) -> str:
    """The architecture a GGUF file declares (`general.architecture`); refuses non-GGUF files."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise FileFormatError(f"{path}: expected a GGUF file (magic b'GGUF'), got {magic!r}")
    try:
        import accelerate  # noqa: F401  (transformers' GGUF loading uses it)
        import gguf
    except ImportError as e:
        raise MissingDependencyError(
            f"loading a GGUF model needs the gguf and accelerate packages, got {e}: install them "
            "with pip install 'idlin[hf]'"
        ) from e
    try:
        field = gguf.GGUFReader(path).fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except (KeyError, IndexError, ValueError, OSError) as e:
        raise FileFormatError(
            f"{path}: expected GGUF metadata with general.architecture, got {e}"
        ) from e


def locate(model: str | os.PathLike) -> tuple[Path, str | None]:
    """`(folder, gguf file name or None)` for MODEL (module docstring), with the files checked.

    Raises:
        FileFormatError: no such path; a file that is not `.gguf`; a folder with neither
            config.json nor one `.gguf` (several are listed); no `*.safetensors` weights (pickled
            ones named, never read); a broken or float8 `.safetensors` file; a non-GGUF `.gguf`.
    """
    path = Path(model)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise FileFormatError(
                f"{path}: expected a Hugging Face model folder (config.json and *.safetensors) or "
                f"a .gguf file, got a {path.suffix or 'suffix-less'} file"
            )
        return path.parent, path.name
    if not path.is_dir():
        raise FileFormatError(
            f"{path}: expected a Hugging Face model folder (config.json and *.safetensors) or a "
            ".gguf file, got no such file or directory"
        )
    if not (path / "config.json").is_file():
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if len(ggufs) == 1:
            return path, ggufs[0]
        if ggufs:
            raise FileFormatError(
                f"{path}: expected one .gguf file in the folder, got {len(ggufs)} "
                f"({', '.join(ggufs)}): name the file, e.g. {path / ggufs[0]}"
            )
        raise FileFormatError(
            f"{path}: expected a model folder with config.json (or one .gguf file), got neither"
        )
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        pickled = sorted(p.name for p in path.glob("*.bin")) + sorted(
            p.name for p in path.glob("*.pt")
        )
        raise FileFormatError(
            f"{path}: expected *.safetensors weights, got "
            + (f"only pickle-based {pickled[:3]} (never unpickled)" if pickled else "none")
            + "; convert them with save_pretrained(..., safe_serialization=True)"
        )
    for file in weights:
        _check_safetensors(file)
    return path, None


def _architecture_check(folder: Path, gguf_file: str | None) -> None:
    """Refuse, before loading, an architecture transformers cannot build as a causal LM."""
    if gguf_file is not None:
        from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

        arch = _check_gguf(folder / gguf_file)
        known = set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}
        if arch not in known and arch.replace("-", "_") not in known:
            raise ExportError(
                f"{folder / gguf_file}: expected a GGUF architecture transformers can load, got "
                f"{arch!r} (supported: {', '.join(sorted(known))})"
            )
        return
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise FileFormatError(f"{folder / 'config.json'}: expected a JSON config, got {e}") from e
    config = config if isinstance(config, dict) else {}
    model_type = config.get("model_type")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        custom = " (custom code, auto_map, is never run)" if "auto_map" in config else ""
        raise ExportError(
            f"{folder}: expected a causal LM architecture transformers knows (config.json "
            f"model_type among AutoModelForCausalLM's), got {model_type!r}{custom}"
        )


def _tokenizer(folder: Path, gguf_file: str | None) -> Any:
    """The model's tokenizer, or None when the folder has no tokenizer files."""
    from transformers import AutoTokenizer

    if gguf_file is None and not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        return None
    try:
        return AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExportError(f"{folder}: expected a tokenizer transformers can load, got {e}") from e


def load_hf(model_dir: str | os.PathLike, *, progress: bool = True) -> tuple[Any, Any]:
    """`(model, tokenizer or None)` from a local folder or GGUF file (module docstring), offline.

    The model is loaded in float32 (exact for bfloat16/float16 checkpoints; GGUF's quantized
    blocks are dequantized to float32 by transformers) and put in eval mode; `progress=False`
    hides transformers' loading bars.

    Raises:
        MissingDependencyError: torch/transformers (or, for GGUF, gguf/accelerate) not installed.
        FileFormatError: as `locate`.
        ExportError: an architecture transformers cannot build as a causal LM, or a load failure.
    """
    torch = torch_modules()
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    folder, gguf_file = locate(model_dir)
    _architecture_check(folder, gguf_file)
    source = folder / gguf_file if gguf_file else folder
    weights = {"gguf_file": gguf_file} if gguf_file else {"use_safetensors": True}
    bars = hf_logging.is_progress_bar_enabled()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, dtype=torch.float32, **weights
        )
        tokenizer = _tokenizer(folder, gguf_file)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise ExportError(f"{source}: transformers could not load a causal LM ({e})") from e
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return model.eval(), tokenizer
