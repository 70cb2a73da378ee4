"""Replaying a suite: call each case's entry point with its recorded input and grade the output.

This module schedules a run and turns each call into a `CaseResult` (`_results`). Planning it
(`_plans`: targets, graders, instances, fixtures, before any case starts), grading the
outputs (`_grading`), retrying (`_retries`), choosing the cases (`_select`), storing the run
(`_records`), marking the verdicts of uncalibrated judges (`_reliability`) and rendering the
report (`_report_formats`) are jobs of their own. It prints nothing.

One event loop drives the run. Async targets are awaited on it; sync targets run in a
`ThreadPoolExecutor` sized to the concurrency, because asyncio's default executor has only
cpu+4 workers and would silently cap a run at 6 in flight on a 2-core CI machine. N worker
tasks pull cases from one shared iterator, so at most N cases are in flight and the run holds
N tasks, not one per case, however large the suite. Results keep suite order, whatever order
they finish in.

Grading happens off the loop too, in a second pool of N threads (a judge's HTTP call must not
stall the loop), except for graders that only compare values; graders with a batch path grade
after the last case.

Outputs are normalised to JSON-compatible values by capture's own serializer (dataclasses and
pydantic models as objects, anything else as a marked repr), so a replayed output compares with
the recorded expected output as like with like: a tuple is a list here as it was in the trace.

Everything a run needs is checked before the first case starts: each target imports, each
case's grader is known, each class whose method a case replays has an instance (`_instances`:
one per class per run, from the project's `factories` or `Class()`); a problem there is a usage
error (exit 2), not a suite of failures. An exception raised by a target fails its case and the
run goes on. Each call's arguments are rebuilt as the types the entry point takes (`_rebuild`);
an argument that cannot be is an error of that case ("could not rebuild argument ..."), and the
target is not called.

Real conditions: `epochs` replays each case K times (results keep case order, then epoch);
`timeout` bounds each attempt (a sync target's thread cannot be killed, so it is abandoned and
its slot in the pool stays busy until it returns); `retries` retries transient errors. A
failure's traceback is the target's own: the frames of this harness (the runner, the retries,
asyncio, tenacity, the pool) are left out.

With a `store`, embeddings and judge verdicts are cached in it (`caching_in_store`), so a second
run of an unchanged suite calls no model, and judge verdicts are checked against its calibrations
(`_reliability`); `on_result` sees a batched grader's results once they are graded.

Each attempt at a case is a session (`_collect.py`): its spans are collected in memory for the
span graders, and its `@casebank.tool` calls are answered from the case's fixtures when the case
replays frozen (`_fixtures.py`). Frozen or live: `frozen_tools=True` or False decides for every
case (`cases run --frozen-tools` / `--live-tools`); None lets each case decide by its own
`frozen_tools` field (`cases annotate --frozen-tools`). Sync targets run in a copy of the
attempt's context, so that the session reaches their thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import os
import secrets
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from casebank._json import recorded_json
from casebank.errors import InvalidInput
from casebank.replay import _retries
from casebank.replay._collect import CaseSession, ReplayTracing, replay_tracing
from casebank.replay._fixtures import MISSING_FIXTURE_CHOICES, CaseFixtures
from casebank.replay._grading import grade_batches
from casebank.replay._plans import Plan, bind_instances, plan_cases
from casebank.replay._rebuild import RebuildError, recorded_arguments
from casebank.replay._redaction import Redact, result_redactor
from casebank.replay._reliability import mark_unreliable
from casebank.replay._results import CaseResult, JSONValue, RunReport
from casebank.replay._retries import RETRY_WAIT_S, TRANSIENT_ERRORS, exception_names, with_retries
from casebank.replay._suite import Suite
from casebank.replay._target import replaying
from casebank.replay.graders._judge import caching_in_store
from casebank.store import Store, utc_now

__all__ = ["DEFAULT_CONCURRENCY", "jsonable", "replay_cases"]

DEFAULT_CONCURRENCY = 8


def replay_cases(
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
    frozen_tools: bool | None = None,
    on_missing_fixture: str = "fail",
    factories: Mapping[str, str] | None = None,
    redact: Iterable[str | Callable[[str], str]] | None = None,
) -> RunReport:
    """Replay every case of `suite` (against `target`, if given, instead of each case's entry point).

    The runner alone: it loads, selects, compares and stores nothing. `casebank.replay.run_suite`
    (`_api`) does those around it, for `cases run`, the pytest plugin and Python callers.

    `on_result` is called on the loop's thread as each result arrives (a progress bar). With
    `handle_sigint` (the CLI, in the main thread), a first Ctrl-C stops launching cases and cancels
    those in flight - the report is then marked interrupted and holds what finished - and a second
    one exits the process at once. With `store`, embeddings and judge verdicts are cached in it and
    judge results are checked against its calibrations (see the module docstring). `factories`
    maps a class (`module:Class`) to the function (`module:function`) that makes the instance its
    methods are replayed on (the project config's `factories`).

    `frozen_tools`: True answers every case's `@casebank.tool` calls from its fixtures, False runs
    every tool live, None (the default) lets each case's own `frozen_tools` decide. A call with no
    recorded answer fails its case, or runs the tool with `on_missing_fixture="live"`.

    Graders see each output as the target returned it; the results hold it, and the error text,
    traceback and reason, redacted (`_redaction`): capture's secret nets, then the PII redactors
    and callables `redact` names (None: the project config's `redact`).
    """
    if concurrency < 1:
        raise InvalidInput(f"concurrency {concurrency} is too small - pass --concurrency 1 or more")
    if epochs < 1:
        raise InvalidInput(f"epochs {epochs} is too small - pass --epochs 1 or more")
    if timeout is not None and timeout <= 0:
        raise InvalidInput(f"timeout {timeout} is not a positive number of seconds - pass e.g. --timeout 30")
    if retries < 0:
        raise InvalidInput(f"retries {retries} is negative - pass --retries 0 or more")
    if on_missing_fixture not in MISSING_FIXTURE_CHOICES:
        raise InvalidInput(
            f"--on-missing-fixture '{on_missing_fixture}' is not one of {', '.join(MISSING_FIXTURE_CHOICES)} - pick one"
        )
    settings = _Settings(
        timeout=timeout,
        retries=retries,
        transient=TRANSIENT_ERRORS,
        retry_wait=retry_wait,
        on_result=on_result,
        on_missing_fixture=on_missing_fixture,
        factories=factories,
        redact=result_redactor(redact),
    )
    # Before any target is imported: an app may call casebank.init() at import time.
    with replaying(), replay_tracing() as tracing:
        settings.tracing = tracing
        plans = plan_cases(suite.cases, target, frozen_tools, redact=settings.redact)
        settings.transient |= exception_names(retry_on)  # names the targets' modules define resolve now
        started_at = utc_now()
        with caching_in_store(store) if store is not None else contextlib.nullcontext():
            done, interrupted = asyncio.run(_run_all(plans, concurrency, epochs, settings, handle_sigint))
            grade_batches([(plan.grading, result, output) for plan, result, output in done], on_result, settings.redact)
        if store is not None:
            mark_unreliable(store, ((plan.case, result) for plan, result, _ in done))
        finished_at = utc_now()
    return RunReport(
        id=secrets.token_hex(6),
        started_at=started_at,
        finished_at=finished_at,
        suite=str(suite.folder),
        suite_hash=suite.hash,
        target=target,
        concurrency=concurrency,
        results=[result for _, result, _ in done],
        epochs=epochs,
        status="interrupted" if interrupted else "finished",
    )


def jsonable(value: object) -> JSONValue:
    """`value` exactly as capture records it: JSON-compatible, anything JSON cannot hold as `{"$repr": ...}`."""
    # One serializer for both sides: a replayed output must compare with the recorded one as like with like.
    normalised: JSONValue = orjson.loads(recorded_json(value))
    return normalised


@dataclass(kw_only=True)
class _Settings:
    timeout: float | None
    retries: int
    transient: frozenset[str]
    retry_wait: float
    on_result: Callable[[CaseResult], None] | None
    on_missing_fixture: str = "fail"
    tracing: ReplayTracing | None = None
    factories: Mapping[str, str] | None = None
    redact: Redact  # what a result keeps of the code's output and errors, and a reason quotes of them


# A finished case-epoch: its plan, its result (redacted), and its raw output while a batched
# grader has yet to grade it (else None: nothing keeps a raw output longer than its grade).
_Done = tuple[Plan, CaseResult, JSONValue]


class _TimedOut(Exception):
    pass


async def _run_all(
    plans: list[Plan], concurrency: int, epochs: int, settings: _Settings, handle_sigint: bool
) -> tuple[list[_Done], bool]:
    """Every finished (plan, result, raw output), in suite order then epoch, and whether Ctrl-C cut the run short."""
    await bind_instances(plans, settings.factories)  # before any case starts: a failure is a usage error
    results: list[_Done | None] = [None] * (len(plans) * epochs)
    jobs: Iterator[tuple[int, Plan]] = iter(enumerate(plan for plan in plans for _ in range(epochs)))
    interrupted = False

    # Not `with`: on shutdown the pool must not wait for a sync target abandoned by --timeout.
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="casebank-replay")
    # Graders get a pool of their own: each worker grades one output at a time, so `concurrency`
    # threads never queue a grade, and never behind a sync target that --timeout abandoned.
    graders = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="casebank-grade")

    async def worker() -> None:
        # All workers share `jobs`; the loop is single-threaded, so each case is taken once.
        for index, plan in jobs:
            result, output = await _run_one(plan, pool, graders, settings, epoch=index % epochs)
            batched = plan.grading.awaits_batch(result)
            results[index] = (plan, result, output if batched else None)
            if settings.on_result is not None and not batched:
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


async def _call(plan: Plan, kwargs: dict[str, Any], pool: ThreadPoolExecutor, timeout: float | None) -> Any:
    if plan.is_async:
        awaitable: Any = plan.fn(**kwargs)
    else:
        loop = asyncio.get_running_loop()
        # In a copy of this context: the case's session (its spans' parent, its fixtures) goes with it.
        call = functools.partial(contextvars.copy_context().run, plan.fn, **kwargs)
        awaitable = loop.run_in_executor(pool, call)
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


async def _run_one(
    plan: Plan, pool: ThreadPoolExecutor, graders: ThreadPoolExecutor, settings: _Settings, epoch: int
) -> tuple[CaseResult, JSONValue]:
    """The case's result, and its raw output (None when it has none): a batched grader grades that."""
    case = plan.case
    # A fresh copy per call: a target that mutates its arguments must not change the case.
    arguments = orjson.dumps(recorded_arguments(case.entrypoint, case.input))
    try:
        rebuilt = [plan.rebuilder.arguments(orjson.loads(arguments), case.input_types)]
    except RebuildError as exc:  # the target is not called: an error of this case, not a failure
        result = plan.result(output=None, passed=False, reason=str(exc), latency_ms=0.0, error=str(exc), epoch=epoch)
        return result, None
    attempts = 0
    start = time.perf_counter()
    session: CaseSession | None = None

    async def attempt() -> Any:
        nonlocal attempts, start, session
        attempts += 1
        kwargs = rebuilt.pop() if rebuilt else plan.rebuilder.arguments(orjson.loads(arguments), case.input_types)
        # A fresh session an attempt: a retry gets the case's fixtures again, and its own spans.
        session = _session(plan, settings)
        session.begin()
        start = time.perf_counter()  # latency is the last attempt's, not the backoff's
        try:
            return await _call(plan, kwargs, pool, settings.timeout)
        finally:
            session.end()

    try:
        if settings.retries:
            value = await with_retries(
                attempt, retries=settings.retries, transient=settings.transient, wait=settings.retry_wait
            )
        else:
            value = await attempt()
    except _TimedOut:
        result = plan.result(
            output=None,
            passed=False,
            reason=f"timed out after {settings.timeout:g} s",
            latency_ms=(time.perf_counter() - start) * 1000,
            epoch=epoch,
            retries=attempts - 1,
            timed_out=True,
            session=session,
        )
        return result, None
    except (Exception, SystemExit) as exc:  # the target's failure fails this case, not the run
        latency_ms = (time.perf_counter() - start) * 1000
        error = _describe(exc)
        if session is not None and session.fixtures.problems:  # a frozen replay it could not answer
            result = plan.result(
                output=None,
                passed=False,
                reason=_fixture_reason(session),
                latency_ms=latency_ms,
                epoch=epoch,
                retries=attempts - 1,
                session=session,
            )
            return result, None
        result = plan.result(
            output=None,
            passed=False,
            reason=f"raised {error}",
            latency_ms=latency_ms,
            error=error,
            tb_text=_format_traceback(exc),
            epoch=epoch,
            retries=attempts - 1,
            session=session,
        )
        return result, None
    latency_ms = (time.perf_counter() - start) * 1000
    output = jsonable(value)
    assert session is not None  # an attempt ran
    if session.fixtures.problems:  # the app caught what the frozen tool raised: the case still fails
        result = plan.result(
            output=output,
            passed=False,
            reason=_fixture_reason(session),
            latency_ms=latency_ms,
            epoch=epoch,
            retries=attempts - 1,
            session=session,
        )
        return result, output
    replay = session.replay(latency_ms) if plan.grading.reads_replay else None
    verdict = await plan.grading.grade(output, graders, replay, settings.redact)
    result = plan.result(
        output=output,
        passed=verdict.passed,
        reason=verdict.reason,
        latency_ms=latency_ms,
        score=verdict.score,
        epoch=epoch,
        retries=attempts - 1,
        session=session,
    )
    return result, output


def _session(plan: Plan, settings: _Settings) -> CaseSession:
    assert settings.tracing is not None  # run_suite sets it before any case runs
    fixtures = CaseFixtures(
        plan.case.fixtures, frozen=plan.frozen, on_missing=settings.on_missing_fixture, index=plan.fixtures
    )
    return settings.tracing.session(fixtures)


def _fixture_reason(session: CaseSession) -> str:
    problems = session.fixtures.problems
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"frozen tools: {problems[0]}{more}"


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _format_traceback(exc: BaseException) -> str:
    """The target's traceback, without the runner's, asyncio's, tenacity's and the thread pool's frames."""
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list([f for f in summary.stack if not _is_harness(f.filename)])
    return "".join(summary.format())


_HARNESS_FILES = frozenset({__file__, _retries.__file__})


def _is_harness(filename: str) -> bool:
    path = filename.replace(os.sep, "/")
    return filename in _HARNESS_FILES or "/asyncio/" in path or "/concurrent/futures/" in path or "/tenacity/" in path
