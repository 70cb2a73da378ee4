"""The real `openai` client, instrumented, against the fake server: one span per call, semconv attributes."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import openai
import orjson
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import casebank
from casebank.integrations import uninstrument
from tests.fakes import API_KEY, FakeLLM, Reply, ToolCall
from tests.integrations.conftest import Spans, attrs

USER = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Where is my order?"}]
WEATHER = Reply(text="Let me check.", tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"})])


def messages(span: Any, key: str) -> Any:
    return orjson.loads(attrs(span)[key])


def test_a_chat_completion_is_a_child_of_the_entry_point_with_semconv_attributes(
    spans: Spans, openai_client: openai.OpenAI
) -> None:
    @casebank.trace
    def support(question: str) -> str:
        answer = openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": question}],
            temperature=0.2,
            max_tokens=50,
            top_p=0.9,
            seed=7,
            stop=["\n\n"],
        )
        return answer.choices[0].message.content or ""

    assert support("Where is my order?") == "Hello from the fake model."
    span = spans.one()
    entry = next(s for s in spans.all() if s.name == "support")
    assert span.parent is not None and span.parent.span_id == entry.context.span_id
    assert span.context.trace_id == entry.context.trace_id
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    a = attrs(span)
    assert {k: v for k, v in a.items() if k not in ("gen_ai.input.messages", "gen_ai.output.messages")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "openai.api.type": "chat_completions",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("\n\n",),
        "gen_ai.response.id": "chatcmpl-fake1",
        "gen_ai.response.model": "gpt-4o-mini-2024",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_fake",
        "casebank.semconv_version": "1.37.0",
        "server.address": "127.0.0.1",
        "server.port": int(openai_client.base_url.port or 0),
    }
    assert messages(span, "gen_ai.input.messages") == [
        {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]},
    ]
    assert messages(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the fake model."}],
            "finish_reason": "stop",
        }
    ]


def test_tool_calls_and_tool_results_become_semconv_parts(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    fake_llm.reply = WEATHER
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Rome and Paris?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny, 24C"},
    ]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    answer = openai_client.chat.completions.create(model="gpt-4o", messages=history, tools=tools)  # type: ignore[arg-type]
    assert answer.choices[0].message.tool_calls
    span = spans.one()
    assert messages(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome and Paris?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_0", "name": "get_weather", "arguments": {"city": "Rome"}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_0", "response": "sunny, 24C"}]},
    ]
    assert messages(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
            "finish_reason": "tool_call",
        }
    ]
    assert attrs(span)["gen_ai.response.finish_reasons"] == ("tool_calls",)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(429, openai.RateLimitError, id="rate-limited"),
        pytest.param(500, openai.InternalServerError, id="500"),
    ],
)
def test_an_api_error_ends_the_span_as_an_error_and_reaches_the_app_unchanged(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI, status: int, error: type[Exception]
) -> None:
    fake_llm.fail_next(status, message="slow down")
    with pytest.raises(error) as raised:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
    assert type(raised.value) is error
    assert raised.value.status_code == status  # type: ignore[attr-defined]
    assert "slow down" in str(raised.value)
    span = spans.one()
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == error.__name__
    assert attrs(span)["http.response.status_code"] == status
    assert [e.name for e in span.events] == ["exception"]


def test_a_stream_read_to_the_end_ends_its_span_once_with_the_answer_and_usage(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    chunks = list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))  # type: ignore[call-overload]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from the fake model."
    assert fake_llm.requests[-1].body["stream_options"] == {"include_usage": True}
    span = spans.one()
    a = attrs(span)
    assert a["casebank.stream"] is True and a["casebank.stream_end"] == "exhausted"
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["casebank.time_to_first_chunk_ms"] >= 0
    assert messages(span, "gen_ai.output.messages")[0]["parts"] == [
        {"type": "text", "content": "Hello from the fake model."}
    ]


def test_the_usage_chunk_casebank_asked_for_is_kept_from_the_app(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    def chunks() -> list[str]:
        stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[call-overload]
        return [c.to_json(indent=None) for c in stream]

    seen_with_casebank = chunks()
    uninstrument()
    seen_without = chunks()
    assert seen_with_casebank == seen_without
    assert "usage" not in fake_llm.requests[-1].body.get("stream_options", {})


def test_a_caller_who_asked_for_usage_gets_the_usage_chunk(spans: Spans, openai_client: openai.OpenAI) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    last = list(stream)[-1]
    assert last.choices == [] and last.usage is not None and last.usage.total_tokens == 19
    assert attrs(spans.one())["gen_ai.usage.output_tokens"] == 7


def test_a_caller_who_declined_usage_is_left_alone(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": False},
    )
    assert all(c.choices for c in stream)
    assert fake_llm.requests[-1].body["stream_options"] == {"include_usage": False}
    assert "gen_ai.usage.output_tokens" not in attrs(spans.one())


def test_stream_usage_false_never_asks_for_usage(spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI) -> None:
    casebank.integrations.instrument_openai(stream_usage=False)
    try:
        list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))  # type: ignore[call-overload]
    finally:
        casebank.integrations.instrument_openai()
    assert "stream_options" not in fake_llm.requests[-1].body
    assert attrs(spans.one())["casebank.stream_end"] == "exhausted"


def test_a_stream_abandoned_halfway_ends_its_span_once_when_collected(
    spans: Spans, openai_client: openai.OpenAI
) -> None:
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[call-overload]
    next(stream)
    next(stream)
    assert spans.llm() == []  # still open while the app holds it
    del stream
    gc.collect()
    span = spans.one()
    assert attrs(span)["casebank.stream_end"] == "collected"
    assert messages(span, "gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello"}], "finish_reason": "incomplete"}
    ]
    gc.collect()
    assert len(spans.llm()) == 1


def test_a_stream_closed_early_ends_its_span_once(spans: Spans, openai_client: openai.OpenAI) -> None:
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[call-overload]
    next(stream)
    stream.close()
    assert attrs(spans.one())["casebank.stream_end"] == "closed"
    stream.close()
    del stream
    gc.collect()
    assert len(spans.llm()) == 1


def test_a_stream_used_as_a_context_manager_ends_its_span_once_on_exit(
    spans: Spans, openai_client: openai.OpenAI
) -> None:
    with openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as stream:  # type: ignore[call-overload]
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
        assert spans.llm() == []
    assert attrs(spans.one())["casebank.stream_end"] == "exited"
    del stream
    gc.collect()
    assert len(spans.llm()) == 1


def test_a_stream_read_to_the_end_inside_a_with_block_ends_once(spans: Spans, openai_client: openai.OpenAI) -> None:
    with openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as stream:  # type: ignore[call-overload]
        assert len(list(stream)) == 7
    assert attrs(spans.one())["casebank.stream_end"] == "exhausted"


def test_a_stream_that_breaks_off_with_an_error_ends_its_span_as_an_error(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    fake_llm.reply = Reply(stream_error="upstream overloaded")
    stream = openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[call-overload]
    with pytest.raises(openai.APIError, match="upstream overloaded"):
        for _ in stream:
            pass
    span = spans.one()
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["casebank.stream_end"] == "error"
    assert messages(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "Hello"}]


def test_a_streamed_tool_call_is_put_together_from_its_deltas(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    fake_llm.reply = WEATHER
    list(openai_client.chat.completions.create(model="gpt-4o", messages=USER, stream=True))  # type: ignore[call-overload]
    span = spans.one()
    assert messages(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_the_chat_stream_helper_gets_one_span_ended_on_exit(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    fake_llm.reply = WEATHER
    with openai_client.chat.completions.stream(model="gpt-4o", messages=USER) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert final.choices[0].message.tool_calls and final.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert final.usage is None  # as without casebank: the usage casebank asked for stays with casebank
    span = spans.one()
    assert attrs(span)["gen_ai.usage.output_tokens"] == 7
    assert messages(span, "gen_ai.output.messages")[0]["parts"][1]["arguments"] == {"city": "Paris"}


def test_the_chat_stream_helper_left_early_ends_its_span_at_exit(spans: Spans, openai_client: openai.OpenAI) -> None:
    with openai_client.chat.completions.stream(model="gpt-4o", messages=USER) as stream:  # type: ignore[arg-type]
        for event in stream:
            if event.type == "content.delta":
                break
        assert spans.llm() == []
    span = spans.one()
    assert attrs(span)["casebank.stream_end"] == "exited"
    del stream
    gc.collect()
    assert len(spans.llm()) == 1


def test_parse_is_recorded_like_create(spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI) -> None:
    import pydantic

    class Answer(pydantic.BaseModel):
        city: str

    fake_llm.reply = Reply(text='{"city": "Paris"}')
    parsed = openai_client.chat.completions.parse(model="gpt-4o", messages=USER, response_format=Answer)  # type: ignore[arg-type]
    assert parsed.choices[0].message.parsed == Answer(city="Paris")
    a = attrs(spans.one())
    assert a["gen_ai.output.type"] == "json"
    assert orjson.loads(a["gen_ai.output.messages"])[0]["parts"][0]["content"] == '{"city": "Paris"}'


def test_a_raw_response_is_recorded_and_still_parses_for_the_app(spans: Spans, openai_client: openai.OpenAI) -> None:
    raw = openai_client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
    assert raw.headers["x-request-id"] == "req_fake1"
    assert raw.parse().choices[0].message.content == "Hello from the fake model."
    assert attrs(spans.one())["gen_ai.usage.output_tokens"] == 7


def test_the_responses_api_records_instructions_input_items_and_output(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    fake_llm.reply = WEATHER
    response = openai_client.responses.create(
        model="gpt-4.1",
        instructions="Answer briefly.",
        input=[
            {"role": "user", "content": "Weather in Rome?"},
            {"type": "function_call", "call_id": "call_0", "name": "get_weather", "arguments": '{"city":"Rome"}'},
            {"type": "function_call_output", "call_id": "call_0", "output": "sunny"},
        ],
        max_output_tokens=64,
        temperature=0.5,
    )
    assert response.output_text == "Let me check."
    span = spans.one()
    a = attrs(span)
    assert span.name == "chat gpt-4.1"
    assert a["openai.api.type"] == "responses"
    assert a["gen_ai.request.max_tokens"] == 64 and a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.response.id"] == "resp_fake1"
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 7
    assert a["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert messages(span, "gen_ai.system_instructions") == [{"type": "text", "content": "Answer briefly."}]
    assert messages(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_0", "name": "get_weather", "arguments": {"city": "Rome"}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_0", "response": "sunny"}]},
    ]
    assert messages(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_a_responses_stream_ends_with_the_final_response(spans: Spans, openai_client: openai.OpenAI) -> None:
    events = [e.type for e in openai_client.responses.create(model="gpt-4.1", input="hi", stream=True)]
    assert events[0] == "response.created" and events[-1] == "response.completed"
    a = attrs(spans.one())
    assert a["casebank.stream_end"] == "exhausted"
    assert a["gen_ai.usage.output_tokens"] == 7
    assert orjson.loads(a["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "Hello from the fake model."}
    ]


def test_the_responses_stream_helper_gets_one_span(spans: Spans, openai_client: openai.OpenAI) -> None:
    with openai_client.responses.stream(model="gpt-4.1", input="hi") as stream:
        assert stream.get_final_response().output_text == "Hello from the fake model."
    a = attrs(spans.one())
    assert a["casebank.stream"] is True and a["gen_ai.usage.input_tokens"] == 12


def test_embeddings_record_metadata_but_not_the_inputs(spans: Spans, openai_client: openai.OpenAI) -> None:
    result = openai_client.embeddings.create(model="text-embedding-3-small", input=["refund policy", "shipping"])
    assert len(result.data) == 2
    span = spans.one()
    assert span.name == "embeddings text-embedding-3-small"
    a = attrs(span)
    assert a["gen_ai.operation.name"] == "embeddings"
    assert a["gen_ai.usage.input_tokens"] == 12
    assert a["gen_ai.embeddings.dimension.count"] == 4
    assert "gen_ai.input.messages" not in a


def test_capture_content_false_keeps_metadata_and_drops_content(
    fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    caught = Spans()
    casebank.init(tracer_provider=caught.provider, capture_content=False)
    fake_llm.reply = WEATHER
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
    list(openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True))  # type: ignore[call-overload]
    openai_client.responses.create(model="gpt-4.1", input="hi", instructions="be brief")
    llm = caught.llm()
    assert len(llm) == 3
    for span in llm:
        a = attrs(span)
        assert not {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"} & set(a)
        assert a["gen_ai.usage.output_tokens"] == 7 and a["gen_ai.response.model"]
    serialised = str([dict(s.attributes or {}) for s in caught.all()])
    assert "Where is my order" not in serialised and "Paris" not in serialised


def test_a_one_shot_iterable_of_messages_is_read_once_for_both(
    spans: Spans, fake_llm: FakeLLM, openai_client: openai.OpenAI
) -> None:
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=(m for m in USER))  # type: ignore[arg-type]
    assert fake_llm.requests[-1].body["messages"] == USER
    assert len(messages(spans.one(), "gen_ai.input.messages")) == 2


# -- async ---------------------------------------------------------------------------------------------


def async_client(fake_llm: FakeLLM) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=API_KEY, base_url=fake_llm.openai_url, max_retries=0)


def test_async_calls_and_streams_each_get_one_span(spans: Spans, fake_llm: FakeLLM) -> None:
    @casebank.trace
    async def entry() -> list[str]:
        async with async_client(fake_llm) as client:
            plain = await client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[call-overload]
            pieces = [c.choices[0].delta.content or "" async for c in stream]
            response = await client.responses.create(model="gpt-4.1", input="hi")
            await client.embeddings.create(model="text-embedding-3-small", input="hi")
            return [plain.choices[0].message.content or "", "".join(pieces), response.output_text]

    assert asyncio.run(entry()) == ["Hello from the fake model."] * 3
    llm = spans.llm()
    entry_span = next(s for s in spans.all() if s.name == "entry")
    assert [s.name for s in llm] == [
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "chat gpt-4.1",
        "embeddings text-embedding-3-small",
    ]
    assert all(s.parent is not None and s.parent.span_id == entry_span.context.span_id for s in llm)
    assert attrs(llm[1])["casebank.stream_end"] == "exhausted"
    assert attrs(llm[1])["gen_ai.usage.output_tokens"] == 7


def test_async_streams_closed_early_or_exited_end_once(spans: Spans, fake_llm: FakeLLM) -> None:
    async def run() -> None:
        async with async_client(fake_llm) as client:
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)  # type: ignore[call-overload]
            await stream.__anext__()
            await stream.close()
            async with await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=USER,  # type: ignore[arg-type]
                stream=True,
            ) as second:
                async for _ in second:
                    break
            async with client.chat.completions.stream(model="gpt-4o", messages=USER) as helper:  # type: ignore[arg-type]
                async for _ in helper:
                    break

    asyncio.run(run())
    gc.collect()
    assert [attrs(s)["casebank.stream_end"] for s in spans.llm()] == ["closed", "exited", "exited"]


def test_an_async_api_error_ends_the_span_as_an_error(spans: Spans, fake_llm: FakeLLM) -> None:
    async def run() -> None:
        async with async_client(fake_llm) as client:
            await client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]

    fake_llm.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        asyncio.run(run())
    assert spans.one().status.status_code is StatusCode.ERROR


def test_the_api_key_is_sent_to_the_server(fake_llm: FakeLLM, openai_client: openai.OpenAI) -> None:
    # the other half of test_the_api_key_never_reaches_the_store: the key was really in play
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # type: ignore[arg-type]
    assert fake_llm.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
