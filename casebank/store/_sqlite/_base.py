"""The SQLite store's connection: opening it, transactions, and reading JSON columns back.

Each part of the SQLite store (`_spans`, `_traces`, `_incidents`, `_runs`, `_labels`) is a mixin
over this class, so that each file holds one job and `SQLiteStore` is only their sum.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import AmbiguousId, StoreError
from casebank.store._sqlite._connection import connect

__all__ = ["Connected", "dumps", "loads"]


def loads(text: str | bytes | None) -> Any:
    return None if text is None else orjson.loads(text)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Connected:
    """One connection to a store file, in WAL mode (see `_connection.py`)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.conn = connect(path, create=create)
        self.conn.row_factory = sqlite3.Row

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self.conn.close()

    def ping(self) -> None:
        """Return when the file answers a trivial query (`/readyz`); StoreError naming it otherwise."""
        try:
            self.conn.execute("SELECT count(*) FROM casebank_meta").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(
                f"store '{self.location}' does not answer ({exc}) - check the file and its folder"
            ) from None

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE .. COMMIT; `durable` fsyncs the commit (synchronous=FULL).

        The file refusing the write (full, read-only, an I/O error, locked beyond the busy
        timeout) is a StoreError naming the store and the fix, not a bare sqlite3 error."""
        try:
            with self._transaction(durable) as conn:
                yield conn
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to store '{self.location}' ({exc}) - {_fix(exc)}") from None

    @contextmanager
    def _transaction(self, durable: bool) -> Iterator[sqlite3.Connection]:
        if durable:
            self.conn.execute("PRAGMA synchronous = FULL")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                # SQLite rolls a transaction back itself after some errors (a full disk, an I/O
                # error); a COMMIT that failed may leave it open.
                if self.conn.in_transaction:
                    with suppress(sqlite3.Error):  # the first error is the one to tell
                        self.conn.execute("ROLLBACK")
                raise
        finally:
            if durable:
                self.conn.execute("PRAGMA synchronous = NORMAL")

    def one_by_prefix(self, table: str, column: str, prefix: str, *, noun: str, shown: int = 0) -> sqlite3.Row | None:
        """The row of `table` whose `column` starts with `prefix` (lower-case hex), None if there
        is none; AmbiguousId listing the first few if there are several (ids cut to `shown`
        characters, when given)."""
        rows = self.conn.execute(
            f"SELECT * FROM {table} WHERE {column} >= ? AND {column} < ? ORDER BY {column} LIMIT 6",
            (prefix, prefix + "g"),
        ).fetchall()
        if len(rows) > 1:
            ids = [str(r["id"] if "id" in r.keys() else r[column]) for r in rows[:5]]
            listed = ", ".join(i[:shown] for i in ids) + ", ..." if shown else ", ".join(ids)
            raise AmbiguousId(f"{noun} id '{prefix}' is ambiguous ({listed}) - type more characters")
        return rows[0] if rows else None


def _fix(exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return "another process held it for longer than the busy timeout; try again"
    if "full" in text:
        return "free space on its disk"
    if "readonly" in text or "read-only" in text:
        return "make the file and its folder writable"
    return "check the file, its folder and its disk"
