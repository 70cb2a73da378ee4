"""Reading traces back from a PostgreSQL store: counts, recent traces, one trace and its spans, and
finding a trace by id prefix or by the attributes the app attached."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casebank.errors import TraceNotFound
from casebank.store._attributes import SHOWN, the_one_trace
from casebank.store._postgres._base import Conn, Connected
from casebank.store._postgres._where import traces_where
from casebank.store._records import INCIDENT_STATUSES, SPAN_COLUMNS, StoreCounts, TraceSummary, hex_prefix
from casebank.store._search import checked_search, unknown_cursor

__all__ = ["SPANS_OF", "TraceReads", "spans_of"]

_TRACE = (
    "SELECT trace_id, name, entrypoint, input, output, status, error, started_at, duration_ms, span_count, "
    "attributes FROM traces"
)
SPANS_OF = (
    f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans "
    "WHERE trace_key = (SELECT trace_key FROM traces WHERE trace_id = %s) ORDER BY start_ns, span_id"
)


def spans_of(conn: Conn, trace_id: str) -> list[dict[str, Any]]:
    """A trace's spans by column name, attributes and events decoded, by start time."""
    spans = []
    for values in conn.execute(SPANS_OF, (trace_id,)):
        span = dict(zip(SPAN_COLUMNS, values, strict=True))
        span["attributes"] = span["attributes"] or {}
        span["events"] = span["events"] or []
        spans.append(span)
    return spans


class TraceReads(Connected):
    def counts(self) -> StoreCounts:
        by_status = {s: 0 for s in INCIDENT_STATUSES}
        with self.connection() as conn:
            for status, n in conn.execute("SELECT status, count(*) FROM incidents GROUP BY status"):
                by_status[status] = n
            totals = conn.execute(
                "SELECT (SELECT count(*) FROM traces), (SELECT count(*) FROM spans), "
                "(SELECT value FROM counters WHERE name = 'dropped_spans'), (SELECT count(*) FROM runs)"
            ).fetchone()
        assert totals is not None
        return StoreCounts(
            location=self.location,
            traces=totals[0],
            spans=totals[1],
            incidents=by_status,
            dropped_spans=totals[2] or 0,
            runs=totals[3],
        )

    def recent_traces(self, limit: int = 20) -> list[TraceSummary]:
        rows = self.rows(f"{_TRACE} ORDER BY start_ns DESC NULLS LAST LIMIT %s", (limit,))
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
        conditions, params = search.conditions("%s")
        if search.before is not None:
            start_ns = self.value("SELECT start_ns FROM traces WHERE trace_id = %s", (search.before,))
            if start_ns is None:
                raise unknown_cursor(search.before, self.location)
            condition, more = search.after_cursor("%s", start_ns)
            conditions.append(condition)
            params += more
        filtered = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        rows = self.rows(
            f"{_TRACE} {filtered}ORDER BY start_ns DESC NULLS LAST, trace_id LIMIT %s", (*params, search.limit)
        )
        return [_trace_summary(row) for row in rows]

    def get_trace(self, trace_id: str) -> TraceSummary | None:
        row = self.row(f"{_TRACE} WHERE trace_id = %s", (trace_id,))
        return _trace_summary(row) if row else None

    def trace_spans(self, trace_id: str) -> list[dict[str, Any]]:
        with self.connection() as conn:
            return spans_of(conn, trace_id)

    def resolve_trace_id(self, prefix: str) -> str:
        ref = hex_prefix(prefix, "a trace id", "pass the hex id that 'cases traces' shows")
        row = self.one_by_prefix("traces", "trace_id", ref, noun="trace", shown=12, select="trace_id")
        if row is None:
            raise TraceNotFound(f"no trace matches '{ref}' in store '{self.location}' - see 'cases traces'")
        return str(row["trace_id"])

    def traces_where(self, where: Mapping[str, Any], limit: int = SHOWN + 1) -> list[str]:
        with self.connection() as conn:
            return traces_where(conn, where, limit)

    def trace_id_where(self, where: Mapping[str, Any]) -> str:
        return the_one_trace(self.traces_where(where), where, self.location)


def _trace_summary(row: Mapping[str, Any]) -> TraceSummary:
    return TraceSummary(
        trace_id=row["trace_id"],
        name=row["name"],
        entrypoint=row["entrypoint"],
        input=row["input"],
        output=row["output"],
        status=row["status"],
        error=row["error"],
        started_at=row["started_at"],
        duration_ms=row["duration_ms"],
        span_count=row["span_count"] or 0,
        attributes=row["attributes"] or {},
    )
