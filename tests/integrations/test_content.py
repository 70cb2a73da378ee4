"""Every kind of message content the SDKs take becomes semconv parts (media as typed parts, no bytes)."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.fakes import API_KEY, FakeLLM
from tests.integrations.conftest import Spans, attrs

PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def loads(span: Any, key: str) -> Any:
    return orjson.loads(attrs(span)[key])


def test_chat_messages_of_every_kind_become_parts(spans: Spans, openai_client: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "name": "ada",
            "content": [
                {"type": "text", "text": "What is on these?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "image_url", "image_url": {"url": PNG}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "file", "file": {"file_id": "file-1"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I cannot see images."}]},
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": "not json"}},
        {"role": "function", "name": "lookup", "content": "found"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "type": "custom", "custom": {"name": "grep", "input": "cat"}}],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": [{"type": "text", "text": "a "}, {"type": "text", "text": "cat"}],
        },
    ]
    openai_client.chat.completions.create(model="gpt-4o", messages=messages, response_format={"type": "json_object"})
    span = spans.one()
    assert attrs(span)["gen_ai.output.type"] == "json"
    assert loads(span, "gen_ai.input.messages") == [
        {"role": "developer", "parts": [{"type": "text", "content": "Be brief."}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "What is on these?"},
                {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
                {"type": "blob", "modality": "image", "mime_type": "image/png"},
                {"type": "blob", "modality": "audio"},
                {"type": "file"},
            ],
        },
        {"role": "assistant", "parts": [{"type": "refusal", "content": "I cannot see images."}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": None, "name": "lookup", "arguments": "not json"}]},
        {"role": "function", "parts": [{"type": "tool_call_response", "name": "lookup", "response": "found"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": ""},
                {"type": "tool_call", "id": "c1", "name": "grep", "arguments": "cat"},
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "a cat"}]},
    ]
    assert "iVBORw0KGgo" not in str(span.attributes)  # the image's bytes stay out


def test_an_sdk_message_object_passed_back_in_is_read_like_a_dict(spans: Spans, openai_client: openai.OpenAI) -> None:
    first = openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    history: Any = [{"role": "user", "content": "hi"}, first.choices[0].message, {"role": "user", "content": "more"}]
    openai_client.chat.completions.create(model="gpt-4o", messages=history, n=2, stop="END")
    second = spans.llm()[1]
    assert loads(second, "gen_ai.input.messages")[1] == {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Hello from the fake model."}],
    }
    assert attrs(second)["gen_ai.request.choice.count"] == 2
    assert attrs(second)["gen_ai.request.stop_sequences"] == ("END",)
    assert len(loads(second, "gen_ai.output.messages")) == 2


def test_responses_input_items_of_every_kind_become_parts(spans: Spans, openai_client: openai.OpenAI) -> None:
    items: Any = [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look:"},
                {"type": "input_image", "image_url": PNG, "detail": "auto"},
                {"type": "input_image", "file_id": "file-2", "detail": "auto"},
                {"type": "input_file", "file_id": "file-3"},
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "custom_tool_call", "call_id": "c2", "name": "grep", "input": "cat"},
        {"type": "custom_tool_call_output", "call_id": "c2", "output": "found"},
    ]
    openai_client.responses.create(
        model="gpt-4.1", input=items, text={"format": {"type": "json_schema", "name": "x", "schema": {}}}
    )
    span = spans.one()
    assert attrs(span)["gen_ai.output.type"] == "json"
    assert loads(span, "gen_ai.input.messages") == [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Look:"},
                {"type": "blob", "modality": "image", "mime_type": "image/png"},
                {"type": "file", "modality": "image", "file_id": "file-2"},
                {"type": "file"},
            ],
        },
        {"role": "assistant", "parts": [{"type": "reasoning"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c2", "name": "grep", "arguments": "cat"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c2", "response": "found"}]},
    ]


def test_anthropic_blocks_of_every_kind_become_parts(spans: Spans, anthropic_client: anthropic.Anthropic) -> None:
    messages: Any = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read these."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG[22:]}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Two images.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xxx"},
                {"type": "text", "text": "Done."},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]},
                {"type": "search_result", "source": "s", "title": "t", "content": []},
            ],
        },
    ]
    system: Any = [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}]
    anthropic_client.messages.create(model="claude-x", max_tokens=10, system=system, messages=messages)
    span = spans.one()
    assert loads(span, "gen_ai.system_instructions") == [
        {"type": "text", "content": "Be brief."},
        {"type": "text", "content": "Be kind."},
    ]
    assert loads(span, "gen_ai.input.messages") == [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Read these."},
                {"type": "blob", "modality": "image", "mime_type": "image/png"},
                {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
                {"type": "uri", "modality": "document", "uri": "https://example.com/a.pdf"},
            ],
        },
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Two images."},
                {"type": "reasoning"},
                {"type": "text", "content": "Done."},
            ],
        },
        {
            "role": "user",
            "parts": [{"type": "tool_call_response", "id": "t1", "response": "ok"}, {"type": "search_result"}],
        },
    ]
    assert "iVBORw0KGgo" not in str(span.attributes)


def test_a_one_shot_iterable_of_anthropic_messages_is_read_once_for_both(
    spans: Spans, fake_llm: FakeLLM, anthropic_client: anthropic.Anthropic
) -> None:
    anthropic_client.messages.create(
        model="claude-x", max_tokens=10, messages=iter([{"role": "user", "content": "hi"}])
    )
    assert fake_llm.requests[-1].body["messages"] == [{"role": "user", "content": "hi"}]
    assert len(loads(spans.one(), "gen_ai.input.messages")) == 1


@pytest.mark.parametrize("status", [pytest.param(429, id="refused"), pytest.param(500, id="failed")])
def test_async_stream_helpers_that_fail_to_start_end_their_span_as_an_error(
    spans: Spans, fake_llm: FakeLLM, status: int
) -> None:
    async def run() -> None:
        fake_llm.fail_next(status)
        async with anthropic.AsyncAnthropic(api_key=API_KEY, base_url=fake_llm.anthropic_url, max_retries=0) as client:
            async with client.messages.stream(
                model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            ):
                pass

    with pytest.raises(anthropic.APIStatusError):
        asyncio.run(run())
    assert spans.one().status.status_code.name == "ERROR"


def test_async_raw_streams_used_as_context_managers_end_once(spans: Spans, fake_llm: FakeLLM) -> None:
    async def run() -> None:
        async with anthropic.AsyncAnthropic(api_key=API_KEY, base_url=fake_llm.anthropic_url, max_retries=0) as client:
            stream = await client.messages.create(
                model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async with stream as events:
                async for _ in events:
                    break

    asyncio.run(run())
    assert attrs(spans.one())["casebank.stream_end"] == "exited"


def test_content_with_keys_that_are_not_strings_is_recorded_with_them_as_strings(
    spans: Spans, anthropic_client: anthropic.Anthropic
) -> None:
    call = {"type": "tool_use", "id": "t1", "name": "pick", "input": {1: "first", "two": 2}}
    messages: Any = [{"role": "user", "content": "Pick one."}, {"role": "assistant", "content": [call]}]
    anthropic_client.messages.create(model="claude-x", max_tokens=10, messages=messages)
    asked = loads(spans.one(), "gen_ai.input.messages")
    assert asked[1]["parts"] == [
        {"type": "tool_call", "id": "t1", "name": "pick", "arguments": {"1": "first", "two": 2}}
    ]
