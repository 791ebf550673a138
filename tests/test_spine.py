"""The spine (issue 12): one jitted decomposition, one precision policy, one comparison, an open
property protocol — checked against the float64 NumPy references in `tests/reference.py`."""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
from test_cli_helpers import run_idlin

import idlin
from idlin.core import _analysis
from idlin.properties import (
    Parallelism,
    Property,
    PropertyResult,
    coordinates,
    inclusion_of,
)


def _model(seed, N=30, V=20, d=6, r=3):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(N, r)) @ rng.normal(size=(r, d))
    return idlin.Predictor(F, rng.normal(size=(V, d)))


# -- analyze ----------------------------------------------------------------------------------


def test_analyze_matches_the_numpy_reference():
    p = _model(0)
    a = idlin.analyze(p)
    C = ref.log_odds(p.embeddings, p.unembeddings)
    Gh = ref.centered(p.unembeddings)
    np.testing.assert_allclose(
        a.embedding_singular_values, np.linalg.svd(ref.f64(p.embeddings), compute_uv=False),
        rtol=1e-10, atol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(
        a.unembedding_singular_values, np.linalg.svd(Gh, compute_uv=False), rtol=1e-10
    )
    np.testing.assert_allclose(
        a.log_odds_singular_values[:3], np.linalg.svd(C, compute_uv=False)[:3], rtol=1e-10
    )
    r = int(a.effective_complexity)
    assert (int(a.embedding_rank), int(a.unembedding_rank), r) == (3, 6, 3)
    # U_C Σ Wᵀ reproduces C at rank r.
    U, s, W = (
        np.asarray(x) for x in (a.log_odds_left, a.log_odds_singular_values, a.log_odds_right)
    )
    np.testing.assert_allclose((U[:, :r] * s[:r]) @ W[:, :r].T, C, atol=1e-10)


def test_jit_and_vmap_of_analyze_equal_the_per_seed_loop():
    models = [_model(s) for s in range(4)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *models)
    batched = jax.vmap(idlin.analyze)(stacked)
    jitted = jax.jit(idlin.analyze)(models[1])
    for k, p in enumerate(models):
        a = idlin.analyze(p)
        assert int(batched.effective_complexity[k]) == int(a.effective_complexity) == 3
        np.testing.assert_allclose(
            batched.log_odds_singular_values[k], a.log_odds_singular_values, rtol=1e-12, atol=1e-13
        )
    np.testing.assert_allclose(
        jitted.log_odds_singular_values, idlin.analyze(models[1]).log_odds_singular_values,
        rtol=1e-12, atol=1e-13,
    )  # fmt: skip


def test_float32_W_is_kept_factored_and_formed_alike_per_model_jitted_and_vmapped():
    """On the Gram route (float32, x64 on) the Analysis keeps W = Ĝ B as its d×m factor, not a
    V×m array; W formed on access is the float64 SVD's right factor of C, and the same from one
    model, from `jit` and from `vmap` over a stack (issue 23: memory at V = 262144)."""
    rng = np.random.default_rng(3)
    shapes = [((30, 6), (50, 6))] * 3
    models = [
        idlin.Predictor(
            rng.normal(size=f).astype(np.float32), (rng.normal(size=g) + 4.0).astype(np.float32)
        )
        for f, g in shapes
    ]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *models)
    batched = jax.vmap(idlin.analyze)(stacked)
    assert batched.stored_log_odds_right is None
    assert batched.log_odds_right_factor.shape == (3, 6, 6)
    for k, p in enumerate(models):
        a = idlin.analyze(p)
        assert a.stored_log_odds_right is None
        F, G = (np.asarray(x, np.float64) for x in (p.embeddings, p.unembeddings))
        _, _, Wt = np.linalg.svd(F @ (G - G.mean(axis=0)).T, full_matrices=False)
        W = np.asarray(a.log_odds_right, np.float64)
        np.testing.assert_allclose(np.abs(W), np.abs(Wt[:6].T), atol=1e-5)
        np.testing.assert_allclose(batched.log_odds_right[k], a.log_odds_right, atol=1e-6)
        np.testing.assert_allclose(jax.jit(idlin.analyze)(p).log_odds_right, W, atol=1e-6)


