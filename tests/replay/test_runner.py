from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from casebank.errors import InvalidInput, SuiteError, TargetImportError
from casebank.replay import REPLAY_ENV, jsonable, record
from casebank.replay._runner import replay_cases
from casebank.replay.graders import _judge as judge_module
from casebank.store import Store, open_store
from tests.fakes_openai_compat import FakeCompat

if TYPE_CHECKING:
    from tests.replay.conftest import Project


def test_a_sync_target_is_called_with_the_recorded_arguments_by_name_and_graded(project: Project) -> None:
    project.write_module(
        """
        def answer(question, language="en"):
            return f"{language}: {question.upper()}"
        """
    )
    project.add_case("c1", "answer", {"question": "hi", "language": "fr"}, "fr: HI")
    project.add_case("c2", "answer", {"question": "yo"}, "en: nope")

    report = replay_cases(project.load())

    assert [(r.case_id, r.status, r.output) for r in report.results] == [
        ("c1", "passed", "fr: HI"),
        ("c2", "failed", "en: YO"),
    ]
    failed = report.results[1]
    assert failed.reason == "expected 'en: nope', got 'en: YO'"
    assert failed.grader == "exact"
    assert failed.case_file == str(Path("evals") / "answer-c2.json")
    assert failed.entrypoint == f"{project.module}:answer"
    assert (report.total, report.passed, report.failed, report.errored, report.pass_rate) == (2, 1, 1, 0, 0.5)
    assert not report.ok


def test_an_async_target_is_awaited(project: Project) -> None:
    project.write_module(
        """
        import asyncio

        async def answer(question):
            await asyncio.sleep(0)
            return question[::-1]
        """
    )
    project.add_case("c1", "answer", {"question": "abc"}, "cba")

    report = replay_cases(project.load())

    assert report.ok
    assert report.results[0].output == "cba"


def test_an_exception_in_the_target_fails_its_case_and_the_run_goes_on(project: Project) -> None:
    project.write_module(
        """
        def answer(question):
            if question == "bad":
                raise ValueError("no answer for 'bad'")
            return question
        """
    )
    project.add_case("c1", "answer", {"question": "bad"}, "bad")
    project.add_case("c2", "answer", {"question": "good"}, "good")

    report = replay_cases(project.load())

    errored, passed = report.results
    assert (errored.status, passed.status) == ("errored", "passed")
    assert errored.error == "ValueError: no answer for 'bad'"
    assert errored.reason == "raised ValueError: no answer for 'bad'"
    assert errored.output is None and errored.passed is False
    assert errored.traceback is not None
    assert f"{project.module}.py" in errored.traceback and "_runner.py" not in errored.traceback
    assert (report.passed, report.failed, report.errored) == (1, 0, 1)


def test_a_dotted_qualname_reaches_a_staticmethod(project: Project) -> None:
    project.write_module(
        """
        class Bot:
            @staticmethod
            def answer(question):
                return "static " + question
        """
    )
    project.add_case("c1", "Bot.answer", {"question": "q"}, "static q")

    assert replay_cases(project.load()).ok


def test_target_replaces_every_cases_entry_point(project: Project) -> None:
    project.write_module(
        """
        def old(question):
            return "old"

        def new(question):
            return "new"
        """
    )
    project.add_case("c1", "old", {"question": "q"}, "new")
    project.add_case("c2", "old", {"question": "q"}, "new")

    report = replay_cases(project.load(), target=f"{project.module}:new")

    assert report.ok
    assert report.target == f"{project.module}:new"
    assert {r.entrypoint for r in report.results} == {f"{project.module}:new"}


