"""OpenLLMetry, the real package (traceloop's `opentelemetry-instrumentation-openai`): its spans on
the app's provider are stored and shown as casebank's own, and with casebank's instrumentation
also on, whichever wraps the other, each call is one span in the store.

The real `openai` client talks to the fake server on 127.0.0.1 and OpenLLMetry's real instrumentor
patches it, on an app `TracerProvider` that casebank is attached to. Current OpenLLMetry releases
write the GenAI semconv names that casebank writes (`gen_ai.input.messages`,
`gen_ai.usage.input_tokens`, ...); the indexed names of older releases (`gen_ai.prompt.0.content`)
are covered span by span in test_attach.py.

Instrumentors patch the `openai` classes for the whole process, and OpenLLMetry 0.62's
`uninstrument()` leaves its wrappers in place (it hands OpenTelemetry's `unwrap` a
"Class.method" name that `unwrap` does not resolve). So the `llmetry` fixture notes every
attribute of the classes OpenLLMetry patches before the test and puts each back afterwards.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import casebank
from casebank.cli import main as cases
from casebank.store import open_store
from tests.fakes import API_KEY, FakeLLM, Reply, ToolCall

openllmetry = pytest.importorskip("opentelemetry.instrumentation.openai")
with warnings.catch_warnings():
    # Its v1 module, imported when it instruments, declares a pydantic model with a class-based
    # config, which pydantic 2 deprecates on import; this suite turns warnings into errors.
    warnings.filterwarnings("ignore", "Support for class-based `config`", DeprecationWarning)
    importlib.import_module("opentelemetry.instrumentation.openai.v1")

SCOPE = "opentelemetry.instrumentation.openai.v1"
# Where OpenLLMetry patches openai (its OpenAIV1Instrumentor), module -> classes; absent ones are skipped.
PATCHED = {
    "openai.resources.chat.completions": ("Completions", "AsyncCompletions"),
    "openai.resources.completions": ("Completions", "AsyncCompletions"),
    "openai.resources.embeddings": ("Embeddings", "AsyncEmbeddings"),
    "openai.resources.images": ("Images",),
    "openai.resources.responses": ("Responses", "AsyncResponses"),
    "openai.resources.beta.assistants": ("Assistants",),
    "openai.resources.beta.chat.completions": ("Completions", "AsyncCompletions"),
    "openai.resources.beta.threads.runs": ("Runs",),
    "openai.resources.beta.threads.messages": ("Messages",),
    "openai.resources.beta.realtime.realtime": ("Realtime", "AsyncRealtime"),
}

SYSTEM = "You are the support bot of a shoe shop."
QUESTION = "Where is order A-17?"
# A conversation with a tool call and its result already in it; the answer calls a second tool.
CONVERSATION: list[Any] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": QUESTION},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": '{"order_id": "A-17"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "shipped with parcel P-9"},
]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]},
        },
    }
    for name, arg in (("get_order", "order_id"), ("track_parcel", "parcel"))
]
ANSWER = Reply(
    text="Let me track the parcel.",
    tool_calls=[ToolCall(name="track_parcel", arguments={"parcel": "P-9"}, id="call_2")],
)
MODES = [pytest.param("plain", id="plain"), pytest.param("stream", id="stream"), pytest.param("async", id="async")]


def patched_classes() -> list[type]:
    classes = []
    for name, class_names in PATCHED.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        classes += [cls for cls in (getattr(module, c, None) for c in class_names) if isinstance(cls, type)]
    return classes


class OpenLLMetry:
    """traceloop's instrumentor (one per process: OpenTelemetry instrumentors are singletons),
    and the attributes of every class it patches as they were before it did."""

    def __init__(self) -> None:
        self.instrumentor = openllmetry.OpenAIInstrumentor()
        if self.instrumentor.is_instrumented_by_opentelemetry:  # left so by a test that died mid-way
            self.instrumentor.uninstrument()  # else instrument() would keep that test's provider
        self.found = {(cls, name): value for cls in patched_classes() for name, value in vars(cls).items()}

    def instrument(self, provider: TracerProvider) -> None:
        self.instrumentor.instrument(tracer_provider=provider)

    def remove(self) -> None:
        """Off, for real: its own uninstrument() (for its flag), then the methods put back."""
        if self.instrumentor.is_instrumented_by_opentelemetry:
            self.instrumentor.uninstrument()
        for (cls, name), value in self.found.items():
            if vars(cls).get(name) is not value:
                setattr(cls, name, value)


@pytest.fixture
def llmetry() -> Iterator[OpenLLMetry]:
    casebank.uninstrument()
    tool = OpenLLMetry()
    yield tool
    casebank.uninstrument()  # first: with casebank's wrapper gone, what remains is only OpenLLMetry's
    tool.remove()


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.reply = ANSWER
        yield server


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "casebank.db"


def ask(fake: FakeLLM, mode: str) -> None:
    """One chat completion with the real client: plain, streamed (usage asked for), or async."""
    request: dict[str, Any] = {"model": "gpt-4o-mini", "messages": CONVERSATION, "tools": TOOLS, "temperature": 0.2}
    if mode == "async":

        async def run() -> None:
            async with openai.AsyncOpenAI(api_key=API_KEY, base_url=fake.openai_url, max_retries=0) as client:
                await client.chat.completions.create(**request)

        asyncio.run(run())
        return
    with openai.OpenAI(api_key=API_KEY, base_url=fake.openai_url, max_retries=0) as client:
        if mode == "stream":
            chunks = list(
                client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
            )
            assert chunks[-1].usage is not None
        else:
            client.chat.completions.create(**request)


def traced(fake: FakeLLM, mode: str) -> str:
    """Ask inside a casebank entry point; the trace id, once its spans are in the store."""

    @casebank.trace
    def answer(question: str) -> str | None:
        ask(fake, mode)
        return casebank.current_trace_id()

    trace_id = answer(QUESTION)
    assert trace_id is not None and casebank.flush()
    return trace_id


def llm_spans(db: Path, trace_id: str) -> list[dict[str, Any]]:
    """The trace's spans other than the entry point, each checked to hang under it."""
    with open_store(db) as store:
        spans = store.trace_spans(trace_id)
    (entry,) = [s for s in spans if s["name"] == "answer"]
    others = [s for s in spans if s is not entry]
    assert all(s["parent_span_id"] == entry["span_id"] for s in others), [
        (s["name"], s["parent_span_id"]) for s in spans
    ]
    return others


