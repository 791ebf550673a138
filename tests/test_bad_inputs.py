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
            "unembeddings",
        ),
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
