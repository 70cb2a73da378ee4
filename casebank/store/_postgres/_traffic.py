"""Recent traffic for `cases audit` in a PostgreSQL store: traces since a time, and what the
product sent to its models in them.

As in the SQLite store: the `traces_start_ns` index a page at a time, keyed by (start_ns,
trace_key), and a page's spans by their primary key (trace_key, span_id). Each page borrows a
connection from the pool for one query and gives it back, so an audit reading a week of traffic
holds no connection while it works.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from casebank.store._checks import cutoff_ns
from casebank.store._postgres._base import Connected
from casebank.store._postgres._traces import _trace_summary
from casebank.store._records import TraceSummary

__all__ = ["PAGE", "Traffic"]

PAGE = 500  # traces a page

# After the last page's (start_ns, trace_key): the index range starts at that start time, so a
# page costs its own rows, not every row before it in the window.
_AFTER = "start_ns >= %s AND (start_ns > %s OR trace_key > %s)"
_TRACES = (
    "SELECT trace_key, start_ns, trace_id, name, entrypoint, input, output, status, error, started_at, duration_ms, "
    f"span_count, attributes FROM traces WHERE {_AFTER} {{entrypoint}}ORDER BY start_ns, trace_key LIMIT %s"
)
# A page of traces and their LLM spans in one round trip; `?` tests for a key without reading its value.
_LLM_SPANS = f"""
WITH page AS (SELECT trace_key, trace_id, start_ns FROM traces WHERE {_AFTER} ORDER BY start_ns, trace_key LIMIT %s)
SELECT p.trace_key, p.start_ns, p.trace_id, s.span_id,
       s.attributes ->> 'gen_ai.system_instructions', s.attributes ->> 'gen_ai.input.messages'
FROM page p LEFT JOIN spans s ON s.trace_key = p.trace_key
     AND (s.attributes ? 'gen_ai.input.messages' OR s.attributes ? 'gen_ai.system_instructions')
ORDER BY p.start_ns, p.trace_key, s.span_id
""".encode()


class Traffic(Connected):
    def traces_since(self, since: str, *, entrypoint: str | None = None) -> Iterator[TraceSummary]:
        start = cutoff_ns(since)
        sql = _TRACES.format(entrypoint="AND entrypoint = %s " if entrypoint is not None else "")
        extra = (entrypoint,) if entrypoint is not None else ()
        last_ns, last_key = start - 1, 0
        while True:
            rows = self.rows(sql, (max(start, last_ns), last_ns, last_key, *extra, PAGE))
            for row in rows:
                yield _trace_summary(row)
            if len(rows) < PAGE:
                return
            last_ns, last_key = rows[-1]["start_ns"], rows[-1]["trace_key"]

    def llm_inputs_since(self, since: str) -> Iterator[dict[str, Any]]:
        start = cutoff_ns(since)
        last_ns, last_key = start - 1, 0
        while True:
            with self.connection() as conn:
                rows = conn.execute(_LLM_SPANS, (max(start, last_ns), last_ns, last_key, PAGE)).fetchall()
            traces = 0
            for key, start_ns, trace_id, span_id, system, messages in rows:
                if (start_ns, key) != (last_ns, last_key):
                    traces += 1
                    last_ns, last_key = start_ns, key
                if span_id is not None:
                    yield {
                        "trace_id": trace_id,
                        "span_id": span_id,
                        "system_instructions": system,
                        "input_messages": messages,
                    }
            if traces < PAGE:
                return