def test_the_current_folder_is_on_the_import_path_only_during_the_run(project: Project) -> None:
    project.write_module(
        """
        import sys

        def answer():
            return sys.path[0]
        """
    )
    project.add_case("c1", "answer", {}, str(project.root))
    assert str(project.root) not in sys.path

    report = replay_cases(project.load())

    assert report.ok, report.results[0].reason
    assert str(project.root) not in sys.path


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param(
            "no_such_module_xyz:answer",
            "cannot import target 'no_such_module_xyz:answer': ModuleNotFoundError: No module named "
            "'no_such_module_xyz' - run 'cases run' from the project folder (it is put on the import path), "
            "or check the module's name",
            id="missing-module",
        ),
        pytest.param(
            "{module}:nope",
            "cannot import target '{module}:nope': '{module}' has no attribute 'nope' - check the name "
            "(e.g. 'support_bot.bot:answer')",
            id="missing-function",
        ),
        pytest.param(
            "{module}:Bot.nope",
            "cannot import target '{module}:Bot.nope': '{module}:Bot' has no attribute 'nope' - check the name "
            "(e.g. 'support_bot.bot:answer')",
            id="missing-method",
        ),
        pytest.param(
            "{module}",
            "target '{module}' is not MODULE:FUNCTION (e.g. 'support_bot.bot:answer')",
            id="no-colon",
        ),
        pytest.param(
            "{module}:VERSION",
            "target '{module}:VERSION' is a str, not a function - name a function",
            id="not-callable",
        ),
    ],
)
def test_an_unusable_target_is_a_target_import_error_naming_it(project: Project, target: str, message: str) -> None:
    project.write_module(
        """
        VERSION = "1"

        class Bot:
            pass

        def answer():
            return "a"
        """
    )
    project.add_case("c1", "answer", {}, "a")

    with pytest.raises(TargetImportError) as caught:
        replay_cases(project.load(), target=target.format(module=project.module))

    assert str(caught.value) == message.format(module=project.module)


def test_a_module_that_fails_at_import_is_a_target_import_error(project: Project) -> None:
    project.write_module(
        """
        raise RuntimeError("missing API key")
        """
    )
    project.add_case("c1", "answer", {}, "a")

    with pytest.raises(TargetImportError, match="RuntimeError: missing API key") as caught:
        replay_cases(project.load())

    assert str(caught.value).startswith(f"case file '{Path('evals') / 'answer-c1.json'}': cannot import target")


def test_a_case_with_an_unknown_grader_stops_the_run_before_it_starts(project: Project) -> None:
    project.write_module(
        """
        CALLS = []

        def answer():
            CALLS.append(1)
            return "a"
        """
    )
    project.add_case("c1", "answer", {}, "a")
    project.add_case("c2", "answer", {}, "a", grader="psychic")

    with pytest.raises(SuiteError, match=r"answer-c2\.json': unknown grader 'psychic'"):
        replay_cases(project.load())

    assert sys.modules[project.module].CALLS == []


def test_sync_cases_run_in_worker_threads_up_to_the_concurrency(project: Project) -> None:
    # Each case waits until all N have arrived: they can only all pass if N run at once.
    n = 12
    project.write_module(
        f"""
        import threading

        BARRIER = threading.Barrier({n})

        def answer(i):
            BARRIER.wait(timeout=60)
            return threading.current_thread().name
        """
    )
    for i in range(n):
        project.add_case(f"c{i:02d}", "answer", {"i": i}, "thread", grader="contains", options={"substring": "replay"})

    report = replay_cases(project.load(), concurrency=n)

    assert report.ok, [r.reason for r in report.results]
    assert len({r.output for r in report.results}) == n


def test_async_cases_overlap_up_to_the_concurrency_and_never_beyond(project: Project) -> None:
    n = 4
    project.write_module(
        f"""
        import asyncio

        arrived = 0
        in_flight = 0
        most_in_flight = 0
        everyone_here = None

        async def answer(i):
            global arrived, in_flight, most_in_flight, everyone_here
            if everyone_here is None:
                everyone_here = asyncio.Event()
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            if i < {n}:  # the first wave waits for each other
                arrived += 1
                if arrived == {n}:
                    everyone_here.set()
                await asyncio.wait_for(everyone_here.wait(), timeout=60)
            for _ in range(5):  # give a runner without a limit every chance to start more
                await asyncio.sleep(0)
            in_flight -= 1
            return "ok"
        """
    )
    for i in range(3 * n):
        project.add_case(f"c{i:02d}", "answer", {"i": i}, "ok")

    report = replay_cases(project.load(), concurrency=n)

    assert report.ok, [r.reason for r in report.results]
    assert sys.modules[project.module].most_in_flight == n


def test_results_keep_suite_order_whatever_order_they_finish_in(project: Project) -> None:
    project.write_module(
        """
        import asyncio

        second_done = None

        async def answer(i):
            global second_done
            if second_done is None:
                second_done = asyncio.Event()
            if i == 0:
                await asyncio.wait_for(second_done.wait(), timeout=60)
            else:
                second_done.set()
            return i
        """
    )
    project.add_case("c0", "answer", {"i": 0}, 0)
    project.add_case("c1", "answer", {"i": 1}, 1)

    report = replay_cases(project.load(), concurrency=2)

    assert [(r.case_id, r.output) for r in report.results] == [("c0", 0), ("c1", 1)]
    assert report.ok


