"""`idlin export` of Hugging Face causal LMs: tiny random models built offline from configs.

References are independent of the exporter: each context is run *alone* (no padding, no
batching) through the torch model and its last-position logits are compared, in float64, with
`F Gᵀ + b` read back from the written file. Skipped when torch/transformers are absent (the CI
installs the `hf` extra). About 15 s on 2 cores, most of it importing torch and transformers.
"""

import doctest
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

import idlin  # noqa: E402
from idlin.apps.export import ExportError, export_hf  # noqa: E402
from idlin.apps.export import _hf as hf  # noqa: E402
from idlin.core import io  # noqa: E402

WORDS = ["<pad>", "<bos>", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "easy", "easier",
         "easiest", "naïve"]  # fmt: skip
TEXTS = ["the cat sat", "a dog ran on the mat", "easy", "the easiest naïve cat", "dog dog"]
COMMON = dict(
    vocab_size=len(WORDS), bos_token_id=1, eos_token_id=1, pad_token_id=0, initializer_range=0.5
)
LLAMA_LIKE = dict(
    hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
    num_key_value_heads=1, max_position_embeddings=16, **COMMON,
)  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<bos>")


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=16, **COMMON)
    return GPT2LMHeadModel(config).eval()


def _llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(tie_word_embeddings=False, **LLAMA_LIKE)).eval()


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"gpt2": _gpt2(), "llama": _llama()}


def _alone(model, ids):
    """(last-position logits, hidden_states[-1]) of one unpadded context, float64."""
    with torch.inference_mode():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    return out.logits[0, -1].double().numpy(), out.hidden_states[-1][0, -1].double().numpy()


def _reference(model, tokenizer, texts):
    rows = [_alone(model, tokenizer(t)["input_ids"]) for t in texts]
    return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_exported_file_reproduces_each_context_run_alone(tmp_path, models, tokenizer, arch, side):
    model = models[arch]
    ex = export_hf(model, tokenizer, TEXTS, batch_size=3, progress=False, padding_side=side)
    path = tmp_path / "m.safetensors"
    ex.save(path)
    named = io.load_named(path)
    arrays = io.read_arrays(path)
    logits, hidden = _reference(model, tokenizer, TEXTS)
    scale = max(1.0, np.abs(logits).max())
    assert scale > 1.5  # initializer_range makes logits O(1), so a lost factor would show
    bias = arrays.get("bias", 0.0)
    got = arrays["embeddings"].astype(np.float64) @ arrays["unembeddings"].T.astype(np.float64)
    np.testing.assert_allclose(got + bias, logits, rtol=0, atol=1e-5 * scale)
    assert ex.max_logit_error <= 1e-5 * scale
    # F is hidden_states[-1], and that is *after* the final norm: with the norm's initial
    # weight 1 (bias 0) its rows have mean 0 and variance 1 (LayerNorm) or mean square 1 (RMSNorm).
    F = arrays["embeddings"].astype(np.float64)
    np.testing.assert_allclose(F, hidden, rtol=0, atol=1e-5)
    if arch == "gpt2":
        np.testing.assert_allclose(F.mean(axis=1), 0.0, atol=1e-5)
        np.testing.assert_allclose(F.var(axis=1), 1.0, atol=1e-3)  # eps = 1e-5
    else:
        np.testing.assert_allclose((F**2).mean(axis=1), 1.0, atol=1e-4)  # eps = 1e-6
    np.testing.assert_array_equal(arrays["unembeddings"], model.lm_head.weight.detach().numpy())
    # Names, and the predictor's distribution vs the model's, in float64.
    assert named.tokens == tuple(WORDS) and named.contexts == tuple(TEXTS)
    assert named.stored_dtype == np.float32
    p = io.load(path, dtype=np.float64)
    want = torch.log_softmax(torch.tensor(logits), dim=-1).numpy()
    np.testing.assert_allclose(np.asarray(p.log_probs()), want, rtol=0, atol=2e-5 * scale)


def test_batch_size_and_padding_side_do_not_change_the_export(models, tokenizer):
    model = models["gpt2"]  # absolute positions: left padding is only right with position_ids
    one = export_hf(model, tokenizer, TEXTS, batch_size=1, progress=False)
    for side in ("left", "right"):
        many = export_hf(model, tokenizer, TEXTS, batch_size=4, progress=False, padding_side=side)
        np.testing.assert_allclose(many.embeddings, one.embeddings, rtol=0, atol=1e-5)


