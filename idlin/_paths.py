"""Checks on user-given paths that need no computation, made before any work starts, and the one
atomic file writer.

A missing input or an output directory that cannot be written is reported in one line at once,
not after a minute of training (and without importing JAX: the command's fast error paths).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ._errors import ConfigError, FileFormatError


def require_file(path: str | os.PathLike, what: str) -> Path:
    """`path` as a `Path`, if it names an existing regular file.

    Raises:
        FileFormatError: `path` is missing or is a directory.

    Example:
        >>> require_file(__file__, "module").suffix
        '.py'
    """
    path = Path(path)
    if not path.is_file():
        got = "a directory" if path.is_dir() else "no such file"
        raise FileFormatError(f"{path}: expected {what}, got {got}")
    return path


def writable_dir(path: str | os.PathLike, option: str) -> Path:
    """`path` as a `Path`, once it is known to be a directory this process can write (created,
    with its parents, if missing): checked by creating and removing a probe file, which is the
    only test that also catches read-only mounts and ACLs.

    Raises:
        ConfigError: `path` is an existing file, or cannot be created or written.

    Example:
        >>> import tempfile
        >>> writable_dir(tempfile.gettempdir(), "--out").is_dir()
        True
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option}: expected a directory, got the existing file {path}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".idlin-write-check-"):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ConfigError(
            f"{option}: expected a writable directory, got {path} ({reason})"
        ) from None
    return path


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[Any]], None], *, binary: bool
) -> None:
    """Write a file through `write(fh)` atomically: into a temporary `PATH.*.tmp` next to it,
    fsync, `os.replace` — a reader (or a run after `kill -9`) sees the old file or the new one,
    never half of one; the temporary is removed if `write` fails. Temporaries a kill left behind
    are the caller's to sweep up (they are named after `path`).

    Example:
        >>> import json, os, tempfile
        >>> p = os.path.join(tempfile.mkdtemp(), "x.json")
        >>> atomic_write(p, lambda fh: json.dump([1], fh), binary=False)
        >>> Path(p).read_text()
        '[1]'
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
