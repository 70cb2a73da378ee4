"""Frozen tools in `run_suite`: fixtures answer `@casebank.tool` calls, per case, by name, arguments and order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay import run_suite
from casebank.replay._case import Case, write_case
from casebank.replay._report_json import report_dict
from casebank.replay._report_junit import to_junit
from casebank.replay._report_markdown import to_markdown
from casebank.replay._report_table import table_text

if TYPE_CHECKING:
    from tests.replay.conftest import Project


def fixture(name: str, arguments: dict[str, Any], result: Any = None, *, error: dict[str, str] | None = None) -> dict:
    entry: dict[str, Any] = {"name": name, "arguments": arguments, "function": None}
    if error is not None:
        entry["error"] = error
    else:
        entry["result"] = result
    return entry


def add_case(
    project: Project,
    case_id: str,
    function: str,
    input: dict[str, Any],
    expected: Any,
    fixtures: list[dict[str, Any]],
    *,
    grader: dict[str, Any] | None = None,
    frozen_tools: bool = False,
) -> Case:
    for n, entry in enumerate(fixtures):
        entry["order"] = n
    case = Case(
        id=case_id,
        created_at="2024-05-01T12:00:00.000+00:00",
        entrypoint=f"{project.module}:{function}",
        input=input,
        expected=expected,
        grader=grader or {"name": "exact", "options": {}},
        fixtures=fixtures,
        frozen_tools=frozen_tools,
    )
    write_case(case, project.suite)
    return case


BOT = """
    import dataclasses
    import casebank

    @dataclasses.dataclass
    class Passage:
        topic: str
        text: str

    LIVE = {"refunds": "within 30 days", "shipping": "in 3 days"}

    @casebank.tool
    def search(topic: str, k: int = 1) -> list[Passage]:
        return [Passage(topic=topic, text=LIVE[topic])][:k]

    @casebank.trace
    def answer(topic: str) -> str:
        passages = search(topic)
        assert isinstance(passages[0], Passage), passages  # results come back as their types
        return f"{topic}: {passages[0].text}"
