"""Loading a model for `idlin export`: folders and GGUF files, and one specific error per way a
model cannot load (each checked before transformers runs, on small files written here).

Skipped without torch/transformers (the CI installs the `hf` extra); the GGUF cases also need
the gguf package. The real GGUF model (SmolLM2) is exercised in tests/test_real_lm.py.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from idlin.apps.export import export_hf, load_hf  # noqa: E402
from idlin.apps.export._load import locate  # noqa: E402
from idlin.core._errors import ExportError, FileFormatError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A GPT-2 folder with safetensors weights and no tokenizer files."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=12, n_positions=8,
                        bos_token_id=0, eos_token_id=0)  # fmt: skip
    root = tmp_path_factory.mktemp("load") / "no-tokenizer"
    GPT2LMHeadModel(config).save_pretrained(root)
    return root


def test_a_folder_without_tokenizer_files_loads_no_tokenizer(tiny_dir):
    # transformers would build an empty GPT2Tokenizer from config.json and encode every text to
    # no tokens; idlin says what is missing instead, and token ids still work.
    model, tokenizer = load_hf(tiny_dir, progress=False)
    assert tokenizer is None
    with pytest.raises(ExportError, match=r"texts need a tokenizer, got none .*tokenizer.json"):
        export_hf(model, tokenizer, ["the cat"], progress=False)
    ex = export_hf(model, tokenizer, [[1, 2], [3]], progress=False)
    assert ex.contexts == ("1 2", "3") and ex.max_logit_error < 1e-5


def test_an_empty_tokenizer_is_reported_with_the_text(tiny_dir):
    from transformers import AutoTokenizer

    empty = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)
    assert empty("the cat")["input_ids"] == []  # the behaviour the check guards against
    model, _ = load_hf(tiny_dir, progress=False)
    with pytest.raises(ExportError, match=r"contexts\[0\]: expected at least one token, got none "
                       r"from the text 'the cat' \(an empty tokenizer\?\)"):  # fmt: skip
        export_hf(model, empty, ["the cat"], progress=False)


def _copy(src, dst, **config_changes):
    dst.mkdir()
    config = json.loads((src / "config.json").read_text())
    (dst / "config.json").write_text(json.dumps({**config, **config_changes}))
    return dst


def test_safetensors_that_are_not_safetensors_or_float8_are_refused(tmp_path, tiny_dir):
    from safetensors.torch import save_file

    renamed = _copy(tiny_dir, tmp_path / "renamed")
    (renamed / "model.safetensors").write_bytes(b"\x80\x04\x95" + bytes(64))  # a pickle's start
    want = r"model.safetensors: expected a safetensors file \(an 8-byte .* got 67 bytes"
    with pytest.raises(FileFormatError, match=want):
        load_hf(renamed, progress=False)
    eight = _copy(tiny_dir, tmp_path / "fp8")
    weights = {"w": torch.zeros(4, 4).to(torch.float8_e4m3fn), "b": torch.zeros(4)}
    save_file(weights, eight / "model.safetensors")
    with pytest.raises(FileFormatError, match=r"expected float32/float16/bfloat16 weights, "
                       r"got F8_E4M3: float8"):  # fmt: skip
        load_hf(eight, progress=False)


def test_pickled_checkpoints_and_unknown_architectures_are_refused(tmp_path, tiny_dir):
    pickled = _copy(tiny_dir, tmp_path / "pickled")
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(FileFormatError, match=r"only pickle-based \['pytorch_model.bin'\] "
                       r"\(never unpickled\)"):  # fmt: skip
        load_hf(pickled, progress=False)
    vit = _copy(tiny_dir, tmp_path / "vit", model_type="vit")
    (vit / "model.safetensors").write_bytes((tiny_dir / "model.safetensors").read_bytes())
    with pytest.raises(ExportError, match=r"expected a causal LM architecture transformers "
                       r"knows .* got 'vit'"):  # fmt: skip
        load_hf(vit, progress=False)
    custom = _copy(tiny_dir, tmp_path / "custom", model_type="mine", auto_map={"x": "y"})
    (custom / "model.safetensors").write_bytes((tiny_dir / "model.safetensors").read_bytes())
    with pytest.raises(ExportError, match=r"got 'mine' \(custom code, auto_map, is never run\)"):
        load_hf(custom, progress=False)


def _gguf(path, architecture):
    gguf = pytest.importorskip("gguf")
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_files_are_located_and_checked(tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    _gguf(one / "m.gguf", "rwkv6")
    assert locate(one) == (one, "m.gguf") and locate(one / "m.gguf") == (one, "m.gguf")
    with pytest.raises(ExportError, match=r"m.gguf: expected a GGUF architecture transformers "
                       r"can load, got 'rwkv6' \(supported: .*llama"):  # fmt: skip
        load_hf(one / "m.gguf", progress=False)
    _gguf(one / "n.gguf", "llama")
    with pytest.raises(FileFormatError, match=r"expected one .gguf file in the folder, got 2 "
                       r"\(m.gguf, n.gguf\): name the file"):  # fmt: skip
        load_hf(one, progress=False)
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04" + bytes(20))  # e.g. the wheel itself, renamed
    with pytest.raises(FileFormatError, match=r"fake.gguf: expected a GGUF file \(magic "
                       r"b'GGUF'\), got b'PK\\x03\\x04'"):  # fmt: skip
        load_hf(fake, progress=False)
    other = tmp_path / "weights.pt"
    other.write_bytes(b"\x80\x04")
    with pytest.raises(FileFormatError, match=r"or a .gguf file, got a .pt file"):
        load_hf(other, progress=False)


def test_gemma3_without_softcapping_exports():
    """Gemma 3 (270M's config has final_logit_softcapping None) is a plain softmax of f·g."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(3)
    config = Gemma3TextConfig(
        vocab_size=14, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=16,
        pad_token_id=0, bos_token_id=1, eos_token_id=1, final_logit_softcapping=None,
    )  # fmt: skip
    model = Gemma3ForCausalLM(config).eval()
    ids = [[1, 2, 3], [5, 6]]
    ex = export_hf(model, None, ids, progress=False, prefixes=True)
    with torch.inference_mode():
        ref = np.concatenate([model(torch.tensor([r])).logits[0].double().numpy() for r in ids])
    got = ex.embeddings.astype(np.float64) @ ex.unembeddings.T.astype(np.float64)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * max(1, np.abs(ref).max()))
    capped = Gemma3ForCausalLM(Gemma3TextConfig(**{**config.to_dict(),
                                                   "final_logit_softcapping": 30.0}))  # fmt: skip
    with pytest.raises(ExportError, match=r"final-logit soft-capping"):
        export_hf(capped, None, ids, progress=False)
