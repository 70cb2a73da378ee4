"""Reading traces back from a SQLite store: counts, recent traces, one trace and its spans, and
finding a trace by id prefix or by the attributes the app attached."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from casebank.errors import TraceNotFound
from casebank.store._attributes import SHOWN, the_one_trace
from casebank.store._records import INCIDENT_STATUSES, SPAN_COLUMNS, StoreCounts, TraceSummary, hex_prefix
from casebank.store._search import checked_search, unknown_cursor
from casebank.store._sqlite._base import Connected, loads
from casebank.store._sqlite._where import traces_where

__all__ = ["TraceReads"]


class TraceReads(Connected):
    def counts(self) -> StoreCounts:
        q = self.conn.execute
        by_status = {s: 0 for s in INCIDENT_STATUSES}
        for row in q("SELECT status, count(*) FROM incidents GROUP BY status"):
            by_status[row[0]] = row[1]
        dropped = q("SELECT value FROM counters WHERE name = 'dropped_spans'").fetchone()
        return StoreCounts(
            location=self.location,
            traces=q("SELECT count(*) FROM traces").fetchone()[0],
            spans=q("SELECT count(*) FROM spans").fetchone()[0],
            incidents=by_status,
            dropped_spans=dropped[0] if dropped else 0,
            runs=q("SELECT count(*) FROM runs").fetchone()[0],
        )

    def recent_traces(self, limit: int = 20) -> list[TraceSummary]:
        rows = self.conn.execute("SELECT * FROM traces ORDER BY start_ns DESC LIMIT ?", (limit,))
        return [_trace_summary(row) for row in rows]

    def search_traces(
        self,
        *,
        where: Mapping[str, Any] | None = None,
        entrypoint: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[TraceSummary]:
        search = checked_search(
            where=where, entrypoint=entrypoint, status=status, since=since, until=until, before=before, limit=limit
        )
        conditions, params = search.conditions("?")
        if search.before is not None:
            row = self.conn.execute("SELECT start_ns FROM traces WHERE trace_id = ?", (search.before,)).fetchone()
            if row is None:
                raise unknown_cursor(search.before, self.location)
            condition, more = search.after_cursor("?", row[0])
            conditions.append(condition)
            params += more
        filtered = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        rows = self.conn.execute(
            f"SELECT * FROM traces {filtered}ORDER BY start_ns DESC, trace_id LIMIT ?", (*params, search.limit)
        )
        return [_trace_summary(row) for row in rows]

    def get_trace(self, trace_id: str) -> TraceSummary | None:
        row = self.conn.execute("SELECT * FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
        return _trace_summary(row) if row else None

    def trace_spans(self, trace_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans "
            "WHERE trace_key = (SELECT trace_key FROM traces WHERE trace_id = ?) ORDER BY start_ns, span_id",
            (trace_id,),
        )
        spans = []
        for row in rows:
            span = dict(row)
            span["attributes"] = loads(span["attributes"]) or {}
            span["events"] = loads(span["events"]) or []
            spans.append(span)
        return spans

    def resolve_trace_id(self, prefix: str) -> str:
        ref = hex_prefix(prefix, "a trace id", "pass the hex id that 'cases traces' shows")
        row = self.one_by_prefix("traces", "trace_id", ref, noun="trace", shown=12)
        if row is None:
            raise TraceNotFound(f"no trace matches '{ref}' in store '{self.location}' - see 'cases traces'")
        return str(row["trace_id"])

    def traces_where(self, where: Mapping[str, Any], limit: int = SHOWN + 1) -> list[str]:
        return traces_where(self.conn, where, limit)

    def trace_id_where(self, where: Mapping[str, Any]) -> str:
        return the_one_trace(traces_where(self.conn, where), where, self.location)


def _trace_summary(row: sqlite3.Row) -> TraceSummary:
    return TraceSummary(
        trace_id=row["trace_id"],
        name=row["name"],
        entrypoint=row["entrypoint"],
        input=loads(row["input"]),
        output=loads(row["output"]),
        status=row["status"],
        error=row["error"],
        started_at=row["started_at"],
        duration_ms=row["duration_ms"],
        span_count=row["span_count"] or 0,
        attributes=loads(row["attributes"]) or {},
    )
