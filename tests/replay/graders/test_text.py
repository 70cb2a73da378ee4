"""The text graders (exact, contains, not_contains, regex, one_of) and the registry they share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import (
    GRADERS,
    Grader,
    NoReference,
    Verdict,
    as_text,
    batches,
    grade_batch_safely,
    grade_safely,
    make_grader,
)


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
        pytest.param("regex", {"pattern": "30 days$"}, "x" * 1_100_000 + " 30 days", "", True, id="regex-huge-output"),
        pytest.param("not_contains", {"substring": "14 days"}, "within 30 days", "", True, id="not-contains"),
        pytest.param("not_contains", {"substring": "14 days"}, "within 14 days", "", False, id="not-contains-found"),
        pytest.param("not_contains", {"substring": ["14", "60"]}, "in 60 days", "", False, id="not-contains-list"),
        pytest.param("not_contains", {"substring": "DAYS", "ignore_case": True}, "days", "", False, id="not-ci"),
        pytest.param("not_contains", {"substring": "ß"}, "straße", "", False, id="not-contains-unicode"),
        pytest.param("not_contains", {"substring": "14"}, "", "", True, id="not-contains-empty-output"),
        pytest.param("not_contains", {"substring": "14"}, "3" * 1_100_000, "", True, id="not-contains-huge"),
        pytest.param("one_of", {}, "yes", ["yes", "y"], True, id="one-of"),
        pytest.param("one_of", {}, "no", ["yes", "y"], False, id="one-of-none"),
        pytest.param("one_of", {}, "Yes ", ["yes", "y"], False, id="one-of-strict"),
        pytest.param("one_of", {"normalize": "both"}, " YES\n", ["yes", "y"], True, id="one-of-normalized"),
        pytest.param("one_of", {}, "日本", ["日本", "にほん"], True, id="one-of-unicode"),
        pytest.param("one_of", {}, "", ["yes"], False, id="one-of-empty-output"),
        pytest.param("one_of", {}, {"a": 1}, [{"a": 1}, {"a": 2}], True, id="one-of-values"),
        pytest.param("one_of", {}, "y" * 1_100_000, ["yes"], False, id="one-of-huge-output"),
        pytest.param("one_of", {}, "yes", "yes", False, id="one-of-expected-not-a-list"),
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
        pytest.param({"name": "judge"}, "unknown grader 'judge' - choose one of: all, any, contains, ", id="unknown"),
        pytest.param({"name": "exact", "options": ["x"]}, "options must be an object", id="options-not-a-dict"),
        pytest.param({"name": "exact", "options": {"nomalize": "case"}}, "no option 'nomalize'", id="typo"),
        pytest.param({"name": "exact", "options": {"normalize": "upper"}}, "normalize='upper'", id="bad-normalize"),
        pytest.param({"name": "contains", "options": {"pattern": "x"}}, "no option 'pattern'", id="contains-option"),
        pytest.param(
            {"name": "regex", "options": {"pattern": ""}},
            r"option pattern='' - give the pattern, e.g. --option pattern='\d+ days', or put it in --expected",
            id="regex-empty",
        ),
        pytest.param(
            {"name": "regex", "options": {"pattern": "("}},
            r"grader 'regex' pattern '(' does not compile: missing ), unterminated subpattern at position 0 - fix it, "
            r"e.g. --option pattern='\d+ days'",
            id="regex-bad-pattern",
        ),
        pytest.param({"name": "regex", "options": {"pattern": "x", "match": "all"}}, "match='all'", id="regex-match"),
        pytest.param(
            {"name": "not_contains", "options": {"substring": [""]}},
            "option substring='[\"\"]' - give the text the output must not contain, or a JSON list of texts, "
            "e.g. --option substring='14 days'",
            id="not-contains-bad",
        ),
        pytest.param({"name": "one_of", "options": {"normalize": "x"}}, "normalize='x' - use one of", id="one-of-bad"),
        pytest.param(["exact"], "must be an object with a name", id="spec-not-an-object"),
    ],
)
def test_a_bad_grader_spec_is_refused_when_the_grader_is_built(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader(spec)
    assert message in str(raised.value)


def test_an_option_given_to_a_grader_without_options_is_refused_saying_it_takes_none() -> None:
    class Plain(Grader):
        name = "plain"

    with pytest.raises(InvalidInput) as raised:
        Plain({"level": 1})
    assert str(raised.value) == "grader 'plain' has no option 'level' (it takes: none)"


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


def test_one_of_fails_an_expected_that_is_not_a_list_with_the_fix() -> None:
    verdict = grade("one_of", "yes", "yes")
    assert verdict.reason.startswith("grader 'one_of' needs the expected output to be a non-empty list")
    assert "--expected-json" in verdict.reason


def test_one_of_lists_the_accepted_answers_when_it_fails() -> None:
    verdict = grade("one_of", "maybe", ["yes", "y", "1", "true", "ok", "sure"])
    assert verdict.reason == "got 'maybe', not one of 'yes', 'y', '1', 'true', 'ok' (+1 more)"


def test_not_contains_names_the_forbidden_text_it_found() -> None:
    verdict = grade("not_contains", "Refunds within 14 days.", "", substring=["60 days", "14 days"])
    assert verdict.reason == "output contains forbidden '14 days'"


@pytest.mark.parametrize(
    ("spec", "expected", "good"),
    [
        pytest.param({"name": "exact"}, "30 days", "30 days", id="exact-is-its-own-reference"),
        pytest.param({"name": "one_of"}, ["yes", "y"], "yes", id="one-of-first-answer"),
        pytest.param({"name": "not_contains", "options": {"substring": "14"}}, "30 days", "30 days", id="not-contains"),
    ],
)
def test_reference_is_an_output_the_grader_passes(spec: dict[str, Any], expected: Any, good: Any) -> None:
    grader = make_grader(spec)
    assert grader.reference(expected) == good
    assert grader.grade(grader.reference(expected), expected).passed


def test_every_registered_grader_takes_base_dir_and_reports_a_typo_in_its_options(tmp_path: Path) -> None:
    for name in GRADERS:
        with pytest.raises(InvalidInput, match=f"grader '{name}' has no option 'nonsense'"):
            make_grader({"name": name, "options": {"nonsense": 1}}, base_dir=tmp_path)


# -- the expected value as the pattern / the forbidden text (issue 13, section 6) -------------------


@pytest.mark.parametrize(
    ("name", "options", "output", "expected", "passed", "reason"),
    [
        pytest.param("regex", {}, "within 30 days.", r"\d+ days", True, r"output does match /\d+ days/", id="regex"),
        pytest.param("regex", {}, "within a month", r"\d+ days", False, r"output does not match /\d+ days/", id="no"),
        pytest.param("regex", {"match": "full"}, "30 days", r"\d+ days", True, "fully match", id="regex-full"),
        pytest.param("regex", {"ignore_case": True}, "30 DAYS", "days", True, "does match", id="regex-ignore-case"),
        pytest.param(
            "regex", {"pattern": "30"}, "in 30 days", r"\d+ weeks", True, "/30/", id="option-wins-expected-is-example"
        ),
        pytest.param("not_contains", {}, "within 30 days", "14 days", True, "does not contain '14 days'", id="nc"),
        pytest.param("not_contains", {}, "in 14 days", "14 days", False, "contains forbidden '14 days'", id="nc-found"),
        pytest.param("not_contains", {}, "in 60 days", ["14 days", "60 days"], False, "forbidden '60", id="nc-list"),
        pytest.param(
            "not_contains", {"ignore_case": True}, "14 DAYS", "14 days", False, "forbidden '14 days'", id="nc-case"
        ),
        pytest.param(
            "not_contains", {"substring": "60"}, "in 14 days", "14 days", True, "does not contain '60'", id="nc-option"
        ),
    ],
)
def test_regex_and_not_contains_take_their_text_from_the_expected_value(
    name: str, options: dict[str, Any], output: str, expected: Any, passed: bool, reason: str
) -> None:
    verdict = grade(name, output, expected, **options)
    assert verdict.passed is passed
    assert reason in verdict.reason


@pytest.mark.parametrize(
    ("spec", "expected", "message"),
    [
        pytest.param(
            {"name": "regex"},
            ".*",
            r"grader 'regex' pattern '.*' matches an empty output, so it cannot tell a bad answer from none - "
            r"make it require some text, e.g. --expected '\d+ days'",
            id="regex-matches-empty",
        ),
        pytest.param(
            {"name": "regex", "options": {"match": "full"}},
            r"\d*",
            "matches an empty output",
            id="regex-full-matches-empty",
        ),
        pytest.param(
            {"name": "regex", "options": {"pattern": "^$"}},
            "an example",
            r"matches an empty output, so it cannot tell a bad answer from none - make it require some text, "
            r"e.g. --option pattern='\d+ days'",
            id="regex-option-matches-empty",
        ),
        pytest.param(
            {"name": "regex"},
            "(",
            r"grader 'regex' pattern '(' does not compile: missing ), unterminated subpattern at position 0 - "
            r"fix it, e.g. --expected '\d+ days'",
            id="regex-does-not-compile",
        ),
        pytest.param(
            {"name": "regex"},
            {"days": 30},
            r"""grader 'regex' needs a pattern as the expected output, not '{"days":30}' - annotate with """
            r"--expected '\d+ days' (or give --option pattern=REGEX and an example output)",
            id="regex-not-text",
        ),
        pytest.param(
            {"name": "not_contains"},
            "",
            "grader 'not_contains' needs the text the output must not contain, not '' - annotate with "
            """--expected '14 days' (or --expected-json '["14 days", "60 days"]')""",
            id="not-contains-empty",
        ),
        pytest.param({"name": "not_contains"}, ["14", 3], "must not contain, not '[\"14\",3]'", id="not-contains-list"),
    ],
)
def test_check_expected_refuses_a_value_the_grader_cannot_grade_with_and_says_what_works(
    spec: dict[str, Any], expected: Any, message: str
) -> None:
    grader = make_grader(spec)
    with pytest.raises(InvalidInput) as raised:
        grader.check_expected(expected)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    verdict = grader.grade("within 30 days", expected)  # a run of such a case fails it, with the same words
    if "empty output" not in message:
        assert not verdict.passed and verdict.reason == str(raised.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"name": "regex"}, r"\d+ days", id="regex"),
        pytest.param({"name": "regex", "options": {"pattern": r"\d+"}}, "in 30 days", id="regex-option"),
        pytest.param({"name": "not_contains"}, ["14 days", "60 days"], id="not-contains"),
        pytest.param({"name": "contains"}, "", id="contains-is-not-checked"),
    ],
)
def test_check_expected_accepts_what_the_grader_can_grade_with(spec: dict[str, Any], expected: Any) -> None:
    make_grader(spec).check_expected(expected)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"name": "regex"}, id="regex"),
        pytest.param({"name": "not_contains"}, id="not-contains"),
        pytest.param({"name": "all", "options": {"graders": ["json_valid", "regex"]}}, id="inside-all"),
    ],
)
def test_a_pattern_or_forbidden_text_has_no_reference_output(spec: dict[str, Any]) -> None:
    reference = make_grader(spec).reference("14 days")
    assert isinstance(reference, NoReference)
    assert "not an example of one" in reference.why and reference.fix == ""


def test_a_number_given_where_a_text_is_meant_is_its_text() -> None:
    # `--option substring=14` arrives as the number 14: it meant the text "14".
    assert grade("not_contains", "in 14 days", "ignored", substring=14).reason == "output contains forbidden '14'"
    assert grade("contains", "in 14 days", "ignored", substring=14).passed


# -- whole verdicts: what a report shows ---------------------------------------------------------

LONG = "We refund every order within 30 days of delivery, no question"  # 61 characters
LONG_SHOWN = "'We refund every order within 30 days of delivery, no ques...'"  # a reason shows 60
JSON_41 = {"days": 30, "text": "We refund within thirty"}  # 44 characters as JSON
JSON_SHOWN = """'{"days":30,"text":"We refund within t...'"""  # where a reason shows 40


@pytest.mark.parametrize(
    ("name", "options", "output", "expected", "verdict"),
    [
        pytest.param(
            "exact", {}, "30 days", "30 days", Verdict(passed=True, score=1.0, reason="output equals expected")
        ),
        pytest.param(
            "exact",
            {},
            LONG,
            LONG + "!",
            Verdict(passed=False, score=0.0, reason=f"expected {LONG_SHOWN}, got {LONG_SHOWN}"),
            id="exact-long",
        ),
        pytest.param(
            "exact",
            {},
            LONG[:60],
            "30 days\nor less",
            Verdict(passed=False, score=0.0, reason=f"expected '30 days\\\\nor less', got {LONG[:60]!r}"),
            id="exact-60-shown-whole-newline-escaped",
        ),
        pytest.param(
            "one_of",
            {},
            "y",
            ["yes", "y"],
            Verdict(passed=True, score=1.0, reason="output equals one of the accepted answers"),
            id="one-of",
        ),
        pytest.param(
            "one_of",
            {},
            LONG,
            [LONG[:31], "no", "y", "n", "ok"],
            Verdict(
                passed=False,
                score=0.0,
                reason=f"got {LONG_SHOWN}, not one of 'We refund every order withi...', 'no', 'y', 'n', 'ok'",
            ),
            id="one-of-five-shown-whole",
        ),
        pytest.param(
            "one_of",
            {},
            "maybe",
            [],
            Verdict(
                passed=False,
                score=0.0,
                reason="grader 'one_of' needs the expected output to be a non-empty list of accepted answers - "
                """annotate with --expected-json '["yes", "y"]'""",
            ),
            id="one-of-empty-list",
        ),
        pytest.param(
            "contains", {}, LONG, LONG, Verdict(passed=True, score=1.0, reason=f"output contains {LONG_SHOWN}"), id="c"
        ),
        pytest.param(
            "contains",
            {},
            "no",
            LONG,
            Verdict(passed=False, score=0.0, reason=f"output does not contain {LONG_SHOWN}"),
            id="contains-not",
        ),
        pytest.param(
            "not_contains",
            {},
            LONG + "!",
            LONG,
            Verdict(passed=False, score=0.0, reason=f"output contains forbidden {LONG_SHOWN}"),
            id="not-contains-found",
        ),
        pytest.param(
            "not_contains",
            {},
            "ok",
            [LONG[:31], "b", "c", "d"],
            Verdict(
                passed=True, score=1.0, reason="output does not contain 'We refund every order withi...', 'b', 'c'"
            ),
            id="not-contains-three-shown",
        ),
        pytest.param(
            "not_contains",
            {},
            "ok",
            JSON_41,
            Verdict(
                passed=False,
                score=0.0,
                reason=f"grader 'not_contains' needs the text the output must not contain, not {JSON_SHOWN} - "
                """annotate with --expected '14 days' (or --expected-json '["14 days", "60 days"]')""",
            ),
            id="not-contains-no-text",
        ),
        pytest.param(
            "regex",
            {},
            "ok",
            JSON_41,
            Verdict(
                passed=False,
                score=0.0,
                reason=f"grader 'regex' needs a pattern as the expected output, not {JSON_SHOWN} - annotate with "
                r"--expected '\d+ days' (or give --option pattern=REGEX and an example output)",
            ),
            id="regex-no-pattern",
        ),
        pytest.param(
            "regex",
            {"match": "full"},
            "30 days",
            r"\d+ days",
            Verdict(passed=True, score=1.0, reason=r"output does fully match /\d+ days/"),
            id="regex-full",
        ),
        pytest.param(
            "regex",
            {"match": "full"},
            "in 30 days",
            r"\d+ days",
            Verdict(passed=False, score=0.0, reason=r"output does not fully match /\d+ days/"),
            id="regex-full-not",
        ),
        pytest.param(
            "regex",
            {},
            "30 DAYS",
            "days",
            Verdict(passed=False, score=0.0, reason="output does not match /days/"),
            id="regex-case-matters-by-default",
        ),
    ],
)
def test_whole_verdicts_show_at_most_60_characters_of_a_value(
    name: str, options: dict[str, Any], output: Any, expected: Any, verdict: Verdict
) -> None:
    assert grade(name, output, expected, **options) == verdict


def test_whole_refusals_of_a_pattern_show_at_most_60_characters_of_it() -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "regex", "options": {"pattern": "(" + LONG}})
    assert str(raised.value) == (
        "grader 'regex' pattern '(We refund every order within 30 days of delivery, no que...' does not compile: "
        r"missing ), unterminated subpattern at position 0 - fix it, e.g. --option pattern='\d+ days'"
    )
    empty_matching = "(" + LONG[:58] + ")?"
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "regex"}).check_expected(empty_matching)
    assert str(raised.value) == (
        "grader 'regex' pattern '(We refund every order within 30 days of delivery, no que...' matches an empty "
        r"output, so it cannot tell a bad answer from none - make it require some text, e.g. --expected '\d+ days'"
    )


def test_one_of_takes_the_first_answer_of_a_list_as_its_reference_and_anything_else_as_it_is() -> None:
    grader = make_grader({"name": "one_of"})
    assert grader.reference(["yes", "y"]) == "yes"
    assert grader.reference("yes") == "yes"
    assert grader.reference([]) == []


def test_a_pattern_or_forbidden_text_says_whole_why_it_has_no_reference() -> None:
    assert make_grader({"name": "regex"}).reference("x") == NoReference(
        why="the expected value is the pattern an output must match, not an example of one"
    )
    assert make_grader({"name": "not_contains"}).reference("x") == NoReference(
        why="the expected value is the text an output must not contain, not an example of one"
    )


class Batched(Grader):
    """Grades many at once: one verdict an item, or as many as `count` says."""

    name = "batched"
    count: Any = None

    def grade(self, output: Any, expected: Any) -> Verdict:
        return Verdict(passed=output == expected)

    @classmethod
    def grade_batch(cls, items: Any) -> list[Verdict]:
        verdicts = [Verdict(passed=output == expected, reason="batched") for _, output, expected in items]
        return verdicts[: cls.count] if cls.count is not None else verdicts


def test_a_batch_grader_is_known_by_its_grade_batch_and_graded_whole_or_not_at_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert batches(Batched()) and not batches(make_grader({"name": "exact"}))
    items = [(Batched(), "a", "a"), (Batched(), "a", "b")]
    assert grade_batch_safely(Batched, items) == [
        Verdict(passed=True, reason="batched"),
        Verdict(passed=False, reason="batched"),
    ]
    monkeypatch.setattr(Batched, "count", 1)  # one verdict short: the caller grades one by one
    assert grade_batch_safely(Batched, items) is None
    monkeypatch.setattr(Batched, "count", "x")  # a crash: the caller grades one by one
    assert grade_batch_safely(Batched, items) is None
