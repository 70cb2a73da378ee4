"""Finished OTel spans -> store rows. Runs on the writer thread, never on the app's.

The trace row of a batch carries the root fields (entry point, input, output, status) only
when the batch holds the trace's root: the casebank entry span, or a span with no parent.
The store's upsert keeps root fields from whichever batch had them and adds up span counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from casebank.capture._attributes import ENTRYPOINT, ERROR, INPUT, IS_ROOT, OUTPUT
from casebank.capture._redact import redact

_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}
_UTC = dt.timezone.utc


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, _UTC).isoformat(timespec="microseconds")


def _json(value: Any) -> str:
    return redact(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode())


def rows_for(spans: Sequence[ReadableSpan]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(span rows, trace rows) in the column order of store.SPAN_COLUMNS / TRACE_COLUMNS."""
    span_rows: list[tuple[Any, ...]] = []
    traces: dict[str, list[Any]] = {}
    for span in spans:
        ctx = span.context
        if ctx is None:
            continue
        trace_id = format(ctx.trace_id, "032x")
        parent = format(span.parent.span_id, "016x") if span.parent is not None else None
        start = span.start_time or 0
        end = span.end_time or start
        attrs = {k: redact(v) if isinstance(v, str) else v for k, v in (span.attributes or {}).items()}
        status = _STATUS.get(span.status.status_code, "unset")
        service = span.resource.attributes.get("service.name")
        duration_ms = (end - start) / 1e6
        started_at = _iso(start)
        events = [
            {"name": e.name, "time": _iso(e.timestamp), "attributes": dict(e.attributes or {})} for e in span.events
        ]
        span_rows.append(
            (
                trace_id,
                format(ctx.span_id, "016x"),
                parent,
                span.name,
                span.kind.name.lower(),
                started_at,
                start,
                duration_ms,
                status,
                span.status.description,
                _json(attrs),
                _json(events) if events else None,
                service,
            )
        )
        row = traces.get(trace_id)
        if row is None:
            row = traces[trace_id] = [trace_id, None, None, None, None, None, None, started_at, start, None, None, 0]
        row[11] += 1
        if start < row[8]:
            row[7], row[8] = started_at, start
        if attrs.get(IS_ROOT) or (parent is None and row[1] is None):
            error = attrs.get(ERROR) or (span.status.description if status == "error" else None)
            row[1:7] = [
                span.name,
                attrs.get(ENTRYPOINT),
                _str_or_none(attrs.get(INPUT)),
                _str_or_none(attrs.get(OUTPUT)),
                "error" if status == "error" else "ok",
                error,
            ]
            row[9], row[10] = duration_ms, service
    return span_rows, [tuple(r) for r in traces.values()]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
