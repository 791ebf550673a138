"""`idlin export` on a real LM: SmolLM2-135M-Instruct from its GGUF file (tests/_real_lm.py).

References are independent of the exporter: contexts run *alone* through the transformers model
(no padding, no batching, no hook), their logits and `hidden_states[-1]` compared in float64 with
the file read back. Skipped with a reason when the GGUF file is absent (`.ci/run` fetches it).
"""

import re

import numpy as np
import pytest
from _real_lm import smollm2_contexts, texts

from idlin.core import io
from idlin.core._errors import FileFormatError

V, D = 49152, 576


def _alone(model, ids):
    import torch

    with torch.inference_mode():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    return out.logits[0].double().numpy(), out.hidden_states[-1][0].double().numpy()


def _max_error(text):
    return float(re.search(r"max \|F Gᵀ \+ b − model logits\| = ([0-9.e+-]+)", text)[1])


def test_gguf_export_through_the_cli_reproduces_logits_and_stores_names(smollm2_export, smollm2):
    model, tokenizer = smollm2
    named = io.load_named(smollm2_export)
    printed = smollm2_export.with_suffix(".txt").read_text(encoding="utf-8")
    assert f"N = 200 contexts, V = {V} tokens, width d = {D} (float32, llama)" in printed
    assert "caveat: identifiability is relative to the N = 200 contexts" in printed
    assert _max_error(printed) < 1e-3
    contexts = smollm2_contexts()
    assert named.contexts == tuple(contexts) and len(set(contexts)) == 200
    assert len(named.tokens) == V and named.tokens[2807] == "Ġeasy"
    assert list(named.tokens[:3]) == tokenizer.convert_ids_to_tokens([0, 1, 2])
    arrays = io.read_arrays(smollm2_export)
    F, G = arrays["embeddings"].astype(np.float64), arrays["unembeddings"].astype(np.float64)
    assert F.shape == (200, D) and G.shape == (V, D) and "bias" not in arrays
    np.testing.assert_array_equal(arrays["unembeddings"], model.lm_head.weight.detach().numpy())
    for x in (0, 57, 123, 199):  # short and long contexts, several batches
        logits, hidden = _alone(model, tokenizer(contexts[x])["input_ids"])
        np.testing.assert_allclose(F[x], hidden[-1], rtol=0, atol=2e-4 * np.abs(hidden).max())
        np.testing.assert_allclose(F[x] @ G.T, logits[-1], rtol=0, atol=1e-4 * np.abs(logits).max())


def test_prefix_export_has_every_prefix_of_every_text(smollm2_prefix_export, smollm2):
    model, tokenizer = smollm2
    named = io.load_named(smollm2_prefix_export)
    F = io.read_arrays(smollm2_prefix_export)["embeddings"].astype(np.float64)
    G = model.lm_head.weight.detach().double().numpy()
    printed = smollm2_prefix_export.with_suffix(".txt").read_text(encoding="utf-8")
    assert _max_error(printed) < 1e-3 and "every prefix of 48 texts" in printed
    # Independent count: distinct token-id prefixes over the texts, in text order.
    seen, order = set(), []
    for text in texts():
        ids = tokenizer(text)["input_ids"]
        for k in range(1, len(ids) + 1):
            if tuple(ids[:k]) not in seen:
                seen.add(tuple(ids[:k]))
                order.append(ids[:k])
    assert len(order) == F.shape[0] > D  # N > d: a diverse-capable context set
    assert named.contexts == tuple(tokenizer.decode(p) for p in order)
    # The text's full prefix is the text; its rows are the positions of one pass run alone.
    third = texts()[2]
    assert third in named.contexts
    ids = tokenizer(third)["input_ids"]
    logits, hidden = _alone(model, ids)
    rows = [order.index(ids[:k]) for k in range(1, len(ids) + 1)]
    np.testing.assert_allclose(F[rows], hidden, rtol=0, atol=2e-4 * np.abs(hidden).max())
    np.testing.assert_allclose(F[rows] @ G.T, logits, rtol=0, atol=1e-4 * np.abs(logits).max())


def _resolve(tmp_path, names, fields, **kw):
    path = tmp_path / "p.tsv"
    path.write_text("".join(f"{f}\tĠthe\n" for f in fields), encoding="utf-8")
    return io.read_pairs(path, names, what="token", **kw)[:, 0].tolist()


