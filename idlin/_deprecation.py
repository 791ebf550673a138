"""Deprecated keyword arguments and names, kept for one release (README, "Deprecations").

A public function folds its deprecated tolerance keywords (`rtol=`, `tol=`, `near_rtol=`) into a
`Precision` at its entry (`_precision.with_legacy`) and passes only `precision=` on, so one call
warns once however many routines the policy then reaches.
"""

from __future__ import annotations

import warnings


class IdlinDeprecationWarning(DeprecationWarning):
    """A keyword or name idlin still accepts but will remove in its next release."""


def warn_deprecated(where: str, fields: dict[str, str], *, stacklevel: int) -> None:
    """One `IdlinDeprecationWarning` naming every deprecated keyword of one call and the
    `Precision` field that replaces it, attributed to the caller `stacklevel` frames up."""
    old = ", ".join(f"{kw}=" for kw in fields)
    new = ", ".join(f"{field}=..." for field in fields.values())
    warnings.warn(
        f"{where}: {old} is deprecated and will be removed in the next release; pass "
        f"precision=idlin.Precision({new})",
        IdlinDeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def warn_renamed(where: str, renamed: dict[str, str], *, stacklevel: int) -> None:
    """One `IdlinDeprecationWarning` naming every old name of one call and its new name,
    attributed to the caller `stacklevel` frames up."""
    pairs = ", ".join(f"{old!r} → {new!r}" for old, new in renamed.items())
    warnings.warn(
        f"{where}: renamed, the old names still work for this release: {pairs}",
        IdlinDeprecationWarning,
        stacklevel=stacklevel + 1,
    )
