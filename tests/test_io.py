"""idlin.core.io: predictor files round-trip exactly and every malformed file is refused by name."""

import json
import pickle
import struct

import numpy as np
import pytest

import idlin
from idlin.core import io

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


def test_save_into_a_missing_directory_is_a_file_format_error(tmp_path):
    for suffix in (".npz", ".safetensors"):
        with pytest.raises(idlin.FileFormatError, match="expected a writable file path"):
            io.save(tmp_path / "absent" / f"p{suffix}", idlin.Predictor(*_arrays()))


def test_save_arrays_keeps_the_bias_as_its_own_key_and_validates_first(tmp_path):
    F, G = _arrays(np.float32)
    b = RNG.normal(size=G.shape[0]).astype(np.float32)
    io.save_arrays(tmp_path / "b.safetensors", F, G, b, tokens=list("abcde"))
    arrays = io.read_arrays(tmp_path / "b.safetensors")
    np.testing.assert_array_equal(arrays["bias"], b)
    np.testing.assert_array_equal(arrays["embeddings"], F)
    with pytest.raises(idlin.NonFiniteError):
        io.save_arrays(tmp_path / "nan.npz", F, G, np.full_like(b, np.nan))
    assert not (tmp_path / "nan.npz").exists()


def test_save_refuses_unknown_suffix(tmp_path):
    with pytest.raises(idlin.FileFormatError, match=r"\.safetensors or \.npz"):
        io.save(tmp_path / "p.pt", idlin.Predictor(*_arrays()))


# -- names: tokens (V strings) and contexts (N strings), stored without pickle


NAMES = {
    "tokens": ["the", " the", "Ġcat", "", "naïve—日本"],
    "contexts": ["The weather today is the", "  leading spaces", "tab\there", "x", "", "y"],
}


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_names_round_trip_and_load_still_returns_a_plain_predictor(tmp_path, suffix):
    import jax

    F, G = _arrays()
    path = tmp_path / f"p{suffix}"
    io.save(path, idlin.Predictor(F, G), **NAMES)
    named = io.load_named(path)
    assert named.tokens == tuple(NAMES["tokens"])
    assert named.contexts == tuple(NAMES["contexts"])
    assert named.stored_dtype == np.float64
    np.testing.assert_array_equal(np.asarray(named.predictor.embeddings), F)
    q = io.load(path)  # existing callers: a Predictor, whose pytree leaves are the two arrays
    assert isinstance(q, idlin.Predictor)
    assert len(jax.tree_util.tree_leaves(q)) == 2
    total = jax.jit(lambda p: p.logits().sum())(q)
    np.testing.assert_allclose(float(total), (F @ G.T).sum(), rtol=1e-12)
    # A NamedPredictor saves with its names; the numeric arrays read alone are unaffected.
    io.save(tmp_path / f"again{suffix}", named)
    assert io.load_named(tmp_path / f"again{suffix}").tokens == named.tokens
    assert sorted(io.read_arrays(path)) == ["embeddings", "unembeddings"]


def test_npz_names_are_fixed_width_unicode_arrays_readable_without_pickle(tmp_path):
    F, G = _arrays()
    io.save(tmp_path / "p.npz", idlin.Predictor(F, G), **NAMES)
    with np.load(tmp_path / "p.npz", allow_pickle=False) as data:
        assert data["tokens"].dtype.kind == "U"
        assert data["tokens"].tolist() == NAMES["tokens"]
        assert data["contexts"].tolist() == NAMES["contexts"]
    # Written by NumPy alone (big-endian unicode too) and read back.
    np.savez(
        tmp_path / "q.npz", embeddings=F, unembeddings=G,
        tokens=np.array(NAMES["tokens"], dtype=">U12"),
    )  # fmt: skip
    assert io.load_named(tmp_path / "q.npz").tokens == tuple(NAMES["tokens"])


