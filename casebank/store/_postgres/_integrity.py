"""`check_integrity` of a PostgreSQL store: the catalog, not the pages.

PostgreSQL checks its own pages (checksums, WAL); what can go wrong on casebank's side is a
schema that is not the one this casebank expects: a migration recorded but its table dropped,
or a migration missing. So: every migration recorded (and none newer), and every table present.

`cases verify` checks a database through `check_database`, on one connection whose transaction
is READ ONLY and without the migration that opening a store runs: a check leaves it as it was.
"""

from __future__ import annotations

from typing import Any

import psycopg

from casebank.errors import StoreError
from casebank.store._postgres._base import Connected, connect_once, first_line
from casebank.store._postgres._schema import MIGRATIONS, applied_migrations
from casebank.store._tables import STORE_TABLES, schema_problem

__all__ = ["TABLE_SINCE", "Integrity", "check_database"]

# The migration that made each table that m001_initial did not: a store without that migration
# lacks the table until it is migrated, and that is its schema's problem, not a table gone missing.
TABLE_SINCE = {"tokens": 2}


class Integrity(Connected):
    def check_integrity(self) -> list[str]:
        try:
            with self.connection() as conn:
                return _problems(conn, self.location)
        except psycopg.Error as exc:
            return [_unreadable(self.location, exc)]


def check_database(conninfo: str, shown: str) -> list[str]:
    """What is wrong with the store in the database at `conninfo`, read in a READ ONLY transaction
    (`cases verify`). StoreError when it cannot be reached, or holds no casebank store."""
    conn = connect_once(conninfo, shown)
    try:
        conn.read_only = True  # the transaction below BEGINs READ ONLY: nothing in it can write
        with conn.transaction():
            return _problems(conn, shown)
    except psycopg.Error as exc:
        return [_unreadable(shown, exc)]
    finally:
        conn.close()


def _problems(conn: psycopg.Connection[Any], shown: str) -> list[str]:
    where = f"store '{shown}'"
    applied = applied_migrations(conn)
    if applied is None:
        raise StoreError(
            f"no casebank store in database '{shown}' - run the app with casebank.init(db=...) first, or pass --db"
        )
    missing_tables = [
        name
        for name in STORE_TABLES
        if TABLE_SINCE.get(name, 1) in applied and conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
    ]
    newest, version = MIGRATIONS[-1][0], max(applied, default=0)
    said = schema_problem(where, version, newest)
    problems = [said] if said else []
    skipped = [number for number, _, _ in MIGRATIONS if number < version and number not in applied]
    if skipped:
        problems.append(
            f"{where} lacks migration(s) {', '.join(map(str, skipped))} of {newest} - any other cases command "
            "applies them"
        )
    if version <= newest:  # a newer casebank's schema may have other tables
        problems += [
            f"{where} has no table '{name}' - restore the database from a backup, or copy what is readable with "
            "'cases db copy'"
            for name in missing_tables
        ]
    return problems


def _unreadable(shown: str, exc: psycopg.Error) -> str:
    return f"store '{shown}' cannot be read ({first_line(exc)}) - check the database"