def shown(db: Path, trace_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The spans section of `cases show` for the trace, with latencies masked."""
    incident = casebank.flag(trace_id, "checking how the call reads", db=db)
    monkeypatch.setenv("COLUMNS", "120")
    capsys.readouterr()
    try:
        cases(["show", incident, "--db", str(db)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    spans = out.split("\nspans\n", 1)[1].split("\nnext: ", 1)[0]
    return re.sub(r"  \d+\.\d ms", "", spans)


def view(attributes: dict[str, Any]) -> dict[str, Any]:
    """What casebank reads of an LLM span (the GenAI names), messages parsed."""
    keys = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model")
    keys += ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
    seen = {key: attributes.get(key) for key in keys}
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        seen[key] = json.loads(attributes[key]) if key in attributes else None
    return seen


EXPECTED_VIEW = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 7,
    "gen_ai.input.messages": [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "get_order", "arguments": {"order_id": "A-17"}}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "shipped with parcel P-9"}],
        },
    ],
    "gen_ai.output.messages": [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me track the parcel."},
                {"type": "tool_call", "id": "call_2", "name": "track_parcel", "arguments": {"parcel": "P-9"}},
            ],
            "finish_reason": "tool_call",
        }
    ],
}

SHOWN = """\
answer  {entrypoint}
└── {name}  12 in / 7 out tokens
    ├── system: You are the support bot of a shoe shop.
    ├── user: Where is order A-17?
    ├── assistant:
    │   └── tool call get_order({{"order_id":"A-17"}})  id call_1
    ├── tool: (result of call_1) shipped with parcel P-9
    └── → assistant: Let me track the parcel.  [tool_call]
        └── tool call track_parcel({{"parcel":"P-9"}})  id call_2
"""
ENTRYPOINT = f"{__name__}:traced.<locals>.answer"


@pytest.mark.parametrize("mode", MODES)
def test_openllmetrys_span_is_stored_and_shown_as_casebanks_own_would_be(
    llmetry: OpenLLMetry,
    fake: FakeLLM,
    db: Path,
    mode: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = TracerProvider()
    casebank.init(tracer_provider=provider, db=db, instrument=False)  # only OpenLLMetry records the call
    llmetry.instrument(provider)
    theirs = traced(fake, mode)
    llmetry.remove()
    casebank.instrument_openai()  # the same call, recorded by casebank itself
    ours = traced(fake, mode)

    (their_span,) = llm_spans(db, theirs)
    (our_span,) = llm_spans(db, ours)
    assert their_span["name"] == "openai.chat" and their_span["status"] == "ok"
    assert view(their_span["attributes"]) == view(our_span["attributes"]) == EXPECTED_VIEW
    assert their_span["attributes"]["gen_ai.is_streaming"] is (mode == "stream")  # OpenLLMetry's own, kept
    assert shown(db, theirs, capsys, monkeypatch) == SHOWN.format(entrypoint=ENTRYPOINT, name="openai.chat")
    assert shown(db, ours, capsys, monkeypatch) == SHOWN.format(entrypoint=ENTRYPOINT, name="chat gpt-4o-mini")
    assert API_KEY not in json.dumps(their_span)


def test_with_capture_content_off_openllmetrys_messages_are_not_stored(
    llmetry: OpenLLMetry, fake: FakeLLM, db: Path
) -> None:
    provider = TracerProvider()
    casebank.init(tracer_provider=provider, db=db, instrument=False, capture_content=False)
    llmetry.instrument(provider)  # OpenLLMetry itself records content (TRACELOOP_TRACE_CONTENT is on)
    (span,) = llm_spans(db, traced(fake, "plain"))
    stored = json.dumps(span["attributes"])
    assert QUESTION not in stored and "track the parcel" not in stored and "P-9" not in stored
    assert view(span["attributes"]) == {**EXPECTED_VIEW, "gen_ai.input.messages": None, "gen_ai.output.messages": None}


@pytest.mark.parametrize("mode", MODES)
def test_openllmetry_around_casebanks_instrumentation_makes_one_span_per_call(
    llmetry: OpenLLMetry, fake: FakeLLM, db: Path, mode: str
) -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    casebank.init(tracer_provider=provider, db=db)  # casebank patches openai first ...
    llmetry.instrument(provider)  # ... and OpenLLMetry's wrapper goes around casebank's
    trace_id = traced(fake, mode)
    (span,) = llm_spans(db, trace_id)
    assert span["name"] == "openai.chat"
    assert view(span["attributes"]) == EXPECTED_VIEW
    calls = [s for s in exporter.get_finished_spans() if (s.attributes or {}).get("gen_ai.operation.name")]
    assert [s.instrumentation_scope.name for s in calls if s.instrumentation_scope] == [SCOPE]
    assert len(fake.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_casebanks_instrumentation_around_openllmetry_makes_one_stored_span_per_call(
    llmetry: OpenLLMetry, fake: FakeLLM, db: Path, mode: str
) -> None:
    provider = TracerProvider()
    llmetry.instrument(provider)  # the app ran OpenLLMetry first (Traceloop.init) ...
    casebank.attach(provider, db)  # ... then attached casebank, whose wrapper goes around OpenLLMetry's
    trace_id = traced(fake, mode)
    (span,) = llm_spans(db, trace_id)  # OpenLLMetry's span inside casebank's is the same call: not stored
    assert span["name"] == "chat gpt-4o-mini"
    assert view(span["attributes"]) == EXPECTED_VIEW
    assert len(fake.requests) == 1
