"""OpenAI: chat completions, the Responses API and embeddings, as GenAI semconv attributes.

Streams and usage: a chat completion stream reports token usage only when the request asks for
it (`stream_options={"include_usage": True}`), in one extra final chunk with no choices. When
the caller did not say (no `stream_options`, or no `include_usage` in it), casebank asks for it
(`stream_usage=True`, the default of `instrument_openai`) so the span has token counts, and
then hides that extra chunk from the app, and un-marks the `usage: null` that the API adds to
every other chunk (pydantic's fields-set), so the app sees exactly the chunks, and their
`to_json()`, it would have seen without casebank. A caller that asked for usage gets it as
asked, and one that said `include_usage: False` is left alone. The Responses API always
reports usage in its final event, so nothing is added there.

Embedding inputs are not recorded (they are data, not conversation, and can be large).
Images, audio and files inside messages are recorded as typed parts without their bytes.
"""

from __future__ import annotations

from typing import Any

from casebank.capture._attributes import (
    CACHE_READ_TOKENS,
    FINISH_REASONS,
    INPUT_MESSAGES,
    INPUT_TOKENS,
    OUTPUT_MESSAGES,
    OUTPUT_TOKENS,
    OUTPUT_TYPE,
    REQUEST_MAX_TOKENS,
    REQUEST_MODEL,
    REQUEST_STOP,
    RESPONSE_ID,
    RESPONSE_MODEL,
    SYSTEM_INSTRUCTIONS,
    arguments,
)
from casebank.integrations import _values
from casebank.integrations._attributes import INCOMPLETE
from casebank.integrations._provider import Endpoint
from casebank.integrations._values import dumps, get, given

PROVIDER = "openai"
API_TYPE = "openai.api.type"
REQUEST_TIER = "openai.request.service_tier"
RESPONSE_TIER = "openai.response.service_tier"
FINGERPRINT = "openai.response.system_fingerprint"

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
_RESPONSES_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_output_tokens": REQUEST_MAX_TOKENS,
    "service_tier": REQUEST_TIER,
}
_SCALARS = (int, float, str)
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_call", "function_call": "tool_call"}


def _params(kwargs: dict[str, Any], table: dict[str, str], attributes: dict[str, Any]) -> None:
    for key, value in kwargs.items():  # a call passes a few arguments; the table is longer
        name = table.get(key)
        if name is not None and isinstance(value, _SCALARS):
            attributes[name] = value


