"""Records in and out of a SQLite store, for `cases db copy` (`export_records` / `import_records`).

A record is a row as a backend-neutral dict: the SQLite column names, JSON columns decoded, and
`"key"`, the text it is ordered and deduplicated by. Where SQL NULL and JSON null mean different
things, a flag says which was stored: `has_output` (traces: NULL is "raised" or "no root yet",
null is "returned None") and `has_expected` (incidents: not annotated, or annotated with None).
Store-local numbers (`trace_key`, a calibration's `id`) stay behind.

Pages are keyset pages (`WHERE key > after ORDER BY key LIMIT n`) on an index, so that copying
millions of spans costs the same per page from the first to the last. A span's key is
`trace_id:span_id`, walked through traces by trace id and each trace's spans by span id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from casebank.errors import InvalidInput
from casebank.store._attributes import attribute_text
from casebank.store._checks import checked_kind
from casebank.store._records import RECORD_JSON_COLUMNS, SPAN_COLUMNS
from casebank.store._sqlite._base import Connected, dumps, loads

__all__ = ["Copying"]

# Columns where NULL and JSON null differ, and the flag that says which a record holds.
_NULLABLE_JSON = {"output": "has_output", "expected": "has_expected"}
_FLAGGED = {"traces": ("output",), "incidents": ("expected",)}
_LOCAL = {"traces": ("trace_key",), "spans": ("trace_key",), "calibrations": ("id",)}
_CALIBRATION_KEY = "calibrated_at || ' ' || config_hash"

_PAGES = {
    "traces": "SELECT *, trace_id AS key FROM traces WHERE trace_id > ? ORDER BY trace_id LIMIT ?",
    # Walks traces by trace id (its unique index) and each trace's spans by (trace_key, span_id).
    "spans": (
        f"SELECT {', '.join('s.' + c for c in SPAN_COLUMNS)}, t.trace_id || ':' || s.span_id AS key "
        "FROM traces t JOIN spans s ON s.trace_key = t.trace_key "
        "WHERE t.trace_id >= ?1 AND (t.trace_id > ?1 OR s.span_id > ?2) ORDER BY t.trace_id, s.span_id LIMIT ?3"
    ),
    "incidents": "SELECT *, id AS key FROM incidents WHERE id > ? ORDER BY id LIMIT ?",
    "runs": "SELECT *, id AS key FROM runs WHERE id > ? ORDER BY id LIMIT ?",
    "labels": "SELECT *, subject AS key FROM labels WHERE subject > ? ORDER BY subject LIMIT ?",
    "calibrations": (
        f"SELECT *, {_CALIBRATION_KEY} AS key FROM calibrations WHERE {_CALIBRATION_KEY} > ? "
        f"ORDER BY {_CALIBRATION_KEY} LIMIT ?"
    ),
}


class Copying(Connected):
    def export_records(self, kind: str, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        checked_kind(kind)
        if limit < 1:
            raise InvalidInput(f"a page of records needs a limit of at least 1, not {limit}")
        if kind == "spans":
            trace_id, _, span_id = (after or "").partition(":")
            params: tuple[Any, ...] = (trace_id, span_id, limit)
        else:
            params = (after or "", limit)
        records = [_decoded(kind, row) for row in self.conn.execute(_PAGES[kind], params)]
        if kind == "runs":
            for run in records:
                rows = self.conn.execute("SELECT * FROM results WHERE run_id = ? ORDER BY rowid", (run["id"],))
                run["results"] = [_decoded("results", row) for row in rows]
        return records

    def import_records(self, kind: str, records: Sequence[Mapping[str, Any]]) -> int:
        checked_kind(kind)
        with self.transaction() as conn:
            if kind == "spans":
                return _import_spans(conn, records)
            new = 0
            for record in records:
                new += _import_one(conn, kind, record)
            return new


def _decoded(table: str, row: sqlite3.Row) -> dict[str, Any]:
    record = {c: row[c] for c in row.keys() if c not in _LOCAL.get(table, ())}
    for column in _FLAGGED.get(table, ()):
        record[_NULLABLE_JSON[column]] = record[column] is not None
    for column in RECORD_JSON_COLUMNS[table]:
        record[column] = loads(record[column])
    return record


def _encoded(table: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """`record`'s columns as `table` stores them; InvalidInput for a field the table has no column for."""
    row = {c: v for c, v in record.items() if c not in ("key", "results", *_NULLABLE_JSON.values())}
    for column in RECORD_JSON_COLUMNS[table]:
        if column not in row:
            continue
        flag = _NULLABLE_JSON.get(column) if column in _FLAGGED.get(table, ()) else None
        stored = record.get(flag, row[column] is not None) if flag else row[column] is not None
        row[column] = dumps(row[column]) if stored else None
    return row