_VMAP_SCRIPT = """
import sys
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
import idlin
route, K, N, V, d = sys.argv[1], *map(int, sys.argv[2:])
dtype = np.float32 if route == "gram" else np.float64
rng = np.random.default_rng(0)
F = jnp.asarray(rng.normal(size=(K, N, d)).astype(dtype))
G = jnp.asarray(rng.normal(size=(K, V, d)).astype(dtype))
stacked = idlin.Predictor.tree_unflatten(None, (F, G))
kl = jnp.asarray(np.geomspace(1e-8, 1e-3, K))
policy = lambda k: idlin.Precision(decomposition=route, mean_kl=k)
a = jax.jit(jax.vmap(lambda p, k: idlin.analyze(p, precision=policy(k))))(stacked, kl)
one = idlin.analyze(idlin.Predictor(np.asarray(F[3]), np.asarray(G[3])), precision=policy(kl[3]))
np.testing.assert_allclose(a.log_odds_singular_values[3], one.log_odds_singular_values, rtol=1e-5)
print("ranks", np.asarray(a.effective_complexity).tolist())
"""


@pytest.mark.parametrize(
    "route, sizes", [("gram", (8, 2048, 4096, 64)), ("svd", (8, 1024, 2048, 64))]
)
def test_vmapped_analysis_completes_on_a_small_thread_pool(route, sizes):
    # jaxlib 0.10's batched CPU LAPACK kernels block an intra-op pool thread while their batch
    # runs on the same pool: two such calls at once deadlocked `jit(vmap(analyze))` at these
    # sizes on a 2-thread pool (NPROC=2 pins it) — two eighs on the Gram route, two SVDs on the
    # Householder route. Each route now makes one LAPACK call at a time (`idlin.core._serial`).
    env = dict(os.environ, NPROC="2", JAX_PLATFORMS="cpu")
    argv = [sys.executable, "-c", _VMAP_SCRIPT, route, *map(str, sizes)]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "ranks " + str([sizes[-1]] * sizes[0])


def test_public_numerical_functions_jit_to_the_eager_numbers():
    p = _model(1)
    q = idlin.sample_equivalent(p, key=jax.random.key(0), moves=("basis", "shift"))
    eager, traced = idlin.distribution_gap(p, q), jax.jit(idlin.distribution_gap)(p, q)
    # Arrays in, arrays out: the same pytree of JAX arrays eagerly and under jit.
    assert isinstance(eager.relative, jax.Array) and isinstance(traced.relative, jax.Array)
    np.testing.assert_allclose(float(traced.frobenius), eager.frobenius, rtol=1e-9, atol=1e-12)
    assert bool(jax.jit(idlin.equivalent)(p, q)) and bool(idlin.equivalent(p, q)) is True
    s = jax.jit(idlin.subspaces)(p)
    assert int(s.effective_complexity) == idlin.subspaces(p).effective_complexity == 3
    # Under jit the bases keep their full width, masked past the rank: the projector is the same.
    np.testing.assert_allclose(
        np.asarray(s.embedding_basis) @ np.asarray(s.embedding_basis).T,
        idlin.subspaces(p).projector("embedding"), atol=1e-12,
    )  # fmt: skip
    c = jax.jit(idlin.canonical)(p)
    np.testing.assert_allclose(
        np.asarray(c.phi) @ np.asarray(c.gamma).T, ref.log_odds(p.embeddings, p.unembeddings),
        atol=1e-10,
    )  # fmt: skip
    m = jax.jit(idlin.recover_linear_map)(p.astype("float64"), q)
    assert float(m.embedding_residual) < 1e-8 or not idlin.subspaces(p).diverse


