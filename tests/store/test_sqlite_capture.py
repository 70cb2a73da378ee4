"""The capture writer on the SQLite backend: what only a SQLite file shows (its WAL, its pages,
its integrity check). The writer's promises that hold for any store are in tests/capture."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from casebank.capture._processor import CHECKPOINT_EVERY_SPANS, StoreSpanProcessor
from casebank.store._sqlite import SQLiteStore


def _tracer_into(processor: StoreSpanProcessor) -> Tracer:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("casebank")


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
    with SQLiteStore(db_path) as reader:
        pages = reader.conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = reader.conn.execute("PRAGMA page_size").fetchone()[0]
        processor.shutdown()
        assert processor._checkpointer.checkpoints == 1
        assert db_path.stat().st_size == pages * page_size
        assert reader.counts().spans == CHECKPOINT_EVERY_SPANS


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

    with SQLiteStore(db_path) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = store.counts()
        assert counts.traces >= 2000
        # Batches are atomic: every stored trace row counts exactly the spans stored for it.
        mismatched = store.conn.execute(
            "SELECT count(*) FROM traces t "
            "WHERE span_count != (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)"
        ).fetchone()[0]
        assert mismatched == 0
