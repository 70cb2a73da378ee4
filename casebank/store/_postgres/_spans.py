"""Writing spans into a PostgreSQL store: the capture writer's (and the OTLP receiver's) hot path.

A batch goes in as one statement a table, each binding one array a column and reading them back
with `unnest`: three round trips however many spans, and no per-row work in Python beyond
turning rows into columns (done in `prepare_spans`, before the transaction opens). Spans take
their trace's `trace_key` in the same statement; a span written twice is skipped (`ON CONFLICT
DO NOTHING`). The trace row is upserted as in SQLite: root fields from whichever batch had the
root, span counts add up, attributes merge. Traces are upserted in trace id order, so that two
writers of the same traces lock their rows in the same order and never deadlock.

A batch that brings a trace's root span attaches the flags held for it (`_held.py`). The commit
is durable when `write_prepared` returns (the server's `synchronous_commit`, on by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from casebank.errors import InvalidInput
from casebank.store._attributes import attribute_rows
from casebank.store._interface import PreparedSpans
from casebank.store._postgres._base import Conn, Connected, jsonb
from casebank.store._postgres._held import attach_held, lock_for_candidates
from casebank.store._postgres._where import INSERT_ATTRIBUTES
from casebank.store._records import SPAN_COLUMNS, TRACE_COLUMNS, with_trace_rows

__all__ = ["PreparedBatch", "SpanWrites", "prepare_batch"]

_SPAN_TYPES = ("text",) * 6 + ("bigint", "float8") + ("text",) * 5
_TRACE_TYPES = ("text",) * 8 + ("bigint", "float8", "text", "bigint", "text")
_SPAN_JSON = {"attributes", "events"}
_TRACE_JSON = {"input", "output", "attributes"}
_ROOT_FIELDS = ("name", "entrypoint", "input", "output", "status", "error", "duration_ms", "service_name")
_T = {c: i for i, c in enumerate(TRACE_COLUMNS)}


def _unnest(columns: Sequence[str], types: Sequence[str], json: set[str]) -> tuple[str, str]:
    """`unnest(%s::text[], ...) AS u(a, b, ...)` and the select list reading it (JSON as jsonb)."""
    # Binary arrays (%b): a span's JSON, full of quotes, goes as it is, not escaped as an array literal.
    source = f"unnest({', '.join(f'%b::{t}[]' for t in types)}) AS u({', '.join(columns)})"
    selected = ", ".join(f"u.{c}::jsonb" if c in json else f"u.{c}" for c in columns)
    return source, selected


_SPANS_FROM, _SPANS_SELECTED = _unnest(("trace_key", *SPAN_COLUMNS), ("bigint", *_SPAN_TYPES), _SPAN_JSON)
# Each span takes its trace's key from what the upsert of its trace returned (a join would scan
# the traces table: the planner cannot tell how few rows an unnest holds).
_INSERT_SPANS = (
    f"INSERT INTO spans (trace_key, {', '.join(SPAN_COLUMNS)}) "
    f"SELECT {_SPANS_SELECTED} FROM {_SPANS_FROM} "
    "ON CONFLICT DO NOTHING"
).encode()
_TRACES_FROM, _TRACES_SELECTED = _unnest(TRACE_COLUMNS, _TRACE_TYPES, _TRACE_JSON)
_UPSERT_TRACES = (
    f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)}) SELECT {_TRACES_SELECTED} FROM {_TRACES_FROM} "
    "ORDER BY u.trace_id "
    "ON CONFLICT (trace_id) DO UPDATE SET "
    + ", ".join(f"{c} = COALESCE(excluded.{c}, traces.{c})" for c in _ROOT_FIELDS)
    + ", started_at = CASE WHEN excluded.start_ns < traces.start_ns THEN excluded.started_at ELSE traces.started_at END"
    ", start_ns = LEAST(excluded.start_ns, traces.start_ns)"
    ", span_count = traces.span_count + excluded.span_count"
    ", attributes = CASE WHEN excluded.attributes IS NULL THEN traces.attributes"
    " WHEN traces.attributes IS NULL THEN excluded.attributes"
    " ELSE traces.attributes || excluded.attributes END "
    "RETURNING trace_id, trace_key"
).encode()
_BUMP = (
    "INSERT INTO counters (name, value) VALUES (%s, %s) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value"
)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of the capture writer's rows as column arrays, ready for `write_prepared`."""

    spans: list[list[Any]]  # one list a column of SPAN_COLUMNS
    traces: list[list[Any]]  # one list a column of TRACE_COLUMNS
    attributes: list[list[str]]  # key, value, trace_id columns
    # Traces whose root or attributes this batch brings: only these can take a held flag.
    flag_candidates: list[str]
    dropped: int
    span_count: int


