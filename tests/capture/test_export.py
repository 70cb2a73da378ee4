"""`casebank.init(endpoint=...)`: spans go to a server over OTLP/HTTP, redacted, with the bearer token.

The receiver here is a loopback HTTP server decoding each body with `opentelemetry-proto`, as a
collector does; tests/client/ does the same against a real `cases serve`.
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace import TracerProvider

import casebank
from casebank._runtime import state


@dataclass
class Receiver:
    url: str = ""
    status: int = 200
    headers: list[dict[str, str]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            got.headers.append({k.lower(): v for k, v in self.headers.items()})
            if got.status == 200:
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            got.spans.append(
                                {
                                    "name": span.name,
                                    "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                                    "events": [{kv.key: _value(kv.value) for kv in e.attributes} for e in span.events],
                                    "event_names": [e.name for e in span.events],
                                    "status_message": span.status.message,
                                }
                            )
            reply = ExportTraceServiceResponse().SerializeToString() if got.status == 200 else b'{"error":"no"}'
            self.send_response(got.status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    casebank.shutdown()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def quick_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    # The exporter retries a refused connection until its timeout (10 s by default).
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS"):
        monkeypatch.delenv(name, raising=False)


@casebank.trace
def answer(question: str, api_key: str) -> str:
    with casebank.span("lookup"):
        span = trace.get_current_span()  # the step's own OpenTelemetry span
        span.set_attribute("db.url", "postgresql://app:hunter2hunter2@db.internal/prod")
        span.add_event("retry", {"authorization": "Bearer abcdefghijklmnop"})
    if question == "boom":
        raise RuntimeError("cannot connect with key sk-proj-abcdefghijklmnopqrstuvwx")
    return f"answer to {question} (ghp_{'a' * 36})"


def test_spans_reach_the_endpoint_redacted_with_the_bearer_token_and_no_local_file(
    receiver: Receiver, tmp_path: Path
) -> None:
    casebank.init(endpoint=receiver.url, token="s3cret-token", instrument=False)
    answer("where is my order?", api_key="sk-ant-abcdefghijklmnopqrstuvwxyz")
    with pytest.raises(RuntimeError):
        answer("boom", api_key="x")
    assert casebank.flush()
    assert {h["authorization"] for h in receiver.headers} == {"Bearer s3cret-token"}
    roots = [s for s in receiver.spans if s["name"] == "answer"]
    lookups = [s for s in receiver.spans if s["name"] == "lookup"]
    assert len(roots) == 2 and len(lookups) == 2
    shown = repr(receiver.spans)
    for secret in ("sk-ant-abcdefghij", "hunter2hunter2", "abcdefghijklmnop", "sk-proj-abcdefgh", "ghp_aaaa"):
        assert secret not in shown
    assert lookups[0]["attributes"]["db.url"] == "postgresql://app:[REDACTED:password]@db.internal/prod"
    assert lookups[0]["events"] == [{"authorization": "[REDACTED:authorization]"}]
    failed = next(s for s in roots if s["status_message"])
    assert failed["status_message"] == "RuntimeError: cannot connect with key [REDACTED:openai_key]"
    assert not list(tmp_path.glob("**/*.db"))  # no store was made beside the app
    assert state.store.url == receiver.url


def test_the_environment_names_the_endpoint_and_the_token(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBANK_ENDPOINT", receiver.url)
    monkeypatch.setenv("CASEBANK_TOKEN", "from-the-env")
    casebank.init(instrument=False)
    answer("hi", api_key="x")
    assert casebank.flush()
    assert {h["authorization"] for h in receiver.headers} == {"Bearer from-the-env"}
    assert {s["name"] for s in receiver.spans} == {"answer", "lookup"}


def test_a_db_that_is_a_server_url_sends_there(receiver: Receiver) -> None:
    casebank.init(db=receiver.url + "/", instrument=False)
    answer("hi", api_key="x")
    assert casebank.flush()
    assert {s["name"] for s in receiver.spans} == {"answer", "lookup"}
    assert "authorization" not in receiver.headers[0]  # no token given: none sent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_with_the_server_down_the_app_runs_and_the_dropped_spans_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    casebank.init(endpoint=f"http://127.0.0.1:{_free_port()}", token="t", instrument=False)
    with caplog.at_level(logging.WARNING, logger="casebank"):
        assert answer("hi", api_key="x").startswith("answer to hi")
        assert casebank.flush(timeout_s=30) is True  # the batch was handed over, and lost
    assert state.processor is not None
    assert state.processor.dropped_total == 2  # type: ignore[attr-defined]
    warnings = [r.getMessage() for r in caplog.records if r.name == "casebank"]
    assert len(warnings) == 1 and "spans are being dropped" in warnings[0]


def test_a_refusing_server_counts_its_spans_as_dropped(receiver: Receiver) -> None:
    receiver.status = 401
    casebank.init(endpoint=receiver.url, token="wrong", instrument=False)
    answer("hi", api_key="x")
    casebank.flush()
    assert receiver.headers  # it was asked
    assert state.processor.dropped_total == 2  # type: ignore[union-attr]


def test_an_endpoint_that_is_no_url_leaves_capture_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init(endpoint="cases.internal:4318", instrument=False)
    assert state.tracer is None
    assert "endpoint 'cases.internal:4318' is not a URL - pass http(s)://HOST:PORT" in caplog.text
    assert answer("hi", api_key="x").startswith("answer to hi")


def test_on_the_apps_provider_only_casebanks_spans_go_to_the_server(receiver: Receiver) -> None:
    app_provider = TracerProvider()
    casebank.init(tracer_provider=app_provider, endpoint=receiver.url, instrument=False)
    with app_provider.get_tracer("the-apps-own").start_as_current_span("GET /orders"):
        answer("hi", api_key="x")
    assert casebank.flush()
    assert {s["name"] for s in receiver.spans} == {"answer", "lookup"}
