"""Records in and out of a PostgreSQL store, for `cases db copy` (`export_records` / `import_records`).

Records are the SQLite store's (see `casebank/store/_sqlite/_copy.py`): the SQLite column names,
JSON columns decoded, `"key"`, and a flag where SQL NULL and JSON null differ (`has_output` on
traces, `has_expected` on incidents), so that a record means the same in either backend. jsonb
keeps that difference as SQLite's text does: SQL NULL, or the JSON value `null`. Store-local
numbers (`trace_key`, a calibration's `id`, the hidden `seq`) stay behind.

Pages are keyset pages on an index (`WHERE key > after ORDER BY key LIMIT n`); a span's key is
`trace_id:span_id`, walked through traces by trace id and each trace's spans by span id. An
import is one transaction that skips what the store already holds (`ON CONFLICT DO NOTHING`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from casebank.errors import InvalidInput
from casebank.store._attributes import attribute_text
from casebank.store._checks import checked_kind
from casebank.store._postgres._base import Conn, Connected, dumps, jsonb
from casebank.store._postgres._labels import CALIBRATION_COLUMNS
from casebank.store._postgres._runs import RESULT_COLUMNS, RUN_COLUMNS
from casebank.store._records import RECORD_JSON_COLUMNS, SPAN_COLUMNS, TRACE_COLUMNS

__all__ = ["Copying"]

_INCIDENT_COLUMNS = (
    "id", "trace_id", "status", "reasons", "flagged_at", "updated_at", "entrypoint", "input", "output", "error",
    "snapshot", "expected", "grader", "tags", "dismissed_reason", "case_id", "case_path",
)  # fmt: skip
_LABEL_COLUMNS = ("subject", "trace_id", "output_hash", "output", "label", "note", "labelled_at")
# What a record of each table carries, in the SQLite store's column order.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "traces": TRACE_COLUMNS,
    "spans": SPAN_COLUMNS,
    "incidents": _INCIDENT_COLUMNS,
    "runs": RUN_COLUMNS,
    "results": RESULT_COLUMNS,
    "labels": _LABEL_COLUMNS,
    "calibrations": CALIBRATION_COLUMNS[1:],
}
# Columns where NULL and JSON null differ, and the flag that says which a record holds.
_FLAGS = {"traces": ("output", "has_output"), "incidents": ("expected", "has_expected")}
_CALIBRATION_KEY = "calibrated_at || ' ' || config_hash"


def _select(table: str, key: str) -> str:
    flag = _FLAGS.get(table)
    extra = f", {flag[0]} IS NOT NULL AS {flag[1]}" if flag else ""
    return f"SELECT {', '.join(_COLUMNS[table])}{extra}, {key} AS key FROM {table}"


_PAGES = {
    "traces": f"{_select('traces', 'trace_id')} WHERE trace_id > %s ORDER BY trace_id LIMIT %s",
    "spans": (
        f"SELECT {', '.join('s.' + c for c in SPAN_COLUMNS)}, t.trace_id || ':' || s.span_id AS key "
        "FROM traces t JOIN spans s ON s.trace_key = t.trace_key "
        "WHERE t.trace_id >= %(trace)s AND (t.trace_id > %(trace)s OR s.span_id > %(span)s) "
        "ORDER BY t.trace_id, s.span_id LIMIT %(limit)s"
    ),
    "incidents": f"{_select('incidents', 'id')} WHERE id > %s ORDER BY id LIMIT %s",
    "runs": f"{_select('runs', 'id')} WHERE id > %s ORDER BY id LIMIT %s",
    "labels": f"{_select('labels', 'subject')} WHERE subject > %s ORDER BY subject LIMIT %s",
    "calibrations": (
        f"{_select('calibrations', _CALIBRATION_KEY)} WHERE {_CALIBRATION_KEY} > %s ORDER BY {_CALIBRATION_KEY} "
        "LIMIT %s"
    ),
}


class Copying(Connected):
    def export_records(self, kind: str, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        checked_kind(kind)
        if limit < 1:
            raise InvalidInput(f"a page of records needs a limit of at least 1, not {limit}")
        params: Any
        if kind == "spans":
            trace_id, _, span_id = (after or "").partition(":")
            params = {"trace": trace_id, "span": span_id, "limit": limit}
        else:
            params = (after or "", limit)
        records = self.rows(_PAGES[kind], params)
        if kind == "runs" and records:
            results = self.rows(
                f"SELECT {', '.join(RESULT_COLUMNS)} FROM results WHERE run_id = ANY(%s) ORDER BY seq",
                ([r["id"] for r in records],),
            )
            for run in records:
                run["results"] = [r for r in results if r["run_id"] == run["id"]]
        return records

    def import_records(self, kind: str, records: Sequence[Mapping[str, Any]]) -> int:
        checked_kind(kind)
        with self.transaction() as conn:
            if kind == "spans":
                return _import_spans(conn, records)
            return sum(_import_one(conn, kind, record) for record in records)


def _encoded(table: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """`record`'s columns as `table` stores them (JSON as text for a jsonb cast); InvalidInput for a
    field the table has no column for."""
    flags = {flag for _, flag in _FLAGS.values()}
    row = {c: v for c, v in record.items() if c not in ("key", "results", *flags)}
    for column in row:
        if column not in _COLUMNS[table]:
            raise InvalidInput(
                f"a record for {table} has field '{column}', which this store has no column for - "
                "upgrade casebank where you copy to"
            )
    nullable = _FLAGS.get(table)
    for column in RECORD_JSON_COLUMNS[table]:
        if column not in row:
            continue
        if nullable is not None and column == nullable[0]:
            stored = bool(record.get(nullable[1], row[column] is not None))
        else:
            stored = row[column] is not None
        row[column] = jsonb(dumps(row[column])) if stored else None
    return row


def _insert(conn: Conn, table: str, row: Mapping[str, Any]) -> int:
    """INSERT `row` into `table` unless its key is there; 1 if it was new."""
    columns = list(row)
    values = ", ".join("%s::jsonb" if c in RECORD_JSON_COLUMNS[table] else "%s" for c in columns)
    cursor = conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) ON CONFLICT DO NOTHING".encode(),
        [row[c] for c in columns],
    )
    return cursor.rowcount


def _import_one(conn: Conn, kind: str, record: Mapping[str, Any]) -> int:
    row = _encoded(kind, record)
    if kind == "calibrations":
        found = conn.execute(
            "SELECT 1 FROM calibrations WHERE config_hash = %s AND calibrated_at = %s",
            (record.get("config_hash"), record.get("calibrated_at")),
        ).fetchone()
        if found:
            return 0
    new = _insert(conn, kind, row)
    if new and kind == "traces" and record.get("attributes"):
        conn.execute(
            "INSERT INTO trace_attributes (key, value, trace_id) SELECT k, v, %s FROM unnest(%s::text[], %s::text[]) "
            "AS u(k, v) ON CONFLICT DO NOTHING",
            (
                record["trace_id"],
                [str(k) for k in record["attributes"]],
                [attribute_text(v) for v in record["attributes"].values()],
            ),
        )
    if new and kind == "runs":
        for result in record.get("results") or []:
            _insert(conn, "results", _encoded("results", result))
    return new


def _import_spans(conn: Conn, records: Sequence[Mapping[str, Any]]) -> int:
    # A span whose trace is not here (the source took it between its pages of traces and of
    # spans) gets a trace row without root fields, as the capture writer gives one.
    firsts: dict[str, Mapping[str, Any]] = {}
    counts: dict[str, int] = {}
    rows = []
    for record in records:
        row = _encoded("spans", record)
        rows.append([row.get(c) for c in SPAN_COLUMNS])
        trace_id = record["trace_id"]
        counts[trace_id] = counts.get(trace_id, 0) + 1
        if trace_id not in firsts or record["start_ns"] < firsts[trace_id]["start_ns"]:
            firsts[trace_id] = record
    if not rows:
        return 0
    conn.execute(
        "INSERT INTO traces (trace_id, started_at, start_ns, span_count) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
        (
            list(firsts),
            [r["started_at"] for r in firsts.values()],
            [r["start_ns"] for r in firsts.values()],
            [counts[t] for t in firsts],
        ),
    )
    columns = [list(c) for c in zip(*rows, strict=True)]
    types = ("text",) * 6 + ("bigint", "float8") + ("text",) * 5
    selected = ", ".join(f"u.{c}::jsonb" if c in RECORD_JSON_COLUMNS["spans"] else f"u.{c}" for c in SPAN_COLUMNS)
    cursor = conn.execute(
        f"INSERT INTO spans (trace_key, {', '.join(SPAN_COLUMNS)}) "
        f"SELECT t.trace_key, {selected} "
        f"FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) AS u({', '.join(SPAN_COLUMNS)}) "
        "JOIN traces t ON t.trace_id = u.trace_id ON CONFLICT DO NOTHING".encode(),
        columns,
    )
    return cursor.rowcount