def test_core_results_are_pytrees_of_jax_arrays_eagerly_as_under_jit():
    """Arrays in, arrays out: every array leaf of the core's results is a JAX array when computed
    eagerly (no Python float, no NumPy array), with the dtype and shape it has under `jax.jit`;
    and ranks from different results share one integer dtype (they compare under strict
    promotion)."""
    p = _model(4, d=3, r=3)
    q = idlin.sample_equivalent(p, key=jax.random.key(1), moves=("basis", "shift"))
    calls = {
        "analyze": lambda p, q: idlin.analyze(p),
        "subspaces": lambda p, q: idlin.subspaces(p),
        "distribution_gap": idlin.distribution_gap,
        "equivalent": idlin.equivalent,
        "recover_linear_map": idlin.recover_linear_map,
        "recover_extended_map": idlin.recover_extended_map,
    }
    for name, fn in calls.items():
        eager, traced = fn(p, q), jax.jit(fn)(p, q)
        leaves = jax.tree_util.tree_leaves(eager)
        assert leaves and all(isinstance(x, jax.Array) for x in leaves), name
        spec = jax.tree_util.tree_map(lambda x: (x.shape, x.dtype), traced)
        assert jax.tree_util.tree_map(lambda x: (x.shape, x.dtype), eager) == spec, name
    em, s = idlin.recover_extended_map(p, q), idlin.subspaces(p)
    assert em.rank.dtype == s.effective_complexity.dtype == idlin.analyze(p).embedding_rank.dtype
    assert bool(em.rank == s.effective_complexity) and int(em.rank) == 3


def test_an_analysis_is_never_decomposed_again(monkeypatch):
    """all_or_none on given members decomposes p once and each member once (before: ~35 SVD
    kernels for members=6); counterexample and the properties reuse the Analysis they get."""
    p = _model(2)
    members = [idlin.sample_equivalent(p, key=jax.random.key(i)) for i in range(3)]
    calls = []
    original = _analysis._decompose
    monkeypatch.setattr(_analysis, "_decompose", lambda *a: calls.append(1) or original(*a))
    a = idlin.analyze(p)
    assert len(calls) == 1
    prop = Parallelism([[0, 1], [2, 3]])
    idlin.parallelism(a, [[0, 1], [2, 3]], form="identifiable")
    idlin.subspaces(a), idlin.canonical(a), idlin.minimal(a)
    assert len(calls) == 1
    idlin.all_or_none(a, prop, key=jax.random.key(0), members=members)
    assert len(calls) == 1 + 1 + len(members)  # + the minimal model, + each member


# -- the precision policy ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_C_made_of_rounding_noise_has_rank_zero(dtype):
    """Every context predicts the uniform distribution: C = 0 up to rounding. Before, r = 1 and
    'identifiable parallelism holds' — a claim built on noise."""
    rng = np.random.default_rng(0)
    G = np.tile(rng.normal(size=(1, 3)) * 100, (9, 1))  # all tokens alike: uniform p(·|x)
    p = idlin.Predictor(rng.normal(size=(12, 3)).astype(dtype), G.astype(dtype))
    assert np.abs(ref.log_odds(p.embeddings, p.unembeddings)).max() < 1e-3
    s = idlin.subspaces(p)
    assert s.effective_complexity == 0 and s.unembedding_rank == 0
    with pytest.raises(idlin.RankError, match="effective complexity is 0"):
        idlin.parallelism(p, [[0, 1], [2, 3]], form="identifiable")


def test_float64_model_and_its_float32_copy_are_equivalent_at_the_coarser_precision():
    p = _model(3)
    assert bool(idlin.equivalent(p, p.astype("float32"))) is True
    assert idlin.compare(p, p.astype("float32")).tolerance == 1e-4
    rng = np.random.default_rng(0)
    near = idlin.Predictor(np.asarray(p.embeddings) * (1 + 1e-6 * rng.normal(size=(30, 6))),
                           p.unembeddings)  # fmt: skip
    assert bool(idlin.equivalent(p, near)) is False  # float64 pair: 1e-8