def test_safetensors_names_are_json_in_the_header_metadata(tmp_path):
    F, G = _arrays()
    path = tmp_path / "p.safetensors"
    io.save(path, idlin.Predictor(F, G), tokens=NAMES["tokens"])
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    metadata = json.loads(raw[8 : 8 + size])["__metadata__"]
    assert json.loads(metadata["tokens"]) == NAMES["tokens"]
    assert "contexts" not in metadata
    # A file written by hand with names (and unrelated metadata, e.g. torch's "format") loads.
    _write_safetensors_with_metadata(
        tmp_path / "h.safetensors", F, G,
        {"format": "pt", "contexts": json.dumps(NAMES["contexts"])},
    )  # fmt: skip
    named = io.load_named(tmp_path / "h.safetensors")
    assert named.contexts == tuple(NAMES["contexts"]) and named.tokens is None


def _write_safetensors_with_metadata(path, F, G, metadata):
    header = {"__metadata__": metadata}
    offset, blobs = 0, []
    for name, a in (("embeddings", F), ("unembeddings", G)):
        data = a.astype("<f8").tobytes()
        header[name] = {
            "dtype": "F64",
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def test_bad_names_in_files_are_refused(tmp_path):
    F, G = _arrays()  # N = 6, V = 5
    np.savez(tmp_path / "count.npz", embeddings=F, unembeddings=G, tokens=np.array(["a", "b"]))
    np.savez(tmp_path / "ints.npz", embeddings=F, unembeddings=G, contexts=np.arange(6))
    np.savez(tmp_path / "bytes.npz", embeddings=F, unembeddings=G, tokens=np.array([b"a"] * 5))
    _write_safetensors_with_metadata(tmp_path / "json.safetensors", F, G, {"tokens": "[oops"})
    _write_safetensors_with_metadata(tmp_path / "list.safetensors", F, G, {"tokens": "[1, 2]"})
    _write_safetensors_with_metadata(
        tmp_path / "n.safetensors", F, G, {"contexts": json.dumps(["a"] * 7)}
    )
    cases = {
        "count.npz": r"tokens: expected V = 5 names, got 2",
        "ints.npz": r"contexts: expected a 1-D unicode string array.*got dtype int64",
        "bytes.npz": r"unicode string array.*\|S1",
        "json.safetensors": "tokens.*invalid JSON",
        "list.safetensors": "tokens.*list of strings.*non-string",
        "n.safetensors": r"contexts: expected N = 6 names, got 7",
    }
    for name, pattern in cases.items():
        with pytest.raises(idlin.FileFormatError, match=pattern) as info:
            io.load_named(tmp_path / name)
        assert name in str(info.value)


def test_save_refuses_names_that_do_not_fit(tmp_path):
    p = idlin.Predictor(*_arrays())
    with pytest.raises(idlin.ShapeError, match=r"tokens: expected V = 5 names, got 3"):
        io.save(tmp_path / "p.npz", p, tokens=["a", "b", "c"])
    with pytest.raises(
        idlin.DTypeError, match=r"contexts: expected strings, got 6 entries of type int"
    ):
        io.save(tmp_path / "p.npz", p, contexts=list(range(6)))
    with pytest.raises(idlin.DTypeError, match="sequence of N strings, got str"):
        io.save(tmp_path / "p.npz", p, contexts="abcdef")
    with pytest.raises(idlin.FileFormatError, match=r"NUL.*safetensors"):
        io.save(tmp_path / "p.npz", p, tokens=["a", "b\x00", "c", "d", "e"])
    io.save(tmp_path / "p.safetensors", p, tokens=["a", "b\x00", "c", "d", "e"])
    assert io.load_named(tmp_path / "p.safetensors").tokens[1] == "b\x00"


# -- npz archives whose members lie, are cut short, or are big-endian


def _npz_with_member(path, key, header, data, *, others=None, prefix=b""):
    """A zip holding one hand-written .npy member (`prefix`, header dict, raw bytes) and
    `others` written by NumPy."""
    import io as pyio
    import zipfile

    buf = pyio.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{key}.npy", prefix + buf.getvalue() + data)
        for name, array in (others or {}).items():
            member = pyio.BytesIO()
            np.save(member, array)
            z.writestr(f"{name}.npy", member.getvalue())


def test_npz_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    F, G = _arrays()
    header = {"descr": "<f8", "fortran_order": False, "shape": (3_000_000, 3_333_333)}  # 72.8 TiB
    _npz_with_member(
        tmp_path / "huge.npz", "embeddings", header, F.tobytes(), others={"unembeddings": G}
    )
    with pytest.raises(
        idlin.FileFormatError,
        match=r"huge.npz.*'embeddings'.*declares shape \(3000000, 3333333\).*"
        r"79,999,992,000,000 bytes.*holds 144 bytes",
    ):
        io.load(tmp_path / "huge.npz")


def test_truncated_npz_is_reported_as_truncated_not_as_pickled(tmp_path):
    F, G = _arrays()
    # A member whose data stops short of its header's shape.
    header = {"descr": "<f8", "fortran_order": False, "shape": F.shape}
    _npz_with_member(
        tmp_path / "short.npz", "embeddings", header, F.tobytes()[:-8], others={"unembeddings": G}
    )
    # A whole archive cut in half.
    np.savez(tmp_path / "full.npz", embeddings=F, unembeddings=G)
    raw = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    for name in ("short.npz", "cut.npz"):
        with pytest.raises(idlin.FileFormatError, match="truncated or corrupt") as info:
            io.load(tmp_path / name)
        assert name in str(info.value) and "pickled" not in str(info.value)
    # A non-.npy member and a broken .npy magic are corrupt too, not crashes.
    _npz_with_member(
        tmp_path / "magic.npz", "embeddings", header, F.tobytes(), others={"unembeddings": G},
        prefix=b"\x93NUMPY\x01\x00",  # a second magic: the header length is garbage
    )  # fmt: skip
    with pytest.raises(
        idlin.FileFormatError,
        match=r"corrupt \.npz member 'embeddings': not a readable \.npy header",
    ):
        io.load(tmp_path / "magic.npz")
    np.savez(tmp_path / "notes.npz", embeddings=F, unembeddings=G)
    import zipfile

    with zipfile.ZipFile(tmp_path / "notes.npz", "a") as z:
        z.writestr("readme.txt", b"hi")
    with pytest.raises(idlin.FileFormatError, match=r"only \.npy arrays.*'readme\.txt'"):
        io.load(tmp_path / "notes.npz")


@pytest.mark.parametrize("compressed", [False, True])
def test_big_endian_and_fortran_arrays_are_converted_not_refused(tmp_path, compressed):
    F, G = _arrays()
    b = RNG.normal(size=G.shape[0])
    save = np.savez_compressed if compressed else np.savez
    save(
        tmp_path / "be.npz", embeddings=F.astype(">f8"), unembeddings=np.asfortranarray(G),
        bias=b.astype(">f4"),
    )  # fmt: skip
    arrays = io.read_arrays(tmp_path / "be.npz")
    assert all(a.dtype.isnative for a in arrays.values())
    assert io.stored_dtype(arrays) == np.float64
    p = io.load(tmp_path / "be.npz")
    np.testing.assert_array_equal(np.asarray(p.embeddings)[:, :-1], F)
    np.testing.assert_array_equal(np.asarray(p.unembeddings)[:, :-1], G)
    np.testing.assert_array_equal(np.asarray(p.unembeddings)[:, -1], b.astype(np.float32))


def test_safetensors_headers_that_lie_about_sizes_are_refused(tmp_path):
    F, G = _arrays()
    blob = F.tobytes() + G.tobytes()
    e, u = len(F.tobytes()), len(blob)
    huge = [3_000_000, 3_333_333]  # 72.8 TiB of float64
    g = ("F64", [5, 3], [e, u])
    cases = {
        "shape.safetensors": {"embeddings": ("F64", huge, [0, e]), "unembeddings": g},
        "offset.safetensors": {"embeddings": ("F64", [6, 3], [0, 10**12]), "unembeddings": g},
    }
    for name, tensors in cases.items():
        header = {
            k: {"dtype": t, "shape": shape, "data_offsets": offsets}
            for k, (t, shape, offsets) in tensors.items()
        }
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        (tmp_path / name).write_bytes(struct.pack("<Q", len(raw)) + raw + blob)
    (tmp_path / "header.safetensors").write_bytes(struct.pack("<Q", 10**15) + b"{}")
    for name in (*cases, "header.safetensors"):
        with pytest.raises(idlin.FileFormatError, match=r"unreadable \.safetensors") as info:
            io.load(tmp_path / name)
        assert name in str(info.value)


def test_a_directory_is_named_as_a_directory_whatever_its_suffix(tmp_path):
    for name in ("models", "model.npz", "model.safetensors"):
        (tmp_path / name).mkdir()
        with pytest.raises(idlin.FileFormatError, match="got a directory"):
            io.load(tmp_path / name)


# -- probe TSVs: by index or by name


def _tsv(tmp_path, text, name="p.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("0\t1\n2\t9223372036854775808\n", r"p.tsv:2: .*index 9223372036854775808 is out of range"),
        ("0\t1\n# c\n\n2\t-9223372036854775809\n", r"p.tsv:4: .*out of range"),
        ("0\t²\n", r"p.tsv:1: expected an integer item index \(ASCII digits\), got '²'"),
        ("١٢\t1\n", r"p.tsv:1: expected an integer item index \(ASCII digits\), got '١٢'"),
        ("0\t1\t2\n", r"p.tsv:1: expected two tab-separated items.*3 fields"),
        ("easy\teasiest\n", r"p.tsv:1: .*got 'easy' \(names need a predictor file"),
        ("# only comments\n\n", "expected at least one pair line, got none"),
    ],
)
def test_malformed_pairs_lines_name_the_file_and_line(tmp_path, text, pattern):
    with pytest.raises(idlin.FileFormatError, match=pattern):
        io.read_pairs(_tsv(tmp_path, text))


