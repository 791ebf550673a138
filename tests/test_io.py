"""idlin.io: predictor files round-trip exactly and every malformed file is refused by name."""

import json
import pickle
import struct

import numpy as np
import pytest

import idlin
from idlin import io

RNG = np.random.default_rng(20251128)


def _arrays(dtype=np.float64, n=6, v=5, d=3):
    return RNG.normal(size=(n, d)).astype(dtype), RNG.normal(size=(v, d)).astype(dtype)


def _write_safetensors(path, tensors):
    """A hand-written safetensors file (header JSON + raw bytes), independent of the library."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, suffix, dtype):
    F, G = _arrays(dtype)
    path = tmp_path / f"p{suffix}"
    io.save(path, idlin.Predictor(F, G))
    q = io.load(path)
    assert q.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(q.embeddings), F)
    np.testing.assert_array_equal(np.asarray(q.unembeddings), G)


def test_npz_written_by_numpy_with_bias_folds_the_bias(tmp_path):
    F, G = _arrays()
    b = RNG.normal(size=G.shape[0])
    np.savez(tmp_path / "p.npz", embeddings=F, unembeddings=G, bias=b)
    p = io.load(tmp_path / "p.npz")
    assert p.width == F.shape[1] + 1
    # Independent reference: logits F Gᵀ + b, compared through log-probabilities.
    logits = F @ G.T + b[None, :]
    ref = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(np.asarray(p.log_probs()), ref, rtol=1e-12, atol=1e-12)


def test_safetensors_written_by_hand_is_read(tmp_path):
    F, G = _arrays(np.float32)
    _write_safetensors(
        tmp_path / "p.safetensors",
        {
            "embeddings": ("F32", list(F.shape), F.tobytes()),
            "unembeddings": ("F32", list(G.shape), G.tobytes()),
        },
    )
    p = io.load(tmp_path / "p.safetensors")
    np.testing.assert_array_equal(np.asarray(p.embeddings), F)
    np.testing.assert_array_equal(np.asarray(p.unembeddings), G)


def test_bfloat16_loads_only_with_a_cast(tmp_path):
    import ml_dtypes

    F = RNG.normal(size=(4, 2)).astype(ml_dtypes.bfloat16)
    G = RNG.normal(size=(3, 2)).astype(ml_dtypes.bfloat16)
    path = tmp_path / "p.safetensors"
    _write_safetensors(
        path,
        {
            "embeddings": ("BF16", [4, 2], F.tobytes()),
            "unembeddings": ("BF16", [3, 2], G.tobytes()),
        },
    )
    with pytest.raises(idlin.FileFormatError, match="bfloat16"):
        io.load(path)
    p = io.load(path, dtype=np.float64)
    np.testing.assert_array_equal(np.asarray(p.embeddings), F.astype(np.float64))
    assert io.stored_dtype(io.read_arrays(path)).name == "bfloat16"


def _bad_files(tmp_path):
    F, G = _arrays()
    cases = {}
    cases["missing.npz"] = "no such file"
    (tmp_path / "dir.npz").mkdir()
    cases["dir.npz"] = "directory"
    (tmp_path / "p.txt").write_text("x")
    cases["p.txt"] = "'.txt'"
    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"embeddings": F}))
    cases["p.pkl"] = "never loaded"
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps({"embeddings": F, "unembeddings": G}))
    cases["pickled.npz"] = "pickle stream"
    np.savez(tmp_path / "object.npz", embeddings=np.array([None, 1], dtype=object), unembeddings=G)
    cases["object.npz"] = "object"
    (tmp_path / "text.npz").write_text("not a zip")
    cases["text.npz"] = "zip"
    np.savez(tmp_path / "keys.npz", F=F, G=G)
    cases["keys.npz"] = r"missing \['embeddings', 'unembeddings'\]"
    np.savez(tmp_path / "extra.npz", embeddings=F, unembeddings=G, bias_=G[:, 0])
    cases["extra.npz"] = r"unknown \['bias_'\]"
    np.savez(tmp_path / "rank.npz", embeddings=F[:, 0], unembeddings=G)
    cases["rank.npz"] = r"2-D array.*got shape \(6,\)"
    np.savez(tmp_path / "width.npz", embeddings=F, unembeddings=G[:, :2])
    cases["width.npz"] = "share the width"
    np.savez(tmp_path / "bias.npz", embeddings=F, unembeddings=G, bias=np.ones(G.shape[0] + 1))
    cases["bias.npz"] = r"bias: expected shape \(5,\)"
    np.savez(tmp_path / "int.npz", embeddings=F.astype(np.int32), unembeddings=G)
    cases["int.npz"] = "float32 or float64, got int32"
    np.savez(tmp_path / "nan.npz", embeddings=np.full_like(F, np.nan), unembeddings=G)
    cases["nan.npz"] = "NaN"
    (tmp_path / "junk.safetensors").write_bytes(b"\x01\x00\x00\x00junk")
    cases["junk.safetensors"] = "unreadable .safetensors"
    return cases


def test_every_bad_file_raises_file_format_error_naming_it(tmp_path):
    for name, pattern in _bad_files(tmp_path).items():
        with pytest.raises(idlin.FileFormatError, match=pattern) as info:
            io.load(tmp_path / name)
        assert name in str(info.value), name


def test_save_refuses_unknown_suffix(tmp_path):
    with pytest.raises(idlin.FileFormatError, match=r"\.safetensors or \.npz"):
        io.save(tmp_path / "p.pt", idlin.Predictor(*_arrays()))
