"""The context files `idlin export` reads: texts (one per line) or token ids (one context per line).

    contexts.txt   one context per line, taken verbatim (spaces kept; only the line end removed)
    ids.txt        one context per line: whitespace-separated token ids, e.g. `464 6193 1909`

A blank line is refused rather than skipped, so that context x is always line x + 1.
"""

from __future__ import annotations

import os

from ...core._errors import FileFormatError
from ...core._probe_files import ascii_integer, read_text_file


def _lines(path: str | os.PathLike, what: str) -> list[str]:
    text = read_text_file(path, what)
    # Split on "\n" only: str.splitlines would also split a text at \x0b, \x1c, U+2028, ….
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise FileFormatError(
                f"{path}:{number}: expected one context per line, got a blank line (blank lines "
                "are not skipped, so that context x stays line x + 1)"
            )
    if not lines:
        raise FileFormatError(f"{path}: expected at least one context, got an empty file")
    return lines


def read_contexts(path: str | os.PathLike) -> list[str]:
    """The texts of a contexts file, one per line (see the module docstring).

    Raises:
        FileFormatError: missing or unreadable file, a blank line (with its number), no lines.

    Example:
        >>> import pathlib, tempfile, os
        >>> from idlin.apps.export import read_contexts
        >>> path = os.path.join(tempfile.mkdtemp(), "contexts.txt")
        >>> _ = pathlib.Path(path).write_text("The cat is the\\n  She was\\n")
        >>> read_contexts(path)
        ['The cat is the', '  She was']
    """
    return _lines(path, "contexts (one text per line)")


def read_token_ids(path: str | os.PathLike) -> list[list[int]]:
    """The token-id contexts of a file, one context per line of whitespace-separated ids.

    Raises:
        FileFormatError: missing or unreadable file, a blank line, a field that is not a
            non-negative ASCII integer (with `path:line`), no lines.

    Example:
        >>> import pathlib, tempfile, os
        >>> from idlin.apps.export import read_token_ids
        >>> path = os.path.join(tempfile.mkdtemp(), "ids.txt")
        >>> _ = pathlib.Path(path).write_text("1 2 3\\n7\\n")
        >>> read_token_ids(path)
        [[1, 2, 3], [7]]
    """
    contexts = []
    for number, line in enumerate(_lines(path, "token-ids (one context per line)"), start=1):
        ids = []
        for field in line.split():
            value = ascii_integer(field)
            if value is None or value < 0:
                raise FileFormatError(
                    f"{path}:{number}: expected whitespace-separated non-negative token ids "
                    f"(ASCII digits), got {field[:20]!r}"
                )
            ids.append(value)
        contexts.append(ids)
    return contexts