def test_probe_file_messages(tmp_path):
    (tmp_path / "d.tsv").mkdir()
    with pytest.raises(idlin.FileFormatError) as info:
        io.read_pairs(tmp_path / "d.tsv")
    assert str(info.value) == f"{tmp_path / 'd.tsv'}: expected a pairs file (TSV), got a directory"
    with pytest.raises(idlin.FileFormatError, match=r"expected a labels file.*no such file"):
        io.read_labels(tmp_path / "absent.tsv")


TOKENS = ["a", "easy", "easier", "easiest", "12", "dup", "dup", " hard", "hard", "7"]


def test_pairs_by_name_index_and_at_index(tmp_path):
    # Names first exactly (" hard" vs "hard"), indices by ASCII digits, @k always index k;
    # "12" cannot be an index of 10 tokens, so it is the name of token 4; "9" is only an index.
    text = "easy\teasiest\n1\t2\n@4\t@0\n12\t3\n hard\thard\n@9\t9\n"
    pairs = io.read_pairs(_tsv(tmp_path, text), names=TOKENS, what="token")
    assert pairs.dtype == np.int64
    assert pairs.tolist() == [[1, 3], [1, 2], [4, 0], [4, 3], [7, 8], [9, 9]]
    # Without a tab, fields split on whitespace (old index files keep working).
    assert io.read_pairs(_tsv(tmp_path, "3 4\n", "w.tsv")).tolist() == [[3, 4]]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("easy\teasyest\n", r"p.tsv:1: unknown token name 'easyest'; close names: 'easiest'"),
        ("dup\ta\n", r"p.tsv:1: token name 'dup' is ambiguous: 2 tokens carry it \(indices 5, 6\)"),
        ("a\t7\n", r"p.tsv:1: '7' is both token index 7 and the name of token 9: write @7 .* @9"),
        ("a\t@10\n", r"p.tsv:1: expected a token index in \[0, 10\), got 10"),
        ("a\t-1\n", r"p.tsv:1: expected a token index in \[0, 10\), got -1"),
    ],
)
def test_unknown_ambiguous_or_out_of_range_items(tmp_path, text, pattern):
    with pytest.raises(idlin.FileFormatError, match=pattern):
        io.read_pairs(_tsv(tmp_path, text), names=TOKENS, what="token")