def _output_type(response_format: Any) -> str | None:
    if isinstance(response_format, type):  # parse(response_format=SomeModel)
        return "json"
    kind = get(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    return kind if isinstance(kind, str) else None


def _text(content: Any) -> Any:
    """A tool result's content as text: strings joined from text parts, anything else as it is."""
    if isinstance(content, list):
        return "".join(t for t in (get(p, "text") for p in content) if isinstance(t, str))
    return content


def _media(kind: str, url: Any) -> dict[str, Any]:
    if isinstance(url, str) and url.startswith("data:"):
        mime = url[5:].split(";", 1)[0].split(",", 1)[0]
        return {"type": "blob", "modality": kind, "mime_type": mime} if mime else {"type": "blob", "modality": kind}
    return {"type": "uri", "modality": kind, "uri": url}


def _part(part: Any) -> dict[str, Any]:
    kind = get(part, "type")
    if kind in ("text", "input_text", "output_text"):
        return {"type": "text", "content": get(part, "text")}
    if kind == "refusal":
        return {"type": "refusal", "content": get(part, "refusal")}
    if kind == "image_url":
        return _media("image", get(get(part, "image_url"), "url"))
    if kind == "input_image":
        url = get(part, "image_url")
        return _media("image", url) if url else {"type": "file", "modality": "image", "file_id": get(part, "file_id")}
    if kind == "input_audio":
        return {"type": "blob", "modality": "audio"}
    if kind in ("file", "input_file"):
        return {"type": "file"}
    return {"type": kind if isinstance(kind, str) else "unknown"}


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if content is None:
        return []
    if isinstance(content, (list, tuple)):
        return [_part(p) for p in content]
    return [{"type": "text", "content": str(content)}]


def _tool_call(call: Any) -> dict[str, Any]:
    function = get(call, "function")
    if function is not None:
        name, raw = get(function, "name"), get(function, "arguments")
    else:  # a custom tool
        custom = get(call, "custom")
        name, raw = get(custom, "name"), get(custom, "input")
    return {"type": "tool_call", "id": get(call, "id"), "name": name, "arguments": arguments(raw)}


# -- chat completions ---------------------------------------------------------------------------------


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
            parts = [{"type": "tool_call_response", "id": get(message, "tool_call_id"), "response": _text(content)}]
        elif role == "function":
            parts = [{"type": "tool_call_response", "name": get(message, "name"), "response": _text(content)}]
        else:
            parts = _parts(content)
            calls = get(message, "tool_calls")
            if calls:
                parts.extend(_tool_call(c) for c in calls)
            legacy = get(message, "function_call")
            if legacy:
                parts.append(_tool_call({"function": legacy}))
        append({"role": role, "parts": parts})
    return out


def _materialised(kwargs: dict[str, Any], key: str) -> Any:
    """kwargs[key], made a list first when it is a one-shot iterable (we read it, the SDK too)."""
    value = kwargs.get(key)
    if type(value) is list:
        return value
    if value is not None and not isinstance(value, (tuple, str, dict)) and not isinstance(value, _values.sentinels):
        value = list(value)
        kwargs[key] = value
    return value


def chat_request(kwargs: dict[str, Any], capture: bool) -> tuple[Any, dict[str, Any]]:
    model = kwargs.get("model")
    attributes: dict[str, Any] = {API_TYPE: "chat_completions"}
    if isinstance(model, str):
        attributes[REQUEST_MODEL] = model
    _params(kwargs, _CHAT_PARAMS, attributes)
    if "stop" in kwargs:
        stop = kwargs["stop"]
        if isinstance(stop, str):
            attributes[REQUEST_STOP] = (stop,)
        elif isinstance(stop, (list, tuple)):
            attributes[REQUEST_STOP] = tuple(s for s in stop if isinstance(s, str))
    if "response_format" in kwargs:
        output_type = _output_type(kwargs["response_format"])
        if output_type is not None:
            attributes[OUTPUT_TYPE] = output_type
    if capture:
        messages = _materialised(kwargs, "messages")
        if messages is not None and not isinstance(messages, _values.sentinels):
            attributes[INPUT_MESSAGES] = dumps(chat_messages(messages))
    return model, attributes


# The names of usage's fields: chat completions', then the Responses API's.
_CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details")
_RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details")


def _usage(attributes: dict[str, Any], usage: Any, names: tuple[str, str, str]) -> None:
    if usage is None:
        return
    tokens = getattr(usage, names[0], None)
    if type(tokens) is int:
        attributes[INPUT_TOKENS] = tokens
    tokens = getattr(usage, names[1], None)
    if type(tokens) is int:
        attributes[OUTPUT_TOKENS] = tokens
    details = getattr(usage, names[2], None)
    if details is not None:
        cached = getattr(details, "cached_tokens", None)
        if type(cached) is int and cached:
            attributes[CACHE_READ_TOKENS] = cached


def _identity(attributes: dict[str, Any], response_id: Any, model: Any, tier: Any) -> None:
    if type(response_id) is str:
        attributes[RESPONSE_ID] = response_id
    if type(model) is str:
        attributes[RESPONSE_MODEL] = model
    if type(tier) is str:
        attributes[RESPONSE_TIER] = tier


def chat_response(result: Any, capture: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    _identity(
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
    _usage(attributes, getattr(result, "usage", None), _CHAT_USAGE)
    if capture:
        attributes[OUTPUT_MESSAGES] = dumps(messages)
    return attributes


def _answer_parts(choice: Any) -> list[dict[str, Any]]:
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    parts = [{"type": "text", "content": content}] if type(content) is str else _parts(content)
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
        _identity(attributes, self.id, self.model, self.tier)
        if isinstance(self.fingerprint, str):
            attributes[FINGERPRINT] = self.fingerprint
        choices = [self.choices[i] for i in sorted(self.choices)]
        reasons = [c.finish for c in choices if c.finish is not None]
        if reasons:
            attributes[FINISH_REASONS] = tuple(str(r) for r in reasons)
        _usage(attributes, self.usage, _CHAT_USAGE)
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


# -- the Responses API --------------------------------------------------------------------------------


def responses_input(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    out = []
    for item in value:
        kind = get(item, "type")
        role = get(item, "role")
        if role is not None and kind in (None, "message"):
            out.append({"role": role, "parts": _parts(get(item, "content"))})
        elif kind in ("function_call", "custom_tool_call"):
            out.append({"role": "assistant", "parts": [_response_call(item)]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            part = {"type": "tool_call_response", "id": get(item, "call_id"), "response": _text(get(item, "output"))}
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
    _params(kwargs, _RESPONSES_PARAMS, attributes)
    text = kwargs.get("text")
    output_type = _output_type(get(text, "format")) if given(text) else None
    if isinstance(kwargs.get("text_format"), type):
        output_type = "json"
    if output_type is not None:
        attributes[OUTPUT_TYPE] = output_type
    if capture:
        value = _materialised(kwargs, "input")
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
    _identity(attributes, get(result, "id"), get(result, "model"), get(result, "service_tier"))
    _usage(attributes, get(result, "usage"), _RESPONSES_USAGE)
    parts: list[dict[str, Any]] = []
    has_calls = False
    for item in get(result, "output") or ():
        kind = get(item, "type")
        if kind == "message":
            if capture:
                parts.extend(_parts(get(item, "content")))
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
        _identity(attributes, self.id, self.model, None)
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


# -- embeddings ---------------------------------------------------------------------------------------


def embeddings_request(kwargs: dict[str, Any], capture: bool) -> tuple[Any, dict[str, Any]]:
    model = kwargs.get("model")
    attributes: dict[str, Any] = {}
    if isinstance(model, str):
        attributes[REQUEST_MODEL] = model
    encoding = kwargs.get("encoding_format")
    if isinstance(encoding, str):
        attributes["gen_ai.request.encoding_formats"] = (encoding,)
    dimensions = kwargs.get("dimensions")
    if given(dimensions) and isinstance(dimensions, int):
        attributes["gen_ai.embeddings.dimension.count"] = dimensions
    return model, attributes


def embeddings_response(result: Any, capture: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    _identity(attributes, None, get(result, "model"), None)
    usage = get(result, "usage")
    tokens = get(usage, "prompt_tokens") if usage is not None else None
    if isinstance(tokens, int):
        attributes[INPUT_TOKENS] = tokens
    data = get(result, "data")
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            attributes["gen_ai.embeddings.dimension.count"] = len(vector)
    return attributes


EMBEDDINGS = Endpoint(
    provider=PROVIDER, operation="embeddings", request=embeddings_request, response=embeddings_response
)
