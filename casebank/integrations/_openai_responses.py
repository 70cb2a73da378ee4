"""The OpenAI Responses API (`create`, `parse`, the `stream` helper) as GenAI semconv attributes.

The Responses API always reports usage in its final event, so a stream needs nothing added; a
stream that ends before that event leaves the text so far and the finish reason `incomplete`.
"""

from __future__ import annotations

from typing import Any

from casebank.capture._attributes import (
    FINISH_REASONS,
    INPUT_MESSAGES,
    OUTPUT_MESSAGES,
    OUTPUT_TYPE,
    REQUEST_MAX_TOKENS,
    REQUEST_MODEL,
    SYSTEM_INSTRUCTIONS,
    arguments,
)
from casebank.integrations._attributes import INCOMPLETE
from casebank.integrations._openai_shared import (
    API_TYPE,
    PROVIDER,
    REQUEST_TIER,
    content_parts,
    identity,
    materialised,
    output_type,
    params,
    token_usage,
)
from casebank.integrations._provider import Endpoint
from casebank.integrations._values import dumps, get, given, join_text_parts

# The names of usage's fields in a Responses API answer.
RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details")
# request argument -> attribute, for scalar values
_RESPONSES_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_output_tokens": REQUEST_MAX_TOKENS,
    "service_tier": REQUEST_TIER,
}


def responses_input(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    out = []
    for item in value:
        kind = get(item, "type")
        role = get(item, "role")
        if role is not None and kind in (None, "message"):
            out.append({"role": role, "parts": content_parts(get(item, "content"))})
        elif kind in ("function_call", "custom_tool_call"):
            out.append({"role": "assistant", "parts": [_response_call(item)]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            part = {
                "type": "tool_call_response",
                "id": get(item, "call_id"),
                "response": join_text_parts(get(item, "output")),
            }
            out.append({"role": "tool", "parts": [part]})
        else:
            out.append({"role": "assistant", "parts": [{"type": kind if isinstance(kind, str) else "unknown"}]})
    return out


def _response_call(item: Any) -> dict[str, Any]:
    raw = get(item, "arguments")
    if raw is None:
        raw = get(item, "input")  # custom tool call
    return {
        "type": "tool_call",
        "id": get(item, "call_id"),
        "name": get(item, "name"),
        "arguments": arguments(raw),
    }


def responses_request(kwargs: dict[str, Any], capture: bool) -> tuple[Any, dict[str, Any]]:
    model = kwargs.get("model")
    attributes: dict[str, Any] = {API_TYPE: "responses"}
    if isinstance(model, str):
        attributes[REQUEST_MODEL] = model
    params(kwargs, _RESPONSES_PARAMS, attributes)
    text = kwargs.get("text")
    kind = output_type(get(text, "format")) if given(text) else None
    if isinstance(kwargs.get("text_format"), type):
        kind = "json"
    if kind is not None:
        attributes[OUTPUT_TYPE] = kind
    if capture:
        value = materialised(kwargs, "input")
        if value is not None and given(value):
            attributes[INPUT_MESSAGES] = dumps(responses_input(value))
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str):
            attributes[SYSTEM_INSTRUCTIONS] = dumps([{"type": "text", "content": instructions}])
    return model, attributes


def _finish_reason(response: Any, has_calls: bool) -> str:
    status = get(response, "status")
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason")
        return {"max_output_tokens": "length"}.get(reason, reason) if isinstance(reason, str) else "length"
    if status == "failed":
        return "error"
    return "tool_call" if has_calls else "stop"


def responses_response(result: Any, capture: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    identity(attributes, get(result, "id"), get(result, "model"), get(result, "service_tier"))
    token_usage(attributes, get(result, "usage"), RESPONSES_USAGE)
    parts: list[dict[str, Any]] = []
    has_calls = False
    for item in get(result, "output") or ():
        kind = get(item, "type")
        if kind == "message":
            if capture:
                parts.extend(content_parts(get(item, "content")))
        elif kind in ("function_call", "custom_tool_call"):
            has_calls = True
            if capture:
                parts.append(_response_call(item))
        elif kind == "reasoning":
            if capture:
                summary = "".join(s for s in (get(x, "text") for x in get(item, "summary") or ()) if isinstance(s, str))
                parts.append({"type": "reasoning", "content": summary} if summary else {"type": "reasoning"})
        elif capture:
            parts.append({"type": kind if isinstance(kind, str) else "unknown"})
    reason = _finish_reason(result, has_calls)
    attributes[FINISH_REASONS] = (reason,)
    if capture:
        attributes[OUTPUT_MESSAGES] = dumps([{"role": "assistant", "parts": parts, "finish_reason": reason}])
    return attributes


class ResponsesStream:
    """Keeps the final response of a Responses stream, or the text so far if it never came."""

    __slots__ = ("final", "id", "model", "text")

    def __init__(self) -> None:
        self.final: Any = None
        self.id: Any = None
        self.model: Any = None
        self.text: list[str] = []

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_text.delta":
            self.text.append(event.delta)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = event.response
        elif kind == "response.created":
            self.id, self.model = get(event.response, "id"), get(event.response, "model")

    def attributes(self, capture: bool) -> dict[str, Any]:
        if self.final is not None:
            return responses_response(self.final, capture)
        attributes: dict[str, Any] = {}
        identity(attributes, self.id, self.model, None)
        if capture:
            parts = [{"type": "text", "content": "".join(self.text)}] if self.text else []
            attributes[OUTPUT_MESSAGES] = dumps([{"role": "assistant", "parts": parts, "finish_reason": INCOMPLETE}])
        return attributes


RESPONSES = Endpoint(
    provider=PROVIDER,
    operation="chat",
    request=responses_request,
    response=responses_response,
    accumulator=ResponsesStream,
)