@pytest.mark.parametrize(
    "kwargs",
    [{"rank_rtol": float("nan")}, {"rank_atol": -1.0}, {"mean_kl": float("inf")},
     {"equivalence_rtol": float("nan")}, {"verdict_tol": 2.0}, {"rank_rtol": 1.0}],
)  # fmt: skip
def test_precision_refuses_unusable_tolerances(kwargs):
    with pytest.raises(idlin.IdlinError, match=next(iter(kwargs))):
        idlin.Precision(**kwargs)


def test_bad_tolerances_and_arguments_are_idlin_errors():
    p = _model(4)
    with pytest.raises(idlin.ConfigError, match="rtol"):
        idlin.equivalent(p, p, rtol=float("nan"))
    with pytest.raises(idlin.ArgumentError, match="expected a real number"):
        idlin.Precision(rank_rtol="1e-3")
    with pytest.raises(idlin.ArgumentError, match=r"precision: expected an idlin\.Precision"):
        idlin.analyze(p, precision=1e-3)
    with pytest.raises(idlin.RankError, match="rank: expected an integer"):
        idlin.canonical(p, rank=2.7)
    with pytest.raises(idlin.DTypeError, match="expected real numbers"):
        idlin.steering(p, np.ones(6) * 1j)
    with pytest.raises(idlin.NonFiniteError, match="vector"):
        idlin.steering(p, np.array([np.nan, 0, 0, 0, 0, 1.0]))
    with pytest.raises(idlin.NonFiniteError, match="shift"):
        idlin.steering(p, shift=np.full(20, np.inf))
    with pytest.raises(idlin.ProbeError, match=str(2**63)):
        idlin.parallelism(p, np.array([[0, 1], [2, 2**63]], dtype=np.uint64))


def test_kl_tied_rank_is_the_precision_policy():
    truth = _model(5, N=40, V=30, d=6, r=3)
    rng = np.random.default_rng(1)
    noisy = idlin.Predictor(
        np.asarray(truth.embeddings) + 1e-4 * rng.normal(size=(40, 6)),
        np.asarray(truth.unembeddings) + 1e-4 * rng.normal(size=(30, 6)),
    )
    kl = idlin.distribution_gap(truth, noisy).mean_kl
    assert idlin.subspaces(noisy).effective_complexity == 6
    a = idlin.analyze(noisy, precision=idlin.Precision(mean_kl=kl))
    assert int(a.effective_complexity) == 3
    np.testing.assert_allclose(
        float(a.log_odds_threshold), 2 * np.sqrt(2 * kl) * (np.sqrt(40) + np.sqrt(30))
    )
    assert idlin.compare(truth, noisy).fit_rank == 3


# -- compare / evaluate -----------------------------------------------------------------------


def test_compare_reports_three_levels_against_the_reference():
    p = _model(6)
    q = idlin.sample_equivalent(p, key=jax.random.key(1))
    c = idlin.compare(p, q)
    assert c.verdict == "equivalent" and c.canonical_r2 > 1 - 1e-9
    rng = np.random.default_rng(2)
    near = idlin.Predictor(np.asarray(p.embeddings) + 1e-3 * rng.normal(size=(30, 6)),
                           p.unembeddings)  # fmt: skip
    c = idlin.compare(p, near)
    fro, rel, _, kl = ref.gap(p, near)
    assert c.verdict == "near-equivalent" and c.smallest_tolerance == pytest.approx(rel, rel=1e-8)
    assert c.d_logit == pytest.approx(fro**2 / 30, rel=1e-8) and c.kl_pq == pytest.approx(kl)
    assert c.kl_qp == pytest.approx(ref.gap(near, p)[3], rel=1e-6)
    far = idlin.compare(p, _model(7))
    assert far.verdict == "not equivalent" and far.gap.relative > 0.1


