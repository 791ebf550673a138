"""Memory-bounded paths (issue 23, docs/theory.md §4): the maps, canonical_fit, principal_angles
and the streamed gap read V×d inputs a chunk of rows at a time. With the chunk forced small
(several full chunks plus a tail) they equal dense float64 NumPy references, and a subprocess at a
larger V shows that none of them allocates a V×d temporary."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference as ref
import scipy.linalg

import idlin
from idlin.core import _gap, _gram, _maps
from idlin.core.metrics import _canonical_fit, canonical_fit, principal_angles
from idlin.testing import planted_predictor

ROWS = 3  # a small chunk: V = 13 gives 4 full chunks and a tail of 1


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(_maps, "CHUNK_ROWS", ROWS)
    monkeypatch.setattr(_canonical_fit, "CHUNK_ROWS", ROWS)


def _random(seed, N=11, V=13, d=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(V, d)) + 3.0 * rng.normal(size=d)  # a large common offset
    return idlin.Predictor(rng.normal(size=(N, d)).astype(dtype), G.astype(dtype))


def test_cross_gram_matches_numpy_with_centers_under_jit_and_vmap():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(50, 3)).astype(np.float32) + 100
    B = rng.normal(size=(50, 2)).astype(np.float32) - 50
    a, b = A.astype(np.float64).mean(0), B.astype(np.float64).mean(0)
    want = (A.astype(np.float64) - a).T @ (B.astype(np.float64) - b)
    got = jax.jit(lambda A, B: _gram.cross_gram64((A,), (B,), (a, b)))(A, B)
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-10)
    # [A, B]ᵀ[A, B] uncentred, batched (one host call per element)
    stacked = np.stack([A, 2 * A])
    got = jax.vmap(lambda X: _gram.cross_gram64((X, X), (X,)))(stacked)
    for i, X in enumerate(stacked.astype(np.float64)):
        np.testing.assert_allclose(np.asarray(got[i]), np.hstack([X, X]).T @ X, rtol=1e-12)


def test_cross_gram_xla_route_matches_the_host_route(monkeypatch):
    """Off CPU the cross Gram is XLA's, chunked by `_gap.CHUNK_ROWS` rows (forced to 7 here)."""
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(30, 3)), rng.normal(size=(30, 4))
    a, b = rng.normal(size=3), rng.normal(size=4)
    host = np.asarray(_gram.cross_gram64((A,), (B,), (a, b)))
    monkeypatch.setattr(_gap, "CHUNK_ROWS", 7)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    xla = np.asarray(_gram.cross_gram64((A,), (B,), (a, b)))
    np.testing.assert_allclose(xla, host, rtol=1e-12)
    np.testing.assert_allclose(host, (A - a).T @ (B - b), rtol=1e-12)


def test_linear_map_residuals_in_chunks_match_numpy(small_chunks):
    p, q = _random(1), _random(2)
    lm = idlin.recover_linear_map(p, q)
    F, Ft = ref.f64(p.embeddings), ref.f64(q.embeddings)
    Gp, Gq = ref.centered(p.unembeddings), ref.centered(q.unembeddings)
    M = np.linalg.lstsq(F, Ft, rcond=None)[0].T
    np.testing.assert_allclose(lm.matrix, M, rtol=1e-10)
    want = np.linalg.norm(Gq - Gp @ np.linalg.inv(M)) / np.linalg.norm(Gq)
    np.testing.assert_allclose(lm.unembedding_residual, want, rtol=1e-10)
    np.testing.assert_allclose(
        lm.embedding_residual, np.linalg.norm(Ft - F @ M.T) / np.linalg.norm(Ft), rtol=1e-10
    )
    shift = (ref.f64(q.unembeddings) - ref.f64(p.unembeddings) @ np.linalg.inv(M)).mean(0)
    np.testing.assert_allclose(lm.shift, shift, rtol=1e-10, atol=1e-12)


