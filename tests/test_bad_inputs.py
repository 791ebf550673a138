"""The core's bad-input catalogue: each raises its specific idlin error, naming expected vs got."""

import jax.numpy as jnp
import numpy as np
import pytest

import idlin
import idlin.lab.train

ok_F, ok_G = np.ones((4, 3)), np.arange(15.0).reshape(5, 3)


@pytest.mark.parametrize(
    ("F", "G", "kwargs", "error", "match"),
    [
        (
            np.ones((4, 3)),
            np.ones((5, 2)),
            {},
            idlin.ShapeError,
            r"share the width d: got F \(4, 3\)",
        ),
        (np.ones(4), ok_G, {}, idlin.ShapeError, r"expected a 2-D array .* got shape \(4,\)"),
        (ok_F, np.ones(5), {}, idlin.ShapeError, "unembeddings: expected a 2-D array"),
        (np.ones((2, 4, 3)), ok_G, {}, idlin.ShapeError, "got shape"),
        (np.ones((0, 3)), ok_G, {}, idlin.ShapeError, "at least 1 context"),
        (ok_F, np.ones((1, 3)), {}, idlin.ShapeError, "at least 2 tokens, got shape"),
        (np.ones((4, 0)), np.ones((5, 0)), {}, idlin.ShapeError, "width d ≥ 1"),
        (
            np.full((4, 3), np.nan),
            ok_G,
            {},
            idlin.NonFiniteError,
            "embeddings: expected finite values, got 12",
        ),
        (ok_F, np.full((5, 3), np.inf), {}, idlin.NonFiniteError, "unembeddings: expected finite"),
        (
            np.ones((4, 3), np.int32),
            ok_G,
            {},
            idlin.DTypeError,
            "expected float32 or float64, got int32",
        ),
        (ok_F, jnp.ones((5, 3), jnp.bfloat16), {}, idlin.DTypeError, "got bfloat16"),
        (ok_F, np.ones((5, 3), np.float16), {}, idlin.DTypeError, "got float16"),
        (ok_F, np.ones((5, 3), bool), {}, idlin.DTypeError, "got bool"),
        (ok_F, ok_G, {"bias": np.ones(4)}, idlin.ShapeError, r"bias: expected shape \(5,\)"),
        (ok_F, ok_G, {"bias": np.ones((5, 1))}, idlin.ShapeError, "bias: expected a 1-D"),
        (
            ok_F,
            ok_G,
            {"bias": np.array([1, 2, 3, 4, np.nan])},
            idlin.NonFiniteError,
            "bias: expected finite values, got 1 NaN/Inf",  # the bias's, not "unembeddings"
        ),
        (ok_F, ok_G, {"bias": np.full(5, np.inf)}, idlin.NonFiniteError, "^bias: "),
        (ok_F.astype(complex), ok_G, {}, idlin.DTypeError, "embeddings: .* got complex128"),
        (ok_F, ok_G.astype(np.complex64), {}, idlin.DTypeError, "got complex64"),
        (ok_F.astype(str), ok_G, {}, idlin.DTypeError, "embeddings: .* got <U"),
        (ok_F, ok_G.astype("S8"), {}, idlin.DTypeError, "unembeddings: .* got |S8"),
        (ok_F.astype(object), ok_G, {}, idlin.DTypeError, "got object"),
        (ok_F, ok_G, {"bias": np.ones(5, complex)}, idlin.DTypeError, "bias: .* got complex"),
    ],
)
def test_bad_predictor_inputs(F, G, kwargs, error, match):
    with pytest.raises(error, match=match):
        idlin.Predictor(F, G, **kwargs)


def test_errors_share_one_base_and_builtin_kinds():
    for cls in (
        idlin.ShapeError,
        idlin.DTypeError,
        idlin.NonFiniteError,
        idlin.IncompatibleError,
        idlin.NotDiverseError,
        idlin.RankError,
        idlin.ProbeError,
        idlin.ConfigError,
        idlin.FileFormatError,
    ):
        assert issubclass(cls, idlin.IdlinError)
    assert issubclass(idlin.ShapeError, ValueError) and issubclass(idlin.DTypeError, TypeError)


def test_mismatched_predictors_are_refused_by_every_pairwise_routine():
    p = idlin.Predictor(ok_F, ok_G)
    other_N = idlin.Predictor(np.ones((6, 3)), ok_G)
    other_V = idlin.Predictor(ok_F, np.arange(18.0).reshape(6, 3))
    for fn in (
        idlin.distribution_gap,
        idlin.equivalent,
        idlin.recover_linear_map,
        idlin.recover_extended_map,
    ):
        with pytest.raises(idlin.IncompatibleError, match="got p with 4 and q with 6 contexts"):
            fn(p, other_N)
        with pytest.raises(idlin.IncompatibleError, match="got p with 5 and q with 6 tokens"):
            fn(p, other_V)


