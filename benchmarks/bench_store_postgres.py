"""The capture writer into PostgreSQL: spans/s, beside raw inserts of the same rows.

As benchmarks/bench_store.py does for SQLite: spans of about 2 KB are finished while the writer
is held back, then one flush writes them all (conversion to rows, redaction, one `unnest`
statement a table in one transaction a batch of 2,000). References, same rows, same database, same
run: psycopg's executemany in one transaction (pipelined), and COPY into the spans table. Target:
the writer at least half of raw executemany.

The server is a throwaway PostgreSQL started here with the machine's initdb and pg_ctl (fsync on,
as in production), or the one named by CASEBANK_BENCH_POSTGRES (a URL of an empty database).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/postgres_server.py

import psycopg
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks.bench_store import PAYLOAD, finished_spans
from casebank.capture._processor import StoreSpanProcessor
from casebank.capture._rows import rows_for
from casebank.store import SPAN_COLUMNS, open_store
from tests.postgres_server import PostgresServer

SPANS = 60_000


def bench_writer(url: str) -> float:
    processor = StoreSpanProcessor(url, max_queue=SPANS + 1, max_batch=SPANS + 10, interval_s=3600)
    assert processor.wait_until_open(30) is None
    provider = TracerProvider()
    provider.add_span_processor(processor)
    finished_spans(provider, SPANS, PAYLOAD * 2)
    processor._max_batch = 2_000  # the default batch size, for the flush being measured
    start = time.perf_counter()
    assert processor.force_flush(600_000)
    elapsed = time.perf_counter() - start
    processor.shutdown(timeout_s=60)
    with open_store(url) as store:
        assert store.counts().spans == SPANS, store.counts()
    return SPANS / elapsed


def _rows() -> list[tuple[object, ...]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    finished_spans(provider, SPANS)
    span_rows, _ = rows_for(exporter.get_finished_spans())
    keys: dict[str, int] = {}
    return [(*r, keys.setdefault(str(r[0]), len(keys) + 1)) for r in span_rows]


def bench_raw(url: str) -> tuple[float, float]:
    """(executemany rows/s, COPY rows/s) of the same rows into the store's spans table."""
    rows = _rows()
    columns = (*SPAN_COLUMNS, "trace_key")
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE spans")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO spans ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                rows,
            )
        conn.commit()
        many = len(rows) / (time.perf_counter() - start)
        conn.execute("TRUNCATE spans")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY spans ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        copied = len(rows) / (time.perf_counter() - start)
    return many, copied


def main() -> None:
    given = os.environ.get("CASEBANK_BENCH_POSTGRES")
    server = None
    if given:
        url = given
    else:
        server = PostgresServer(durable=True)
        server.start()
        server.execute("CREATE DATABASE bench_writer")
        server.execute("CREATE DATABASE bench_raw")
        url = server.url("bench_writer")
    try:
        writer = bench_writer(url)
        raw_url = url if given else server.url("bench_raw")  # type: ignore[union-attr]
        open_store(raw_url).close()
        many, copied = bench_raw(raw_url)
        print(f"PostgreSQL, {SPANS:,} spans of ~2 KB of attributes JSON")
        verdict = "OK" if writer >= 0.5 * many else "MISSED"
        print(f"background writer        {writer:10,.0f} spans/s")
        print(
            f"raw executemany, 1 txn   {many:10,.0f} rows/s    writer/raw = {writer / many:.2f}"
            f"   (target >= 0.50: {verdict})"
        )
        print(f"raw COPY, 1 txn          {copied:10,.0f} rows/s    writer/COPY = {writer / copied:.2f}")
    finally:
        if server is not None:
            server.destroy()


if __name__ == "__main__":
    main()
