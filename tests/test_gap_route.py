"""The R factor's route by cost (docs/theory.md §2.1) and equivalence without float64.

`r_factor_route` picks Householder QR for a nearly square factored side and CholeskyQR (the
float64-accumulated Gram) for a tall one; both routes give the float64 reference's gap. With x64
off (a backend without float64) `equivalent` decides what float32 resolves and refuses the rest.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref

import idlin
from idlin.core import _gap
from idlin.core._errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def pair(N, V, d, seed=0):
    """A float32 pair with relative gap ~0.3 (a basis change, a shift, perturbed embeddings)."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((N, d))
    G = rng.standard_normal((V, d))
    M = np.eye(d) + 0.5 * rng.standard_normal((d, d)) / np.sqrt(d)
    Ft = (F + 0.3 * rng.standard_normal((N, d))) @ M.T
    Gt = G @ np.linalg.inv(M) + rng.standard_normal(d)
    return (idlin.Predictor(F.astype(np.float32), G.astype(np.float32)),
            idlin.Predictor(Ft.astype(np.float32), Gt.astype(np.float32)))  # fmt: skip


def test_route_on_the_benchmark_shapes():
    """The pair of d = 768 models at N = 4096 factors a 4096×1536 side (Householder cheaper);
    d = 256 at N = 16384 a 16384×512 side (CholeskyQR cheaper). Without a float64 accumulator
    (float64 data, or x64 off) Householder always."""
    f32 = np.dtype(np.float32)
    assert _gap.r_factor_route(4096, 1536, f32) == "householder"
    assert _gap.r_factor_route(16384, 512, f32) == "cholesky"
    assert _gap.r_factor_route(16384, 512, np.dtype(np.float64)) == "householder"
    # the rule is the cost model's: the cheaper estimate wins, crossing at rows = 10/3·cols
    for rows, cols in ((4096, 1536), (16384, 512), (1000, 300), (1000, 301), (64, 640)):
        cost = _gap.r_factor_cost(rows, cols)
        want = min(cost, key=cost.get)
        assert _gap.r_factor_route(rows, cols, f32) == want
    assert _gap.r_factor_route(1000, 299, f32) == "cholesky"
    assert _gap.r_factor_route(1000, 301, f32) == "householder"


@pytest.mark.parametrize(("N", "route"), [(20, "householder"), (100, "cholesky")])
def test_the_gap_kernel_takes_the_chosen_route(N, route):
    """The kernel's program holds the host Cholesky call exactly when the rule says so (a 20×12
    side is nearly square, a 100×12 side tall)."""
    F = jnp.ones((N, 6), jnp.float32)
    G = jnp.ones((300, 6), jnp.float32)
    assert _gap.r_factor_route(N, 12, F.dtype) == route
    text = str(jax.make_jaxpr(
        lambda *a: _gap.gap_kernel(*a, block=1, frobenius_only=True))(F, G, F, G))  # fmt: skip
    assert ("buffer_callback" in text) == (route == "cholesky")


@pytest.mark.parametrize(("N", "V", "d"), [(60, 300, 8), (300, 60, 8), (40, 2048 + 9, 5)])
def test_both_routes_agree_with_the_float64_reference(N, V, d):
    """Forced to either route, the float32 gap (x64 on) equals the float64 reference to float32
    accuracy; so does the routes' difference, on a pair at gap ~0.3 and on an exactly
    equivalent one (a permutation and powers of two: C_p = C_q in float32)."""
    p, q = pair(N, V, d)
    want_frob, want_rel, *_ = ref.gap(p, q)
    got = {}
    for route in ("householder", "cholesky"):
        frob, norm, _, _ = _gap.gap_kernel(p.embeddings, p.unembeddings, q.embeddings,
                                           q.unembeddings, block=1, frobenius_only=True,
                                           route=route)  # fmt: skip
        got[route] = float(frob)
        np.testing.assert_allclose(float(frob), want_frob, rtol=1e-5)
        np.testing.assert_allclose(float(frob) / float(norm), want_rel, rtol=1e-5)
    assert abs(got["householder"] - got["cholesky"]) <= 1e-5 * want_frob
    perm = np.random.default_rng(1).permutation(d)
    same = idlin.Predictor(p.embeddings[:, perm] * 2.0, p.unembeddings[:, perm] * 0.5 + 1.0)
    for route in ("householder", "cholesky"):
        frob, norm, _, _ = _gap.gap_kernel(p.embeddings, p.unembeddings, same.embeddings,
                                           same.unembeddings, block=1, frobenius_only=True,
                                           route=route)  # fmt: skip
        assert float(frob) <= 1e-6 * float(norm), route