def test_non_predictor_arguments_are_refused():
    with pytest.raises(TypeError, match=r"expected an idlin\.Predictor, got ndarray"):
        idlin.subspaces(np.ones((3, 3)))


def test_zero_model_is_a_rank_error_where_coordinates_are_needed():
    zero = idlin.Predictor(np.zeros((4, 3)), np.zeros((5, 3)))
    assert idlin.subspaces(zero).effective_complexity == 0
    with pytest.raises(idlin.RankError, match="effective complexity is 0"):
        idlin.canonical(zero)
    with pytest.raises(idlin.NotDiverseError, match="rank F = 0"):
        idlin.recover_linear_map(zero, zero)


@pytest.mark.parametrize("rtol", [0.0, -1e-3, 1.0, 5.0])
def test_unusable_rank_thresholds(rtol):
    with pytest.raises(idlin.RankError, match="rtol: expected a relative threshold in"):
        idlin.subspaces(idlin.Predictor(ok_F, ok_G), rtol=rtol)


def test_bad_class_moves():
    import jax

    p = idlin.Predictor(np.random.default_rng(0).normal(size=(4, 3)), ok_G)
    with pytest.raises(idlin.ConfigError, match="moves: expected names from"):
        idlin.sample_equivalent(p, key=jax.random.key(0), moves=("rotate",))
    with pytest.raises(idlin.ConfigError, match=r"condition number ≥ 1, got 0\.5"):
        idlin.sample_equivalent(p, key=jax.random.key(0), condition=0.5)
    with pytest.raises(idlin.ConfigError, match="extra_width: expected ≥ 1, got 0"):
        idlin.sample_equivalent(p, key=jax.random.key(0), extra_width=0)
    with pytest.raises(idlin.ConfigError, match="condition number ≥ 1"):
        idlin.random_invertible(jax.random.key(0), 3, condition=0.1)


@pytest.mark.parametrize("order", [">", "<"])
@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_float_arrays_of_either_byte_order_are_accepted(order, dtype):
    """Big-endian float64 (`>f8`, e.g. from another platform) is the same numbers: converted to
    native order, never refused as "got >f8"."""
    F, G = ok_F + np.eye(4, 3), ok_G
    p = idlin.Predictor(F.astype(order + dtype), G.astype(order + dtype), bias=np.arange(5.0))
    assert p.dtype == np.dtype(dtype) and p.dtype.isnative
    ref = idlin.Predictor(F.astype(dtype), G.astype(dtype), bias=np.arange(5.0))
    np.testing.assert_array_equal(np.asarray(p.embeddings), np.asarray(ref.embeddings))
    np.testing.assert_array_equal(np.asarray(p.unembeddings), np.asarray(ref.unembeddings))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vector": np.array([1, 0, 1j])}, idlin.DTypeError, "vector: expected real .* complex"),
        ({"vector": np.array(["1", "0", "1"])}, idlin.DTypeError, "vector: expected real .* <U1"),
        ({"vector": np.array([1.0, np.nan, 0.0])}, idlin.NonFiniteError, "vector: expected finite"),
        ({"shift": np.ones(5, complex)}, idlin.DTypeError, "shift: expected real"),
        ({"shift": np.array([0, 1, 2, np.inf, 0])}, idlin.NonFiniteError, "shift: expected finite"),
        ({"shift": [0, 1, 2, 3, "4"]}, idlin.DTypeError, "shift: expected real"),
    ],
)
def test_steering_refuses_complex_strings_and_non_finite(kwargs, error, match):
    p = idlin.Predictor(ok_F + np.eye(4, 3), ok_G)
    with pytest.raises(error, match=match):
        idlin.steering(p, **kwargs)


def test_steering_accepts_integer_and_big_endian_vectors():
    p = idlin.Predictor(ok_F + np.eye(4, 3), ok_G)
    a = idlin.steering(p, np.array([1, 0, 2]))
    b = idlin.steering(p, np.array([1.0, 0.0, 2.0], ">f8"))
    assert a.score == b.score and a.holds == b.holds


