"""Added time per call of a @casebank.trace'd function, with the real store writer running.

Prints the median and p99 of the undecorated and the decorated call and the difference.
Target (issue 2): median added <= 50 µs per call.

Then typed arguments against plain ones, in the same run (issue 15): the same traced call made
with a dataclass and a pydantic model, and with `str` arguments carrying the same text. Typed
adds the type lookup (`casebank.input_types`, cached by type) and the models' own serialization.
Target: typed adds at most 5 µs at p50.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pydantic

import casebank

CALLS = 20_000
ROUNDS = 5


def handler(ticket: str, customer: dict[str, str], top_k: int = 3) -> str:
    return "Refunds are possible within 14 days of delivery. " * 8


traced = casebank.trace(handler)


@dataclasses.dataclass
class Ticket:
    id: str
    text: str


class Customer(pydantic.BaseModel):
    id: str
    tier: str


@casebank.trace
def typed_handler(ticket: Ticket, customer: Customer, top_k: int = 3) -> str:
    return "Refunds are possible within 14 days of delivery. " * 8


@casebank.trace
def str_handler(ticket: str, customer: str, top_k: int = 3) -> str:
    return "Refunds are possible within 14 days of delivery. " * 8


def typed_vs_str_ns(n: int) -> tuple[list[float], list[float]]:
    """Per-call times of the typed and the str call, alternating so that both see the same writer load."""
    text = "Hello, my order #1234 arrived broken; can I get a refund? " * 10
    ticket, customer = Ticket(id="t-1234", text=text), Customer(id="c-42", tier="gold")
    typed, plain = [], []
    for _ in range(n):
        start = time.perf_counter_ns()
        typed_handler(ticket, customer)
        middle = time.perf_counter_ns()
        str_handler(text, "c-42 gold")
        typed.append(middle - start)
        plain.append(time.perf_counter_ns() - middle)
    return typed, plain


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
        typed_vs_str_ns(2_000)  # warm up: the types' descriptors are looked up once
        typed_p50, str_p50 = [], []
        for _ in range(ROUNDS):
            typed, plain = typed_vs_str_ns(CALLS // 2)
            casebank.flush(30)
            typed_p50.append(statistics.median(typed))
            str_p50.append(statistics.median(plain))
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
    typed_us = statistics.median(typed_p50) / 1000
    str_us = statistics.median(str_p50) / 1000
    typed_added = typed_us - str_us
    print(f"traced, str args   p50 {str_us:8.2f} µs")
    print(f"traced, typed args p50 {typed_us:8.2f} µs   (a dataclass and a pydantic model)")
    print(f"typed adds         p50 {typed_added:8.2f} µs   (target <= 5 µs: {'OK' if typed_added <= 5 else 'MISSED'})")
    print(f"stored traces {counts.traces}, dropped spans {counts.dropped_spans}")


if __name__ == "__main__":
    main()
