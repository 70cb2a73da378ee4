"""POST /v1/traces: spans from other processes land as `casebank.init()` stores them, and bad
bodies are refused whole, with a message naming what is wrong."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from casebank.store import open_store
from tests.server.conftest import (
    ADMIN,
    PROTOBUF,
    Server,
    child_env,
    otlp_request,
    otlp_span,
    start_server,
    traced_request,
    wait_for,
)


def stored(db: Path | str, trace_id: str) -> dict[str, Any]:
    with open_store(db, create=False) as store:
        summary = store.get_trace(trace_id)
        return {"trace": summary and summary.__dict__, "spans": store.trace_spans(trace_id)}


def counts(db: Path | str) -> tuple[int, int]:
    with open_store(db) as store:
        c = store.counts()
    return c.traces, c.spans


def test_an_app_exporting_from_another_process_lands_exactly_as_its_own_casebank_init_store(
    tmp_path: Path, store_url: str, servers: list[Server]
) -> None:
    server = start_server(tmp_path, store_url)
    servers.append(server)
    db_path = store_url
    local = tmp_path / "local.db"
    run = subprocess.run(
        [sys.executable, "-m", "tests.server.traced_app", str(local), server.url],
        cwd=tmp_path,
        env=child_env(OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer {ADMIN}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    trace_ids = orjson.loads(run.stdout)
    assert len(trace_ids) == 2 and all(len(t) == 32 for t in trace_ids)

    wait_for(lambda: counts(db_path) == counts(local), "the server to store every exported span")
    for trace_id in trace_ids:
        assert stored(db_path, trace_id) == stored(local, trace_id)
    # What the comparison holds equal is what it should be: redacted, viewed, rooted.
    ok, crashed = (stored(db_path, t) for t in trace_ids)
    assert ok["trace"]["attributes"] == {"ticket_id": "880", "plan": "pro"}
    assert ok["trace"]["input"]["customer"]["token"] == "[REDACTED:token]"
    assert crashed["trace"]["status"] == "error"
    assert "hunter2pass" not in orjson.dumps(crashed).decode()
    chat = next(s for s in ok["spans"] if s["name"] == "ChatCompletion")
    assert chat["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"  # casebank's view of a foreign span
    assert "sk-abcdefghijklmnopqrstuvwx" not in orjson.dumps(ok).decode()
    assert chat["events"][0]["attributes"]["authorization"] == "[REDACTED:authorization]"


def test_the_server_redacts_what_a_host_without_casebank_sends(server: Server, db_path: Path) -> None:
    request = otlp_request(
        otlp_span(
            7,
            71,
            "chat",
            gen_ai__operation__name="chat",
            api_key="plain-secret-value",
            prompt="my key is sk-abcdefghijklmnopqrstuvwx, and the db postgresql://u:pw12345@h/d",
        ),
        scope="my.app",
    )

    assert server.export(request).status_code == 200

    (span,) = stored(db_path, f"{7:032x}")["spans"]
    assert span["attributes"]["api_key"] == "[REDACTED:api_key]"
    assert (
        span["attributes"]["prompt"]
        == "my key is [REDACTED:openai_key], and the db postgresql://u:[REDACTED:password]@h/d"
    )


def test_a_json_body_with_hex_ids_lands_as_the_same_trace_in_protobuf(server: Server, db_path: Path) -> None:
    from google.protobuf import json_format

    as_json = json_format.MessageToDict(traced_request(1, ticket="8812"))
    for spans in as_json["resourceSpans"][0]["scopeSpans"]:
        for span in spans["spans"]:  # OTLP/JSON writes ids as hex where protobuf-JSON has base64
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in span:
                    span[key] = bytes.fromhex(span[key].encode().hex()) and _b64_to_hex(span[key])

    answer = server.post("/v1/traces", content=orjson.dumps(as_json), headers={"Content-Type": "application/json"})
    assert server.export(traced_request(2, ticket="8812")).status_code == 200

    assert (answer.status_code, answer.headers["content-type"], answer.json()) == (200, "application/json", {})
    by_json, by_protobuf = stored(db_path, f"{1:032x}"), stored(db_path, f"{2:032x}")
    assert by_json["trace"]["attributes"] == {"ticket_id": "8812"}
    assert _without_ids(by_json) == _without_ids(by_protobuf)


def _b64_to_hex(text: str) -> str:
    import base64

    return base64.b64decode(text).hex()


def _without_ids(record: dict[str, Any]) -> Any:
    text = orjson.dumps(record).decode()
    for n in (1, 2):
        text = text.replace(f"{n:032x}", "TRACE").replace(f"{n * 1000 + 1:016x}", "ROOT")
        text = text.replace(f"{n * 1000 + 2:016x}", "CHILD")
    return orjson.loads(text)


def test_a_gzip_body_is_read(server: Server, db_path: Path) -> None:
    body = gzip.compress(traced_request(3).SerializeToString())

    answer = server.post("/v1/traces", content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"})

    assert answer.status_code == 200
    assert stored(db_path, f"{3:032x}")["trace"]["entrypoint"] == "support_bot:answer"


def test_spans_without_ids_are_refused_and_counted_as_a_partial_success(server: Server, db_path: Path) -> None:
    good = otlp_span(4, 41, "answer")
    no_trace = otlp_span(4, 42, "lost")
    no_trace.trace_id = b""
    zero_span = otlp_span(4, 43, "lost")
    zero_span.span_id = bytes(8)

    answer = server.export(otlp_request(good, no_trace, zero_span))

    assert answer.status_code == 200
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == (
        "2 span(s) had no valid trace_id or span_id (16 and 8 bytes, not all zero) and were not stored"
    )
    assert [s["name"] for s in stored(db_path, f"{4:032x}")["spans"]] == ["answer"]


def test_a_json_partial_success_is_json(server: Server) -> None:
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "", "spanId": "", "name": "x"}]}]}]}

    answer = server.post("/v1/traces", content=orjson.dumps(body), headers={"Content-Type": "application/json"})

    assert answer.status_code == 200
    assert answer.json() == {
        "partialSuccess": {
            "rejectedSpans": "1",
            "errorMessage": "1 span(s) had no valid trace_id or span_id (16 and 8 bytes, not all zero) "
            "and were not stored",
        }
    }


WHOLE = traced_request(5).SerializeToString()


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        pytest.param(
            WHOLE[: len(WHOLE) // 2],
            PROTOBUF,
            400,
            "the body is not a protobuf ExportTraceServiceRequest (Error parsing message with type "
            "'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest': Wire format was corrupt) - "
            "send OTLP/HTTP protobuf, whole",
            id="cut-protobuf",
        ),
        pytest.param(
            b'{"resourceSpans": [',
            {"Content-Type": "application/json"},
            400,
            "the body is not JSON (unexpected end of data: line 1 column 20 (char 19)) - send an OTLP/JSON "
            "ExportTraceServiceRequest",
            id="cut-json",
        ),
        pytest.param(
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "not-hex", "spanId": "01"}]}]}]}',
            {"Content-Type": "application/json"},
            400,
            "resourceSpans[0].scopeSpans[0].spans[0].traceId 'not-hex' is not hex - OTLP/JSON writes ids as hex, "
            "not base64",
            id="base64-ids-in-json",
        ),
        pytest.param(
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            {"Content-Type": "application/json"},
            400,
            "the body is not an OTLP/JSON ExportTraceServiceRequest (resourceSpans.scopeSpans.spans.startTimeUnixNano: "
            "invalid literal for int() with base 10: 'soon') - fix that field",
            id="a-time-that-is-not-a-number",
        ),
        pytest.param(
            b"[1, 2]",
            {"Content-Type": "application/json"},
            400,
            "the body is not a JSON object - send an OTLP/JSON ExportTraceServiceRequest",
            id="json-not-an-object",
        ),
        pytest.param(
            gzip.compress(WHOLE)[:-12],
            {**PROTOBUF, "Content-Encoding": "gzip"},
            400,
            "the gzip body is cut short - send it whole, or without Content-Encoding",
            id="cut-gzip",
        ),
        pytest.param(
            b"not gzip at all",
            {**PROTOBUF, "Content-Encoding": "gzip"},
            400,
            "the gzip body is corrupt (Error -3 while decompressing data: incorrect header check) - send it whole, "
            "or without Content-Encoding",
            id="not-gzip",
        ),
        pytest.param(
            WHOLE,
            {**PROTOBUF, "Content-Encoding": "br"},
            415,
            "Content-Encoding 'br' is not supported - send gzip or no encoding",
            id="brotli",
        ),
        pytest.param(
            WHOLE,
            {"Content-Type": "text/plain"},
            415,
            "Content-Type 'text/plain' is not accepted here - send application/x-protobuf or application/json",
            id="text",
        ),
        pytest.param(
            b"\0" * (20 * 1024 * 1024 + 1),
            PROTOBUF,
            413,
            "the body is over the server's limit of 20 MiB - send smaller batches",
            id="oversized",
        ),
        pytest.param(
            gzip.compress(b"\0" * (21 * 1024 * 1024)),
            {**PROTOBUF, "Content-Encoding": "gzip"},
            413,
            "the body is over the server's limit of 20 MiB - send smaller batches",
            id="gzip-bomb",
        ),
    ],
)
def test_a_bad_body_is_refused_whole_naming_what_is_wrong(
    server: Server, db_path: Path, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    answer = server.post("/v1/traces", content=body, headers=headers)

    assert (answer.status_code, answer.json()) == (status, {"error": message})
    assert counts(db_path) == (0, 0)
    assert server.get("/healthz").status_code == 200  # and the server goes on