def test_outputs_are_normalised_to_json_as_capture_records_them(project: Project) -> None:
    project.write_module(
        """
        import dataclasses
        import pydantic

        @dataclasses.dataclass
        class Ticket:
            id: int
            labels: tuple

        class Reply(pydantic.BaseModel):
            text: str
            ticket: int

        class Opaque:
            def __repr__(self):
                return "<Opaque>"

        def answer(kind):
            return {
                "dataclass": Ticket(id=1, labels=("a", "b")),
                "pydantic": Reply(text="hi", ticket=1),
                "tuple": (1, 2),
                "other": Opaque(),
                "int-keys": {1: "one"},
            }[kind]
        """
    )
    project.add_case("c1", "answer", {"kind": "dataclass"}, {"id": 1, "labels": ["a", "b"]})
    project.add_case("c2", "answer", {"kind": "pydantic"}, {"text": "hi", "ticket": 1})
    project.add_case("c3", "answer", {"kind": "tuple"}, [1, 2])
    project.add_case("c4", "answer", {"kind": "other"}, {"$repr": "<Opaque>"})
    project.add_case("c5", "answer", {"kind": "int-keys"}, {"1": "one"})

    report = replay_cases(project.load())

    assert report.ok, [(r.case_id, r.reason) for r in report.results]


def test_jsonable_falls_back_to_repr_for_what_json_cannot_hold() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    assert jsonable(2**70) == {"$repr": repr(2**70)}
    assert jsonable(cycle) == {"$repr": "[[...]]"}
    assert jsonable({"a": (1, None)}) == {"a": [1, None]}


def test_a_target_that_mutates_its_arguments_does_not_change_the_case(project: Project) -> None:
    project.write_module(
        """
        def answer(items):
            items.append("x")
            return len(items)
        """
    )
    project.add_case("c1", "answer", {"items": []}, 1)
    suite = project.load()

    first = replay_cases(suite)
    second = replay_cases(suite)

    assert first.ok and second.ok
    assert suite.cases[0].input == {"items": []}


def test_targets_import_and_run_with_casebank_replay_set(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPLAY_ENV, raising=False)
    project.write_module(
        f"""
        import os

        AT_IMPORT = os.environ.get("{REPLAY_ENV}")

        def answer():
            return [AT_IMPORT, os.environ.get("{REPLAY_ENV}")]
        """
    )
    project.add_case("c1", "answer", {}, ["1", "1"])

    report = replay_cases(project.load())

    assert report.ok, report.results[0].reason
    assert REPLAY_ENV not in os.environ  # restored for whoever called replay_cases


