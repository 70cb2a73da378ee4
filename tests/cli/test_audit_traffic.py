"""`cases audit leakage | coverage | duplicates` through the real `cases` command: a store and suite
built to trip each, and the same suite made to pass."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from casebank.replay import write_case
from casebank.store import open_store
from tests.audit.traffic import Traffic, make_case, message
from tests.cli.conftest import Cases, assert_one_line_error

QUESTION = "How long do I have to return a pair of shoes bought in the sale?"
EDITED = "HOW LONG do I have to return a pair of   boots , bought in the sale"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _suite(root: Path, *extra: str) -> None:
    for n, question in enumerate((QUESTION, "I forgot my password and cannot log in", *extra)):
        write_case(make_case(f"case{n}", question, "We will help you today with that."), root / "evals")


def test_a_leaked_case_fails_strict_and_is_shown_with_where_it_was_found(
    cases: Cases, db: Path, tmp_path: Path
) -> None:
    _suite(tmp_path)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support.txt").write_text(f"Be kind.\nExample: {EDITED}\n")
    with open_store(db) as store:
        sent = Traffic(store, now=_now())("Can I pay by card?", messages=[message("user", EDITED)])
    result = cases("audit", "leakage", "--prompts", "prompts/*.txt", "--strict")
    assert result.code == 1, result.err
    assert result.out.splitlines() == [
        "FAIL leakage: 1 of 2 cases appear in the prompts (traces and files matching prompts/*.txt) - a case the "
        "model has seen tests memory, not behaviour: take it out of the prompt",
        f"     case0 input (77%): {QUESTION}",
        f"       77% in 1 trace: {sent}",
        "       77% in prompts/support.txt:2",
    ]
    traces_only = cases("audit", "leakage", "--strict", "--json")
    assert traces_only.code == 1 and [f["case_id"] for f in orjson.loads(traces_only.out)[0]["findings"]] == ["case0"]


def test_a_suite_whose_prompts_hold_no_case_passes_strict(cases: Cases, db: Path, tmp_path: Path) -> None:
    _suite(tmp_path)
    with open_store(db) as store:
        Traffic(store, now=_now())(
            QUESTION, system="Be kind.", messages=[message("user", "Hi"), message("assistant", "Hello")]
        )
    result = cases("audit", "leakage", "--strict")
    assert result.code == 0, result.out + result.err
    assert result.out.startswith("ok   leakage: no case appears in the prompts (traces; ")


def test_uncovered_traffic_and_duplicate_cases_fail_strict_and_are_named(
    cases: Cases, db: Path, tmp_path: Path
) -> None:
    _suite(tmp_path, QUESTION.upper())  # case2 duplicates case0
    with open_store(db) as store:
        traffic = Traffic(store, now=_now())
        for _ in range(3):
            traffic("How long do I have to return a pair of boots bought in the sale?")
        gifts = [
            traffic(q)
            for q in (
                "Do you sell gift cards?",
                "do you sell gift cards for birthdays",
                "Gift cards: do you sell them?",
            )
        ]
    result = cases("audit", "coverage", "duplicates", "--json", "--strict")
    assert result.code == 1, result.err
    coverage, duplicates = orjson.loads(result.out)
    (answer,) = coverage["findings"]
    assert (answer["traces"], answer["covered"]) == (6, 3)
    assert answer["uncovered_groups"][0]["example_trace_ids"] == gifts
    assert [f["case_ids"] for f in duplicates["findings"]] == [["case0", "case2"]]
    shown = cases("audit", "coverage")
    assert f"         e.g. {', '.join(gifts)}" in shown.out.splitlines()


def test_traffic_that_the_suite_resembles_passes_strict(cases: Cases, db: Path, tmp_path: Path) -> None:
    _suite(tmp_path)
    with open_store(db) as store:
        traffic = Traffic(store, now=_now())
        for question in ("How long do I have to return a pair of boots bought in the sale?", "I forgot my password"):
            traffic(question)
    result = cases("audit", "coverage", "duplicates", "--strict", "--days", "2")
    assert result.code == 0, result.out + result.err
    assert (
        result.out.splitlines()[0]
        == "ok   coverage: traffic of the last 2 days resembles the suite (bot:answer 100% of 2 covered)"
    )


def test_a_prompts_pattern_that_matches_nothing_is_a_usage_error(cases: Cases, tmp_path: Path) -> None:
    _suite(tmp_path)
    result = cases("audit", "leakage", "--prompts", "promts/*.txt")
    assert_one_line_error(result, 2, "--prompts 'promts/*.txt' matches no file in", "check the pattern")
