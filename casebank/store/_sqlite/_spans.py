"""Writing spans into a SQLite store: the capture writer's hot path.

The writer takes ready tuples (`prepare_spans`, done before the transaction opens) and runs them
as a few multi-row statements in one transaction (`_bulk.py`), because sqlite-utils' `insert_all`
is about three times slower there. A trace row is upserted for every trace a batch touches: root
fields come from whichever batch had the root, span counts add up, attributes merge. A batch
that brings a trace's root attaches the flags held for that trace (`_held_flags.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from casebank.errors import InvalidInput
from casebank.store._attributes import attribute_rows
from casebank.store._interface import PreparedSpans
from casebank.store._records import SPAN_COLUMNS, TRACE_COLUMNS, with_trace_rows
from casebank.store._sqlite._bulk import Statement, nullable, statements
from casebank.store._sqlite._held_flags import HeldFlags
from casebank.store._sqlite._where import INSERT_ATTRIBUTES

__all__ = ["PreparedBatch", "SpanWrites", "prepare_batch"]

_ATTRIBUTES = TRACE_COLUMNS.index("attributes")
_ROOT_FIELDS = ("name", "entrypoint", "input", "output", "status", "error", "duration_ms", "service_name")

# Spans are looked up by their trace's `trace_key` (traces' arrival order), so that a batch's
# index entries land together rather than all over the index (see schema m006).
_INSERT_SPANS = (
    f"INSERT OR IGNORE INTO spans ({', '.join(SPAN_COLUMNS)}, trace_key) "
    f"SELECT column1, {', '.join(nullable(f'column{i}') for i in range(2, len(SPAN_COLUMNS) + 1))}, "
    # A subquery, not a JOIN: joined, SQLite first copies the whole VALUES list into a temporary table.
    "(SELECT trace_key FROM traces WHERE trace_id = column1) "
    "FROM (VALUES {rows}) WHERE typeof(column1) = 'text'"
)
_UPSERT_TRACES = (
    f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)}) "
    f"SELECT column1, {', '.join(nullable(f'column{i}') for i in range(2, len(TRACE_COLUMNS) + 1))} "
    "FROM (VALUES {rows}) WHERE typeof(column1) = 'text' "
    "ON CONFLICT(trace_id) DO UPDATE SET "
    + ", ".join(f"{c} = COALESCE(excluded.{c}, traces.{c})" for c in _ROOT_FIELDS)
    + ", started_at = CASE WHEN excluded.start_ns < traces.start_ns THEN excluded.started_at ELSE traces.started_at END"
    ", start_ns = MIN(excluded.start_ns, traces.start_ns)"
    ", span_count = traces.span_count + excluded.span_count"
    ", attributes = CASE WHEN excluded.attributes IS NULL THEN traces.attributes"
    " WHEN traces.attributes IS NULL THEN excluded.attributes"
    " ELSE json_patch(traces.attributes, excluded.attributes) END"
)

# The capture writer's WAL: checkpointed beside the writer by capture's checkpointer, by the
# writer's own connection only at this many pages (256 MB of 16 KB pages, a backstop), and cut
# back to this size on disk after a checkpoint.
_WAL_CAP_PAGES = 16_384
_WAL_KEEP_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of the capture writer's rows as statements, ready for `write_prepared`."""

    statements: list[Statement]
    attributes: list[tuple[str, str, str]]
    dropped: int
    span_count: int
    # Traces whose root or attributes this batch brings: only these can take a held flag.
    flag_candidates: list[str]


def prepare_batch(spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0) -> PreparedBatch:
    """Span and trace rows (every span's trace among the trace rows, as `rows_for` makes them) as
    the statements that store them. Pure Python that needs no connection."""
    return PreparedBatch(
        # Traces first: each span takes its trace's key.
        statements=statements(_UPSERT_TRACES, traces) + statements(_INSERT_SPANS, spans),
        attributes=attribute_rows(traces, _ATTRIBUTES),
        dropped=dropped,
        span_count=len(spans),
        flag_candidates=[t[0] for t in traces if t[1] is not None or (len(t) > _ATTRIBUTES and t[_ATTRIBUTES])],
    )


class SpanWrites(HeldFlags):
    def write_spans(self, spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0) -> None:
        # More lenient than the capture writer needs, for rows made by hand: trace rows without
        # the last column (`attributes`, added in schema 2) are accepted, and so are spans
        # without a trace row (one is made for them, as for a batch without the root).
        self.write_prepared(prepare_batch(spans, with_trace_rows(spans, traces), dropped))

    def prepare_spans(
        self, spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0
    ) -> PreparedBatch:
        return prepare_batch(spans, traces, dropped)

    def write_prepared(self, batch: PreparedSpans) -> None:
        if not isinstance(batch, PreparedBatch):
            raise InvalidInput(f"a SQLite store writes batches its prepare_spans made, not {type(batch).__name__}")
        with self.transaction() as conn:
            for sql, parameters in batch.statements:
                conn.execute(sql, parameters)
            if batch.attributes:
                conn.executemany(INSERT_ATTRIBUTES, batch.attributes)
            if batch.dropped:
                _bump(conn, "dropped_spans", batch.dropped)
            self.attach_held_flags(conn, batch.flag_candidates)

    def prepare_for_capture(self) -> None:
        """Copy the WAL into the database when `checkpoint()` says, not mid-burst.

        SQLite's default copies (and fsyncs) after any commit that leaves 1000 pages in the WAL,
        which halved the writer's throughput in a burst. Capture checkpoints from a second
        connection beside the writer; this cap only bounds the WAL if that falls behind."""
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_CAP_PAGES}")
        self.conn.execute(f"PRAGMA journal_size_limit = {_WAL_KEEP_BYTES}")

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the database, without waiting for readers (PASSIVE)."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def add_counter(self, name: str, delta: int) -> None:
        with self.transaction() as conn:
            _bump(conn, name, delta)


def _bump(conn: sqlite3.Connection, name: str, delta: int) -> None:
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value",
        (name, delta),
    )
