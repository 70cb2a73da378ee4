"""Reading the LLM spans other instrumentations write (what `casebank.attach(provider)` keeps).

A team that already runs OpenLLMetry, OpenInference or the OTel contrib GenAI instrumentation
keeps it: casebank adds its processor to their provider and stores the LLM spans those produce
next to its own. Each tool names the same facts differently, so at write time (on the writer
thread, never the app's) a foreign span also gets casebank's view of it in OTel GenAI
semantic-convention names (v1.37): `gen_ai.operation.name`, `gen_ai.provider.name`,
`gen_ai.request.model`, `gen_ai.usage.input_tokens` / `output_tokens`, and the messages as
`gen_ai.input.messages` / `gen_ai.output.messages` (JSON, role + parts). The view only adds:
an attribute the span already has is never overwritten, and the originals are kept, so
nothing the other tool recorded is lost. With `init(capture_content=False)` the content of
foreign spans is dropped too - casebank does not store what it was told not to, whoever
recorded it.

Sources, by the names they use:
- OpenInference: `openinference.span.kind`, `llm.model_name`, `llm.provider` / `llm.system`,
  `llm.token_count.*`, `llm.invocation_parameters`, and messages flattened as
  `llm.input_messages.N.message.role|content|contents.M.message_content.text|tool_calls.K.tool_call.*`;
  `input.value` / `output.value` when they are plain text.
- OpenLLMetry (Traceloop): `llm.request.type`, `gen_ai.system`, `gen_ai.usage.prompt_tokens` /
  `completion_tokens`, messages as `gen_ai.prompt.N.role|content|tool_call_id|tool_calls.K.*`
  and `gen_ai.completion.N.role|content|finish_reason|tool_calls.K.*`; `traceloop.span.kind`.
  Those are older releases: current ones (`opentelemetry-instrumentation-openai` 0.62) write
  semconv names and messages themselves, so their spans are not foreign and are stored as they came.
- OTel contrib (`opentelemetry-instrumentation-openai-v2` and friends): already `gen_ai.*`;
  older releases say `gen_ai.system` and `gen_ai.usage.prompt_tokens`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from casebank.capture._attributes import (
    COMPLETION_TOKENS,
    FINISH_REASONS,
    INPUT_MESSAGES,
    INPUT_TOKENS,
    LLMETRY_OPERATIONS,
    LLMETRY_REQUEST_TYPE,
    MESSAGE_PREFIXES,
    OPENINFERENCE_KIND,
    OPENINFERENCE_OPERATIONS,
    OPENINFERENCE_PROVIDER,
    OPENINFERENCE_SYSTEM,
    OPERATION,
    OUTPUT_MESSAGES,
    OUTPUT_TOKENS,
    PROMPT_TOKENS,
    PROVIDER,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SYSTEM,
    SYSTEM_INSTRUCTIONS,
    arguments,
)

__all__ = ["with_casebank_view"]

# Keys whose presence means another instrumentation wrote the span in its own names.
_FOREIGN_PREFIXES = ("llm.", "traceloop.", "gen_ai.prompt.", "gen_ai.completion.", "openinference.", "input.value")
_FOREIGN_KEYS = (SYSTEM, PROMPT_TOKENS, COMPLETION_TOKENS)

# Attributes that hold message content, in every source's names: dropped with capture_content=False.
_CONTENT_PREFIXES = (*MESSAGE_PREFIXES, "llm.prompts.", "llm.choices.", "llm.prompt_template.")
_CONTENT_KEYS = frozenset(
    {
        "input.value",
        "output.value",
        "traceloop.entity.input",
        "traceloop.entity.output",
        INPUT_MESSAGES,
        OUTPUT_MESSAGES,
        SYSTEM_INSTRUCTIONS,
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
)

_TRACELOOP_SPAN_KINDS = {"tool": "execute_tool", "agent": "invoke_agent"}
_INVOCATION_PARAMETERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}
_INDEXED = re.compile(r"(\d+)\.(.+)")
# An output message's finish_reason in semconv terms; gen_ai.response.finish_reasons keeps the raw ones.
_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}


# -- reading other tools' spans -----------------------------------------------------------------


def is_foreign(attributes: dict[str, Any]) -> bool:
    """Whether the span carries another instrumentation's names (and so needs casebank's view)."""
    return any(key.startswith(_FOREIGN_PREFIXES) or key in _FOREIGN_KEYS for key in attributes)


def with_casebank_view(attributes: dict[str, Any], *, capture_content: bool = True) -> dict[str, Any]:
    """`attributes` plus casebank's `gen_ai.*` view of them; never overwrites, never raises.

    Without `capture_content`, every content attribute (in any tool's names) is dropped."""
    if not attributes:
        return attributes
    try:
        if is_foreign(attributes):
            attributes = {**_view(attributes, capture_content), **attributes}
    except Exception:  # a malformed foreign span is stored as it came, never lost
        pass
    if not capture_content:
        attributes = {k: v for k, v in attributes.items() if not _is_content(k)}
    return attributes


def _is_content(key: str) -> bool:
    return key in _CONTENT_KEYS or key.startswith(_CONTENT_PREFIXES)


def _view(attrs: dict[str, Any], capture_content: bool) -> dict[str, Any]:
    view: dict[str, Any] = {}
    parameters = _invocation_parameters(attrs)
    # OpenInference's llm.model_name is the model that answered; the request names its own.
    model = attrs.get("llm.request.model_name") or parameters.get("model") or attrs.get("llm.model_name")
    if isinstance(model, str) and model:
        view[REQUEST_MODEL] = model
    response_model = attrs.get("llm.response.model_name") or attrs.get("llm.model_name")
    if isinstance(response_model, str) and response_model:
        view[RESPONSE_MODEL] = response_model
    provider = attrs.get(SYSTEM) or attrs.get(OPENINFERENCE_PROVIDER) or attrs.get(OPENINFERENCE_SYSTEM)
    if provider:
        view[PROVIDER] = str(provider).lower()
    _usage(attrs, view)
    for name, target in _INVOCATION_PARAMETERS.items():
        value = parameters.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            view.setdefault(target, value)
    if capture_content:
        _messages(attrs, view)
    finish = attrs.get("llm.finish_reason")
    if finish and FINISH_REASONS not in view:
        view[FINISH_REASONS] = (str(finish),)
    operation = _operation(attrs, view)
    if operation:
        view[OPERATION] = operation
    return view


def _operation(attrs: dict[str, Any], view: dict[str, Any]) -> str | None:
    kind = attrs.get(OPENINFERENCE_KIND)
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_OPERATIONS:
        return OPENINFERENCE_OPERATIONS[kind.upper()]
    request_type = attrs.get(LLMETRY_REQUEST_TYPE)
    if isinstance(request_type, str) and request_type in LLMETRY_OPERATIONS:
        return LLMETRY_OPERATIONS[request_type]
    traceloop_kind = attrs.get("traceloop.span.kind")
    if isinstance(traceloop_kind, str) and traceloop_kind in _TRACELOOP_SPAN_KINDS:
        return _TRACELOOP_SPAN_KINDS[traceloop_kind]
    if INPUT_MESSAGES in view or OUTPUT_MESSAGES in view or INPUT_MESSAGES in attrs:
        return "chat"
    return None


def _usage(attrs: dict[str, Any], view: dict[str, Any]) -> None:
    for target, sources in (
        (INPUT_TOKENS, (PROMPT_TOKENS, "llm.token_count.prompt", "llm.usage.prompt_tokens")),
        (
            OUTPUT_TOKENS,
            (COMPLETION_TOKENS, "llm.token_count.completion", "llm.usage.completion_tokens"),
        ),
    ):
        for source in sources:
            value = attrs.get(source)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                view[target] = int(value)
                break


def _invocation_parameters(attrs: dict[str, Any]) -> dict[str, Any]:
    raw = attrs.get("llm.invocation_parameters")
    if not isinstance(raw, str):
        return {}
    try:
        parameters = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return parameters if isinstance(parameters, dict) else {}


# -- messages -----------------------------------------------------------------------------------


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """`prefix.0.a.b = 1, prefix.1.a = 2` -> `[{"a.b": 1}, {"a": 2}]`, in index order."""
    found: dict[int, dict[str, Any]] = {}
    n = len(prefix)
    for key, value in attrs.items():
        if key.startswith(prefix):
            match = _INDEXED.fullmatch(key[n:])
            if match:
                found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [found[i] for i in sorted(found)]


def _tool_calls(fields: dict[str, Any], prefix: str, id_key: str, name_key: str, args_key: str) -> list[dict[str, Any]]:
    calls = []
    for call in _indexed(fields, prefix):
        calls.append(
            {
                "type": "tool_call",
                "id": call.get(id_key),
                "name": call.get(name_key),
                "arguments": arguments(call.get(args_key)),
            }
        )
    return calls


def _text_parts(content: Any) -> list[dict[str, Any]]:
    """Content as semconv parts. OpenLLMetry writes multimodal content as a JSON list."""
    if content is None or content == "":
        return []
    if isinstance(content, str) and content.startswith("[{"):
        try:
            items = orjson.loads(content)
        except orjson.JSONDecodeError:
            items = None
        if isinstance(items, list):
            parts = []
            for item in items:
                if isinstance(item, dict) and item.get("type") == "text":
                    parts.append({"type": "text", "content": item.get("text", "")})
                elif isinstance(item, dict):
                    parts.append({"type": str(item.get("type") or "unknown")})
            return parts
    return [{"type": "text", "content": content if isinstance(content, str) else str(content)}]


def _message(role: Any, parts: list[dict[str, Any]], tool_call_id: Any = None) -> dict[str, Any]:
    role = str(role or "user")
    if role == "tool" and tool_call_id is not None:
        text = " ".join(str(p.get("content", "")) for p in parts if p.get("type") == "text")
        parts = [{"type": "tool_call_response", "id": tool_call_id, "response": text}]
    return {"role": role, "parts": parts}


def _openinference_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    messages = []
    for fields in _indexed(attrs, prefix):
        parts = _text_parts(fields.get("message.content"))
        for item in _indexed(fields, "message.contents."):
            kind = item.get("message_content.type")
            if kind == "text":
                parts.append({"type": "text", "content": item.get("message_content.text", "")})
            elif kind:
                parts.append({"type": str(kind)})
        parts += _tool_calls(
            fields,
            "message.tool_calls.",
            "tool_call.id",
            "tool_call.function.name",
            "tool_call.function.arguments",
        )
        if fields.get("message.function_call_name"):
            parts.append(
                {
                    "type": "tool_call",
                    "id": None,
                    "name": fields["message.function_call_name"],
                    "arguments": arguments(fields.get("message.function_call_arguments_json")),
                }
            )
        messages.append(_message(fields.get("message.role"), parts, fields.get("message.tool_call_id")))
    return messages


def _openllmetry_messages(attrs: dict[str, Any], prefix: str) -> tuple[list[dict[str, Any]], list[str]]:
    messages, finish_reasons = [], []
    for fields in _indexed(attrs, prefix):
        parts = _text_parts(fields.get("content"))
        parts += _tool_calls(fields, "tool_calls.", "id", "name", "arguments")
        if fields.get("function_call.name"):
            parts.append(
                {
                    "type": "tool_call",
                    "id": None,
                    "name": fields["function_call.name"],
                    "arguments": arguments(fields.get("function_call.arguments")),
                }
            )
        message = _message(
            fields.get("role") or ("assistant" if "completion" in prefix else "user"), parts, fields.get("tool_call_id")
        )
        reason = fields.get("finish_reason")
        if reason:
            message["finish_reason"] = _FINISH.get(str(reason), str(reason))
            finish_reasons.append(str(reason))
        messages.append(message)
    return messages, finish_reasons


def _plain_text(attrs: dict[str, Any], which: str) -> str | None:
    value = attrs.get(f"{which}.value")
    mime = attrs.get(f"{which}.mime_type", "text/plain")
    return value if isinstance(value, str) and value and mime == "text/plain" else None


def _messages(attrs: dict[str, Any], view: dict[str, Any]) -> None:
    inputs = _openinference_messages(attrs, "llm.input_messages.")
    outputs = _openinference_messages(attrs, "llm.output_messages.")
    finish_reasons: list[str] = []
    if not inputs:
        inputs, _ = _openllmetry_messages(attrs, "gen_ai.prompt.")
    if not outputs:
        outputs, finish_reasons = _openllmetry_messages(attrs, "gen_ai.completion.")
    is_llm = str(attrs.get(OPENINFERENCE_KIND, "")).upper() == "LLM"
    if not inputs and is_llm and (text := _plain_text(attrs, "input")) is not None:
        inputs = [_message("user", [{"type": "text", "content": text}])]
    if not outputs and is_llm and (text := _plain_text(attrs, "output")) is not None:
        outputs = [_message("assistant", [{"type": "text", "content": text}])]
    if inputs:
        view[INPUT_MESSAGES] = orjson.dumps(inputs).decode()
    if outputs:
        view[OUTPUT_MESSAGES] = orjson.dumps(outputs).decode()
    if finish_reasons:
        view[FINISH_REASONS] = tuple(finish_reasons)
