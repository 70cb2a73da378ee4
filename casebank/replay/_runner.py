"""Replaying a suite: call each case's entry point with its recorded input and grade the output.

One event loop drives the run. Async targets are awaited on it; sync targets run in a
`ThreadPoolExecutor` sized to the concurrency, because asyncio's default executor has only
cpu+4 workers and would silently cap a run at 6 in flight on a 2-core CI machine. N worker
tasks pull cases from one shared iterator, so at most N cases are in flight and the run holds
N tasks, not one per case, however large the suite. Results keep suite order, whatever order
they finish in.

Grading happens off the loop too, in a second pool of N threads: a judge is an HTTP call of
seconds, and graded on the loop it would stall every case in flight and queue a run's judge calls
one behind the other, whatever the concurrency. A grader that only compares values (its class
says `instant`: exact, regex, json_fields, ...) stays on the loop, cheaper than the hop. The
graders' shared state is locked for this (the store's caches, the judge's clients); see
`_grade`.

Outputs are normalised to JSON-compatible values by capture's own serializer (dataclasses and
pydantic models as objects, anything else as a marked repr), so a replayed output compares with
the recorded expected output as like with like: a tuple is a list here as it was in the trace.

Everything a run needs is checked before the first case starts: each target imports, each
case's grader is known; a problem there is a usage error (exit 2), not a suite of failures. An
exception raised by a target fails its case and the run goes on.

Real conditions: `epochs` replays each case K times (results keep case order, then epoch);
`timeout` bounds each attempt (a sync target's thread cannot be killed, so it is abandoned and
its slot in the pool stays busy until it returns); `retries` retries transient errors - matched
by class name anywhere in the exception's MRO, so that neither `openai` nor `anthropic` is
imported here - with tenacity's exponential backoff and full jitter. A target's own timeouts
and crashes are not retried unless named. Selection (`select`) is done on the suite before the
run: `--shard I/N` keeps a case when the SHA-256 of its id mod N is I-1, so a case's shard never
depends on which other cases exist.

Meaning graders. With a `store`, embeddings and judge verdicts are cached in it
(`caching_in_store`), so a second run of an unchanged suite calls no model. A grader class with
`grade_batch` (the embedding grader) is not called case by case: its cases' outputs are collected
and graded in one batch per grader class after the last case has run, so hundreds of texts go to
the model in a few calls; `on_result` sees those results once they are graded. A result graded by
an `llm_judge` (alone or inside all/any) is marked `unreliable` when that judge configuration has
no calibration in the store, or one with kappa below 0.6: its verdict counts, but the report says
that nobody has checked the judge against people.

This module prints nothing. `record` stores a report and `load_run` reads one back;
`_report` renders one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import os
import secrets
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank._json import to_json
from casebank.errors import AmbiguousId, CasebankError, InvalidInput, SuiteError, TargetImportError
from casebank.replay._calibrate import RELIABLE_KAPPA, calibration_status
from casebank.replay._case import Case
from casebank.replay._stats import CaseOutcome, outcomes
from casebank.replay._suite import Suite
from casebank.replay._target import import_target, is_async_target, replaying
from casebank.replay.graders import Grader, Verdict, batches, grade_batch_safely, grade_safely, make_grader
from casebank.replay.graders._judge import caching_in_store
from casebank.store import Store, utc_now

__all__ = [
    "DEFAULT_CONCURRENCY",
    "TRANSIENT_ERRORS",
    "CaseResult",
    "RunReport",
    "git_commit",
    "jsonable",
    "load_run",
    "merge_reports",
    "parse_shard",
    "record",
    "report_from_dict",
    "run_suite",
    "select",
    "shard_of",
]

DEFAULT_CONCURRENCY = 8
# Transient failures of the openai and anthropic clients (rate limits, timeouts, lost connections,
# 5xx), by class name: matching names keeps this module from importing either package.
TRANSIENT_ERRORS = frozenset(
    {"RateLimitError", "APITimeoutError", "APIConnectionError", "InternalServerError", "OverloadedError"}
)
RETRY_WAIT_S = 1.0  # first backoff, doubled each retry, with full jitter
RETRY_WAIT_MAX_S = 30.0


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
    retries: int = 0  # attempts beyond the first, after transient errors
    timed_out: bool = False
    unreliable: str | None = None  # why the verdict should not be trusted: an uncalibrated judge

    @property
    def status(self) -> str:
        """passed, failed (graded wrong) or errored (the target raised)."""
        if self.error is not None:
            return "errored"
        return "passed" if self.passed else "failed"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        """A result from its fields by name (`report_dict`'s, or a `results` row with its JSON columns decoded).

        Missing optional fields take their defaults; raises KeyError, TypeError or ValueError on a bad one."""
        return cls(
            case_id=str(data["case_id"]),
            case_file=str(data.get("case_file") or ""),
            entrypoint=str(data.get("entrypoint") or ""),
            grader=str(data.get("grader") or ""),
            expected=data.get("expected"),
            output=data.get("output"),
            passed=bool(data["passed"]),
            score=data.get("score"),
            reason=str(data.get("reason") or ""),
            error=data.get("error"),
            traceback=data.get("traceback"),
            latency_ms=float(data.get("latency_ms") or 0.0),
            tags=list(data.get("tags") or []),
            epoch=int(data.get("epoch") or 0),
            retries=int(data.get("retries") or 0),
            timed_out=bool(data.get("timed_out")),
            unreliable=data.get("unreliable"),
        )

    def row(self, run_id: str) -> dict[str, Any]:
        """The `results` row (output None when the target raised)."""
        return {
            "run_id": run_id,
            "case_id": self.case_id,
            "epoch": self.epoch,
            "case_file": self.case_file,
            "passed": int(self.passed),
            "score": self.score,
            "reason": self.reason,
            "output": None if self.error is not None else self.output,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "grader": self.grader,
            "entrypoint": self.entrypoint,
            "expected": self.expected,
            "tags": self.tags,
            "traceback": self.traceback,
            "retries": self.retries,
            "timed_out": int(self.timed_out),
            "unreliable": self.unreliable,
        }


@dataclass(kw_only=True)
class RunReport:
    """A run: where it came from and every case's result (each epoch), in suite order.

    Counts are over cases, not case-epochs: a case passed when it passed every epoch; one that did
    not failed if any epoch was graded wrong or timed out, else it errored (the target raised).
    """

    id: str
    started_at: str
    finished_at: str
    suite: str
    suite_hash: str
    target: str | None
    concurrency: int
    results: list[CaseResult]
    epochs: int = 1
    git_commit: str | None = None
    status: str = "finished"  # or "interrupted": Ctrl-C stopped it; results hold what finished

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunReport:
        """A run from its fields by name, `results` a list of `CaseResult.from_dict` inputs.

        Missing optional fields take their defaults; raises KeyError, TypeError, ValueError or
        AttributeError on a bad one."""
        return cls(
            id=str(data["id"]),
            started_at=str(data.get("started_at") or ""),
            finished_at=str(data.get("finished_at") or ""),
            suite=str(data.get("suite") or ""),
            suite_hash=str(data.get("suite_hash") or ""),
            target=data.get("target"),
            concurrency=int(data.get("concurrency") or 0),
            results=[CaseResult.from_dict(result) for result in data["results"]],
            epochs=int(data.get("epochs") or 1),
            git_commit=data.get("git_commit"),
            status=str(data.get("status") or "finished"),
        )

    def cases(self) -> list[CaseOutcome]:
        return outcomes(self.results)

    def _case_statuses(self) -> list[str]:
        by_case: dict[str, list[str]] = {}
        for result in self.results:
            by_case.setdefault(result.case_id, []).append(result.status)
        return [
            "passed" if all(s == "passed" for s in statuses) else "failed" if "failed" in statuses else "errored"
            for statuses in by_case.values()
        ]

    @property
    def total(self) -> int:
        return len({r.case_id for r in self.results})

    @property
    def passed(self) -> int:
        return self._case_statuses().count("passed")

    @property
    def failed(self) -> int:
        return self._case_statuses().count("failed")

    @property
    def errored(self) -> int:
        return self._case_statuses().count("errored")

    @property
    def retries(self) -> int:
        return sum(r.retries for r in self.results)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        """Every case passed every epoch, and the run was not cut short: the plain CI gate."""
        return self.passed == self.total and self.status == "finished"

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
            "epochs": self.epochs,
            "git_commit": self.git_commit,
            "status": self.status,
            "retries": self.retries,
        }


def record(store: Store, report: RunReport) -> None:
    """Store the run and every result in one transaction."""
    store.record_run(report.row(), [result.row(report.id) for result in report.results])


def load_run(store: Store, ref: str) -> RunReport:
    """A stored run by id, unique id prefix or `latest`."""
    run = store.resolve_run(ref)
    rows = store.run_results(run["id"], suite_order=True)
    return RunReport.from_dict({**run, "results": rows})


def report_from_dict(data: Any, source: str) -> RunReport:
    """A run from the JSON that `--json` writes (`report_dict`); `source` names the file in errors."""
    try:
        return RunReport.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(
            f"'{source}' is not a run written by 'cases run --json' ({type(exc).__name__}: {exc}) - pass such a file"
        ) from None


def merge_reports(reports: Sequence[RunReport]) -> RunReport:
    """One run from several that ran disjoint parts of a suite (`--shard`): results joined, a new id."""
    runs = [report.id for report in reports]
    if len(set(runs)) < len(runs):
        again = next(run for run in runs if runs.count(run) > 1)
        raise InvalidInput(f"run {again} is given twice - merge each shard's run once")
    seen: dict[str, str] = {}
    for report in reports:
        for case_id in dict.fromkeys(r.case_id for r in report.results):
            if case_id in seen and seen[case_id] != report.id:
                raise InvalidInput(
                    f"case '{case_id}' is in both run {seen[case_id]} and run {report.id} - merge disjoint shards only"
                )
            seen[case_id] = report.id
    first = reports[0]
    hashes = "\n".join(sorted(report.suite_hash for report in reports))
    return RunReport(
        id=secrets.token_hex(6),
        started_at=min(report.started_at for report in reports),
        finished_at=max(report.finished_at for report in reports),
        suite=first.suite,
        suite_hash="sha256:" + hashlib.sha256(hashes.encode()).hexdigest() if len(reports) > 1 else first.suite_hash,
        target=first.target,
        concurrency=first.concurrency,
        results=[result for report in reports for result in report.results],
        epochs=max(report.epochs for report in reports),
        git_commit=first.git_commit,
        status="interrupted" if any(r.status == "interrupted" for r in reports) else "finished",
    )


def git_commit(folder: str | os.PathLike[str] | None = None) -> str | None:
    """`git rev-parse HEAD` in `folder`, or None outside a repository, without git, or if git hangs."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else None


# -- selection ---------------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """`2/5` -> (2, 5); I counts from 1."""
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if n < 1 or not 1 <= i <= n:
        raise InvalidInput(f"shard '{text}' is not I/N with 1 <= I <= N - pass e.g. --shard 1/4")
    return i, n


def shard_of(case_id: str, count: int) -> int:
    """The shard (1..count) that a case belongs to: stable, whatever else is in the suite."""
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big") % count + 1


def select(
    suite: Suite, *, tags: Sequence[str] = (), case_ids: Sequence[str] = (), shard: tuple[int, int] | None = None
) -> Suite:
    """The cases that carry any of `tags`, or whose id starts with one of `case_ids`, in `shard`."""
    cases = list(suite.cases)
    if case_ids:
        chosen: dict[str, Case] = {}
        for wanted in case_ids:
            found = [case for case in cases if case.id == wanted] or [c for c in cases if c.id.startswith(wanted)]
            if not found:
                raise InvalidInput(f"no case '{wanted}' in suite folder '{suite.folder}' - check the id")
            if len(found) > 1:
                names = ", ".join(case.id for case in found[:5])
                raise AmbiguousId(f"case id prefix '{wanted}' matches {names} - type more of the id")
            chosen[found[0].id] = found[0]
        cases = [case for case in cases if case.id in chosen]
    if tags:
        cases = [case for case in cases if set(case.tags) & set(tags)]
        if not cases:
            raise InvalidInput(f"no case in suite folder '{suite.folder}' has tag {', '.join(tags)} - check --tag")
    if shard is not None:
        index, count = shard
        cases = [case for case in cases if shard_of(case.id, count) == index]
    return Suite(folder=suite.folder, cases=cases)


# -- the run -----------------------------------------------------------------------------------


def run_suite(
    suite: Suite,
    *,
    target: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    epochs: int = 1,
    timeout: float | None = None,
    retries: int = 0,
    retry_on: Iterable[str] = (),
    retry_wait: float = RETRY_WAIT_S,
    on_result: Callable[[CaseResult], None] | None = None,
    handle_sigint: bool = False,
    store: Store | None = None,
) -> RunReport:
    """Replay every case of `suite` (against `target`, if given, instead of each case's entry point).

    `on_result` is called on the loop's thread as each result arrives (a progress bar). With
    `handle_sigint` (the CLI, in the main thread), a first Ctrl-C stops launching cases and cancels
    those in flight - the report is then marked interrupted and holds what finished - and a second
    one exits the process at once. With `store`, embeddings and judge verdicts are cached in it and
    judge results are checked against its calibrations (see the module docstring).
    """
    if concurrency < 1:
        raise InvalidInput(f"concurrency {concurrency} is too small - pass --concurrency 1 or more")
    if epochs < 1:
        raise InvalidInput(f"epochs {epochs} is too small - pass --epochs 1 or more")
    if timeout is not None and timeout <= 0:
        raise InvalidInput(f"timeout {timeout} is not a positive number of seconds - pass e.g. --timeout 30")
    if retries < 0:
        raise InvalidInput(f"retries {retries} is negative - pass --retries 0 or more")
    settings = _Settings(
        timeout=timeout,
        retries=retries,
        transient=TRANSIENT_ERRORS | frozenset(retry_on),
        retry_wait=retry_wait,
        on_result=on_result,
    )
    with replaying():  # before any target is imported: an app may call casebank.init() at import time
        plans = _plan(suite.cases, target)
        started_at = utc_now()
        with caching_in_store(store) if store is not None else contextlib.nullcontext():
            done, interrupted = asyncio.run(_run_all(plans, concurrency, epochs, settings, handle_sigint))
            _grade_batches(done, on_result)
        if store is not None:
            _mark_unreliable(store, done)
        finished_at = utc_now()
    return RunReport(
        id=secrets.token_hex(6),
        started_at=started_at,
        finished_at=finished_at,
        suite=str(suite.folder),
        suite_hash=suite.hash,
        target=target,
        concurrency=concurrency,
        results=[result for _, result in done],
        epochs=epochs,
        status="interrupted" if interrupted else "finished",
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
    batched: bool  # graded after the run with its class's grade_batch, not case by case
    # Graded on the loop's thread (Grader.instant): the hop to a thread and back costs more than
    # such a grade. 10,000 instant async cases at concurrency 50 took 1.02 s with every grade in
    # the pool against 0.35 s inline, and the harness's CPU per case went from 35 to 109 us.
    inline: bool


@dataclass(kw_only=True)
class _Settings:
    timeout: float | None
    retries: int
    transient: frozenset[str]
    retry_wait: float
    on_result: Callable[[CaseResult], None] | None


class _TimedOut(Exception):
    pass


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
            grader = make_grader(case.grader, base_dir=case.path.parent if case.path else None)
        except CasebankError as exc:
            raise SuiteError(f"case file '{case.path}': {exc}") from None
        fn = functions[entrypoint]
        plans.append(
            _Plan(
                case=case,
                entrypoint=entrypoint,
                fn=fn,
                is_async=is_async_target(fn),
                grader=grader,
                batched=batches(grader),
                inline=grader.grades_instantly(),
            )
        )
    return plans


async def _run_all(
    plans: list[_Plan], concurrency: int, epochs: int, settings: _Settings, handle_sigint: bool
) -> tuple[list[tuple[_Plan, CaseResult]], bool]:
    """Every finished (plan, result), in suite order then epoch, and whether Ctrl-C cut the run short."""
    results: list[tuple[_Plan, CaseResult] | None] = [None] * (len(plans) * epochs)
    jobs: Iterator[tuple[int, _Plan]] = iter(enumerate(plan for plan in plans for _ in range(epochs)))
    interrupted = False

    # Not `with`: on shutdown the pool must not wait for a sync target abandoned by --timeout.
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="casebank-replay")
    # Graders get a pool of their own: each worker grades one output at a time, so `concurrency`
    # threads never queue a grade, and never behind a sync target that --timeout abandoned.
    graders = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="casebank-grade")

    async def worker() -> None:
        # All workers share `jobs`; the loop is single-threaded, so each case is taken once.
        for index, plan in jobs:
            result = await _run_one(plan, pool, graders, settings, epoch=index % epochs)
            results[index] = (plan, result)
            if settings.on_result is not None and not _awaits_batch(plan, result):
                settings.on_result(result)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(results)))]
    loop = asyncio.get_running_loop()
    if handle_sigint and threading.current_thread() is threading.main_thread():

        def on_sigint() -> None:
            nonlocal interrupted
            if interrupted:  # the second Ctrl-C: no clean-up, no waiting for threads
                os._exit(130)
            interrupted = True
            for task in workers:
                task.cancel()

        loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        await asyncio.gather(*workers, return_exceptions=True)
        for task in workers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # a bug of ours, not a target's failure
    finally:
        if handle_sigint and threading.current_thread() is threading.main_thread():
            loop.remove_signal_handler(signal.SIGINT)
        pool.shutdown(wait=not interrupted and settings.timeout is None, cancel_futures=True)
        # Never waited for: a run that ended normally awaited every grade already, and one cut
        # short (Ctrl-C, an error) must not sit out a judge's HTTP call. A grade still in flight
        # finishes in its thread unheard; `caching_in_store` stops it writing to the store.
        graders.shutdown(wait=False, cancel_futures=True)
    return [result for result in results if result is not None], interrupted


