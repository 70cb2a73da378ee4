"""The span processor's promises: bounded queue that drops and counts, flush, fork, exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext, Tracer

from casebank.capture._processor import BACKLOG_BATCHES, CHECKPOINT_EVERY_SPANS, StoreSpanProcessor
from casebank.store import Store


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
    with Store(db_path) as store:
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
    with Store(db_path) as store:
        counts = store.counts()
        names = [row[0] for row in store.conn.execute("SELECT name FROM spans")]
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


def test_the_wal_is_copied_into_the_database_beside_the_writer(db_path: Path) -> None:
    # A checkpoint is asked for every CHECKPOINT_EVERY_SPANS spans and runs on its own thread and
    # connection; shutdown serves what was asked. Until a checkpoint, new pages live only in the
    # WAL; after it, the database file itself holds every page.
    processor = StoreSpanProcessor(db_path, interval_s=3600)
    assert processor.wait_until_open(10) is None
    tracer = _tracer_into(processor)
    for n in range(CHECKPOINT_EVERY_SPANS):
        tracer.start_span(f"span {n}").end()
    assert processor.force_flush(60_000)
    # An open reader keeps the writer's close from checkpointing: only the checkpointer copies.
    with Store(db_path) as reader:
        pages = reader.conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = reader.conn.execute("PRAGMA page_size").fetchone()[0]
        processor.shutdown()
        assert processor._checkpointer.checkpoints == 1
        assert db_path.stat().st_size == pages * page_size
        assert reader.counts().spans == CHECKPOINT_EVERY_SPANS


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
    with Store(db_path) as store:
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
    with Store(db_path) as store:
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
    with Store(db_path) as store:
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
    with Store(db_path) as store:
        outputs = sorted(t.output for t in store.recent_traces(10))
    assert outputs == ["child", "parent"]


def test_a_writer_killed_mid_write_leaves_a_store_that_opens_and_is_consistent(tmp_path: Path, db_path: Path) -> None:
    script = tmp_path / "busy.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, casebank

            @casebank.trace
            def handle(n, text):
                return text[::-1]

            casebank.init()
            n = 0
            while True:
                for _ in range(500):
                    handle(n, "x" * 2000)
                    n += 1
                if n == 2000:
                    print("flushed" if casebank.flush(60) else "flush timed out", flush=True)
            """
        )
    )
    with subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "flushed"  # the writer is busy writing from here on
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    with Store(db_path) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = store.counts()
        assert counts.traces >= 2000
        # Batches are atomic: every stored trace row counts exactly the spans stored for it.
        mismatched = store.conn.execute(
            "SELECT count(*) FROM traces t "
            "WHERE span_count != (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)"
        ).fetchone()[0]
        assert mismatched == 0


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
    with Store(db_path) as store:
        incident = store.get_incident(incident_id)
        store.conn.execute("DELETE FROM spans")  # pruning traces must not touch the incident
        store.conn.execute("DELETE FROM traces")
        kept = store.get_incident(incident_id)
    assert incident.trace_id == trace_id
    assert incident.input == {"question": "is A-1 in stock?"}
    assert incident.output["answer"] == "out of stock"
    assert sorted(s["name"] for s in kept.spans) == ["answer", "lookup"]
    assert kept.reasons[0]["reason"] == "A-1 is in stock" and kept.reasons[0]["flagged_by"] == "support"
