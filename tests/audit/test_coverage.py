"""The coverage audit: the share of recent traffic that a case resembles, and the largest groups that none does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from casebank.audit import run_audit
from casebank.audit._coverage import uncovered_traces
from casebank.store import Store, open_store
from tests.audit.traffic import Traffic, context, make_case

REFUNDS = [
    "How do I get a refund for my shoes?",
    "how do I get a refund for my boots",
    "How do I get a refund for my order?",
    "HOW DO I GET A REFUND FOR MY SANDALS",
]
PASSWORDS = [
    "I forgot my password and cannot log in",
    "i forgot my password and can not log in to the app",
    "Forgot my password, cannot log in",
    "I forgot the password and I cannot log in",
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "casebank.db") as opened:
        yield opened


def _suite() -> list:  # type: ignore[type-arg]
    return [
        make_case("refund", "How do I get a refund for my trainers?"),
        make_case("parcel", "Where is my parcel? It has not arrived"),
        make_case("triage", "Sort this ticket: refund request", entrypoint="bot:triage"),
    ]


def test_an_uncovered_group_of_traffic_is_named_with_example_traces(store: Store, tmp_path: Path) -> None:
    traffic = Traffic(store)
    covered = [traffic(q) for q in REFUNDS * 2]
    uncovered = [traffic(q) for q in PASSWORDS * 2]
    lonely = traffic("Do you sell gift cards for birthdays?")
    traffic("Where is my parcel? It has not arrived yet", days_ago=9)  # before the window
    triage = [traffic("Sort this ticket: refund request please", entrypoint="bot:triage")]
    result = run_audit("coverage", context(_suite(), store, tmp_path))
    assert not result.ok
    answer, triaged = result.findings
    assert (answer["entrypoint"], answer["traces"], answer["covered"], answer["share"]) == ("bot:answer", 17, 8, 0.471)
    groups = answer["uncovered_groups"]
    assert [g["traces"] for g in groups] == [8, 1]
    assert groups[0]["example_trace_ids"] == uncovered[:5]
    assert groups[0]["example_input"] == PASSWORDS[0]
    assert groups[1]["example_trace_ids"] == [lonely]
    assert (triaged["entrypoint"], triaged["covered"], triaged["uncovered_groups"]) == ("bot:triage", 1, [])
    assert "bot:answer: 47% covered; 1 uncovered group, the largest 8 traces like 'I forgot my password" in (
        result.summary
    )
    assert result.summary.endswith("promote some of them ('cases traces --uncovered' lists them)")
    listed = [t.trace_id for t in uncovered_traces(store, _suite(), "2024-05-01T00:00:00+00:00")]
    assert listed == [*uncovered, lonely] and not set(listed) & set(covered + triage)


def test_traffic_that_the_suite_resembles_passes(store: Store, tmp_path: Path) -> None:
    traffic = Traffic(store)
    for q in REFUNDS * 3:
        traffic(q)
    traffic("Do you sell gift cards for birthdays?")  # one odd question is not a group
    traffic("Sort this ticket: refund request please", entrypoint="bot:triage")
    result = run_audit("coverage", context(_suite(), store, tmp_path))
    assert result.ok, result.summary
    assert result.summary == (
        "traffic of the last 7 days resembles the suite (bot:answer 92% of 13, bot:triage 100% of 1 covered)"
    )


def test_an_entry_point_with_traffic_and_no_case_fails(store: Store, tmp_path: Path) -> None:
    Traffic(store)("What is the weather?", entrypoint="bot:smalltalk")
    result = run_audit("coverage", context(_suite(), store, tmp_path, days=3))
    assert not result.ok
    assert result.summary.startswith("bot:smalltalk has 1 trace and no case")


def test_no_traffic_in_the_window_and_no_store(store: Store, tmp_path: Path) -> None:
    Traffic(store)(REFUNDS[0], days_ago=30)
    quiet = run_audit("coverage", context(_suite(), store, tmp_path))
    assert (quiet.ok, quiet.summary) == (True, "no traces in the last 7 days to compare the suite with")
    skipped = run_audit("coverage", context(_suite(), None, tmp_path))
    assert (skipped.ok, skipped.skipped) == (True, "no store")


def test_with_embeddings_a_paraphrase_in_other_words_is_covered(store: Store, tmp_path: Path) -> None:
    # The embedding grader's local model (the embeddings extra): the same question in other words.
    traffic = Traffic(store)
    traffic("Can you refund my sneakers?")
    traffic("My package still has not been delivered")
    password = traffic("I forgot my password and cannot log in")
    by_words = run_audit("coverage", context(_suite()[:2], store, tmp_path))
    assert by_words.findings[0]["covered"] == 0
    by_meaning = run_audit("coverage", context(_suite()[:2], store, tmp_path, similarity="embeddings"))
    (answer,) = by_meaning.findings
    assert (answer["traces"], answer["covered"]) == (3, 2)
    assert [g["example_trace_ids"] for g in answer["uncovered_groups"]] == [[password]]
    listed = uncovered_traces(store, _suite(), "2024-05-01T00:00:00+00:00", similarity="embeddings")
    assert [t.trace_id for t in listed] == [password]
