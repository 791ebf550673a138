"""The exclusive lock of a sweep directory: one writer per (directory, process index).

`run_sweep` holds `fcntl.flock(LOCK_EX | LOCK_NB)` on `DIR/records-pNNNN.lock` for its whole run
and writes its pid and host into the file; a second run on the same directory (and process
index) is refused at once with an `OutputError` naming the holder, instead of retraining
everything next to the first and racing it for checkpoints. The kernel drops the lock when the
holder dies (even by `kill -9`), so a stale lock file never blocks a rerun. Processes of one
multi-host sweep have different indices, hence different locks. Readers (`--status`,
`sweep-summary`) take no lock; `writer_active` tells them whether one is running. `idlin study`
takes the same lock (`DIR/study-pNNNN.lock`). A lock file that is a symbolic link is refused, not
followed (opening it for writing would truncate the link's target).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import socket
from collections.abc import Iterator

from ...core._errors import OutputError
from ...core._paths import open_output


def lock_path(directory: str, process_index: int, stem: str = "records") -> str:
    """`DIR/STEM-pNNNN.lock` (`records` for a sweep, next to the store file it protects;
    `study` for a study)."""
    return os.path.join(directory, f"{stem}-p{process_index:04d}.lock")


@contextlib.contextmanager
def exclusive(
    directory: str, process_index: int, *, stem: str = "records", what: str = "sweep"
) -> Iterator[None]:
    """Hold the writer's lock of `directory` for process `process_index` (`what`, a sweep or a
    study, names the holder in the error).

    Raises:
        OutputError: another live process holds it (its pid and host are named), the lock
            file cannot be created (a read-only or unwritable directory), or it is a symbolic
            link (never followed: the link's target would be truncated).
    """
    path = lock_path(directory, process_index, stem)
    try:
        fd = open_output(path, os.O_RDWR | os.O_CREAT)
    except OutputError:
        raise
    except OSError as err:
        raise OutputError(
            f"--out {directory}: expected a writable directory, got "
            f"{(err.strerror or str(err)).lower()} creating {os.path.basename(path)}"
        ) from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            pid, host = [*holder, "?", "?"][:2]
            raise OutputError(
                f"{directory} is locked by pid {pid} (host {host}): another {what} is "
                "writing to it; wait for it to finish or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def writer_active(directory: str, stem: str = "records") -> bool:
    """Whether some process holds a writer's lock in `directory` right now."""
    for path in glob.glob(os.path.join(glob.escape(directory), f"{stem}-p*.lock")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
    return False
