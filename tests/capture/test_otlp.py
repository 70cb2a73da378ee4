"""OTLP export: casebank's spans reach any OTLP/HTTP collector, through the standard exporter.

The collector here is real enough: an HTTP server on 127.0.0.1 that decodes each request body
with `opentelemetry-proto`'s ExportTraceServiceRequest, as a collector does.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace import TracerProvider

import casebank
from casebank.capture._otlp import traces_url
from casebank.store import open_store


@dataclass
class Collector:
    """What the loopback collector received: one dict a span, with its resource and scope."""

    url: str
    paths: list[str] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)  # cleared: requests wait

    def span(self, name: str) -> dict[str, Any]:
        found = [s for s in self.spans if s["name"] == name]
        assert len(found) == 1, [s["name"] for s in self.spans]
        return found[0]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


@pytest.fixture
def collector() -> Iterator[Collector]:
    received = Collector(url="")
    received.hold.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.hold.wait(30)
            received.paths.append(self.path)
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        received.spans.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "attributes": _attributes(span.attributes),
                                "event_names": [event.name for event in span.events],
                                "scope": scope_spans.scope.name,
                                "resource": resource,
                            }
                        )
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    received.hold.set()
    casebank.shutdown()  # before the server goes: the exporter's last batch has somewhere to go
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_ambient_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_COMPRESSION"):
        monkeypatch.delenv(name, raising=False)


@casebank.trace
def answer(question: str) -> str:
    casebank.set_attributes(ticket_id="8812")
    return helper(question)


@casebank.trace
def helper(question: str) -> str:
    return question.upper()


def test_init_otlp_endpoint_sends_casebanks_spans_with_their_attributes(collector: Collector) -> None:
    casebank.init(otlp_endpoint=collector.url, service_name="support-bot")
    answer("where is my order?")
    assert casebank.flush()
    assert collector.paths == ["/v1/traces"]
    root, child = collector.span("answer"), collector.span("helper")
    assert root["scope"] == "casebank" and root["resource"]["service.name"] == "support-bot"
    assert root["attributes"]["casebank.entrypoint"].endswith(":answer")
    assert root["attributes"]["casebank.input"] == '{"question":"where is my order?"}'
    assert root["attributes"]["casebank.output"] == '"WHERE IS MY ORDER?"'
    assert root["attributes"]["casebank.root"] is True
    assert root["attributes"]["casebank.attributes.ticket_id"] == "8812"
    assert child["trace_id"] == root["trace_id"] and child["parent_span_id"] != ""
    with open_store() as store:  # the store got them too
        assert store.get_trace(root["trace_id"]) is not None


def test_the_standard_environment_variable_turns_export_on(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.url + "/custom/traces")
    casebank.init()
    answer("hi")
    assert casebank.flush()
    assert collector.paths == ["/custom/traces"]  # the variable is a full URL, used as it is
    assert {s["name"] for s in collector.spans} == {"answer", "helper"}


def test_without_an_endpoint_nothing_is_exported(collector: Collector) -> None:
    casebank.init()
    answer("hi")
    assert casebank.flush()
    casebank.shutdown()
    assert collector.spans == []


def test_on_the_apps_provider_export_is_left_to_the_app(collector: Collector) -> None:
    app_provider = TracerProvider()
    casebank.init(tracer_provider=app_provider, otlp_endpoint=collector.url)
    answer("hi")
    assert casebank.flush()
    assert app_provider.force_flush()
    assert collector.spans == []


def test_a_hung_collector_makes_flush_say_false_but_never_holds_flag(collector: Collector) -> None:
    casebank.init(otlp_endpoint=collector.url)
    collector.hold.clear()  # the collector accepts the request and does not answer
    answer("hi")
    assert casebank.flush(timeout_s=0.2) is False
    with open_store() as store:  # ... while the store has every span
        trace_id = store.recent_traces(1)[0].trace_id
    incident_id = casebank.flag(trace_id, reason="bad")  # flag writes the store only
    collector.hold.set()
    assert casebank.flush()
    assert {s["name"] for s in collector.spans} == {"answer", "helper"}
    with open_store() as store:
        assert store.get_incident(incident_id).trace_id == trace_id


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        pytest.param("http://collector:4318", "http://collector:4318/v1/traces", id="base"),
        pytest.param("http://collector:4318/", "http://collector:4318/v1/traces", id="base-slash"),
        pytest.param("https://x.example/otlp/v1/traces", "https://x.example/otlp/v1/traces", id="full"),
    ],
)
def test_an_endpoint_without_a_path_gets_the_traces_path(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url
