"""Finished OTel spans -> store rows. Runs on the writer thread, never on the app's.

The trace row of a batch carries the root fields (entry point, input, output, status) only
when the batch holds the trace's root: the casebank entry span, or a span with no parent.
The store's upsert keeps root fields from whichever batch had them and adds up span counts.
The entry span's `casebank.attributes.*` (from `set_attributes`) go into the trace row's
`attributes`, where `flag(where=...)` looks them up. Spans of other instrumentations
(OpenLLMetry, OpenInference, OTel contrib) also get casebank's `gen_ai.*` view (`_attach.py`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any, cast

import orjson
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from casebank.capture._attach import INPUT_MESSAGES, OUTPUT_MESSAGES, SYSTEM_INSTRUCTIONS, with_casebank_view
from casebank.capture._attributes import ENTRYPOINT, ERROR, INPUT, IS_ROOT, OUTPUT, SCOPE
from casebank.capture._correlate import attributes_of
from casebank.capture._redact import REDACTED, is_secret_key, redact, redact_messages
from casebank.capture._setup import state

# OTel's UNSET means "nothing went wrong"; people reading the store expect "ok".
# Keyed by the members' `_value_`: hashing an Enum member runs Enum.__hash__ in Python.
_STATUS = {StatusCode.UNSET._value_: "ok", StatusCode.OK._value_: "ok", StatusCode.ERROR._value_: "error"}
_KIND = {kind._value_: kind.name.lower() for kind in SpanKind}
_NOT_STORED_ON_ROOT = (INPUT, OUTPUT)
# Converting is pure Python, so it holds the GIL until the interpreter's switch interval (5 ms)
# forces it off, and every other thread that wants the GIL back - the writer after each SQLite
# statement, and above all the app's own threads after each I/O call - would wait that long. A
# short sleep every slice of spans (~0.5 ms of work) bounds the wait at about that; `sleep(0)`
# would not do, as this thread takes the GIL back before a waiting one wakes.
PAUSE_EVERY = 32
PAUSE_S = 50e-6
_OWN_MESSAGES = frozenset((INPUT_MESSAGES, OUTPUT_MESSAGES, SYSTEM_INSTRUCTIONS))


def _iso(ns: int) -> str:
    """`ns` since the epoch as ISO 8601 UTC with microseconds (datetime's format, at a third of its cost)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return f"{_iso_second(seconds)}.{rest // 1000:06d}+00:00"


@functools.lru_cache(maxsize=256)
def _iso_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _plain(attributes: Any) -> dict[str, Any]:
    """A span's attributes as a dict of our own, which we may change.

    The SDK's BoundedAttributes copies itself at C speed; walking it as a Mapping (or through
    the MappingProxy that `span.attributes` returns) goes through Python code for every key."""
    if not attributes:
        return {}
    if isinstance(attributes, BoundedAttributes):
        return cast("dict[str, Any]", attributes.copy())  # a new dict, typed as a MutableMapping
    return dict(attributes)


def _redacted(attributes: dict[str, Any], *, ours: bool = False) -> dict[str, Any]:
    """`attributes`, changed in place: whole values under a secret key, secret-shaped text in others.

    `ours`: the span is casebank's own, so its message attributes have casebank's JSON shape."""
    for key, value in attributes.items():
        if is_secret_key(key):
            attributes[key] = REDACTED
        elif type(value) is str:
            attributes[key] = redact_messages(value) if ours and key in _OWN_MESSAGES else redact(value)
    return attributes


def rows_for(spans: Sequence[ReadableSpan]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(span rows, trace rows) in the column order of store.SPAN_COLUMNS / TRACE_COLUMNS."""
    span_rows: list[tuple[Any, ...]] = []
    traces: dict[int, list[Any]] = {}
    capture_content = state.capture_content
    services: dict[int, Any] = {}  # resources are shared by every span of a provider
    for i, span in enumerate(spans):
        if i and i % PAUSE_EVERY == 0:
            time.sleep(PAUSE_S)
        ctx = span.context
        if ctx is None:
            continue
        parent = span.parent
        start = span.start_time or 0
        end = span.end_time or start
        scope = span.instrumentation_scope
        ours = scope is not None and scope.name.startswith(SCOPE)
        attrs = _redacted(_plain(getattr(span, "_attributes", None) or span.attributes), ours=ours)
        if not ours:  # another instrumentation's span
            attrs = with_casebank_view(attrs, capture_content=capture_content)
        is_root = bool(attrs.get(IS_ROOT))
        # The entry point's input and output live in its trace row; storing them twice would
        # cost a quarter of the bytes the writer moves.
        stored_attrs = {k: v for k, v in attrs.items() if k not in _NOT_STORED_ON_ROOT} if is_root else attrs
        status = _STATUS[span.status.status_code._value_]
        resource = span.resource
        service = services.get(id(resource))
        if service is None:
            service = services[id(resource)] = resource.attributes.get("service.name")
        duration_ms = (end - start) / 1e6
        started_at = _iso(start)
        # `span.events` copies the SDK's list under a lock; most spans have none.
        raw_events = getattr(span, "_events", None)
        events = span.events if raw_events is None or len(raw_events) else ()
        trace_id = ctx.trace_id
        row = traces.get(trace_id)
        if row is None:
            row = [format(trace_id, "032x"), None, None, None, None, None, None, started_at, start, None, None, 0, None]
            traces[trace_id] = row
        span_rows.append(
            (
                row[0],
                format(ctx.span_id, "016x"),
                format(parent.span_id, "016x") if parent is not None else None,
                span.name,
                _KIND[span.kind._value_],
                started_at,
                start,
                duration_ms,
                status,
                span.status.description,
                _json(stored_attrs),
                _json([_event(e) for e in events]) if events else None,
                service,
            )
        )
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


def _event(event: Event) -> dict[str, Any]:
    return {"name": event.name, "time": _iso(event.timestamp), "attributes": _redacted(_plain(event.attributes))}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
