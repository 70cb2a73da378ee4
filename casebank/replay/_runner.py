"""Replaying a suite: call each case's entry point with its recorded input and grade the output.

One event loop drives the run. Async targets are awaited on it; sync targets run in a
`ThreadPoolExecutor` sized to the concurrency, because asyncio's default executor has only
cpu+4 workers and would silently cap a run at 6 in flight on a 2-core CI machine. N worker
tasks pull cases from one shared iterator, so at most N cases are in flight and the run holds
N tasks, not one per case, however large the suite. Results keep suite order, whatever order
they finish in.

Outputs are normalised to JSON-compatible values by capture's own serializer (dataclasses and
pydantic models as objects, anything else as a marked repr), so a replayed output compares with
the recorded expected output as like with like: a tuple is a list here as it was in the trace.

Everything a run needs is checked before the first case starts: each target imports, each
case's grader is known; a problem there is a usage error (exit 2), not a suite of failures. An
exception raised by a target fails its case and the run goes on.

This module is pure: no printing and no store. `record` stores a report; `_report` renders one.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import secrets
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from casebank._json import to_json
from casebank.errors import CasebankError, InvalidInput, SuiteError, TargetImportError
from casebank.replay._case import Case
from casebank.replay._suite import Suite
from casebank.replay._target import REPLAY_ENV, cwd_on_path, import_target, is_async_target
from casebank.replay.graders import Grader, grade_safely, make_grader
from casebank.store import Store, utc_now

__all__ = ["DEFAULT_CONCURRENCY", "CaseResult", "RunReport", "jsonable", "record", "run_suite"]

DEFAULT_CONCURRENCY = 8


@dataclass(kw_only=True)
class CaseResult:
    """One case's replay: what the target returned (or raised) and the grader's verdict."""

    case_id: str
    case_file: str
    entrypoint: str  # what was called: the case's entry point, or --target
    grader: str
    expected: Any
    output: Any  # JSON-compatible; None when the target raised
    passed: bool
    score: float | None = None
    reason: str = ""
    error: str | None = None  # "ValueError: message" when the target raised
    traceback: str | None = None
    latency_ms: float = 0.0
    tags: list[str] = field(default_factory=list)
    epoch: int = 0

    @property
    def status(self) -> str:
        """passed, failed (graded wrong) or errored (the target raised)."""
        if self.error is not None:
            return "errored"
        return "passed" if self.passed else "failed"

    def row(self, run_id: str) -> dict[str, Any]:
        """The `results` row (output as JSON text; NULL when the target raised)."""
        return {
            "run_id": run_id,
            "case_id": self.case_id,
            "epoch": self.epoch,
            "case_file": self.case_file,
            "passed": int(self.passed),
            "score": self.score,
            "reason": self.reason,
            "output": None if self.error is not None else orjson.dumps(self.output).decode(),
            "error": self.error,
            "latency_ms": self.latency_ms,
            "grader": self.grader,
        }


@dataclass(kw_only=True)
class RunReport:
    """A finished run: where it came from and every case's result, in suite order."""

    id: str
    started_at: str
    finished_at: str
    suite: str
    suite_hash: str
    target: str | None
    concurrency: int
    results: list[CaseResult]

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.status == "passed")

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.status == "failed")

    @property
    def errored(self) -> int:
        return sum(1 for r in self.results if r.status == "errored")

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        """Every case passed: the CI gate."""
        return self.passed == self.total

    def not_passed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def row(self) -> dict[str, Any]:
        """The `runs` row."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "suite": self.suite,
            "suite_hash": self.suite_hash,
            "target": self.target,
            "concurrency": self.concurrency,
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "errored": self.errored,
            "pass_rate": self.pass_rate,
        }


def record(store: Store, report: RunReport) -> None:
    """Store the run and every result in one transaction."""
    store.record_run(report.row(), [result.row(report.id) for result in report.results])


def run_suite(suite: Suite, *, target: str | None = None, concurrency: int = DEFAULT_CONCURRENCY) -> RunReport:
    """Replay every case of `suite` (against `target`, if given, instead of each case's entry point)."""
    if concurrency < 1:
        raise InvalidInput(f"concurrency {concurrency} is too small - pass --concurrency 1 or more")
    previous = os.environ.get(REPLAY_ENV)
    # Before any target is imported: an app may call casebank.init() at import time.
    os.environ[REPLAY_ENV] = "1"
    try:
        with cwd_on_path():
            plans = _plan(suite.cases, target)
            started_at = utc_now()
            results = asyncio.run(_run_all(plans, concurrency))
            finished_at = utc_now()
    finally:
        if previous is None:
            os.environ.pop(REPLAY_ENV, None)
        else:
            os.environ[REPLAY_ENV] = previous
    return RunReport(
        id=secrets.token_hex(6),
        started_at=started_at,
        finished_at=finished_at,
        suite=str(suite.folder),
        suite_hash=suite.hash,
        target=target,
        concurrency=concurrency,
        results=results,
    )


def jsonable(value: Any) -> Any:
    """`value` exactly as capture records it: JSON-compatible, anything JSON cannot hold as `{"$repr": ...}`."""
    # One serializer for both sides: a replayed output must compare with the recorded one as like with like.
    return orjson.loads(to_json(value))


@dataclass(kw_only=True)
class _Plan:
    case: Case
    entrypoint: str
    fn: Callable[..., Any]
    is_async: bool
    grader: Grader


def _plan(cases: Sequence[Case], target: str | None) -> list[_Plan]:
    """Import every target and build every grader, so that no case starts unless all can."""
    functions: dict[str, Callable[..., Any]] = {}
    plans = []
    for case in cases:
        entrypoint = target or case.entrypoint
        if entrypoint not in functions:
            try:
                functions[entrypoint] = import_target(entrypoint)
            except TargetImportError as exc:
                if target is not None:
                    raise
                raise TargetImportError(f"case file '{case.path}': {exc}") from None
        try:
            grader = make_grader(case.grader)
        except CasebankError as exc:
            raise SuiteError(f"case file '{case.path}': {exc}") from None
        fn = functions[entrypoint]
        plans.append(_Plan(case=case, entrypoint=entrypoint, fn=fn, is_async=is_async_target(fn), grader=grader))
    return plans


async def _run_all(plans: list[_Plan], concurrency: int) -> list[CaseResult]:
    results: list[CaseResult | None] = [None] * len(plans)
    jobs: Iterator[tuple[int, _Plan]] = iter(enumerate(plans))

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="casebank-replay") as pool:

        async def worker() -> None:
            # All workers share `jobs`; the loop is single-threaded, so each case is taken once.
            for index, plan in jobs:
                results[index] = await _run_one(plan, pool)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(plans)))))
    return [result for result in results if result is not None]


