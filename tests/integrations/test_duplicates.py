"""casebank on the app's own provider next to other LLM instrumentation: each call is one LLM span
in the real store, with the messages, whichever instrumentation wraps outermost.

The others are real: the anthropic SDK's own tracing, OpenInference, OpenLLMetry and the OTel
contrib instrumentation, all patching globally, so each test puts every patched method back."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
import wrapt
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai.resources.embeddings import AsyncEmbeddings, Embeddings
from openai.resources.responses import AsyncResponses, Responses
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import casebank
from casebank.store import open_store
from tests.fakes import API_KEY, FakeLLM

ASK = [{"role": "user", "content": "Where is my order?"}]
ANSWER = "Hello from the fake model."

# Everything the instrumentations here patch. Some put back `getattr(cls, name).__wrapped__` on
# uninstrument, which is not the original once casebank wrapped on top: restore these ourselves.
PATCHED = [
    (cls, name)
    for cls in (Completions, AsyncCompletions, Responses, AsyncResponses, Embeddings, AsyncEmbeddings)
    for name in ("create", "parse", "stream")
    if name in vars(cls)
] + [(openai.OpenAI, "request"), (openai.AsyncOpenAI, "request")]


@pytest.fixture
def provider() -> TracerProvider:
    return TracerProvider()


@pytest.fixture
def restored() -> Iterator[None]:
    saved = {(cls, name): vars(cls).get(name) for cls, name in PATCHED}  # None: inherited
    yield
    casebank.uninstrument()
    for (cls, name), value in saved.items():
        if value is not None:
            setattr(cls, name, value)
        elif name in vars(cls):
            delattr(cls, name)


def stored_llm_spans() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the entry span, the LLM spans) of the one trace in the store."""
    assert casebank.flush()
    with open_store() as store:
        (trace,) = store.recent_traces()
        spans = store.trace_spans(trace.trace_id)
    (entry,) = (s for s in spans if s["name"] == "support")
    return entry, [s for s in spans if "gen_ai.operation.name" in s["attributes"]]


def assert_one_span_a_call_with_the_messages(calls: int) -> list[dict[str, Any]]:
    entry, llm = stored_llm_spans()
    assert len(llm) == calls, [(s["name"], s["attributes"].get("gen_ai.provider.name")) for s in llm]
    for span in llm:
        assert span["parent_span_id"] == entry["span_id"]
        attributes = span["attributes"]
        (asked,) = orjson.loads(attributes["gen_ai.input.messages"])
        assert asked["parts"][0]["content"] == ASK[0]["content"]
        (answered,) = orjson.loads(attributes["gen_ai.output.messages"])
        assert answered["parts"][0]["content"] == ANSWER
    return llm


@casebank.trace
def support(calls: Callable[[], None]) -> str:
    calls()
    return "done"


# -- instrumentation opened inside casebank's call -------------------------------------------------


ANTHROPIC_CALLS = {
    "plain": lambda c: c.messages.create(model="claude-x", max_tokens=10, messages=ASK),
    "streamed": lambda c: list(c.messages.create(model="claude-x", max_tokens=10, messages=ASK, stream=True)),
    "helper": lambda c: _until_done(c.messages.stream(model="claude-x", max_tokens=10, messages=ASK)),
}


def _until_done(manager: Any) -> None:
    with manager as stream:
        stream.until_done()


@pytest.mark.parametrize("how", list(ANTHROPIC_CALLS))
def test_the_anthropic_sdks_own_span_stays_out_of_the_store_and_casebanks_keeps_the_messages(
    fake_llm: FakeLLM, provider: TracerProvider, how: str
) -> None:
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    casebank.init(tracer_provider=provider)
    options: Any = {"tracer_provider": provider}  # by default the SDK traces on the global provider
    with anthropic.Anthropic(api_key=API_KEY, base_url=fake_llm.anthropic_url, open_telemetry=options) as client:
        support(lambda: ANTHROPIC_CALLS[how](client))
    (span,) = assert_one_span_a_call_with_the_messages(1)
    assert span["name"] == "chat claude-x" and span["attributes"]["gen_ai.provider.name"] == "anthropic"
    # The app's own exporters still get the SDK's span, under casebank's.
    sdk = next(s for s in exported.get_finished_spans() if s.name == "anthropic.messages.create")
    assert sdk.parent is not None and f"{sdk.parent.span_id:016x}" == span["span_id"]


def test_the_anthropic_sdks_own_span_of_an_async_call_stays_out_of_the_store(
    fake_llm: FakeLLM, provider: TracerProvider
) -> None:
    casebank.init(tracer_provider=provider)
    options: Any = {"tracer_provider": provider}

    @casebank.trace(name="support")
    async def ask() -> None:
        async with anthropic.AsyncAnthropic(
            api_key=API_KEY, base_url=fake_llm.anthropic_url, open_telemetry=options
        ) as client:
            await client.messages.create(model="claude-x", max_tokens=10, messages=ASK)  # type: ignore[arg-type]
            async with client.messages.stream(model="claude-x", max_tokens=10, messages=ASK) as stream:  # type: ignore[arg-type]
                await stream.until_done()

    asyncio.run(ask())
    assert_one_span_a_call_with_the_messages(2)


