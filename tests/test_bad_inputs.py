"""The core's bad-input catalogue: each raises its specific idlin error, naming expected vs got."""

import jax.numpy as jnp
import numpy as np
import pytest

import idlin

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
        "import jax, numpy as np, idlin.data\n"
        "assert not jax.config.jax_enable_x64\n"
        "t = idlin.data.morphology_truth()\n"
        "F = np.asarray(t.predictor.embeddings, np.float64)\n"
        "print(t.rank, t.predictor.dtype, t.num_contexts, len(t.lemmas))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    rank, dtype, n, m = proc.stdout.split()
    assert dtype == "float32" and int(rank) == int(m) + 2 < int(n)
    # The same number with x64 on (this process), and from a NumPy float64 reference.
    from idlin.data import morphology_truth

    t = morphology_truth()
    F, G = np.asarray(t.predictor.embeddings), np.asarray(t.predictor.unembeddings)
    assert t.rank == int(rank) == np.linalg.matrix_rank(F @ (G - G.mean(axis=0)).T)