def test_exactly_equivalent_float64_pairs_keep_rounding_level_residuals(small_chunks):
    p = _random(3)
    q = idlin.Predictor(*ref.member(p, 4))
    lm = idlin.recover_linear_map(p, q)
    assert lm.embedding_residual < 1e-13 and lm.unembedding_residual < 1e-13
    em = idlin.recover_extended_map(p, q)
    assert em.embedding_residual < 1e-13 and em.unembedding_residual < 1e-13
    np.testing.assert_allclose(em.embedding_map, lm.matrix, rtol=1e-9)


def test_extended_map_in_chunks_matches_pseudo_inverse_reference(small_chunks):
    p = planted_predictor(
        9, shape=(14, 13, 5), embedding_rank=4, unembedding_rank=3, effective_complexity=2
    )
    q = planted_predictor(
        10, shape=(14, 13, 6), embedding_rank=4, unembedding_rank=4, effective_complexity=3
    )
    em = idlin.recover_extended_map(p, q)
    tol = idlin.subspaces(p).rtol
    Gp, Gq = ref.centered(p.unembeddings), ref.centered(q.unembeddings)
    F, Ft = ref.f64(p.embeddings), ref.f64(q.embeddings)
    T = np.linalg.pinv(Gq, rcond=tol) @ Gp
    S = np.linalg.pinv(Ft, rcond=tol) @ F
    np.testing.assert_allclose(em.embedding_map, T, atol=1e-10)
    P = {k: ref.row_basis(A, tol) @ ref.row_basis(A, tol).T for k, A in
         {"U": Gp, "Ut": Gq, "E": F, "Et": Ft}.items()}  # fmt: skip
    lhs_g = Gq @ P["Et"]
    want_g = np.linalg.norm(lhs_g - Gp @ P["E"] @ S.T) / np.linalg.norm(lhs_g)
    lhs_f = Ft @ P["Ut"]
    want_f = np.linalg.norm(lhs_f - F @ P["U"] @ T.T) / np.linalg.norm(lhs_f)
    assert want_g > 1e-2  # a non-equivalent pair: the residuals measure something
    np.testing.assert_allclose(em.unembedding_residual, want_g, rtol=1e-8)
    np.testing.assert_allclose(em.embedding_residual, want_f, rtol=1e-8)


def test_float32_maps_match_the_float64_maps(small_chunks):
    p64, q64 = _random(5), _random(6)
    p32, q32 = p64.astype(np.float32), q64.astype(np.float32)
    for fn in (idlin.recover_linear_map, idlin.recover_extended_map):
        a, b = fn(p32, q32), fn(p64, q64)
        np.testing.assert_allclose(a.unembedding_residual, b.unembedding_residual, rtol=1e-4)
        np.testing.assert_allclose(a.embedding_residual, b.embedding_residual, rtol=1e-4)


def _np_canonical(p, r):
    F, G = ref.f64(p.embeddings), ref.centered(p.unembeddings)
    U, s, Wt = np.linalg.svd(F @ G.T)
    return U[:, :r] * np.sqrt(s[:r]), Wt[:r].T * np.sqrt(s[:r])


@pytest.mark.parametrize("dq", [3, 4])
def test_canonical_fit_in_chunks_matches_numpy_lstsq(small_chunks, dq):
    p, q = _random(7), _random(8, d=dq)
    fit = canonical_fit(p, q)
    (phi_p, gam_p), (phi_q, gam_q) = _np_canonical(p, 4), _np_canonical(q, dq)
    for (X, Y), got_map, got_r2 in [
        ((phi_p, phi_q), fit.embedding_map, fit.embedding_r2),
        ((gam_p, gam_q), fit.unembedding_map, fit.unembedding_r2),
    ]:
        B = np.linalg.lstsq(X, Y, rcond=None)[0]
        r2 = 1 - np.sum((Y - X @ B) ** 2) / np.sum((Y - Y.mean(0)) ** 2)
        np.testing.assert_allclose(got_r2, r2, rtol=1e-10)
        # maps agree up to the signs of the coordinates (rows and columns: |entries| equal)
        np.testing.assert_allclose(np.abs(np.asarray(got_map)), np.abs(B.T), atol=1e-9)


