"""Finished OTel spans -> store rows. Runs on the writer thread, never on the app's.

The trace row of a batch carries the root fields (entry point, input, output, status) only
when the batch holds the trace's root: the casebank entry span, or a span with no parent.
The store's upsert keeps root fields from whichever batch had them and adds up span counts.
The entry span's `casebank.attributes.*` (from `set_attributes`) go into the trace row's
`attributes`, where `flag(where=...)` looks them up. Spans of other instrumentations
(OpenLLMetry, OpenInference, OTel contrib) also get casebank's `gen_ai.*` view (`_attach.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from casebank.capture._attach import with_casebank_view
from casebank.capture._attributes import ENTRYPOINT, ERROR, INPUT, IS_ROOT, OUTPUT, SCOPE
from casebank.capture._correlate import attributes_of
from casebank.capture._redact import REDACTED, is_secret_key, redact
from casebank.capture._setup import state

# OTel's UNSET means "nothing went wrong"; people reading the store expect "ok".
_STATUS = {StatusCode.UNSET: "ok", StatusCode.OK: "ok", StatusCode.ERROR: "error"}
_KIND = {kind: kind.name.lower() for kind in SpanKind}
_UTC = dt.timezone.utc


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, _UTC).isoformat(timespec="microseconds")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _redacted(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attributes with secrets replaced: whole values under a secret key, secret-shaped text in others."""
    if not attributes:
        return {}
    return {
        key: REDACTED if is_secret_key(key) else redact(value) if isinstance(value, str) else value
        for key, value in attributes.items()
    }


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
        attrs = _redacted(span.attributes)
        scope = span.instrumentation_scope
        if scope is None or not scope.name.startswith(SCOPE):  # another instrumentation's span
            attrs = with_casebank_view(attrs, capture_content=state.capture_content)
        is_root = bool(attrs.get(IS_ROOT))
        # The entry point's input and output live in its trace row; storing them twice would
        # cost a quarter of the bytes the writer moves.
        stored_attrs = {k: v for k, v in attrs.items() if k not in (INPUT, OUTPUT)} if is_root else attrs
        status = _STATUS[span.status.status_code]
        service = span.resource.attributes.get("service.name")
        duration_ms = (end - start) / 1e6
        started_at = _iso(start)
        events = [
            {"name": e.name, "time": _iso(e.timestamp), "attributes": _redacted(e.attributes)} for e in span.events
        ]
        span_rows.append(
            (
                trace_id,
                format(ctx.span_id, "016x"),
                parent,
                span.name,
                _KIND[span.kind],
                started_at,
                start,
                duration_ms,
                status,
                span.status.description,
                _json(stored_attrs),
                _json(events) if events else None,
                service,
            )
        )
        row = traces.get(trace_id)
        if row is None:
            row = [trace_id, None, None, None, None, None, None, started_at, start, None, None, 0, None]
            traces[trace_id] = row
        row[11] += 1
        if start < row[8]:
            row[7], row[8] = started_at, start
        if is_root or (parent is None and row[1] is None):
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
        if is_root and (attributes := attributes_of(attrs)):
            row[12] = _json({**orjson.loads(row[12]), **attributes} if row[12] else attributes)
    return span_rows, [tuple(r) for r in traces.values()]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