def _columns(rows: Sequence[Sequence[Any]], width: int, json: Sequence[int]) -> list[list[Any]]:
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
    for index in json:
        columns[index] = [jsonb(v) for v in columns[index]]
    return columns


def _merged(traces: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """Trace rows with one row a trace: rows of the same trace fold together as two batches would
    (an upsert may not touch a row twice in one statement)."""
    if len({t[0] for t in traces}) == len(traces):
        return list(traces)
    merged: dict[str, list[Any]] = {}
    for row in traces:
        old = merged.get(row[0])
        if old is None:
            merged[row[0]] = list(row)
            continue
        for field in _ROOT_FIELDS:
            if row[_T[field]] is not None:
                old[_T[field]] = row[_T[field]]
        if row[_T["start_ns"]] is not None and (
            old[_T["start_ns"]] is None or row[_T["start_ns"]] < old[_T["start_ns"]]
        ):
            old[_T["start_ns"]], old[_T["started_at"]] = row[_T["start_ns"]], row[_T["started_at"]]
        old[_T["span_count"]] = (old[_T["span_count"]] or 0) + (row[_T["span_count"]] or 0)
        if row[_T["attributes"]] is not None:
            old[_T["attributes"]] = _merge_json(old[_T["attributes"]], row[_T["attributes"]])
    return list(merged.values())


def _merge_json(old: str | None, new: str) -> str:
    if old is None:
        return new
    return orjson.dumps({**orjson.loads(old), **orjson.loads(new)}).decode()


def prepare_batch(spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0) -> PreparedBatch:
    """Span and trace rows (every span's trace among the trace rows) as the arrays that store them."""
    traces = _merged(traces)
    attributes = attribute_rows(traces, _T["attributes"])
    return PreparedBatch(
        spans=_columns(spans, len(SPAN_COLUMNS), [SPAN_COLUMNS.index(c) for c in _SPAN_JSON]),
        traces=_columns(traces, len(TRACE_COLUMNS), [_T[c] for c in _TRACE_JSON]),
        attributes=_columns(attributes, 3, []),
        flag_candidates=[t[0] for t in traces if t[_T["name"]] is not None or t[_T["attributes"]]],
        dropped=dropped,
        span_count=len(spans),
    )


def _without_nul(columns: list[list[Any]]) -> list[list[Any]]:
    """PostgreSQL text holds no NUL character, which a span's text may: each becomes U+FFFD."""
    return [[v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in column] for column in columns]


class SpanWrites(Connected):
    def write_spans(self, spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0) -> None:
        # As lenient as the SQLite store: trace rows without `attributes`, and spans without a
        # trace row (one is made for them, as for a batch without the root).
        self.write_prepared(prepare_batch(spans, with_trace_rows(spans, traces), dropped))

    def prepare_spans(
        self, spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0
    ) -> PreparedBatch:
        return prepare_batch(spans, traces, dropped)

    def write_prepared(self, batch: PreparedSpans) -> None:
        if not isinstance(batch, PreparedBatch):
            raise InvalidInput(f"a PostgreSQL store writes batches its prepare_spans made, not {type(batch).__name__}")
        try:
            self._write(batch)
        except psycopg.DataError:  # a NUL in some text: the rare batch pays for the scrubbing
            self._write(
                PreparedBatch(
                    spans=_without_nul(batch.spans),
                    traces=_without_nul(batch.traces),
                    attributes=_without_nul(batch.attributes),
                    flag_candidates=batch.flag_candidates,
                    dropped=batch.dropped,
                    span_count=batch.span_count,
                )
            )

    def _write(self, batch: PreparedBatch) -> None:
        with self.transaction() as conn:
            keys = dict(conn.execute(_UPSERT_TRACES, batch.traces).fetchall()) if batch.traces[0] else {}
            if batch.spans[0]:
                conn.execute(_INSERT_SPANS, [[keys[t] for t in batch.spans[0]], *batch.spans])
            if batch.attributes[0]:
                conn.execute(INSERT_ATTRIBUTES, batch.attributes)
            if batch.dropped:
                _bump(conn, "dropped_spans", batch.dropped)
            if batch.flag_candidates:
                # Last, so that a flag waits for this lock only while this write commits.
                lock_for_candidates(conn)
                attach_held(conn, batch.flag_candidates, self.location)

    def prepare_for_capture(self) -> None:
        """Nothing to tune: the server batches its own log writes."""

    def checkpoint(self) -> None:
        """A no-op: PostgreSQL checkpoints on its own."""

    def add_counter(self, name: str, delta: int) -> None:
        with self.transaction() as conn:
            _bump(conn, name, delta)


def _bump(conn: Conn, name: str, delta: int) -> None:
    conn.execute(_BUMP, (name, delta))