def test_canonical_unembedding_angles_in_chunks_match_scipy(monkeypatch):
    monkeypatch.setattr(_canonical_fit, "CHUNK_ROWS", ROWS)
    p, q = _random(9, d=3), _random(10, d=2)
    Cp = ref.f64(p.embeddings) @ ref.centered(p.unembeddings).T
    Cq = ref.f64(q.embeddings) @ ref.centered(q.unembeddings).T
    from idlin.core.metrics import _angles

    k = 3
    theta, cos = _angles.basis_angles(
        idlin.analyze(p).log_odds_right, idlin.analyze(q).log_odds_right, k1=k, k2=2, rows=ROWS
    )
    want = np.sort(scipy.linalg.subspace_angles(Cp.T, Cq.T))
    np.testing.assert_allclose(np.asarray(theta), want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(cos), np.cos(want), atol=1e-12)
    res = principal_angles(p, q, which="canonical_unembedding")
    np.testing.assert_allclose(np.asarray(res.angles), want, rtol=1e-9, atol=1e-12)
    # an equivalent pair: tiny angles come from the sines (TSQR), not from arccos
    same = principal_angles(p, idlin.Predictor(*ref.member(p, 11)), which="canonical_unembedding")
    assert same.max_angle < 1e-12


def test_streamed_gap_centres_in_chunks(monkeypatch):
    """`_centered_logits` with 4-row chunks (V = 19: four full chunks and a tail of 3)."""
    monkeypatch.setattr(_gap, "CHUNK_ROWS", 4)
    p, q = _random(12, N=9, V=19, d=3), _random(13, N=9, V=19, d=3)
    g = idlin.distribution_gap(p, q, block=4)
    frob, _, max_abs, kl = ref.gap(p, q)
    np.testing.assert_allclose([g.frobenius, g.max_abs, g.mean_kl], [frob, max_abs, kl],
                               rtol=1e-10)  # fmt: skip


