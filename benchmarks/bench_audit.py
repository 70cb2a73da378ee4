"""The leakage audit on a store of 100,000 traces: seconds, against a target of 30 s on 2 cores.

The store is built here, in a temporary folder, through `Store.write_spans`: each trace is a
root span and one chat span carrying what the product sent - system instructions (one of four
prompt versions, each with few-shot examples, two of which are cases of the suite, lightly
edited) and input messages (the few-shot turns, then the user's own question, different in every
trace). A tenth of the traces have an earlier turn of the conversation too, so that not every
prompt text repeats. The suite has 500 cases. Also timed, as a floor measured in the same run:
reading the same spans back through `llm_inputs_since` alone (what any audit must at least pay).

The same runs on PostgreSQL: the database named by CASEBANK_BENCH_POSTGRES (a URL of an empty
database), else a throwaway server started with the machine's initdb and pg_ctl.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from casebank.audit import AuditContext, run_audit
from casebank.replay import Case
from casebank.store import Store, open_store
from tests.postgres_server import PostgresServer, postgres_bin

TRACES = 100_000
CASES = 500
BATCH = 2_000
TARGET_S = 30.0
SINCE = "2024-05-01T00:00:00+00:00"
START_NS = 1_714_600_000 * 1_000_000_000  # 2024-05-01T21:46:40Z

_WORDS = (
    "refund order invoice account password reset delivery parcel late broken charge card plan upgrade cancel "
    "address change email login locked subscription trial discount coupon warranty return label tracking"
).split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "?"


def _cases(rng: random.Random) -> list[Case]:
    cases = []
    for n in range(CASES):
        cases.append(
            Case(
                id=f"case{n:04d}",
                created_at="2024-04-01T00:00:00+00:00",
                entrypoint="bot:answer",
                input={"question": f"Case {n}: " + _sentence(rng, 18)},
                expected=f"Answer {n}: " + _sentence(rng, 20),
                grader={"name": "exact"},
            )
        )
    return cases


def _prompts(cases: list[Case]) -> list[str]:
    versions = []
    for v in range(4):
        examples = "\n".join(
            f"Example {i}: Q: {cases[i].input['question'].upper()}  A: helpful answer number {i}."
            for i in (v, v + 1)  # cases 0..4 leak, in capitals and with double spaces
        )
        versions.append(f"You are the support bot, version {v}. Be brief and kind.\n{examples}\n" + "Policy. " * 200)
    return versions


def build(store: Store, cases: list[Case]) -> None:
    rng = random.Random(17)
    prompts = [orjson.dumps([{"type": "text", "content": p}]).decode() for p in _prompts(cases)]
    shot = {"role": "user", "parts": [{"type": "text", "content": "Where is my parcel?"}]}
    shot_answer = {"role": "assistant", "parts": [{"type": "text", "content": "It is on its way, track it here."}]}
    for first in range(0, TRACES, BATCH):
        spans, traces = [], []
        for n in range(first, first + BATCH):
            trace_id, root, chat = f"{n:032x}", f"{n:015x}1", f"{n:015x}2"
            start = START_NS + n * 1_000_000
            question = _sentence(rng, 14)
            messages = [shot, shot_answer]
            if n % 10 == 0:
                messages.append({"role": "user", "parts": [{"type": "text", "content": _sentence(rng, 12)}]})
            messages.append({"role": "user", "parts": [{"type": "text", "content": question}]})
            chat_attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.system_instructions": prompts[n % 4],
                "gen_ai.input.messages": orjson.dumps(messages).decode(),
                "gen_ai.output.messages": orjson.dumps([{"role": "assistant", "parts": []}]).decode(),
            }
            when = f"2024-05-01T21:46:{40 + n // 1000 % 20:02d}.000000+00:00"
            for span_id, parent, name, attributes in (
                (root, None, "answer", {"casebank.entrypoint": "bot:answer"}),
                (chat, root, "chat", chat_attributes),
            ):
                spans.append(
                    (trace_id, span_id, parent, name, "internal", when, start, 5.0, "ok", None,
                     orjson.dumps(attributes).decode(), None, "svc")
                )  # fmt: skip
            traces.append(
                (trace_id, "answer", "bot:answer", orjson.dumps({"question": question}).decode(), '"ok"', "ok",
                 None, when, start, 10.0, "svc", 2)
            )  # fmt: skip
        store.write_spans(spans, traces)


def bench(url: str, cases: list[Case], suite_dir: Path) -> tuple[float, float]:
    with open_store(url) as store:
        sum(1 for _ in store.llm_inputs_since(SINCE))  # once untimed: both timings then see a warm cache
        start = time.perf_counter()
        read = sum(1 for _ in store.llm_inputs_since(SINCE))
        floor = time.perf_counter() - start
        assert read == TRACES, read
        context = AuditContext(
            suite_dir=suite_dir, cases=cases, store=store, now="2024-05-03T00:00:00+00:00", options={"days": 7}
        )
        start = time.perf_counter()
        result = run_audit("leakage", context)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        covered = run_audit("coverage", context)
        print(f"  coverage audit over the same traces (no target): {time.perf_counter() - start:.1f} s")
    leaked = sorted({f["case_id"] for f in result.findings})
    assert leaked == [f"case{n:04d}" for n in range(5)], leaked
    assert covered.findings[0]["traces"] == TRACES, covered.findings
    return elapsed, floor


def _postgres() -> tuple[str | None, Any]:
    """A PostgreSQL URL: CASEBANK_BENCH_POSTGRES, else a throwaway server of the machine's
    PostgreSQL (as the tests start one), else none."""
    given = os.environ.get("CASEBANK_BENCH_POSTGRES")
    if given:
        return given, None
    if postgres_bin() is None:
        print("postgresql: skipped - no PostgreSQL on this machine (set CASEBANK_BENCH_POSTGRES)")
        return None, None
    server = PostgresServer()
    server.start()
    server.execute("CREATE DATABASE bench_audit")
    return server.url("bench_audit"), server


def main() -> None:
    cases = _cases(random.Random(3))
    with tempfile.TemporaryDirectory() as tmp:
        urls = [("sqlite", str(Path(tmp) / "bench.db"))]
        url, server = _postgres()
        if url is not None:
            urls.append(("postgresql", url))
        try:
            for name, url in urls:
                with open_store(url) as store:
                    start = time.perf_counter()
                    build(store, cases)
                    print(f"{name}: built {TRACES:,} traces in {time.perf_counter() - start:.1f} s")
                elapsed, floor = bench(url, cases, Path(tmp) / "evals")
                verdict = "ok" if elapsed < TARGET_S else "OVER TARGET"
                print(
                    f"{name}: leakage audit over {TRACES:,} traces and {CASES} cases: {elapsed:.1f} s "
                    f"(target < {TARGET_S:.0f} s: {verdict}); reading the spans alone: {floor:.1f} s"
                )
        finally:
            if server is not None:
                server.destroy()


if __name__ == "__main__":
    main()
