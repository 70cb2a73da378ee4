"""casebank.attach(provider): the LLM spans of OpenInference, OpenLLMetry and the OTel contrib
instrumentations, on the app's own provider, are stored with casebank's `gen_ai.*` view.

The spans are made by the real OTel SDK on the app's provider, with exactly the scope names
and attribute names those packages write, inside a real `@casebank.trace` entry point.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

import casebank
from casebank.store import open_store

OPENINFERENCE_SCOPE = "openinference.instrumentation.openai"
OPENLLMETRY_SCOPE = "opentelemetry.instrumentation.openai.v1"
CONTRIB_SCOPE = "opentelemetry.instrumentation.openai_v2"

SYSTEM = "You are the support bot of a shoe shop."
QUESTION = "Where is order A-17?"

OPENINFERENCE: dict[str, Any] = {
    "openinference.span.kind": "LLM",
    "llm.system": "openai",
    "llm.provider": "openai",
    "llm.model_name": "gpt-4o-mini-2024-07-18",
    "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 200}',
    "input.value": '{"messages": "..."}',
    "input.mime_type": "application/json",
    "output.value": '{"choices": "..."}',
    "output.mime_type": "application/json",
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": SYSTEM,
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.content": QUESTION,
    "llm.input_messages.2.message.role": "assistant",
    "llm.input_messages.2.message.tool_calls.0.tool_call.id": "call_1",
    "llm.input_messages.2.message.tool_calls.0.tool_call.function.name": "get_order",
    "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments": '{"order_id": "A-17"}',
    "llm.input_messages.3.message.role": "tool",
    "llm.input_messages.3.message.tool_call_id": "call_1",
    "llm.input_messages.3.message.content": '{"status": "shipped"}',
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "It shipped yesterday.",
    "llm.token_count.prompt": 52,
    "llm.token_count.completion": 7,
    "llm.token_count.total": 59,
}

OPENLLMETRY: dict[str, Any] = {
    "llm.request.type": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.request.temperature": 0.2,
    "llm.is_streaming": False,
    "gen_ai.prompt.0.role": "system",
    "gen_ai.prompt.0.content": SYSTEM,
    "gen_ai.prompt.1.role": "user",
    "gen_ai.prompt.1.content": QUESTION,
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.finish_reason": "tool_calls",
    "gen_ai.completion.0.tool_calls.0.id": "call_1",
    "gen_ai.completion.0.tool_calls.0.name": "get_order",
    "gen_ai.completion.0.tool_calls.0.arguments": '{"order_id": "A-17"}',
    "gen_ai.usage.prompt_tokens": 40,
    "gen_ai.usage.completion_tokens": 12,
    "llm.usage.total_tokens": 52,
}

CONTRIB: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": 52,
    "gen_ai.usage.output_tokens": 7,
    "server.address": "127.0.0.1",
}


Capture = Callable[..., dict[str, Any]]


@pytest.fixture
def capture() -> Capture:
    """Attach to a fresh app provider; make one span of `scope` with `attributes` inside an entry
    point; return that span as stored."""

    def run(scope: str, attributes: dict[str, Any], name: str = "llm call", **attach: Any) -> dict[str, Any]:
        provider = TracerProvider()
        casebank.attach(provider, **attach)
        tracer = provider.get_tracer(scope)

        @casebank.trace
        def answer(question: str) -> str | None:
            with tracer.start_as_current_span(name, attributes=attributes):
                pass
            return casebank.current_trace_id()

        trace_id = answer(QUESTION)
        assert trace_id is not None and casebank.flush()
        with open_store() as store:
            spans = store.trace_spans(trace_id)
        entry = next(s for s in spans if s["name"] == "answer")
        (span,) = [s for s in spans if s["name"] == name]
        assert span["parent_span_id"] == entry["span_id"]
        return dict(span["attributes"])

    return run


def messages(attributes: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return list(json.loads(attributes[key]))


def test_attach_is_init_with_the_apps_provider() -> None:
    provider = TracerProvider()
    casebank.attach(provider)
    app_tracer = provider.get_tracer("the-app")

    @casebank.trace
    def answer() -> str | None:
        with app_tracer.start_as_current_span("render template"):
            pass
        return casebank.current_trace_id()

    trace_id = answer()
    assert trace_id is not None and casebank.flush()
    with open_store() as store:
        assert [s["name"] for s in store.trace_spans(trace_id)] == ["answer"]  # the app's span is not kept
    casebank.attach(TracerProvider())  # a second call does nothing, like init()
    with open_store() as store:
        assert store.counts().traces == 1


def test_an_openinference_span_gets_casebanks_view_and_keeps_its_own_attributes(capture: Capture) -> None:
    stored = capture(OPENINFERENCE_SCOPE, OPENINFERENCE, name="ChatCompletion")
    assert stored["gen_ai.operation.name"] == "chat"
    assert stored["gen_ai.provider.name"] == "openai"
    assert stored["gen_ai.request.model"] == "gpt-4o-mini"
    assert stored["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert stored["gen_ai.request.temperature"] == 0.2 and stored["gen_ai.request.max_tokens"] == 200
    assert (stored["gen_ai.usage.input_tokens"], stored["gen_ai.usage.output_tokens"]) == (52, 7)
    assert messages(stored, "gen_ai.input.messages") == [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "get_order", "arguments": {"order_id": "A-17"}}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": '{"status": "shipped"}'}],
        },
    ]
    assert messages(stored, "gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It shipped yesterday."}]}
    ]
    for key, value in OPENINFERENCE.items():  # nothing the other tool wrote is lost
        assert stored[key] == value


def test_an_openinference_message_with_content_parts_keeps_their_order(capture: Capture) -> None:
    stored = capture(
        OPENINFERENCE_SCOPE,
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.contents.0.message_content.type": "text",
            "llm.input_messages.0.message.contents.0.message_content.text": "What is on this photo?",
            "llm.input_messages.0.message.contents.1.message_content.type": "image",
            "llm.input_messages.0.message.contents.1.message_content.image.image.url": "https://x.example/a.png",
        },
    )
    assert messages(stored, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "What is on this photo?"}, {"type": "image"}]}
    ]


def test_an_openinference_llm_span_with_only_plain_text_values_reads_as_one_exchange(capture: Capture) -> None:
    stored = capture(
        OPENINFERENCE_SCOPE,
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "local-llama",
            "input.value": QUESTION,
            "input.mime_type": "text/plain",
            "output.value": "It shipped yesterday.",
        },
    )
    assert messages(stored, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}
    ]
    assert messages(stored, "gen_ai.output.messages")[0]["parts"][0]["content"] == "It shipped yesterday."


def test_an_openllmetry_span_gets_casebanks_view_and_keeps_its_own_attributes(capture: Capture) -> None:
    stored = capture(OPENLLMETRY_SCOPE, OPENLLMETRY, name="openai.chat")
    assert stored["gen_ai.operation.name"] == "chat"
    assert stored["gen_ai.provider.name"] == "openai"
    assert stored["gen_ai.request.model"] == "gpt-4o-mini"
    assert (stored["gen_ai.usage.input_tokens"], stored["gen_ai.usage.output_tokens"]) == (40, 12)
    assert stored["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert messages(stored, "gen_ai.input.messages") == [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
    ]
    assert messages(stored, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "get_order", "arguments": {"order_id": "A-17"}}],
            "finish_reason": "tool_call",  # semconv's word; finish_reasons above keeps OpenAI's
        }
    ]
    for key, value in OPENLLMETRY.items():
        assert stored[key] == value


def test_openllmetry_multimodal_content_written_as_a_json_list_becomes_parts(capture: Capture) -> None:
    content = json.dumps([{"type": "text", "text": "What is on this photo?"}, {"type": "image_url", "image_url": {}}])
    stored = capture(
        OPENLLMETRY_SCOPE,
        {"llm.request.type": "chat", "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": content},
    )
    assert messages(stored, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "What is on this photo?"}, {"type": "image_url"}]}
    ]


def test_an_otel_contrib_span_is_already_casebanks_view_and_only_gains_the_provider_name(capture: Capture) -> None:
    stored = capture(CONTRIB_SCOPE, CONTRIB, name="chat gpt-4o-mini")
    assert stored == {**CONTRIB, "gen_ai.response.finish_reasons": ["stop"], "gen_ai.provider.name": "openai"}


def test_a_current_semconv_span_is_stored_exactly_as_it_came(capture: Capture) -> None:
    current = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]),
    }
    assert capture(CONTRIB_SCOPE, current) == current


def test_the_view_never_overwrites_what_the_span_already_says(capture: Capture) -> None:
    stored = capture(
        OPENINFERENCE_SCOPE,
        {
            **OPENINFERENCE,
            "gen_ai.request.model": "the-apps-own-name",
            "gen_ai.usage.input_tokens": 1,
            "gen_ai.input.messages": "[]",
        },
    )
    assert stored["gen_ai.request.model"] == "the-apps-own-name"
    assert stored["gen_ai.usage.input_tokens"] == 1
    assert stored["gen_ai.input.messages"] == "[]"
    assert stored["gen_ai.usage.output_tokens"] == 7  # what was missing is still added


def test_with_capture_content_off_foreign_content_is_dropped_and_metadata_kept(capture: Capture) -> None:
    stored = capture(OPENINFERENCE_SCOPE, OPENINFERENCE, capture_content=False)
    assert not any(key.startswith(("llm.input_messages.", "llm.output_messages.")) for key in stored)
    assert "input.value" not in stored and "output.value" not in stored
    assert "gen_ai.input.messages" not in stored and "gen_ai.output.messages" not in stored
    assert stored["gen_ai.request.model"] == "gpt-4o-mini" and stored["gen_ai.usage.input_tokens"] == 52
    assert stored["gen_ai.operation.name"] == "chat"


def test_a_malformed_foreign_span_is_stored_as_it_came(capture: Capture) -> None:
    odd = {
        "openinference.span.kind": "LLM",
        "llm.invocation_parameters": "{not json",
        "llm.token_count.prompt": "many",
        "llm.input_messages.first.message.role": "user",
        "llm.input_messages.0.message.tool_calls.0.tool_call.function.arguments": "not json either",
        "gen_ai.prompt.0.content": "[{broken",
    }
    stored = capture(OPENINFERENCE_SCOPE, odd)
    for key, value in odd.items():
        assert stored[key] == value
    assert "gen_ai.usage.input_tokens" not in stored
    (message,) = messages(stored, "gen_ai.input.messages")
    assert message["parts"] == [{"type": "tool_call", "id": None, "name": None, "arguments": "not json either"}]


@pytest.mark.parametrize(
    ("attributes", "operation"),
    [
        pytest.param({"openinference.span.kind": "EMBEDDING", "llm.model_name": "e"}, "embeddings", id="oi-embedding"),
        # OpenInference's tool and agent spans have no llm.* keys: kept for their span kind alone.
        pytest.param({"openinference.span.kind": "TOOL", "input.value": "{}"}, "execute_tool", id="oi-tool"),
        pytest.param({"openinference.span.kind": "AGENT"}, "invoke_agent", id="oi-agent"),
        pytest.param({"llm.request.type": "completion"}, "text_completion", id="openllmetry-completion"),
        pytest.param({"llm.request.type": "embedding"}, "embeddings", id="openllmetry-embedding"),
        pytest.param({"traceloop.span.kind": "tool"}, "execute_tool", id="traceloop-tool"),
    ],
)
def test_the_operation_name_comes_from_each_tools_own_kind(
    capture: Capture, attributes: dict[str, Any], operation: str
) -> None:
    assert capture(OPENINFERENCE_SCOPE, attributes)["gen_ai.operation.name"] == operation


def test_a_span_of_the_apps_tracer_that_is_not_an_llm_call_gets_no_operation(capture: Capture) -> None:
    stored = capture("traceloop.sdk", {"traceloop.span.kind": "workflow", "traceloop.entity.name": "answer"})
    assert "gen_ai.operation.name" not in stored


# -- the real OpenInference instrumentation ------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_714_564_800,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "It shipped yesterday."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 52, "completion_tokens": 7, "total_tokens": 59},
}


@pytest.fixture
def chat_server() -> Iterator[str]:
    """A loopback stand-in for the chat completions endpoint: one fixed answer, as JSON."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(COMPLETION).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_the_real_openinference_openai_instrumentation_is_read_like_casebanks_own(chat_server: str) -> None:
    instrumentation = pytest.importorskip("openinference.instrumentation.openai")
    openai = pytest.importorskip("openai")
    provider = TracerProvider()
    instrumentor = instrumentation.OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        casebank.attach(provider, instrument=False)  # only OpenInference makes the LLM span here
        client = openai.OpenAI(api_key="sk-test-not-a-key", base_url=chat_server, max_retries=0)

        @casebank.trace
        def answer(question: str) -> str | None:
            reply = client.chat.completions.create(
                model="gpt-4o-mini",
                temperature=0.2,
                messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            )
            assert reply.choices[0].message.content == "It shipped yesterday."
            return casebank.current_trace_id()

        trace_id = answer(QUESTION)
        assert trace_id is not None and casebank.flush()
    finally:
        instrumentor.uninstrument()
    with open_store() as store:
        spans = store.trace_spans(trace_id)
    (llm,) = [s for s in spans if s["attributes"].get("openinference.span.kind") == "LLM"]
    attrs = llm["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (52, 7)
    assert messages(attrs, "gen_ai.input.messages") == [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
    ]
    assert messages(attrs, "gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It shipped yesterday."}]}
    ]
    assert "sk-test-not-a-key" not in json.dumps(spans)
