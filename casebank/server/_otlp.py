"""OTLP/HTTP trace requests -> casebank's span and trace rows, and the OTLP answer.

Protobuf bodies are parsed with opentelemetry-proto's `ExportTraceServiceRequest` (upb, C
speed). JSON bodies follow the OTLP/JSON mapping, where trace and span ids are hex rather than
protobuf-JSON's base64: they are turned into base64 first, and the rest is protobuf's own JSON
parser, so that both encodings arrive as one message and are read by one walker.

Each OTLP span becomes the same `SpanFields` that `capture._rows` reads off the SDK's spans, and
`rows_from` makes the rows: redaction, casebank's view of other instrumentations' attributes,
root detection, entry point, input and output are the SDK writer's own code, so a span sent here
lands exactly as it would from `casebank.init()`. A span without a valid trace or span id is
refused and counted in the answer's `partial_success`, as the OTLP specification asks.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.trace import SpanKind, StatusCode

from casebank.capture._rows import SpanFields, rows_from
from casebank.server._errors import HTTPError

__all__ = ["PROTOBUF", "JSON", "Decoded", "answer", "decode", "rows_of"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# OTLP's SpanKind counts from UNSPECIFIED = 0; the API's from INTERNAL = 0. The SDK records an
# unspecified kind as INTERNAL.
_KINDS = {0: SpanKind.INTERNAL, 1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT}
_KINDS.update({4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER})
_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}


class _Resource(NamedTuple):
    attributes: dict[str, Any]


class _Scope(NamedTuple):
    name: str


class _Status(NamedTuple):
    status_code: StatusCode
    description: str | None


class _Event(NamedTuple):
    name: str
    timestamp: int
    attributes: dict[str, Any]


@dataclass
class Decoded:
    """The spans of one request as SpanFields, and those refused with why."""

    spans: list[SpanFields]
    rejected: int = 0
    problem: str = ""


def decode(body: bytes, content_type: str) -> Decoded:
    """Read an OTLP request body; HTTPError 400 naming what is wrong when it is not one."""
    request = _parse_json(body) if content_type == JSON else _parse_protobuf(body)
    return _walk(request)


def rows_of(
    decoded: Decoded, redactor: Callable[[str], str] | None = None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The span and trace rows, as the capture writer makes them (content always kept: the host
    decided what to send), with `redactor` (the config's PII redactors) after the secret nets."""
    return rows_from(decoded.spans, _same, capture_content=True, redactor=redactor)


def answer(decoded: Decoded, content_type: str) -> bytes:
    """The ExportTraceServiceResponse for `decoded`, in the request's encoding."""
    response = ExportTraceServiceResponse()
    if decoded.rejected:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=decoded.rejected, error_message=decoded.problem)
        )
    if content_type == JSON:
        return orjson.dumps(json_format.MessageToDict(response))
    encoded: bytes = response.SerializeToString()
    return encoded


def _same(fields: SpanFields) -> SpanFields:
    return fields


def _parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    try:
        request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise HTTPError(
            400, f"the body is not a protobuf ExportTraceServiceRequest ({exc}) - send OTLP/HTTP protobuf, whole"
        ) from None
    return request


def _parse_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPError(400, f"the body is not JSON ({exc}) - send an OTLP/JSON ExportTraceServiceRequest") from None
    if not isinstance(value, dict):
        raise HTTPError(400, "the body is not a JSON object - send an OTLP/JSON ExportTraceServiceRequest")
    _ids_to_base64(value)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(value, request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        problem = _json_problem(str(exc))
        raise HTTPError(
            400, f"the body is not an OTLP/JSON ExportTraceServiceRequest ({problem}) - fix that field"
        ) from None
    return request


_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field: ")


def _json_problem(message: str) -> str:
    """protobuf's "Failed to parse a field: Failed to parse b field: ... : why" as `a.b...: why`,
    with a deep path cut in its middle, so that a body nested 100 deep gets a one-line answer."""
    fields = _FAILED_FIELD.findall(message)
    why = _FAILED_FIELD.sub("", message).rstrip(".")
    if not fields:
        return why[:300]
    path = fields if len(fields) <= 8 else [*fields[:4], "...", *fields[-3:]]
    return f"{'.'.join(path)}: {why[:300]}"


_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


def _ids_to_base64(request: dict[str, Any]) -> None:
    """OTLP/JSON's hex ids as the base64 that protobuf's JSON parser reads, in place."""
    for r, resource_spans in enumerate(_items(request, "resourceSpans", "resource_spans")):
        for s, scope_spans in enumerate(_items(resource_spans, "scopeSpans", "scope_spans")):
            for i, span in enumerate(_items(scope_spans, "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                _hex_fields(span, where)
                for k, link in enumerate(_items(span, "links")):
                    _hex_fields(link, f"{where}.links[{k}]")


def _items(parent: Any, *keys: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for key in keys:
        items = parent.get(key)
        if isinstance(items, list):
            return items
    return []


def _hex_fields(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        return
    for key in _ID_KEYS:
        value = message.get(key)
        if isinstance(value, str):
            try:
                message[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise HTTPError(
                    400, f"{where}.{key} '{value[:40]}' is not hex - OTLP/JSON writes ids as hex, not base64"
                ) from None


def _walk(request: ExportTraceServiceRequest) -> Decoded:
    decoded = Decoded(spans=[])
    bad_ids = 0
    append = decoded.spans.append
    for resource_spans in request.resource_spans:
        resource = _Resource(_attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            scope = _Scope(scope_spans.scope.name)
            for span in scope_spans.spans:
                trace_id, span_id = span.trace_id, span.span_id
                if len(trace_id) != 16 or len(span_id) != 8 or not any(trace_id) or not any(span_id):
                    bad_ids += 1
                    continue
                trace_int = int.from_bytes(trace_id, "big")
                parent = span.parent_span_id
                events = span.events
                append(
                    (
                        span.name,
                        (trace_int, int.from_bytes(span_id, "big")),
                        _KINDS.get(span.kind, SpanKind.INTERNAL),
                        (trace_int, int.from_bytes(parent, "big")) if len(parent) == 8 and any(parent) else None,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        _attributes(span.attributes),
                        [_Event(e.name, e.time_unix_nano, _attributes(e.attributes)) for e in events]
                        if events
                        else None,
                        resource,
                        _status(span.status),
                        scope,
                    )
                )
    if bad_ids:
        decoded.rejected = bad_ids
        decoded.problem = (
            f"{bad_ids} span(s) had no valid trace_id or span_id (16 and 8 bytes, not all zero) and were not stored"
        )
    return decoded


_UNSET = _Status(StatusCode.UNSET, None)


def _status(status: Any) -> _Status:
    code = status.code
    if not code:
        return _UNSET
    code = _CODES.get(code, StatusCode.UNSET)
    # As the SDK's Status: a description only goes with an error.
    return _Status(code, (status.message or None) if code is StatusCode.ERROR else None)


def _attributes(key_values: Any) -> dict[str, Any]:
    """KeyValues as the SDK holds attributes: arrays as tuples, no None values. Text, most
    values by far, is read inline: a call per attribute was a third of the walk."""
    attributes = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            attributes[kv.key] = value.string_value
        elif kind is not None:
            attributes[kv.key] = _value(value, kind)
    return attributes


def _value(value: Any, kind: str | None) -> Any:
    if kind == "array_value":
        return tuple(_value(v, v.WhichOneof("value")) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value, kv.value.WhichOneof("value")) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None if kind is None else getattr(value, kind)
