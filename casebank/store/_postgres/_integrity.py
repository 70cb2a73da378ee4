"""`check_integrity` of a PostgreSQL store: the catalog, not the pages.

PostgreSQL checks its own pages (checksums, WAL); what can go wrong on casebank's side is a
schema that is not the one this casebank expects: a migration recorded but its table dropped,
or a migration missing. So: every migration recorded (and none newer), and every table present.
"""

from __future__ import annotations

import psycopg

from casebank.store._postgres._base import Connected
from casebank.store._postgres._schema import MIGRATIONS
from casebank.store._tables import STORE_TABLES

__all__ = ["Integrity"]


class Integrity(Connected):
    def check_integrity(self) -> list[str]:
        where = f"store '{self.location}'"
        try:
            with self.connection() as conn:
                applied = {row[0] for row in conn.execute("SELECT id FROM casebank_migrations")}
                missing_tables = [
                    name
                    for name in STORE_TABLES
                    if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
                ]
        except psycopg.Error as exc:
            return [f"{where} cannot be read ({str(exc).strip().splitlines()[0]}) - check the database"]
        newest = MIGRATIONS[-1][0]
        problems = []
        if max(applied, default=0) > newest:
            problems.append(
                f"{where} has schema version {max(applied)}, newer than this casebank ({newest}) - upgrade casebank"
            )
        missing = sorted({m[0] for m in MIGRATIONS} - applied)
        if missing:
            problems.append(
                f"{where} lacks migration(s) {', '.join(map(str, missing))} of {newest} - open it with this casebank "
                "to migrate it"
            )
        problems += [
            f"{where} has no table '{name}' - restore the database from a backup, or copy what is readable with "
            "'cases db copy'"
            for name in missing_tables
        ]
        return problems