def chat_plain_and_streamed(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=ASK)  # type: ignore[arg-type]
    list(client.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True))  # type: ignore[call-overload]


def run_openai(fake_llm: FakeLLM, client: openai.OpenAI | None = None) -> None:
    with client or openai.OpenAI(api_key=API_KEY, base_url=fake_llm.openai_url, max_retries=0) as used:
        support(lambda: chat_plain_and_streamed(used))


class Other:
    """Another package's openai instrumentation on the app's provider; `undo()` in teardown."""

    def __init__(self, module: str, provider: TracerProvider) -> None:
        self.instrumentor = pytest.importorskip(module).OpenAIInstrumentor()
        self.provider = provider
        self.on = False

    def instrument(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # OpenLLMetry loads pydantic-v1-style models
            self.instrumentor.instrument(tracer_provider=self.provider)
        self.on = True

    def undo(self) -> None:
        if self.on:
            self.instrumentor.uninstrument()
            self.on = False


OPENINFERENCE = "openinference.instrumentation.openai"
OPENLLMETRY = "opentelemetry.instrumentation.openai"
OTEL_CONTRIB = "opentelemetry.instrumentation.openai_v2"


@pytest.fixture
def other(provider: TracerProvider, restored: None) -> Iterator[Callable[[str], Other]]:
    made: list[Other] = []

    def make(module: str) -> Other:
        made.append(Other(module, provider))
        return made[-1]

    yield make
    for instrumentation in made:
        instrumentation.undo()


def test_openinference_patches_the_http_layer_below_casebank_and_the_store_keeps_one_span(
    fake_llm: FakeLLM, provider: TracerProvider, other: Callable[[str], Other]
) -> None:
    other(OPENINFERENCE).instrument()
    casebank.init(tracer_provider=provider)
    run_openai(fake_llm)
    llm = assert_one_span_a_call_with_the_messages(2)
    assert {s["name"] for s in llm} == {"chat gpt-4o-mini"}
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize(
    "module", [pytest.param(OPENLLMETRY, id="openllmetry"), pytest.param(OTEL_CONTRIB, id="otel-contrib")]
)
@pytest.mark.parametrize(
    "casebank_first", [pytest.param(True, id="casebank-inside"), pytest.param(False, id="casebank-outside")]
)
def test_openai_instrumentation_on_either_side_of_casebank_makes_one_stored_span_with_the_messages(
    fake_llm: FakeLLM, provider: TracerProvider, other: Callable[[str], Other], module: str, casebank_first: bool
) -> None:
    instrumentation = other(module)
    if casebank_first:
        casebank.init(tracer_provider=provider)
    instrumentation.instrument()
    casebank.init(tracer_provider=provider)  # does nothing the second time
    run_openai(fake_llm)
    llm = assert_one_span_a_call_with_the_messages(2)
    # The outermost wrapper's span is the call's span: the other's when it was installed last.
    assert {"casebank.semconv_version" in s["attributes"] for s in llm} == {not casebank_first}
    assert len(fake_llm.requests) == 2


def test_a_client_wrapped_alone_is_outermost_and_the_global_instrumentation_stays_out_of_the_store(
    fake_llm: FakeLLM, provider: TracerProvider, other: Callable[[str], Other]
) -> None:
    casebank.init(tracer_provider=provider, instrument=False)
    other(OTEL_CONTRIB).instrument()
    run_openai(fake_llm, casebank.wrap(openai.OpenAI(api_key=API_KEY, base_url=fake_llm.openai_url, max_retries=0)))
    llm = assert_one_span_a_call_with_the_messages(2)
    assert all("casebank.semconv_version" in s["attributes"] for s in llm)


def test_an_enclosing_span_with_messages_of_its_own_gets_none_from_casebank(
    fake_llm: FakeLLM, provider: TracerProvider, restored: None
) -> None:
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    casebank.init(tracer_provider=provider)
    tracer = provider.get_tracer("other.instrumentation")
    own = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.input.messages": "theirs"}

    def enclosing(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        with tracer.start_as_current_span("chat", attributes=own):
            return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(Completions, "create", enclosing)  # undone by `restored`
    run_openai(fake_llm)
    spans = [s for s in exported.get_finished_spans() if s.name == "chat"]
    assert [dict(s.attributes or {}) for s in spans] == [own, own]


def test_with_capture_content_off_an_enclosing_span_gets_no_messages_from_casebank(
    fake_llm: FakeLLM, provider: TracerProvider, other: Callable[[str], Other]
) -> None:
    exported = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    casebank.init(tracer_provider=provider, capture_content=False)
    other(OTEL_CONTRIB).instrument()
    run_openai(fake_llm)
    _, llm = stored_llm_spans()
    assert len(llm) == 2
    assert not [key for s in exported.get_finished_spans() for key in s.attributes or {} if "messages" in key]
