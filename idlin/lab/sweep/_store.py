"""The results store: one record per (grid point, seed), committed in SQLite transactions.

Each process writes only its own file `records-p{index}.sqlite` in the sweep directory and reads
all of them. So hosts of a multi-host sweep never contend for one database lock (SQLite's locking
is unreliable on network filesystems), and a rerun with a different process count still sees
every finished record. `(point_key, seed)` is the primary key and inserts are `ON CONFLICT DO
NOTHING`: a successful record, once committed, is final, and writing it again is a no-op. A
*failed* record (metrics with a `failed` reason, e.g. a diverged seed) is not final: `done()`
leaves it out, so the next run trains that seed again, and `put` replaces it. A crash (even
`kill -9`) leaves each file at its last committed transaction: records are all there or absent.

Readers that must not write (`--status`, `sweep-summary`, possibly on read-only media) open the
store with `ResultsStore.open_readonly`: SQLite `file:…?mode=ro` URIs, or `immutable=1` when no
writer is running and no write-ahead log is pending — then nothing is created or locked.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ...core._errors import FileFormatError, OutputError
from ...core._paths import not_a_link
from ._lock import writer_active

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    point_key TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    created REAL NOT NULL,
    process_index INTEGER NOT NULL,
    PRIMARY KEY (point_key, seed)
)
"""
_PATTERN = "records-p*.sqlite"
_KEYS = "SELECT point_key, seed, metrics FROM records"


def _plain(value: Any) -> Any:
    """JSON for the array values a program's `evaluate` may return (idlin's results are JAX
    arrays in every mode): a 0-d array becomes its Python number, others nested lists."""
    if hasattr(value, "__array__"):
        return np.asarray(value).tolist()
    raise TypeError(f"metric value of type {type(value).__name__} is not JSON serializable")


def _failed(metrics_json: str) -> bool:
    # Parsed, not json_extract: the metrics may hold NaN, which SQLite's JSON rejects.
    return "failed" in json.loads(metrics_json)


@dataclasses.dataclass(frozen=True)
class Record:
    """One trained seed at one grid point.

    Attributes:
        point_key: the grid point's key (`GridPoint.key`).
        seed: the training seed.
        config: the grid point's configuration (`GridPoint.as_dict()`), plus the seed.
        metrics: name → value (floats or ints; docs/theory.md §8 metrics and property scores).
        created: commit time, seconds since the epoch.
        process_index: the JAX process that computed it.
    """

    point_key: str
    seed: int
    config: Mapping[str, Any]
    metrics: Mapping[str, Any]
    created: float = 0.0
    process_index: int = 0

    @property
    def failed(self) -> bool:
        """A record of a seed whose training or evaluation failed (retried by the next run)."""
        return "failed" in self.metrics


def checkpoint_path(directory: str | os.PathLike[str], point_key: str) -> str:
    """Where a grid point's checkpoint lives: `DIR/checkpoints/KEY.npz`."""
    return os.path.join(os.fspath(directory), "checkpoints", f"{point_key}.npz")


def store_path(directory: str | os.PathLike[str], process_index: int) -> str:
    """The file that process `process_index` writes."""
    return os.path.join(os.fspath(directory), f"records-p{process_index:04d}.sqlite")


def _connect(path: str, journal_mode: str) -> sqlite3.Connection:
    not_a_link(path)  # SQLite would follow it and add its table to the link's target
    try:
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    except sqlite3.OperationalError as err:
        raise OutputError(f"results store {path}: expected a writable file, got {err}") from err
    try:
        conn.execute(f"PRAGMA journal_mode={journal_mode}")
        conn.execute("PRAGMA synchronous=FULL")  # a commit survives a host crash, not just kill -9
        conn.execute(_SCHEMA)
    except sqlite3.OperationalError as err:
        conn.close()
        raise OutputError(f"results store {path}: expected a writable file, got {err}") from err
    except sqlite3.DatabaseError as err:
        conn.close()
        raise FileFormatError(
            f"results store {path}: expected an SQLite database, got {err}"
        ) from err
    return conn


def _connect_readonly(path: str, immutable: bool) -> sqlite3.Connection:
    """A read-only connection: `immutable=1` (no locks, no -shm/-wal files created; right only
    when nobody writes and no write-ahead log is pending) or `mode=ro`."""
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    attempts = [uri + "&immutable=1"] if immutable else [uri, uri + "&immutable=1"]
    err: sqlite3.Error | None = None
    for attempt in attempts:  # mode=ro fails on read-only media without a -shm file
        try:
            conn = sqlite3.connect(attempt, uri=True, timeout=60.0, isolation_level=None)
            conn.execute("SELECT count(*) FROM records").fetchone()
            return conn
        except sqlite3.Error as e:
            err = e
            conn.close()
    raise FileFormatError(f"results store {path}: expected a readable SQLite store, got {err}")


