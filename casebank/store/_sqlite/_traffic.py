"""Recent traffic for `cases audit` in a SQLite store: traces since a time, and what the product
sent to its models in them.

Both walk `idx_traces_start_ns` a page at a time, keyed by (start_ns, trace_key) - the index holds
the rowid after the start time, so a page is an index range without a sort - and a page's spans
come by `(trace_key, span_id)`. Between pages no statement is open, so a caller that writes to
the store while it reads (or a writer in another process) is never blocked by an audit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from casebank.store._checks import cutoff_ns
from casebank.store._records import TraceSummary
from casebank.store._sqlite._base import Connected
from casebank.store._sqlite._traces import _trace_summary

__all__ = ["PAGE", "Traffic"]

PAGE = 500  # traces a page

# After the last page's (start_ns, trace_key): the index range starts at that start time, so a
# page costs its own rows, not every row before it in the window.
_AFTER = "start_ns >= ? AND (start_ns > ? OR trace_key > ?)"
_TRACES = f"SELECT * FROM traces WHERE {_AFTER} {{entrypoint}}ORDER BY start_ns, trace_key LIMIT ?"
_KEYS = f"SELECT trace_key, trace_id, start_ns FROM traces WHERE {_AFTER} ORDER BY start_ns, trace_key LIMIT ?"
# instr() first: it rules out most spans (tools, the entry span) without parsing their JSON.
_LLM_SPANS = (
    "SELECT trace_key, span_id, json_extract(attributes, '$.\"gen_ai.system_instructions\"'), "
    "json_extract(attributes, '$.\"gen_ai.input.messages\"') FROM spans WHERE trace_key IN ({keys}) "
    "AND (instr(attributes, '\"gen_ai.input.messages\"') OR instr(attributes, '\"gen_ai.system_instructions\"'))"
)


class Traffic(Connected):
    def traces_since(self, since: str, *, entrypoint: str | None = None) -> Iterator[TraceSummary]:
        start = cutoff_ns(since)
        sql = _TRACES.format(entrypoint="AND entrypoint = ? " if entrypoint is not None else "")
        extra = (entrypoint,) if entrypoint is not None else ()
        last_ns, last_key = start - 1, 0
        while True:
            rows = self.conn.execute(sql, (max(start, last_ns), last_ns, last_key, *extra, PAGE)).fetchall()
            for row in rows:
                yield _trace_summary(row)
            if len(rows) < PAGE:
                return
            last_ns, last_key = rows[-1]["start_ns"], rows[-1]["trace_key"]

    def llm_inputs_since(self, since: str) -> Iterator[dict[str, Any]]:
        start = cutoff_ns(since)
        last_ns, last_key = start - 1, 0
        while True:
            page = self.conn.execute(_KEYS, (max(start, last_ns), last_ns, last_key, PAGE)).fetchall()
            if not page:
                return
            ids = {row[0]: row[1] for row in page}
            spans = self.conn.execute(_LLM_SPANS.format(keys=",".join("?" * len(ids))), tuple(ids)).fetchall()
            by_trace: dict[int, list[Any]] = {}
            for span in spans:
                by_trace.setdefault(span[0], []).append(span)
            for key, trace_id, _ in page:
                for _, span_id, system, messages in sorted(by_trace.get(key, ()), key=lambda s: s[1]):
                    yield {
                        "trace_id": trace_id,
                        "span_id": span_id,
                        "system_instructions": system,
                        "input_messages": messages,
                    }
            if len(page) < PAGE:
                return
            last_ns, last_key = page[-1][2], page[-1][0]
