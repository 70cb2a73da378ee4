"""The span processor's promises: bounded queue that drops and counts, flush, fork, exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext, Tracer

from casebank.capture._processor import BACKLOG_BATCHES, StoreSpanProcessor
from casebank.store import open_store


def _tracer_into(processor: StoreSpanProcessor) -> Tracer:
    """casebank's tracer on a provider of its own whose only processor is `processor`."""
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("casebank")


def test_a_full_queue_drops_and_counts_instead_of_blocking(db_path: Path) -> None:
    # The writer never wakes on its own here (long interval, batch bigger than the queue), so
    # the queue fills deterministically on the app's thread.
    processor = StoreSpanProcessor(db_path, max_queue=5, max_batch=100, interval_s=3600)
    assert processor.wait_until_open(10) is None
    tracer = _tracer_into(processor)
    for n in range(12):
        tracer.start_span(f"span {n}").end()
    assert processor.force_flush(10_000)
    with open_store(db_path) as store:
        counts = store.counts()
    assert counts.spans == 5
    assert counts.dropped_spans == 7
    assert processor.dropped_total == 7
    processor.shutdown()


class _Unreadable(ReadableSpan):
    """A span from some other SDK whose attributes cannot be read."""

    @property
    def attributes(self) -> Any:
        raise RuntimeError("attributes went away")


def test_a_batch_that_cannot_be_converted_is_counted_as_dropped_and_the_writer_goes_on(db_path: Path) -> None:
    processor = StoreSpanProcessor(db_path, interval_s=3600)
    assert processor.wait_until_open(10) is None
    tracer = _tracer_into(processor)
    processor.on_end(_Unreadable(name="broken", context=SpanContext(1, 2, is_remote=False)))
    assert processor.force_flush(10_000)
    tracer.start_span("fine").end()
    assert processor.force_flush(10_000)
    with open_store(db_path) as store:
        counts = store.counts()
        names = [span["name"] for trace in store.recent_traces() for span in store.trace_spans(trace.trace_id)]
    assert names == ["fine"]
    assert counts.dropped_spans == 1
    assert processor.failed_batches == 1
    processor.shutdown()


def test_the_writer_sees_the_app_at_work_only_while_spans_arrive(db_path: Path) -> None:
    # The converter pauses for the app's threads only when spans arrived (or were dropped) during
    # its last slice of work: a quiet app is not paid for.
    processor = StoreSpanProcessor(db_path, max_queue=1, interval_s=3600)
    assert processor.wait_until_open(10) is None
    tracer = _tracer_into(processor)
    app_busy = processor._spans_arriving()
    assert not app_busy()
    tracer.start_span("queued").end()
    assert app_busy()
    assert not app_busy()
    tracer.start_span("dropped: the queue holds one").end()
    assert app_busy()
    assert not app_busy()
    processor.shutdown()


def test_a_backlog_is_written_in_bigger_batches(db_path: Path) -> None:
    # Each batch rewrites the index pages its random trace ids land on, so a deep queue is
    # taken BACKLOG_BATCHES batches at a time; what is left goes in batches of the usual size.
    processor = StoreSpanProcessor(db_path, max_queue=1000, max_batch=1000, interval_s=3600)
    assert processor.wait_until_open(10) is None
    tracer = _tracer_into(processor)
    for n in range(2 * 10 * BACKLOG_BATCHES + 15):
        tracer.start_span(f"span {n}").end()
    processor._max_batch = 10
    assert processor.force_flush(10_000)
    assert processor.batches_written == 2 + 2  # two of 10 * BACKLOG_BATCHES, then 10 and 5 left
    with open_store(db_path) as store:
        assert store.counts().spans == 2 * 10 * BACKLOG_BATCHES + 15
    processor.shutdown()


def test_flush_after_shutdown_and_a_second_shutdown_are_harmless(db_path: Path) -> None:
    # Only shutdown wakes the writer here (long interval, big batch): what is stored, shutdown wrote.
    processor = StoreSpanProcessor(db_path, interval_s=3600)
    assert processor.wait_until_open(10) is None
    tracer = _tracer_into(processor)
    tracer.start_span("ended before shutdown").end()

    processor.shutdown()
    tracer.start_span("ended after shutdown").end()  # refused: no writer is left to write it
    processor.shutdown()

    # True only because nothing was queued after shutdown: a span taken in then would be lost.
    assert processor.force_flush(1000) is True
    with open_store(db_path) as store:
        assert [trace.name for trace in store.recent_traces(10)] == ["ended before shutdown"]
        assert store.counts().spans == 1


def test_spans_queued_at_interpreter_exit_are_written(run_python, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_python(
        """
        import casebank

        @casebank.trace
        def handle(n):
            return n * 2

        casebank.init()
        for n in range(300):
            handle(n)
        # no flush, no shutdown: atexit must write them
        """
    )
    with open_store(db_path) as store:
        assert store.counts().traces == 300


def test_a_forked_child_writes_its_own_spans(run_python, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_python(
        """
        import os, casebank

        @casebank.trace
        def handle(who):
            return who

        casebank.init()
        handle("parent")
        pid = os.fork()
        if pid == 0:
            handle("child")
            ok = casebank.flush()
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        casebank.shutdown()
        """
    )
    with open_store(db_path) as store:
        outputs = sorted(t.output for t in store.recent_traces(10))
    assert outputs == ["child", "parent"]


def test_flag_from_another_process_snapshots_the_whole_trace(run_python, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = run_python(
        """
        import json, casebank

        @casebank.trace
        def lookup(sku):
            return {"sku": sku, "stock": 0}

        @casebank.trace
        def answer(question):
            lookup("A-1")
            return {"answer": "out of stock", "trace_id": casebank.current_trace_id()}

        casebank.init()
        print(json.dumps(answer("is A-1 in stock?")))
        """
    )
    trace_id = json.loads(proc.stdout)["trace_id"]
    flagger = run_python(
        f"""
        import casebank
        print(casebank.flag("{trace_id}", reason="A-1 is in stock", flagged_by="support"))
        """
    )
    incident_id = flagger.stdout.strip()
    with open_store(db_path) as store:
        incident = store.get_incident(incident_id)
    assert incident.trace_id == trace_id
    assert incident.input == {"question": "is A-1 in stock?"}
    assert incident.output["answer"] == "out of stock"
    assert sorted(s["name"] for s in incident.spans) == ["answer", "lookup"]
    assert incident.reasons[0]["reason"] == "A-1 is in stock" and incident.reasons[0]["flagged_by"] == "support"
