"""Replay throughput: 200 cases whose target sleeps 100 ms, at concurrency 20.

The ideal is 200 x 0.1 s / 20 = 1.0 s; the target is <= 1.2x the ideal. Measured for a sync
target (time.sleep, run in the runner's worker threads) and an async one (asyncio.sleep,
awaited on the runner's loop), each through `run_suite` in this process (the runner alone),
and once end to end through a real `cases run` subprocess (interpreter start-up, imports,
suite loading and hash checks, the run, recording 200 results in the store, the report).
The suite is built in a temporary folder with `write_case`, as `cases promote` writes it.

Issue 5 adds the large run: 1,000 cases whose async target awaits 200 ms at concurrency 50
(ideal 4.0 s, target <= 1.1x), the harness's CPU per case (process CPU time of that run divided
by the cases: loop, grading, serialising; the target only sleeps), and the peak Python memory
(tracemalloc) of replaying 10,000 instant cases.

Issue 15 adds frozen tools: 500 cases whose target makes one `@casebank.tool` call of an instant
tool, replayed live (the tool runs) and frozen (`frozen_tools=True`: the call is answered from
the case's fixture, its result rebuilt by the tool's return annotation). Runs alternate live,
frozen, live, frozen ..., so that a drift of the machine's speed hits both; the figure is the
median of the pairwise ratios frozen/live (target <= 1.05). `--frozen-only` runs just this part.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

from casebank.replay import Case, load_suite, run_suite, write_case

CASES = 200
SLEEP_S = 0.1
CONCURRENCY = 20
IDEAL_S = CASES * SLEEP_S / CONCURRENCY
TARGET_RATIO = 1.2
REPEATS = 3

TARGET_MODULE = f"""
import asyncio
import time

def answer(ticket):
    time.sleep({SLEEP_S})
    return f"answer to {{ticket}}"

async def answer_async(ticket):
    await asyncio.sleep({SLEEP_S})
    return f"answer to {{ticket}}"
"""


def build_project(root: Path) -> None:
    (root / "bench_bot.py").write_text(textwrap.dedent(TARGET_MODULE))
    for function in ("answer", "answer_async"):
        for i in range(CASES):
            case = Case(
                id=f"{function}{i:04d}",
                created_at="2024-05-01T12:00:00.000+00:00",
                entrypoint=f"bench_bot:{function}",
                input={"ticket": i},
                expected=f"answer to {i}",
                grader={"name": "exact", "options": {}},
            )
            write_case(case, root / f"evals_{function}")


def bench_runner(suite_dir: Path) -> list[float]:
    suite = load_suite(suite_dir)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        report = run_suite(suite, concurrency=CONCURRENCY)
        times.append(time.perf_counter() - start)
        assert report.ok, [r.reason for r in report.not_passed()][:3]
    return times


def bench_cli(root: Path) -> float:
    env = {**os.environ, "CASEBANK_DB": str(root / "bench.db"), "COLUMNS": "80"}
    command = [sys.executable, "-m", "casebank", "run", "--suite", "evals_answer", "--concurrency", str(CONCURRENCY)]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return elapsed


def line(label: str, seconds: float, *, gated: bool = True) -> str:
    ratio = seconds / IDEAL_S
    verdict = (
        ("ok" if ratio <= TARGET_RATIO else "MISSED") + f", target <= {TARGET_RATIO}x" if gated else "for reference"
    )
    return f"  {label:<46} {seconds:6.3f} s   {ratio:5.2f}x ideal   [{verdict}]"


LARGE_CASES = 1000
LARGE_SLEEP_S = 0.2
LARGE_CONCURRENCY = 50
LARGE_IDEAL_S = LARGE_CASES * LARGE_SLEEP_S / LARGE_CONCURRENCY
LARGE_TARGET_RATIO = 1.1
MEMORY_CASES = 10_000

LARGE_MODULE = f"""
import asyncio

async def slow(ticket):
    await asyncio.sleep({LARGE_SLEEP_S})
    return f"answer to {{ticket}}"

async def instant(ticket):
    return f"answer to {{ticket}}"
"""


def build_large(root: Path) -> None:
    (root / "bench_large.py").write_text(textwrap.dedent(LARGE_MODULE))
    for function, count in (("slow", LARGE_CASES), ("instant", MEMORY_CASES)):
        for i in range(count):
            case = Case(
                id=f"{function}{i:05d}",
                created_at="2024-05-01T12:00:00.000+00:00",
                entrypoint=f"bench_large:{function}",
                input={"ticket": i},
                expected=f"answer to {i}",
                grader={"name": "exact", "options": {}},
                tags=["billing" if i % 3 else "refunds"],
            )
            write_case(case, root / f"evals_{function}")


def bench_large() -> None:
    suite = load_suite(Path("evals_slow"))
    print(f"replay: {LARGE_CASES} cases awaiting {LARGE_SLEEP_S * 1000:.0f} ms, concurrency {LARGE_CONCURRENCY}")
    times, cpus = [], []
    for _ in range(REPEATS):
        cpu = time.process_time()
        start = time.perf_counter()
        report = run_suite(suite, concurrency=LARGE_CONCURRENCY)
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        assert report.ok
    median = statistics.median(times)
    ratio = median / LARGE_IDEAL_S
    verdict = "ok" if ratio <= LARGE_TARGET_RATIO else "MISSED"
    print(
        f"  ideal {LARGE_IDEAL_S:.3f} s; median {median:.3f} s (best {min(times):.3f} s)   {ratio:5.2f}x ideal   "
        f"[{verdict}, target <= {LARGE_TARGET_RATIO}x]"
    )
    per_case_ms = statistics.median(cpus) / LARGE_CASES * 1000
    print(f"  harness CPU per case {per_case_ms:.3f} ms   [{'ok' if per_case_ms <= 1 else 'MISSED'}, target <= 1 ms]")
    from casebank.replay._report import summary

    start = time.perf_counter()
    summary(report)
    print(f"  statistics for the report (Wilson, tags, power): {(time.perf_counter() - start) * 1000:.1f} ms")

    suite = load_suite(Path("evals_instant"))
    tracemalloc.start()
    report = run_suite(suite, concurrency=LARGE_CONCURRENCY)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.ok
    peak_mb = peak / 2**20
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  {MEMORY_CASES} cases: peak traced memory {peak_mb:.1f} MB during the run "
        f"[{'ok' if peak_mb <= 200 else 'MISSED'}, target <= 200 MB]; process max RSS so far {maxrss_mb:.0f} MB"
    )


FROZEN_CASES = 500
FROZEN_CONCURRENCY = 8
FROZEN_REPEATS = 21
FROZEN_TARGET_RATIO = 1.05

FROZEN_MODULE = """
import casebank