def test_morphology_rank_does_not_depend_on_x64():
    """With x64 off the truth's predictor is float32; the planted rank is still that of the exact
    float64 C* (it used to be N: float32 log-odds against a float64 tolerance)."""
    import os
    import subprocess
    import sys

    code = (
        "import jax, numpy as np, idlin.lab.data\n"
        "assert not jax.config.jax_enable_x64\n"
        "t = idlin.lab.data.morphology_truth()\n"
        "F = np.asarray(t.predictor.embeddings, np.float64)\n"
        "print(t.rank, t.predictor.dtype, t.num_contexts, len(t.lemmas))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    rank, dtype, n, m = proc.stdout.split()
    assert dtype == "float32" and int(rank) == int(m) + 2 < int(n)
    # The same number with x64 on (this process), and from a NumPy float64 reference.
    from idlin.lab.data import morphology_truth

    t = morphology_truth()
    F, G = np.asarray(t.predictor.embeddings), np.asarray(t.predictor.unembeddings)
    assert t.rank == int(rank) == np.linalg.matrix_rank(F @ (G - G.mean(axis=0)).T)


# -- issue 25: the adversary's catalogue (API, files, study configs, CLI), each a specific error --

_P = idlin.Predictor(np.random.default_rng(0).normal(size=(4, 3)), ok_G)


def _npz_with_two_embeddings(d):
    import io as _io
    import warnings
    import zipfile

    f = d / "two.npz"
    with zipfile.ZipFile(f, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it writes
        for name, shape in (
            ("embeddings", (4, 3)),
            ("embeddings", (4, 3)),
            ("unembeddings", (5, 3)),
        ):
            b = _io.BytesIO()
            np.save(b, np.ones(shape))
            z.writestr(f"{name}.npy", b.getvalue())
    return idlin.core.io.load(f)


def _npz_bomb(d):
    import zipfile

    f = d / "bomb.npz"
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("embeddings.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array_header_1_0(
                m, {"descr": "<f8", "fortran_order": False, "shape": (40_000_000,)}
            )
            chunk = bytes(1 << 20)
            for _ in range(320):
                m.write(chunk)
    return idlin.core.io.load(f)


def _truncated_safetensors(d):
    idlin.core.io.save(d / "a.safetensors", _P)
    blob = (d / "a.safetensors").read_bytes()
    (d / "t.safetensors").write_bytes(blob[: len(blob) // 2])
    return idlin.core.io.load(d / "t.safetensors")


def _fifo(d):
    import os

    os.mkfifo(d / "f.npz")
    return idlin.core.io.load(d / "f.npz")


def _checkpoint_past_the_end(d):
    from idlin.lab.train._checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(d / "c.npz", {"w": np.zeros((2, 3))}, step=10**6, seeds=(0, 1))
    return load_checkpoint(d / "c.npz", last=299)


def _load_points(d, text):
    from idlin.lab.study._runner import load_points

    (d / "points").mkdir()
    (d / "points" / "abc.json").write_text(text)
    return load_points(d)


API_CASES = {
    "a ragged list for the embeddings": (
        lambda d: idlin.Predictor([[1.0, 2.0], [3.0]], ok_G), idlin.ShapeError,
        "expected a rectangular 2-D array of numbers, got a ragged list",
    ),
    "TrainConfig(widht=4)": (
        lambda d: idlin.lab.train.TrainConfig(widht=4), idlin.ConfigError,
        r"unknown keys \['widht'\] \(did you mean 'width'\?\)",
    ),
    "sample_equivalent condition=inf": (
        lambda d: idlin.sample_equivalent(_P, key=_key(), condition=float("inf")),
        idlin.ConfigError, "condition: expected a finite condition number",
    ),
    "sample_equivalent null_scale=nan": (
        lambda d: idlin.sample_equivalent(_P, key=_key(), null_scale=float("nan")),
        idlin.ConfigError, "null_scale: expected a finite scale",
    ),
    "sample_equivalent key=0": (
        lambda d: idlin.sample_equivalent(_P, key=0), idlin.ArgumentError, "key: expected a JAX",
    ),
    "sample_equivalent key=None": (
        lambda d: idlin.sample_equivalent(_P, key=None), idlin.ArgumentError, "got NoneType",
    ),
    "a tuple for a Predictor": (
        lambda d: idlin.subspaces((ok_F, ok_G)), idlin.ArgumentError, "got tuple",
    ),
    "distribution_gap block='x'": (
        lambda d: idlin.distribution_gap(_P, _P, block="x"), idlin.ArgumentError,
        "block: expected an integer, got 'x'",
    ),
    "io.save of an ndarray": (
        lambda d: idlin.core.io.save(d / "x.npz", np.ones((3, 3))), idlin.ArgumentError,
        "expected an idlin.Predictor .* got ndarray",
    ),
    "io.load dtype='banana'": (
        lambda d: (
            idlin.core.io.save(d / "ok.npz", _P),
            idlin.core.io.load(d / "ok.npz", dtype="banana"),
        ),
        idlin.DTypeError, "dtype: expected float32 or float64, got 'banana'",
    ),
    "npz with two embeddings.npy": (
        _npz_with_two_embeddings, idlin.FileFormatError, r"\['embeddings.npy'\] twice",
    ),
    "npz inflating 0.3 MB to 320 MB": (_npz_bomb, idlin.FileFormatError, "compression bomb"),
    "truncated safetensors": (_truncated_safetensors, idlin.FileFormatError, "truncated"),
    "a FIFO for a predictor file": (_fifo, idlin.FileFormatError, "got a FIFO"),
    "checkpoint claiming step 10⁶ of 300": (
        _checkpoint_past_the_end, idlin.FileFormatError, r"expected a step in \[0, 299\]",
    ),
    "truncated points/X.json": (
        lambda d: _load_points(d, '{"format": "idl'), idlin.FileFormatError,
        "expected a study point record",
    ),
    "points/X.json of another key": (
        lambda d: _load_points(
            d, '{"format": "idlin-study-point/1", "key": "zzz", "truth": {}, "models": [], '
            '"distribution": "x"}'
        ), idlin.FileFormatError, "expected the record of point 'abc', got key 'zzz'",
    ),
    "points/X.json without truth": (
        lambda d: _load_points(d, '{"format": "idlin-study-point/1", "key": "abc"}'),
        idlin.FileFormatError, "missing",
    ),
}  # fmt: skip


def _key():
    import jax

    return jax.random.key(0)


@pytest.mark.parametrize("case", list(API_CASES))
def test_adversary_catalogue_api(case, tmp_path):
    fn, error, match = API_CASES[case]
    with pytest.raises(error, match=match):
        fn(tmp_path)


_STUDY = {
    "study": {"seeds": 2, "architectures": ["bilinear"], "width_multiples": [1]},
    "train": {"bilinear": {"steps": 10, "learning_rate": 0.05}},
    "distributions": {"m": {"kind": "markov", "vocab_size": 4, "context_length": 2, "rank": 2}},
}


def _study(**over):
    import copy

    doc = copy.deepcopy(_STUDY)
    for path, value in over.items():
        *tables, key = path.split("__")
        t = doc
        for name in tables:
            t = t[name]
        t[key] = value
    return doc


STUDY_CASES = [
    (_study(train__bilinear__steps="x"), "steps: expected an integer, got 'x'"),
    (_study(train__bilinear__steps=-5), r"steps: expected an integer 1 ≤ n, got -5"),
    (_study(train__bilinear__learning_rate=-0.05), "learning_rate: expected a finite number > 0"),
    (_study(distributions__m__seed="x"), r"\[distributions.m\] seed: expected an integer"),
    (
        _study(distributions__m__seed=2**70),
        "seed: expected an integer 0 ≤ n ≤ 9223372036854775807, got 1180591620717411303424",
    ),
    (_study(size={"tiny": {"steps_scale": float("inf")}}), "steps_scale: expected a finite number"),
    (_study(train=3), r"\[train\]: expected a table, got 3"),
    (_study(size=3), r"\[size\]: expected a table, got 3"),
    (_study(study__seeds=-3), "expected a seed count ≥ 1 or a list of seeds, got -3"),
    (_study(study__architectures=["bilinear", "bilinear"]), "distinct names"),
    (_study(train__bilinear__widht=4), r"unknown keys \['widht'\]"),
]


@pytest.mark.parametrize(("doc", "match"), STUDY_CASES)
def test_adversary_catalogue_study_configs(doc, match):
    from idlin.lab.study import parse_config

    size = "tiny" if isinstance(doc.get("size"), dict) else "full"
    with pytest.raises(idlin.ConfigError, match=match):
        parse_config(doc, size)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["audit", "--seed", "-1", "--measure", "d_logit", "x.npz"], "--seed"),
        (["audit", "--seed", str(2**70), "--measure", "d_logit", "x.npz"], "--seed"),
        (["reproduce", "--seed", str(2**64)], r"expected a seed 0 ≤ seed ≤ 2\*\*63 - 1"),
        (["study", "cfg.toml", "--out", "o", "--quick", "--size", "gpu"], "--quick is --size tiny"),
    ],
)
def test_adversary_catalogue_cli(args, match, capsys, tmp_path, monkeypatch):
    import re

    from idlin.apps.cli import run

    monkeypatch.chdir(tmp_path)
    assert run(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("idlin: error:") and re.search(match, err[0])
