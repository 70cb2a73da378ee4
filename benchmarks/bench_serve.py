"""`cases serve` under load: four client processes exporting OTLP protobuf to one server.

    python benchmarks/bench_serve.py [--seconds 30] [--clients 4] [--db URL]

The server is the real `cases serve` in its own process, on a SQLite file in a temporary folder
(or the store `--db` names: a postgresql:// URL). Each client process builds one batch of spans
with the OpenTelemetry SDK's own types, encodes it once with the OTLP exporter's encoder, and
posts it as an exporter does, one request at a time, for `--seconds`, with each request's trace
ids rewritten in the encoded bytes (so that every span is new, and the clients' share of the
machine's cores goes to sending rather than to encoding). A fifth stream of requests flags
traces stored before the load began, ten a second. Printed:

- spans/s stored: spans the store gained over the time the clients ran, beside raw inserts of
  the same rows into the same database in the same run (executemany in one transaction; for
  PostgreSQL into a scratch table like `spans`): target >= 0.5x;
- request p50/p99 of the exports, and flag p50/p99 under that load (target p99 <= 100 ms);
- spans lost: acknowledged (2xx) but not stored, plus refused or failed (target 0).

All processes share this machine's cores: the clients' encoding competes with the server.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TOKEN = "bench-token-0123456789abcdef0123456789"
SPANS_PER_REQUEST = 256  # 128 traces: an entry span and an LLM span each (BatchSpanProcessor sends up to 512)
PAYLOAD = "Your refund was approved and will reach your card within 5 to 7 business days. " * 12  # ~1 KB
FLAGS_PER_S = 10
PRELOADED = 400  # traces stored before the load, for the flags to name


MARKER = b"\xfe\xed\xfa\xce\xca\xfe\xba\xbe"  # the first 8 bytes of every trace id of the template


def make_spans(client: int, request: int) -> list[Any]:
    """One request's spans: ReadableSpans as the SDK hands them to an exporter. Trace ids start
    with the 8 bytes (client + 1, request); `template` puts MARKER there instead."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

    resource = Resource({"service.name": "support-bot"})
    scope = InstrumentationScope("casebank", "1.0")
    now = time.time_ns()
    spans = []
    for n in range(SPANS_PER_REQUEST // 2):
        high = int.from_bytes(MARKER, "big") if client < 0 else (client + 1) << 32 | request
        trace_id = high << 64 | n + 1
        root = SpanContext(trace_id, trace_id & 0xFFFFFFFFFFFF | 1 << 62, False, TraceFlags(1))
        child = SpanContext(trace_id, trace_id & 0xFFFFFFFFFFFF | 1 << 61, False, TraceFlags(1))
        spans.append(
            ReadableSpan(
                name="answer",
                context=root,
                resource=resource,
                instrumentation_scope=scope,
                attributes={
                    "casebank.entrypoint": "support_bot.bot:answer",
                    "casebank.root": True,
                    "casebank.input": f'{{"ticket": "{PAYLOAD[:600]}"}}',
                    "casebank.output": f'"{PAYLOAD[:600]}"',
                    "casebank.attributes.ticket_id": f"{client}-{request}-{n}",
                },
                kind=SpanKind.INTERNAL,
                start_time=now,
                end_time=now + 900_000_000,
            )
        )
        spans.append(
            ReadableSpan(
                name="chat gpt-4o-mini",
                context=child,
                parent=root,
                resource=resource,
                instrumentation_scope=scope,
                attributes={"gen_ai.operation.name": "chat", "gen_ai.output.messages": PAYLOAD * 2, "n": n},
                kind=SpanKind.CLIENT,
                start_time=now + 1000,
                end_time=now + 800_000_000,
            )
        )
    return spans


def encode(spans: list[Any]) -> bytes:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    body: bytes = encode_spans(spans).SerializePartialToString()
    return body


def template() -> bytes:
    body = encode(make_spans(-1, 0))
    assert body.count(MARKER) == SPANS_PER_REQUEST  # in each span's trace id, and nowhere else
    return body


def ids_of(client: int, request: int) -> bytes:
    return ((client + 1) << 32 | request).to_bytes(8, "big")


def client_main(url: str, client: int, seconds: float, results: Any) -> None:
    import requests

    body_template = template()

    session = requests.Session()
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"}
    acknowledged = failed = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    request = 0
    while time.monotonic() < deadline:
        request += 1
        body = body_template.replace(MARKER, ids_of(client, request))
        start = time.perf_counter()
        try:
            ok = session.post(url + "/v1/traces", data=body, headers=headers, timeout=60).ok
        except requests.RequestException:
            ok = False
        latencies.append((time.perf_counter() - start) * 1000)
        if ok:
            acknowledged += SPANS_PER_REQUEST
        else:
            failed += SPANS_PER_REQUEST
    results.put({"acknowledged": acknowledged, "failed": failed, "latencies": latencies})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    env = {**os.environ, "CASEBANK_TOKEN": TOKEN}
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "casebank", "serve", "--db", db, "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"cases serve did not start: {(folder / 'server.log').read_text()}")


def span_count(url: str) -> int:
    import httpx

    counts = httpx.get(url + "/api/counts", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60).json()
    return int(counts["spans"])


def preload(url: str) -> list[str]:
    """Traces for the flags to name, stored before the load."""
    import httpx

    body = encode(make_spans(99, 1) + make_spans(99, 2) + make_spans(99, 3) + make_spans(99, 4))
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url + "/v1/traces", content=body, headers=headers, timeout=60).status_code == 200
    return [f"{(99 + 1) << 96 | r << 64 | n + 1:032x}" for r in (1, 2, 3, 4) for n in range(SPANS_PER_REQUEST // 2)]


def flag_under_load(url: str, trace_ids: list[str], stop: threading.Event, latencies: list[float]) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(timeout=60) as client:
        for trace_id in trace_ids:
            if stop.wait(1 / FLAGS_PER_S):
                return
            start = time.perf_counter()
            answer = client.post(url + "/api/flags", json={"trace_id": trace_id, "reason": "bench"}, headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            assert answer.status_code in (200, 201), answer.text


def raw_insert_rate(db: str, folder: Path) -> float:
    """Rows/s of executemany of the same span rows in one transaction, into the same database."""
    from casebank.server._otlp import decode, rows_of
    from casebank.store import SPAN_COLUMNS, open_store

    rows: list[tuple[Any, ...]] = []
    for request in range(1, 41):  # 10k rows
        spans, _ = rows_of(decode(encode(make_spans(7, request)), "application/x-protobuf"))
        rows += spans
    columns = ", ".join(SPAN_COLUMNS)
    keyed = [(*r, i // 2 + 1) for i, r in enumerate(rows)]  # the store's trace_key: traces numbered as they come
    if db.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(db) as conn:
            # A table like `spans`, with its primary key, in the same database (dropped at the end).
            conn.execute("CREATE TEMP TABLE raw_spans (LIKE spans INCLUDING ALL)")
            start = time.perf_counter()
            with conn.cursor() as cur:
                placeholders = ", ".join(["%s"] * (len(SPAN_COLUMNS) + 1))
                cur.executemany(f"INSERT INTO raw_spans ({columns}, trace_key) VALUES ({placeholders})", keyed)
            conn.commit()
            return len(rows) / (time.perf_counter() - start)
    import sqlite3

    raw = folder / "raw.db"
    open_store(raw).close()
    conn3 = sqlite3.connect(raw, isolation_level=None)
    conn3.execute("PRAGMA journal_mode = WAL")
    conn3.execute("PRAGMA synchronous = NORMAL")
    start = time.perf_counter()
    conn3.execute("BEGIN")
    conn3.executemany(
        f"INSERT INTO spans ({columns}, trace_key) VALUES ({', '.join('?' * (len(SPAN_COLUMNS) + 1))})", keyed
    )
    conn3.execute("COMMIT")
    rate = len(rows) / (time.perf_counter() - start)
    conn3.close()
    return rate


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--db", default=None, help="store URL (default: a SQLite file in a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db = args.db or str(folder / "serve.db")
        backend = "PostgreSQL" if db.startswith(("postgresql://", "postgres://")) else "SQLite"
        proc, url = start_server(db, folder)
        try:
            flag_targets = preload(url)
            before = span_count(url)
            results: Any = mp.get_context("spawn").Queue()
            clients = [
                mp.get_context("spawn").Process(target=client_main, args=(url, c, args.seconds, results))
                for c in range(args.clients)
            ]
            stop, flag_ms = threading.Event(), []  # type: ignore[var-annotated]
            flagger = threading.Thread(target=flag_under_load, args=(url, flag_targets, stop, flag_ms))
            start = time.perf_counter()
            for client in clients:
                client.start()
            flagger.start()
            done = [results.get() for _ in clients]
            elapsed = time.perf_counter() - start
            stop.set()
            flagger.join()
            for client in clients:
                client.join()
            stored = span_count(url) - before
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        raw = raw_insert_rate(db, folder)
    acknowledged = sum(d["acknowledged"] for d in done)
    failed = sum(d["failed"] for d in done)
    requests_ms = [ms for d in done for ms in d["latencies"]]
    rate = stored / elapsed
    lost = acknowledged - stored + failed
    print(f"{backend}, {args.clients} clients x {args.seconds:.0f} s, {SPANS_PER_REQUEST} spans a request")
    ratio = rate / raw
    print(
        f"stored            {rate:10,.0f} spans/s   raw executemany {raw:,.0f} rows/s   stored/raw = {ratio:.2f}"
        f"   (target >= 0.50: {'OK' if ratio >= 0.5 else 'MISSED'})"
    )
    p50, p99 = pct(requests_ms, 0.5), pct(requests_ms, 0.99)
    print(f"requests          p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   ({len(requests_ms)} requests)")
    flag_p99 = pct(flag_ms, 0.99)
    print(
        f"flags under load  p50 {pct(flag_ms, 0.5):7.1f} ms   p99 {flag_p99:7.1f} ms   ({len(flag_ms)} flags)"
        f"   (target p99 <= 100 ms: {'OK' if flag_p99 <= 100 else 'MISSED'})"
    )
    print(
        f"spans lost        {lost}   ({acknowledged:,} acknowledged, {stored:,} stored, {failed:,} refused or failed)"
        f"   (target 0: {'OK' if lost == 0 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
