"""`cases show` draws the incident's spans as a tree: the entry point, each LLM call with its
messages, tool calls, token counts and latency.

Spans go into a real store through `Store.write_spans`, as the capture writer writes them, with
the OTel GenAI attributes casebank's instrumentation (and its view of other tools' spans) uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.store import open_store
from tests.cli.conftest import _BASE_NS, Cases, InProcess, _hex, _iso

TRACE = _hex("tree", 32)
ROOT, FIRST, TOOL, SECOND = (_hex(f"tree/{n}", 16) for n in ("root", "first", "tool", "second"))

SYSTEM = [{"type": "text", "content": "You are the support bot of a shoe shop."}]
QUESTION = {"role": "user", "parts": [{"type": "text", "content": "Where is order A-17?"}]}
CALL = {
    "role": "assistant",
    "parts": [{"type": "tool_call", "id": "call_1", "name": "get_order", "arguments": {"order_id": "A-17"}}],
    "finish_reason": "tool_call",
}
RESULT = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": {"status": "shipped"}}]}
ANSWER = {
    "role": "assistant",
    "parts": [{"type": "text", "content": "It [b]shipped[/b] yesterday."}],  # markup stays text
    "finish_reason": "stop",
}


def span(
    span_id: str,
    parent: str | None,
    name: str,
    offset_ms: int,
    duration_ms: float,
    attributes: dict[str, Any],
    status: str = "ok",
    message: str | None = None,
) -> tuple[Any, ...]:
    start = _BASE_NS + offset_ms * 1_000_000
    return (
        TRACE,
        span_id,
        parent,
        name,
        "client" if parent else "internal",
        _iso(start),
        start,
        duration_ms,
        status,
        message,
        orjson.dumps(attributes).decode(),
        None,
        "support-bot",
    )


def chat(**extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        **extra,
    }


@pytest.fixture
def incident(db: Path) -> str:
    """A support-bot answer: one call that asks for a tool, the tool, a second call that answers."""
    spans = [
        span(
            ROOT,
            None,
            "answer",
            0,
            1234.5,
            {
                "casebank.entrypoint": "support_bot:answer",
                "casebank.root": True,
                "casebank.attributes.ticket_id": "8812",
            },
        ),
        span(
            FIRST,
            ROOT,
            "chat gpt-4o-mini",
            1,
            812.5,
            chat(
                **{
                    "gen_ai.system_instructions": json.dumps(SYSTEM),
                    "gen_ai.input.messages": json.dumps([QUESTION]),
                    "gen_ai.output.messages": json.dumps([CALL]),
                    "gen_ai.usage.input_tokens": 52,
                    "gen_ai.usage.output_tokens": 12,
                }
            ),
        ),
        span(TOOL, ROOT, "get_order", 814, 3.25, {}),
        span(
            SECOND,
            ROOT,
            "chat gpt-4o-mini",
            818,
            401.0,
            chat(
                **{
                    "gen_ai.input.messages": json.dumps([QUESTION, CALL, RESULT]),
                    "gen_ai.output.messages": json.dumps([ANSWER]),
                    "gen_ai.usage.input_tokens": 80,
                    "gen_ai.usage.output_tokens": 7,
                }
            ),
        ),
    ]
    trace_row = (
        TRACE,
        "answer",
        "support_bot:answer",
        '{"question":"Where is order A-17?"}',
        '"It shipped yesterday."',
        "ok",
        None,
        _iso(_BASE_NS),
        _BASE_NS,
        1234.5,
        "support-bot",
        len(spans),
        '{"ticket_id":"8812"}',
    )
    with open_store(db) as store:
        store.write_spans(spans, [trace_row])
        return store.flag(TRACE, "said shipped, it is lost").id


def spans_section(out: str) -> str:
    return out.split("\nspans\n", 1)[1].split("\nnext: ", 1)[0]


def test_show_draws_the_entry_point_each_llm_call_its_messages_tool_calls_tokens_and_latency(
    cases_in_process: InProcess, incident: str
) -> None:
    result = cases_in_process("show", incident, columns=120)
    assert result.code == 0, result.err
    assert spans_section(result.out) == (
        "answer  support_bot:answer  1234.5 ms  [ticket_id=8812]\n"
        "├── chat gpt-4o-mini  812.5 ms  52 in / 12 out tokens\n"
        "│   ├── system: You are the support bot of a shoe shop.\n"
        "│   ├── user: Where is order A-17?\n"
        "│   └── → assistant: [tool_call]\n"
        '│       └── tool call get_order({"order_id":"A-17"})  id call_1\n'
        "├── get_order  3.2 ms\n"
        "└── chat gpt-4o-mini  401.0 ms  80 in / 7 out tokens\n"
        "    ├── user: Where is order A-17?\n"
        "    ├── assistant:\n"
        '    │   └── tool call get_order({"order_id":"A-17"})  id call_1\n'
        '    ├── tool: (result of call_1) {"status":"shipped"}\n'
        "    └── → assistant: It [b]shipped[/b] yesterday.  [stop]\n"
    )


def test_show_json_is_unchanged_by_the_tree(cases: Cases, db: Path, incident: str) -> None:
    result = cases("show", incident, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    with open_store(db) as store:
        assert data == json.loads(orjson.dumps(store.get_incident(incident).as_dict()))
    assert [s["name"] for s in data["spans"]] == ["answer", "chat gpt-4o-mini", "get_order", "chat gpt-4o-mini"]


def test_a_failed_llm_call_shows_its_error_and_long_content_is_cut_to_one_line(
    cases_in_process: InProcess, db: Path
) -> None:
    long_question = "Where is my order? " * 30
    spans = [
        span(ROOT, None, "answer", 0, 30000.0, {"casebank.entrypoint": "support_bot:answer"}, "error", "Timeout"),
        span(
            FIRST,
            ROOT,
            "chat gpt-4o-mini",
            1,
            29999.0,
            chat(
                **{
                    "gen_ai.input.messages": json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": long_question}]}]
                    )
                }
            ),
            "error",
            "APITimeoutError: Request timed out.",
        ),
    ]
    with open_store(db) as store:
        store.write_spans(spans, [])
        incident_id = store.flag(TRACE, "no answer").id
    out = spans_section(cases_in_process("show", incident_id, columns=200).out)
    lines = out.splitlines()
    assert lines[0] == "answer  support_bot:answer  30000.0 ms  error: Timeout"
    assert lines[1] == "└── chat gpt-4o-mini  29999.0 ms  error: APITimeoutError: Request timed out."
    assert lines[2].startswith("    └── user: Where is my order? Where is my order?")
    assert lines[2].endswith("…") and len(lines[2]) == len("    └── user: ") + 160
    assert len(lines) == 3


def test_spans_whose_parent_was_not_stored_start_their_own_tree(cases_in_process: InProcess, db: Path) -> None:
    # Attached to the app's provider: an LLM span under the app's own (unstored) request span.
    app_span = _hex("the apps request span", 16)
    spans = [
        span(FIRST, app_span, "ChatCompletion", 0, 500.0, chat(**{"llm.model_name": "gpt-4o-mini"})),
        span(SECOND, app_span, "ChatCompletion", 600, 300.0, chat()),
    ]
    with open_store(db) as store:
        store.write_spans(spans, [])
        incident_id = store.flag(TRACE, "bad").id
    assert spans_section(cases_in_process("show", incident_id, columns=120).out) == (
        "ChatCompletion  500.0 ms\nChatCompletion  300.0 ms\n"
    )


def test_other_message_shapes_and_parts_still_show(cases_in_process: InProcess, db: Path) -> None:
    inputs = [
        {"role": "user", "content": "Where is order A-17?"},  # the older shape: content, no parts
        {"role": "user", "parts": [{"type": "image"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "name": "get_order", "response": "shipped"}]},
    ]
    outputs = [{"role": "assistant", "parts": [{"type": "refusal", "content": "I cannot say."}]}]
    attributes = chat(**{"gen_ai.input.messages": json.dumps(inputs), "gen_ai.output.messages": json.dumps(outputs)})
    with open_store(db) as store:
        store.write_spans([span(FIRST, None, "chat", 0, 5.0, attributes)], [])
        incident_id = store.flag(TRACE, "bad").id
    assert spans_section(cases_in_process("show", incident_id, columns=120).out) == (
        "chat  5.0 ms\n"
        "├── user: Where is order A-17?\n"
        "├── user: [image]\n"
        "├── tool: (result of get_order) shipped\n"
        "└── → assistant: [refusal] I cannot say.\n"
    )
