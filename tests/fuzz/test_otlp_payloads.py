"""OTLP payloads: random and malformed protobuf bytes and JSON bodies are refused with a 4xx naming
the cause, and well-formed ones with any attribute values are stored; never a 500.

The property drives the receiver's own decoding and row making (`casebank.server._otlp`) and a
real SQLite store in this process; a few bodies go through a real `cases serve` subprocess."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from casebank.server import _ingest, _otlp
from casebank.server._errors import HTTPError
from casebank.store import Store, open_store
from tests.fuzz.strategies import json_values
from tests.server.conftest import Server, otlp_request, otlp_span, start_server

_text = st.text(max_size=30)  # protobuf strings are UTF-8: no lone surrogates can be sent


def _any_value(depth: int = 0) -> st.SearchStrategy[AnyValue]:
    scalars = st.one_of(
        _text.map(lambda v: AnyValue(string_value=v)),
        st.booleans().map(lambda v: AnyValue(bool_value=v)),
        st.integers(-(2**63), 2**63 - 1).map(lambda v: AnyValue(int_value=v)),
        st.floats().map(lambda v: AnyValue(double_value=v)),
        st.binary(max_size=20).map(lambda v: AnyValue(bytes_value=v)),
        st.just(AnyValue()),
    )
    if depth >= 3:
        return scalars
    inner = st.deferred(lambda: _any_value(depth + 1))
    return st.one_of(
        scalars,
        st.lists(inner, max_size=3).map(lambda vs: AnyValue(array_value=ArrayValue(values=vs))),
        st.lists(st.tuples(_text, inner), max_size=3).map(
            lambda kvs: AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs]))
        ),
    )


_KEYS = st.sampled_from(
    ["casebank.root", "casebank.input", "casebank.output", "casebank.entrypoint", "casebank.error",
     "gen_ai.input.messages", "casebank.attributes.ticket_id", "api_key", "llm.input_messages.0.message.content"]
) | _text  # fmt: skip

_spans = st.builds(
    Span,
    trace_id=st.binary(min_size=0, max_size=17),
    span_id=st.binary(min_size=0, max_size=9),
    parent_span_id=st.binary(max_size=9),
    name=_text,
    kind=st.integers(0, 9),
    start_time_unix_nano=st.integers(0, 2**64 - 1),
    end_time_unix_nano=st.integers(0, 2**64 - 1),
    attributes=st.lists(st.builds(KeyValue, key=_KEYS, value=_any_value()), max_size=5),
    status=st.builds(Status, code=st.integers(0, 5), message=_text),
)
requests = st.lists(_spans, max_size=4).map(
    lambda spans: ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """One store for all of a test's examples (opening one per example would be most of the time)."""
    with open_store(tmp_path / "casebank.db") as opened:
        yield opened


def ingest(body: bytes, media: str, store: Store) -> int:
    """What the receiver answers (its status): its own `_ingest._prepare`, then the write, into a real store."""
    try:
        decoded, prepared = _ingest._prepare(store, body, media, None)
        if prepared is not None:
            store.write_prepared(prepared)
        _otlp.answer(decoded, media)
    except HTTPError as exc:
        assert 400 <= exc.status < 500 and exc.message and "\n" not in exc.message, exc.message
        return exc.status
    return 200


@given(request=requests)
def test_well_formed_requests_with_any_values_are_stored(store: Store, request: ExportTraceServiceRequest) -> None:
    assert ingest(request.SerializeToString(), _otlp.PROTOBUF, store) == 200


@given(body=st.binary(max_size=300))
def test_random_bytes_as_protobuf_are_refused_with_a_4xx_or_read(store: Store, body: bytes) -> None:
    ingest(body, _otlp.PROTOBUF, store)


@given(request=requests, cut=st.integers(0, 400), flip=st.integers(0, 400))
def test_damaged_protobuf_is_refused_with_a_4xx_or_read(
    store: Store, request: ExportTraceServiceRequest, cut: int, flip: int
) -> None:
    body = bytearray(request.SerializeToString())[: cut or None]
    if body:
        body[flip % len(body)] ^= 0xFF
    ingest(bytes(body), _otlp.PROTOBUF, store)


def _json_request(spans: list[Any]) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


_json_spans = st.fixed_dictionaries(
    {},
    optional={
        "traceId": st.sampled_from(["5b8efff798038103d269b633813fc60c", "zz", ""]) | json_values,
        "spanId": st.sampled_from(["eee19b7ec3c1b174", "0000000000000000"]) | json_values,
        "name": json_values,
        "kind": json_values,
        "startTimeUnixNano": json_values,
        "attributes": json_values
        | st.lists(st.fixed_dictionaries({"key": json_values, "value": json_values}), max_size=3),
        "status": json_values,
        "events": json_values,
    },
)


@given(body=json_values.map(json.dumps) | st.lists(_json_spans, max_size=3).map(lambda s: json.dumps(_json_request(s))))
def test_random_json_bodies_are_refused_with_a_4xx_or_read(store: Store, body: str) -> None:
    ingest(body.encode(), _otlp.JSON, store)


def _deep_kvlist(levels: int) -> bytes:
    value = '{"kvlistValue": {"values": [{"key": "a", "value": ' * levels + "{}" + "}]}}" * levels
    return (
        '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "5b8efff798038103d269b633813fc60c", '
        '"spanId": "eee19b7ec3c1b174", "attributes": [{"key": "k", "value": ' + value + "}]}]}]}]}"
    ).encode()


_MALFORMED = [
    (b"\x0a\xff\xff\xff\xff\x0f", _otlp.PROTOBUF),  # a length past the end
    (b"{" * 5000, _otlp.JSON),
    (b'{"resourceSpans": {"x": 1}}', _otlp.JSON),  # an object for a list
    (json.dumps(_json_request([{"traceId": "xyz"}])).encode(), _otlp.JSON),  # an id that is not hex
    (json.dumps(_json_request([{"attributes": [{"key": "k", "value": {"intValue": "1e400"}}]}])).encode(), _otlp.JSON),
    (_deep_kvlist(150), _otlp.JSON),
    (_deep_kvlist(250), _otlp.JSON),
    (b"\x00" * 64, _otlp.PROTOBUF),
]


def test_malformed_bodies_through_a_real_server_are_4xx_with_a_message(tmp_path: Path, servers: list[Server]) -> None:
    server = start_server(tmp_path, tmp_path / "casebank.db")
    servers.append(server)
    for body, media in _MALFORMED:
        answer = server.post("/v1/traces", headers={"Content-Type": media}, content=body)
        assert 400 <= answer.status_code < 500, (body[:80], answer.status_code, answer.text)
        assert answer.json()["error"], answer.text
    assert "Traceback" not in server.logged()


def test_a_span_with_awkward_values_through_a_real_server_is_stored(tmp_path: Path, servers: list[Server]) -> None:
    server = start_server(tmp_path, tmp_path / "casebank.db")
    servers.append(server)
    span = otlp_span(7, 8, "answer", prompt="p " * 700_000, nul="a\x00b", huge=2**62, nan=float("nan"))
    assert server.export(otlp_request(span)).status_code == 200
    with open_store(tmp_path / "casebank.db") as store:
        stored = store.trace_spans((7).to_bytes(16, "big").hex())[0]["attributes"]
    assert stored["prompt"].endswith(" chars]") and stored["nan"] is None
