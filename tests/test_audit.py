"""`idlin.audit` (docs/theory.md §9): the §9.1 gradients against central finite differences, the
verdicts of invariant and non-invariant measures, verified witnesses, widening, errors.

Float64, tiny models; every number the audit reports is recomputed here with NumPy."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import idlin
from idlin.properties.audit._catalogue import build, default_probes
from idlin.properties.audit._generators import GENERATORS, base_of
from idlin.properties.audit._local import tangent_gradients, widening_gradients
from idlin.testing import NotIdentifiable, assert_identifiable, planted_predictor, predictors

KEY = jax.random.key(0)
SMALL = {"budget": 30, "starts": 3}


def _model(kind: str) -> idlin.Predictor:
    """Non-diverse (d ≠ r), diverse, and a bias folded in (width d + 1)."""
    if kind == "nondiverse":
        return planted_predictor(
            1, shape=(9, 7, 5), embedding_rank=3, unembedding_rank=3, effective_complexity=2
        )
    if kind == "diverse":
        return planted_predictor(
            2, shape=(9, 7, 3), embedding_rank=3, unembedding_rank=3, effective_complexity=3
        )
    p = planted_predictor(
        3, shape=(9, 7, 4), embedding_rank=2, unembedding_rank=3, effective_complexity=2
    )
    b = np.random.default_rng(3).normal(size=7)
    return idlin.Predictor(p.embeddings, p.unembeddings, bias=b)


def _generic(F, G):
    """A measure with no symmetry and nonzero first derivative in every widened coordinate."""
    u, v = F[1] - F[0], F[3] - F[2]
    cos = u @ v / jnp.sqrt((u @ u) * (v @ v))
    return (
        jnp.sum(jnp.sin(F)) * 0.3
        + jnp.sum(jnp.sin(G)) * jnp.mean(F**2)
        + cos
        + jnp.sum(jnp.tanh(G) ** 2) * 0.1
    )


def _vec(m):
    return lambda F, G: jnp.stack([m(F, G)])


def _projector_np(X: np.ndarray, rank: int) -> np.ndarray:
    _, _, vt = np.linalg.svd(X)
    B = vt[:rank]
    return B.T @ B


def _expm_np(A: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eig(A)
    return np.real(V @ np.diag(np.exp(w)) @ np.linalg.inv(V))


def _central(f, h=1e-5):
    return (f(h) - f(-h)) / (2 * h)


@pytest.mark.parametrize("kind", ["nondiverse", "diverse", "bias"])
def test_generator_gradients_match_central_differences(kind):
    p = _model(kind)
    a = idlin.analyze(p)
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    N, d = F.shape
    V = G.shape[0]
    grads, _ = jax.jit(lambda b: tangent_gradients(_vec(_generic), b))(base_of(a))
    wgrads, _, _ = jax.jit(lambda F, G: widening_gradients(_vec(_generic), F, G, 1))(
        p.embeddings, p.unembeddings
    )
    jm = jax.jit(_generic)
    m = lambda F, G: float(jm(jnp.asarray(F), jnp.asarray(G)))  # noqa: E731
    rng = np.random.default_rng(0)
    Gh = G - G.mean(0)
    P_U = _projector_np(Gh, int(a.unembedding_rank))
    P_E = _projector_np(F, int(a.embedding_rank))
    I = np.eye(d)
    A = rng.normal(size=(d, d))
    c = rng.normal(size=d)
    H = rng.normal(size=(N, d)) @ (I - P_U)
    K = rng.normal(size=(V, d)) @ (I - P_E)
    ones = np.ones((V, 1))
    fd = {
        "basis": _central(lambda t: m(F @ _expm_np(t * A).T, G @ _expm_np(-t * A))),
        "shift": _central(lambda t: m(F, G + t * ones * c[None, :])),
        "invisible_embedding": _central(lambda t: m(F + t * H, G)),
        "invisible_unembedding": _central(lambda t: m(F, G + t * K)),
    }
    direction = {"basis": A, "shift": c, "invisible_embedding": H, "invisible_unembedding": K}
    for name, value in fd.items():
        formula = float(np.sum(np.asarray(grads[name][0]) * direction[name]))
        assert abs(formula - value) <= 1e-7 * max(1.0, abs(value)), (name, formula, value)
    # The invisible-part directions are true members: C is unchanged along them.
    assert np.abs((F + H) @ Gh.T - F @ Gh.T).max() < 1e-12
    assert np.abs(F @ ((G + K) - (G + K).mean(0)).T - F @ Gh.T).max() < 1e-12
    # Widening, at the zero-padded model.
    av, cv, kv = rng.normal(size=(N, 1)), rng.normal(size=1), rng.normal(size=(V, 1))
    zN, zV = np.zeros((N, 1)), np.zeros((V, 1))
    fd_we = _central(lambda t: m(np.hstack([F, t * av]), np.hstack([G, t * ones * cv])))
    gA, gc = (np.asarray(x[0]) for x in wgrads["widen_embedding"])
    assert abs(np.sum(gA * av) + np.sum(gc * cv) - fd_we) <= 1e-7 * max(1.0, abs(fd_we))
    fd_wu = _central(lambda t: m(np.hstack([F, zN]), np.hstack([G, t * kv])))
    (gK,) = (np.asarray(x[0]) for x in wgrads["widen_unembedding"])
    assert abs(np.sum(gK * kv) - fd_wu) <= 1e-7 * max(1.0, abs(fd_wu))
    assert abs(fd_we) > 1e-3 and abs(fd_wu) > 1e-3  # the check is not vacuous
    del zV


def test_c_norm_gradients_vanish_and_cosine_basis_does_not():
    """docs/theory.md §9.1 checks: ‖FĜᵀ‖² has zero gradient along every generator; the cosine
    of two embedding differences does not along basis changes."""
    p = _model("nondiverse")
    b = base_of(idlin.analyze(p))

    def c_norm2(F, G):
        return jnp.sum((F @ (G - G.mean(0, keepdims=True)).T) ** 2)

    grads, _ = tangent_gradients(_vec(c_norm2), b)
    wgrads, _, _ = widening_gradients(_vec(c_norm2), b.F, b.G, 1)
    scale = float(c_norm2(b.F, b.G))
    for g in [*grads.values(), *(x for parts in wgrads.values() for x in parts)]:
        assert float(jnp.max(jnp.abs(g))) <= 1e-12 * scale
    cos = build("raw_cosine", default_probes(p))
    grads, _ = tangent_gradients(_vec(cos), b)
    assert float(jnp.linalg.norm(grads["basis"])) > 1e-3


def _c(p):
    F, G = np.asarray(p.embeddings), np.asarray(p.unembeddings)
    return F @ (G - G.mean(0, keepdims=True)).T


INVARIANT = ("log_odds_norm", "d_logit", "identifiable_parallelism", "identifiable_margin")


def test_invariant_measures_audit_invariant_on_every_generator():
    """‖C‖_F, d_logit and identifiable scores, audited together as one pytree measure (one
    compilation per generator), each leaf on its own."""
    p = _model("nondiverse")
    pr = default_probes(p)
    ms = {name: build(name, pr) for name in INVARIANT}
    result = idlin.audit(lambda F, G: {k: m(F, G) for k, m in ms.items()}, p, key=KEY, **SMALL)
    assert set(result.generators) == set(GENERATORS)
    assert result.invariant, str(result)
    assert set(result.leaves) == {f"['{k}']" for k in INVARIANT}
    for records in result.leaves.values():
        for g in records.values():
            assert g.applicable and g.invariant and g.witness is None
            assert g.relative_change <= 1e-10
            assert g.derivative is None or g.derivative <= 1e-10


def test_raw_cosine_witnesses_are_equivalent_and_change_it():
    p = _model("nondiverse")
    pr = default_probes(p)
    (a0, b0), (a1, b1) = pr.pairs[:2]
    result = idlin.audit(build("raw_cosine", pr), p, key=KEY, **SMALL)

    def cos_np(F):
        u, v = F[b0] - F[a0], F[b1] - F[a1]
        return u @ v / np.sqrt((u @ u) * (v @ v))

    base = cos_np(np.asarray(p.embeddings))
    assert result.value == pytest.approx(base, rel=1e-12)
    expected = {
        "basis": False,
        "shift": True,
        "invisible_embedding": False,
        "invisible_unembedding": True,
        "widen_embedding": False,
        "widen_unembedding": True,
        "shrink": False,
    }
    assert result.verdicts() == {k: "✓" if v else "✗" for k, v in expected.items()}
    assert not result.invariant
    for name, invariant in expected.items():
        g = result.generators[name]
        if invariant:
            assert g.witness is None
            continue
        w = g.witness
        gap = np.linalg.norm(_c(w) - _c(p)) / np.linalg.norm(_c(p))  # dense NumPy, independent
        assert gap <= 1e-10 and g.witness_gap <= 1e-10
        change = abs(cos_np(np.asarray(w.embeddings)) - base)
        assert change == pytest.approx(g.max_change, rel=1e-9)
        assert change > 1e-3
    assert result.generators["widen_embedding"].witness.width == p.width + 1
    assert result.generators["shrink"].witness.width == 2
    text = str(result)
    assert "basis" in text and "✗" in text and "NOT INVARIANT" in text


def test_basis_invariant_measure_told_apart_from_invisible_parts():
    """m_CCA of embeddings: invariant under invertible affine maps (basis change, and the shift
    leaves F alone) but not under invisible embedding parts (docs/theory.md §9.5)."""
    p = _model("nondiverse")
    result = idlin.audit(
        build("mcca_embeddings", default_probes(p)),
        p,
        key=KEY,
        generators=("basis", "shift", "invisible_embedding"),
        **SMALL,
    )
    assert result.verdicts() == {"basis": "✓", "shift": "✓", "invisible_embedding": "✗"}
    w = result.generators["invisible_embedding"].witness
    assert np.linalg.norm(_c(w) - _c(p)) / np.linalg.norm(_c(p)) <= 1e-10


def test_widening_of_fixed_width_measures_is_not_applicable():
    p = _model("diverse")
    R = jnp.asarray(np.random.default_rng(0).normal(size=(p.width, p.width)))

    def fixed(F, G):  # a d×d constant ties the measure to width d
        return jnp.sum((F @ R) ** 2)

    result = idlin.audit(fixed, p, key=KEY, **SMALL)
    for g in ("widen_embedding", "widen_unembedding"):
        rec = result.generators[g]
        assert not rec.applicable and rec.verdict == "n/a" and rec.invariant is None
        assert "width" in rec.note
    assert result.generators["basis"].verdict == "✗"
    # Shrink of a diverse model keeps the width: applicable.
    assert result.generators["shrink"].applicable


def test_pytree_measures_are_audited_leaf_by_leaf():
    p = _model("nondiverse")
    cos = build("raw_cosine", default_probes(p))
    cnorm = build("log_odds_norm", default_probes(p))
    result = idlin.audit(
        lambda F, G: {"cos": cos(F, G), "norm": cnorm(F, G)},
        p,
        key=KEY,
        generators=("basis",),
        **SMALL,
    )
    assert set(result.leaves) == {"['cos']", "['norm']"}
    assert result.leaves["['cos']"]["basis"].verdict == "✗"
    assert result.leaves["['norm']"]["basis"].verdict == "✓"
    assert result.generators["basis"].leaf == "['cos']" and not result.invariant


def test_two_model_measure_closes_over_the_reference():
    p = _model("nondiverse")
    ref = _model("nondiverse")
    Fr, Gr = ref.embeddings * 1.5, ref.unembeddings

    def d_logit(F, G, F_ref, G_ref):
        C = F @ (G - G.mean(0, keepdims=True)).T
        C_ref = F_ref @ (G_ref - G_ref.mean(0, keepdims=True)).T
        return jnp.sum((C - C_ref) ** 2) / F.shape[0]

    result = idlin.audit(lambda F, G: d_logit(F, G, Fr, Gr), p, key=KEY, **SMALL)
    assert result.invariant
    expected = np.sum((_c(p) - 1.5 * _c(ref)) ** 2) / p.num_contexts
    assert result.value == pytest.approx(expected, rel=1e-12)


def test_bad_inputs_raise_specific_errors():
    p = _model("diverse")
    with pytest.raises(idlin.ArgumentError, match="callable"):
        idlin.audit(3.0, p, key=KEY)
    with pytest.raises(idlin.ArgumentError, match="Predictor"):
        idlin.audit(lambda F, G: jnp.sum(F), np.eye(3), key=KEY)
    with pytest.raises(idlin.ArgumentError, match="scalar"):
        idlin.audit(lambda F, G: F[0], p, key=KEY)
    with pytest.raises(idlin.ArgumentError, match="raised"):
        idlin.audit(lambda F, G: F @ np.ones(99), p, key=KEY)
    with pytest.raises(idlin.NonFiniteError, match="finite"):
        idlin.audit(lambda F, G: jnp.log(-jnp.sum(F**2)), p, key=KEY)
    with pytest.raises(idlin.ConfigError, match="generators"):
        idlin.audit(lambda F, G: jnp.sum(F), p, key=KEY, generators=("rotate",))
    with pytest.raises(idlin.ConfigError, match="budget"):
        idlin.audit(lambda F, G: jnp.sum(F), p, key=KEY, budget=0)
    with pytest.raises(idlin.ConfigError, match="tol"):
        idlin.audit(lambda F, G: jnp.sum(F), p, key=KEY, tol=float("nan"))


def test_import_idlin_does_not_import_optax():
    code = "import sys, idlin; assert 'optax' not in sys.modules, 'optax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _c_norm(F, G):
    return jnp.linalg.norm(F @ (G - G.mean(0, keepdims=True)).T)


def _raw_norm(F, G):
    return jnp.linalg.norm(F[0])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=predictors(shapes=((9, 7, 3),)))
def test_assert_identifiable_passes_for_a_function_of_c(p):
    assert_identifiable(_c_norm, p, generators=("basis", "shift", "shrink"), budget=10, starts=2)


def test_assert_identifiable_fails_inside_given_with_generator_and_witness():
    @settings(max_examples=3, deadline=None, database=None)
    @given(p=predictors(shapes=((9, 7, 3),)), seed=st.integers(0, 3))
    def user_test(p, seed):
        assert_identifiable(_raw_norm, p, generators=("basis",), budget=10, starts=2)

    with pytest.raises(NotIdentifiable) as info:
        user_test()
    err = info.value
    assert "'basis'" in str(err) and "equivalent member of width 3" in str(err)
    assert err.generator == "basis" and err.witness is not None
    F0 = np.asarray(err.audit.generators["basis"].witness.embeddings)[0]
    assert err.change > 0 and np.isfinite(F0).all()


@pytest.mark.parametrize("module", ["idlin.properties.audit._audit", "idlin.testing._audit"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_assert_identifiable_as_a_ready_strategy_driven_test():
    strategy = predictors(shapes=((9, 7, 3),), diverse=False)
    assert_identifiable(_c_norm, predictors=strategy, generators=("basis",), budget=5, starts=1,
                        max_examples=2)  # fmt: skip
    with pytest.raises(NotIdentifiable, match="'invisible_embedding'"):
        assert_identifiable(
            _raw_norm, predictors=strategy, generators=("invisible_embedding",), budget=5,
            starts=1, max_examples=2,
        )  # fmt: skip
    with pytest.raises(idlin.ArgumentError, match="exactly one"):
        assert_identifiable(_c_norm)


def test_float32_models_are_audited_at_float32_tolerances():
    p64 = _model("nondiverse")
    p = idlin.Predictor(
        np.asarray(p64.embeddings, np.float32), np.asarray(p64.unembeddings, np.float32)
    )
    pr = default_probes(p)
    gens = ("basis", "shift", "invisible_embedding")
    inv = idlin.audit(build("d_logit", pr), p, key=KEY, generators=gens, **SMALL)
    assert inv.invariant and inv.tol == pytest.approx(np.sqrt(np.finfo(np.float32).eps))
    cos = idlin.audit(build("raw_cosine", pr), p, key=KEY, generators=gens, **SMALL)
    assert cos.verdicts() == {"basis": "✗", "shift": "✓", "invisible_embedding": "✗"}
    assert cos.equivalence_tol == 1e-4
    assert cos.generators["basis"].witness_gap <= 1e-4