async def _call(plan: _Plan, kwargs: dict[str, Any], pool: ThreadPoolExecutor, timeout: float | None) -> Any:
    if plan.is_async:
        awaitable: Any = plan.fn(**kwargs)
    else:
        loop = asyncio.get_running_loop()
        awaitable = loop.run_in_executor(pool, functools.partial(plan.fn, **kwargs))
    if timeout is None:
        value = await awaitable
    else:
        # asyncio.wait, not wait_for: a TimeoutError the target raises itself must stay the target's.
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            raise _TimedOut
        value = task.result()
    if inspect.isawaitable(value):  # a sync wrapper around a coroutine
        value = await value
    return value


def _is_transient(exc: BaseException, names: frozenset[str]) -> bool:
    return any(kind.__name__ in names for kind in type(exc).__mro__)


async def _run_one(
    plan: _Plan, pool: ThreadPoolExecutor, graders: ThreadPoolExecutor, settings: _Settings, epoch: int
) -> CaseResult:
    case = plan.case
    # A fresh copy per call: a target that mutates its arguments must not change the case.
    arguments = orjson.dumps(case.input)
    attempts = 0
    start = time.perf_counter()

    async def attempt() -> Any:
        nonlocal attempts, start
        attempts += 1
        start = time.perf_counter()  # latency is the last attempt's, not the backoff's
        return await _call(plan, orjson.loads(arguments), pool, settings.timeout)

    try:
        if settings.retries:
            value = await _with_retries(attempt, settings)
        else:
            value = await attempt()
    except _TimedOut:
        return _result(
            plan,
            output=None,
            passed=False,
            reason=f"timed out after {settings.timeout:g} s",
            latency_ms=(time.perf_counter() - start) * 1000,
            epoch=epoch,
            retries=attempts - 1,
            timed_out=True,
        )
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
            epoch=epoch,
            retries=attempts - 1,
        )
    latency_ms = (time.perf_counter() - start) * 1000
    output = jsonable(value)
    verdict = await _grade(plan, output, graders)
    return _result(
        plan,
        output=output,
        passed=verdict.passed,
        reason=verdict.reason,
        latency_ms=latency_ms,
        score=verdict.score,
        epoch=epoch,
        retries=attempts - 1,
    )


