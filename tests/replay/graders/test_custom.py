"""Custom graders: python (a function of the project's) and the composites all and any."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import Verdict, make_grader

SOURCE = """
from casebank.replay.graders import Verdict

def same_length(output, expected):
    return len(output) == len(expected)

def overlap(output, expected):
    a, b = set(output.split()), set(expected.split())
    return len(a & b) / len(a | b) if a | b else 1.0

def verdict(output, expected):
    return Verdict(passed="30" in output, score=None, reason="checked for 30")

def too_big(output, expected):
    return 7

def text(output, expected):
    return "yes"

def broken(output, expected):
    raise KeyError("total")

def perfect(output, expected):
    return 1.0

def over(output, expected):
    return 1.5

def chatty(output, expected):
    return Verdict(passed=False, reason="x" * 300)

class _Scorer:
    def __call__(self, output, expected):
        return 0.75

scorer = _Scorer()
"""


@pytest.fixture
def module(tmp_path: Path) -> Iterator[str]:
    name = f"graders_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(SOURCE))
    yield name
    sys.modules.pop(name, None)


def python(module: str, function: str, **options: Any) -> Any:
    return make_grader({"name": "python", "options": {"function": f"{module}:{function}", **options}})


@pytest.mark.parametrize(
    ("function", "output", "options", "passed", "score", "reason"),
    [
        pytest.param("same_length", "abc", {}, True, 1.0, "{m}:same_length returned True", id="bool-true"),
        pytest.param("same_length", "", {}, False, 0.0, "{m}:same_length returned False", id="bool-empty-output"),
        pytest.param("overlap", "30 days refund", {}, True, 0.5, "{m}:overlap scored 0.5, at or above 0.5", id="float"),
        pytest.param(
            "overlap",
            "30 days refund",
            {"threshold": 0.9},
            False,
            0.5,
            "{m}:overlap scored 0.5, below 0.9",
            id="float-threshold",
        ),
        pytest.param("overlap", "días ☕ 30", {}, False, 0.2, "{m}:overlap scored 0.2, below 0.5", id="unicode"),
        pytest.param("overlap", "x" * 1_100_000, {}, False, 0.0, "{m}:overlap scored 0, below 0.5", id="huge-output"),
        pytest.param("verdict", "in 30 days", {}, True, None, "checked for 30", id="verdict"),
        pytest.param("perfect", "x", {}, True, 1.0, "{m}:perfect scored 1, at or above 0.5", id="score-one"),
        pytest.param(
            "over", "x", {}, False, None, "{m}:over returned 1.5 - a score must be between 0 and 1", id="score-over-one"
        ),
        pytest.param(
            "too_big",
            "x",
            {},
            False,
            None,
            "{m}:too_big returned 7 - a score must be between 0 and 1",
            id="score-out-of-range",
        ),
        pytest.param(
            "text",
            "x",
            {},
            False,
            None,
            "{m}:text returned a str - return a bool, a float or a Verdict",
            id="wrong-type",
        ),
    ],
)
def test_python_function(
    module: str, function: str, output: str, options: dict[str, Any], passed: bool, score: Any, reason: str
) -> None:
    verdict = python(module, function, **options).grade(output, "abc days 30" if function == "overlap" else "abc")
    assert (verdict.passed, verdict.score, verdict.reason) == (passed, score, reason.format(m=module))


def test_a_crashing_function_is_a_failed_verdict(module: str) -> None:
    from casebank.replay.graders import grade_safely

    verdict = grade_safely(python(module, "broken"), "x", "y")
    assert verdict.reason == "grader 'python' crashed: KeyError: 'total'"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "grader 'python' needs --option function=MODULE:NAME", id="no-function"),
        pytest.param(
            {"function": "nope_module_xyz:f"},
            "grader 'python' option function='nope_module_xyz:f': cannot import target 'nope_module_xyz:f': "
            "ModuleNotFoundError: No module named 'nope_module_xyz' - run cases from the project folder",
            id="no-module",
        ),
        pytest.param({"function": "{m}:missing"}, "has no attribute 'missing'", id="no-attribute"),
        pytest.param({"function": "not a target"}, "is not MODULE:FUNCTION", id="malformed"),
        pytest.param(
            {"function": "{m}:same_length", "threshold": 2},
            "option threshold='2' - use a score between",
            id="threshold",
        ),
    ],
)
def test_python_refuses_bad_options(module: str, options: dict[str, Any], message: str) -> None:
    options = {k: v.format(m=module) if isinstance(v, str) else v for k, v in options.items()}
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "python", "options": options})
    assert message in str(raised.value) and "\n" not in str(raised.value)


ALL = [{"name": "json_valid"}, {"name": "json_fields"}]


@pytest.mark.parametrize(
    ("name", "graders", "output", "passed", "reason"),
    [
        pytest.param(
            "all",
            ALL,
            '{"total": 3}',
            True,
            "all 2 graders passed; last json_fields: the 1 field matches",
            id="all-pass",
        ),
        pytest.param("all", ALL, '{"total": 4}', False, "failed json_fields: 1 of 1 field wrong", id="all-one-fails"),
        pytest.param("all", ALL, "", False, "failed json_valid: output is empty, not JSON", id="all-empty-output"),
        pytest.param("all", ["json_valid", "json_fields"], '{"total": 3}', True, "all 2 graders", id="all-bare-names"),
        pytest.param(
            "any",
            [{"name": "json_fields"}, {"name": "numeric"}],
            "total: 3",
            True,
            "passed numeric: output 3 equals 3",
            id="any-second-passes",
        ),
        pytest.param(
            "any",
            [{"name": "json_fields"}, {"name": "numeric"}],
            "total: 4",
            False,
            "none of 2 graders passed; last numeric",
            id="any-none-passes",
        ),
        pytest.param(
            "any",
            [{"name": "regex", "options": {"pattern": "ü"}}],
            "x" * 1_100_000 + "ü",
            True,
            "passed regex",
            id="any-huge-unicode",
        ),
        pytest.param(
            "all",
            [{"name": "all", "options": {"graders": ALL}}, {"name": "json_valid"}],
            '{"total": 3}',
            True,
            "all 2 graders passed",
            id="nested",
        ),
    ],
)
def test_composites(name: str, graders: list[Any], output: str, passed: bool, reason: str) -> None:
    expected = {"total": 3} if name == "all" else "3"
    verdict = make_grader({"name": name, "options": {"graders": graders}}).grade(output, expected)
    assert verdict.passed is passed, verdict.reason
    assert verdict.reason.startswith(reason), verdict.reason


def test_all_stops_at_the_first_failure_and_scores_the_minimum(module: str) -> None:
    grader = make_grader(
        {
            "name": "all",
            "options": {"graders": ["json_valid", {"name": "python", "options": {"function": f"{module}:broken"}}]},
        }
    )
    verdict = grader.grade("nope", {})
    assert verdict.reason.startswith("failed json_valid: output is not valid JSON: ")  # never reached `broken`
    assert verdict.score == 0.0


def test_a_composite_reference_comes_from_the_child_that_describes_it() -> None:
    grader = make_grader({"name": "all", "options": {"graders": ["json_valid", "json_fields"]}})
    assert grader.reference({"a.b": 1}) == {"a": {"b": 1}}
    assert grader.grade(grader.reference({"a.b": 1}), {"a.b": 1}).passed


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "grader 'all' needs --option graders=", id="none"),
        pytest.param({"graders": []}, "grader 'all' needs --option graders=", id="empty"),
        pytest.param({"graders": "json_valid"}, "a JSON list of grader specs", id="not-a-list"),
        pytest.param({"graders": ["nope"]}, "grader 'all' option graders[0]: unknown grader 'nope'", id="unknown"),
        pytest.param(
            {"graders": ["json_valid", {"name": "regex", "options": {"pattern": "("}}]},
            "option graders[1]: grader 'regex' pattern '(' does not compile",
            id="child-option",
        ),
        pytest.param({"graders": [3]}, "option graders[0]: a grader spec must be an object", id="not-a-spec"),
    ],
)
def test_composites_refuse_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "all", "options": options})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_plain_function_by_import_path_is_a_grader_named_after_it(module: str) -> None:
    grader = make_grader({"name": f"{module}:same_length"})
    assert (type(grader).__name__, type(grader).summary) == (
        "same_length",
        f"the function {module}:same_length passes the output",  # it has no docstring
    )
    assert grader.grade("abc", "xyz") == Verdict(passed=True, score=1.0, reason=f"{module}:same_length returned True")
    assert grader.grade("abc", "xy") == Verdict(passed=False, score=0.0, reason=f"{module}:same_length returned False")


def test_a_callable_object_by_import_path_grades_too(module: str) -> None:
    grader = make_grader({"name": f"{module}:scorer"})
    assert (type(grader).__name__, type(grader).summary) == (
        "function",
        f"the function {module}:scorer passes the output",
    )
    assert grader.grade("x", "y") == Verdict(
        passed=True, score=0.75, reason=f"{module}:scorer scored 0.75, at or above 0.5"
    )


def python_spec(module: str, function: str) -> dict[str, Any]:
    return {"name": "python", "options": {"function": f"{module}:{function}"}}


def test_all_scores_its_lowest_child_any_its_highest_and_neither_scores_without_child_scores(module: str) -> None:
    passing = [python_spec(module, "perfect"), python_spec(module, "overlap")]
    assert make_grader({"name": "all", "options": {"graders": passing}}).grade("a b", "a b c d") == Verdict(
        passed=True,
        score=0.5,
        reason=f"all 2 graders passed; last python: {module}:overlap scored 0.5, at or above 0.5",
    )
    failing = [python_spec(module, "overlap"), "json_valid"]
    assert make_grader({"name": "any", "options": {"graders": failing}}).grade("a b c", "a d e") == Verdict(
        passed=False,
        score=0.2,
        reason="none of 2 graders passed; last json_valid: output is not valid JSON: unexpected character, "
        "expected a JSON value: line 1 column 1 (char 0)",
    )
    unscored = [python_spec(module, "verdict")]
    assert make_grader({"name": "all", "options": {"graders": unscored}}).grade("in 30 days", "") == Verdict(
        passed=True, score=None, reason="all 1 grader passed; last python: checked for 30"
    )
    assert make_grader({"name": "any", "options": {"graders": unscored}}).grade("in 14 days", "") == Verdict(
        passed=False, score=None, reason="none of 1 grader passed; last python: checked for 30"
    )


def test_a_composite_reason_shows_at_most_200_characters(module: str) -> None:
    verdict = make_grader({"name": "all", "options": {"graders": [python_spec(module, "chatty")]}}).grade("x", "y")
    assert verdict.reason == "failed python: " + "x" * 182 + "..."


def test_a_composites_children_find_their_files_in_its_suite_folder(tmp_path: Path) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "s.json").write_text('{"type": "integer"}')
    child = {"name": "json_schema", "options": {"schema_file": "s.json"}}
    grader = make_grader({"name": "all", "options": {"graders": [child]}}, base_dir=tmp_path / "suite")
    assert grader.grade("3", None).passed and not grader.grade('"3"', None).passed


def test_a_composite_is_instant_when_every_child_is_and_checks_the_expected_value_with_each(module: str) -> None:
    assert make_grader({"name": "all", "options": {"graders": ["json_valid", "numeric"]}}).grades_instantly()
    assert not make_grader(
        {"name": "any", "options": {"graders": ["json_valid", python_spec(module, "perfect")]}}
    ).grades_instantly()
    grader = make_grader({"name": "all", "options": {"graders": ["json_valid", "regex"]}})
    grader.check_expected(r"\d+ days")
    with pytest.raises(InvalidInput) as raised:
        grader.check_expected(".*")
    assert str(raised.value).startswith("grader 'regex' pattern '.*' matches an empty output")