def test_a_route_without_its_accumulator_is_refused():
    P = jnp.ones((10, 2), jnp.float64)
    with pytest.raises(ConfigError, match="float32 factors with jax_enable_x64 on"):
        _gap._r_factor(P, P, "cholesky")
    with pytest.raises(ConfigError, match="'cholesky' or 'householder'"):
        _gap._r_factor(P, P, "svd")


# -- no float64 (x64 off): decide what float32 resolves, refuse the rest -------------------------

_X64_OFF = textwrap.dedent(
    """
    import json, sys
    import numpy as np, jax
    jax.config.update("jax_enable_x64", False)
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    import idlin
    from idlin.core._errors import ConfigError

    rng = np.random.default_rng(0)
    N, V, d = 200, 512, 8  # V a power of two: the token means are exact
    F = rng.integers(-4, 5, (N, d)).astype(np.int64)
    G = rng.integers(-4, 5, (V, d)).astype(np.int64)

    def member(k):
        # an integer unimodular basis change M (one shear of size k) and an integer shift:
        # every entry is a small integer, so C_q = C_p exactly in float32
        M = np.eye(d, dtype=np.int64)
        for i in range(d - 1):
            E = np.eye(d, dtype=np.int64)
            E[i, i + 1] = k if i == 0 else 1
            M = M @ E
        Minv = np.round(np.linalg.inv(M)).astype(np.int64)
        assert (M @ Minv == np.eye(d, dtype=np.int64)).all()
        return idlin.Predictor((F @ M).astype(np.float32), (G @ Minv.T + 3).astype(np.float32))

    p = idlin.Predictor(F.astype(np.float32), G.astype(np.float32))
    noise = rng.standard_normal((N, d))
    Fp = F + 1e-3 * np.linalg.norm(F) / np.linalg.norm(noise) * noise
    perturbed = idlin.Predictor(Fp.astype(np.float32), G.astype(np.float32))
    out = {"dtype": str(p.dtype), "x64": bool(jax.config.read("jax_enable_x64"))}
    for name, q in (("exact", member(1)), ("perturbed", perturbed), ("ill", member(100))):
        try:
            out[name] = bool(idlin.equivalent(p, q))
        except ConfigError as e:
            out[name] = "refused: " + str(e)
        out[name + "_relative"] = float(idlin.distribution_gap(p, q, frobenius_only=True).relative)
    print(json.dumps(out))
    """
)


def test_equivalence_with_x64_off_decides_or_refuses():
    """x64 off (float32 Householder QR, float32 sums): an exactly equivalent pair (well
    conditioned basis change) is equivalent, a 1e-3 perturbation is not; an exactly equivalent
    pair under an ill-conditioned change of basis (condition ~3e4) is refused with the
    resolution stated, not decided by rounding. With x64 on that pair is equivalent."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", _X64_OFF], capture_output=True, text=True,
                          timeout=300, check=False, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["x64"] is False and out["dtype"] == "float32"
    assert out["exact"] is True and out["exact_relative"] < 1e-5
    assert out["perturbed"] is False and 5e-4 < out["perturbed_relative"] < 5e-3
    assert isinstance(out["ill"], str) and out["ill"].startswith("refused: ")
    assert "jax_enable_x64 off" in out["ill"] and "resolves" in out["ill"]
    # the same ill-conditioned pair with x64 on (this process): decided, and right
    rng = np.random.default_rng(0)
    F = rng.integers(-4, 5, (200, 8))
    G = rng.integers(-4, 5, (512, 8))
    M = np.eye(8, dtype=np.int64)
    for i in range(7):
        E = np.eye(8, dtype=np.int64)
        E[i, i + 1] = 100 if i == 0 else 1
        M = M @ E
    Minv = np.round(np.linalg.inv(M)).astype(np.int64)
    p = idlin.Predictor(F.astype(np.float32), G.astype(np.float32))
    q = idlin.Predictor((F @ M).astype(np.float32), (G @ Minv.T + 3).astype(np.float32))
    assert bool(idlin.equivalent(p, q)) is True
