"""`check_integrity` of a SQLite store: SQLite's own checks, then casebank's schema.

`PRAGMA integrity_check` reads every page (a store of a few GB takes seconds to minutes: it is
`cases verify`, not something capture runs); `foreign_key_check` finds rows whose parent is gone;
the schema version (the last migration recorded, or `user_version`, set after the last one) is
compared with the newest migration this casebank knows, and every table a store at that version
has must be there.

`cases verify` checks a file through `check_file`, which opens it read-only (`_read_only.py`):
every other way in makes, migrates or converts the file, and a check must leave it as it was.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from casebank.errors import StoreError
from casebank.store._sqlite._base import Connected
from casebank.store._sqlite._read_only import read_only
from casebank.store._sqlite._schema import SCHEMA_VERSION
from casebank.store._tables import STORE_TABLES, schema_problem

__all__ = ["TABLE_SINCE", "Integrity", "check_file"]

_SHOWN = 10  # integrity_check lists every bad page: the first few say enough
_RESTORE = "restore the file from a backup, or copy what is readable with 'cases db copy'"
_SQLITE_HEADER = b"SQLite format 3\x00"
_MIGRATION = re.compile(r"^m(\d+)_")

# The migration that made each table that m001_initial did not: a store at an older schema lacks
# them until it is migrated, and that is its schema's problem, not a table gone missing.
TABLE_SINCE = {
    "trace_attributes": 2,
    "embedding_cache": 4,
    "judge_verdicts": 4,
    "labels": 4,
    "calibrations": 4,
    "tokens": 8,
}


class Integrity(Connected):
    def check_integrity(self) -> list[str]:
        return _problems(self.conn, f"store '{self.location}'")


def check_file(db_path: Path) -> list[str]:
    """What is wrong with the store file at `db_path`, read without writing a byte (`cases verify`).

    StoreError when there is no file to check: none at that path, a folder, or one that cannot be opened."""
    if not db_path.exists():
        raise StoreError(f"no casebank store at '{db_path}' - run the app with casebank.init() first, or pass --db")
    if db_path.is_dir():
        raise StoreError(f"store path '{db_path}' is a folder - pass the path of a .db file")
    try:
        with db_path.open("rb") as file:
            header = file.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot open store '{db_path}': {exc.strerror}") from None
    if not header:
        return [f"'{db_path}' is an empty file, not a casebank store - pass the path of a casebank .db file"]
    if header != _SQLITE_HEADER:
        return [f"'{db_path}' is not a SQLite file, so not a casebank store - pass the path of a casebank .db file"]
    with read_only(db_path) as conn:
        return _problems(conn, f"store '{db_path}'")


def _problems(conn: sqlite3.Connection, where: str) -> list[str]:
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = _version(conn, tables)
    except sqlite3.DatabaseError as exc:
        return [f"{where} cannot be read ({exc}) - {_RESTORE}"]
    if not tables:
        return [f"{where} is a SQLite file with no tables, not a casebank store - pass the path of a casebank .db file"]
    if tables.isdisjoint(STORE_TABLES):
        return [f"{where} is a SQLite database but not a casebank store - pass the path of a casebank .db file"]
    problems = _pages(conn, where)
    said = schema_problem(where, version, SCHEMA_VERSION)
    problems += [said] if said else []
    if version <= SCHEMA_VERSION:  # a newer casebank's schema may have other tables
        problems += [
            f"{where} has no table '{name}' - {_RESTORE}"
            for name in STORE_TABLES
            if name not in tables and TABLE_SINCE.get(name, 1) <= version
        ]
    return problems


def _version(conn: sqlite3.Connection, tables: set[str]) -> int:
    """The store's schema: `user_version` once every migration ran, else the last one recorded
    (`apply_migrations` sets `user_version` only at the end)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])  # in the header: read whatever else is lost
    if "_sqlite_migrations" not in tables:
        return version
    try:
        names = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'casebank'").fetchall()
    except sqlite3.DatabaseError:
        return version  # a damaged page, which integrity_check reports
    return max([version, *(int(m.group(1)) for (name,) in names if (m := _MIGRATION.match(str(name))))])


def _pages(conn: sqlite3.Connection, where: str) -> list[str]:
    """SQLite's own checks: every page, and every foreign key."""
    try:
        found = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [f"{where} cannot be read ({exc}) - {_RESTORE}"]
    problems = [f"{where}: {line} - {_RESTORE}" for line in found if line != "ok"][:_SHOWN]
    problems += [f"{where}: a row of '{row[0]}' refers to a missing '{row[2]}' row - {_RESTORE}" for row in orphans]
    return problems
