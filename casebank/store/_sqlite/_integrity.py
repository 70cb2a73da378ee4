"""`check_integrity` of a SQLite store: SQLite's own checks, then casebank's schema.

`PRAGMA integrity_check` reads every page (a store of a few GB takes seconds to minutes: it is
`cases verify`, not something capture runs); `foreign_key_check` finds rows whose parent is gone;
the schema version (`user_version`, set after the last migration) is compared with the newest
migration this casebank knows, and every table a store has must be there.
"""

from __future__ import annotations

import sqlite3

from casebank.store._sqlite._base import Connected
from casebank.store._sqlite._schema import SCHEMA_VERSION
from casebank.store._tables import STORE_TABLES

__all__ = ["Integrity"]

_SHOWN = 10  # integrity_check lists every bad page: the first few say enough
_RESTORE = "restore the file from a backup, or copy what is readable with 'cases db copy'"


class Integrity(Connected):
    def check_integrity(self) -> list[str]:
        where = f"store '{self.location}'"
        try:
            found = [str(row[0]) for row in self.conn.execute("PRAGMA integrity_check").fetchall()]
            orphans = self.conn.execute("PRAGMA foreign_key_check").fetchall()
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            return [f"{where} cannot be read ({exc}) - {_RESTORE}"]
        problems = [f"{where}: {line} - {_RESTORE}" for line in found if line != "ok"][:_SHOWN]
        problems += [f"{where}: a row of '{row[0]}' refers to a missing '{row[2]}' row - {_RESTORE}" for row in orphans]
        if version != SCHEMA_VERSION:
            problems.append(
                f"{where} has schema version {version}, the newest migration is {SCHEMA_VERSION} - open it with "
                "this casebank to migrate it, or upgrade casebank"
            )
        problems += [f"{where} has no table '{name}' - {_RESTORE}" for name in STORE_TABLES if name not in tables]
        return problems
