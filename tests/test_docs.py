"""docs/theory.md is the document the product cites: every citation must land on a heading.

Citations have the form `docs/theory.md §N` or `docs/theory.md §N.M`, optionally continued by
ranges and lists (`§6–§7`, `§4, §8`); every section named must be a heading of docs/theory.md
(`## N. …` or `### N.M …`). Pure text processing: no idlin import, milliseconds.
"""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"

_HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?)\.?\s+\S", re.MULTILINE)
_SECTION = r"§\s?(\d+(?:\.\d+)?)"
# A citation and its continuations: "docs/theory.md §6–§7", "docs/theory.md §4, §8 and §9".
_CONTINUATION = r"(?:\s*(?:–|—|-|,|and|or)\s*§\s?\d+(?:\.\d+)?)*"
_CITATION = re.compile(r"docs/theory\.md\s*(" + _SECTION + _CONTINUATION + ")")
_NUMBER = re.compile(_SECTION)
# Citations of the team-internal spec, which a user of the product cannot find.
_UNREACHABLE = re.compile(r"THEORY\.md|THEORY §")
_OLD_CITATION = re.compile(r"THEORY (" + _SECTION + _CONTINUATION + ")")


def headings(text: str) -> dict[str, int]:
    """Section number → heading level (2 for `## N.`, 3 for `### N.M`)."""
    found: dict[str, int] = {}
    for hashes, number in _HEADING.findall(text):
        level = len(hashes)
        expected = 2 if "." not in number else 3
        assert level == expected, f"heading §{number} has level {level}, expected {expected}"
        assert number not in found, f"heading §{number} appears twice"
        found[number] = level
    return found


def cited_sections(text: str, pattern: re.Pattern[str] = _CITATION) -> list[str]:
    """Every section number named by a citation matching `pattern` in `text`."""
    return [n for match in pattern.finditer(text) for n in _NUMBER.findall(match.group(1))]


def citing_files() -> list[pathlib.Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "idlin").rglob("*.py"))]
    files += sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "docs").glob("*.md"))
    return [f for f in files if f.is_file()]


def _unresolved(pattern: re.Pattern[str]) -> list[str]:
    sections = headings(THEORY.read_text(encoding="utf-8"))
    bad = []
    for path in citing_files():
        text = path.read_text(encoding="utf-8")
        for line_no, line in enumerate(text.splitlines(), start=1):
            for number in cited_sections(line, pattern):
                if number not in sections:
                    bad.append(f"{path.relative_to(ROOT)}:{line_no}: §{number}")
    return bad


# --- the parser itself (so that the checks below can fail) --------------------------------------


def test_parser_finds_headings_and_citations():
    text = "# Title\n## 1. One\n### 1.1 Sub\n## 2. Two\n### 2.1. Sub\nnot ## 3. a heading\n"
    assert headings(text) == {"1": 2, "1.1": 3, "2": 2, "2.1": 3}
    line = (
        "see docs/theory.md §6–§7, docs/theory.md §3.1 and docs/theory.md §4, §8; "
        "docs/theory.md §5 move 5; docs/theory.md §7.4."
    )
    assert cited_sections(line) == ["6", "7", "3.1", "4", "8", "5", "7.4"]
    assert cited_sections("THEORY §2–§4", _OLD_CITATION) == ["2", "4"]
    assert _UNREACHABLE.search("(THEORY §3)") and _UNREACHABLE.search("see THEORY.md")
    assert not _UNREACHABLE.search("docs/theory.md §3")


def test_parser_rejects_misnumbered_headings():
    with pytest.raises(AssertionError, match="level"):
        headings("## 3.1 wrong level\n")
    with pytest.raises(AssertionError, match="twice"):
        headings("## 2. a\n## 2. b\n")


# --- docs/theory.md ------------------------------------------------------------------------------


def test_theory_has_sections_1_to_10_in_order():
    """The spec's sections (../shared/THEORY.md §1–§10; §10 real language models)."""
    text = THEORY.read_text(encoding="utf-8")
    sections = headings(text)
    top = [n for n in sections if "." not in n]
    assert top == [str(i) for i in range(1, 11)], top
    # Subsections the product and the spine cite: the precision policy, the decomposition and
    # the all-or-none statements.
    for number in ("3.1", "3.2", "7.1", "7.2", "7.3", "7.4"):
        assert number in sections, f"docs/theory.md lacks §{number}"
    # Subsections follow their section and are numbered 1, 2, … without gaps.
    order = [m.group(2) for m in _HEADING.finditer(text)]
    current, sub = 0, 0
    for number in order:
        if "." not in number:
            current, sub = int(number), 0
        else:
            major, minor = (int(x) for x in number.split("."))
            assert major == current and minor == sub + 1, f"§{number} out of order"
            sub = minor


def test_theory_internal_references_resolve():
    text = THEORY.read_text(encoding="utf-8")
    sections = headings(text)
    refs = set(_NUMBER.findall(text))
    assert refs, "docs/theory.md cross-references no section"
    missing = sorted(refs - set(sections))
    assert not missing, f"docs/theory.md refers to missing sections: {missing}"


# --- citations elsewhere --------------------------------------------------------------------------


def test_every_theory_md_citation_resolves():
    bad = _unresolved(_CITATION)
    assert not bad, "citations of docs/theory.md without a matching heading:\n" + "\n".join(bad)


def test_old_theory_citations_would_resolve_after_migration():
    """Citations still written `THEORY §N` must name sections docs/theory.md has, so that
    migrating them to `docs/theory.md §N` keeps them valid."""
    bad = _unresolved(_OLD_CITATION)
    assert not bad, "THEORY citations without a heading in docs/theory.md:\n" + "\n".join(bad)


def test_no_citation_of_the_unreachable_spec():
    files = [ROOT / "README.md", *sorted((ROOT / "idlin").rglob("*.py"))]
    files += sorted((ROOT / "notebooks").glob("*.py"))
    bad = [
        f"{path.relative_to(ROOT)}:{line_no}: {line.strip()[:80]}"
        for path in files
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _UNREACHABLE.search(line)
    ]
    assert not bad, f"{len(bad)} citations of THEORY.md / THEORY § remain:\n" + "\n".join(bad)