_PEAKS = textwrap.dedent(
    """
    import sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import idlin
    from idlin.core import _gap, _gram, _maps
    from idlin.core.metrics import _canonical_fit, canonical_fit, principal_angles
    # fixed-size buffers far below one V×d array
    _gap.STREAM_BLOCK_ELEMENTS = _gram._BLOCK_ELEMENTS = 1 << 16
    _gap.CHUNK_ROWS = _maps.CHUNK_ROWS = _canonical_fit.CHUNK_ROWS = 512

    def kib(key):
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key))

    N, V, d = 200, 40000, 96
    rng = np.random.default_rng(0)
    F = rng.normal(size=(N, d)).astype(np.float32)
    G = rng.normal(size=(V, d)).astype(np.float32) + np.float32(3)
    M = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
    ap = idlin.analyze(idlin.Predictor(F, G))
    aq = idlin.analyze(idlin.Predictor(F @ M.T, G @ M.T))
    steps = {
        "gap": lambda: idlin.distribution_gap(ap, aq),
        "linear": lambda: idlin.recover_linear_map(ap, aq),
        "extended": lambda: idlin.recover_extended_map(ap, aq),
        "fit": lambda: canonical_fit(ap, aq),
        "angles": lambda: principal_angles(ap, aq, which="canonical_unembedding"),
        # a token probe reads its pairs' rows and its controls' draws, not the V×r W·Σ
        "token_parallelism": lambda: idlin.parallelism(
            ap, [[0, 1], [2, 3], [4, 5]], side="unembedding", form="identifiable",
            permutations=50,
        ).score,
        # steering reaches a shift in V-row bases read a block at a time (W, U_G: V×d each)
        "steering": lambda: idlin.steering(
            ap, np.ones(d), form="raw", random_vectors=10
        ).score,
    }
    for name, step in steps.items():
        # Results are JAX arrays (dispatched asynchronously): wait for each, so a step's work
        # is neither still running in the next measurement nor overlapping its own rerun.
        jax.block_until_ready(step())  # compile first: the compiler's memory is not the step's
        open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
        start = kib("VmRSS")
        jax.block_until_ready(step())
        print(name, (kib("VmHWM") - start) / (V * d * 4 / 1024))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_no_step_allocates_a_vocabulary_sized_temporary(tmp_path):
    """Peak RSS of each step above its start, in units of one V×d float32 array, at V = 40000:
    before issue 23 the maps and the gap each held 2–5 such arrays at once, and a token probe
    formed its V×r coordinates whole (in float64: 2 of them)."""
    script = tmp_path / "peaks.py"
    script.write_text(_PEAKS)
    # Large allocations straight from mmap, so freed memory leaves the resident set at once.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
    ).stdout
    peaks = {name: float(x) for name, x in (line.split() for line in out.splitlines())}
    assert set(peaks) == {
        "gap",
        "linear",
        "extended",
        "fit",
        "angles",
        "token_parallelism",
        "steering",
    }
    assert max(peaks.values()) < 0.5, peaks


def test_analyze_writes_W_block_by_block_and_keeps_the_callers_arrays(monkeypatch):
    """`W = Ĝ B` is written into one V×m output in row blocks (no whole `G @ B` plus its centred
    copy), equal to the float64 SVD of C; and the Analysis holds the caller's F and G, not
    `jit`'s copies of them."""
    import jax

    import idlin
    from idlin.core import _analysis

    monkeypatch.setattr(_analysis, "_W_BLOCK", 64)
    rng = np.random.default_rng(7)
    F = rng.normal(size=(37, 11)).astype(np.float32)  # a shape no other test compiles
    G = (rng.normal(size=(333, 11)) + 5.0).astype(np.float32)  # 5 full blocks and a remainder
    p = idlin.Predictor(F, G)
    jax.clear_caches()
    a = idlin.analyze(p)
    assert a.embeddings is p.embeddings and a.unembeddings is p.unembeddings
    Gh = G.astype(np.float64) - G.astype(np.float64).mean(axis=0)
    _, s, Wt = np.linalg.svd(F.astype(np.float64) @ Gh.T, full_matrices=False)
    W = np.asarray(a.log_odds_right, np.float64)
    np.testing.assert_allclose(np.abs(W), np.abs(Wt[:11].T), atol=1e-5)
    np.testing.assert_allclose(np.asarray(a.log_odds_singular_values), s[:11], rtol=1e-6)


_LOAD_PEAK = textwrap.dedent(
    """
    import sys
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    from idlin.core import io

    def kib(key):
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key))

    V, d = 40000, 96
    io.load_named(sys.argv[1] + "/small.safetensors", dtype="compute")  # JAX's own start-up
    for name in ("big.safetensors", "big.npz"):
        open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
        start = kib("VmRSS")
        p = io.load_named(sys.argv[1] + "/" + name, dtype="compute").predictor
        print(name, (kib("VmHWM") - start) / (V * d * 4 / 1024))
        del p
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_loading_a_file_holds_its_arrays_once(tmp_path):
    """Peak RSS of `io.load_named` in units of the file's V×d float32 array: the file is read
    into 64-byte-aligned buffers that JAX adopts without a copy. Before: the library's mapped
    pages, its copy, a same-dtype `astype` copy and JAX's copy (4× at V = 262144)."""
    import numpy as np

    from idlin import Predictor
    from idlin.core import io

    rng = np.random.default_rng(0)
    io.save(tmp_path / "small.safetensors", Predictor(np.ones((3, 2)), np.eye(4, 2)))
    F = rng.normal(size=(50, 96)).astype(np.float32)
    G = rng.normal(size=(40000, 96)).astype(np.float32)
    for name in ("big.safetensors", "big.npz"):
        io.save(tmp_path / name, Predictor(F, G))
    script = tmp_path / "load_peak.py"
    script.write_text(_LOAD_PEAK)
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    peaks = {name: float(x) for name, x in (line.split() for line in out.splitlines())}
    assert set(peaks) == {"big.safetensors", "big.npz"}
    # one held array, plus the host finiteness check's boolean mask (a quarter of one)
    assert max(peaks.values()) < 1.5, peaks
    loaded = io.load_named(tmp_path / "big.safetensors").predictor
    np.testing.assert_array_equal(np.asarray(loaded.unembeddings), G)
