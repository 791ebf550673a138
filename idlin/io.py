"""Saving and loading predictors as `.safetensors` or `.npz` files — never by unpickling.

A predictor file holds a model's final hidden states and its unembedding matrix on a fixed set of
contexts (THEORY §1):

| key | shape | meaning |
|---|---|---|
| `embeddings` | (N, d) | `F`: row x is `f(x)`, the last hidden state after the final layer norm |
| `unembeddings` | (V, d) | `G`: row y is `g(y)`, the output (LM-head) weight of token y |
| `bias` (optional) | (V,) | per-token output bias `b(y)`, folded in as `[f; 1]`, `[g; b]` |

Arrays are float32 or float64; float16/bfloat16 files load only with a `dtype` to cast to (the
CLI casts everything to float64; casting up is exact). No other keys are allowed, so that a typo
(`bias_`) cannot be silently ignored.
`.npz` files are read with `np.load(..., allow_pickle=False)`; object arrays and pickle files are
refused with a `FileFormatError`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import FileFormatError, IdlinError
from ._predictor import Predictor

REQUIRED_KEYS = ("embeddings", "unembeddings")
OPTIONAL_KEYS = ("bias",)
SUFFIXES = (".safetensors", ".npz")

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib")
_ZIP_MAGIC = b"PK\x03\x04"


def _format(path: Path) -> str:
    """`"safetensors"` or `"npz"` from the suffix, refusing pickle-based formats by name."""
    suffix = path.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        raise FileFormatError(
            f"{path}: expected a .safetensors or .npz file, got {suffix!r} — pickle-based files "
            "are never loaded (unpickling runs arbitrary code); export the arrays with "
            "safetensors.numpy.save_file or np.savez"
        )
    if suffix not in SUFFIXES:
        raise FileFormatError(f"{path}: expected a .safetensors or .npz file, got {suffix!r}")
    return suffix[1:]


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"\x80"):
        raise FileFormatError(
            f"{path}: expected an .npz (zip) archive, got a pickle stream — never unpickled"
        )
    if head != _ZIP_MAGIC:
        raise FileFormatError(f"{path}: expected an .npz (zip) archive, got bytes {head!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as e:  # object arrays need pickle: refuse
        raise FileFormatError(
            f"{path}: expected plain numeric arrays, got an object (pickled) array — never "
            f"unpickled ({e})"
        ) from e
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise FileFormatError(f"{path}: unreadable .npz archive ({e})") from e


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        msg = str(e)
        hint = (
            "; bfloat16 has no NumPy dtype — cast to float32 before saving"
            if "bf16" in msg.lower() or "bfloat16" in msg.lower()
            else ""
        )
        raise FileFormatError(f"{path}: unreadable .safetensors file ({msg}){hint}") from e


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The validated arrays of a predictor file: `embeddings`, `unembeddings` and maybe `bias`.

    Raises:
        FileFormatError: missing file, unknown suffix, pickle content, unreadable archive,
            missing or unknown keys.
    """
    path = Path(path)
    kind = _format(path)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise FileFormatError(f"{path}: expected a predictor file, got {what}")
    arrays = _read_npz(path) if kind == "npz" else _read_safetensors(path)
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        raise FileFormatError(
            f"{path}: expected keys {list(REQUIRED_KEYS)} (optional {list(OPTIONAL_KEYS)}), got "
            f"{sorted(arrays)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    return arrays


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or dtype.name == "bfloat16"  # bfloat16 comes from ml_dtypes


def stored_dtype(arrays: dict[str, np.ndarray]) -> np.dtype:
    """The widest dtype among the stored arrays (what the file's precision really is)."""
    return np.result_type(*(a.dtype for a in arrays.values()))


def machine_epsilon(dtype: np.dtype) -> float:
    """ε of a float dtype, bfloat16 included (ml_dtypes ships with JAX)."""
    import ml_dtypes

    return float(ml_dtypes.finfo(dtype).eps)


def load(path: str | os.PathLike, *, dtype: Any = None) -> Predictor:
    """Load a predictor from a `.safetensors` or `.npz` file (keys: module docstring).

    Args:
        path: the file.
        dtype: cast floating arrays (bfloat16 included) to this dtype, e.g. `np.float64` to
            verify in double precision (casting up is exact). Default: keep the stored dtype.

    Returns:
        The `Predictor` (a bias, if stored, is folded in as one more coordinate).

    Raises:
        FileFormatError: see `read_arrays`; also wrong ranks, sizes, dtypes or non-finite
            values, with the file name in the message.

    Example:
        >>> import numpy as np, tempfile, os, idlin.io
        >>> p = idlin.Predictor(np.ones((3, 2)), np.eye(4, 2))
        >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
        >>> idlin.io.save(path, p)
        >>> idlin.io.load(path).vocab_size
        4
    """
    return from_arrays(read_arrays(path), dtype=dtype, source=str(path))


def from_arrays(arrays: dict[str, np.ndarray], *, dtype: Any = None, source: str = "") -> Predictor:
    """The `Predictor` of arrays already read by `read_arrays` (see `load`); `source` prefixes
    error messages."""
    if dtype is not None:
        arrays = {k: (a.astype(dtype) if _is_float(a.dtype) else a) for k, a in arrays.items()}
    try:
        return Predictor(arrays["embeddings"], arrays["unembeddings"], arrays.get("bias"))
    except IdlinError as e:
        raise FileFormatError(f"{source}: {e}" if source else str(e)) from e


def save(path: str | os.PathLike, p: Predictor) -> None:
    """Write `p` as a predictor file; the suffix (`.safetensors` or `.npz`) picks the format.

    A bias folded into `p` is stored as part of `embeddings`/`unembeddings` (the predictor no
    longer knows it was a bias); `load(save(p))` reproduces `p` exactly.

    Raises:
        FileFormatError: unknown suffix.
    """
    path = Path(path)
    kind = _format(path)
    arrays = {
        "embeddings": np.ascontiguousarray(np.asarray(p.embeddings)),
        "unembeddings": np.ascontiguousarray(np.asarray(p.unembeddings)),
    }
    if kind == "npz":
        with open(path, "wb") as fh:  # an open handle: np.savez would append ".npz" to a str
            np.savez(fh, allow_pickle=False, **arrays)
    else:
        from safetensors.numpy import save_file

        save_file(arrays, str(path))


# -- Probe sets for `idlin inspect`: plain-text TSV, one item per line, 0-based row indices.
#    Blank lines and lines starting with "#" are ignored; fields are separated by tabs (any
#    whitespace is accepted).
#      pairs:  "source<TAB>target"   e.g. "12\t40"  (rows of `embeddings`, or of `unembeddings`)
#      labels: "index<TAB>label"      label in {0, 1, -1, +1, true, false}

_LABELS = {"0": 0, "1": 1, "-1": 0, "+1": 1, "false": 0, "true": 1}


def _tsv_rows(path: str | os.PathLike, what: str, parse) -> list:
    path = Path(path)
    if not path.is_file():
        missing = "a directory" if path.is_dir() else "no such file"
        raise FileFormatError(f"{path}: expected a {what} file (TSV), got {missing}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{path}: expected a UTF-8 text {what} file, got {e}") from e
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        row = parse(line.split())
        if row is None:
            raise FileFormatError(f"{path}:{number}: {_FORMATS[what]}, got {line[:60]!r}")
        rows.append(row)
    if not rows:
        raise FileFormatError(f"{path}: expected at least one {what[:-5]} line, got none")
    return rows


def _pair(fields: list[str]):
    if len(fields) != 2 or not all(f.lstrip("+-").isdigit() for f in fields):
        return None
    return int(fields[0]), int(fields[1])


def _label(fields: list[str]):
    if len(fields) != 2 or not fields[0].lstrip("+-").isdigit():
        return None
    label = _LABELS.get(fields[1].lower())
    return None if label is None else (int(fields[0]), label)


_FORMATS = {
    "pairs file": "expected two tab-separated integer indices 'source<TAB>target'",
    "labels file": "expected 'index<TAB>label' with an integer index and label 0/1/true/false",
}


def read_pairs(path: str | os.PathLike) -> np.ndarray:
    """Index pairs from a TSV file (format above) as an (m, 2) int64 array.

    Raises:
        FileFormatError: missing or unreadable file, a malformed line (with its number), no pairs.
    """
    return np.array(_tsv_rows(path, "pairs file", _pair), dtype=np.int64).reshape(-1, 2)


def read_labels(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """`(indices, labels)` from a TSV file (format above); labels as 0/1 int64.

    Raises:
        FileFormatError: missing or unreadable file, a malformed line (with its number), no lines.
    """
    rows = np.array(_tsv_rows(path, "labels file", _label), dtype=np.int64).reshape(-1, 2)
    return rows[:, 0], rows[:, 1]
