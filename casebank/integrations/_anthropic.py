"""Anthropic: `messages.create` (plain and `stream=True`) and the `messages.stream` helper, sync
and async, as GenAI semconv attributes; the provider registration at the end names the methods.

`gen_ai.usage.input_tokens` counts every input token, cached or not (input + cache read +
cache creation), as the semconv asks; the cache parts are also given on their own.
`gen_ai.response.finish_reasons` keeps Anthropic's `stop_reason` values (`end_turn`,
`tool_use`, ...); the output message's `finish_reason` uses the semconv's (`stop`, `tool_call`,
...). Images and documents are recorded as typed parts without their bytes.

The anthropic SDK can emit its own OpenTelemetry span per call (`anthropic.messages.create`,
on the app's global tracer provider). casebank's span is its parent; the SDK's carries no
message content by default, so when casebank shares that provider the store keeps casebank's
span for the call and leaves the SDK's out (see `_duplicates`).

The `messages.stream` helper sends its request from the HTTP layer, not through `create`, so
it has an endpoint of its own: its manager starts the span when the request is made.
"""

from __future__ import annotations

from typing import Any

from casebank.capture._attributes import (
    CACHE_CREATION_TOKENS,
    CACHE_READ_TOKENS,
    FINISH_REASONS,
    INPUT_MESSAGES,
    INPUT_TOKENS,
    OUTPUT_MESSAGES,
    OUTPUT_TOKENS,
    REQUEST_MAX_TOKENS,
    REQUEST_MODEL,
    REQUEST_STOP,
    RESPONSE_ID,
    RESPONSE_MODEL,
    SYSTEM_INSTRUCTIONS,
    arguments,
)
from casebank.integrations._attributes import INCOMPLETE
from casebank.integrations._provider import Endpoint, Provider, resource_targets
from casebank.integrations._registry import register
from casebank.integrations._values import dumps, get, given, join_text_parts

PROVIDER = "anthropic"

_PARAMS = (
    ("max_tokens", REQUEST_MAX_TOKENS),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
)
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}


def _block(block: Any) -> dict[str, Any]:
    kind = get(block, "type")
    if kind == "text":
        return {"type": "text", "content": get(block, "text")}
    if kind in ("tool_use", "server_tool_use"):
        return {
            "type": "tool_call",
            "id": get(block, "id"),
            "name": get(block, "name"),
            "arguments": get(block, "input"),
        }
    if kind == "tool_result":
        response = join_text_parts(get(block, "content"))
        return {"type": "tool_call_response", "id": get(block, "tool_use_id"), "response": response}
    if kind == "thinking":
        return {"type": "reasoning", "content": get(block, "thinking")}
    if kind == "redacted_thinking":
        return {"type": "reasoning"}
    if kind in ("image", "document"):
        source = get(block, "source")
        modality = "image" if kind == "image" else "document"
        if get(source, "type") == "url":
            return {"type": "uri", "modality": modality, "uri": get(source, "url")}
        media = get(source, "media_type")
        return {"type": "blob", "modality": modality, "mime_type": media} if media else {"type": "blob"}
    return {"type": kind if isinstance(kind, str) else "unknown"}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if content is None:
        return []
    return [_block(b) for b in content]


def messages_request(kwargs: dict[str, Any], capture: bool, *, materialise: bool = True) -> tuple[Any, dict[str, Any]]:
    model = kwargs.get("model")
    attributes: dict[str, Any] = {}
    if isinstance(model, str):
        attributes[REQUEST_MODEL] = model
    for key, name in _PARAMS:
        value = kwargs.get(key)
        if given(value) and isinstance(value, (int, float)):
            attributes[name] = value
    stop = kwargs.get("stop_sequences")
    if isinstance(stop, (list, tuple)):
        attributes[REQUEST_STOP] = tuple(s for s in stop if isinstance(s, str))
    if capture:
        messages = kwargs.get("messages")
        if messages is not None and not isinstance(messages, (list, tuple)) and given(messages) and materialise:
            messages = kwargs["messages"] = list(messages)  # a one-shot iterable: we read it, the SDK too
        if isinstance(messages, (list, tuple)):
            attributes[INPUT_MESSAGES] = dumps(
                [{"role": get(m, "role"), "parts": _blocks(get(m, "content"))} for m in messages]
            )
        system = kwargs.get("system")
        if given(system) and system:
            attributes[SYSTEM_INSTRUCTIONS] = dumps(_blocks(system))
    return model, attributes


