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
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import orjson
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan, Span
from opentelemetry.trace import SpanKind, StatusCode

from casebank._limits import attribute_json, limit_attributes, text
from casebank._runtime import state
from casebank.capture._attach import with_casebank_view
from casebank.capture._attributes import (
    ENTRYPOINT,
    ERROR,
    INPUT,
    INPUT_MESSAGES,
    INPUT_TYPES,
    IS_ROOT,
    OUTPUT,
    OUTPUT_MESSAGES,
    SCOPE,
    STEP_ARGUMENTS,
    STEP_RESULT,
    SYSTEM_INSTRUCTIONS,
)
from casebank.capture._correlate import attributes_of
from casebank.capture._redact import SHORTEST_SECRET, key_kind, key_marker, redact, redact_messages

# More redaction after the secret nets, for every string value: `init(redact=[...])` (`_pii.py`).
Redact = Callable[[str], str]

# OTel's UNSET means "nothing went wrong"; people reading the store expect "ok".
# Keyed by the members' `_value_`: hashing an Enum member runs Enum.__hash__ in Python.
_STATUS = {StatusCode.UNSET._value_: "ok", StatusCode.OK._value_: "ok", StatusCode.ERROR._value_: "error"}
_KIND = {kind._value_: kind.name.lower() for kind in SpanKind}
# Converting is pure Python, so it holds the GIL until the interpreter's switch interval (5 ms)
# forces it off, and every other thread that wants the GIL back - above all the app's own
# threads after each I/O call - would wait that long. A short sleep after every slice of work
# bounds the wait at about the slice; `sleep(0)` would not do, as this thread takes the GIL
# back before a waiting one wakes. Slices are timed, not counted, so big spans cannot stretch
# them. The sleeps cost the writer a fifth of its speed, so the caller may say when the app is
# quiet (no span ended during the last slice) and no slice needs to end in one.
PAUSE_AFTER_S = 0.5e-3
PAUSE_S = 50e-6
_CHECK_EVERY = 8  # spans between looks at the clock
_OWN_MESSAGES = frozenset((INPUT_MESSAGES, OUTPUT_MESSAGES, SYSTEM_INSTRUCTIONS))
# Values that are JSON text, which the store and `cases traces` parse: `more` must leave them JSON.
_JSON_VALUES = frozenset((INPUT, OUTPUT, INPUT_TYPES, STEP_ARGUMENTS, STEP_RESULT, *_OWN_MESSAGES))
_SDK_SPANS = (ReadableSpan, Span)


