"""`Replay`: what a case did while it ran - its spans - for the graders that read them.

A grader gets `(output, expected)`; a span grader also gets a `Replay` (`Grader.grade_replay`),
so graders written before spans existed, and plug-in functions of `(output, expected)`, are
untouched. The spans are dicts in the shape the store gives a trace's spans (`name`, `span_id`,
`parent_span_id`, `start_ns`, `duration_ms`, `status`, `attributes`), so one grader reads the
spans a replay collected in memory and, at promote time, the flagged trace's recorded spans.

`spans` is None where there are no spans to grade: the promote-time check's good half grades
the expected output, which no replay produced; a span grader then has nothing to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from casebank.capture._attributes import COMPLETION_TOKENS as _COMPLETION_TOKENS
from casebank.capture._attributes import (
    EXECUTE_TOOL,
    INPUT_TOKENS,
    OPERATION,
    OUTPUT_TOKENS,
    PROMPT_TOKENS,
    STEP_ARGUMENTS,
    STEP_KIND,
    STEP_NAME,
    TOOL_NAME,
    inference_provider,
)

__all__ = ["Replay", "ToolCall"]


@dataclass(kw_only=True, frozen=True)
class ToolCall:
    name: str
    arguments: Any


@dataclass(kw_only=True)
class Replay:
    spans: list[dict[str, Any]] | None = field(default_factory=list)
    latency_ms: float | None = None

    @classmethod
    def recorded(cls, spans: list[dict[str, Any]]) -> Replay:
        """The flagged trace's own spans (an incident's snapshot), its latency that of its root span."""
        ids = {span.get("span_id") for span in spans}
        roots = [span for span in spans if span.get("parent_span_id") not in ids]
        latency = max((float(span.get("duration_ms") or 0.0) for span in roots), default=None)
        return cls(spans=list(spans), latency_ms=latency)

    def tool_calls(self) -> list[ToolCall]:
        """Every tool call, in the order they started: `@casebank.tool` spans and other tools' `execute_tool`."""
        calls = []
        for span in sorted(self.spans or (), key=lambda s: s.get("start_ns") or 0):
            attributes = span.get("attributes") or {}
            if attributes.get(STEP_KIND) == "tool":
                calls.append(
                    ToolCall(name=str(attributes.get(STEP_NAME)), arguments=_parsed(attributes.get(STEP_ARGUMENTS)))
                )
            elif attributes.get(OPERATION) == EXECUTE_TOOL and attributes.get(TOOL_NAME):
                arguments = attributes.get("gen_ai.tool.call.arguments")
                calls.append(ToolCall(name=str(attributes[TOOL_NAME]), arguments=_parsed(arguments)))
        return calls

    def llm_calls(self) -> list[dict[str, Any]]:
        """The spans that are one model call each (any instrumentation's)."""
        return [span for span in self.spans or () if inference_provider(span.get("attributes") or {}) is not None]

    def tokens(self) -> tuple[int, int]:
        """(input, output) tokens over every model call."""
        total_in = total_out = 0
        for span in self.llm_calls():
            attributes = span.get("attributes") or {}
            total_in += _int(attributes.get(INPUT_TOKENS, attributes.get(PROMPT_TOKENS)))
            total_out += _int(attributes.get(OUTPUT_TOKENS, attributes.get(_COMPLETION_TOKENS)))
        return total_in, total_out


def _parsed(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
