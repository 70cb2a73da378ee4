"""Opening a store file: the one place that decides whether a file is a casebank store.

Every connection runs in WAL mode with a busy timeout, so the product's writer thread, a
`cases` command and a support tool's `flag()` in another process can share one file.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from casebank.errors import StoreError
from casebank.store._sqlite._fresh import create_fresh
from casebank.store._sqlite._schema import MARKER_TABLE, SCHEMA_VERSION, apply_migrations

BUSY_TIMEOUT_MS = 10_000
PAGE_SIZE = 16_384
_WAL_ATTEMPTS, _WAL_RETRY_S = 100, 0.01  # a second in all (see _wal)


def connect(db_path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and, with `create`, make and migrate) the store at `path`.

    Raises StoreError naming the file when it is missing (and `create` is false), cannot be
    opened, is not SQLite, or is a SQLite database that casebank did not make.
    """
    if not db_path.exists():
        if not create:
            raise StoreError(f"no casebank store at '{db_path}' - run the app with casebank.init() first, or pass --db")
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for store '{db_path}': {exc.strerror}") from None
    elif db_path.is_dir():
        raise StoreError(f"store path '{db_path}' is a folder - pass the path of a .db file")
    try:
        conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store '{db_path}': {exc}") from None
    try:
        _prepare(conn, db_path)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection, db_path: Path) -> None:
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            _set_pragmas(conn)
            return
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.OperationalError as exc:  # the file or its disk, not its content: full, read-only, I/O
        raise StoreError(
            f"cannot open store '{db_path}' ({exc}) - check the file, its folder and its disk (space, permissions)"
        ) from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"'{db_path}' is not a casebank store ({exc}) - pass the path of a casebank .db file"
        ) from None
    if tables and MARKER_TABLE not in tables:
        raise StoreError(
            f"'{db_path}' is a SQLite database but not a casebank store - pass another --db or move that file"
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"store '{db_path}' has schema version {version}, newer than this casebank "
            f"({SCHEMA_VERSION}) - upgrade casebank"
        )
    if not tables:
        # Span rows are 1-2 KB of JSON: on the default 4 KB pages many spill into overflow pages,
        # and the writer moved half as many spans per second (benchmarks/bench_store.py).
        # Only a new, empty file can take a page size (WAL fixes it from the first write).
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    try:
        _set_pragmas(conn)
        if not tables and create_fresh(conn):
            return
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # another process made (or upgraded) the store since `version` was read
        apply_migrations(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot prepare store '{db_path}': {exc}") from None


def _set_pragmas(conn: sqlite3.Connection) -> None:
    # WAL lets readers in other processes see committed rows while the writer appends;
    # synchronous=NORMAL in WAL is still crash-safe (a crash loses at most the last commit,
    # never corrupts the file), and flags use FULL on their own transaction.
    _wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")


def _wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (a no-op once it is).

    Turning a new file to WAL takes an exclusive lock, and when another process is doing the same
    (several workers of one app starting on a new store) SQLite says "database is locked" at once,
    without waiting out the busy timeout. The other process is done within milliseconds."""
    for attempt in range(_WAL_ATTEMPTS):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
            time.sleep(_WAL_RETRY_S)