def test_traced_targets_are_called_normally_and_write_no_traces(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = project.root / "production.db"
    monkeypatch.setenv("CASEBANK_DB", str(db))
    project.write_module(
        """
        import casebank

        casebank.init()

        @casebank.trace
        def answer(question):
            return question.upper()

        @casebank.trace(name="answer-async")
        async def answer_async(question):
            return question.lower()
        """
    )
    project.add_case("c1", "answer", {"question": "Hi"}, "HI")
    project.add_case("c2", "answer_async", {"question": "Hi"}, "hi")

    report = replay_cases(project.load())

    assert report.ok, [r.reason for r in report.results]
    assert not db.exists()  # init() was a no-op under CASEBANK_REPLAY: replays stay out of the store


def test_concurrency_below_one_is_refused(project: Project) -> None:
    project.write_module("def answer():\n    return 1\n")
    project.add_case("c1", "answer", {}, 1)

    with pytest.raises(InvalidInput, match="concurrency 0 is too small"):
        replay_cases(project.load(), concurrency=0)


def test_record_stores_the_run_and_every_result(project: Project) -> None:
    project.write_module(
        """
        def answer(n):
            if n < 0:
                raise ArithmeticError("negative")
            return {"n": n}
        """
    )
    project.add_case("c1", "answer", {"n": 1}, {"n": 1})
    project.add_case("c2", "answer", {"n": 2}, {"n": 3})
    project.add_case("c3", "answer", {"n": -1}, {"n": -1})
    suite = project.load()
    report = replay_cases(suite, concurrency=3)

    with open_store(project.root / "fresh" / "casebank.db", create=True) as store:
        record(store, report)
        runs = store.list_runs()
        results = store.run_results(report.id)

    assert len(report.id) == 12 and int(report.id, 16) >= 0
    [run] = runs
    assert {k: v for k, v in run.items() if k not in ("started_at", "finished_at")} == {
        "id": report.id,
        "suite": "evals",
        "suite_hash": suite.hash,
        "target": None,
        "concurrency": 3,
        "total": 3,
        "passed": 1,
        "failed": 1,
        "errored": 1,
        "pass_rate": pytest.approx(1 / 3),
        "epochs": 1,
        "git_commit": None,
        "status": "finished",
        "retries": 0,
        "origin": None,  # the runner alone: run_suite says what ran it
        "baseline_id": None,  # and what it was compared with
    }
    assert run["started_at"] <= run["finished_at"]
    rows = [{k: v for k, v in r.items() if k != "latency_ms"} for r in results]
    assert rows == [
        {
            "run_id": report.id,
            "case_id": "c1",
            "epoch": 0,
            "case_file": str(Path("evals") / "answer-c1.json"),
            "passed": 1,
            "score": 1.0,
            "reason": "output equals expected",
            "output": {"n": 1},
            "error": None,
            "grader": "exact",
            "entrypoint": f"{project.module}:answer",
            "expected": {"n": 1},
            "tags": [],
            "traceback": None,
            "retries": 0,
            "timed_out": 0,
            "unreliable": None,
        },
        {
            "run_id": report.id,
            "case_id": "c2",
            "epoch": 0,
            "case_file": str(Path("evals") / "answer-c2.json"),
            "passed": 0,
            "score": 0.0,
            "reason": """expected '{"n":3}', got '{"n":2}'""",
            "output": {"n": 2},
            "error": None,
            "grader": "exact",
            "entrypoint": f"{project.module}:answer",
            "expected": {"n": 3},
            "tags": [],
            "traceback": None,
            "retries": 0,
            "timed_out": 0,
            "unreliable": None,
        },
        {
            "run_id": report.id,
            "case_id": "c3",
            "epoch": 0,
            "case_file": str(Path("evals") / "answer-c3.json"),
            "passed": 0,
            "score": None,
            "reason": "raised ArithmeticError: negative",
            "output": None,
            "error": "ArithmeticError: negative",
            "grader": "exact",
            "entrypoint": f"{project.module}:answer",
            "expected": {"n": -1},
            "tags": [],
            "traceback": results[2]["traceback"],
            "retries": 0,
            "timed_out": 0,
            "unreliable": None,
        },
    ]
    assert all(r["latency_ms"] >= 0 for r in results)
    assert "ArithmeticError: negative" in results[2]["traceback"]


# -- issue 5: epochs, timeouts, retries, selection, stored runs -----------------------------------


def test_epochs_run_each_case_k_times_in_case_order_and_find_the_flaky_one(project: Project) -> None:
    project.write_module(
        """
        calls = {}

        def answer(key):
            calls[key] = calls.get(key, 0) + 1
            if key == "flaky":
                return "ok" if calls[key] % 2 else "no"
            return "ok" if key == "steady" else "no"
        """
    )
    project.add_case("a-steady", "answer", {"key": "steady"}, "ok")
    project.add_case("b-flaky", "answer", {"key": "flaky"}, "ok")
    project.add_case("c-broken", "answer", {"key": "broken"}, "ok")

    report = replay_cases(project.load(), epochs=3, concurrency=1)

    assert [(r.case_id, r.epoch, r.passed) for r in report.results] == [
        ("a-steady", 0, True),
        ("a-steady", 1, True),
        ("a-steady", 2, True),
        ("b-flaky", 0, True),
        ("b-flaky", 1, False),
        ("b-flaky", 2, True),
        ("c-broken", 0, False),
        ("c-broken", 1, False),
        ("c-broken", 2, False),
    ]
    assert (report.epochs, report.total, report.passed, report.failed) == (3, 3, 1, 2)
    assert [c.outcome for c in report.cases()] == ["pass", "flaky", "fail"]


def test_a_case_over_its_timeout_fails_as_timed_out_and_the_run_goes_on(project: Project) -> None:
    project.write_module(
        """
        import asyncio
        import threading

        release = threading.Event()

        async def slow_async(n):
            await asyncio.Event().wait()  # never set: only the timeout ends it

        def slow_sync(n):
            release.wait(60)
            return n

        def quick(n):
            return n
        """
    )
    project.add_case("a", "slow_async", {"n": 1}, 1)
    project.add_case("b", "slow_sync", {"n": 2}, 2)
    project.add_case("c", "quick", {"n": 3}, 3)

    try:
        report = replay_cases(project.load(), timeout=0.05, concurrency=3)
    finally:
        sys.modules[project.module].release.set()  # let the abandoned thread finish

    assert sorted((r.case_id, r.status, r.timed_out, r.reason) for r in report.results) == [
        ("a", "failed", True, "timed out after 0.05 s"),
        ("b", "failed", True, "timed out after 0.05 s"),
        ("c", "passed", False, "output equals expected"),
    ]


def test_a_target_raising_timeout_error_itself_is_an_error_not_a_timeout(project: Project) -> None:
    project.write_module(
        """
        async def answer(n):
            raise TimeoutError("upstream took too long")
        """
    )
    project.add_case("a", "answer", {"n": 1}, 1)

    [result] = replay_cases(project.load(), timeout=5).results

    assert (result.status, result.timed_out, result.error) == ("errored", False, "TimeoutError: upstream took too long")


TRANSIENT = """
calls = {}

class RateLimitError(Exception):  # named as openai's and anthropic's are
    pass

class QuotaHiccup(Exception):
    pass

def answer(key, failures, kind):
    calls[key] = calls.get(key, 0) + 1
    if calls[key] <= failures:
        raise {"rate": RateLimitError, "custom": QuotaHiccup, "value": ValueError}[kind]("try later")
    return "ok"
"""


@pytest.mark.parametrize(
    ("failures", "kind", "retry_on", "status", "retries"),
    [
        pytest.param(2, "rate", [], "passed", 2, id="rate-limit-retried-then-passes"),
        pytest.param(5, "rate", [], "errored", 3, id="retries-run-out"),
        pytest.param(1, "value", [], "errored", 0, id="a-real-bug-is-not-retried"),
        pytest.param(1, "custom", ["QuotaHiccup"], "passed", 1, id="retry-on-names-a-class"),
    ],
)
def test_transient_errors_are_retried_with_backoff_and_counted(
    project: Project, failures: int, kind: str, retry_on: list[str], status: str, retries: int
) -> None:
    project.write_module(TRANSIENT)
    project.add_case("a", "answer", {"key": "a", "failures": failures, "kind": kind}, "ok")

    report = replay_cases(project.load(), retries=3, retry_on=retry_on, retry_wait=0.0)

    [result] = report.results
    assert (result.status, result.retries) == (status, retries)
    assert report.retries == retries
    assert sys.modules[project.module].calls["a"] == retries + 1


@pytest.mark.parametrize(
    "retry_on",
    [
        pytest.param("QuotaHiccup", id="a-class-the-target-module-defines"),
        pytest.param("{module}:QuotaHiccup", id="module-and-class"),
        pytest.param("ConnectionError", id="a-built-in-exception"),
        pytest.param("RateLimitError", id="a-transient-name-already-known"),
    ],
)
def test_retry_on_takes_an_exception_class_by_name_or_import_path(project: Project, retry_on: str) -> None:
    project.write_module(TRANSIENT)
    project.add_case("a", "answer", {"key": "a", "failures": 1, "kind": "custom"}, "ok")

    report = replay_cases(project.load(), retries=1, retry_on=[retry_on.format(module=project.module)], retry_wait=0.0)

    expected_retries = 1 if "QuotaHiccup" in retry_on else 0
    assert report.results[0].retries == expected_retries


@pytest.mark.parametrize(
    ("retry_on", "message"),
    [
        pytest.param(
            "NotAnException",
            "--retry-on 'NotAnException' is not an exception class the entry points load nor a built-in one - "
            "check the name, or give it as MODULE:CLASS",
            id="unknown-name",
        ),
        pytest.param("calls", "--retry-on 'calls' is not an exception class", id="a-name-that-is-no-class"),
        pytest.param("{module}:answer", "--retry-on '{module}:answer' is not an exception class", id="a-function"),
        pytest.param("no_such_mod_xyz:Oops", "--retry-on 'no_such_mod_xyz:Oops' does not import", id="no-module"),
        pytest.param("Quota Hiccup", "--retry-on 'Quota Hiccup' is not a class name", id="not-a-name"),
    ],
)
def test_retry_on_a_name_that_is_no_exception_class_is_refused_before_any_case_runs(
    project: Project, retry_on: str, message: str
) -> None:
    project.write_module(TRANSIENT)
    project.add_case("a", "answer", {"key": "a", "failures": 0, "kind": "custom"}, "ok")

    with pytest.raises(InvalidInput) as raised:
        replay_cases(project.load(), retries=1, retry_on=[retry_on.format(module=project.module)])

    assert str(raised.value).startswith(message.format(module=project.module))
    assert sys.modules[project.module].calls == {}  # imported to look the name up, never called


def test_a_retried_failure_shows_the_target_s_traceback_without_the_retries(project: Project) -> None:
    project.write_module(TRANSIENT)
    project.add_case("a", "answer", {"key": "a", "failures": 5, "kind": "rate"}, "ok")

    [result] = replay_cases(project.load(), retries=1, retry_wait=0.0).results

    assert result.status == "errored" and result.traceback is not None
    assert f"{project.module}.py" in result.traceback
    assert not [harness for harness in ("_runner.py", "_retries.py", "tenacity") if harness in result.traceback]


def test_a_stored_run_loads_back_as_it_was_by_prefix_or_latest(project: Project) -> None:
    from casebank.errors import NotFound
    from casebank.replay._records import load_run, report_from_dict
    from casebank.replay._report_json import report_dict

    project.write_module("def answer(n):\n    if n < 0:\n        raise ValueError('neg')\n    return n\n")
    project.add_case("c1", "answer", {"n": 1}, 1, tags=["a", "b"])
    project.add_case("c2", "answer", {"n": -1}, -1)
    report = replay_cases(project.load(), epochs=2)
    report.git_commit = "f" * 40

    with open_store(project.root / "s.db") as store:
        with pytest.raises(NotFound, match="no runs in store"):
            load_run(store, "latest")
        record(store, report)
        by_prefix = load_run(store, report.id[:4])
        latest = load_run(store, "latest")

    assert report_dict(by_prefix) == report_dict(report) == report_dict(latest)
    assert report_dict(report_from_dict(report_dict(report), "x.json")) == report_dict(report)


# -- issue 4: meaning graders in a run: batched embeddings, caches in the store, judge reliability --


EMBEDDING_BOT = """
def answer(question):
    if question == "crash":
        raise RuntimeError("model unavailable")
    if question == "refund":
        return "Refunds are accepted within thirty days of delivery"
    return "Happy to help with your order"
"""


def test_embedding_cases_are_graded_in_one_batch_after_the_run_and_cached_in_the_store(
    project: Project, fake: FakeCompat
) -> None:
    project.write_module(EMBEDDING_BOT)
    options = {"base_url": fake.openai_url, "model": "embed-1", "threshold": 0.9}
    project.add_case(
        "e1", "answer", {"question": "hello"}, "Happy to help with your order", grader="embedding", options=options
    )
    project.add_case("e2", "answer", {"question": "refund"}, "We ship worldwide", grader="embedding", options=options)
    project.add_case("e3", "answer", {"question": "crash"}, "Happy to help", grader="embedding", options=options)
    project.add_case("x1", "answer", {"question": "hello"}, "Happy to help with your order")
    seen: list[tuple[str, str]] = []

    with open_store(project.root / "casebank.db") as store:
        report = replay_cases(
            project.load(), epochs=2, store=store, on_result=lambda r: seen.append((r.case_id, r.status))
        )
        first_requests = len(fake.on("/v1/embeddings"))
        again = replay_cases(project.load(), store=store)

    assert [(r.case_id, r.epoch, r.status) for r in report.results] == [
        ("e1", 0, "passed"),
        ("e1", 1, "passed"),
        ("e2", 0, "failed"),
        ("e2", 1, "failed"),
        ("e3", 0, "errored"),
        ("e3", 1, "errored"),
        ("x1", 0, "passed"),
        ("x1", 1, "passed"),
    ]
    e1, _, e2, _, e3, _, _, _ = report.results
    assert e1.score == pytest.approx(1.0) and e1.reason.startswith("similarity 1.00")
    assert e2.score is not None and e2.score < 0.9 and "below the threshold 0.9" in e2.reason
    assert e3.score is None and e3.reason == "raised RuntimeError: model unavailable"
    # every result reaches on_result once, with its final verdict
    assert sorted(seen) == sorted((r.case_id, r.status) for r in report.results)
    # one request for the whole run: 2 outputs + 2 expected outputs, each text once
    [request] = fake.on("/v1/embeddings")[:first_requests]
    assert first_requests == 1
    assert sorted(request.body["input"]) == sorted(
        {
            "Happy to help with your order",
            "Refunds are accepted within thirty days of delivery",
            "We ship worldwide",
        }
    )
    # the second run's texts are all in the store: no request at all
    assert len(fake.on("/v1/embeddings")) == 1
    assert [(r.case_id, r.status) for r in again.results] == [
        ("e1", "passed"),
        ("e2", "failed"),
        ("e3", "errored"),
        ("x1", "passed"),
    ]
    assert again.results[1].reason == e2.reason


def test_a_failing_embedding_endpoint_fails_its_cases_with_a_reason_and_the_run_goes_on(
    project: Project, fake: FakeCompat
) -> None:
    project.write_module(EMBEDDING_BOT)
    fake.fail_status = 400
    options = {"base_url": fake.openai_url, "model": "embed-1"}
    project.add_case(
        "e1", "answer", {"question": "hello"}, "Happy to help with your order", grader="embedding", options=options
    )
    project.add_case("x1", "answer", {"question": "hello"}, "Happy to help with your order")

    report = replay_cases(project.load())

    e1, x1 = report.results
    assert (e1.status, x1.status) == ("failed", "passed")
    assert e1.reason.startswith("grader 'embedding' endpoint") and "model 'embed-1' failed" in e1.reason


def _judge_options(fake: FakeCompat) -> dict[str, str]:
    return {"rubric": 'The answer must mention "30 days".', "model": "judge-1", "base_url": fake.openai_url}


def _calibrate(store: Store, spec: dict[str, object], kappa: float, suite: Path) -> None:
    from dataclasses import asdict

    from casebank.replay._calibrate import Calibration, config_hash

    confusion = {"good_passed": 8, "good_failed": 1, "bad_passed": 1, "bad_failed": 8}
    calibration = Calibration(
        config_hash=config_hash(spec, base_dir=suite),
        grader=dict(spec),
        suite=str(suite),
        total=18,
        confusion=confusion,
        accuracy=16 / 18,
        kappa=kappa,
        true_pass_rate=8 / 9,
        true_fail_rate=8 / 9,
    )
    store.record_calibration(asdict(calibration))


def test_judge_results_are_unreliable_until_the_judge_is_calibrated_with_kappa_of_at_least_0_6(
    project: Project, fake: FakeCompat
) -> None:
    from casebank.replay import load_run

    project.write_module(
        """
        def answer(question):
            return "You can return it within 30 days."
        """
    )
    judge = {"name": "llm_judge", "options": _judge_options(fake)}
    project.add_case(
        "j1", "answer", {"question": "refunds?"}, "Within 30 days.", grader="llm_judge", options=judge["options"]
    )
    composite = {"graders": ["json_valid", judge]}
    project.add_case("j2", "answer", {"question": "refunds?"}, "Within 30 days.", grader="any", options=composite)
    project.add_case("x1", "answer", {"question": "refunds?"}, "You can return it within 30 days.")
    suite = project.load()

    with open_store(project.root / "casebank.db") as store:
        uncalibrated = replay_cases(suite, store=store)
        _calibrate(store, judge, 0.42, suite.folder)
        poor = replay_cases(suite, store=store)
        _calibrate(store, judge, 0.8, suite.folder)
        calibrated = replay_cases(suite, store=store)
        record(store, uncalibrated)
        stored = load_run(store, uncalibrated.id)
    judge_calls = len(fake.on("/v1/chat/completions"))
    no_store = replay_cases(suite)

    assert [r.status for r in uncalibrated.results] == ["passed", "passed", "passed"]
    not_calibrated = (
        "judge not calibrated - run 'cases judge calibrate --grader-file FILE --suite evals' "
        "with its grader spec in FILE"
    )
    assert [r.unreliable for r in uncalibrated.results] == [not_calibrated, not_calibrated, None]
    kappa_low = "judge kappa 0.42 < 0.6 - improve the rubric or model and calibrate again"
    assert [r.unreliable for r in poor.results] == [kappa_low, kappa_low, None]
    assert [r.unreliable for r in calibrated.results] == [None, None, None]
    assert [r.unreliable for r in stored.results] == [not_calibrated, not_calibrated, None]
    assert [r.unreliable for r in no_store.results] == [None, None, None]
    # one call for the same question to the same judge, then the store's cache: across cases and runs
    assert judge_calls == 1


def test_an_errored_judge_case_is_neither_graded_nor_marked(project: Project, fake: FakeCompat) -> None:
    project.write_module(EMBEDDING_BOT)
    project.add_case("j1", "answer", {"question": "crash"}, "x", grader="llm_judge", options=_judge_options(fake))

    with open_store(project.root / "casebank.db") as store:
        report = replay_cases(project.load(), store=store)

    [result] = report.results
    assert (result.status, result.unreliable) == ("errored", None)
    assert fake.on("/v1/chat/completions") == []


# -- graders off the loop: judges in parallel, async targets never stalled by a grade --


JUDGED_BOT = """
import asyncio
import threading

JUDGE_ASKED = threading.Event()
JUDGE_MAY_ANSWER = threading.Event()


def answer(i):
    return f"{__name__} ticket {i}: you can return it within 30 days."


async def answer_async(i):
    return f"{__name__} ticket {i}: you can return it within 30 days."


async def meanwhile():
    # Goes on only once the judge's request is in flight, then lets the judge answer.
    await asyncio.to_thread(JUDGE_ASKED.wait, 60)
    JUDGE_MAY_ANSWER.set()
    return "done"
"""


def test_judge_calls_run_at_once_up_to_the_concurrency_and_are_cached_from_every_thread(
    project: Project, fake: FakeCompat
) -> None:
    # The fake holds each judge request until K are in flight together: the run can only pass
    # if K judges are asked at once (graded one at a time, the first would wait out the timeout).
    k = 4
    barrier = threading.Barrier(k, timeout=30)

    def hold(path: str) -> None:
        barrier.wait()

    fake.before_answer = hold
    project.write_module(JUDGED_BOT)
    for i in range(2 * k):
        function = "answer" if i % 2 else "answer_async"
        project.add_case(
            f"j{i}", function, {"i": i}, "Within 30 days.", grader="llm_judge", options=_judge_options(fake)
        )
    suite = project.load()

    with open_store(project.root / "casebank.db") as store:
        report = replay_cases(suite, concurrency=k, store=store)
        again = replay_cases(suite, concurrency=k, store=store)

    assert not barrier.broken
    assert report.ok, [r.reason for r in report.results]
    assert [r.case_id for r in report.results] == [case.id for case in suite.cases]
    # every verdict reached the store's cache from its grading thread: the second run asks no judge
    assert again.ok and len(fake.on("/v1/chat/completions")) == 2 * k


def test_an_async_case_goes_on_while_another_cases_judge_is_waiting(project: Project, fake: FakeCompat) -> None:
    # The judge answers only after the other case has run past an await, which it can do only
    # while the loop is free: a grade on the loop's thread would hold the judge until the timeout.
    project.write_module(JUDGED_BOT)
    released: list[bool] = []

    def hold(path: str) -> None:
        bot = sys.modules[project.module]
        bot.JUDGE_ASKED.set()
        released.append(bot.JUDGE_MAY_ANSWER.wait(timeout=30))

    fake.before_answer = hold
    project.add_case("a", "answer_async", {"i": 0}, "Within 30 days.", grader="llm_judge", options=_judge_options(fake))
    project.add_case("b", "meanwhile", {}, "done")

    report = replay_cases(project.load(), concurrency=2)

    assert released == [True]
    assert report.ok, [r.reason for r in report.results]


def test_ctrl_c_does_not_wait_for_a_judge_and_its_late_verdict_stays_out_of_the_store(
    project: Project, fake: FakeCompat
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("the runner handles Ctrl-C only in the main thread")
    run_over = threading.Event()
    answered_after_run: list[bool] = []

    def interrupt_then_hold(path: str) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the judge is being asked
        answered_after_run.append(run_over.wait(timeout=30))

    fake.before_answer = interrupt_then_hold
    project.write_module(JUDGED_BOT)
    project.add_case("j1", "answer", {"i": 0}, "Within 30 days.", grader="llm_judge", options=_judge_options(fake))

    with open_store(project.root / "casebank.db") as store:
        try:
            report = replay_cases(project.load(), store=store, handle_sigint=True)
        finally:
            run_over.set()
        for thread in threading.enumerate():
            if thread.name.startswith("casebank-grade"):
                thread.join(timeout=30)  # the abandoned grade answers and ends
        fake.before_answer = None
        previous = judge_module.set_verdict_cache(judge_module.MemoryVerdictCache())  # as a new process
        try:
            again = replay_cases(project.load(), store=store)
        finally:
            judge_module.set_verdict_cache(previous)

    assert (report.status, report.results) == ("interrupted", [])
    assert answered_after_run == [True]
    # The late verdict never reached the store: the next run has to ask the judge again.
    assert again.ok and len(fake.on("/v1/chat/completions")) == 2


def test_epochs_judged_at_once_ask_the_judge_one_question_once(project: Project, fake: FakeCompat) -> None:
    project.write_module(JUDGED_BOT)
    project.add_case("j1", "answer", {"i": 0}, "Within 30 days.", grader="llm_judge", options=_judge_options(fake))

    report = replay_cases(project.load(), concurrency=4, epochs=4)

    assert report.ok and len(report.results) == 4
    # the epochs' grades wait for the first one's answer instead of asking again
    assert len(fake.on("/v1/chat/completions")) == 1
