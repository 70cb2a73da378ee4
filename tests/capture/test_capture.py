"""@casebank.trace end to end: the real OTel SDK, the real writer thread, a real store file."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pydantic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import casebank
from casebank.store import open_store


@dataclasses.dataclass
class Ticket:
    text: str
    priority: int = 1


class Customer(pydantic.BaseModel):
    name: str
    tier: str


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


@casebank.trace
def answer(ticket: str, lang: str = "en") -> str:
    return f"[{lang}] {ticket.upper()}"


@casebank.trace(name="triage")
async def triage(ticket: Ticket, customer: Customer, extra: Any = None) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"queue": "billing", "echo": answer(ticket.text), "who": customer}


@casebank.trace
def explode(reason: str) -> None:
    raise KeyError(reason)


def stored_trace(trace_id: str) -> dict[str, Any]:
    assert casebank.flush()
    with open_store() as store:
        trace = store.get_trace(trace_id)
        assert trace is not None, f"trace {trace_id} not written"
        return dataclasses.asdict(trace) | {"spans": store.trace_spans(trace_id)}


def test_an_uninitialised_decorator_is_a_plain_call() -> None:
    assert answer("hi") == "[en] HI"
    assert casebank.current_trace_id() is None


def test_a_traced_call_stores_its_entry_point_arguments_and_return_value() -> None:
    casebank.init()
    seen: list[str | None] = []

    @casebank.trace
    def handler(question: str, *, top_k: int = 3) -> str:
        seen.append(casebank.current_trace_id())
        return "42"

    assert handler("why?") == "42"
    trace_id = seen[0]
    assert trace_id is not None and len(trace_id) == 32
    trace = stored_trace(trace_id)
    test_name = "test_a_traced_call_stores_its_entry_point_arguments_and_return_value"
    assert trace["entrypoint"] == f"{__name__}:{test_name}.<locals>.handler"
    assert trace["input"] == {"question": "why?", "top_k": 3}
    assert trace["output"] == "42"
    assert trace["status"] == "ok"
    assert trace["span_count"] == 1


def test_async_entry_points_nest_child_spans_and_serialise_dataclasses_and_models() -> None:
    casebank.init()
    ids: list[str | None] = []

    @casebank.trace
    async def outer() -> dict[str, Any]:
        ids.append(casebank.current_trace_id())
        return await triage(Ticket(text="refund?"), Customer(name="Ada", tier="gold"), extra=Opaque())

    result = asyncio.run(outer())
    assert result["echo"] == "[en] REFUND?"
    trace = stored_trace(ids[0] or "")
    names = [span["name"] for span in trace["spans"]]
    assert sorted(names) == ["answer", "outer", "triage"]
    by_name = {span["name"]: span for span in trace["spans"]}
    assert by_name["triage"]["parent_span_id"] == by_name["outer"]["span_id"]
    assert by_name["answer"]["parent_span_id"] == by_name["triage"]["span_id"]
    triage_input = orjson.loads(by_name["triage"]["attributes"]["casebank.input"])
    assert triage_input == {
        "ticket": {"text": "refund?", "priority": 1},
        "customer": {"name": "Ada", "tier": "gold"},
        "extra": {"$repr": "<Opaque thing>"},
    }
    assert "casebank.root" not in by_name["triage"]["attributes"]
    assert trace["entrypoint"].endswith("outer")  # the outermost traced call is the trace's entry point


def test_an_exception_is_recorded_and_re_raised_unchanged() -> None:
    casebank.init()
    ids: list[str | None] = []

    @casebank.trace
    def handler() -> None:
        ids.append(casebank.current_trace_id())
        explode("missing-sku")

    with pytest.raises(KeyError) as caught:
        handler()
    assert caught.value.args == ("missing-sku",)
    trace = stored_trace(ids[0] or "")
    assert trace["status"] == "error"
    assert trace["error"] == "KeyError: 'missing-sku'"
    explode_span = next(s for s in trace["spans"] if s["name"] == "explode")
    assert explode_span["status"] == "error"
    assert explode_span["events"][0]["name"] == "exception"


def test_spans_join_the_apps_active_trace_but_the_apps_own_spans_are_not_collected() -> None:
    exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(exporter))
    app_tracer = app_provider.get_tracer("the-app")
    casebank.init()

    with app_tracer.start_as_current_span("http request") as app_span:
        answer("joined")
        app_trace_id = format(app_span.get_span_context().trace_id, "032x")
        assert casebank.current_trace_id() == app_trace_id
    trace = stored_trace(app_trace_id)
    assert [s["name"] for s in trace["spans"]] == ["answer"]
    assert trace["spans"][0]["parent_span_id"] == format(app_span.get_span_context().span_id, "016x")
    assert [s.name for s in exporter.get_finished_spans()] == ["http request"]


def test_attaching_to_the_apps_provider_keeps_casebank_and_llm_spans_only() -> None:
    app_provider = TracerProvider()
    casebank.init(tracer_provider=app_provider)
    app_tracer = app_provider.get_tracer("the-app")
    with app_tracer.start_as_current_span("http request") as root:
        answer("attached")
        with app_tracer.start_as_current_span("chat gpt-4o", attributes={"gen_ai.operation.name": "chat"}):
            pass
        with app_tracer.start_as_current_span("SELECT users"):
            pass
    trace = stored_trace(format(root.get_span_context().trace_id, "032x"))
    assert sorted(s["name"] for s in trace["spans"]) == ["answer", "chat gpt-4o"]


def test_init_is_idempotent_and_shutdown_writes_what_is_queued(db_path: Path) -> None:
    casebank.init()
    casebank.init(db=db_path.parent / "other.db")  # ignored: already initialised
    ids = []
    for n in range(50):

        @casebank.trace
        def handler(n: int) -> int:
            ids.append(casebank.current_trace_id())
            return n

        handler(n)
    casebank.shutdown()
    casebank.shutdown()
    assert answer("after shutdown") == "[en] AFTER SHUTDOWN"
    assert not (db_path.parent / "other.db").exists()
    with open_store(db_path) as store:
        assert store.counts().traces == 50


def test_a_store_that_cannot_be_opened_logs_one_warning_and_the_app_runs_untraced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("these are my notes, not a database\n" * 100)
    with caplog.at_level(logging.WARNING, logger="casebank"):
        casebank.init(db=not_a_store)
        assert answer("still works") == "[en] STILL WORKS"
    warnings = [r for r in caplog.records if r.name == "casebank"]
    assert len(warnings) == 1
    assert "capture is off" in warnings[0].getMessage() and "notes.db" in warnings[0].getMessage()
    assert casebank.flush() is True


def test_replay_mode_keeps_capture_off(monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    monkeypatch.setenv("CASEBANK_REPLAY", "1")
    casebank.init()
    assert answer("replayed") == "[en] REPLAYED"
    assert not db_path.exists()


def test_the_app_thread_never_opens_sqlite(db_path: Path) -> None:
    opened_by: list[str] = []
    recording = threading.Event()
    recording.set()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "sqlite3.connect" and recording.is_set():
            opened_by.append(threading.current_thread().name)

    sys.addaudithook(hook)
    try:
        casebank.init()
        for n in range(20):
            answer(str(n))
        assert casebank.flush()
    finally:
        recording.clear()
    assert opened_by == ["casebank-writer"]


def test_secrets_in_arguments_never_reach_the_store(db_path: Path) -> None:
    casebank.init()
    ids: list[str | None] = []

    @casebank.trace
    def call_provider(prompt: str, api_key: str, headers: dict[str, str]) -> str:
        ids.append(casebank.current_trace_id())
        return f"used key {api_key}"

    key = "sk-proj-" + "A1b2C3d4" * 6
    call_provider("hello", key, {"Authorization": "Bearer abc.def-123456789"})
    assert casebank.flush()
    raw = db_path.read_bytes() + Path(str(db_path) + "-wal").read_bytes()
    assert key.encode() not in raw
    assert b"abc.def-123456789" not in raw
    trace = stored_trace(ids[0] or "")
    assert trace["input"]["api_key"] == "[REDACTED:api_key]"
    assert trace["input"]["prompt"] == "hello"
