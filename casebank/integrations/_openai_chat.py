"""OpenAI chat completions (`create`, `parse`, the `stream` helper) as GenAI semconv attributes.

Streams and usage: a chat completion stream reports token usage only when the request asks for
it (`stream_options={"include_usage": True}`), in one extra final chunk with no choices. When
the caller did not say (no `stream_options`, or no `include_usage` in it), casebank asks for it
(`stream_usage=True`, the default of `instrument_openai`) so the span has token counts, and
then hides that extra chunk from the app, and un-marks the `usage: null` that the API adds to
every other chunk (pydantic's fields-set), so the app sees exactly the chunks, and their
`to_json()`, it would have seen without casebank. A caller that asked for usage gets it as
asked, and one that said `include_usage: False` is left alone.
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
    REQUEST_STOP,
    arguments,
)
from casebank.integrations import _values
from casebank.integrations._attributes import INCOMPLETE
from casebank.integrations._openai_shared import (
    API_TYPE,
    FINGERPRINT,
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
from casebank.integrations._values import dumps, get, join_text_parts

stream_usage = True  # ask for usage in chat completion streams (see the module docstring)

# request argument -> attribute, for scalar values (the SDKs' "not given" markers are not scalars)
_CHAT_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "max_tokens": REQUEST_MAX_TOKENS,
    "max_completion_tokens": REQUEST_MAX_TOKENS,
    "seed": "gen_ai.request.seed",
    "n": "gen_ai.request.choice.count",
    "reasoning_effort": "openai.request.reasoning_effort",
    "service_tier": REQUEST_TIER,
}
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_call", "function_call": "tool_call"}


def _tool_call(call: Any) -> dict[str, Any]:
    function = get(call, "function")
    if function is not None:
        name, raw = get(function, "name"), get(function, "arguments")
    else:  # a custom tool
        custom = get(call, "custom")
        name, raw = get(custom, "name"), get(custom, "input")
    return {"type": "tool_call", "id": get(call, "id"), "name": name, "arguments": arguments(raw)}


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    append = out.append
    for message in messages:
        if type(message) is dict and len(message) == 2 and type(content := message.get("content")) is str:
            # the common case, {"role": ..., "content": "..."}: no tool calls, no name
            append({"role": message["role"], "parts": [{"type": "text", "content": content}]})
            continue
        role = get(message, "role")
        content = get(message, "content")
        if role == "tool":
            parts = [
                {"type": "tool_call_response", "id": get(message, "tool_call_id"), "response": join_text_parts(content)}
            ]
        elif role == "function":
            parts = [{"type": "tool_call_response", "name": get(message, "name"), "response": join_text_parts(content)}]
        else:
            parts = content_parts(content)
            calls = get(message, "tool_calls")
            if calls:
                parts.extend(_tool_call(c) for c in calls)
            legacy = get(message, "function_call")
            if legacy:
                parts.append(_tool_call({"function": legacy}))
        append({"role": role, "parts": parts})
    return out


def chat_request(kwargs: dict[str, Any], capture: bool) -> tuple[Any, dict[str, Any]]:
    model = kwargs.get("model")
    attributes: dict[str, Any] = {API_TYPE: "chat_completions"}
    if isinstance(model, str):
        attributes[REQUEST_MODEL] = model
    params(kwargs, _CHAT_PARAMS, attributes)
    if "stop" in kwargs:
        stop = kwargs["stop"]
        if isinstance(stop, str):
            attributes[REQUEST_STOP] = (stop,)
        elif isinstance(stop, (list, tuple)):
            attributes[REQUEST_STOP] = tuple(s for s in stop if isinstance(s, str))
    if "response_format" in kwargs:
        kind = output_type(kwargs["response_format"])
        if kind is not None:
            attributes[OUTPUT_TYPE] = kind
    if capture:
        messages = materialised(kwargs, "messages")
        if messages is not None and not isinstance(messages, _values.sentinels):
            attributes[INPUT_MESSAGES] = dumps(chat_messages(messages))
    return model, attributes


# The names of usage's fields in a chat completion.
CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details")


def chat_response(result: Any, capture: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    identity(
        attributes, getattr(result, "id", None), getattr(result, "model", None), getattr(result, "service_tier", None)
    )
    fingerprint = getattr(result, "system_fingerprint", None)
    if type(fingerprint) is str:
        attributes[FINGERPRINT] = fingerprint
    reasons = []
    messages = []
    for choice in getattr(result, "choices", None) or ():
        reason: Any = getattr(choice, "finish_reason", None)
        if reason is not None:
            reasons.append(str(reason))
        if capture:
            messages.append(
                {"role": "assistant", "parts": _answer_parts(choice), "finish_reason": _FINISH.get(reason, reason)}
            )
    if reasons:
        attributes[FINISH_REASONS] = tuple(reasons)
    token_usage(attributes, getattr(result, "usage", None), CHAT_USAGE)
    if capture:
        attributes[OUTPUT_MESSAGES] = dumps(messages)
    return attributes


def _answer_parts(choice: Any) -> list[dict[str, Any]]:
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    parts = [{"type": "text", "content": content}] if type(content) is str else content_parts(content)
    refusal = getattr(message, "refusal", None)
    if refusal:
        parts.append({"type": "refusal", "content": refusal})
    calls = getattr(message, "tool_calls", None)
    if calls:
        parts.extend(_tool_call(c) for c in calls)
    return parts


def chat_prepare(kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Ask for usage in the stream's final chunk unless the caller said (see the module docstring)."""
    if not stream_usage:
        return kwargs, False
    options = kwargs.get("stream_options")
    if options is None or isinstance(options, _values.sentinels):
        return {**kwargs, "stream_options": {"include_usage": True}}, True
    if isinstance(options, dict) and "include_usage" not in options:
        return {**kwargs, "stream_options": {**options, "include_usage": True}}, True
    return kwargs, False


