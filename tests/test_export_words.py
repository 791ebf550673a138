"""Words → tokens in probe files (`idlin.core._probe_files`, THEORY §10 "Tokens").

Vocabularies written here in the two tokenizer styles: GPT-2's byte-level BPE (space `Ġ`,
non-ASCII bytes as printable stand-ins: `ï` → `Ã¯`) and SentencePiece (space `▁`). The same
rules on SmolLM2's real vocabulary are in tests/test_real_lm.py.
"""

import pytest

from idlin.core import io
from idlin.core._errors import FileFormatError
from idlin.core._probe_files import _BYTE_LEVEL

GPT2 = ["easy", "Ġeasy", "Ġeasiest", "Ġluck", "iest", "l", "uck", "naÃ¯ve", "12", "Ġ12", "Ġhard",
        "Ġthe", "x", "ĠNew", "ĠNewĠYork", "Ġ3"]  # fmt: skip
SP = ["▁easy", "easy", "▁hard", "▁luck", "iest", "<0xC3>"]


def _resolve(tmp_path, fields, names, **kw):
    path = tmp_path / "p.tsv"
    path.write_text("".join(f"{f}\tx\n" for f in fields), encoding="utf-8")
    names = [*names, "x"] if "x" not in names else names
    return io.read_pairs(path, names, what="token", **kw)[:, 0].tolist()


def test_byte_level_table_is_gpt2s():
    assert _BYTE_LEVEL[ord(" ")] == "Ġ" and _BYTE_LEVEL[ord("\n")] == "Ċ"
    assert _BYTE_LEVEL[ord("a")] == "a" and len(set(_BYTE_LEVEL.values())) == 256
    assert "".join(_BYTE_LEVEL[b] for b in "ï".encode()) == "Ã¯"


def test_a_word_reaches_its_token_with_or_without_the_space_marker(tmp_path):
    i = GPT2.index
    fields = ['" easy"', "Ġeasy", '"easy"', "easiest", '" easiest"', "Ġeasiest", "hard", "naïve",
              '" New York"', "3", "@9"]  # fmt: skip
    want = [i("Ġeasy"), i("Ġeasy"), i("easy"), i("Ġeasiest"), i("Ġeasiest"), i("Ġeasiest"),
            i("Ġhard"), i("naÃ¯ve"), i("ĠNewĠYork"), 3, 9]  # fmt: skip
    assert _resolve(tmp_path, fields, GPT2 + ["pad"] * 4) == want
    # "3" is index 3 although "Ġ3" is a token: integers are indices, words are not read into them.
    # An unquoted field with a leading space (after a tab) is the text " easy", too.
    (tmp_path / "q.tsv").write_text("x\t easy\n", encoding="utf-8")
    assert io.read_pairs(tmp_path / "q.tsv", GPT2, what="token")[0, 1] == i("Ġeasy")
    sp = _resolve(tmp_path, ['" easy"', '"easy"', "hard", "▁easy"], SP)
    assert sp == [0, 1, 2, 0]


def test_a_bare_word_with_two_tokens_is_ambiguous(tmp_path):
    want = (r"p.tsv:1: token 'easy' is ambiguous: 'easy' \(@0\), 'Ġeasy' \(@1\) all match; "
            r"write the name exactly \(e.g. 'Ġeasy'\), the text in double quotes "
            r"\(\"easy\" without, \" easy\" with")  # fmt: skip
    with pytest.raises(FileFormatError, match=want):
        _resolve(tmp_path, ["easy"], GPT2)
    with pytest.raises(FileFormatError, match=r"'easy' \(@1\), '▁easy' \(@0\) all match"):
        _resolve(tmp_path, ["easy"], SP)


def test_a_leading_space_never_falls_back_to_the_bare_token(tmp_path):
    vocab = ["easy", "Ġhard", "x"]  # "easy" exists, "Ġeasy" does not
    for field in ['" easy"', " easy"]:
        with pytest.raises(FileFormatError, match=r"unknown token name .*easy.*not a single "
                           r"token in this vocabulary"):  # fmt: skip
            _resolve(tmp_path, [field], vocab)
    assert _resolve(tmp_path, ["easy"], vocab) == [0]  # the bare word has one reading


def test_a_multi_token_word_is_reported_by_name_with_its_split(tmp_path):
    with pytest.raises(FileFormatError) as info:
        _resolve(tmp_path, ["luckiest"], GPT2)
    message = str(info.value)
    assert "unknown token name 'luckiest'" in message
    assert (
        "not a single token in this vocabulary (' luckiest' is 'Ġluck' + 'iest'; 'luckiest' "
        "is 'l' + 'uck' + 'iest', by longest match over the stored names)" in message
    )
    assert "opt in to its first sub-token (first_subtoken=True)" in message
    with pytest.raises(FileFormatError, match=r"'zzz'; not a single token in this vocabulary: "
                       r"use a single-token word"):  # fmt: skip
        _resolve(tmp_path, ["zzz"], GPT2)


def test_first_subtoken_is_opt_in_and_refuses_two_readings(tmp_path):
    i = GPT2.index
    got = _resolve(tmp_path, ['" luckiest"', '"luckiest"', "easy\u200b" * 0 + "Ġeasy"], GPT2,
                   first_subtoken=True)  # fmt: skip
    assert got == [i("Ġluck"), i("l"), i("Ġeasy")]
    with pytest.raises(FileFormatError, match=r"readings start with different tokens: quote it"):
        _resolve(tmp_path, ["luckiest"], GPT2, first_subtoken=True)
    with pytest.raises(FileFormatError, match=r"'iest'; not a single token"):
        _resolve(tmp_path, ['"iestl"'], ["iest", "Ġx", "x"], first_subtoken=False)
    assert _resolve(tmp_path, ["luckiest"], [*SP[:5], "x"], first_subtoken=True) == [3]


def test_context_names_keep_the_plain_rules(tmp_path):
    # Word rules are for tokens: a context named "Ġeasy" is not reached by "easy".
    path = tmp_path / "l.tsv"
    path.write_text("easy\t1\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"unknown context name 'easy'"):
        io.read_labels(path, ["Ġeasy", "the"])
