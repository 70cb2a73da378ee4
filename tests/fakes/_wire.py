"""What the fake server answers: the OpenAI and Anthropic wire formats, built from one `Reply`.

Each builder returns either one JSON body or the list of server-sent events of a stream, shaped
as the real APIs send them (ids, usage, finish reasons, tool calls split across deltas), so the
real `openai` and `anthropic` clients parse them on their ordinary code paths.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from typing import Any

CREATED = 1_700_000_000


@dataclass(kw_only=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = "call_1"


@dataclass(kw_only=True)
class Reply:
    """What the next answers say. `text` is streamed word by word; `tool_calls` follow it."""

    text: str = "Hello from the fake model."
    tool_calls: list[ToolCall] = field(default_factory=list)
    model: str | None = None  # the model the answer names; None echoes the request's (+ "-2024")
    input_tokens: int = 12
    output_tokens: int = 7
    cached_tokens: int = 0
    stream_error: str | None = None  # a stream breaks off with this error after its first text piece

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [words[0], *(" " + w for w in words[1:])] if self.text else []

    def model_for(self, requested: Any) -> str:
        return self.model or f"{requested or 'fake-model'}-2024"


Event = tuple[str | None, dict[str, Any] | str]  # (SSE event name, data)


def _args(call: ToolCall) -> str:
    return json.dumps(call.arguments)


def _split(text: str) -> list[str]:
    middle = max(1, len(text) // 2)
    return [text[:middle], text[middle:]]


# -- OpenAI chat completions ------------------------------------------------------------------------


def chat_completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _args(c)}}
            for c in reply.tool_calls
        ]
    choices = [
        {
            "index": i,
            "message": message,
            "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            "logprobs": None,
        }
        for i in range(int(body.get("n") or 1))
    ]
    return {
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "created": CREATED,
        "model": reply.model_for(body.get("model")),
        "choices": choices,
        "usage": _chat_usage(reply),
        "system_fingerprint": "fp_fake",
        "service_tier": "default",
    }


def _chat_usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
    }


def chat_completion_chunks(body: dict[str, Any], reply: Reply) -> list[Event]:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": "chatcmpl-fake1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": reply.model_for(body.get("model")),
        "system_fingerprint": "fp_fake",
        "service_tier": "default",
    }
    if include_usage:
        base["usage"] = None  # as the API does: every chunk has it, null but in the last

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        return None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in reply.pieces()]
    if reply.stream_error:
        return [*events[:2], (None, {"error": {"message": reply.stream_error, "type": "server_error"}})]
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        events.append(chunk({"tool_calls": [head]}))
        for part in _split(_args(call)):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
    events.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if include_usage:
        events.append((None, {**base, "choices": [], "usage": _chat_usage(reply)}))
    events.append((None, "[DONE]"))
    return events


# -- OpenAI responses -------------------------------------------------------------------------------


def _response(body: dict[str, Any], reply: Reply, *, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "resp_fake1",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": reply.model_for(body.get("model")),
        "output": output,
        "instructions": body.get("instructions"),
        "error": None,
        "incomplete_details": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "tool_choice": "auto",
        "tools": [],
        "service_tier": "default",
        "usage": {
            "input_tokens": reply.input_tokens,
            "input_tokens_details": {"cached_tokens": reply.cached_tokens},
            "output_tokens": reply.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.input_tokens + reply.output_tokens,
        }
        if status != "in_progress"
        else None,
    }


def _message_item(reply: Reply, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status else []
    return {"type": "message", "id": "msg_fake1", "status": status, "role": "assistant", "content": content}


def _function_items(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "type": "function_call",
            "id": f"fc_fake{i}",
            "call_id": c.id,
            "name": c.name,
            "arguments": _args(c),
            "status": "completed",
        }
        for i, c in enumerate(reply.tool_calls)
    ]


def response(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    output = ([_message_item(reply, reply.text)] if reply.text else []) + _function_items(reply)
    return _response(body, reply, status="completed", output=output)


def response_events(body: dict[str, Any], reply: Reply) -> list[Event]:
    seq = iter(range(10_000))
    events: list[Event] = []

    def emit(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": next(seq), **data}))

    emit("response.created", response=_response(body, reply, status="in_progress", output=[]))
    emit("response.in_progress", response=_response(body, reply, status="in_progress", output=[]))
    index = 0
    if reply.text:
        item = _message_item(reply, "", status="in_progress")
        item["content"] = []
        emit("response.output_item.added", output_index=index, item=item)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        emit("response.content_part.added", item_id="msg_fake1", output_index=index, content_index=0, part=part)
        for piece in reply.pieces():
            emit(
                "response.output_text.delta",
                item_id="msg_fake1",
                output_index=index,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        emit(
            "response.output_text.done",
            item_id="msg_fake1",
            output_index=index,
            content_index=0,
            text=reply.text,
            logprobs=[],
        )
        done_part = {**part, "text": reply.text}
        emit("response.content_part.done", item_id="msg_fake1", output_index=index, content_index=0, part=done_part)
        emit("response.output_item.done", output_index=index, item=_message_item(reply, reply.text))
        index += 1
    for item in _function_items(reply):
        emit("response.output_item.added", output_index=index, item={**item, "arguments": "", "status": "in_progress"})
        for part in _split(item["arguments"]):
            emit("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=part)
        emit(
            "response.function_call_arguments.done",
            item_id=item["id"],
            output_index=index,
            arguments=item["arguments"],
            name=item["name"],
        )
        emit("response.output_item.done", output_index=index, item=item)
        index += 1
    emit("response.completed", response=response(body, reply))
    return events


# -- OpenAI embeddings ------------------------------------------------------------------------------


def embeddings(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    dimensions = int(body.get("dimensions") or 4)
    vectors = [[round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(dimensions)] for i in range(count)]
    as_base64 = body.get("encoding_format") == "base64"
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v,
            }
            for i, v in enumerate(vectors)
        ],
        "model": reply.model_for(body.get("model")),
        "usage": {"prompt_tokens": reply.input_tokens, "total_tokens": reply.input_tokens},
    }


# -- Anthropic messages -----------------------------------------------------------------------------


def _anthropic_usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": reply.cached_tokens,
    }


def message(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in reply.tool_calls]
    return {
        "id": "msg_fake1",
        "type": "message",
        "role": "assistant",
        "model": reply.model_for(body.get("model")),
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(reply, reply.output_tokens),
    }


def message_events(body: dict[str, Any], reply: Reply) -> list[Event]:
    events: list[Event] = []

    def emit(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, **data}))

    start = {**message(body, reply), "content": [], "stop_reason": None, "usage": _anthropic_usage(reply, 1)}
    emit("message_start", message=start)
    index = 0
    if reply.text:
        emit("content_block_start", index=index, content_block={"type": "text", "text": ""})
        emit("ping")
        for piece in reply.pieces():
            emit("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
        emit("content_block_stop", index=index)
        index += 1
    if reply.stream_error:
        error = {"type": "error", "error": {"type": "overloaded_error", "message": reply.stream_error}}
        return [*events[:4], ("error", error)]
    for call in reply.tool_calls:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        emit("content_block_start", index=index, content_block=block)
        for part in _split(_args(call)):
            emit("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": part})
        emit("content_block_stop", index=index)
        index += 1
    emit(
        "message_delta",
        delta={"stop_reason": "tool_use" if reply.tool_calls else "end_turn", "stop_sequence": None},
        usage={"output_tokens": reply.output_tokens},
    )
    emit("message_stop")
    return events


# -- errors -----------------------------------------------------------------------------------------


def openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {429: "rate_limit_exceeded", 500: "server_error", 400: "invalid_request_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error", 400: "invalid_request_error"}
    return {"type": "error", "error": {"type": kind.get(status, "api_error"), "message": message}}


def sse(events: list[Event]) -> bytes:
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    return "".join(out).encode()