def hide_added_usage(chunk: Any) -> bool:
    """For a stream where casebank asked for usage: True for the usage-only chunk the app did not
    ask for; on the others, un-mark the `usage: null` the API adds only because we asked."""
    if chunk.usage is None:
        fields = getattr(chunk, "__pydantic_fields_set__", None)
        if fields is not None:
            fields.discard("usage")
        return False
    return not chunk.choices


class _Choice:
    __slots__ = ("calls", "finish", "refusal", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, list[Any]] = {}  # index -> [id, name, [argument pieces]]
        self.finish: Any = None


class ChatStream:
    """Accumulates chat completion chunks: text, tool calls, finish reasons, usage."""

    __slots__ = ("choices", "fingerprint", "id", "model", "tier", "usage")

    def __init__(self) -> None:
        self.id: Any = None
        self.model: Any = None
        self.tier: Any = None
        self.fingerprint: Any = None
        self.usage: Any = None
        self.choices: dict[int, _Choice] = {}

    def add(self, chunk: Any) -> None:
        if self.id is None:
            self.id, self.model = chunk.id, chunk.model
            self.tier = getattr(chunk, "service_tier", None)
            self.fingerprint = getattr(chunk, "system_fingerprint", None)
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            state = self.choices.get(choice.index)
            if state is None:
                state = self.choices[choice.index] = _Choice()
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    state.text.append(delta.content)
                if getattr(delta, "refusal", None):
                    state.refusal.append(delta.refusal)
                if delta.tool_calls:
                    self._calls(state, delta.tool_calls)
            if choice.finish_reason is not None:
                state.finish = choice.finish_reason

    @staticmethod
    def _calls(state: _Choice, calls: Any) -> None:
        for call in calls:
            entry = state.calls.get(call.index)
            if entry is None:
                entry = state.calls[call.index] = [None, None, []]
            if call.id:
                entry[0] = call.id
            function = call.function
            if function is not None:
                if function.name:
                    entry[1] = function.name
                if function.arguments:
                    entry[2].append(function.arguments)

    def attributes(self, capture: bool) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        identity(attributes, self.id, self.model, self.tier)
        if isinstance(self.fingerprint, str):
            attributes[FINGERPRINT] = self.fingerprint
        choices = [self.choices[i] for i in sorted(self.choices)]
        reasons = [c.finish for c in choices if c.finish is not None]
        if reasons:
            attributes[FINISH_REASONS] = tuple(str(r) for r in reasons)
        token_usage(attributes, self.usage, CHAT_USAGE)
        if capture:
            messages = []
            for choice in choices:
                parts: list[dict[str, Any]] = []
                if choice.text:
                    parts.append({"type": "text", "content": "".join(choice.text)})
                if choice.refusal:
                    parts.append({"type": "refusal", "content": "".join(choice.refusal)})
                for index in sorted(choice.calls):
                    call_id, name, pieces = choice.calls[index]
                    parsed = arguments("".join(pieces))
                    parts.append({"type": "tool_call", "id": call_id, "name": name, "arguments": parsed})
                reason = _FINISH.get(choice.finish, choice.finish) if choice.finish else INCOMPLETE
                messages.append({"role": "assistant", "parts": parts, "finish_reason": reason})
            attributes[OUTPUT_MESSAGES] = dumps(messages)
        return attributes


CHAT = Endpoint(
    provider=PROVIDER,
    operation="chat",
    request=chat_request,
    response=chat_response,
    accumulator=ChatStream,
    prepare=chat_prepare,
    hide=hide_added_usage,
)
