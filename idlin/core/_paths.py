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

from ._errors import ConfigError, FileFormatError, OutputError


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
        got = "a directory" if path.is_dir() else kind_of(path)
        raise FileFormatError(f"{path}: expected {what}, got {got}")
    return path


def kind_of(path: Path) -> str:
    """What is at `path` that is not a regular file or a directory, in words."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError:
        return "no such file"
    kinds = {"a FIFO": stat.S_ISFIFO, "a socket": stat.S_ISSOCK,
             "a character device": stat.S_ISCHR, "a block device": stat.S_ISBLK}  # fmt: skip
    for what, test in kinds.items():
        if test(mode):
            return f"{what}, not a regular file"
    return "not a regular file"


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


def not_a_link(path: str | os.PathLike) -> str:
    """`path` as a str, once it is known not to be a symbolic link: idlin never writes *through*
    a link (a link planted in an output directory would make it truncate or alter the file it
    points to). Files written whole go through `atomic_write`, which replaces a link itself;
    files updated in place (locks, SQLite stores) are checked here or opened with `open_output`.

    Raises:
        OutputError: `path` is a symbolic link.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        raise OutputError(
            f"{path}: expected a regular file (or none), got a symbolic link to "
            f"{os.readlink(path)!r}; idlin does not write through links: remove it"
        )
    return path


def open_output(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """`os.open(path, flags)` for writing, never following a symbolic link at `path`
    (`O_NOFOLLOW`, no race between a check and the open).

    Raises:
        OutputError: `path` is a symbolic link.
        OSError: any other failure of `os.open`.
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError:
        if os.path.islink(path):
            not_a_link(path)
        raise


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[Any]], object], *, binary: bool
) -> None:
    """Write a file through `write(fh)` atomically: into a temporary `PATH.*.tmp` next to it,
    fsync, `os.replace` — a reader (or a run after `kill -9`) sees the old file or the new one,
    never half of one; the temporary is removed if `write` fails. Temporaries a kill left behind
    are the caller's to sweep up (they are named after `path`). A symbolic link at `path` is
    replaced by the file, never written through (`os.replace` renames over the link itself).

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
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, OutputError) and not err.filename:
            # A full disk fails in write/flush/fsync with no file named: name the output.
            raise OSError(err.errno, err.strerror or str(err), path) from err
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """`Path(path).write_text(text)` (UTF-8), atomically and never through a link."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")), binary=True)


def save_figure(fig: Any, path: str | os.PathLike, **savefig: Any) -> None:
    """`fig.savefig(path, **savefig)` (format from the suffix), atomically and never through a
    link: a full disk leaves the old file (or none), not a 0-byte PNG."""
    fmt = savefig.pop("format", None) or Path(path).suffix.lstrip(".") or "png"
    atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, **savefig), binary=True)