def test_evaluate_compares_with_the_truth_and_within_groups():
    truth = _model(8)
    models = [idlin.sample_equivalent(truth, key=jax.random.key(i)) for i in range(3)]
    ev = idlin.evaluate(models, truth, groups=["a", "a", "b"])
    assert [c.verdict for c in ev.to_truth] == ["equivalent"] * 3
    assert [ij for ij, _ in ev.between] == [(0, 1)]
    with pytest.raises(idlin.ConfigError, match="groups"):
        idlin.evaluate(models, truth, groups=["a"])


def test_evaluate_ordered_pairs_and_the_analyses_it_keeps():
    """`ordered=True` compares both ways (R² is not symmetric); `analyses` are each model's own
    `analyze`, the ones every comparison used."""
    truth = _model(8)
    rng = np.random.default_rng(4)
    models = [
        idlin.Predictor(np.asarray(truth.embeddings) + s * rng.normal(size=truth.embeddings.shape),
                        truth.unembeddings)
        for s in (1e-3, 3e-2, 1e-1)
    ]  # fmt: skip
    ev = idlin.evaluate(models, truth, ordered=True, groups=["a", "a", "b"])
    assert [ij for ij, _ in ev.between] == [(0, 1), (1, 0)]
    for (i, j), c in ev.between:
        direct = idlin.compare(models[i], models[j], reference_rank=ev.to_truth[0].reference_rank)
        assert c.canonical_r2 == direct.canonical_r2 and c.kl_pq == direct.kl_pq
    assert ev.between[0][1].kl_pq != ev.between[1][1].kl_pq  # KL(p‖q) ≠ KL(q‖p): two directions
    for m, a in zip(models, ev.analyses, strict=True):
        np.testing.assert_array_equal(
            a.log_odds_singular_values, idlin.analyze(m).log_odds_singular_values
        )
    assert int(ev.truth.effective_complexity) == ev.to_truth[0].reference_rank


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cli_and_library_give_the_same_numbers(tmp_path, dtype):
    """One policy: `idlin verify`/`inspect` on a file and the library on the loaded model agree on
    r, the gap verdict and the map residuals (float32 files keep float32 tolerances)."""
    p, q = _model(9), idlin.sample_equivalent(_model(9), key=jax.random.key(3))
    for name, m in (("p.npz", p), ("q.npz", q)):
        np.savez(tmp_path / name, embeddings=np.asarray(m.embeddings, dtype),
                 unembeddings=np.asarray(m.unembeddings, dtype))  # fmt: skip
    run = run_idlin
    out = json.loads(run("verify", tmp_path / "p.npz", tmp_path / "q.npz", "--json").stdout)
    # the CLI computes a file in `io.compute_dtype` of its stored precision (float32 stays
    # float32, float64 arithmetic on the Gram route): the library on the same arrays
    lp = idlin.core.io.load(tmp_path / "p.npz", dtype="compute")
    lq = idlin.core.io.load(tmp_path / "q.npz", dtype="compute")
    policy = idlin.Precision(stored=dtype)
    c = idlin.compare(idlin.analyze(lp, precision=policy), idlin.analyze(lq, precision=policy))
    assert out["a"]["effective_complexity"] == c.p.effective_complexity == 3
    assert out["b"]["effective_complexity"] == c.q.effective_complexity
    assert out["equivalent"] is c.equivalent is True and out["rtol"] == c.tolerance
    assert out["map"]["embedding_residual"] == pytest.approx(c.map.embedding_residual, abs=1e-12)
    ins = json.loads(run("inspect", tmp_path / "p.npz", "--json").stdout)
    assert (
        ins["model"]["effective_complexity"]
        == idlin.subspaces(lp, precision=policy).effective_complexity
    )


