"""Oversized and awkward values: cut with a marker at the documented limits, never raised into the
app, never the end of a batch. End to end through `casebank.init()`, the real SDK and writer, and
a real SQLite file or PostgreSQL database."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import casebank
from casebank._json import recorded_json
from casebank._limits import MAX_DEPTH, MAX_RECORDED_CHARS, MAX_VALUE_CHARS, TOO_DEEP, cut
from casebank.capture._rows import rows_for
from casebank.store import open_store


def _nested(levels: int) -> list[Any]:
    top: list[Any] = []
    inner = top
    for _ in range(levels):
        inner.append([])
        inner = inner[0]
    return top


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth


def test_a_long_string_keeps_its_start_and_says_how_much_was_cut() -> None:
    text = "word " * (MAX_VALUE_CHARS // 4)
    kept = cut(text)
    assert kept.startswith("word word")
    prefix, marker = kept.split("…")
    assert marker == f"[TRUNCATED:{len(text) - len(prefix)} chars]"
    assert len(kept) <= MAX_VALUE_CHARS and prefix.endswith(" ")
    assert cut(kept) == kept  # never in the middle of a word


def test_a_cut_does_not_split_a_secret_so_redaction_still_sees_it_whole() -> None:
    secret = "sk-proj-" + "A1b2C3d4" * 8
    text = "x " * ((MAX_VALUE_CHARS - 20) // 2) + secret + " tail" * 100
    assert secret not in cut(text) and "sk-proj-" not in cut(text)


def test_a_50_mb_prompt_is_recorded_cut_and_json_still_reads() -> None:
    recorded = recorded_json({"prompt": "a " * 25_000_000})
    value = orjson.loads(recorded)
    assert len(recorded) < MAX_VALUE_CHARS + 100
    kept, marker = value["prompt"].split("…")
    assert marker == f"[TRUNCATED:{50_000_000 - len(kept)} chars]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"n": math.nan, "i": -math.inf}, {"n": None, "i": None}, id="nan-and-infinity-are-null"),
        pytest.param({"s": "a\ud800b"}, {"s": "a\ufffdb"}, id="lone-surrogate"),
        pytest.param({"big": 2**70}, {"big": {"$repr": str(2**70)}}, id="int-past-64-bits"),
        pytest.param(b"\x00\xff", {"$repr": "b'\\x00\\xff'"}, id="bytes"),
        pytest.param("nul\x00inside", "nul\x00inside", id="nul-kept-as-json-escape"),
    ],
)
def test_values_json_cannot_hold_become_marked_stand_ins(value: Any, expected: Any) -> None:
    assert orjson.loads(recorded_json(value)) == expected


def test_nesting_past_the_limit_is_cut_with_a_marker() -> None:
    recorded = orjson.loads(recorded_json({"deep": _nested(100_000)}))
    assert _depth(recorded["deep"]) == MAX_DEPTH - 1
    assert TOO_DEEP in recorded_json({"deep": _nested(100_000)})


def test_many_strings_under_the_limit_that_add_up_past_it_become_one_marked_repr() -> None:
    recorded = recorded_json(["y" * 100_000] * 100)
    assert len(recorded) <= MAX_RECORDED_CHARS
    assert orjson.loads(recorded)["$repr"].endswith("chars]")


def _sdk_span(**attributes: Any) -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("casebank").start_as_current_span("answer\ud800", attributes=attributes) as span:
        span.add_event("big", {"payload": "z" * (MAX_VALUE_CHARS + 10)})
    return exporter.get_finished_spans()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_awkward_span_attributes_are_written_with_their_batch(
    backend: str, db_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(db_path) if backend == "sqlite" else request.getfixturevalue("postgres_url")
    spans = _sdk_span(
        prompt="p " * MAX_VALUE_CHARS,
        surrogate="x\udc00y",
        nul="a\x00b",
        huge=2**80,
        nan=math.nan,
        messages=orjson.dumps([{"content": "m" * (MAX_VALUE_CHARS + 1)}]).decode(),
    )
    span_rows, trace_rows = rows_for(spans)
    with open_store(url) as store:
        store.write_spans(span_rows, trace_rows)
        stored = store.trace_spans(span_rows[0][0])[0]
    attributes = stored["attributes"]
    assert attributes["prompt"].endswith("chars]") and len(attributes["prompt"]) <= MAX_VALUE_CHARS
    assert attributes["surrogate"] == "x\ufffdy"
    assert attributes["huge"] == {"$repr": str(2**80)}
    assert attributes["nan"] is None
    assert attributes["nul"] in ("a\x00b", "a\ufffdb")  # PostgreSQL holds no NUL: U+FFFD there
    assert orjson.loads(attributes["messages"])[0]["content"].endswith("[TRUNCATED:27 chars]")  # still JSON
    assert stored["name"] == "answer\ufffd"
    assert stored["events"][0]["attributes"]["payload"].endswith("[TRUNCATED:36 chars]")


def test_a_50_mb_prompt_through_a_traced_entry_point_never_reaches_the_app(db_path: Path) -> None:
    casebank.init()
    seen: list[str | None] = []

    @casebank.trace
    def handler(prompt: str) -> str:
        seen.append(casebank.current_trace_id())
        return "\ud800" + prompt[:10]

    assert handler("q " * 25_000_000) == "\ud800q q q q q "
    casebank.flush()
    with open_store(db_path) as store:
        trace = store.get_trace(str(seen[0]))
    assert trace is not None
    kept, marker = trace.input["prompt"].split("…")
    assert kept.startswith("q q ") and marker == f"[TRUNCATED:{50_000_000 - len(kept)} chars]"
    assert trace.output == "\ufffdq q q q q "
