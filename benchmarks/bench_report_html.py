"""The HTML run report on a store of 50 runs of 500 cases: seconds to write it, against a target of 5 s.

What `cases run --html` and `cases report --format html` pay beyond the run: `run_history`
reads the 50 stored runs (every result, for the per-tag rates) and `render_run_html` writes the
page of the latest, whose failures (a tenth of the cases, outputs of about 150 words that differ
from the expected text in a few words, and a few that differ throughout) are diffed word by
word. Also timed, as a floor measured in the same run: reading the same runs back through
`list_runs` and `run_results` alone (what any chart of per-tag rates must at least pay).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from casebank.replay._records import load_run, record
from casebank.replay._report_html import render_run_html, run_history
from casebank.replay._results import CaseResult, RunReport
from casebank.store import open_store

RUNS = 50
CASES = 500
TAGS = ["refunds", "billing", "tone", "delivery", "accounts", "safety"]
TARGET_S = 5.0
_WORDS = (
    "refund order invoice account password reset delivery parcel late broken charge card plan upgrade cancel "
    "address change email login locked subscription trial discount coupon warranty return label tracking"
).split()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


def _run(rng: random.Random, n: int) -> RunReport:
    results = []
    for c in range(CASES):
        expected = _text(random.Random(c), 150)
        passed = rng.random() > 0.1
        if passed:
            output = expected
        elif rng.random() < 0.9:
            words = expected.split()
            for _ in range(3):
                words[rng.randrange(len(words))] = rng.choice(_WORDS)
            output = " ".join(words)
        else:
            output = _text(rng, 150)
        results.append(
            CaseResult(
                case_id=f"case{c:04d}",
                case_file=f"evals/answer-case{c:04d}.json",
                entrypoint="bot:answer",
                grader="exact",
                expected=expected,
                output=output,
                passed=passed,
                reason="" if passed else "output differs from expected",
                tags=[TAGS[c % len(TAGS)], TAGS[(c // len(TAGS)) % len(TAGS)]],
            )
        )
    started = f"2024-05-{1 + n // 24:02d}T{n % 24:02d}:00:00+00:00"
    return RunReport(
        id=f"{n:012x}",
        started_at=started,
        finished_at=started,
        suite="evals",
        suite_hash="sha256:" + "0" * 64,
        target=None,
        concurrency=8,
        results=results,
    )


def main() -> int:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "casebank.db"
        with open_store(db) as store:
            for n in range(RUNS):
                record(store, _run(rng, n))
        with open_store(db) as store:
            start = time.perf_counter()
            for row in store.list_runs(None):
                store.run_results(row["id"])
            floor = time.perf_counter() - start

            start = time.perf_counter()
            latest = load_run(store, "latest")
            history = run_history(store, until=latest.id)
            page = render_run_html(latest, history=history)
            total = time.perf_counter() - start
    failures = len(latest.not_passed())
    print(f"runs stored: {RUNS} of {CASES} cases ({len(TAGS)} tags, 2 a case); failures on the page: {failures}")
    print(f"read the runs back (list_runs + run_results), the floor: {floor:.2f} s")
    print(f"history + page of the latest run: {total:.2f} s ({total / floor:.1f}x the floor), target {TARGET_S:.0f} s")
    print(f"page size: {len(page.encode()) / 1e6:.2f} MB, {len(history)} charts")
    return 0 if total <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