"""


def test_a_frozen_replay_answers_tools_from_the_fixtures_and_a_live_one_calls_them(project: Project) -> None:
    project.write_module(BOT)
    add_case(
        project,
        "c1",
        "answer",
        {"topic": "refunds"},
        "refunds: within 14 days",
        [fixture("search", {"topic": "refunds", "k": 1}, [{"topic": "refunds", "text": "within 14 days"}])],
    )

    live = run_suite(project.load())
    frozen = run_suite(project.load(), frozen_tools=True)

    (result,) = live.results
    assert (result.status, result.output, result.tools_frozen, result.tools_live) == (
        "failed",
        "refunds: within 30 days",
        0,
        1,
    )
    (result,) = frozen.results
    assert (result.status, result.tools_frozen, result.tools_live, result.unused_fixtures) == ("passed", 1, 0, [])


def test_a_case_annotated_frozen_replays_frozen_unless_the_run_says_live_tools(project: Project) -> None:
    project.write_module(BOT)
    add_case(
        project,
        "c1",
        "answer",
        {"topic": "refunds"},
        "refunds: within 14 days",
        [fixture("search", {"topic": "refunds", "k": 1}, [{"topic": "refunds", "text": "within 14 days"}])],
        frozen_tools=True,
    )

    assert run_suite(project.load()).results[0].status == "passed"
    assert run_suite(project.load(), frozen_tools=False).results[0].status == "failed"


def test_equal_calls_get_their_answers_in_recorded_order_and_arguments_match_in_any_key_order(
    project: Project,
) -> None:
    project.write_module(
        """
        import casebank

        @casebank.tool
        def roll(sides, times=1):
            raise AssertionError("a frozen replay must not call the tool")

        def answer():
            return [roll(6), roll(6), roll(times=2, sides=20)]
        """
    )
    add_case(
        project,
        "c1",
        "answer",
        {},
        [4, 1, 17],
        [
            fixture("roll", {"sides": 6, "times": 1}, 4),
            fixture("roll", {"times": 2, "sides": 20}, 17),
            fixture("roll", {"sides": 6, "times": 1}, 1),
        ],
    )

    (result,) = run_suite(project.load(), frozen_tools=True).results

    assert (result.status, result.output, result.tools_frozen) == ("passed", [4, 1, 17], 3)


def test_a_call_with_no_recorded_answer_fails_the_case_even_when_the_app_catches_it(project: Project) -> None:
    project.write_module(
        """
        import casebank

        @casebank.tool
        def lookup(key):
            return f"live {key}"

        def answer(key):
            try:
                return lookup(key)
            except Exception:
                return "fallback"
        """
    )
    add_case(project, "c1", "answer", {"key": "b"}, "live b", [fixture("lookup", {"key": "a"}, "recorded a")])

    (failed,) = run_suite(project.load(), frozen_tools=True).results
    (live,) = run_suite(project.load(), frozen_tools=True, on_missing_fixture="live").results

    assert failed.status == "failed"
    assert failed.reason == 'frozen tools: no recorded answer for tool call lookup({"key":"b"})'
    assert failed.unused_fixtures == ['lookup({"key":"a"})']
    assert (live.status, live.output, live.tools_frozen, live.tools_live) == ("passed", "live b", 0, 1)
    assert live.unused_fixtures == ['lookup({"key":"a"})']


def test_an_unknown_on_missing_fixture_is_a_usage_error(project: Project) -> None:
    project.write_module("def answer():\n    return 1\n")
    add_case(project, "c1", "answer", {}, 1, [])
    with pytest.raises(InvalidInput, match="--on-missing-fixture 'skip' is not one of fail, live"):
        run_suite(project.load(), on_missing_fixture="skip")


def test_recorded_calls_the_replay_never_made_are_reported_in_every_format(project: Project) -> None:
    project.write_module(
        """
        import casebank

        @casebank.tool
        def lookup(key):
            return key

        def answer(keys):
            return [lookup(k) for k in keys]
        """
    )
    add_case(
        project,
        "c1",
        "answer",
        {"keys": ["a"]},
        ["A", "B"],
        [fixture("lookup", {"key": "a"}, "A"), fixture("lookup", {"key": "b"}, "B")],
    )

    report = run_suite(project.load(), frozen_tools=True)

    (result,) = report.results
    assert (result.status, result.tools_frozen, result.unused_fixtures) == ("failed", 1, ['lookup({"key":"b"})'])
    line = 'tools: 1 from fixtures, 0 live; 1 recorded call never made: lookup({"key":"b"})'
    assert "tool calls: 1 from fixtures, 0 live" in table_text(report)
    assert f"case c1: {line}" in table_text(report)
    assert line in to_markdown(report)
    assert f"<system-out>{line}</system-out>" in to_junit(report)
    (as_json,) = report_dict(report)["results"]  # type: ignore[misc]
    assert (as_json["tools_frozen"], as_json["tools_live"], as_json["unused_fixtures"]) == (  # type: ignore[index]
        1,
        0,
        ['lookup({"key":"b"})'],
    )


def test_a_recorded_exception_is_raised_again_as_its_own_type_or_as_recorded_tool_error(project: Project) -> None:
    project.write_module(
        """
        import casebank
        from casebank.errors import RecordedToolError

        class PolicyNotFound(LookupError):
            pass

        @casebank.tool
        def policy(topic):
            raise AssertionError("not called when frozen")

        def answer():
            seen = []
            for topic in ("pets", "gone"):
                try:
                    policy(topic)
                except PolicyNotFound as exc:
                    seen.append(f"PolicyNotFound: {exc}")
                except RecordedToolError as exc:
                    seen.append(f"RecordedToolError: {exc.type_name} / {exc.message}")
            return seen
        """
    )
    add_case(
        project,
        "c1",
        "answer",
        {},
        [
            "PolicyNotFound: no policy for pets",
            "RecordedToolError: old_app.errors:Vanished / it was here",
        ],
        [
            fixture(
                "policy",
                {"topic": "pets"},
                error={"type": f"{project.module}:PolicyNotFound", "message": "no policy for pets"},
            ),
            fixture("policy", {"topic": "gone"}, error={"type": "old_app.errors:Vanished", "message": "it was here"}),
        ],
    )

    (result,) = run_suite(project.load(), frozen_tools=True).results

    assert result.status == "passed", result.reason


def test_a_result_that_no_longer_fits_the_return_type_fails_the_case_saying_so(project: Project) -> None:
    project.write_module(
        """
        import casebank

        @casebank.tool
        def count(topic) -> int:
            return 3

        def answer():
            return count("refunds")
        """
    )
    add_case(project, "c1", "answer", {}, 3, [fixture("count", {"topic": "refunds"}, "three")])

    (result,) = run_suite(project.load(), frozen_tools=True).results

    assert result.status == "failed"
    assert result.reason.startswith(
        'frozen tools: the recorded result of tool call count({"topic":"refunds"}) does not rebuild as the tool\'s '
        "return type"
    )


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_fifty_frozen_cases_in_flight_at_once_each_see_only_their_own_fixtures(project: Project, kind: str) -> None:
    # Every case waits at the barrier until all fifty are in flight, then asks the same tool the
    # same question: only the context-bound fixtures tell the answers apart.
    if kind == "sync":
        project.write_module(
            """
            import threading
            import casebank

            barrier = threading.Barrier(50, timeout=30)

            @casebank.tool
            def lookup(question):
                raise AssertionError("not called when frozen")

            @casebank.trace
            def answer(n):
                barrier.wait()
                return {"n": n, "answer": lookup("which case am I?")}
            """
        )
    else:
        project.write_module(
            """
            import asyncio
            import casebank

            arrived = 0
            everyone = None

            @casebank.tool
            async def lookup(question):
                raise AssertionError("not called when frozen")

            @casebank.trace
            async def answer(n):
                global arrived, everyone
                everyone = everyone or asyncio.Event()
                arrived += 1
                if arrived == 50:
                    everyone.set()
                await asyncio.wait_for(everyone.wait(), 30)
                return {"n": n, "answer": await lookup("which case am I?")}
            """
        )
    for n in range(50):
        add_case(
            project,
            f"c{n:02d}",
            "answer",
            {"n": n},
            {"n": n, "answer": f"case {n}"},
            [fixture("lookup", {"question": "which case am I?"}, f"case {n}")],
        )

    report = run_suite(project.load(), frozen_tools=True, concurrency=50)

    assert [r.status for r in report.results] == ["passed"] * 50, [r.reason for r in report.results if not r.passed]
    assert all(r.tools_frozen == 1 and r.unused_fixtures == [] for r in report.results)
