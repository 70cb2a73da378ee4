"""An incident's spans as a tree, for `cases show`: the entry point, and each LLM call under it
with its messages (roles, tool calls, tool results), token counts and latency.

Everything here reads the OTel GenAI names (`gen_ai.*`, semconv v1.37): casebank's own
instrumentation writes them, and the writer gives spans of other instrumentations the same
view (capture/_attach.py), so one renderer serves both. Content is previewed on one line per
message; the whole of it is in `cases show --json`. A span whose parent is not in the snapshot
(the app's own span, which casebank does not store) starts a tree of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from casebank.cli._traces import preview

__all__ = ["span_tree"]

MESSAGE_PREVIEW = 160
ATTRIBUTES_PREFIX = "casebank.attributes."


def span_tree(spans: list[dict[str, Any]]) -> Group:
    """One rich Tree per root span, in start order."""
    ids = {span["span_id"] for span in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span.get("parent_span_id")
        children.setdefault(parent if parent in ids else None, []).append(span)
    trees = []
    for root in children.get(None, []):
        tree = Tree(_label(root), guide_style="dim")
        _add_children(tree, root, children, {root["span_id"]})
        trees.append(tree)
    return Group(*trees)


def _add_children(
    node: Tree, span: dict[str, Any], children: dict[str | None, list[dict[str, Any]]], seen: set[str]
) -> None:
    _add_messages(node, span.get("attributes") or {})
    for child in children.get(span["span_id"], []):
        if child["span_id"] in seen:  # a corrupt snapshot must not loop
            continue
        seen.add(child["span_id"])
        _add_children(node.add(_label(child)), child, children, seen)


# -- one line a span ------------------------------------------------------------------------------


def _label(span: dict[str, Any]) -> Text:
    attrs = span.get("attributes") or {}
    label = Text(str(span.get("name") or "(unnamed span)"), style="bold")
    entrypoint = attrs.get("casebank.entrypoint")
    if entrypoint:
        label.append(f"  {entrypoint}")
    duration = span.get("duration_ms")
    if duration is not None:
        label.append(f"  {duration:.1f} ms", style="cyan")
    tokens = _tokens(attrs)
    if tokens:
        label.append(f"  {tokens}")
    correlation = [f"{k[len(ATTRIBUTES_PREFIX) :]}={v}" for k, v in attrs.items() if k.startswith(ATTRIBUTES_PREFIX)]
    if correlation:
        label.append(f"  [{', '.join(correlation)}]")
    if span.get("status") == "error":
        message = span.get("status_message") or attrs.get("casebank.error") or ""
        label.append("  error" + (f": {preview(message, 120)}" if message else ""), style="red")
    return label


def _tokens(attrs: dict[str, Any]) -> str:
    tokens_in = attrs.get("gen_ai.usage.input_tokens")
    tokens_out = attrs.get("gen_ai.usage.output_tokens")
    if tokens_in is None and tokens_out is None:
        return ""
    return f"{'?' if tokens_in is None else tokens_in} in / {'?' if tokens_out is None else tokens_out} out tokens"


# -- messages -------------------------------------------------------------------------------------


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
    return value if isinstance(value, list) else []


def _add_messages(node: Tree, attrs: dict[str, Any]) -> None:
    instructions = _json_list(attrs.get("gen_ai.system_instructions"))
    if instructions:
        _add_message(node, {"role": "system", "parts": instructions}, output=False)
    for message in _json_list(attrs.get("gen_ai.input.messages")):
        if isinstance(message, dict):
            _add_message(node, message, output=False)
    for message in _json_list(attrs.get("gen_ai.output.messages")):
        if isinstance(message, dict):
            _add_message(node, message, output=True)


def _add_message(node: Tree, message: dict[str, Any], *, output: bool) -> None:
    role = str(message.get("role") or "?")
    texts, calls, results = [], [], []
    for part in _parts(message):
        kind = part.get("type")
        if kind == "text":
            texts.append(_as_text(part.get("content")))
        elif kind in ("reasoning", "refusal") and part.get("content"):
            texts.append(f"[{kind}] {_as_text(part.get('content'))}")
        elif kind == "tool_call":
            calls.append(part)
        elif kind == "tool_call_response":
            results.append(part)
        else:
            texts.append(f"[{kind}]")
    line = Text("→ " if output else "", style="green" if output else "")
    line.append(f"{role}:", style="bold green" if output else "bold")
    if texts:
        line.append(" " + preview(" ".join(texts), MESSAGE_PREVIEW))
    for result in results:
        of = result.get("id") or result.get("name") or "a tool call"
        line.append(f" (result of {of}) {preview(_as_text(result.get('response')), MESSAGE_PREVIEW)}")
    finish = message.get("finish_reason")
    if output and finish:
        line.append(f"{'  ' if texts or results else ' '}[{finish}]", style="dim")
    branch = node.add(line)
    for call in calls:
        arguments = preview(_as_text(call.get("arguments")), MESSAGE_PREVIEW)
        call_line = Text(f"tool call {call.get('name')}({arguments})", style="yellow")
        if call.get("id"):
            call_line.append(f"  id {call.get('id')}", style="dim")
        branch.add(call_line)


def _parts(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Semconv parts; a message written with a plain `content` string is one text part."""
    parts = message.get("parts")
    if isinstance(parts, list):
        yield from (p for p in parts if isinstance(p, dict))
    elif message.get("content") is not None:
        yield {"type": "text", "content": _as_text(message["content"])}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