async def _grade(plan: _Plan, output: Any, graders: ThreadPoolExecutor) -> Verdict:
    """The case's verdict. Any grader that may wait - a judge's HTTP call, a sandbox, a SQL query,
    your own function - grades in the `graders` pool: on the loop it would stall every other case
    and turn a run's judge calls into a queue, one at a time."""
    if plan.batched:  # patched in by _grade_batches once every output is in
        return _PENDING
    if plan.inline:
        return grade_safely(plan.grader, output, plan.case.expected)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(graders, grade_safely, plan.grader, output, plan.case.expected)


_PENDING = Verdict(passed=False, reason="not graded yet: waiting for the batch")


def _awaits_batch(plan: _Plan, result: CaseResult) -> bool:
    # An errored or timed-out case has no output, so it is not graded at all.
    return plan.batched and result.error is None and not result.timed_out


def _grade_batches(done: Sequence[tuple[_Plan, CaseResult]], on_result: Callable[[CaseResult], None] | None) -> None:
    """Grade the results of batched graders, one `grade_batch` call per grader class, in place."""
    groups: dict[type[Grader], list[tuple[_Plan, CaseResult]]] = {}
    for plan, result in done:
        if _awaits_batch(plan, result):
            groups.setdefault(type(plan.grader), []).append((plan, result))
    for kind, pairs in groups.items():
        items = [(plan.grader, result.output, plan.case.expected) for plan, result in pairs]
        verdicts = grade_batch_safely(kind, items)
        if verdicts is None:  # a bug in the batch path: grade one by one, where a crash is that case's alone
            verdicts = [grade_safely(grader, output, expected) for grader, output, expected in items]
        for (_, result), verdict in zip(pairs, verdicts, strict=True):
            result.passed, result.score, result.reason = verdict.passed, verdict.score, verdict.reason
            if on_result is not None:
                on_result(result)


