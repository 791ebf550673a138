"""Flax NNX next-token models: export to Predictor, bias folding, exact-Jacobian relations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import idlin
import idlin.lab.data as D
from idlin.lab.models import export_predictor, jacobian_relation, make_model

V, T = 6, 3
CONTEXTS = D.all_contexts(V, T)


def build(arch, *, bias=False, width=3, **options):
    return make_model(arch, vocab_size=V, context_length=T, width=width, bias=bias,
                      dtype=jnp.float64, rngs=nnx.Rngs(0), **options)  # fmt: skip


def np_log_softmax(L):
    L = L - L.max(axis=1, keepdims=True)
    return L - np.log(np.exp(L).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("arch", ["mlp", "transformer"])
@pytest.mark.parametrize("bias", [False, True])
def test_export_reproduces_the_model(arch, bias):
    model = build(arch, bias=bias, embed=8, **({"layers": 1} if arch == "transformer" else {}))
    if bias:  # a non-zero bias, so folding it in is actually tested
        model.bias[...] = jnp.linspace(-1.0, 1.0, V)
    p = export_predictor(model, CONTEXTS)
    assert (p.num_contexts, p.vocab_size, p.width) == (V**T, V, 3 + bias)
    ref = np_log_softmax(np.asarray(model(jnp.asarray(CONTEXTS))))
    got = np_log_softmax(np.asarray(p.embeddings) @ np.asarray(p.unembeddings).T)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    # (graphdef, state) exports the same predictor.
    q = export_predictor(nnx.split(model), CONTEXTS)
    np.testing.assert_array_equal(np.asarray(q.embeddings), np.asarray(p.embeddings))
    np.testing.assert_array_equal(np.asarray(q.unembeddings), np.asarray(p.unembeddings))


def test_transformer_is_causal_in_the_sense_of_next_token():
    # f(x) reads all T positions (the last position attends to every earlier one) ...
    model = build("transformer", embed=8, layers=1)
    x = jnp.asarray(CONTEXTS[:1])
    for t in range(T):
        y = x.at[0, t].set((x[0, t] + 1) % V)
        assert not np.allclose(model.encode(x), model.encode(y))
    # ... and earlier positions cannot see later ones (causal mask): the last-position output of
    # the prefix model equals that of a model fed only the prefix.
    h = model.embed_tokens(x)
    block = model.blocks[0]
    mask = jnp.tril(jnp.ones((T, T), bool))[None, None]
    with jax.numpy_dtype_promotion("standard"):  # Flax's LayerNorm mixes in float32
        full = block(h + model.position[...][None], mask)
        prefix = block((h + model.position[...][None])[:, :2], mask[:, :, :2, :2])
    np.testing.assert_allclose(full[:, :2], prefix, rtol=1e-12, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(idlin.ConfigError, match="architecture"):
        build("rnn")
    with pytest.raises(idlin.ConfigError, match="options"):
        build("mlp", heads=2)
    with pytest.raises(idlin.ShapeError, match="2-D integer"):
        export_predictor(build("mlp"), CONTEXTS.astype(np.float64))
    with pytest.raises(TypeError, match="next-token model"):
        export_predictor(object(), CONTEXTS)


def test_jacobian_relation_is_exact_for_an_affine_encoder():
    # With an identity activation f is affine in each input embedding, so for contexts that only
    # vary at `position` the Jacobian map is exact and equals the least-squares map.
    model = build("mlp", activation="identity", embed=4, hidden=8)
    ctx = np.array([[2, 5, a] for a in range(V)])
    rel = jacobian_relation(model, ctx, position=-1)
    assert rel.jacobian_r2 == pytest.approx(1.0, abs=1e-12)
    assert rel.lstsq_r2 == pytest.approx(1.0, abs=1e-12)
    assert rel.relative_difference < 1e-10
    # Reference: the affine map is W_out W_hid restricted to the last position's inputs.
    W1 = np.asarray(model.hidden.kernel[...])[2 * 4 :]  # (e, hidden)
    W2 = np.asarray(model.out.kernel[...])  # (hidden, d)
    np.testing.assert_allclose(np.asarray(rel.jacobian), (W1 @ W2).T, rtol=1e-10, atol=1e-12)


def test_jacobian_relation_matches_finite_differences():
    model = build("mlp", embed=4, hidden=8)  # tanh: not affine
    ctx = np.array([[1, 2, a] for a in range(V)])
    rel = jacobian_relation(model, ctx, position=2)
    H = np.asarray(model.embed_tokens(jnp.asarray(ctx)))
    eps, J = 1e-6, np.zeros((3, 4))
    for i in range(V):
        for k in range(4):
            hp, hm = H[i : i + 1].copy(), H[i : i + 1].copy()
            hp[0, 2, k] += eps
            hm[0, 2, k] -= eps
            diff = model.encode_embedded(jnp.asarray(hp)) - model.encode_embedded(jnp.asarray(hm))
            J[:, k] += np.asarray(diff)[0] / (2 * eps) / V
    np.testing.assert_allclose(np.asarray(rel.jacobian), J, rtol=1e-6, atol=1e-9)
    assert rel.jacobian_r2 <= rel.lstsq_r2 + 1e-12  # least squares is the best affine fit
    with pytest.raises(idlin.ProbeError, match="position"):
        jacobian_relation(model, ctx, position=3)
    with pytest.raises(idlin.ProbeError, match="at least 2"):
        jacobian_relation(model, ctx[:1], position=0)
