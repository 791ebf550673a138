"""Saving and loading predictors as `.safetensors` or `.npz` files — never by unpickling.

A predictor file holds a model's final hidden states and its unembedding matrix on a fixed set of
contexts (docs/theory.md §1), and optionally the names of its tokens and contexts:

| key | shape | meaning |
|---|---|---|
| `embeddings` | (N, d) | `F`: row x is `f(x)`, the last hidden state after the final layer norm |
| `unembeddings` | (V, d) | `G`: row y is `g(y)`, the output (LM-head) weight of token y |
| `bias` (optional) | (V,) | per-token output bias `b(y)`, folded in as `[f; 1]`, `[g; b]` |
| `tokens` (optional) | (V,) | name of each token (e.g. the tokenizer's string for id y) |
| `contexts` (optional) | (N,) | name of each context (e.g. its text) |

Arrays are float32 or float64 (either byte order; big-endian is converted to native);
float16/bfloat16 files load only with a `dtype` to cast to (the CLI computes float64 files in
float64 and everything else in float32, `compute_dtype`, with float64 arithmetic either way;
casting up is exact). No other keys are allowed, so that a typo (`bias_`) cannot be silently
ignored. Names are stored without pickle: in `.npz` as fixed-width unicode arrays (`<U…`), in
`.safetensors` as JSON lists in the header's metadata (`{"tokens": "[...]", ...}`).
`.npz` archives are read member by member: each `.npy` header is checked against the member's
real size before anything is allocated, and object (pickled) arrays are refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import zipfile
import zlib
from collections.abc import Sequence
from io import BufferedIOBase
from pathlib import Path
from typing import Any, cast

import numpy as np

from ._errors import DTypeError, FileFormatError, IdlinError, ShapeError
from ._paths import atomic_write
from ._predictor import Predictor
from ._probe_files import read_labels as read_labels
from ._probe_files import read_pairs as read_pairs
from ._probe_files import read_vector as read_vector

REQUIRED_KEYS = ("embeddings", "unembeddings")
OPTIONAL_KEYS = ("bias",)
NAME_KEYS = ("tokens", "contexts")
SUFFIXES = (".safetensors", ".npz")

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib")
_ZIP_MAGIC = b"PK\x03\x04"


@dataclasses.dataclass(frozen=True)
class NamedPredictor:
    """A predictor read from a file, with the names the file carries (`load_named`).

    The `Predictor` stays a plain pytree of two arrays (so `jax.jit` over it is unchanged); the
    names travel beside it. `tokens[y]` names row y of `G`, `contexts[x]` row x of `F`.

    Attributes:
        predictor: the model (a stored bias folded in).
        tokens: V token names, or None when the file has none.
        contexts: N context names, or None when the file has none.
        stored_dtype: the precision the file stores (tolerances follow it, not the cast dtype).
    """

    predictor: Predictor
    tokens: tuple[str, ...] | None
    contexts: tuple[str, ...] | None
    stored_dtype: np.dtype


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


# -- .npz: a zip of .npy members, parsed header first so a lying header cannot allocate.


def _npy_member(path: Path, key: str, fh: BufferedIOBase, size: int) -> np.ndarray:
    """One `.npy` member of `size` bytes: header checked against the bytes present, then read."""

    def corrupt(why: str) -> FileFormatError:
        return FileFormatError(f"{path}: truncated or corrupt .npz member {key!r}: {why}")

    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise corrupt(f"expected .npy format version 1.0 or 2.0, got {version}")
    except ValueError as e:  # bad magic or header text
        raise corrupt(f"not a readable .npy header ({e})") from e
    if dtype.hasobject:
        raise FileFormatError(
            f"{path}: member {key!r}: expected plain numeric or string arrays, got an object "
            f"(pickled) array of dtype {dtype} — never unpickled"
        )
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on a lying header
    present = size - fh.tell()
    if declared != present:
        raise corrupt(
            f"its header declares shape {shape} of {dtype} ({declared:,} bytes) but the member "
            f"holds {present:,} bytes of data"
        )
    buffer = _aligned_bytes(declared)
    if _read_into(fh, buffer) != declared:
        raise corrupt(f"expected {declared:,} bytes of data, got fewer")
    array = buffer.view(dtype).reshape(shape, order="F" if fortran else "C")
    # Big-endian (or any non-native) arrays are converted, not refused: the values are the same.
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


# XLA's CPU client adopts a host buffer without copying it when it is 64-byte aligned
# (`jax.device_put`): a file read into such a buffer is held once, not twice, at V = 262144.
_ALIGN = 64


def _read_into(fh: Any, buffer: np.ndarray, chunk: int = 1 << 20) -> int:
    """Fill `buffer` from `fh` in 1 MiB reads; the bytes read. (A zip member's `readinto`
    reads the whole request into a temporary bytes object first: one more copy of the array.)"""
    view, got = memoryview(cast(Any, buffer)), 0  # an ndarray exports the buffer protocol
    while got < len(view):
        n = fh.readinto(view[got : got + chunk])
        if not n:
            break
        got += n
    return got


def _aligned_bytes(size: int) -> np.ndarray:
    """A fresh uint8 buffer of `size` bytes starting on a 64-byte boundary."""
    raw = np.empty(size + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start : start + size]


# A compressed .npz may declare at most this many bytes of arrays beyond `INFLATION` times its
# own size (checked on the zip headers, before inflating anything): real embeddings compress
# ~1.1×, so only a "zip bomb" (e.g. 0.4 MB declaring 400 MB of zeros) is refused.
INFLATION, INFLATION_FREE_BYTES = 100, 256 << 20


def _float_dtype(dtype: Any) -> np.dtype:
    """`dtype` as float32 or float64, the dtypes idlin computes in: `DTypeError` otherwise, and
    for float64 while JAX's x64 is off (the arrays would silently come back float32)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise DTypeError(f"dtype: expected float32 or float64, got {dt}")
    if dt == np.float64:
        import jax

        if not jax.config.read("jax_enable_x64"):
            raise DTypeError(
                "dtype: expected float32 while JAX's x64 is off (float64 arrays become float32), "
                "got float64; enable it with jax.config.update('jax_enable_x64', True)"
            )
    return dt