# -- the open property protocol ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Orthogonal(Property):
    """|cos| of two differences ≤ tol: a user's property, raw or identifiable."""

    pair_a: tuple
    pair_b: tuple
    tol: float = 1e-6
    name = "orthogonality"

    def evaluate(self, a, *, form):
        c = coordinates(a, "embedding", form)
        d = np.stack([c.points[b] - c.points[a_] for a_, b in (self.pair_a, self.pair_b)])
        cos = abs(d[0] @ d[1]) / np.prod(np.linalg.norm(d, axis=1))
        raw = np.stack([c.raw_points[b] - c.raw_points[a_] for a_, b in (self.pair_a, self.pair_b)])
        resid = np.linalg.norm(raw - raw @ c.inclusion_projector) / np.linalg.norm(raw)
        return PropertyResult(self.name, form, "embedding", bool(cos <= self.tol), float(cos),
                              self.tol, inclusion_of(float(resid), self.tol))  # fmt: skip


def test_a_user_property_goes_through_all_or_none_and_counterexample():
    rng = np.random.default_rng(0)
    F = np.array([[0.0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0], [1, 1, 1]])
    p = idlin.Predictor(F, rng.normal(size=(7, 3)))
    prop = Orthogonal((0, 1), (2, 3))
    res = idlin.all_or_none(p, prop, key=jax.random.key(0), members=4)
    assert res.property == "orthogonality"
    # docs/theory.md §7.1: the identifiable score is the same on every member (isometric coords).
    assert res.identifiable_agrees and res.identifiable_score_spread < 1e-8
    # Orthogonality is not preserved by invertible linear maps, so unlike the linear properties
    # of §6 it is not all-or-none even under inclusion: a basis change breaks it in raw form.
    assert res.raw[0] is True and res.raw_pattern == "split" and res.included_pattern == "split"
    # The raw verdict differs from the identifiable one on p, so the default candidate (the
    # minimal model, where raw = identifiable) flips it — or the reason says why not.
    ce = idlin.counterexample(p, prop)
    assert ce.raw_on_p is True
    if ce.member is not None:
        assert ce.raw_on_member is False and idlin.equivalent(p, ce.member)


def test_something_that_is_not_a_property_is_refused():
    with pytest.raises(idlin.ConfigError, match="evaluate"):
        idlin.all_or_none(_model(0), object(), key=jax.random.key(0))


# -- imports ----------------------------------------------------------------------------------


def test_import_idlin_pulls_in_no_heavy_dependency():
    code = (
        "import sys, idlin; heavy = {'scipy', 'flax', 'optax', 'orbax', 'typer', 'matplotlib'};"
        "print(sorted(m for m in heavy if m in sys.modules or any(k.startswith(m + '.') "
        "for k in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_keys_must_be_prng_keys():
    p = _model(0)
    with pytest.raises(idlin.ArgumentError, match=r"expected a JAX PRNG key such as jax\.random"):
        idlin.all_or_none(p, Parallelism([[0, 1], [2, 3]]), key=0)
    with pytest.raises(idlin.ArgumentError, match="PRNG key"):
        idlin.counterexample(p, Parallelism([[0, 1], [2, 3]]), key=np.random.default_rng(0))
    # legacy uint32[2] keys are accepted
    idlin.counterexample(p, Parallelism([[0, 1], [2, 3]]), key=jax.random.PRNGKey(0))


def test_inspect_tolerance_option_reaches_the_verdicts(tmp_path):
    F = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [2.0, 3.05]])  # nearly parallel
    G = np.random.default_rng(0).normal(size=(5, 2))
    np.savez(tmp_path / "m.npz", embeddings=F, unembeddings=G)
    (tmp_path / "pairs.tsv").write_text("0\t1\n2\t3\n")
    args = ("inspect", tmp_path / "m.npz", "--pairs", tmp_path / "pairs.tsv", "--json")
    strict = json.loads(run_idlin(*args).stdout)
    loose = json.loads(run_idlin(*args, "--tol", "0.05").stdout)
    par = lambda doc: next(p for p in doc["properties"] if p["name"] == "parallelism")  # noqa: E731
    assert par(strict)["raw"]["holds"] is False and par(loose)["raw"]["holds"] is True
    assert loose["tol"] == 0.05
    assert par(loose)["raw"]["score"] == pytest.approx(
        idlin.parallelism(idlin.Predictor(F, G), [[0, 1], [2, 3]]).score
    )
    bad = run_idlin(*args, "--tol", "nan")
    assert bad.returncode == 2 and "idlin: error:" in bad.stderr


