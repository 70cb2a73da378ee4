"""Real `openai`/`anthropic` clients against the fake server; spans caught by an in-memory exporter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import casebank
from casebank.integrations import uninstrument
from tests.fakes import API_KEY, FakeLLM, fake_llm

__all__ = ["fake_llm"]


@pytest.fixture(autouse=True)
def _uninstrumented() -> Iterator[None]:
    uninstrument()
    yield
    casebank.shutdown()
    uninstrument()


class Spans:
    """casebank initialised on a provider whose finished spans land in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def llm(self) -> list[ReadableSpan]:
        return [s for s in self.all() if s.attributes and "gen_ai.operation.name" in s.attributes]

    def one(self) -> ReadableSpan:
        spans = self.llm()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]


@pytest.fixture
def spans(caplog: pytest.LogCaptureFixture) -> Iterator[Spans]:
    """casebank.init on an in-memory provider, openai and anthropic instrumented.

    After the test: no span was ended twice (the SDK warns when one is) and casebank logged no
    failure of its own."""
    caught = Spans()
    casebank.init(tracer_provider=caught.provider, instrument=["openai", "anthropic"])
    with caplog.at_level(logging.WARNING):
        yield caught
    records = caplog.get_records("setup") + caplog.get_records("call")
    problems = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert not [p for p in problems if "ended" in p or "casebank" in p], problems


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@pytest.fixture
def openai_client(fake_llm: FakeLLM) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=API_KEY, base_url=fake_llm.openai_url, max_retries=0) as client:
        yield client


@pytest.fixture
def anthropic_client(fake_llm: FakeLLM) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key=API_KEY, base_url=fake_llm.anthropic_url, max_retries=0) as client:
        yield client