def _judge_specs(spec: Any) -> list[dict[str, Any]]:
    """The llm_judge specs in a grader spec: itself, or any inside all/any (at any depth)."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        return []
    if spec.get("name") == "llm_judge":
        return [spec]
    children = (spec.get("options") or {}).get("graders") if spec.get("name") in ("all", "any") else None
    return [judge for child in children for judge in _judge_specs(child)] if isinstance(children, list) else []


def _unreliable_reason(store: Store, spec: dict[str, Any], base_dir: Path | None) -> str | None:
    judges = _judge_specs(spec)
    if not judges:
        return None
    # A calibration of the whole spec (a composite calibrated as one) decides; else each judge in it must pass.
    kappa = calibration_status(store, spec, base_dir=base_dir)
    kappas = [kappa] if kappa is not None or judges == [spec] else []
    if not kappas:
        kappas = [calibration_status(store, judge, base_dir=base_dir) for judge in judges]
    for value in kappas:
        if value is None:
            suite = f" --suite {base_dir}" if base_dir is not None else ""
            return (
                "judge not calibrated - run 'cases judge calibrate --grader-file FILE"
                f"{suite}' with its grader spec in FILE"
            )
        if value < RELIABLE_KAPPA:
            return f"judge kappa {value:.2f} < {RELIABLE_KAPPA} - improve the rubric or model and calibrate again"
    return None


def _mark_unreliable(store: Store, done: Sequence[tuple[_Plan, CaseResult]]) -> None:
    """Mark graded results of an uncalibrated or poorly calibrated judge; one lookup per distinct spec."""
    reasons: dict[tuple[bytes, str], str | None] = {}
    for plan, result in done:
        if result.error is not None or result.timed_out:
            continue
        base_dir = plan.case.path.parent if plan.case.path is not None else None
        key = (orjson.dumps(plan.case.grader, option=orjson.OPT_SORT_KEYS), str(base_dir))
        if key not in reasons:
            reasons[key] = _unreliable_reason(store, dict(plan.case.grader), base_dir)
        result.unreliable = reasons[key]


async def _with_retries(attempt: Callable[[], Any], settings: _Settings) -> Any:
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.retries + 1),
        wait=wait_random_exponential(multiplier=settings.retry_wait, max=RETRY_WAIT_MAX_S),
        retry=retry_if_exception(lambda exc: _is_transient(exc, settings.transient)),
        reraise=True,
    )
    return await retrying(attempt)


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
    epoch: int = 0,
    retries: int = 0,
    timed_out: bool = False,
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
        epoch=epoch,
        retries=retries,
        timed_out=timed_out,
    )


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _format_traceback(exc: BaseException) -> str:
    """The target's traceback, without the runner's, asyncio's, tenacity's and the thread pool's frames."""
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list([f for f in summary.stack if not _is_harness(f.filename)])
    return "".join(summary.format())


def _is_harness(filename: str) -> bool:
    path = filename.replace(os.sep, "/")
    return filename == __file__ or "/asyncio/" in path or "/concurrent/futures/" in path or "/tenacity/" in path
