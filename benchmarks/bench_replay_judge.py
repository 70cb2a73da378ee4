"""Judged replay: 40 `llm_judge` cases, a judge that answers in 100 ms, concurrency 8.

The ideal is 40 x 0.1 s / 8 = 0.5 s; judged one at a time it is 40 x 0.1 s = 4.0 s, which is what
a run took while the runner graded on its event loop (each judge's HTTP call held the loop, so
--concurrency did not reach the judges).

The judge is `tests.fakes_openai_compat.FakeCompat` on 127.0.0.1, reached through the real
`openai` client, with 100 ms added to each request before it answers. Each run starts with an
empty verdict cache, so every case asks the judge. The fake serves from this process, so the
client's and the server's few milliseconds of Python per request share one GIL and no run
reaches the ideal; the reference is therefore a hand-written pool of 8 threads making the same 40
calls through one client (alternating with the runner's runs). Targets: `run_suite` within 1.15x
of that hand pool, and the most judge requests in flight at once equal to the concurrency.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fakes_openai_compat

from casebank.replay import Case, load_suite, run_suite, write_case  # noqa: E402
from casebank.replay.graders._judge import MemoryVerdictCache, set_verdict_cache  # noqa: E402
from tests.fakes_openai_compat import FakeCompat  # noqa: E402

CASES = 40
LATENCY_S = 0.1
CONCURRENCY = 8
IDEAL_S = CASES * LATENCY_S / CONCURRENCY
SEQUENTIAL_S = CASES * LATENCY_S
HAND_POOL_TARGET = 1.15
RUBRIC = 'The answer must mention "30 days".'
REPEATS = 5

TARGET_MODULE = """
def answer(ticket):
    return f"Ticket {ticket}: you can return it within 30 days for a full refund."
"""


class _SlowJudge:
    """Adds the latency and counts requests in flight (called in each request's serving thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0

    def __call__(self, path: str) -> None:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(LATENCY_S)
        with self.lock:
            self.in_flight -= 1


def build_suite(root: Path, base_url: str) -> Path:
    (root / "bench_judged.py").write_text(textwrap.dedent(TARGET_MODULE))
    options = {"rubric": RUBRIC, "model": "judge-1", "base_url": base_url}
    for i in range(CASES):
        case = Case(
            id=f"judged{i:03d}",
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint="bench_judged:answer",
            input={"ticket": i},
            expected="Within 30 days.",
            grader={"name": "llm_judge", "options": options},
        )
        write_case(case, root / "evals")
    return root / "evals"


def hand_pool(base_url: str) -> float:
    """The same 40 judge calls from 8 threads through one `openai` client: what the runner can at best reach."""
    from concurrent.futures import ThreadPoolExecutor

    import openai

    from casebank.replay.graders._judge import build_messages

    client = openai.OpenAI(base_url=base_url, api_key="unused", timeout=120.0, max_retries=3)

    def ask(i: int) -> str:
        output = f"Ticket {i}: you can return it within 30 days for a full refund."
        system, user, _ = build_messages(RUBRIC, "Within 30 days.", output)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        completion = client.chat.completions.create(model="judge-1", temperature=0, messages=messages)
        return str(completion.choices[0].message.content)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        replies = list(pool.map(ask, range(CASES)))
    elapsed = time.perf_counter() - start
    assert all('"PASS"' in reply for reply in replies), replies[:3]
    client.close()
    return elapsed


def line(label: str, seconds: list[float]) -> str:
    median = statistics.median(seconds)
    return (
        f"  {label:<34} {median:6.3f} s (best {min(seconds):.3f} s)   {median / IDEAL_S:5.2f}x ideal   "
        f"{SEQUENTIAL_S / median:5.2f}x faster than one at a time"
    )


def main() -> None:
    import os

    import openai  # noqa: F401 - imported once here, not inside the first timed run

    print(f"replay: {CASES} llm_judge cases, judge answers in {LATENCY_S * 1000:.0f} ms, concurrency {CONCURRENCY}")
    print(f"  ideal {IDEAL_S:.3f} s; judged one at a time {SEQUENTIAL_S:.3f} s; {REPEATS} runs each, median (best)")
    with FakeCompat() as fake, tempfile.TemporaryDirectory(prefix="casebank-bench-") as tmp:
        slow = _SlowJudge()
        fake.before_answer = slow
        fake.record = False
        build_suite(Path(tmp), fake.openai_url)
        previous = os.getcwd()
        os.chdir(tmp)  # entry points import from the current folder, as in `cases run`
        try:
            suite = load_suite(Path("evals"))
            runner, by_hand, most = [], [], []
            for _ in range(REPEATS):
                set_verdict_cache(MemoryVerdictCache())  # every run asks the judge every question
                slow.most = 0
                start = time.perf_counter()
                report = run_suite(suite, concurrency=CONCURRENCY)
                runner.append(time.perf_counter() - start)
                most.append(slow.most)
                assert report.ok, [r.reason for r in report.not_passed()][:3]
                by_hand.append(hand_pool(fake.openai_url))
        finally:
            os.chdir(previous)
            set_verdict_cache(None)
    ratio = statistics.median(runner) / statistics.median(by_hand)
    print(line("run_suite (cases graded in a pool)", runner))
    print(line("8 threads calling the judge by hand", by_hand))
    verdict = "ok" if ratio <= HAND_POOL_TARGET else "MISSED"
    print(f"  run_suite / hand pool {ratio:5.2f}x   [{verdict}, target <= {HAND_POOL_TARGET}x]")
    verdict = "ok" if min(most) == CONCURRENCY else "MISSED"
    print(f"  most judge requests in flight at once: {min(most)} of {CONCURRENCY} (fewest over runs)   [{verdict}]")


if __name__ == "__main__":
    main()
