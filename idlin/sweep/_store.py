"""The results store: one record per (grid point, seed), committed in SQLite transactions.

Each process writes only its own file `records-p{index}.sqlite` in the sweep directory and reads
all of them. So hosts of a multi-host sweep never contend for one database lock (SQLite's locking
is unreliable on network filesystems), and a rerun with a different process count still sees
every finished record. `(point_key, seed)` is the primary key and inserts are `ON CONFLICT DO
NOTHING`: a record, once committed, is final, and writing it again is a no-op. A crash (even
`kill -9`) leaves each file at its last committed transaction: records are all there or absent.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import FileFormatError

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


@dataclasses.dataclass(frozen=True)
class Record:
    """One trained seed at one grid point.

    Attributes:
        point_key: the grid point's key (`GridPoint.key`).
        seed: the training seed.
        config: the grid point's configuration (`GridPoint.as_dict()`), plus the seed.
        metrics: name → value (floats or ints; THEORY §8 metrics and property scores).
        created: commit time, seconds since the epoch.
        process_index: the JAX process that computed it.
    """

    point_key: str
    seed: int
    config: Mapping[str, Any]
    metrics: Mapping[str, Any]
    created: float = 0.0
    process_index: int = 0


def store_path(directory: str | os.PathLike[str], process_index: int) -> str:
    """The file that process `process_index` writes."""
    return os.path.join(os.fspath(directory), f"records-p{process_index:04d}.sqlite")


def _connect(path: str, journal_mode: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    try:
        conn.execute(f"PRAGMA journal_mode={journal_mode}")
        conn.execute("PRAGMA synchronous=FULL")  # a commit survives a host crash, not just kill -9
        conn.execute(_SCHEMA)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise FileFormatError(
            f"results store {path}: expected an SQLite database, got {err}"
        ) from err
    return conn


class ResultsStore:
    """Read all processes' records of one sweep directory; write this process's.

    Args:
        directory: the sweep's output directory (created if missing).
        process_index: which file this process writes (`jax.process_index()` in a multi-host run).
        journal_mode: `"wal"` (default; local disks) or `"delete"` (network filesystems).

    Raises:
        FileFormatError: a `records-p*.sqlite` file that is not an SQLite database.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        process_index: int = 0,
        journal_mode: str = "wal",
    ) -> None:
        self.directory = os.fspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.process_index = process_index
        self.journal_mode = journal_mode
        self._conn = _connect(store_path(self.directory, process_index), journal_mode)

    def close(self) -> None:
        """Close this process's database connection."""
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, records: Iterable[Record]) -> int:
        """Commit records in one transaction; those already present (same key and seed) are
        skipped. Returns how many were new."""
        rows = [
            (
                r.point_key,
                int(r.seed),
                json.dumps(dict(r.config), sort_keys=True),
                json.dumps(dict(r.metrics), sort_keys=True),
                time.time(),
                self.process_index,
            )
            for r in records
        ]
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
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
            if path == store_path(self.directory, self.process_index):
                rows.extend(self._conn.execute(query).fetchall())
                continue
            conn = _connect(path, self.journal_mode)
            try:
                rows.extend(conn.execute(query).fetchall())
            finally:
                conn.close()
        return rows

    def done(self) -> set[tuple[str, int]]:
        """`(point_key, seed)` of every committed record, over all processes' files."""
        return {(k, int(s)) for k, s in self._rows("SELECT point_key, seed FROM records")}

    def records(self) -> list[Record]:
        """Every committed record over all processes' files (a record written by two processes
        would appear twice: `ResultsStore.duplicates` counts such pairs, which must be 0)."""
        rows = self._rows(
            "SELECT point_key, seed, config, metrics, created, process_index FROM records"
        )
        return [
            Record(k, int(s), json.loads(c), json.loads(m), float(t), int(p))
            for k, s, c, m, t, p in sorted(rows, key=lambda r: (r[0], r[1]))
        ]

    def duplicates(self) -> int:
        """Records present more than once across the processes' files (0 in a healthy sweep)."""
        keys = [(k, int(s)) for k, s in self._rows("SELECT point_key, seed FROM records")]
        return len(keys) - len(set(keys))