def test_labels_by_name_and_index(tmp_path):
    contexts = ["the cat sat", "a dog", "  spaced  "]
    text = "the cat sat\ttrue\n1\t0\nspaced\t+1\n"
    idx, lab = io.read_labels(_tsv(tmp_path, text), names=contexts)
    assert idx.tolist() == [0, 1, 2] and lab.tolist() == [1, 0, 1]
    with pytest.raises(idlin.FileFormatError, match=r"p.tsv:1: expected a label.*'maybe'"):
        io.read_labels(_tsv(tmp_path, "a dog\tmaybe\n"), names=contexts)
    with pytest.raises(idlin.FileFormatError, match=r"p.tsv:1: unknown context name 'a cat'"):
        io.read_labels(_tsv(tmp_path, "a cat\t1\n"), names=contexts)


def test_names_from_a_saved_file_resolve_probe_items(tmp_path):
    F, G = _arrays()
    io.save(tmp_path / "m.safetensors", idlin.Predictor(F, G), **NAMES)
    named = io.load_named(tmp_path / "m.safetensors")
    pairs = io.read_pairs(_tsv(tmp_path, "Ġcat\tnaïve—日本\nthe\t the\n"), named.tokens)
    assert pairs.tolist() == [[2, 4], [0, 1]]


def test_uint64_index_beyond_int64_is_printed_as_itself():
    p = idlin.Predictor(*_arrays())
    bad = np.array([[0, 1], [2, 2**63]], dtype=np.uint64)
    with pytest.raises(idlin.ProbeError, match=r"out-of-range \[9223372036854775808\]"):
        idlin.properties.parallelism(p, bad)