def helper_request(kwargs: dict[str, Any], capture: bool) -> tuple[Any, dict[str, Any]]:
    # The helper's request body was built when `stream()` was called: never consume its iterables.
    return messages_request(kwargs, capture, materialise=False)


def _usage(attributes: dict[str, Any], usage: Any) -> None:
    if usage is None:
        return
    read = get(usage, "cache_read_input_tokens")
    created = get(usage, "cache_creation_input_tokens")
    tokens = get(usage, "input_tokens")
    if isinstance(tokens, int):
        attributes[INPUT_TOKENS] = (
            tokens + (read if isinstance(read, int) else 0) + (created if isinstance(created, int) else 0)
        )
    if isinstance(read, int) and read:
        attributes[CACHE_READ_TOKENS] = read
    if isinstance(created, int) and created:
        attributes[CACHE_CREATION_TOKENS] = created
    tokens = get(usage, "output_tokens")
    if isinstance(tokens, int):
        attributes[OUTPUT_TOKENS] = tokens


def _answer(attributes: dict[str, Any], message_id: Any, model: Any, stop_reason: Any) -> None:
    if isinstance(message_id, str):
        attributes[RESPONSE_ID] = message_id
    if isinstance(model, str):
        attributes[RESPONSE_MODEL] = model
    if isinstance(stop_reason, str):
        attributes[FINISH_REASONS] = (stop_reason,)


def _output(parts: list[dict[str, Any]], stop_reason: Any) -> str:
    reason = _FINISH.get(stop_reason, stop_reason) if stop_reason is not None else INCOMPLETE
    return dumps([{"role": "assistant", "parts": parts, "finish_reason": reason}])


def messages_response(result: Any, capture: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    stop_reason = get(result, "stop_reason")
    _answer(attributes, get(result, "id"), get(result, "model"), stop_reason)
    _usage(attributes, get(result, "usage"))
    if capture:
        attributes[OUTPUT_MESSAGES] = _output(_blocks(get(result, "content")), stop_reason)
    return attributes


class MessageStream:
    """Accumulates raw message stream events: blocks (text, tool input JSON), stop reason, usage."""

    __slots__ = ("blocks", "id", "model", "stop_reason", "usage")

    def __init__(self) -> None:
        self.id: Any = None
        self.model: Any = None
        self.stop_reason: Any = None
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, list[Any]] = {}  # index -> [block, [text or JSON pieces]]

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            delta = event.delta
            entry = self.blocks.get(event.index)
            if entry is not None:
                piece = getattr(delta, "text", None) or getattr(delta, "partial_json", None)
                if piece is None:
                    piece = getattr(delta, "thinking", None)
                if piece:
                    entry[1].append(piece)
        elif kind == "content_block_start":
            self.blocks[event.index] = [event.content_block, []]
        elif kind == "message_start":
            message = event.message
            self.id, self.model = message.id, message.model
            self._take_usage(message.usage)
        elif kind == "message_delta":
            self.stop_reason = getattr(event.delta, "stop_reason", None)
            self._take_usage(getattr(event, "usage", None))

    def _take_usage(self, usage: Any) -> None:
        # message_delta's usage is cumulative and may leave fields out: keep the latest of each.
        for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            value = getattr(usage, key, None)
            if isinstance(value, int):
                self.usage[key] = value

    def attributes(self, capture: bool) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        _answer(attributes, self.id, self.model, self.stop_reason)
        _usage(attributes, self.usage)
        if capture:
            parts = []
            for index in sorted(self.blocks):
                block, pieces = self.blocks[index]
                part = _block(block)
                joined = "".join(pieces)
                if part["type"] == "text":
                    part["content"] = joined
                elif part["type"] == "tool_call" and pieces:
                    part["arguments"] = arguments(joined)
                elif part["type"] == "reasoning" and pieces:
                    part["content"] = joined
                parts.append(part)
            attributes[OUTPUT_MESSAGES] = _output(parts, self.stop_reason)
        return attributes


MESSAGES = Endpoint(
    provider=PROVIDER,
    operation="chat",
    request=messages_request,
    response=messages_response,
    accumulator=MessageStream,
)
MESSAGES_HELPER = Endpoint(
    provider=PROVIDER,
    operation="chat",
    request=helper_request,
    response=messages_response,
    accumulator=MessageStream,
)


register(
    Provider(
        name="anthropic",
        sentinels=("anthropic._types:Omit", "anthropic._types:NotGiven"),
        targets=resource_targets(
            "anthropic.resources.messages",
            "Messages",
            client_path=("messages",),
            calls={"create": MESSAGES},
            stream_helpers={"stream": MESSAGES_HELPER},
        ),
    )
)
