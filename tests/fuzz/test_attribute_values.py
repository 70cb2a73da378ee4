"""Span attribute values: anything an app may hand `set_attribute` (lone surrogates, NUL, huge
ints, NaN, bytes, mixed lists) goes through the real SDK span, `rows_for` and a real SQLite store:
the batch is written and nothing raises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from casebank._json import recorded_json
from casebank.capture._attributes import ENTRYPOINT, INPUT, IS_ROOT
from casebank.capture._rows import rows_for
from casebank.store import Store, open_store
from tests.fuzz.strategies import any_text, attribute_values, wild_scalars

_exporter = InMemorySpanExporter()
_provider = TracerProvider(resource=Resource.create({"service.name": "fuzz"}))
_provider.add_span_processor(SimpleSpanProcessor(_exporter))
_tracer = _provider.get_tracer("casebank")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """One store for all of a test's examples (opening one per example would be most of the time)."""
    with open_store(tmp_path / "casebank.db") as opened:
        yield opened


def write_span(store: Store, name: str, attributes: dict[str, Any], event: dict[str, Any]) -> list[dict[str, Any]]:
    """One root span with these attributes through the SDK, the writer's rows and a real store."""
    _exporter.clear()
    with _tracer.start_as_current_span(name) as span:
        span.set_attributes({IS_ROOT: True, ENTRYPOINT: "app:answer"})
        for key, value in attributes.items():
            span.set_attribute(key, value)
        span.add_event("e", event)
    span_rows, trace_rows = rows_for(_exporter.get_finished_spans())
    store.write_spans(span_rows, trace_rows)
    return store.trace_spans(span_rows[0][0])


@given(
    name=any_text,
    attributes=st.dictionaries(any_text, attribute_values, max_size=5),
    event=st.dictionaries(st.text(max_size=5), attribute_values, max_size=3),
)
def test_any_attribute_values_are_written_with_their_batch(
    store: Store, name: str, attributes: dict[str, Any], event: dict[str, Any]
) -> None:
    assert len(write_span(store, name, attributes, event)) == 1


_nested = st.recursive(
    wild_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=10,
)


@given(value=_nested)
def test_any_recorded_input_is_json_that_a_store_keeps(store: Store, value: Any) -> None:
    text = recorded_json({"arg": value})
    assert text.startswith("{")
    stored = write_span(store, "answer", {INPUT: text}, {})
    assert stored[0]["name"] == "answer"
