"""The case store: one SQLite file holding spans, traces, incidents, runs and results.

Values cross this boundary as plain Python (JSON columns are decoded on read); the hot write
path (`prepare_batch` + `write_prepared`) takes ready tuples and runs them as a few multi-row
statements in one transaction (`_bulk.py`), because sqlite-utils' `insert_all` is about three
times slower there. Everything else reads and writes through ordinary SQL that a person could
type into `sqlite-utils query`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import AmbiguousId, IncidentNotFound, InvalidInput, NotFound, TraceNotFound
from casebank.store._bulk import Statement, nullable, statements
from casebank.store._connection import connect, default_db_path
from casebank.store._where import INSERT_ATTRIBUTES, attribute_rows, resolve_where

__all__ = [
    "INCIDENT_STATUSES",
    "SPAN_COLUMNS",
    "TRACE_COLUMNS",
    "Incident",
    "PreparedBatch",
    "Store",
    "StoreCounts",
    "TraceSummary",
    "prepare_batch",
    "utc_now",
]

SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "started_at",
    "start_ns",
    "duration_ms",
    "status",
    "status_message",
    "attributes",
    "events",
    "service_name",
)
# The trace row written for each trace touched by a batch. Root fields (name .. service_name)
# are NULL unless the batch carries the trace's root span; span_count is this batch's count.
TRACE_COLUMNS = (
    "trace_id",
    "name",
    "entrypoint",
    "input",
    "output",
    "status",
    "error",
    "started_at",
    "start_ns",
    "duration_ms",
    "service_name",
    "span_count",
    "attributes",  # JSON object from casebank.set_attributes, or NULL
)
_ATTRIBUTES = TRACE_COLUMNS.index("attributes")
_SPAN_STARTED_AT, _SPAN_START_NS = SPAN_COLUMNS.index("started_at"), SPAN_COLUMNS.index("start_ns")
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

INCIDENT_STATUSES = ("flagged", "annotated", "promoted", "dismissed")


def _rows_for_traces_of(spans: Sequence[Sequence[Any]], known: set[str]) -> list[tuple[Any, ...]]:
    """Trace rows (no root fields) for the traces of `spans` that are not in `known`."""
    rows: dict[str, dict[str, Any]] = {}
    for span in spans:
        trace_id, started_at, start_ns = span[0], span[_SPAN_STARTED_AT], span[_SPAN_START_NS]
        if trace_id in known:
            continue
        row = rows.setdefault(trace_id, {"started_at": started_at, "start_ns": start_ns, "span_count": 0})
        row["span_count"] += 1
        if start_ns < row["start_ns"]:
            row["started_at"], row["start_ns"] = started_at, start_ns
    return [tuple({"trace_id": t, **row}.get(c) for c in TRACE_COLUMNS) for t, row in rows.items()]


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of the capture writer's rows as statements, ready for `Store.write_prepared`."""

    statements: list[Statement]
    attributes: list[tuple[str, str, str]]
    dropped: int
    span_count: int


def prepare_batch(spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0) -> PreparedBatch:
    """Span and trace rows (in SPAN_COLUMNS / TRACE_COLUMNS order, every span's trace among the
    trace rows, as `rows_for` makes them) as the statements that store them.

    Pure Python that needs no store: the capture writer prepares a batch before it opens the transaction."""
    return PreparedBatch(
        # Traces first: each span takes its trace's key.
        statements=statements(_UPSERT_TRACES, traces) + statements(_INSERT_SPANS, spans),
        attributes=attribute_rows(traces, _ATTRIBUTES),
        dropped=dropped,
        span_count=len(spans),
    )


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(kw_only=True)
class StoreCounts:
    path: Path
    traces: int
    spans: int
    incidents: dict[str, int]
    dropped_spans: int
    runs: int


