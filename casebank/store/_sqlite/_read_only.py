"""Opening a store file to read it without changing anything on disk (`cases verify`).

SQLite's own read-only mode (`?mode=ro`) still creates the -wal and -shm files beside a WAL file
and leaves them there, and `connect` makes, migrates and converts to WAL. So:

- no -wal file: whatever the store holds is in the main file, read `immutable` (no locks, no
  shared memory, nothing created). A writer that starts meanwhile appends to a new -wal, which
  this read does not see; it changes the main file only at a checkpoint (a thousand pages on).
- a -wal and a -shm: a process has the store open, or one was killed with it open: read-only, on
  the files that are there (SQLite keeps its read marks in the -shm, shared memory, as every
  reader does), so that what is committed in the -wal is read too.
- a -wal without a -shm (a copy of a killed process's files): no process has it open, and
  read-only mode would create the -shm: the main file and the -wal are read from a copy.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from casebank.errors import StoreError
from casebank.store._sqlite._connection import BUSY_TIMEOUT_MS

__all__ = ["read_only"]


@contextmanager
def read_only(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that can only read the file at `db_path`; StoreError when it cannot be opened."""
    wal, shm = _beside(db_path, "-wal"), _beside(db_path, "-shm")
    if wal.exists() and not shm.exists():
        with tempfile.TemporaryDirectory(prefix="casebank-verify-") as folder:
            copy = Path(folder) / "store.db"
            shutil.copyfile(db_path, copy)
            shutil.copyfile(wal, _beside(copy, "-wal"))
            with _connected(copy, "mode=ro", shown=db_path) as conn:
                yield conn
        return
    with _connected(db_path, "mode=ro" if wal.exists() else "immutable=1", shown=db_path) as conn:
        yield conn


@contextmanager
def _connected(path: Path, mode: str, *, shown: Path) -> Iterator[sqlite3.Connection]:
    uri = f"file:{quote(str(path.absolute()))}?{mode}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store '{shown}': {exc}") from None
    try:
        yield conn
    finally:
        conn.close()


def _beside(db_path: Path, suffix: str) -> Path:
    return db_path.with_name(db_path.name + suffix)