def _iso(ns: int) -> str:
    """`ns` since the epoch as ISO 8601 UTC with microseconds (datetime's format, at a third of its cost)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return f"{_iso_second(seconds)}.{rest // 1000:06d}+00:00"


@functools.lru_cache(maxsize=256)
def _iso_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


_json = attribute_json  # what orjson refuses (lone surrogates, huge ints) is made to fit, not lost with its batch


def _plain(attributes: Any) -> dict[str, Any]:
    """A span's attributes as a dict of our own, which we may change.

    The SDK's BoundedAttributes copies its plain dict at C speed; walking it as a Mapping (or
    through the MappingProxy that `span.attributes` returns) runs Python code for every key, and
    even its `len()` is a Python method."""
    # Values past capture's limits are cut here, before redaction scans them (`_limits`).
    if type(attributes) is BoundedAttributes:
        return limit_attributes(cast("dict[str, Any]", attributes.copy()))  # a new dict, typed as a MutableMapping
    return limit_attributes(dict(attributes)) if attributes else {}


def _redacted(attributes: dict[str, Any], *, ours: bool = False, more: Redact | None = None) -> dict[str, Any]:
    """`attributes`, changed in place: whole values under a secret key, secret-shaped text in others,
    then `more` (PII, a team's own) on every string value.

    `ours`: the span is casebank's own, so its message attributes have casebank's JSON shape."""
    for key, value in attributes.items():
        if (kind := key_kind(key)) is not None:
            attributes[key] = key_marker(kind)
        elif type(value) is str:
            if len(value) >= SHORTEST_SECRET:
                value = attributes[key] = redact_messages(value) if ours and key in _OWN_MESSAGES else redact(value)
            if more is not None:
                attributes[key] = _keeping_json(more)(value) if key in _JSON_VALUES else more(value)
        elif type(value) is tuple or type(value) is list:  # a sequence attribute (OTel keeps it a tuple)
            attributes[key] = [redacted_text(v, more) if type(v) is str else v for v in value]
    return attributes


def _keeping_json(more: Redact) -> Redact:
    """`more` for a JSON value: a Redactor's variant that refuses a team callable's result that no
    longer parses (`_pii.Redactor.keeping_json`); any other callable as it is."""
    keeping: Redact = getattr(more, "keeping_json", more)
    return keeping


def redacted_text(value: str, more: Redact | None = None) -> str:
    """One string (a name, a status description) cut to capture's limits (`_limits`), then through
    both nets: cut first, so that a 50 MB message is not scanned whole."""
    value = redact(text(value))
    return value if more is None else more(value)


# What rows_from reads of a span, in this order: (name, context, kind, parent, start, end,
# attributes, events, resource, status, scope). Duck-typed as the SDK has them: `context` and
# `parent` are tuples that start (trace id, span id) as ints (SpanContext is one), `kind` a
# SpanKind, `attributes` a mapping, `events` items with name, timestamp and attributes (or
# None), `resource` has `.attributes`, `status` has `.status_code` (a StatusCode) and
# `.description`, `scope` has `.name` (or is None).
SpanFields = tuple[Any, Any, Any, Any, Any, Any, Any, Any, Any, Any, Any]
T = TypeVar("T")


def _fields(span: ReadableSpan) -> SpanFields:
    """A ReadableSpan's SpanFields.

    The SDK's own span classes are read through their fields: each property is a Python call,
    and a span has eleven of them. Any other ReadableSpan, or an SDK whose fields are named
    otherwise, goes through its public face."""
    if type(span) in _SDK_SPANS:
        try:
            return (
                span._name,
                span._context,
                span._kind,
                span._parent,
                span._start_time,
                span._end_time,
                span._attributes,
                span._events,
                span._resource,
                span._status,
                span._instrumentation_scope,
            )
        except AttributeError:
            pass
    return (
        span.name,
        span.context,
        span.kind,
        span.parent,
        span.start_time,
        span.end_time,
        span.attributes,
        span.events,
        span.resource,
        span.status,
        span.instrumentation_scope,
    )


def _hex_id(span_id: int) -> str:
    """A span id as 16 hex digits (`to_bytes().hex()` takes half the time of `format(..., "016x")`)."""
    return span_id.to_bytes(8, "big").hex()


def rows_for(
    spans: Sequence[ReadableSpan], *, app_busy: Callable[[], bool] | None = None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(span rows, trace rows) in the column order of store.SPAN_COLUMNS / TRACE_COLUMNS.

    `app_busy`: asked after each slice of work whether to pause for the app's threads (always, without it)."""
    return rows_from(spans, _fields, app_busy=app_busy, capture_content=state.capture_content, redactor=state.redactor)


def rows_from(
    items: Sequence[T],
    fields: Callable[[T], SpanFields],
    *,
    app_busy: Callable[[], bool] | None = None,
    capture_content: bool = True,
    redactor: Redact | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """`rows_for` over anything `fields` reads as a span's SpanFields: the SDK's spans here, OTLP
    spans in `cases serve` (`casebank.server._otlp`), so that both land as the same rows.

    `redactor`: more redaction after the secret nets (PII, a team's own), on every string value.
    The items must stay alive until this returns: resources are told apart by `id()`."""
    span_rows: list[tuple[Any, ...]] = []
    traces: dict[int, list[Any]] = {}
    services: dict[int, Any] = {}  # resources are shared by every span of a provider
    hex_ids: dict[int, str] = {}  # a parent is mostly in the same batch as its children
    pause_at = time.perf_counter() + PAUSE_AFTER_S
    for i, item in enumerate(items):
        if i % _CHECK_EVERY == 0 and time.perf_counter() >= pause_at:
            if app_busy is None or app_busy():
                time.sleep(PAUSE_S)
            pause_at = time.perf_counter() + PAUSE_AFTER_S
        name, ctx, kind, parent, start, end, raw_attrs, raw_events, resource, status, scope = fields(item)
        if ctx is None:
            continue
        # Redacted, as every value: a name is free text (`start_as_current_span(f"fetch {url}")`
        # may put a DSN's password in it).
        name = redacted_text(name, redactor)
        start = start or 0
        end = end or start
        ours = scope is not None and scope.name.startswith(SCOPE)
        attrs = _redacted(_plain(raw_attrs), ours=ours, more=redactor)
        if not ours:  # another instrumentation's span
            attrs = with_casebank_view(attrs, capture_content=capture_content)
        is_root = IS_ROOT in attrs and bool(attrs[IS_ROOT])
        # The entry point's input and output live in its trace row; storing them twice would
        # cost a quarter of the bytes the writer moves.
        root_input = attrs.pop(INPUT, None) if is_root else None
        root_output = attrs.pop(OUTPUT, None) if is_root else None
        outcome = _STATUS[status.status_code._value_]
        # An error's description quotes the exception, which may quote a secret (a DSN, a key).
        description = redacted_text(status.description, redactor) if status.description else None
        service = services.get(id(resource))
        if service is None:
            service = services[id(resource)] = text(resource.attributes.get("service.name"))
        duration_ms = (end - start) / 1e6
        started_at = _iso(start)
        # The SDK keeps events in a BoundedList (whose len() is a Python call); most spans have none.
        events = getattr(raw_events, "_dq", raw_events)
        trace_id, span_id = ctx[0], ctx[1]  # SpanContext is a tuple; its properties are Python calls
        row = traces.get(trace_id)
        if row is None:
            trace_hex = trace_id.to_bytes(16, "big").hex()
            row = [trace_hex, None, None, None, None, None, None, started_at, start, None, None, 0, None]
            traces[trace_id] = row
        hex_id = hex_ids[span_id] = _hex_id(span_id)
        if parent is None:
            parent_id = None
        elif (parent_id := hex_ids.get(parent[1])) is None:
            parent_id = _hex_id(parent[1])
        span_rows.append(
            (
                row[0],
                hex_id,
                parent_id,
                name,
                _KIND[kind._value_],
                started_at,
                start,
                duration_ms,
                outcome,
                description,
                _json(attrs),
                _json([_event(e, redactor) for e in events]) if events else None,
                service,
            )
        )
        row[11] += 1
        if start < row[8]:
            row[7], row[8] = started_at, start
        if is_root or (parent is None and row[1] is None):
            error = attrs.get(ERROR) or (description if outcome == "error" else None)
            row[1:7] = [
                name,
                attrs.get(ENTRYPOINT),
                _str_or_none(root_input),
                _str_or_none(root_output),
                "error" if outcome == "error" else "ok",
                error,
            ]
            row[9], row[10] = duration_ms, service
        if is_root and (attributes := attributes_of(attrs)):
            row[12] = _json({**orjson.loads(row[12]), **attributes} if row[12] else attributes)
    return span_rows, [tuple(r) for r in traces.values()]


def _event(event: Event, more: Redact | None) -> dict[str, Any]:  # or any event with these three fields
    attributes = _redacted(_plain(event.attributes), more=more)
    return {"name": redacted_text(event.name, more), "time": _iso(event.timestamp), "attributes": attributes}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