@dataclass(kw_only=True)
class TraceSummary:
    trace_id: str
    name: str | None
    entrypoint: str | None
    input: Any
    output: Any
    status: str | None
    error: str | None
    started_at: str | None
    duration_ms: float | None
    span_count: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Incident:
    id: str
    trace_id: str
    status: str
    reasons: list[dict[str, Any]]
    flagged_at: str
    updated_at: str
    entrypoint: str | None
    input: Any
    output: Any
    error: str | None
    spans: list[dict[str, Any]]
    expected: Any = None
    has_expected: bool = False
    grader: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    dismissed_reason: str | None = None
    case_id: str | None = None
    case_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "status": self.status,
            "reasons": self.reasons,
            "flagged_at": self.flagged_at,
            "updated_at": self.updated_at,
            "entrypoint": self.entrypoint,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "spans": self.spans,
            "expected": self.expected if self.has_expected else None,
            "grader": self.grader,
            "tags": self.tags,
            "dismissed_reason": self.dismissed_reason,
            "case_id": self.case_id,
            "case_path": self.case_path,
        }


def incident_id_for(trace_id: str) -> str:
    """Stable and short: the same trace always yields the same incident id, in any process."""
    return hashlib.sha256(f"incident:{trace_id}".encode()).hexdigest()[:12]