def test_token_ids_without_a_tokenizer_and_float64(models):
    model = models["llama"]
    ids = [[1, 2, 3], [7, 8, 9, 5, 2, 6], [13]]
    ex = export_hf(model, None, ids, batch_size=2, progress=False, dtype=np.float64)
    assert ex.tokens == tuple(str(i) for i in range(len(WORDS)))
    assert ex.contexts == ("1 2 3", "7 8 9 5 2 6", "13")
    assert ex.embeddings.dtype == np.float64 and ex.bias is None
    ref = np.stack([_alone(model, row)[0] for row in ids])
    np.testing.assert_allclose(ex.embeddings @ ex.unembeddings.T, ref, rtol=0, atol=1e-5)
    assert ex.caveat is not None and "N = 3" in ex.caveat and "d = 16" in ex.caveat


def test_a_head_bias_is_exported_as_its_own_key(tmp_path, models, tokenizer):
    torch.manual_seed(1)
    model = _gpt2()
    head = torch.nn.Linear(16, len(WORDS), bias=True)
    with torch.no_grad():
        head.weight.copy_(torch.randn(len(WORDS), 16))
        head.bias.copy_(torch.randn(len(WORDS)) * 3)
    model.lm_head = head  # untied, with a bias (as in some architectures)
    ex = export_hf(model, tokenizer, TEXTS, progress=False)
    ex.save(tmp_path / "b.npz")
    arrays = io.read_arrays(tmp_path / "b.npz")
    np.testing.assert_array_equal(arrays["bias"], head.bias.detach().numpy())
    logits, _ = _reference(model, tokenizer, TEXTS)
    got = arrays["embeddings"].astype(np.float64) @ arrays["unembeddings"].T + arrays["bias"]
    np.testing.assert_allclose(got, logits, rtol=0, atol=1e-5 * np.abs(logits).max())
    assert io.load(tmp_path / "b.npz").width == 17
    assert "d = 17 (with the bias coordinate)" in ex.caveat


def _tiny(config_cls, model_cls, **extra):
    torch.manual_seed(2)
    return model_cls(config_cls(**LLAMA_LIKE, **extra)).eval()


def _builders():
    from transformers import (
        CohereConfig,
        CohereForCausalLM,
        Gemma2Config,
        Gemma2ForCausalLM,
        GraniteConfig,
        GraniteForCausalLM,
    )

    return {
        "gpt2": (_gpt2, "layer"),
        "llama": (_llama, "rms"),
        "cohere": (lambda: _tiny(CohereConfig, CohereForCausalLM, logit_scale=0.25), "layer"),
        "granite": (lambda: _tiny(GraniteConfig, GraniteForCausalLM, logits_scaling=4.0), "rms"),
        "gemma2": (
            lambda: _tiny(
                Gemma2Config, Gemma2ForCausalLM, head_dim=8, final_logit_softcapping=None
            ),
            "rms",
        ),
    }


@pytest.mark.parametrize("arch", ["gpt2", "llama", "cohere", "granite", "gemma2"])
def test_f_is_hidden_states_last_after_the_final_norm_for_each_architecture(arch):
    build, norm = _builders()[arch]
    model = build()
    ids = [[1, 2, 3], [7, 8, 9, 5, 2, 6], [13]]
    ex = export_hf(model, None, ids, batch_size=2, progress=False)
    H = np.stack([_alone(model, row)[1] for row in ids])  # hidden_states[-1], each alone
    F = ex.embeddings.astype(np.float64) / ex.logit_scale
    np.testing.assert_allclose(F, H, rtol=0, atol=1e-5)
    # The final norm's weight starts at identity: RMSNorm rows have mean square 1, LayerNorm
    # rows also mean 0. A pre-norm state (the last block's output) has neither.
    np.testing.assert_allclose((F**2).mean(axis=1), 1.0, atol=1e-3)
    if norm == "layer":
        np.testing.assert_allclose(F.mean(axis=1), 0.0, atol=1e-5)