@pytest.mark.parametrize("kappa", [1.0, 1e2, 1e4])
@pytest.mark.parametrize("rank", [3, 8])
def test_the_gram_route_agrees_with_float64_references_and_never_changes_a_rank(kappa, rank):
    """docs/theory.md §3.2: float32 data, float64-accumulated Grams. Singular values above the
    rank threshold match a float64 reference to 1e-6 relative; ranks equal the SVD route's, on
    ill-conditioned and rank-deficient inputs."""
    rng = np.random.default_rng(int(kappa) + rank)
    N, V, d = 60, 90, 8
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    F = (rng.normal(size=(N, rank)) * np.logspace(0, -np.log10(kappa), rank)) @ Q[:rank]
    p = idlin.Predictor(F.astype(np.float32), rng.normal(size=(V, d)).astype(np.float32))
    # The planted rank is a property of the float32-rounded model only at float32's √ε (the
    # stored numbers themselves have full rank at float64's, docs/theory.md §3): say so.
    stored = np.sqrt(np.finfo(np.float32).eps)
    gram = idlin.analyze(p, precision=idlin.Precision(decomposition="gram", rank_rtol=stored))
    svd = idlin.analyze(p, precision=idlin.Precision(decomposition="svd", rank_rtol=stored))
    assert idlin.analyze(p).precision.decomposition == "auto"
    for field in ("embedding_rank", "unembedding_rank", "effective_complexity"):
        assert int(getattr(gram, field)) == int(getattr(svd, field)), field
    r = int(gram.effective_complexity)
    # σ_min/σ_max = 1/κ: above float32's √ε threshold (3.5e-4) the planted rank is found, below
    # it both routes cut it alike.
    assert r == (rank if 1 / kappa > 3.5e-4 else rank - 1)
    C = ref.log_odds(p.embeddings, p.unembeddings)
    want = np.linalg.svd(C, compute_uv=False)[:r]
    got = np.asarray(gram.log_odds_singular_values, np.float64)[:r]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    kf = int(gram.embedding_rank)
    want_F = np.linalg.svd(ref.f64(p.embeddings), compute_uv=False)[:kf]
    np.testing.assert_allclose(
        np.asarray(gram.embedding_singular_values, np.float64)[:kf], want_F, rtol=1e-6
    )
    U = np.asarray(gram.log_odds_left, np.float64)[:, :r]
    W = np.asarray(gram.log_odds_right, np.float64)[:, :r]
    Uc, sc, Wct = np.linalg.svd(C)
    C_r = (Uc[:, :r] * sc[:r]) @ Wct[:r]  # the float64 rank-r truncation the analysis represents
    np.testing.assert_allclose((U * got) @ W.T, C_r, atol=1e-6 * np.abs(C_r).max())


def test_the_gram_route_needs_float32_and_x64():
    with pytest.raises(idlin.ConfigError, match="decomposition='gram'"):
        idlin.analyze(_model(0), precision=idlin.Precision(decomposition="gram"))
    with pytest.raises(idlin.ConfigError, match="decomposition: expected one of"):
        idlin.Precision(decomposition="qr")