class ResultsStore:
    """Read all processes' records of one sweep directory; write this process's.

    Args:
        directory: the sweep's output directory (created if missing).
        process_index: which file this process writes (`jax.process_index()` in a multi-host run).
        journal_mode: `"wal"` (default; local disks) or `"delete"` (network filesystems).

    Raises:
        FileFormatError: a `records-p*.sqlite` file that is not an SQLite database.
        OutputError: the directory or its store file cannot be created or written.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        process_index: int = 0,
        journal_mode: str = "wal",
    ) -> None:
        self.directory = os.fspath(directory)
        self.process_index = process_index
        self.journal_mode = journal_mode
        self._conn: sqlite3.Connection | None = None
        self._immutable = False
        if journal_mode == "readonly":  # see open_readonly
            return
        ensure_directory(self.directory)
        self._conn = _connect(store_path(self.directory, process_index), journal_mode)

    @classmethod
    def open_readonly(cls, directory: str | os.PathLike[str]) -> ResultsStore:
        """Read the store of `directory` without writing anything (works on read-only media).

        Raises:
            FileFormatError: no sweep there (`directory` missing, or without `records-p*.sqlite`),
                or a store file that is not an SQLite database.
        """
        store = cls(directory, journal_mode="readonly")
        if not store._files():
            raise FileFormatError(
                f"{store.directory}: expected a sweep directory with records-p*.sqlite files "
                f"(written by `idlin sweep`), got "
                f"{'none' if os.path.isdir(directory) else 'no directory'}"
            )
        store._immutable = not writer_active(store.directory) and not any(
            os.path.exists(f + "-wal") and os.path.getsize(f + "-wal") > 0 for f in store._files()
        )
        return store

    @property
    def readonly(self) -> bool:
        """Opened by `open_readonly` (`put` is refused)."""
        return self._conn is None

    def close(self) -> None:
        """Close this process's database connection."""
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, records: Iterable[Record]) -> int:
        """Commit records in one transaction; those already present (same key and seed) are
        skipped unless the stored one failed, which is replaced. Returns how many were new."""
        rows = [
            (
                r.point_key,
                int(r.seed),
                json.dumps(dict(r.config), sort_keys=True),
                json.dumps(dict(r.metrics), sort_keys=True, default=_plain),
                time.time(),
                self.process_index,
            )
            for r in records
        ]
        conn = self._conn
        if conn is None:
            raise OutputError(f"results store {self.directory}: opened read-only, cannot write")
        conn.execute("BEGIN IMMEDIATE")
        try:
            stale = []
            for key, seed, *_ in rows:
                old = conn.execute(
                    "SELECT metrics FROM records WHERE point_key = ? AND seed = ?", (key, seed)
                ).fetchone()
                if old is not None and _failed(old[0]):
                    stale.append((key, seed))
            conn.executemany("DELETE FROM records WHERE point_key = ? AND seed = ?", stale)
            before = conn.total_changes
            conn.executemany(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(point_key, seed) DO NOTHING",
                rows,
            )
            new = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return new

    def _files(self) -> list[str]:
        return sorted(glob.glob(os.path.join(self.directory, _PATTERN)))

    def _rows(self, query: str) -> list[tuple]:
        rows: list[tuple] = []
        for path in self._files():
            if self._conn is not None and path == store_path(self.directory, self.process_index):
                rows.extend(self._conn.execute(query).fetchall())
                continue
            conn = (
                _connect(path, self.journal_mode)
                if self._conn is not None
                else _connect_readonly(path, self._immutable)
            )
            try:
                rows.extend(conn.execute(query).fetchall())
            finally:
                conn.close()
        return rows

    def done(self) -> set[tuple[str, int]]:
        """`(point_key, seed)` of every committed successful record, over all processes' files
        (failed records are not done: the next run retries them)."""
        return {(k, int(s)) for k, s, m in self._rows(_KEYS) if not _failed(m)}

    def failed(self) -> set[tuple[str, int]]:
        """`(point_key, seed)` whose only records are failed ones (retried by the next run)."""
        rows = self._rows(_KEYS)
        bad = {(k, int(s)) for k, s, m in rows if _failed(m)}
        return bad - {(k, int(s)) for k, s, m in rows if not _failed(m)}

    def records(self) -> list[Record]:
        """Every committed record over all processes' files, sorted by (key, seed). A failed
        record is listed only while its seed has no successful one (in any file), and then only
        the latest; a successful record written by two processes would appear twice
        (`ResultsStore.duplicates` counts such pairs, which must be 0)."""
        rows = self._rows(
            "SELECT point_key, seed, config, metrics, created, process_index FROM records"
        )
        every = [
            Record(k, int(s), json.loads(c), json.loads(m), float(t), int(p))
            for k, s, c, m, t, p in sorted(rows, key=lambda r: (r[0], r[1], r[4]))
        ]
        good = {(r.point_key, r.seed) for r in every if not r.failed}
        latest_failure = {(r.point_key, r.seed): r for r in every if r.failed}  # sorted by time
        return [
            r
            for r in every
            if not r.failed or ((r.point_key, r.seed) not in good and latest_failure[
                (r.point_key, r.seed)] is r)
        ]  # fmt: skip

    def duplicates(self) -> int:
        """Successful records present more than once across the processes' files (0 in a
        healthy sweep)."""
        keys = [(k, int(s)) for k, s, m in self._rows(_KEYS) if not _failed(m)]
        return len(keys) - len(set(keys))


def ensure_directory(directory: str) -> None:
    """Create `directory` (and parents) for writing, or raise a clear error.

    Raises:
        OutputError: it is an existing file, a parent is a file, or it cannot be created or
            written (read-only media, permissions).
    """
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OutputError(f"--out {directory}: expected a directory, got an existing file")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise OutputError(
            f"--out {directory}: expected a directory that can be created, got "
            f"{err.strerror.lower() if err.strerror else err}"
        ) from err
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"--out {directory}: expected a writable directory, got read-only")
