"""Span graders over what a replay did: the real openai client against the fake server, spans in memory only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

import casebank
from casebank.errors import InvalidInput, PromotionRefused
from casebank.replay import run_suite
from casebank.replay._case import load_case
from casebank.replay._promote import promote, sanity_check
from casebank.replay.graders import Replay, make_grader
from casebank.store import open_store
from tests.fakes import FakeLLM, fake_llm

__all__ = ["fake_llm"]  # the fixture

if TYPE_CHECKING:
    from tests.replay.conftest import Project

APP = """
    import os
    import casebank
    import openai

    casebank.init()  # a no-op while cases replay: nothing of theirs reaches the store

    client = openai.OpenAI(api_key="sk-test-casebank-0123456789abcdef", base_url=os.environ["FAKE_LLM_URL"],
                           max_retries=0)

    @casebank.tool
    def lookup_policy(topic: str) -> str:
        return "Refunds within 14 days."

    @casebank.trace
    def answer(question: str) -> str:
        policy = lookup_policy("refunds")
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "system", "content": policy}, {"role": "user", "content": question}]
        )
        return reply.choices[0].message.content
"""


def _spec(grader_name: str, /, **options: Any) -> dict[str, Any]:
    return {"name": grader_name, "options": options}


@pytest.fixture
def app(project: Project, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("FAKE_LLM_URL", fake_llm.openai_url)
    fake_llm.reply.text = "You can get a refund within 14 days."
    project.write_module(APP)
    return project


@pytest.mark.parametrize(
    ("grader", "passed", "reason"),
    [
        pytest.param(
            _spec("all", graders=["contains", _spec("tool_called", name="lookup_policy")]),
            True,
            "all 2 graders passed; last tool_called: called lookup_policy once; expected at least once",
            id="answer-and-tool",
        ),
        pytest.param(
            _spec("tool_called", name="lookup_policy", arguments={"topic": "shipping"}),
            False,
            'called lookup_policy with {"topic":"shipping"} 0 times; expected at least once',
            id="arguments-subset",
        ),
        pytest.param(
            _spec("tool_called", name="lookup_policy", times=2),
            False,
            "called lookup_policy once; expected exactly 2 times",
            id="times",
        ),
        pytest.param(
            _spec("tool_not_called", name="lookup_policy"),
            False,
            "called lookup_policy once; expected never",
            id="not-called",
        ),
        pytest.param(_spec("llm_calls", max=0), False, "made 1 LLM call; expected at most 0", id="llm-calls"),
        pytest.param(
            _spec("tokens", max_input=5, max_output=100),
            False,
            "used 12 input and 7 output tokens over 1 LLM calls; expected input at most 5, output at most 100",
            id="tokens",
        ),
        pytest.param(_spec("latency", max_ms=120_000), True, None, id="latency"),
    ],
)
def test_span_graders_read_the_replays_tool_and_llm_spans(
    app: Project, grader: dict[str, Any], passed: bool, reason: str | None, db_path: Path
) -> None:
    from casebank.replay._case import Case, write_case

    write_case(
        Case(
            id="c1",
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint=f"{app.module}:answer",
            input={"question": "How long do I have?"},
            expected="14 days",
            grader=grader,
        ),
        app.suite,
    )

    with open_store(db_path) as store:
        (result,) = run_suite(app.load(), store=store).results
        counts = store.counts()

    assert result.passed is passed, result.reason
    if reason is not None:
        assert result.reason == reason
    else:
        assert result.reason.startswith("took ") and result.reason.endswith("expected at most 120000 ms")
    assert counts.spans == 0 and counts.traces == 0  # collected in memory, never written
    assert casebank.current_trace_id() is None


def test_span_graders_refuse_bad_options_when_built() -> None:
    with pytest.raises(InvalidInput, match="grader 'tool_called' needs --option name=TOOL"):
        make_grader(_spec("tool_called"))
    with pytest.raises(InvalidInput, match="grader 'llm_calls' needs --option max=N"):
        make_grader(_spec("llm_calls"))
    with pytest.raises(InvalidInput, match="grader 'tokens' needs --option max_input=N, --option max_output=N"):
        make_grader(_spec("tokens"))


def test_a_span_grader_without_a_replay_fails_saying_why_and_with_no_spans_has_nothing_to_check() -> None:
    grader = make_grader(_spec("tool_called", name="lookup_policy"))
    assert grader.grade("out", None).reason == "grader 'tool_called' reads the replay's spans, and none were given"
    assert grader.grade_replay("out", None, Replay(spans=None)).passed


# -- promote: span graders grade the flagged trace's recorded spans --------------------------------


@casebank.tool
def lookup_policy(topic: str) -> dict[str, Any]:
    return {"topic": topic, "days": 14}


@casebank.trace
def support_answer(question: str) -> str:
    policy = lookup_policy("refunds")
    return f"Refunds within {policy['days'] * 2} days."  # the bug: the policy says 14


def _flagged(db_path: Path, grader: dict[str, Any]) -> str:
    casebank.init(db_path)
    ids: list[str | None] = []

    @casebank.trace
    def handler(question: str) -> str:
        ids.append(casebank.current_trace_id())
        return support_answer(question)

    handler("How long for refunds?")
    assert casebank.flush()
    with open_store(db_path) as store:
        incident = store.flag(ids[0] or "", "wrong refund window")
        store.annotate(incident.id, expected="14 days", grader=grader, tags=[])
        return incident.id


def test_promote_refuses_a_span_grader_the_recorded_trace_passes(db_path: Path, tmp_path: Path) -> None:
    incident_id = _flagged(db_path, _spec("tool_called", name="lookup_policy"))
    with open_store(db_path) as store:
        incident = store.get_incident(incident_id)
        check = sanity_check(incident)
        assert not check.holds
        assert "called lookup_policy once; expected at least once" in check.problem()
        with pytest.raises(PromotionRefused, match="would not have caught the incident"):
            promote(store, incident, tmp_path / "evals")


def test_promote_keeps_the_traces_tool_calls_as_fixtures_when_the_grader_catches_it(
    db_path: Path, tmp_path: Path
) -> None:
    grader = _spec("all", graders=["contains", _spec("tool_called", name="lookup_policy", times=1)])
    incident_id = _flagged(db_path, {**grader, "frozen_tools": True})
    with open_store(db_path) as store:
        path = promote(store, store.get_incident(incident_id), tmp_path / "evals")

    case = load_case(path)
    assert case.grader == grader  # the replay setting went to its own field
    assert case.frozen_tools is True
    assert case.fixtures == [
        {
            "order": 0,
            "name": "lookup_policy",
            "function": f"{__name__}:lookup_policy",
            "arguments": {"topic": "refunds"},
            "result": {"topic": "refunds", "days": 14},
        }
    ]
    assert orjson.loads(path.read_bytes())["fixtures"] == case.fixtures  # in the file, under the hash