@pytest.mark.parametrize(
    ("text", "match"),
    [("1 2 nan", "finite decimal"), ("1 2 ３", "finite decimal"), ("1 2", "expected 3 numbers"),
     ("# only a comment\n", "at least one number"), ("1 2 1e999", "finite numbers")],
)  # fmt: skip
def test_steering_vector_files_are_read_strictly(tmp_path, text, match):
    f = tmp_path / "v.txt"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(idlin.FileFormatError, match=match):
        idlin.core.io.read_vector(f, size=3)
    good = tmp_path / "good.txt"
    good.write_text("# v\n1.5 -2e-3\n.25\n", encoding="utf-8")
    np.testing.assert_array_equal(idlin.core.io.read_vector(good, size=3), [1.5, -2e-3, 0.25])
    with pytest.raises(idlin.FileFormatError, match="a directory"):
        idlin.core.io.read_vector(tmp_path)


@pytest.mark.parametrize("decomposition", ["svd", "gram"])
def test_left_factors_computed_on_access_are_the_thin_svds(decomposition):
    rng = np.random.default_rng(5)
    F = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 8))  # k_f = 3 < d
    G = rng.normal(size=(200, 8))
    dtype = np.float32 if decomposition == "gram" else np.float64
    # k_f = 3 is the planted rank of the float32-rounded F at float32's √ε (docs/theory.md §3)
    rtol = np.sqrt(np.finfo(dtype).eps)
    precision = idlin.Precision(decomposition=decomposition, rank_rtol=rtol)
    a = idlin.analyze(idlin.Predictor(F.astype(dtype), G.astype(dtype)), precision=precision)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    for X, U, s, Vt, k in (
        (F, a.embedding_left, a.embedding_singular_values, a.embedding_right, a.embedding_rank),
        (G - G.mean(0)[None, :], a.unembedding_left, a.unembedding_singular_values,
         a.unembedding_right, a.unembedding_rank),
    ):  # fmt: skip
        k = int(k)
        U, s, Vt = (np.asarray(x, np.float64) for x in (U, s, Vt))
        np.testing.assert_allclose(U[:, :k].T @ U[:, :k], np.eye(k), atol=tol)
        assert not np.any(U[:, k:])  # masked past the rank
        np.testing.assert_allclose((U[:, :k] * s[:k]) @ Vt[:k], X, atol=tol * np.abs(X).max())


def test_float64_gram_of_float32_data_on_the_host_matches_float64_and_differentiates():
    from idlin.core._gram import _BLOCK_ELEMENTS, gram64

    rng = np.random.default_rng(3)
    rows = _BLOCK_ELEMENTS // 16 + 5  # more than one host block of 16 columns
    A = rng.normal(size=(rows, 16)).astype(np.float32)
    A64 = A.astype(np.float64)
    want = A64.T @ A64
    (got,) = jax.jit(gram64)(A)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13, atol=1e-9)
    # The derivative is XLA's dAᵀA + AᵀdA; vmap loops over the host call.
    dA = rng.normal(size=A.shape).astype(np.float32)
    _, (tangent,) = jax.jvp(gram64, (A,), (dA,))
    np.testing.assert_allclose(
        np.asarray(tangent), dA.astype(np.float64).T @ A64 + A64.T @ dA.astype(np.float64),
        rtol=1e-12, atol=1e-8,
    )  # fmt: skip
    small = A[:40]
    g = jax.grad(lambda X: jnp.sum(jnp.square(gram64(X)[0])))(small)
    small64 = small.astype(np.float64)
    np.testing.assert_allclose(np.asarray(g), 4 * small64 @ (small64.T @ small64), rtol=1e-5)
    stacked = jnp.stack([small, 2 * small])
    np.testing.assert_allclose(np.asarray(jax.vmap(gram64)(stacked)[0])[1],
                               4 * small64.T @ small64, rtol=1e-13)  # fmt: skip