def _check_inflation(path: Path, infos) -> None:
    declared = sum(i.file_size for i in infos)
    size = path.stat().st_size
    if declared > INFLATION_FREE_BYTES and declared > INFLATION * size:
        raise FileFormatError(
            f"{path}: expected arrays at most {INFLATION}× the file's size ({size:,} bytes), got "
            f"{declared:,} bytes declared (a compression bomb?); re-save it uncompressed"
        )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"\x80"):
        raise FileFormatError(
            f"{path}: expected an .npz (zip) archive, got a pickle stream — never unpickled"
        )
    if head != _ZIP_MAGIC:
        raise FileFormatError(f"{path}: expected an .npz (zip) archive, got bytes {head!r}")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:  # zipfile would silently read the last one
                raise FileFormatError(
                    f"{path}: expected each array once in the archive, got {twice} twice or more"
                )
            _check_inflation(path, infos)
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise FileFormatError(
                        f"{path}: expected only .npy arrays in the archive, got member "
                        f"{info.filename!r}"
                    )
                key = info.filename[: -len(".npy")]
                # typeshed types `ZipFile.open` as IO[bytes]; for reading it returns a
                # `ZipExtFile`, a BufferedIOBase (`readinto`).
                with archive.open(info) as member:
                    fh = cast(zipfile.ZipExtFile, member)
                    arrays[key] = _npy_member(path, key, fh, info.file_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise FileFormatError(f"{path}: truncated or corrupt .npz archive ({e})") from e
    return arrays


# -- .safetensors: the library validates offsets against the file size itself.


# Float tensors are read with plain reads into aligned buffers: the library maps the whole file,
# and the mapped pages it touches count in the process's resident set next to the copy it
# returns (2× the file at peak, measured at V = 262144). The library still validates the header.
_READ_DIRECTLY = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


def _read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = dict(f.metadata() or {})
            direct = {k: f.get_slice(k).get_dtype() in _READ_DIRECTLY for k in f.keys()}
            arrays = {k: f.get_tensor(k) for k, yes in direct.items() if not yes}
        if any(direct.values()):
            arrays.update(_read_float_tensors(path, [k for k, yes in direct.items() if yes]))
        return arrays, metadata
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        msg = str(e)
        hint = (
            "; bfloat16 has no NumPy dtype — cast to float32 before saving"
            if "bf16" in msg.lower() or "bfloat16" in msg.lower()
            else ""
        )
        if "incomplete metadata" in msg or "file not fully covered" in msg:
            hint = "; the file is truncated (shorter than its header declares)" + hint
        raise FileFormatError(f"{path}: unreadable .safetensors file ({msg}){hint}") from e


def _read_float_tensors(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """`keys` (float32/float64 tensors of a header the library has validated) read into aligned
    buffers: the format is an 8-byte little-endian header length, the JSON header with each
    tensor's `dtype`, `shape` and `data_offsets`, then the data."""
    out = {}
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
        for key in keys:
            entry = header[key]
            begin, end = entry["data_offsets"]
            buffer = _aligned_bytes(end - begin)
            fh.seek(8 + size + begin)
            if _read_into(fh, buffer) != end - begin:
                raise ValueError(f"{key}: the file ends inside the tensor")
            array = buffer.view(_READ_DIRECTLY[entry["dtype"]]).reshape(entry["shape"])
            out[key] = array.astype(array.dtype.newbyteorder("="), copy=False)  # a no-op here
    return out


def _names_from_metadata(path: Path, metadata: dict[str, str], key: str) -> tuple[str, ...] | None:
    if key not in metadata:
        return None
    try:
        names = json.loads(metadata[key])
    except json.JSONDecodeError as e:
        raise FileFormatError(
            f"{path}: metadata {key!r}: expected a JSON list of strings, got invalid JSON ({e})"
        ) from e
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise FileFormatError(
            f"{path}: metadata {key!r}: expected a JSON list of strings, got "
            f"{type(names).__name__}"
            + (" with non-string entries" if isinstance(names, list) else "")
        )
    return tuple(names)


def _names_from_array(path: Path, array: np.ndarray, key: str) -> tuple[str, ...]:
    if array.dtype.kind != "U" or array.ndim != 1:
        raise FileFormatError(
            f"{path}: {key}: expected a 1-D unicode string array (dtype <U…), got dtype "
            f"{array.dtype} of shape {array.shape}"
        )
    return tuple(str(s) for s in array.tolist())


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
    """The numeric arrays and the names (by key) of a predictor file, keys validated."""
    path = Path(path)
    if path.is_dir():  # before the suffix: "models.npz/" is a directory, not a bad suffix
        raise FileFormatError(f"{path}: expected a predictor file, got a directory")
    kind = _format(path)
    if not path.is_file():
        from ._paths import kind_of

        raise FileFormatError(f"{path}: expected a predictor file, got {kind_of(path)}")
    names: dict[str, tuple[str, ...]] = {}
    if kind == "npz":
        arrays = _read_npz(path)
        for key in NAME_KEYS:
            if key in arrays:
                names[key] = _names_from_array(path, arrays.pop(key), key)
    else:
        arrays, metadata = _read_safetensors(path)
        for key in NAME_KEYS:
            if key in arrays:
                raise FileFormatError(
                    f"{path}: {key}: expected names in the safetensors metadata (JSON), got a "
                    "tensor"
                )
            found = _names_from_metadata(path, metadata, key)
            if found is not None:
                names[key] = found
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    unknown = sorted(set(arrays) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        raise FileFormatError(
            f"{path}: expected keys {list(REQUIRED_KEYS)} (optional "
            f"{list(OPTIONAL_KEYS + NAME_KEYS)}), got {sorted(set(arrays) | set(names))}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    return arrays, names


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The validated numeric arrays of a predictor file: `embeddings`, `unembeddings`, maybe
    `bias` (names, if any, are read by `load_named`).

    Raises:
        FileFormatError: missing file or a directory, unknown suffix, pickle content, a truncated
            or corrupt archive, missing or unknown keys.
    """
    return _read(path)[0]


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
        The `Predictor` (a bias, if stored, is folded in as one more coordinate). Names stored
        in the file are checked but not returned: use `load_named` for them.

    Raises:
        FileFormatError: see `read_arrays`; also wrong ranks, sizes, dtypes or non-finite
            values, or a name list of the wrong length, with the file name in the message.

    Example:
        >>> import numpy as np, tempfile, os, idlin.core.io
        >>> p = idlin.Predictor(np.ones((3, 2)), np.eye(4, 2))
        >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
        >>> idlin.core.io.save(path, p)
        >>> idlin.core.io.load(path).vocab_size
        4
    """
    return load_named(path, dtype=dtype).predictor


def load_named(path: str | os.PathLike, *, dtype: Any = None) -> NamedPredictor:
    """Load a predictor and the token and context names its file carries (see `load`).

    Returns:
        `NamedPredictor(predictor, tokens, contexts, stored_dtype)`; `tokens`/`contexts` are
        None when the file stores none.

    Raises:
        FileFormatError: see `load`; also names that are not strings, or whose count is not V
            (tokens) or N (contexts).

    Example:
        >>> import numpy as np, tempfile, os, idlin.core.io
        >>> p = idlin.Predictor(np.ones((2, 2)), np.eye(3, 2))
        >>> path = os.path.join(tempfile.mkdtemp(), "p.safetensors")
        >>> idlin.core.io.save(path, p, tokens=["a", "b", "c"], contexts=["x", "y"])
        >>> idlin.core.io.load_named(path).tokens
        ('a', 'b', 'c')
    """
    arrays, names = _read(path)
    stored = stored_dtype(arrays)
    p = _predictor(arrays, dtype, str(path), adopt=True)
    del arrays  # the Predictor holds the float buffers now (adopted, not copied)
    sizes = {"tokens": p.vocab_size, "contexts": p.num_contexts}
    for key, found in names.items():
        if len(found) != sizes[key]:
            what = "V" if key == "tokens" else "N"
            raise FileFormatError(
                f"{path}: {key}: expected {what} = {sizes[key]} names, got {len(found)}"
            )
    return NamedPredictor(p, names.get("tokens"), names.get("contexts"), stored)


def compute_dtype(stored: Any) -> np.dtype:
    """The dtype a stored precision is computed in: float64 stays float64, everything else
    (float32, float16, bfloat16) becomes float32 — `analyze` then runs float64 arithmetic on it
    (the Gram route, docs/theory.md §3.2) at half the memory of a float64 copy."""
    return np.dtype(np.float64) if np.dtype(stored) == np.float64 else np.dtype(np.float32)


def from_arrays(arrays: dict[str, np.ndarray], *, dtype: Any = None, source: str = "") -> Predictor:
    """The `Predictor` of arrays already read by `read_arrays` (see `load`); `source` prefixes
    error messages. `dtype="compute"` casts to `compute_dtype` of the stored precision."""
    return _predictor(arrays, dtype, source, adopt=False)


def _predictor(arrays: dict[str, np.ndarray], dtype: Any, source: str, *, adopt: bool) -> Predictor:
    """`from_arrays`; `adopt`: the arrays are this module's own fresh buffers, which the JAX
    arrays may take over without a copy (`_adopt`)."""
    if isinstance(dtype, str) and dtype == "compute":
        dtype = compute_dtype(stored_dtype(arrays))
    if dtype is not None:
        dtype = _float_dtype(dtype)
        arrays = {
            k: (a.astype(dtype, copy=False) if _is_float(a.dtype) else a) for k, a in arrays.items()
        }
    try:
        parts = [arrays.get(k) for k in (*REQUIRED_KEYS, *OPTIONAL_KEYS)]
        return Predictor(*(map(_adopt, parts) if adopt else parts))
    except IdlinError as e:
        raise FileFormatError(f"{source}: {e}" if source else str(e)) from e


def _adopt(array: np.ndarray | None) -> Any:
    """A float array this module read, handed to JAX without a copy where XLA can adopt the
    buffer (64-byte aligned, as `_aligned_bytes` makes them; on CPU). Only for buffers no caller
    can reach: a JAX array must never change under its user."""
    if array is None or array.dtype not in (np.float32, np.float64) or not array.flags.c_contiguous:
        return array
    import jax

    return jax.device_put(array)


def _check_names(key: str, names: Any, size: int, symbol: str) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str | bytes) or not isinstance(names, Sequence | np.ndarray):
        raise DTypeError(
            f"{key}: expected a sequence of {symbol} strings, got {type(names).__name__}"
        )
    names = tuple(names)
    bad = [type(n).__name__ for n in names if not isinstance(n, str)]
    if bad:
        raise DTypeError(f"{key}: expected strings, got {len(bad)} entries of type {bad[0]}")
    if len(names) != size:
        raise ShapeError(f"{key}: expected {symbol} = {size} names, got {len(names)}")
    return names


def save(
    path: str | os.PathLike,
    p: Predictor | NamedPredictor,
    *,
    tokens: Sequence[str] | None = None,
    contexts: Sequence[str] | None = None,
) -> None:
    """Write `p` as a predictor file; the suffix (`.safetensors` or `.npz`) picks the format.

    A bias folded into `p` is stored as part of `embeddings`/`unembeddings` (the predictor no
    longer knows it was a bias; `save_arrays` keeps a bias separate); `load(save(p))` reproduces
    `p` exactly, and `load_named` the names given here (or those of a `NamedPredictor` `p`).

    Args:
        path: the file to write.
        p: the predictor, or a `NamedPredictor` whose names are written unless overridden.
        tokens: V token names (`tokens[y]` names row y of `G`).
        contexts: N context names (`contexts[x]` names row x of `F`).

    Raises:
        FileFormatError: unknown suffix; in `.npz`, a name ending in NUL (fixed-width unicode
            arrays drop trailing NULs: use `.safetensors`).
        ShapeError: a name list whose length is not V or N.
        DTypeError: names that are not strings.

    Example:
        >>> import numpy as np, tempfile, os, idlin.core.io
        >>> p = idlin.Predictor(np.ones((2, 2)), np.eye(3, 2))
        >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
        >>> idlin.core.io.save(path, p, contexts=["the cat", "a dog"])
        >>> idlin.core.io.load_named(path).contexts
        ('the cat', 'a dog')
    """
    if isinstance(p, NamedPredictor):
        tokens = p.tokens if tokens is None else tokens
        contexts = p.contexts if contexts is None else contexts
        p = p.predictor
    if not isinstance(p, Predictor):
        from ._errors import ArgumentError

        raise ArgumentError(
            f"p: expected an idlin.Predictor (or io.NamedPredictor), got {type(p).__name__}; "
            "for raw arrays use idlin.core.io.save_arrays(path, F, G)"
        )
    save_arrays(path, p.embeddings, p.unembeddings, tokens=tokens, contexts=contexts)


def save_arrays(
    path: str | os.PathLike,
    embeddings: Any,
    unembeddings: Any,
    bias: Any = None,
    *,
    tokens: Sequence[str] | None = None,
    contexts: Sequence[str] | None = None,
) -> None:
    """Write `F` (N×d), `G` (V×d), an optional bias `b` (V,) and names as a predictor file, each
    array stored as given (dtype kept, the bias as its own key).

    The arrays are validated as `Predictor(F, G, b)` is (float32/float64, shapes, finite) before
    anything is written.

    Raises:
        FileFormatError, ShapeError, DTypeError: as `save`; NonFiniteError for NaN/Inf.

    Example:
        >>> import numpy as np, tempfile, os, idlin.core.io
        >>> path = os.path.join(tempfile.mkdtemp(), "p.safetensors")
        >>> idlin.core.io.save_arrays(path, np.ones((2, 2)), np.eye(3, 2), np.zeros(3))
        >>> sorted(idlin.core.io.read_arrays(path))
        ['bias', 'embeddings', 'unembeddings']
    """
    path = Path(path)
    kind = _format(path)
    p = Predictor(embeddings, unembeddings, bias)  # the one place array checks live
    names = {
        "tokens": _check_names("tokens", tokens, p.vocab_size, "V"),
        "contexts": _check_names("contexts", contexts, p.num_contexts, "N"),
    }
    names = {k: v for k, v in names.items() if v is not None}
    arrays = {"embeddings": embeddings, "unembeddings": unembeddings, "bias": bias}
    arrays = {k: np.ascontiguousarray(np.asarray(a)) for k, a in arrays.items() if a is not None}
    if kind == "npz":
        for key, found in names.items():
            trailing = [i for i, n in enumerate(found) if n.endswith("\x00")]
            if trailing:
                raise FileFormatError(
                    f"{path}: {key}: names ending in NUL cannot be stored in .npz (fixed-width "
                    f"unicode drops them), got {len(trailing)} such, first at {trailing[0]}; "
                    "save as .safetensors"
                )
            # `<U{n}` spelled out: little-endian on any machine, as wide as the longest name.
            width = max(1, max(map(len, found)))
            arrays[key] = np.array(found, dtype=f"<U{width}")
    from safetensors import SafetensorError

    try:
        # Atomic and never through a link (`atomic_write`); a handle, not a str: np.savez
        # would append ".npz" to a str.
        if kind == "npz":
            atomic_write(path, lambda fh: np.savez(fh, allow_pickle=False, **arrays), binary=True)
        else:
            from safetensors.numpy import save

            metadata = {k: json.dumps(list(v), ensure_ascii=False) for k, v in names.items()}
            blob = save(arrays, metadata=metadata or None)
            atomic_write(path, lambda fh: fh.write(blob), binary=True)
    except (OSError, SafetensorError) as e:  # missing directory, read-only or full disk
        raise FileFormatError(f"{path}: expected a writable file path, got {e}") from e