def test_inspect_reads_probe_items_by_the_names_its_model_file_stores(tmp_path):
    """`idlin inspect` on a named file: probe files by name and by index give one report."""
    from typer.testing import CliRunner

    from idlin.apps.cli import app

    n, v = 12, 8
    F, G = _arrays(n=n, v=v, d=3)
    contexts = [f"context number {i}" for i in range(n)]
    tokens = [f"tok{i}" for i in range(v)]
    io.save(tmp_path / "m.npz", idlin.Predictor(F, G), tokens=tokens, contexts=contexts)
    pairs, token_pairs = [(0, 1), (2, 3), (4, 5), (6, 7)], [(0, 1), (2, 3), (4, 5)]
    labels = [(i, i % 2) for i in range(n)]
    for style, name in (("index", lambda names, i: str(i)), ("name", lambda names, i: names[i])):
        (tmp_path / style).mkdir()
        (tmp_path / style / "p.tsv").write_text(
            "".join(f"{name(contexts, a)}\t{name(contexts, b)}\n" for a, b in pairs)
        )
        (tmp_path / style / "t.tsv").write_text(
            "".join(f"{name(tokens, a)}\t{name(tokens, b)}\n" for a, b in token_pairs)
        )
        (tmp_path / style / "l.tsv").write_text(
            "".join(f"{name(contexts, i)}\t{y}\n" for i, y in labels)
        )
    reports = []
    for style in ("index", "name"):
        d = tmp_path / style
        result = CliRunner().invoke(
            app,
            ["inspect", str(tmp_path / "m.npz"), "--pairs", str(d / "p.tsv"),
             "--token-pairs", str(d / "t.tsv"), "--labels", str(d / "l.tsv"), "--json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout))
    assert len(reports[0]["properties"]) == 4
    assert reports[0] == reports[1]
    (tmp_path / "bad.tsv").write_text("tok1\ttok9\n")
    result = CliRunner().invoke(
        app, ["inspect", str(tmp_path / "m.npz"), "--token-pairs", str(tmp_path / "bad.tsv")]
    )
    assert result.exit_code == 2
    assert "bad.tsv:1: unknown token name 'tok9'; close names: 'tok" in result.stderr
