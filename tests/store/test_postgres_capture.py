"""The capture writer straight into PostgreSQL: spans land from the writer's thread, and a database
that goes away and comes back costs the app nothing but the spans it could not keep, counted."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

import casebank
from casebank.capture._processor import StoreSpanProcessor
from casebank.store import open_store
from tests.postgres_server import PostgresServer, require_server


def _eventually(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A server of the test's own, since the test stops and starts it."""
    try:
        own = PostgresServer()
        own.start()
        own.execute("CREATE DATABASE app")
    except Exception as exc:
        require_server(f"cannot start a PostgreSQL server for the test: {exc}")
    try:
        yield own
    finally:
        own.destroy()


def _tracer_into(processor: StoreSpanProcessor) -> Tracer:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("casebank")


def _spans_named(url: str, prefix: str) -> int:
    with open_store(url) as store:
        return sum(t.name is not None and t.name.startswith(prefix) for t in store.recent_traces(10_000))


def test_init_with_a_postgresql_url_captures_into_it(postgres_url: str) -> None:
    seen: list[str | None] = []

    @casebank.trace
    def answer(question: str) -> str:
        seen.append(casebank.current_trace_id())
        return question.upper()

    casebank.init(db=postgres_url, instrument=False)
    assert answer("refund?") == "REFUND?"
    assert casebank.flush()
    with open_store(postgres_url) as store:
        [trace] = store.recent_traces()
        assert (trace.trace_id, trace.output, trace.span_count) == (seen[0], "REFUND?", 1)
    # casebank.flag goes to the store init() writes to.
    incident_id = casebank.flag(trace.trace_id, reason="shouted")
    with open_store(postgres_url) as store:
        assert store.get_incident(incident_id).output == "REFUND?"


def test_a_database_that_goes_away_drops_and_counts_spans_then_they_land_again(
    server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.url("app")
    processor = StoreSpanProcessor(url, max_queue=100, interval_s=0.05)
    assert processor.wait_until_open(10) is None
    tracer = _tracer_into(processor)
    for n in range(3):
        tracer.start_span(f"before {n}").end()
    assert processor.force_flush(30_000)
    assert _spans_named(url, "before") == 3

    with caplog.at_level(logging.INFO, logger="casebank"):
        server.stop()
        tracer.start_span("during 0").end()
        _eventually(lambda: processor.outages == 1)
        for n in range(1, 303):  # the app goes on: each call returns while nothing can be stored
            tracer.start_span(f"during {n}").end()
        _eventually(lambda: processor.reconnect_attempts >= 3)  # tried, and backed off, several times
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "connecting" in r.msg]
        warnings += [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name == "casebank"]
        assert len(warnings) == 1 and warnings[0].startswith(f"casebank: cannot reach store '{url}' (")

        server.start()
        _eventually(lambda: _spans_named(url, "during") > 0)  # the spans kept in memory land first
        tracer.start_span("after").end()
        _eventually(lambda: _spans_named(url, "after") == 1)
    with open_store(url) as store:
        dropped = store.counts().dropped_spans
    # Every span of the outage was either stored once the database was back, or counted as dropped.
    assert dropped >= 200 and _spans_named(url, "during") + dropped == 303
    assert processor.outages == 1
    assert [r.getMessage().split(" after ")[0] for r in caplog.records if r.levelno == logging.INFO] == [
        f"casebank: store '{url}' is back"
    ]
    processor.shutdown()


def test_an_app_that_starts_before_its_database_captures_once_the_database_is_up(server: PostgresServer) -> None:
    url = server.url("app")
    server.stop()
    processor = StoreSpanProcessor(url, interval_s=0.05)
    assert processor.wait_until_open(10) is None  # the app starts; capture waits for the database
    tracer = _tracer_into(processor)
    tracer.start_span("early").end()
    server.start()
    _eventually(lambda: _spans_named(url, "early") == 1)
    processor.shutdown()