def test_words_reach_smollm2_tokens(smollm2_export, smollm2, tmp_path):
    _, tokenizer = smollm2
    names = io.load_named(smollm2_export).tokens
    ids = tokenizer.convert_tokens_to_ids
    spaced, bare = ids("Ġeasy"), ids("easy")
    assert spaced == tokenizer(" easy", add_special_tokens=False)["input_ids"][0] != bare
    assert _resolve(tmp_path, names, ['" easy"', "Ġeasy", '"easy"']) == [spaced, spaced, bare]
    with pytest.raises(FileFormatError, match=rf"'easy' \(@{bare}\), 'Ġeasy' \(@{spaced}\)"):
        _resolve(tmp_path, names, ["easy"])
    # A word with only the space-marked token resolves bare (the usual case for adjectives).
    assert "easiest" not in names
    assert _resolve(tmp_path, names, ["easiest"]) == [ids("Ġeasiest")]


def test_a_multi_token_word_is_reported_with_the_tokenizers_split(
    smollm2_export, smollm2, tmp_path
):
    _, tokenizer = smollm2
    names = io.load_named(smollm2_export).tokens
    split = tokenizer.tokenize(" luckiest")
    assert len(split) > 1  # lucky → luckiest is not one token in SmolLM2
    with pytest.raises(FileFormatError) as info:
        _resolve(tmp_path, names, ['" luckiest"'])
    message = str(info.value)
    assert "unknown token name '\" luckiest\"'" in message
    assert "not a single token in this vocabulary" in message
    assert f"' luckiest' is {' + '.join(map(repr, split))}" in message  # same as the tokenizer
    assert _resolve(tmp_path, names, ['" luckiest"'], first_subtoken=True) == [
        tokenizer.convert_tokens_to_ids(split[0])
    ]


def test_smollm2_ranks_obey_sylvester_in_float32_and_float64(smollm2_export, smollm2_prefix_export):
    """THEORY §3's regression: the float32 export printed r = 575 with k_f = k_g = d = 576. Now
    r = d when N > d (diverse), r = N when N < d, the same for the numbers saved as float64, and
    nothing is a threshold's choice (the gap where r is counted is infinite: nothing cut)."""
    import idlin

    for path, want in ((smollm2_prefix_export, (D, D, D)), (smollm2_export, (200, D, 200))):
        p32 = io.load(path)
        p64 = idlin.Predictor(np.asarray(p32.embeddings, np.float64),
                              np.asarray(p32.unembeddings, np.float64))  # fmt: skip
        for p in (p32, p64):
            a = idlin.analyze(p)
            got = (int(a.embedding_rank), int(a.unembedding_rank), int(a.effective_complexity))
            assert got == want
            assert float(a.rank_gap) == np.inf


def test_inspect_on_smollm2_names_pairs_and_reports_controls(smollm2_prefix_export, tmp_path):
    """`idlin inspect` on the real model: words reach tokens, the per-pair table and the controls
    are in the JSON by name, a multi-token word is refused by name unless --first-subtoken."""
    import json

    from test_cli_helpers import run_idlin

    pairs = tmp_path / "sup.tsv"
    pairs.write_text('" easy"\t" easiest"\n" big"\t" biggest"\n" small"\t" smallest"\n'
                     '" fast"\t" fastest"\n', encoding="utf-8")  # fmt: skip
    proc = run_idlin("inspect", smollm2_prefix_export, "--token-pairs", pairs, "--json",
                     "--permutations", "50", timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["ranks"]["effective_complexity"] == D
    (par,) = [p for p in out["properties"] if p["name"] == "parallelism"]
    names = [(q["source_name"], q["target_name"]) for q in par["identifiable"]["pairs"]]
    assert names[0] == ("Ġeasy", "Ġeasiest") and len(names) == 4
    controls = {c["control"]: c for c in par["identifiable"]["controls"]}
    assert "shuffled targets" in controls
    assert 0 < controls["shuffled targets"]["p_value"] <= 1
    pairs.write_text('" lucky"\t" luckiest"\n" easy"\t" easiest"\n', encoding="utf-8")
    refused = run_idlin("inspect", smollm2_prefix_export, "--token-pairs", pairs, timeout=600)
    assert refused.returncode == 2 and "luckiest" in refused.stderr
    assert "not a single token" in refused.stderr
