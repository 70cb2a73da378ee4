"""Runs in a SQLite store: a run's row and its results, recorded in one transaction, read back in
suite order (`rowid`: results go in as the run listed them) or by case."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from casebank.errors import InvalidInput, NotFound
from casebank.store._records import hex_prefix
from casebank.store._sqlite._base import Connected, dumps, loads

__all__ = ["Runs"]

# Result columns that hold a JSON value (NULL for None, so that a person reading the table sees
# NULL where the target raised).
_JSON_RESULT_COLUMNS = ("output", "expected", "tags")


class Runs(Connected):
    def record_run(self, run: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> None:
        with self.transaction() as conn:
            _insert(conn, "runs", _columns(conn, "runs"), run)
            result_columns = _columns(conn, "results")
            for result in results:
                encoded = {c: _encoded(c, v) for c, v in result.items()}
                _insert(conn, "results", result_columns, encoded)

    def list_runs(self, limit: int | None = 20) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?", (-1 if limit is None else limit,)
        )
        return [dict(row) for row in rows]

    def run_results(self, run_id: str, *, suite_order: bool = False) -> list[dict[str, Any]]:
        order = "rowid" if suite_order else "case_id, epoch"
        rows = self.conn.execute(f"SELECT * FROM results WHERE run_id = ? ORDER BY {order}", (run_id,))
        return [_decoded(row) for row in rows]

    def resolve_run(self, ref: str) -> dict[str, Any]:
        if ref.strip().lower() == "latest":
            row = self.conn.execute("SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1").fetchone()
            if row is None:
                raise NotFound(f"no runs in store '{self.location}' yet - record one with 'cases run'")
            return dict(row)
        prefix = hex_prefix(ref, "a run id", "pass 'latest' or an id as 'cases runs' shows it")
        found = self.one_by_prefix("runs", "id", prefix, noun="run")
        if found is None:
            raise NotFound(f"no run matches '{prefix}' in store '{self.location}' - see 'cases runs'")
        return dict(found)


def _encoded(column: str, value: Any) -> Any:
    if column in _JSON_RESULT_COLUMNS:
        return None if value is None else dumps(value)
    return value


def _decoded(row: sqlite3.Row) -> dict[str, Any]:
    result = dict(row)
    for column in _JSON_RESULT_COLUMNS:
        if column in result:
            result[column] = loads(result[column])
    return result


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {info[1] for info in conn.execute(f"PRAGMA table_info({table})")}


def _insert(conn: sqlite3.Connection, table: str, known: set[str], row: Mapping[str, Any]) -> None:
    columns = list(row)
    # Names go into the SQL text, so they must be the table's own; and a field the table lacks is
    # the caller's mistake (InvalidInput), not the store's (a bare sqlite3.OperationalError).
    for column in columns:
        if column not in known:
            raise InvalidInput(f"{table} has no column {column!r} - pass the fields a run report has")
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[c] for c in columns],
    )
