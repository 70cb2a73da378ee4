"""What the trace and incident pages show, read from stored spans: the span tree with timings,
the LLM calls as a conversation, the tool calls with their arguments and results, token usage.

It reads the names `cases show` reads (OTel GenAI `gen_ai.*`, semconv v1.37, and casebank's own
`casebank.*`; see `cli/_tree.py`): the writer gives other instrumentations' spans the same names.
Values become plain text here - indented JSON for anything structured - and the templates escape
them; nothing in this module builds markup.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from casebank.capture import _attributes as names

__all__ = ["ConversationCall", "Message", "SpanRow", "ToolStep", "TraceView", "readable", "trace_view"]

# A tool call's arguments and result as OTel GenAI names them (other instrumentations' tool spans);
# casebank's own tool spans carry them as `casebank.step.arguments` / `.result`.
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
MAX_DEPTH_SHOWN = 12  # deeper spans are indented as this deep (CSS classes depth-0 .. depth-12)
CORRELATION_PREFIX = "casebank.attributes."


def readable(value: Any) -> str:
    """A value as a person reads it: text as it is, anything else as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode()


def _decoded(value: Any) -> Any:
    """A JSON attribute (text, as capture writes it) as its value; other text as it is."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


@dataclass(kw_only=True)
class SpanRow:
    name: str
    depth: int
    indent: int  # depth, capped for the CSS classes
    offset_ms: float
    duration_ms: float | None
    kind: str  # "entry", "llm", "tool" or "span"
    detail: str  # entry point, model or tool function
    tokens: str
    error: str | None


@dataclass(kw_only=True)
class Message:
    role: str
    output: bool
    texts: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    tool_results: list[dict[str, str]] = field(default_factory=list)
    finish_reason: str | None = None


@dataclass(kw_only=True)
class ConversationCall:
    name: str
    model: str
    tokens_in: Any
    tokens_out: Any
    messages: list[Message]


@dataclass(kw_only=True)
class ToolStep:
    name: str
    function: str
    arguments: str
    result: str
    error: str | None
    duration_ms: float | None


@dataclass(kw_only=True)
class TraceView:
    spans: list[SpanRow]
    calls: list[ConversationCall]
    tools: list[ToolStep]
    tokens_in: int
    tokens_out: int
    correlation: dict[str, Any]


def trace_view(spans: Sequence[dict[str, Any]]) -> TraceView:
    rows = list(_tree_rows(spans))
    calls = [call for span in spans if (call := _call(span)) is not None]
    tools = [tool for span in spans if (tool := _tool(span)) is not None]
    tokens_in = sum(_int(s.get("attributes", {}).get(names.INPUT_TOKENS)) for s in spans)
    tokens_out = sum(_int(s.get("attributes", {}).get(names.OUTPUT_TOKENS)) for s in spans)
    correlation: dict[str, Any] = {}
    for span in spans:
        for key, value in (span.get("attributes") or {}).items():
            if key.startswith(CORRELATION_PREFIX):
                correlation[key[len(CORRELATION_PREFIX) :]] = value
    return TraceView(
        spans=rows, calls=calls, tools=tools, tokens_in=tokens_in, tokens_out=tokens_out, correlation=correlation
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- the span tree ---------------------------------------------------------------------------------


def _tree_rows(spans: Sequence[dict[str, Any]]) -> Iterator[SpanRow]:
    """Depth first, children in start order; a span whose parent is not stored starts a tree."""
    ids = {span["span_id"] for span in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span.get("parent_span_id")
        children.setdefault(parent if parent in ids else None, []).append(span)
    starts = [s["start_ns"] for s in spans if isinstance(s.get("start_ns"), int)]
    origin = min(starts) if starts else 0
    seen: set[str] = set()
    stack = [(root, 0) for root in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        if span["span_id"] in seen:  # a corrupt snapshot must not loop
            continue
        seen.add(span["span_id"])
        yield _row(span, depth, origin)
        stack += [(child, depth + 1) for child in reversed(children.get(span["span_id"], []))]


def _row(span: dict[str, Any], depth: int, origin: int) -> SpanRow:
    attrs = span.get("attributes") or {}
    kind, detail = _kind(attrs)
    start = span.get("start_ns")
    error = None
    if span.get("status") == "error":
        error = str(span.get("status_message") or attrs.get(names.ERROR) or "error")
    return SpanRow(
        name=str(span.get("name") or "(unnamed span)"),
        depth=depth,
        indent=min(depth, MAX_DEPTH_SHOWN),
        offset_ms=(start - origin) / 1e6 if isinstance(start, int) else 0.0,
        duration_ms=span.get("duration_ms"),
        kind=kind,
        detail=detail,
        tokens=_tokens(attrs),
        error=error,
    )


def _kind(attrs: dict[str, Any]) -> tuple[str, str]:
    if attrs.get(names.ENTRYPOINT):
        return "entry", str(attrs[names.ENTRYPOINT])
    if _is_tool(attrs):
        return "tool", str(attrs.get(names.STEP_FUNCTION) or attrs.get(names.TOOL_NAME) or "")
    if _has_messages(attrs) or attrs.get(names.REQUEST_MODEL) or attrs.get(names.OPERATION) == "chat":
        return "llm", str(attrs.get(names.RESPONSE_MODEL) or attrs.get(names.REQUEST_MODEL) or "")
    return "span", ""


def _tokens(attrs: dict[str, Any]) -> str:
    tokens_in, tokens_out = attrs.get(names.INPUT_TOKENS), attrs.get(names.OUTPUT_TOKENS)
    if tokens_in is None and tokens_out is None:
        return ""
    return f"{'?' if tokens_in is None else tokens_in} in / {'?' if tokens_out is None else tokens_out} out"


def _is_tool(attrs: dict[str, Any]) -> bool:
    return attrs.get(names.STEP_KIND) == "tool" or attrs.get(names.OPERATION) == names.EXECUTE_TOOL


def _has_messages(attrs: dict[str, Any]) -> bool:
    return any(k in attrs for k in (names.INPUT_MESSAGES, names.OUTPUT_MESSAGES, names.SYSTEM_INSTRUCTIONS))


# -- the conversation ------------------------------------------------------------------------------


def _call(span: dict[str, Any]) -> ConversationCall | None:
    attrs = span.get("attributes") or {}
    if not _has_messages(attrs):
        return None
    messages: list[Message] = []
    instructions = _json_list(attrs.get(names.SYSTEM_INSTRUCTIONS))
    if instructions:
        messages.append(_message({"role": "system", "parts": instructions}, output=False))
    messages += [_message(m, output=False) for m in _json_list(attrs.get(names.INPUT_MESSAGES)) if isinstance(m, dict)]
    messages += [_message(m, output=True) for m in _json_list(attrs.get(names.OUTPUT_MESSAGES)) if isinstance(m, dict)]
    return ConversationCall(
        name=str(span.get("name") or "LLM call"),
        model=str(attrs.get(names.RESPONSE_MODEL) or attrs.get(names.REQUEST_MODEL) or ""),
        tokens_in=attrs.get(names.INPUT_TOKENS),
        tokens_out=attrs.get(names.OUTPUT_TOKENS),
        messages=messages,
    )


def _json_list(value: Any) -> list[Any]:
    value = _decoded(value)
    return value if isinstance(value, list) else []


def _message(message: dict[str, Any], *, output: bool) -> Message:
    shown = Message(role=str(message.get("role") or "?"), output=output)
    for part in _parts(message):
        kind = part.get("type")
        if kind == "text":
            shown.texts.append(readable(part.get("content")))
        elif kind in ("reasoning", "refusal"):
            shown.texts.append(f"[{kind}] {readable(part.get('content'))}")
        elif kind == "tool_call":
            shown.tool_calls.append(
                {
                    "name": str(part.get("name") or "?"),
                    "id": str(part.get("id") or ""),
                    "arguments": readable(_decoded(part.get("arguments"))),
                }
            )
        elif kind == "tool_call_response":
            shown.tool_results.append(
                {
                    "id": str(part.get("id") or part.get("name") or ""),
                    "response": readable(_decoded(part.get("response"))),
                }
            )
        else:
            shown.texts.append(f"[{kind}]")
    finish = message.get("finish_reason")
    shown.finish_reason = str(finish) if output and finish else None
    return shown


def _parts(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Semconv parts; a message written with a plain `content` string is one text part."""
    parts = message.get("parts")
    if isinstance(parts, list):
        yield from (p for p in parts if isinstance(p, dict))
    elif message.get("content") is not None:
        yield {"type": "text", "content": message["content"]}


# -- tool calls ------------------------------------------------------------------------------------


def _tool(span: dict[str, Any]) -> ToolStep | None:
    attrs = span.get("attributes") or {}
    if not _is_tool(attrs):
        return None
    error = None
    if span.get("status") == "error":
        error = str(attrs.get(names.ERROR) or span.get("status_message") or "error")
    return ToolStep(
        name=str(attrs.get(names.STEP_NAME) or attrs.get(names.TOOL_NAME) or span.get("name") or "tool"),
        function=str(attrs.get(names.STEP_FUNCTION) or ""),
        arguments=readable(_decoded(_first(attrs, names.STEP_ARGUMENTS, TOOL_CALL_ARGUMENTS))),
        result=readable(_decoded(_first(attrs, names.STEP_RESULT, TOOL_CALL_RESULT))),
        error=error,
        duration_ms=span.get("duration_ms"),
    )


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    """The value of the first key the span has (a result of `null` or "" is still a result)."""
    return next((attrs[key] for key in keys if key in attrs), None)
