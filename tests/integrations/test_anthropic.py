"""The real `anthropic` client, instrumented, against the fake server."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import anthropic
import orjson
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import casebank
from tests.fakes import API_KEY, FakeLLM, Reply, ToolCall
from tests.integrations.conftest import Spans, attrs

ASK = [{"role": "user", "content": "Where is my order?"}]
WEATHER = Reply(
    text="Let me check.", tool_calls=[ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"})]
)
TOOL_OUTPUT = [
    {"role": "assistant", "parts": [{"type": "text", "content": "Let me check."}]},
]


def loads(span: Any, key: str) -> Any:
    return orjson.loads(attrs(span)[key])


def test_a_message_is_a_child_of_the_entry_point_with_semconv_attributes(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    fake_llm.reply = Reply(cached_tokens=30)

    @casebank.trace
    def support(question: str) -> str:
        message = anthropic_client.messages.create(
            model="claude-fake-1",
            max_tokens=256,
            system="You are terse.",
            messages=[{"role": "user", "content": question}],
            stop_sequences=["END"],
        )
        return message.content[0].text  # type: ignore[union-attr]

    assert support("Where is my order?") == "Hello from the fake model."
    span = spans.one()
    entry = next(s for s in spans.all() if s.name == "support")
    assert span.parent is not None and span.parent.span_id == entry.context.span_id
    assert span.name == "chat claude-fake-1" and span.kind is SpanKind.CLIENT
    a = attrs(span)
    assert {k: v for k, v in a.items() if not k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system_"))} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-fake-1",
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.response.id": "msg_fake1",
        "gen_ai.response.model": "claude-fake-1-2024",
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": 42,  # 12 uncached + 30 read from the cache
        "gen_ai.usage.cache_read.input_tokens": 30,
        "gen_ai.usage.output_tokens": 7,
        "casebank.semconv_version": "1.37.0",
        "server.address": "127.0.0.1",
        "server.port": int(anthropic_client.base_url.port or 0),
    }
    assert loads(span, "gen_ai.system_instructions") == [{"type": "text", "content": "You are terse."}]
    assert loads(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]}
    ]
    assert loads(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the fake model."}],
            "finish_reason": "stop",
        }
    ]


def test_tool_use_and_tool_results_become_semconv_parts(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    fake_llm.reply = WEATHER
    history: Any = [
        {"role": "user", "content": "Weather in Rome and Paris?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {"city": "Rome"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "sunny"}]},
    ]
    tools: Any = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    message = anthropic_client.messages.create(model="claude-x", max_tokens=100, messages=history, tools=tools)
    assert message.stop_reason == "tool_use"
    span = spans.one()
    assert loads(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome and Paris?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "toolu_0", "name": "get_weather", "arguments": {"city": "Rome"}}],
        },
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_0", "response": "sunny"}]},
    ]
    assert loads(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
            "finish_reason": "tool_call",
        }
    ]
    assert attrs(span)["gen_ai.response.finish_reasons"] == ("tool_use",)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(429, anthropic.RateLimitError, id="rate-limited"),
        pytest.param(529, anthropic.APIStatusError, id="overloaded"),
    ],
)
def test_an_api_error_ends_the_span_as_an_error_and_reaches_the_app_unchanged(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic, status: int, error: type[Exception]
) -> None:
    fake_llm.fail_next(status)
    with pytest.raises(error) as raised:
        anthropic_client.messages.create(model="claude-x", max_tokens=100, messages=ASK)  # type: ignore[arg-type]
    assert raised.value.status_code == status  # type: ignore[attr-defined]
    span = spans.one()
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["http.response.status_code"] == status
    assert attrs(span)["error.type"] == type(raised.value).__name__


def test_a_raw_stream_read_to_the_end_ends_its_span_once(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    fake_llm.reply = WEATHER
    events = [
        e.type for e in anthropic_client.messages.create(model="claude-x", max_tokens=100, messages=ASK, stream=True)
    ]  # type: ignore[arg-type]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    span = spans.one()
    a = attrs(span)
    assert a["casebank.stream_end"] == "exhausted"
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert loads(span, "gen_ai.output.messages")[0]["parts"] == [
        {"type": "text", "content": "Let me check."},
        {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
    ]


def test_raw_streams_abandoned_closed_or_exited_each_end_once(
    spans: Spans, anthropic_client: anthropic.Anthropic
) -> None:
    def stream() -> Any:
        return anthropic_client.messages.create(model="claude-x", max_tokens=100, messages=ASK, stream=True)  # type: ignore[arg-type]

    abandoned = stream()
    next(abandoned)
    next(abandoned)
    del abandoned
    gc.collect()
    closed = stream()
    next(closed)
    closed.close()
    with stream() as exited:
        next(iter(exited))
    del closed, exited
    gc.collect()
    assert [attrs(s)["casebank.stream_end"] for s in spans.llm()] == ["collected", "closed", "exited"]
    partial = loads(spans.llm()[0], "gen_ai.output.messages")
    assert partial == [{"role": "assistant", "parts": [{"type": "text", "content": ""}], "finish_reason": "incomplete"}]


def test_the_stream_helper_gets_one_span_with_the_final_message(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    fake_llm.reply = WEATHER
    with anthropic_client.messages.stream(model="claude-x", max_tokens=100, messages=ASK, system="terse") as stream:  # type: ignore[arg-type]
        message = stream.get_final_message()
    assert message.usage.output_tokens == 7 and message.content[1].type == "tool_use"
    span = spans.one()
    a = attrs(span)
    assert a["casebank.stream"] is True and a["casebank.stream_end"] == "exhausted"
    assert loads(span, "gen_ai.system_instructions") == [{"type": "text", "content": "terse"}]
    assert loads(span, "gen_ai.output.messages")[0]["parts"][1]["arguments"] == {"city": "Paris"}


def test_the_stream_helpers_text_stream_is_watched_too(spans: Spans, anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(model="claude-x", max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
        assert "".join(stream.text_stream) == "Hello from the fake model."
    assert loads(spans.one(), "gen_ai.output.messages")[0]["parts"] == [
        {"type": "text", "content": "Hello from the fake model."}
    ]


@pytest.mark.parametrize("leave", ["exit", "close", "drop"])
def test_the_stream_helper_left_early_ends_its_span_once(
    spans: Spans, anthropic_client: anthropic.Anthropic, leave: str
) -> None:
    manager = anthropic_client.messages.stream(model="claude-x", max_tokens=100, messages=ASK)  # type: ignore[arg-type]
    if leave == "exit":
        with manager as stream:
            next(iter(stream))
        expected = "exited"
    else:
        stream = manager.__enter__()
        next(iter(stream))
        if leave == "close":
            stream.close()
            expected = "closed"
        else:
            del stream, manager
            expected = "collected"
    gc.collect()
    assert attrs(spans.one())["casebank.stream_end"] == expected


def test_the_stream_helper_ends_its_span_as_an_error_when_the_stream_breaks(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    fake_llm.reply = Reply(stream_error="Overloaded")
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with anthropic_client.messages.stream(model="claude-x", max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
            stream.until_done()
    span = spans.one()
    assert span.status.status_code is StatusCode.ERROR
    assert loads(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "Hello"}]


def test_the_stream_helper_records_a_refused_request_as_an_error(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    fake_llm.fail_next(429)
    with pytest.raises(anthropic.RateLimitError):
        with anthropic_client.messages.stream(model="claude-x", max_tokens=100, messages=ASK):  # type: ignore[arg-type]
            pass
    assert spans.one().status.status_code is StatusCode.ERROR


def test_async_messages_streams_and_helpers_each_get_one_span(spans: Spans, fake_llm: FakeLLM) -> None:
    @casebank.trace
    async def entry() -> list[str]:
        async with anthropic.AsyncAnthropic(api_key=API_KEY, base_url=fake_llm.anthropic_url, max_retries=0) as client:
            plain = await client.messages.create(model="claude-x", max_tokens=100, messages=ASK)  # type: ignore[arg-type]
            raw = await client.messages.create(model="claude-x", max_tokens=100, messages=ASK, stream=True)  # type: ignore[arg-type]
            kinds = [event.type async for event in raw]
            async with client.messages.stream(model="claude-x", max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
                text = await stream.get_final_text()
            early = await client.messages.create(model="claude-x", max_tokens=100, messages=ASK, stream=True)  # type: ignore[arg-type]
            await early.__anext__()
            await early.close()
            return [plain.content[0].text, kinds[-1], text]  # type: ignore[union-attr]

    assert asyncio.run(entry()) == ["Hello from the fake model.", "message_stop", "Hello from the fake model."]
    llm = spans.llm()
    entry_span = next(s for s in spans.all() if s.name == "entry")
    assert len(llm) == 4
    assert all(s.parent is not None and s.parent.span_id == entry_span.context.span_id for s in llm)
    assert [attrs(s).get("casebank.stream_end") for s in llm] == [None, "exhausted", "exhausted", "closed"]


def test_capture_content_false_keeps_metadata_and_drops_content(
    fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    caught = Spans()
    casebank.init(tracer_provider=caught.provider, capture_content=False)
    anthropic_client.messages.create(model="claude-x", max_tokens=100, system="secret plan", messages=ASK)  # type: ignore[arg-type]
    with anthropic_client.messages.stream(model="claude-x", max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
        stream.until_done()
    for span in caught.llm():
        a = attrs(span)
        assert not {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"} & set(a)
        assert a["gen_ai.usage.output_tokens"] == 7
    assert "secret plan" not in str([dict(s.attributes or {}) for s in caught.all()])
