"""The text graders (exact, contains, regex): verdicts, options checked up front, crashes contained."""

from __future__ import annotations

from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import GRADERS, Grader, Verdict, as_text, grade_safely, make_grader


def grade(name: str, output: Any, expected: Any, **options: Any) -> Verdict:
    return make_grader({"name": name, "options": options}).grade(output, expected)


@pytest.mark.parametrize(
    ("name", "options", "output", "expected", "passed"),
    [
        pytest.param("exact", {}, "30 days", "30 days", True, id="exact-same"),
        pytest.param("exact", {}, "30 days", "30 Days", False, id="exact-case-differs"),
        pytest.param("exact", {}, "30 days ", "30 days", False, id="exact-trailing-space"),
        pytest.param("exact", {"normalize": "whitespace"}, " 30\n days ", "30 days", True, id="exact-whitespace"),
        pytest.param("exact", {"normalize": "case"}, "30 DAYS", "30 days", True, id="exact-case"),
        pytest.param("exact", {"normalize": "case"}, "30  DAYS", "30 days", False, id="exact-case-not-whitespace"),
        pytest.param("exact", {"normalize": "both"}, " 30\tDAYS", "30 days", True, id="exact-both"),
        pytest.param("exact", {}, "café", "café", True, id="exact-unicode"),
        pytest.param("exact", {"normalize": "case"}, "STRASSE", "straße", True, id="exact-unicode-casefold"),
        pytest.param("exact", {}, "", "30 days", False, id="exact-empty-output"),
        pytest.param("exact", {}, None, "30 days", False, id="exact-none-output"),
        pytest.param("exact", {}, {"days": 30, "ok": True}, {"ok": True, "days": 30}, True, id="exact-dict"),
        pytest.param("exact", {}, {"days": 14}, {"days": 30}, False, id="exact-dict-differs"),
        pytest.param("exact", {}, 30, 30, True, id="exact-number"),
        pytest.param("exact", {}, {"days": 30}, '{"days":30}', True, id="exact-dict-vs-its-json-text"),
        pytest.param("contains", {}, "We refund within 30 days.", "30 days", True, id="contains"),
        pytest.param("contains", {}, "We refund within 14 days.", "30 days", False, id="contains-missing"),
        pytest.param("contains", {}, "30 DAYS", "30 days", False, id="contains-case-matters"),
        pytest.param("contains", {"ignore_case": True}, "30 DAYS", "30 days", True, id="contains-ignore-case"),
        pytest.param("contains", {"ignore_case": "yes"}, "30 DAYS", "30 days", True, id="contains-ignore-case-text"),
        pytest.param("contains", {"ignore_case": "false"}, "30 DAYS", "30 days", False, id="contains-false-text"),
        pytest.param("contains", {"substring": "refund"}, "We refund.", "ignored", True, id="contains-substring"),
        pytest.param("contains", {}, "", "30 days", False, id="contains-empty-output"),
        pytest.param("contains", {}, "naïve café ☕", "café ☕", True, id="contains-unicode"),
        pytest.param("contains", {}, {"text": "30 days"}, "30 days", True, id="contains-in-json"),
        pytest.param("regex", {"pattern": r"\b30 days\b"}, "within 30 days.", "", True, id="regex-search"),
        pytest.param(
            "regex", {"pattern": r"30 days", "match": "full"}, "within 30 days.", "", False, id="regex-full-no"
        ),
        pytest.param("regex", {"pattern": r"\d+ days", "match": "full"}, "30 days", "", True, id="regex-full-ok"),
        pytest.param("regex", {"pattern": "DAYS", "ignore_case": True}, "30 days", "", True, id="regex-ignore-case"),
        pytest.param("regex", {"pattern": r"^\w+$"}, "café", "", True, id="regex-unicode"),
        pytest.param("regex", {"pattern": "."}, "", "", False, id="regex-empty-output"),
        pytest.param("regex", {"pattern": '"days":30'}, {"days": 30}, "", True, id="regex-on-json"),
    ],
)
def test_verdicts(name: str, options: dict[str, Any], output: Any, expected: Any, passed: bool) -> None:
    verdict = grade(name, output, expected, **options)
    assert verdict.passed is passed, verdict.reason
    assert verdict.score == (1.0 if passed else 0.0)
    assert verdict.reason


def test_a_failing_exact_verdict_shows_both_values() -> None:
    verdict = grade("exact", "We refund within 14 days.", "We refund within 30 days.")
    assert verdict.reason == "expected 'We refund within 30 days.', got 'We refund within 14 days.'"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"name": "judge"}, "unknown grader 'judge' - choose one of: contains, exact, regex", id="unknown"),
        pytest.param({"name": "exact", "options": ["x"]}, "options must be an object", id="options-not-a-dict"),
        pytest.param({"name": "exact", "options": {"nomalize": "case"}}, "no option 'nomalize'", id="typo"),
        pytest.param({"name": "exact", "options": {"normalize": "upper"}}, "normalize='upper'", id="bad-normalize"),
        pytest.param({"name": "contains", "options": {"pattern": "x"}}, "no option 'pattern'", id="contains-option"),
        pytest.param({"name": "regex"}, "needs --option pattern=REGEX", id="regex-no-pattern"),
        pytest.param({"name": "regex", "options": {"pattern": ""}}, "needs --option pattern", id="regex-empty"),
        pytest.param({"name": "regex", "options": {"pattern": "("}}, "does not compile", id="regex-bad-pattern"),
        pytest.param({"name": "regex", "options": {"pattern": "x", "match": "all"}}, "match='all'", id="regex-match"),
    ],
)
def test_a_bad_grader_spec_is_refused_when_the_grader_is_built(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        make_grader(spec)


def test_a_crashing_grader_is_a_failed_verdict_not_an_exception() -> None:
    class Broken(Grader):
        name = "broken"

        def grade(self, output: Any, expected: Any) -> Verdict:
            raise ZeroDivisionError("division by zero")

    verdict = grade_safely(Broken(), "x", "x")
    assert verdict.passed is False
    assert verdict.reason == "grader 'broken' crashed: ZeroDivisionError: division by zero"
    assert "broken" not in GRADERS  # defining a subclass does not register it


def test_spec_round_trips_through_make_grader() -> None:
    grader = make_grader({"name": "contains", "options": {"ignore_case": True}})
    assert grader.spec() == {"name": "contains", "options": {"ignore_case": True}}
    assert make_grader(grader.spec()).spec() == grader.spec()


def test_as_text_is_canonical_json_for_anything_but_a_string() -> None:
    assert as_text("é") == "é"
    assert as_text(None) == ""
    assert as_text({"b": 1, "a": [1, "x"]}) == '{"a":[1,"x"],"b":1}'
