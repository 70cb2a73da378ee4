"""Spans to rows: the SDK's spans, read through their private fields for speed, give the same rows
as any other ReadableSpan read through the public API. This fails if an SDK upgrade renames a field
in a way that changes a value rather than raising."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from casebank.capture._attributes import ENTRYPOINT, INPUT, IS_ROOT, OUTPUT
from casebank.capture._rows import rows_for


class _Public(ReadableSpan):
    """Another SDK's span: a ReadableSpan subclass, so rows_for reads it through its properties."""


def _finished_spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("casebank")
    root = tracer.start_span(
        "answer",
        kind=SpanKind.SERVER,
        attributes={ENTRYPOINT: "bot:answer", IS_ROOT: True, INPUT: '{"q": "refund?"}', OUTPUT: '"5 days"'},
    )
    child = tracer.start_span("chat gpt-4o-mini", context=set_span_in_context(root), kind=SpanKind.CLIENT)
    child.set_attribute("gen_ai.operation.name", "chat")
    child.add_event("retry", {"attempt": 2, "api_key": "not to be stored"})
    child.set_status(Status(StatusCode.ERROR, "rate limited"))
    child.end()
    root.end()
    return list(exporter.get_finished_spans())


def _as_public(span: ReadableSpan) -> ReadableSpan:
    return _Public(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def test_sdk_spans_read_through_their_fields_make_the_rows_the_public_api_makes() -> None:
    spans = _finished_spans()
    assert {type(s) for s in spans} == {ReadableSpan}
    fast = rows_for(spans)
    public = rows_for([_as_public(s) for s in spans])
    assert fast == public
    span_rows, trace_rows = fast
    child, root = span_rows
    assert child[2] == root[1]  # the parent's id, taken from the same batch
    assert (child[4], child[8], child[9]) == ("client", "error", "rate limited")
    assert "not to be stored" not in child[11] and "retry" in child[11]  # events, redacted
    assert root[12] == "support-bot"
    (trace,) = trace_rows
    assert trace[1:6] == ("answer", "bot:answer", '{"q": "refund?"}', '"5 days"', "ok")
