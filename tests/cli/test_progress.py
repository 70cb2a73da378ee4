"""`cases run` in a CI log: a progress line at every tenth of the run, and after 10 quiet seconds.

The 10-second rule is tested in-process with a clock the test moves by hand (no sleeps); the tenths
rule through the real command, whose stdout is a pipe as in CI.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from casebank.cli._progress import HEARTBEAT_S, LogProgress
from casebank.replay import Case, CaseResult, write_case
from tests.cli.conftest import Cases
from tests.cli.test_run import progress_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def result(passed: bool = True) -> CaseResult:
    return CaseResult(
        case_id="c1",
        case_file="evals/c1.json",
        entrypoint="bot:answer",
        grader="exact",
        expected="a",
        output="a" if passed else "b",
        passed=passed,
        score=None,
        reason="",
        latency_ms=1.0,
    )


def test_a_line_comes_after_ten_quiet_seconds_even_without_a_result() -> None:
    clock, lines = Clock(), []
    log = LogProgress(1000, lines.append, clock=clock)

    log.on_result(result(passed=False))  # 1/1000: not yet a tenth
    clock.now += HEARTBEAT_S - 0.5
    log.tick()
    assert lines == []

    clock.now += 0.5
    log.tick()  # ten seconds since the run began: the timer thread's tick writes a line
    assert lines == ["progress: 1/1000 done, 1 failed, 0:00:10 elapsed"]

    clock.now += 5
    log.on_result(result())
    log.tick()
    assert len(lines) == 1  # five seconds since the last line: still quiet

    clock.now += 3600 + 5
    log.on_result(result())  # a result after a long wait writes a line at once
    assert lines[-1] == "progress: 3/1000 done, 1 failed, 1:00:20 elapsed"


def test_a_line_comes_at_every_tenth_and_the_heartbeat_counts_from_the_last_line() -> None:
    clock, lines = Clock(), []
    log = LogProgress(30, lines.append, clock=clock)

    for _ in range(30):
        clock.now += 1
        log.on_result(result())

    done = [line.split()[1].split("/")[0] for line in lines]
    assert done == ["3", "6", "9", "12", "15", "18", "21", "24", "27", "30"]
    clock.now += HEARTBEAT_S - 1  # the last line was written at the last result
    log.tick()
    assert len(lines) == 10


def test_a_run_smaller_than_ten_cases_says_each_result() -> None:
    lines: list[str] = []
    log = LogProgress(3, lines.append, clock=Clock())
    for passed in (True, False, True):
        log.on_result(result(passed))
    assert [line.rpartition(",")[0] for line in lines] == [
        "progress: 1/3 done, 0 failed",
        "progress: 2/3 done, 1 failed",
        "progress: 3/3 done, 1 failed",
    ]


def test_a_run_piped_to_a_log_prints_a_line_at_every_tenth(tmp_path: Path, cases: Cases) -> None:
    (tmp_path / "quick_bot.py").write_text(
        textwrap.dedent(
            """
            def answer(n):
                return "ok" if n % 7 else "not ok"
            """
        )
    )
    for n in range(20):
        write_case(
            Case(
                id=f"c{n:02d}",
                created_at="2024-05-01T12:00:00.000+00:00",
                entrypoint="quick_bot:answer",
                input={"n": n},
                expected="ok",
                grader={"name": "exact", "options": {}},
            ),
            tmp_path / "evals",
        )

    result = cases("run", "--concurrency", "1")

    assert result.code == 1, result.err  # cases 0, 7 and 14 fail
    lines = progress_of(result.err)
    # A slow machine may add a 10-second line between two tenths (repeating the last count, or at an
    # odd one); every tenth is there, in order.
    lines = [line for n, line in enumerate(lines) if n == 0 or line != lines[n - 1]]
    tenths = [line for line in lines if int(line.split()[1].split("/")[0]) % 2 == 0]
    assert tenths == [
        f"progress: {done}/20 done, {failed} failed"
        for done, failed in [(2, 1), (4, 1), (6, 1), (8, 2), (10, 2), (12, 2), (14, 2), (16, 3), (18, 3), (20, 3)]
    ]
    assert "progress" not in result.out  # the report alone on stdout