def test_logit_scales_are_folded_into_f():
    from transformers import (
        CohereConfig,
        CohereForCausalLM,
        GraniteConfig,
        GraniteForCausalLM,
    )

    ids = [[1, 2, 3], [4, 5, 6, 7], [9]]
    for model, scale in (
        (_tiny(CohereConfig, CohereForCausalLM, logit_scale=0.25), 0.25),
        (_tiny(GraniteConfig, GraniteForCausalLM, logits_scaling=4.0), 0.25),
    ):
        ex = export_hf(model, None, ids, batch_size=2, progress=False)
        assert ex.logit_scale == scale
        ref = np.stack([_alone(model, row)[0] for row in ids])
        np.testing.assert_allclose(
            ex.embeddings.astype(np.float64) @ ex.unembeddings.T, ref, rtol=0,
            atol=1e-5 * max(1.0, np.abs(ref).max()),
        )  # fmt: skip


def test_without_the_fold_the_reproduction_check_fails(monkeypatch):
    from transformers import CohereConfig, CohereForCausalLM

    model = _tiny(CohereConfig, CohereForCausalLM, logit_scale=0.25)
    monkeypatch.setattr(hf, "_SCALE_ATTRIBUTE", {})
    with pytest.raises(
        ExportError, match=r"cohere: the exported F, G do not reproduce.*max \|Δlogit\|"
    ):
        export_hf(model, None, [[1, 2, 3], [4, 5]], progress=False)


def test_an_unknown_transform_after_the_head_fails_the_check(models):
    model = _gpt2()

    def double(_module, _args, output):
        output.logits = output.logits * 2
        return output

    handle = model.register_forward_hook(double)
    try:
        with pytest.raises(ExportError, match=r"does not fold|do not reproduce"):
            export_hf(model, None, [[1, 2, 3]], progress=False)
    finally:
        handle.remove()


def test_final_logit_softcapping_is_refused_and_gemma_without_it_exports():
    from transformers import Gemma2Config, Gemma2ForCausalLM

    capped = _tiny(Gemma2Config, Gemma2ForCausalLM, head_dim=8)
    assert capped.config.final_logit_softcapping == 30.0
    with pytest.raises(ExportError, match=r"gemma2: final-logit soft-capping.*30.0·tanh"):
        export_hf(capped, None, [[1, 2]], progress=False)
    plain = _tiny(Gemma2Config, Gemma2ForCausalLM, head_dim=8, final_logit_softcapping=None)
    ids = [[1, 2, 3], [5, 6]]
    ex = export_hf(plain, None, ids, progress=False)
    ref = np.stack([_alone(plain, row)[0] for row in ids])
    np.testing.assert_allclose(
        ex.embeddings @ ex.unembeddings.T, ref, rtol=0, atol=1e-5 * max(1, np.abs(ref).max())
    )


@pytest.mark.parametrize(
    ("contexts", "error", "pattern"),
    [
        (["the cat"], ExportError, "texts need a tokenizer"),
        ([], idlin.ShapeError, "at least one context"),
        ([[1, 2], []], idlin.ShapeError, r"contexts\[1\]: expected at least one token"),
        ([[1, 2], [3, 99]], ExportError, r"contexts\[1\]: expected token ids in \[0, 14\).*\[99\]"),
        ([[1, -1]], ExportError, r"token ids in \[0, 14\).*\[-1\]"),
        ([[1, 2.5]], idlin.DTypeError, "integer token ids"),
        ([[1] * 17], ExportError, "at most 16 tokens"),
        ("the cat", idlin.DTypeError, "list of texts or of token-id lists, got str"),
    ],
)
def test_bad_contexts(models, contexts, error, pattern):
    with pytest.raises(error, match=pattern):
        export_hf(models["gpt2"], None, contexts, progress=False)


def test_models_without_a_linear_lm_head_or_decoder_only_are_refused(models):
    from transformers import GPT2Model, T5Config, T5ForConditionalGeneration

    base = GPT2Model(models["gpt2"].config)
    with pytest.raises(ExportError, match=r"GPT2Model: expected a causal LM .* got NoneType"):
        export_hf(base, None, [[1, 2]], progress=False)
    t5 = T5ForConditionalGeneration(
        T5Config(vocab_size=14, d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2)
    )
    with pytest.raises(ExportError, match="expected a decoder-only causal LM"):
        export_hf(t5, None, [[1, 2]], progress=False)


def test_progress_bar_counts_contexts(models, tokenizer, capsys):
    export_hf(models["gpt2"], tokenizer, TEXTS, batch_size=2, progress=True)
    err = capsys.readouterr().err
    assert "export" in err and "5/5" in err


def test_docstring_example_runs():
    result = doctest.testmod(hf)
    assert result.attempted > 0 and result.failed == 0


