"""Probe sets for `idlin inspect` as plain-text TSV files: items named by index or by name.

One item per line; blank lines and lines whose first non-blank character is `#` are ignored.
Fields are separated by tabs (a line without a tab is split on any whitespace, so `12 40` works).

    pairs:  source<TAB>target     e.g. `12<TAB>40`, or `easy<TAB>easiest` with names
    labels: item<TAB>label        label in {0, 1, -1, +1, true, false}

An item is
- an index: ASCII digits (`12`), 0-based, a row of `embeddings` (contexts) or `unembeddings`
  (tokens) — Unicode digits such as `²` or `١٢` are refused, not reinterpreted;
- `@12`: always index 12 (for an item whose *name* looks like a different index);
- a name, when `names` are given (the `tokens` or `contexts` a predictor file stores, see
  `idlin.core.io.load_named`): the item whose name is the field, compared exactly, then with
  surrounding whitespace stripped on both sides.
A field that is both an index and the name of a *different* item, a name shared by several items,
and an unknown name are refused with the line number (and, for an unknown name, the closest names).

Tokens are also reached from the *word* (docs/theory.md, "Tokens"; `what="token"`). Tokenizers
name a token by its text with the leading space written as a marker: `Ġeasy` (GPT-2's byte-level
BPE, where every byte has a printable stand-in: space `Ġ`, `é` → `Ã©`) or `▁easy`
(SentencePiece). The vocabulary's style is the marker its names use most. Then

- `Ġeasy`, or any exact token name: that token (exact names win);
- `"easy"` / `" easy"` (in double quotes): the token whose *text* is exactly that, leading space
  included, written in the vocabulary's style: `" easy"` is `Ġeasy` (never `easy`), `"easy"` is
  `easy`; an unquoted field with a leading space (after a tab) reads as the quoted text when the
  vocabulary has a space marker and no token carries the literal name;
- `easy` (a bare word): the token `easy` *or* `Ġeasy`; when both exist the field is ambiguous and
  refused, listing both — write `"easy"`, `" easy"` / `Ġeasy`, or `@index`;
- a word that is no single token (either reading) is refused by name with its split into the
  vocabulary's tokens (longest match over the stored names, e.g. `' luckiest'` → `Ġluck` +
  `iest`; the tokenizer's own split can differ, the file stores names only). With
  `first_subtoken=True` (opt-in, never the default) such a word resolves to the first token of
  that split — a bare word only when both readings agree on it.
Integer fields are indices as above (a token named `12` or `Ġ12` never shadows index 12 unless
the field is exactly its name).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._errors import FileFormatError

_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)  # ASCII only: int("١٢") == 12 would surprise
_AT_INDEX = re.compile(r"@([0-9]+)", re.ASCII)
_INT64 = 2**63
_LABELS = {"0": 0, "1": 1, "-1": 0, "+1": 1, "false": 0, "true": 1}
_FORMATS = {
    "pairs": "expected two tab-separated items 'source<TAB>target' (indices or names)",
    "labels": "expected 'item<TAB>label' with an index or name and a label 0/1/true/false",
}


def ascii_integer(text: str) -> int | None:
    """`int(text)` for ASCII digits with an optional sign, else None (`int` also accepts
    Unicode digits such as `١٢`, and refuses `²` although `"²".isdigit()`)."""
    return int(text) if _INTEGER.fullmatch(text) else None


class _Bad(Exception):
    """A field that does not resolve; the caller adds the file and line."""


_MARKERS = ("Ġ", "▁")  # GPT-2 byte-level BPE, SentencePiece


def _byte_level_table() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (its `bytes_to_unicode`): printable Latin-1 bytes
    are themselves, the others (space, control bytes, …) map to U+0100 onward (space → `Ġ`)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


_BYTE_LEVEL = _byte_level_table()


class _Resolver:
    """Turns a field into an item index, by index or (with `names`) by name; token names also
    from the word (module docstring)."""

    def __init__(
        self, names: Sequence[str] | None, what: str, *, first_subtoken: bool = False
    ) -> None:
        self.what = what
        self.first_subtoken = first_subtoken
        self.names = None if names is None else tuple(names)
        self.exact: dict[str, list[int]] = {}
        self.stripped: dict[str, list[int]] = {}
        for i, name in enumerate(self.names or ()):
            self.exact.setdefault(name, []).append(i)
            self.stripped.setdefault(name.strip(), []).append(i)
        counts = {m: sum(n.startswith(m) for n in self.exact) for m in _MARKERS}
        best = max(_MARKERS, key=counts.__getitem__)
        self.style = best if what == "token" and counts[best] > 0 else None
        self.longest = max(map(len, self.exact), default=0)

    def _index(self, text: str) -> int:
        value = int(text)
        if not -_INT64 <= value < _INT64:
            raise _Bad(f"{self.what} index {text} is out of range (more than 64 bits)")
        if self.names is not None and not 0 <= value < len(self.names):
            raise _Bad(f"expected a {self.what} index in [0, {len(self.names)}), got {value}")
        return value

    # -- words → tokens (what == "token")

    def _encode(self, text: str) -> str:
        """`text` as the vocabulary writes it (spaces as its marker, bytes as GPT-2's)."""
        if self.style == "Ġ":
            return "".join(_BYTE_LEVEL[b] for b in text.encode("utf-8"))
        return text.replace(" ", "▁") if self.style == "▁" else text

    def _readings(self, text: str, *, bare: bool) -> list[str]:
        """The strings `text` can stand for (a bare word also for itself after a space)."""
        forms = [text, self._encode(text)]
        if bare and self.style is not None:
            forms.append(self._encode(" " + text))
        return list(dict.fromkeys(forms))

    def _split(self, form: str) -> list[str] | None:
        """`form` as a longest-match sequence of vocabulary names, or None if it has none."""
        parts, at = [], 0
        while at < len(form):
            for end in range(min(len(form), at + self.longest), at, -1):
                if form[at:end] in self.exact:
                    parts.append(form[at:end])
                    at = end
                    break
            else:
                return None
        return parts

    def _word(self, text: str, field: str, *, bare: bool, known: Sequence[int] = ()) -> int:
        """The token a word or quoted text names (module docstring): one reading, or an error;
        `known` are the tokens the field already names (exactly or up to surrounding spaces)."""
        forms = self._readings(text, bare=bare)
        assert self.names is not None  # words are read only with names (`__call__`)
        hits = {i: self.names[i] for i in known}
        hits.update({i: form for form in forms for i in self.exact.get(form, ())})
        if len(hits) == 1:
            return next(iter(hits))
        if len(hits) > 1:
            listed = ", ".join(f"{form!r} (@{i})" for i, form in hits.items())
            marked = self._encode(" " + text.lstrip())
            raise _Bad(
                f"{self.what} {field!r} is ambiguous: {listed} all match; write the name exactly "
                f'(e.g. {marked!r}), the text in double quotes ("{text.strip()}" without, '
                f'" {text.strip()}" with the leading space) or @index'
            )
        spaced = [f" {text}"] if bare and self.style is not None else []
        splits = {t: self._split(self._encode(t)) for t in [*spaced, text]}
        splits = {t: parts for t, parts in splits.items() if parts}
        if self.first_subtoken:
            firsts = {parts[0] for parts in splits.values()}
            if len(firsts) == 1:
                return self.exact[firsts.pop()][0]
        close = difflib.get_close_matches(field, list(self.exact), n=4, cutoff=0.6)
        hint = f"; close names: {', '.join(map(repr, close))}" if close else ""
        shown = "; ".join(f"{t!r} is {' + '.join(map(repr, p))}" for t, p in splits.items())
        if not splits:
            how = "use a single-token word"
        elif self.first_subtoken:
            how = 'its readings start with different tokens: quote it (" word" or "word")'
        else:
            how = "use a single-token word, or opt in to its first sub-token (first_subtoken=True)"
        raise _Bad(
            f"unknown {self.what} name {field!r}{hint}; not a single token in this vocabulary"
            + (f" ({shown}, by longest match over the stored names)" if shown else "")
            + f": {how}"
        )

    def __call__(self, raw: str) -> int:
        field = raw.strip()
        at = _AT_INDEX.fullmatch(field)
        if at:
            return self._index(at[1])
        if self.names is None:
            if not _INTEGER.fullmatch(field):
                raise _Bad(
                    f"expected an integer {self.what} index (ASCII digits), got {field!r}"
                    + (
                        ""
                        if field.lstrip("+-").isdigit()
                        else " (names need a predictor file that stores them)"
                    )
                )
            return self._index(field)
        hits = self.exact.get(raw) or self.exact.get(field) or self.stripped.get(field) or []
        if _INTEGER.fullmatch(field):
            value = int(field)
            others = [h for h in hits if h != value]
            if others and 0 <= value < len(self.names):
                raise _Bad(
                    f"{field!r} is both {self.what} index {value} and the name of {self.what} "
                    f"{others[0]}: write @{value} for the index or @{others[0]} for the named "
                    f"{self.what}"
                )
            if len(others) == 1:  # out of range as an index: the name is the only reading
                return others[0]
            if not others:
                return self._index(field)
        if self.what == "token" and len(hits) <= 1:
            quoted = len(field) >= 2 and field[0] == field[-1] == '"'
            literal = raw != field and raw in self.exact  # spaces typed as part of a name
            if quoted and not hits:
                return self._word(field[1:-1], field, bare=False)
            if raw.startswith(" ") and self.style is not None and not literal:
                return self._word(raw.rstrip(), field, bare=False)
            if not (quoted or literal or field.startswith(_MARKERS)):
                return self._word(field, field, bare=True, known=hits)
        if not hits:
            close = difflib.get_close_matches(field, list(self.exact), n=4, cutoff=0.6)
            hint = f"; close names: {', '.join(map(repr, close))}" if close else ""
            raise _Bad(f"unknown {self.what} name {field!r}{hint}")
        if len(hits) > 1:
            listed = ", ".join(map(str, hits[:5])) + (", …" if len(hits) > 5 else "")
            raise _Bad(
                f"{self.what} name {field!r} is ambiguous: {len(hits)} {self.what}s carry it "
                f"(indices {listed}); write @index"
            )
        return hits[0]


def _fields(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def read_text_file(path: str | os.PathLike, what: str, detail: str = "") -> str:
    """The UTF-8 text of a user's input file; a FileFormatError naming `what` was expected when
    it is missing, a directory, unreadable or not UTF-8."""
    path = Path(path)
    if not path.is_file():
        missing = "a directory" if path.is_dir() else "no such file"
        raise FileFormatError(f"{path}: expected a {what} file{detail}, got {missing}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{path}: expected a UTF-8 text {what} file, got {e}") from e


def _rows(path: str | os.PathLike, kind: str, parse) -> list[tuple[int, int]]:
    path = Path(path)
    text = read_text_file(path, kind, " (TSV)")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = _fields(line)
        if len(fields) != 2:
            raise FileFormatError(
                f"{path}:{number}: {_FORMATS[kind]}, got {len(fields)} fields in {line[:60]!r}"
            )
        try:
            rows.append(parse(fields))
        except _Bad as e:
            raise FileFormatError(
                f"{path}:{number}: {e}; {_FORMATS[kind]}, got {line[:60]!r}"
            ) from None
    if not rows:
        raise FileFormatError(f"{path}: expected at least one {kind[:-1]} line, got none")
    return rows


def read_pairs(
    path: str | os.PathLike,
    names: Sequence[str] | None = None,
    *,
    what: str = "item",
    first_subtoken: bool = False,
) -> np.ndarray:
    """Item pairs from a TSV file (format: module docstring) as an (m, 2) int64 array.

    Args:
        path: the TSV file.
        names: the names of the items the pairs index (a predictor file's `contexts` for
            context pairs, `tokens` for token pairs); None allows indices only.
        what: the item kind in messages ("context", "token"); "token" also resolves words
            to tokens (module docstring).
        first_subtoken: with `what="token"`, a word that is no single token resolves to the first
            token of its split (opt-in; module docstring).

    Raises:
        FileFormatError: missing or unreadable file; a malformed line, a non-ASCII or 64-bit
            overflowing index, an unknown, ambiguous or out-of-range item (with `path:line`);
            no pairs.

    Example:
        >>> import pathlib, tempfile, os, idlin.core.io
        >>> path = os.path.join(tempfile.mkdtemp(), "pairs.tsv")
        >>> _ = pathlib.Path(path).write_text("easy\\teasiest\\n1\\t2\\n")
        >>> idlin.core.io.read_pairs(path, names=["x", "easy", "easiest"]).tolist()
        [[1, 2], [1, 2]]
    """
    resolve = _Resolver(names, what, first_subtoken=first_subtoken)
    rows = _rows(path, "pairs", lambda f: (resolve(f[0]), resolve(f[1])))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def read_labels(
    path: str | os.PathLike,
    names: Sequence[str] | None = None,
    *,
    what: str = "context",
    first_subtoken: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """`(indices, labels)` from a TSV file (format: module docstring); labels as 0/1 int64.

    Args:
        path: the TSV file.
        names: the items' names (usually a predictor file's `contexts`); None: indices only.
        what: the item kind in messages ("token": words resolve as in `read_pairs`).
        first_subtoken: as in `read_pairs`.

    Raises:
        FileFormatError: as `read_pairs`, and a label outside 0/1/-1/+1/true/false.

    Example:
        >>> import pathlib, tempfile, os, idlin.core.io
        >>> path = os.path.join(tempfile.mkdtemp(), "labels.tsv")
        >>> _ = pathlib.Path(path).write_text("# item, label\\nthe cat\\ttrue\\n0\\t0\\n")
        >>> idx, lab = idlin.core.io.read_labels(path, names=["a dog", "the cat"])
        >>> idx.tolist(), lab.tolist()
        ([1, 0], [1, 0])
    """
    resolve = _Resolver(names, what, first_subtoken=first_subtoken)

    def parse(fields: list[str]) -> tuple[int, int]:
        label = _LABELS.get(fields[1].strip().lower())
        if label is None:
            raise _Bad(f"expected a label 0/1/-1/+1/true/false, got {fields[1].strip()!r}")
        return resolve(fields[0]), label

    rows = np.array(_rows(path, "labels", parse), dtype=np.int64).reshape(-1, 2)
    return rows[:, 0], rows[:, 1]


_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def read_vector(path: str | os.PathLike, *, size: int | None = None) -> np.ndarray:
    """A real vector (e.g. a steering vector of the model's width) from a text file: numbers
    separated by whitespace or newlines, `#` comments ignored; ASCII decimal notation only.

    Raises:
        FileFormatError: a missing file, a field that is not a finite decimal number (NaN, Inf,
            Unicode digits), no numbers, or (with `size`) the wrong count.
    """
    p = Path(path)
    values = []
    for lineno, line in enumerate(read_text_file(p, "vector", " (numbers)").splitlines(), 1):
        line = line.split("#", 1)[0]
        for field in line.split():
            if not _FLOAT.fullmatch(field):
                raise FileFormatError(
                    f"{p}:{lineno}: expected a finite decimal number, got {field!r}"
                )
            values.append(float(field))
    if not values:
        raise FileFormatError(f"{p}: expected at least one number, got none")
    arr = np.asarray(values, dtype=np.float64)
    if not np.isfinite(arr).all():  # overflow such as 1e999
        raise FileFormatError(f"{p}: expected finite numbers, got {arr[~np.isfinite(arr)][:3]}")
    if size is not None and arr.size != size:
        raise FileFormatError(f"{p}: expected {size} numbers (the model's width), got {arr.size}")
    return arr
