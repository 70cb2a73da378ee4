"""Added time per call of a @casebank.trace'd function, with the real store writer running.

Prints the median and p99 of the undecorated and the decorated call and the difference.
Target (issue 2): median added <= 50 µs per call.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import casebank

CALLS = 20_000
ROUNDS = 5


def handler(ticket: str, customer: dict[str, str], top_k: int = 3) -> str:
    return "Refunds are possible within 14 days of delivery. " * 8


traced = casebank.trace(handler)


def per_call_ns(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    ticket = "Hello, my order #1234 arrived broken; can I get a refund? " * 10
    customer = {"id": "c-42", "tier": "gold"}
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn(ticket, customer)
        samples.append(time.perf_counter_ns() - start)
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        casebank.init(db=Path(tmp) / "bench.db")
        per_call_ns(traced, 2_000)  # warm up
        bare_medians, traced_medians, traced_p99 = [], [], []
        for _ in range(ROUNDS):
            bare = per_call_ns(handler, CALLS)
            wrapped = per_call_ns(traced, CALLS)
            casebank.flush(30)
            bare_medians.append(statistics.median(bare))
            traced_medians.append(statistics.median(wrapped))
            traced_p99.append(statistics.quantiles(wrapped, n=100)[98])
        casebank.shutdown()
        from casebank.store import open_store

        with open_store(Path(tmp) / "bench.db") as store:
            counts = store.counts()
    bare_us = statistics.median(bare_medians) / 1000
    traced_us = statistics.median(traced_medians) / 1000
    added = traced_us - bare_us
    print(f"python {sys.version.split()[0]}, {CALLS} calls x {ROUNDS} rounds, writer running")
    print(f"undecorated call   median {bare_us:8.2f} µs")
    print(f"@casebank.trace    median {traced_us:8.2f} µs   p99 {statistics.median(traced_p99) / 1000:8.2f} µs")
    print(f"added per call     median {added:8.2f} µs   (target <= 50 µs: {'OK' if added <= 50 else 'MISSED'})")
    print(f"stored traces {counts.traces}, dropped spans {counts.dropped_spans}")


if __name__ == "__main__":
    main()