# -- the command, on a model directory written with save_pretrained (safetensors)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, models, tokenizer):
    root = tmp_path_factory.mktemp("hf") / "tiny-gpt2"
    models["gpt2"].save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


def _run(*args):
    from idlin.apps.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_export_writes_a_named_file_and_prints_the_error_and_caveat(
    tmp_path, model_dir, models, tokenizer
):
    (tmp_path / "contexts.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "tiny.safetensors"
    result = _run("export", model_dir, "--contexts", tmp_path / "contexts.txt", "--out", out,
                  "--batch-size", 2, "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "N = 5 contexts, V = 14 tokens, width d = 16" in result.output
    assert "max |F Gᵀ + b − model logits| = " in result.output
    assert "caveat: identifiability is relative to the N = 5 contexts" in result.output
    named = io.load_named(out)
    assert named.contexts == tuple(TEXTS) and named.tokens[12] == "easiest"
    logits, _ = _reference(models["gpt2"], tokenizer, TEXTS)
    got = np.asarray(named.predictor.logits(), dtype=np.float64)
    np.testing.assert_allclose(got, logits, rtol=0, atol=1e-5 * np.abs(logits).max())
    # Token names resolve probe files by name.
    (tmp_path / "pairs.tsv").write_text("easy\teasier\neasier\teasiest\n")
    assert io.read_pairs(tmp_path / "pairs.tsv", named.tokens).tolist() == [[10, 11], [11, 12]]


def test_cli_export_token_ids_to_npz_float64(tmp_path, model_dir):
    (tmp_path / "ids.txt").write_text("2 3 4\n7 8\n" + " ".join(["2"] * 3) + "\n")
    out = tmp_path / "ids.npz"
    result = _run("export", model_dir, "--token-ids", tmp_path / "ids.txt", "--out", out,
                  "--dtype", "float64", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    named = io.load_named(out)
    assert named.stored_dtype == np.float64 and named.contexts == ("2 3 4", "7 8", "2 2 2")


def test_cli_export_bad_input_exits_2_with_one_line(tmp_path, model_dir):
    (tmp_path / "ids.txt").write_text("1 2\n3 99\n")
    (tmp_path / "blank.txt").write_text("the cat\n\nsat\n")
    (tmp_path / "sup.txt").write_text("1 ²\n")
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    ids, out = tmp_path / "ids.txt", tmp_path / "o.safetensors"
    by_ids = ["--token-ids", ids, "--out", out]
    cases = [
        ([model_dir, "--out", out],
         "one of --contexts FILE, --token-ids FILE or --prefixes FILE, got neither"),
        ([model_dir, "--contexts", ids, *by_ids], "got --contexts and --token-ids"),
        ([model_dir, "--token-ids", ids, "--out", tmp_path / "o.pt"], "never loaded"),
        ([model_dir, *by_ids, "--dtype", "float16"], "float32 or float64"),
        ([model_dir, *by_ids], r"contexts[1]: expected token ids in [0, 14)"),
        ([model_dir, "--contexts", tmp_path / "blank.txt", "--out", out],
         "blank.txt:2: expected one context per line"),
        ([model_dir, "--token-ids", tmp_path / "sup.txt", "--out", out],
         "sup.txt:1: expected whitespace-separated non-negative token ids"),
        ([tmp_path / "file", *by_ids], "(config.json and *.safetensors) or a .gguf file, got a"),
        ([tmp_path / "empty", *by_ids], "with config.json (or one .gguf file), got neither"),
        ([pickled, *by_ids], "only pickle-based ['pytorch_model.bin'] (never unpickled)"),
        ([model_dir, "--token-ids", ids, "--out", tmp_path], "--out: expected a file to write"),
        ([model_dir, "--token-ids", ids, "--out", tmp_path / "absent" / "o.npz"],
         "expected a writable directory"),
    ]  # fmt: skip
    for args, message in cases:
        result = _run("export", *args, "--no-progress")
        err = result.stderr
        assert result.exit_code == 2, (args, result.output, err)
        line = err.strip()
        assert line.startswith("idlin: error: ") and "\n" not in line, line
        assert message in line, (message, line)
    assert not out.exists()


# -- prefixes: every position of one forward pass per text


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_prefix_export_equals_each_prefix_run_alone(models, tokenizer, arch, side):
    model = models[arch]
    texts = ["the cat sat on the mat", "the cat ran", "easy", "a dog ran on the easiest mat"]
    ex = export_hf(model, tokenizer, texts, batch_size=3, progress=False, padding_side=side,
                   prefixes=True)  # fmt: skip
    # The independent reference: every distinct prefix of every text, run alone, in text order.
    prefixes = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        prefixes += [ids[: k + 1] for k in range(len(ids)) if ids[: k + 1] not in prefixes]
    assert len(prefixes) == 6 + 1 + 1 + 7  # "the", "the cat" are shared with the first text
    assert ex.contexts == tuple(tokenizer.decode(p) for p in prefixes)
    assert ex.contexts[:3] == ("the", "the cat", "the cat sat") and len(set(ex.contexts)) == 15
    rows = [_alone(model, p) for p in prefixes]
    logits, hidden = np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
    np.testing.assert_allclose(ex.embeddings, hidden, rtol=0, atol=1e-5)
    got = ex.embeddings.astype(np.float64) @ ex.unembeddings.T.astype(np.float64)
    np.testing.assert_allclose(got, logits, rtol=0, atol=1e-5 * np.abs(logits).max())
    assert 0 < ex.max_logit_error <= 1e-5 * np.abs(logits).max()


def test_prefix_export_of_token_ids_and_without_logits_to_keep(models, monkeypatch):
    """Token-id texts are named by their ids; a model whose forward lacks `logits_to_keep` (older
    architectures) gets full logits and the same F."""
    model = models["llama"]
    ids = [[1, 2, 3, 4], [5, 6], [1, 2, 9]]
    ex = export_hf(model, None, ids, batch_size=2, progress=False, prefixes=True)
    assert ex.contexts == ("1", "1 2", "1 2 3", "1 2 3 4", "5", "5 6", "1 2 9")
    ref = np.stack([_alone(model, [int(t) for t in name.split()])[1] for name in ex.contexts])
    np.testing.assert_allclose(ex.embeddings, ref, rtol=0, atol=1e-5)
    forward = model.forward

    def plain(input_ids=None, attention_mask=None, position_ids=None, use_cache=None):
        return forward(input_ids=input_ids, attention_mask=attention_mask,
                       position_ids=position_ids, use_cache=use_cache)  # fmt: skip

    monkeypatch.setattr(model, "forward", plain)
    full = export_hf(model, None, ids, batch_size=2, progress=False, prefixes=True)
    np.testing.assert_allclose(full.embeddings, ex.embeddings, rtol=0, atol=1e-6)
    last = export_hf(model, None, ids, batch_size=2, progress=False)
    np.testing.assert_allclose(last.embeddings, ex.embeddings[[3, 5, 6]], rtol=0, atol=1e-5)


def test_batches_are_sorted_by_length_and_ask_only_for_the_exported_logits(models, tokenizer):
    model = models["gpt2"]
    seen = []

    def spy(_module, _args, kwargs, out):
        seen.append((tuple(kwargs["input_ids"].shape), tuple(out.logits.shape)))

    handle = model.register_forward_hook(spy, with_kwargs=True)
    try:
        texts = ["the cat sat on the mat", "dog", "a dog ran on the mat", "easy"]
        ex = export_hf(model, tokenizer, texts, batch_size=2, progress=False, padding_side="left")
    finally:
        handle.remove()
    # lengths 6, 1, 6, 1: sorted, each batch has one length, and one logit row per context
    assert seen == [((2, 1), (2, 1, len(WORDS))), ((2, 6), (2, 1, len(WORDS)))]
    logits, _ = _reference(model, tokenizer, texts)
    np.testing.assert_allclose(ex.embeddings @ ex.unembeddings.T, logits, rtol=0, atol=1e-5 * 6)


def test_cli_export_prefixes(tmp_path, model_dir, models, tokenizer):
    (tmp_path / "texts.txt").write_text("the cat sat\na dog ran\n", encoding="utf-8")
    out = tmp_path / "prefixes.safetensors"
    result = _run("export", model_dir, "--prefixes", tmp_path / "texts.txt", "--out", out,
                  "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "N = 6 contexts" in result.output
    assert "exported 6 every prefix of 2 texts in" in result.output
    named = io.load_named(out)
    assert named.contexts == ("the", "the cat", "the cat sat", "a", "a dog", "a dog ran")
    logits, _ = _reference(models["gpt2"], tokenizer, list(named.contexts))
    got = np.asarray(named.predictor.logits(), dtype=np.float64)
    np.testing.assert_allclose(got, logits, rtol=0, atol=1e-5 * np.abs(logits).max())