class Store:
    """A casebank store file. Cheap to open; close it (or use `with`) when done."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.conn = connect(self.path, create=create)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE .. COMMIT; `durable` fsyncs the commit (synchronous=FULL)."""
        if durable:
            self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            if durable:
                self.conn.execute("PRAGMA synchronous = NORMAL")

    # -- capture -------------------------------------------------------------------------------

    def write_batch(self, spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]], dropped: int = 0) -> None:
        """Write span and trace rows in a single transaction (see `prepare_batch`).

        More lenient than the capture writer needs, for rows made by hand: trace rows without the
        last column (`attributes`, added in schema 2) are accepted, and so are spans without a
        trace row (one is made for them, as for a batch without the root)."""
        if traces and len(traces[0]) < len(TRACE_COLUMNS):
            traces = [(*t, None) for t in traces]
        traces = [*traces, *_rows_for_traces_of(spans, known={t[0] for t in traces})]
        self.write_prepared(prepare_batch(spans, traces, dropped))

    def write_prepared(self, batch: PreparedBatch) -> None:
        """Write a batch that `prepare_batch` made ready, in one transaction."""
        with self.transaction() as conn:
            for sql, parameters in batch.statements:
                conn.execute(sql, parameters)
            if batch.attributes:
                conn.executemany(INSERT_ATTRIBUTES, batch.attributes)
            if batch.dropped:
                self._bump(conn, "dropped_spans", batch.dropped)

    def defer_checkpoints(self) -> None:
        """For the capture writer: copy the WAL into the database when `checkpoint()` says, not mid-burst.

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
            self._bump(conn, name, delta)

    @staticmethod
    def _bump(conn: sqlite3.Connection, name: str, delta: int) -> None:
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value",
            (name, delta),
        )

    # -- reading -------------------------------------------------------------------------------

    def counts(self) -> StoreCounts:
        q = self.conn.execute
        by_status = {s: 0 for s in INCIDENT_STATUSES}
        for row in q("SELECT status, count(*) FROM incidents GROUP BY status"):
            by_status[row[0]] = row[1]
        dropped = q("SELECT value FROM counters WHERE name = 'dropped_spans'").fetchone()
        return StoreCounts(
            path=self.path,
            traces=q("SELECT count(*) FROM traces").fetchone()[0],
            spans=q("SELECT count(*) FROM spans").fetchone()[0],
            incidents=by_status,
            dropped_spans=dropped[0] if dropped else 0,
            runs=q("SELECT count(*) FROM runs").fetchone()[0],
        )

    def recent_traces(self, limit: int = 20) -> list[TraceSummary]:
        rows = self.conn.execute("SELECT * FROM traces ORDER BY start_ns DESC LIMIT ?", (limit,))
        return [self._trace_summary(row) for row in rows]

    def get_trace(self, trace_id: str) -> TraceSummary | None:
        row = self.conn.execute("SELECT * FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
        return self._trace_summary(row) if row else None

    @staticmethod
    def _trace_summary(row: sqlite3.Row) -> TraceSummary:
        return TraceSummary(
            trace_id=row["trace_id"],
            name=row["name"],
            entrypoint=row["entrypoint"],
            input=_loads(row["input"]),
            output=_loads(row["output"]),
            status=row["status"],
            error=row["error"],
            started_at=row["started_at"],
            duration_ms=row["duration_ms"],
            span_count=row["span_count"] or 0,
            attributes=_loads(row["attributes"]) or {},
        )

    def trace_id_where(self, where: Mapping[str, Any]) -> str:
        """The one trace carrying every attribute in `where` (e.g. `{"ticket_id": "123"}`).

        Raises TraceNotFound when none does, AmbiguousId (listing them) when several do."""
        return resolve_where(self.conn, where, self.path)

    def trace_spans(self, trace_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans "
            "WHERE trace_key = (SELECT trace_key FROM traces WHERE trace_id = ?) ORDER BY start_ns, span_id",
            (trace_id,),
        )
        spans = []
        for row in rows:
            span = dict(row)
            span["attributes"] = _loads(span["attributes"]) or {}
            span["events"] = _loads(span["events"]) or []
            spans.append(span)
        return spans

    # -- incidents -----------------------------------------------------------------------------

    def flag(self, trace_id: str, reason: str, *, flagged_by: str | None = None) -> Incident:
        """Snapshot the trace into an incident (or add a reason to its incident); durable on return."""
        trace_id = trace_id.strip().lower()
        if not reason or not reason.strip():
            raise InvalidInput("a flag needs a reason - say what was wrong with the answer")
        entry = {"reason": reason.strip(), "flagged_by": flagged_by, "flagged_at": utc_now()}
        incident_id = incident_id_for(trace_id)
        with self.transaction(durable=True) as conn:
            row = conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is not None:
                reasons = orjson.loads(row["reasons"]) + [entry]
                conn.execute(
                    "UPDATE incidents SET reasons = ?, updated_at = ? WHERE id = ?",
                    (_dumps(reasons), entry["flagged_at"], incident_id),
                )
            else:
                spans = self.trace_spans(trace_id)
                trace = self.get_trace(trace_id)
                if not spans and trace is None:
                    raise TraceNotFound(
                        f"no trace '{trace_id}' in store '{self.path}' - check the id (32 hex characters from "
                        "casebank.current_trace_id()) and that the app's casebank.init() writes to this store"
                    )
                root = _root_span(spans)
                conn.execute(
                    "INSERT INTO incidents (id, trace_id, status, reasons, flagged_at, updated_at, entrypoint, "
                    "input, output, error, snapshot, tags) VALUES (?, ?, 'flagged', ?, ?, ?, ?, ?, ?, ?, ?, '[]')",
                    (
                        incident_id,
                        trace_id,
                        _dumps([entry]),
                        entry["flagged_at"],
                        entry["flagged_at"],
                        trace.entrypoint if trace else None,
                        trace and _dumps(trace.input),
                        trace and _dumps(trace.output),
                        trace.error if trace else (root or {}).get("status_message"),
                        _dumps(spans),
                    ),
                )
        return self.get_incident(incident_id)

    def get_incident(self, incident_id: str) -> Incident:
        row = self.conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(
                f"no incident '{incident_id}' in store '{self.path}' - see 'cases list --status all'"
            )
        return _incident(row)

    def resolve_incident(self, prefix: str) -> Incident:
        """An incident by any unique prefix of its id (or of its trace id), as git resolves commits."""
        prefix = prefix.strip().lower()
        if not _is_hex(prefix):
            raise InvalidInput(f"'{prefix}' is not an incident id - ids are hex, as 'cases list' shows them")
        for column in ("id", "trace_id"):
            row = self._one_by_prefix("incidents", column, prefix, noun="incident")
            if row is not None:
                return _incident(row)
        raise IncidentNotFound(f"no incident matches '{prefix}' in store '{self.path}' - see 'cases list --status all'")

    def list_incidents(self, status: str = "all") -> list[Incident]:
        if status == "all":
            rows = self.conn.execute("SELECT * FROM incidents ORDER BY flagged_at DESC, id")
        else:
            rows = self.conn.execute("SELECT * FROM incidents WHERE status = ? ORDER BY flagged_at DESC, id", (status,))
        return [_incident(row) for row in rows]

    def annotate(self, incident_id: str, *, expected: Any, grader: dict[str, Any], tags: Sequence[str]) -> Incident:
        with self.transaction(durable=True) as conn:
            conn.execute(
                "UPDATE incidents SET expected = ?, grader = ?, tags = ?, status = 'annotated', updated_at = ? "
                "WHERE id = ?",
                (_dumps(expected), _dumps(grader), _dumps(sorted(set(tags))), utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    def dismiss(self, incident_id: str, reason: str) -> Incident:
        with self.transaction(durable=True) as conn:
            conn.execute(
                "UPDATE incidents SET status = 'dismissed', dismissed_reason = ?, updated_at = ? WHERE id = ?",
                (reason, utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    def mark_promoted(self, incident_id: str, *, case_id: str, case_path: str) -> Incident:
        with self.transaction(durable=True) as conn:
            conn.execute(
                "UPDATE incidents SET status = 'promoted', case_id = ?, case_path = ?, updated_at = ? WHERE id = ?",
                (case_id, case_path, utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    # -- runs ----------------------------------------------------------------------------------

    def record_run(self, run: dict[str, Any], results: Sequence[dict[str, Any]]) -> None:
        """Store a finished run and each of its results (dicts keyed by column name)."""
        with self.transaction() as conn:
            _insert(conn, "runs", run)
            for result in results:
                _insert(conn, "results", result)

    def list_runs(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """The newest `limit` runs (every run with None), newest first; ties broken by id, so the order is stable."""
        rows = self.conn.execute(
            "SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?", (-1 if limit is None else limit,)
        )
        return [dict(row) for row in rows]

    def run_results(self, run_id: str, *, suite_order: bool = False) -> list[dict[str, Any]]:
        """A run's results by case id, then epoch; with `suite_order`, as recorded: suite order, then epoch."""
        order = "rowid" if suite_order else "case_id, epoch"
        rows = self.conn.execute(f"SELECT * FROM results WHERE run_id = ? ORDER BY {order}", (run_id,))
        return [dict(row) for row in rows]

    def resolve_run(self, ref: str) -> dict[str, Any]:
        """A run by `latest` or any unique prefix of its id."""
        ref = ref.strip().lower()
        if ref == "latest":
            row = self.conn.execute("SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1").fetchone()
            if row is None:
                raise NotFound(f"no runs in store '{self.path}' yet - record one with 'cases run'")
            return dict(row)
        if not _is_hex(ref):
            raise InvalidInput(f"'{ref}' is not a run id - pass 'latest' or an id as 'cases runs' shows it")
        row = self._one_by_prefix("runs", "id", ref, noun="run")
        if row is None:
            raise NotFound(f"no run matches '{ref}' in store '{self.path}' - see 'cases runs'")
        return dict(row)

    def _one_by_prefix(self, table: str, column: str, prefix: str, *, noun: str) -> sqlite3.Row | None:
        """The row of `table` whose `column` starts with `prefix`, None if there is none;
        AmbiguousId, listing the first ids, if there are several."""
        rows = self.conn.execute(
            f"SELECT * FROM {table} WHERE {column} >= ? AND {column} < ? ORDER BY {column} LIMIT 6",
            (prefix, prefix + "g"),
        ).fetchall()
        if len(rows) > 1:
            ids = ", ".join(r["id"] for r in rows[:5])
            raise AmbiguousId(f"{noun} id '{prefix}' is ambiguous ({ids}) - type more characters")
        return rows[0] if rows else None


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    columns = list(row)
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[c] for c in columns],
    )


def _root_span(spans: list[dict[str, Any]]) -> dict[str, Any] | None:
    ids = {s["span_id"] for s in spans}
    for span in spans:
        if span["parent_span_id"] not in ids:
            return span
    return None


def _incident(row: sqlite3.Row) -> Incident:
    return Incident(
        id=row["id"],
        trace_id=row["trace_id"],
        status=row["status"],
        reasons=orjson.loads(row["reasons"]),
        flagged_at=row["flagged_at"],
        updated_at=row["updated_at"],
        entrypoint=row["entrypoint"],
        input=_loads(row["input"]),
        output=_loads(row["output"]),
        error=row["error"],
        spans=orjson.loads(row["snapshot"]),
        expected=_loads(row["expected"]),
        has_expected=row["expected"] is not None,
        grader=_loads(row["grader"]),
        tags=_loads(row["tags"]) or [],
        dismissed_reason=row["dismissed_reason"],
        case_id=row["case_id"],
        case_path=row["case_path"],
    )


def _is_hex(text: str) -> bool:
    """Whether `text` can start an id: non-empty lowercase hex (callers lower it first)."""
    return bool(text) and all(c in "0123456789abcdef" for c in text)