@casebank.tool
def lookup_policy(topic: str) -> str:
    return f"policy for {topic}"

async def answer(ticket):
    return f"{ticket}: {lookup_policy('refunds')}"
"""


def build_frozen(root: Path) -> None:
    (root / "bench_frozen.py").write_text(textwrap.dedent(FROZEN_MODULE))
    for i in range(FROZEN_CASES):
        case = Case(
            id=f"frozen{i:04d}",
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint="bench_frozen:answer",
            input={"ticket": i},
            expected=f"{i}: policy for refunds",
            grader={"name": "exact", "options": {}},
            fixtures=[
                {
                    "order": 0,
                    "name": "lookup_policy",
                    "function": "bench_frozen:lookup_policy",
                    "arguments": {"topic": "refunds"},
                    "result": "policy for refunds",
                }
            ],
        )
        write_case(case, root / "evals_frozen")


def bench_frozen() -> None:
    suite = load_suite(Path("evals_frozen"))
    print(
        f"frozen tools: {FROZEN_CASES} cases, one instant @casebank.tool call each, concurrency {FROZEN_CONCURRENCY}; "
        f"{FROZEN_REPEATS} pairs, live and frozen in turn"
    )
    run_suite(suite, concurrency=FROZEN_CONCURRENCY)  # warm-up: imports, pydantic's adapter
    run_suite(suite, concurrency=FROZEN_CONCURRENCY, frozen_tools=True)
    live_times, frozen_times = [], []
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(FROZEN_REPEATS):
        for frozen, times in ((False, live_times), (True, frozen_times)):
            start, started_cpu = time.perf_counter(), time.process_time()
            report = run_suite(suite, concurrency=FROZEN_CONCURRENCY, frozen_tools=frozen)
            times.append(time.perf_counter() - start)
            cpu[frozen].append(time.process_time() - started_cpu)
            assert report.ok, [r.reason for r in report.not_passed()][:3]
            assert all(r.tools_frozen == int(frozen) and r.tools_live == int(not frozen) for r in report.results)
    ratios = [f / live for f, live in zip(frozen_times, live_times, strict=True)]
    ratio = statistics.median(ratios)
    for label, times, cpus in (("live", live_times, cpu[False]), ("frozen", frozen_times, cpu[True])):
        print(
            f"  {label:<7} median {statistics.median(times):.3f} s   min {min(times):.3f} s   max {max(times):.3f} s"
            f"   CPU per case {statistics.median(cpus) / FROZEN_CASES * 1e6:.0f} us"
        )
    verdict = "ok" if ratio <= FROZEN_TARGET_RATIO else "MISSED"
    print(
        f"  frozen/live, pair by pair: median {ratio:.3f}x (min {min(ratios):.3f}x, max {max(ratios):.3f}x)   "
        f"[{verdict}, target <= {FROZEN_TARGET_RATIO}x]"
    )


def main() -> None:
    if "--frozen-only" in sys.argv[1:]:
        with tempfile.TemporaryDirectory(prefix="casebank-bench-") as tmp:
            previous = os.getcwd()
            os.chdir(tmp)
            try:
                build_frozen(Path(tmp))
                bench_frozen()
            finally:
                os.chdir(previous)
        return
    print(f"replay: {CASES} cases, target sleeps {SLEEP_S * 1000:.0f} ms, concurrency {CONCURRENCY}")
    print(f"  ideal {IDEAL_S:.3f} s; {REPEATS} runs each, median (best)")
    with tempfile.TemporaryDirectory(prefix="casebank-bench-") as tmp:
        root = Path(tmp)
        build_project(root)
        previous = os.getcwd()
        os.chdir(root)  # entry points import from the current folder, as in `cases run`
        try:
            for function, label in (("answer", "sync (threads), run_suite"), ("answer_async", "async, run_suite")):
                times = bench_runner(Path(f"evals_{function}"))
                print(line(label, statistics.median(times)) + f"   (best {min(times):.3f} s)")
        finally:
            os.chdir(previous)
        build_large(root)
        os.chdir(root)
        try:
            bench_large()
        finally:
            os.chdir(previous)
        build_frozen(root)
        os.chdir(root)
        try:
            bench_frozen()
        finally:
            os.chdir(previous)
        cli = [bench_cli(root) for _ in range(REPEATS)]
        print(
            line("sync, `cases run` end to end (with start-up)", statistics.median(cli), gated=False)
            + f"   (best {min(cli):.3f} s)"
        )


if __name__ == "__main__":
    main()