def _insert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
    """INSERT OR IGNORE `row` into `table`; 1 if it was new."""
    known = {info[1] for info in conn.execute(f"PRAGMA table_info({table})")}
    for column in row:
        if column not in known or column in _LOCAL.get(table, ()):
            raise InvalidInput(
                f"a record for {table} has field '{column}', which this store has no column for - "
                "upgrade casebank where you copy to"
            )
    columns = list(row)
    cursor = conn.execute(
        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[c] for c in columns],
    )
    return cursor.rowcount


def _import_one(conn: sqlite3.Connection, kind: str, record: Mapping[str, Any]) -> int:
    if kind == "calibrations":
        found = conn.execute(
            "SELECT 1 FROM calibrations WHERE config_hash = ? AND calibrated_at = ?",
            (record.get("config_hash"), record.get("calibrated_at")),
        ).fetchone()
        if found:
            return 0
    new = _insert(conn, kind, _encoded(kind, record))
    if new and kind == "traces" and record.get("attributes"):
        conn.executemany(
            "INSERT OR IGNORE INTO trace_attributes (key, value, trace_id) VALUES (?, ?, ?)",
            [(str(k), attribute_text(v), record["trace_id"]) for k, v in record["attributes"].items()],
        )
    if new and kind == "runs":
        for result in record.get("results") or []:
            _insert(conn, "results", _encoded("results", result))
    return new


def _import_spans(conn: sqlite3.Connection, records: Sequence[Mapping[str, Any]]) -> int:
    # A span whose trace is not here (the source took it between its pages of traces and of
    # spans) gets a trace row without root fields, as the capture writer gives one.
    firsts: dict[str, Mapping[str, Any]] = {}
    counts: dict[str, int] = {}
    for record in records:
        trace_id = record["trace_id"]
        counts[trace_id] = counts.get(trace_id, 0) + 1
        if trace_id not in firsts or record["start_ns"] < firsts[trace_id]["start_ns"]:
            firsts[trace_id] = record
    conn.executemany(
        "INSERT OR IGNORE INTO traces (trace_id, started_at, start_ns, span_count) VALUES (?, ?, ?, ?)",
        [(t, r["started_at"], r["start_ns"], counts[t]) for t, r in firsts.items()],
    )
    rows = []
    for record in records:
        extra = set(record) - {*SPAN_COLUMNS, "key"}
        if extra:
            raise InvalidInput(
                f"a record for spans has field '{sorted(extra)[0]}', which this store has no column for - "
                "upgrade casebank where you copy to"
            )
        row = _encoded("spans", record)
        rows.append([row.get(c) for c in SPAN_COLUMNS] + [record["trace_id"]])
    cursor = conn.executemany(
        f"INSERT OR IGNORE INTO spans ({', '.join(SPAN_COLUMNS)}, trace_key) "
        f"VALUES ({', '.join('?' * len(SPAN_COLUMNS))}, (SELECT trace_key FROM traces WHERE trace_id = ?))",
        rows,
    )
    return cursor.rowcount