async def _run_one(plan: _Plan, pool: ThreadPoolExecutor) -> CaseResult:
    case = plan.case
    # A fresh copy per call: a target that mutates its arguments must not change the case.
    kwargs = orjson.loads(orjson.dumps(case.input))
    start = time.perf_counter()
    try:
        if plan.is_async:
            value = await plan.fn(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            value = await loop.run_in_executor(pool, functools.partial(plan.fn, **kwargs))
            if inspect.isawaitable(value):  # a sync wrapper around a coroutine
                value = await value
    except (Exception, SystemExit) as exc:  # the target's failure fails this case, not the run
        latency_ms = (time.perf_counter() - start) * 1000
        error = _describe(exc)
        return _result(
            plan,
            output=None,
            passed=False,
            reason=f"raised {error}",
            latency_ms=latency_ms,
            error=error,
            tb_text=_format_traceback(exc),
        )
    latency_ms = (time.perf_counter() - start) * 1000
    output = jsonable(value)
    verdict = grade_safely(plan.grader, output, case.expected)
    return _result(
        plan, output=output, passed=verdict.passed, reason=verdict.reason, latency_ms=latency_ms, score=verdict.score
    )


def _result(
    plan: _Plan,
    *,
    output: Any,
    passed: bool,
    reason: str,
    latency_ms: float,
    score: float | None = None,
    error: str | None = None,
    tb_text: str | None = None,
) -> CaseResult:
    case = plan.case
    return CaseResult(
        case_id=case.id,
        case_file=str(case.path) if case.path is not None else "",
        entrypoint=plan.entrypoint,
        grader=plan.grader.name,
        expected=case.expected,
        output=output,
        passed=passed,
        score=score,
        reason=reason,
        error=error,
        traceback=tb_text,
        latency_ms=round(latency_ms, 3),
        tags=list(case.tags),
    )


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _format_traceback(exc: BaseException) -> str:
    """The target's traceback, without the runner's, asyncio's and the thread pool's frames."""
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list([f for f in summary.stack if not _is_harness(f.filename)])
    return "".join(summary.format())


def _is_harness(filename: str) -> bool:
    path = filename.replace(os.sep, "/")
    return filename == __file__ or "/asyncio/" in path or "/concurrent/futures/" in path
