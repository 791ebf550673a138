"""The coordinates properties are measured in (docs/theory.md §6): the token side is a `Rows`,
formed only where indexed, and every row decodes to the log-odds C of the float64 NumPy
reference — on the Householder route (float64 data) and the Gram route (float32 data, where
W = Ĝ B is a product, not stored)."""

import numpy as np
import pytest
import reference as ref

import idlin
from idlin.properties import Rows, coordinates

CASES = [(side, form, geometry) for side in ("embedding", "unembedding")
         for form, geometry in (("raw", "isometric"), ("identifiable", "isometric"),
                                ("identifiable", "whitened"))]  # fmt: skip


def _model(dtype):
    rng = np.random.default_rng(0)
    N, V, d, r = 9, 40, 5, 4
    F = rng.normal(size=(N, r)) @ rng.normal(size=(r, d))  # rank 4 < d: r = 4
    G = rng.normal(size=(V, d)) + 3.0  # a common offset, as in real LMs
    return idlin.Predictor(F.astype(dtype), G.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("side", "form", "geometry"), CASES)
def test_rows_decode_to_the_log_odds_of_the_numpy_reference(dtype, side, form, geometry):
    p = _model(dtype)
    C = ref.log_odds(p.embeddings, p.unembeddings)  # (N, V)
    target = C if side == "embedding" else C.T
    c = coordinates(idlin.analyze(p), side, form, geometry)
    tokens = c.points if side == "unembedding" else c.decoder
    assert isinstance(tokens, Rows) and tokens.shape[0] == p.vocab_size
    points, decoder = np.asarray(c.points, np.float64), np.asarray(c.decoder, np.float64)
    atol = (1e-10 if dtype == np.float64 else 2e-4) * np.abs(C).max()
    np.testing.assert_allclose(points @ decoder.T, target, atol=atol)
    # Indexing forms the rows the whole array has: an int, a slice, an index array of any shape.
    idx = np.array([[3, 0], [7, 3], [1, 1]])
    np.testing.assert_allclose(tokens[idx], np.asarray(tokens)[idx], rtol=1e-6, atol=1e-6)
    assert tokens[idx].shape == (3, 2, tokens.shape[1]) and tokens[5].shape == (tokens.shape[1],)
    np.testing.assert_allclose(tokens[2:6], np.asarray(tokens)[2:6], rtol=1e-6, atol=1e-6)
    assert tokens.astype(np.float64)[idx].dtype == np.float64


def test_token_parallelism_reads_only_the_rows_it_needs(monkeypatch):
    """The token side's probe reads the pairs' rows and the controls' draws, never the whole
    V×k array: `np.asarray` of a `Rows` is refused here, and the verdict is the one computed
    on the whole array."""
    p = _model(np.float64)
    a = idlin.analyze(p)
    pairs = [[0, 1], [2, 3], [4, 5]]
    whole = {form: idlin.parallelism(a, pairs, side="unembedding", form=form, permutations=20)
             for form in ("raw", "identifiable")}  # fmt: skip

    def refuse(self, dtype=None, copy=None):
        raise AssertionError("the whole V×k array was formed")

    monkeypatch.setattr(Rows, "__array__", refuse)
    for form in ("raw", "identifiable"):
        got = idlin.parallelism(a, pairs, side="unembedding", form=form, permutations=20)
        assert got.score == pytest.approx(whole[form].score, rel=1e-12)
        assert [n.p_value for n in got.controls] == [n.p_value for n in whole[form].controls]
        # A matrix over the vocabulary that is formed whole, as NumPy would: the reference.
        G = ref.centered(p.unembeddings)
        if form == "raw":
            D = G[[1, 3, 5]] - G[[0, 2, 4]]
            D /= np.linalg.norm(D, axis=1, keepdims=True)
            s = np.linalg.svd(D, compute_uv=False)
            assert got.score == pytest.approx(s[1] / s[0], rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("form", ["raw", "identifiable"])
def test_reach_residual_streams_the_one_steering_score(dtype, form):
    """The steering verdict's residual, read a block of rows at a time, equals `steering_score`
    on the whole float64 NumPy basis (col Ĝ from the reference's SVD, rowspace C from C's), for
    shifts in the span, outside it and in between."""
    from idlin.properties._steering import column_basis, reach_residual, steering_score

    p = _model(dtype)
    a = idlin.analyze(p)
    Gh = ref.centered(p.unembeddings)
    C = ref.log_odds(p.embeddings, p.unembeddings)
    if form == "raw":
        U, s, _ = np.linalg.svd(Gh, full_matrices=False)
        B = U[:, s > 1e-6 * s[0]]
    else:
        _, s, Vt = np.linalg.svd(C, full_matrices=False)
        B = Vt[s > 1e-6 * s[0]].T
    basis = column_basis(a, form)
    assert basis.shape == B.shape
    # same span: the projectors agree
    rows = np.asarray(basis)
    np.testing.assert_allclose(rows @ rows.T, B @ B.T, atol=1e-5 if dtype == np.float32 else 1e-9)
    rng = np.random.default_rng(1)
    inside, noise = B @ rng.normal(size=B.shape[1]), rng.normal(size=p.vocab_size)
    for delta in (inside, noise, inside + 0.1 * noise):
        want = float(steering_score(delta, B))
        got = reach_residual(delta, basis)
        assert got == pytest.approx(want, rel=1e-4, abs=1e-5 if dtype == np.float32 else 1e-9)
    # and the chunked reading equals the whole one, block size aside
    chunked = Rows(basis.block, basis.center, basis.factor, basis.columns, basis.scale,
                   basis.out_dtype)  # fmt: skip
    assert sum(len(b) for _, b in chunked.chunks(7)) == p.vocab_size
    np.testing.assert_array_equal(np.concatenate([b for _, b in chunked.chunks(7)]), rows)


def test_rows_refuse_indices_numpy_would_refuse():
    """A JAX gather clamps an out-of-range index silently; `Rows` says which index is bad."""
    tokens = coordinates(idlin.analyze(_model(np.float64)), "unembedding", "raw").points
    np.testing.assert_array_equal(tokens[-1], tokens[39])
    with pytest.raises(idlin.ProbeError, match=r"in \[-40, 40\), got 40"):
        tokens[[0, 40]]
    with pytest.raises(idlin.ProbeError, match="got -41"):
        tokens[-41]
    with pytest.raises(idlin.ArgumentError, match="integer index array"):
        tokens[0, 1]
    with pytest.raises(idlin.ArgumentError, match="integer index array"):
        tokens[np.array([0.5])]
