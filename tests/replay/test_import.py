"""Importing eval sets: every format, every row checked first, all rows written or none."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.errors import InvalidInput, SuiteError, TargetImportError
from casebank.replay import Case, load_suite
from casebank.replay._importers import SANITY_SKIPPED, ImportRejected, ImportResult, guess_format, import_cases
from tests.replay.conftest import Project

BOT = """
def answer(question, locale="en"):
    return "We refund within 14 days." if "refund" in question else "Happy to help."

def chat(messages, temperature=0.0):
    return messages[-1]["content"]

def needs_two(question, account):
    return question
"""


@pytest.fixture
def bot(project: Project) -> Project:
    project.write_module(BOT)
    return project


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def jsonl(name: str, *rows: Any) -> Path:
    path = Path(name)
    path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in rows))
    return path


def run_import(bot: Project, path: Path, function: str = "answer", **kwargs: Any) -> ImportResult:
    return import_cases(path, entrypoint=f"{bot.module}:{function}", suite_dir=bot.suite, **kwargs)


def by_line(bot: Project) -> dict[int, Case]:
    return {case.source["line"]: case for case in load_suite(bot.suite).cases}


def rejected(bot: Project, path: Path, function: str = "answer", **kwargs: Any) -> list[tuple[int, str]]:
    with pytest.raises(ImportRejected) as caught:
        run_import(bot, path, function, **kwargs)
    assert not bot.suite.exists(), "a rejected import wrote something"
    assert "nothing was written" in str(caught.value)
    return [(p.line, p.reason) for p in caught.value.problems]


# -- JSONL -----------------------------------------------------------------------------------------


def test_jsonl_rows_become_frozen_cases_marked_imported_with_file_and_line(bot: Project) -> None:
    path = jsonl(
        "golden.jsonl",
        {"input": {"question": "refund?", "locale": "fr"}, "expected": "We refund within 14 days."},
        {"input": "hello", "expected": "Happy", "grader": "contains", "tags": ["greeting"]},
    )
    result = run_import(bot, path)
    assert (result.file, result.format, len(result.written), result.existing) == ("golden.jsonl", "jsonl", 2, [])
    cases = by_line(bot)  # load_suite verifies every hash: the files are frozen like promoted ones
    first, second = cases[1], cases[2]
    assert first.entrypoint == f"{bot.module}:answer"
    assert first.input == {"question": "refund?", "locale": "fr"}
    assert first.grader == {"name": "exact", "options": {}}
    assert first.source == {
        "kind": "imported",
        "file": "golden.jsonl",
        "line": 1,
        "format": "jsonl",
        "sanity_check": SANITY_SKIPPED,
    }
    assert first.path == bot.suite / f"answer-{first.id}.json"
    assert (second.expected, second.grader["name"], second.tags) == ("Happy", "contains", ["greeting"])


def test_a_bare_text_input_goes_to_the_entry_points_first_parameter(bot: Project) -> None:
    run_import(bot, jsonl("a.jsonl", {"input": "refund?", "expected": "x"}))
    run_import(bot, jsonl("b.jsonl", {"input": "hi there", "expected": "x"}), "chat")
    inputs = sorted((c.entrypoint.rpartition(":")[2], c.input) for c in load_suite(bot.suite).cases)
    assert inputs == [("answer", {"question": "refund?"}), ("chat", {"messages": "hi there"})]


def test_command_tags_grader_and_options_apply_and_a_rows_own_grader_wins(bot: Project) -> None:
    path = jsonl(
        "golden.jsonl",
        {"input": "refund?", "expected": "14 DAYS", "tags": ["refunds"]},
        {"input": "x", "expected": None, "grader": {"name": "regex", "options": {"pattern": "help"}}},
    )
    run_import(bot, path, grader="contains", options={"ignore_case": True}, tags=["imported", "refunds"])
    cases = by_line(bot)
    assert cases[1].grader == {"name": "contains", "options": {"ignore_case": True}}
    assert cases[1].tags == ["refunds", "imported"]
    assert cases[2].grader == {"name": "regex", "options": {"pattern": "help"}}
    assert cases[2].tags == ["imported", "refunds"]


def test_importing_the_same_file_twice_adds_nothing_and_touches_nothing(bot: Project) -> None:
    path = jsonl("golden.jsonl", {"input": "refund?", "expected": "a"}, {"input": "hi", "expected": "b"})
    first = run_import(bot, path)
    before = {p: p.read_bytes() for p in first.written}
    again = run_import(bot, path)
    assert (again.written, sorted(again.existing)) == ([], sorted(first.written))
    assert {p: p.read_bytes() for p in bot.suite.iterdir()} == before  # created_at too: git sees no change


def test_a_changed_row_is_a_new_case_and_the_same_content_on_another_line_too(bot: Project) -> None:
    first = run_import(bot, jsonl("golden.jsonl", {"input": "refund?", "expected": "a"}))
    second = run_import(bot, jsonl("golden.jsonl", {"input": "refund?", "expected": "b"}))
    third = run_import(
        bot, jsonl("golden.jsonl", {"input": "other", "expected": "c"}, {"input": "refund?", "expected": "a"})
    )
    assert len({*first.written, *second.written, *third.written}) == 4
    assert third.existing == []


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param(b"{not json", "not valid JSON", id="bad-json"),
        pytest.param(b'["refund?"]', "must be a JSON object", id="not-an-object"),
        pytest.param({"input": "x"}, "'expected' is missing", id="no-expected"),
        pytest.param({"expected": "x"}, "'input' is missing", id="no-input"),
        pytest.param({"input": 3, "expected": "x"}, "'input' is int", id="input-a-number"),
        pytest.param({"input": "x", "expected": "x", "id": 7}, "unknown key 'id'", id="unknown-key"),
        pytest.param({"input": "x", "ideal": "x"}, "pass --format openai-evals", id="openai-sample"),
        pytest.param(
            {"input": {"questoin": "x"}, "expected": "x"}, "takes no argument 'questoin'", id="unknown-argument"
        ),
        pytest.param({"input": {"locale": "fr"}, "expected": "x"}, "parameter 'question'", id="missing-argument"),
        pytest.param({"input": "x", "expected": "x", "grader": "nope"}, "unknown grader 'nope'", id="unknown-grader"),
        pytest.param(
            {"input": "x", "expected": "x", "grader": {"name": "exact", "options": {"normalize": "upper"}}},
            "option normalize='upper' - use one of",
            id="bad-option",
        ),
        pytest.param({"input": "x", "expected": "x", "grader": 5}, "'grader' must be a name", id="grader-a-number"),
        pytest.param({"input": "x", "expected": "x", "tags": [1]}, "'tags' must be a list", id="bad-tags"),
    ],
)
def test_a_bad_jsonl_row_is_listed_by_line_and_nothing_is_written(bot: Project, row: Any, reason: str) -> None:
    path = jsonl("golden.jsonl", {"input": "fine", "expected": "x"}, row, {"input": "fine too", "expected": "y"})
    [(line, text)] = rejected(bot, path)
    assert line == 2
    assert reason in text


def test_a_jsonl_text_may_hold_a_raw_line_separator(bot: Project) -> None:
    path = Path("golden.jsonl")
    path.write_text('{"input": "a\u2028b", "expected": "x"}\n{"input": "c", "expected": "y"}\n')
    run_import(bot, path)
    assert sorted(bot_case.input["question"] for bot_case in load_suite(bot.suite).cases) == ["a\u2028b", "c"]
    assert sorted(by_line(bot)) == [1, 2]


def test_every_bad_row_is_listed_not_just_the_first(bot: Project) -> None:
    path = write(
        "golden.jsonl",
        """
        {"input": "ok", "expected": "x"}

        {"input": "ok"}
        nope
        {"input": "ok", "expected": "x"}
        """,
    )
    assert [line for line, _ in rejected(bot, path)] == [3, 4]


def test_a_file_with_no_rows_is_refused(bot: Project) -> None:
    with pytest.raises(InvalidInput, match="holds no rows"):
        run_import(bot, write("empty.jsonl", "\n\n"))


def test_a_tampered_case_already_in_the_suite_stops_the_import_before_any_write(bot: Project) -> None:
    path = jsonl("golden.jsonl", {"input": "a", "expected": "x"})
    [written] = run_import(bot, path).written
    written.write_text(written.read_text().replace('"x"', '"y"'))
    jsonl("golden.jsonl", {"input": "a", "expected": "x"}, {"input": "b", "expected": "x"})
    with pytest.raises(SuiteError, match="modified after it was frozen"):
        run_import(bot, path)
    assert list(bot.suite.iterdir()) == [written]


def test_a_write_that_fails_half_way_takes_back_what_it_wrote(bot: Project, tmp_path: Path) -> None:
    path = jsonl("golden.jsonl", {"input": "a", "expected": "x"}, {"input": "b", "expected": "x"})
    probe = import_cases(path, entrypoint=f"{bot.module}:answer", suite_dir=tmp_path / "probe")
    second = probe.written[1]  # written in row order; ids do not depend on the suite folder
    blocker = bot.suite / f".{second.name}.tmp"
    blocker.mkdir(parents=True)  # a folder where write_case puts its temporary file: that write fails
    with pytest.raises(SuiteError, match="cannot write case"):
        run_import(bot, path)
    assert [p.name for p in bot.suite.iterdir()] == [blocker.name]  # the first case was taken back


# -- the entry point -----------------------------------------------------------------------------------


def test_an_entry_point_that_does_not_import_is_one_clear_error(bot: Project) -> None:
    path = jsonl("golden.jsonl", {"input": "a", "expected": "x"})
    with pytest.raises(TargetImportError, match="has no attribute 'nope'"):
        run_import(bot, path, "nope")
    assert not bot.suite.exists()


def test_a_bad_default_grader_is_one_clear_error(bot: Project) -> None:
    path = jsonl("golden.jsonl", {"input": "a", "expected": "x"})
    with pytest.raises(InvalidInput, match="grader 'exact' has no option 'pattern'"):
        run_import(bot, path, options={"pattern": "x"})


def test_a_required_parameter_without_a_value_is_a_row_problem(bot: Project) -> None:
    path = jsonl("golden.jsonl", {"input": "a", "expected": "x"})
    assert rejected(bot, path, "needs_two") == [(1, "no value for the entry point's required parameter 'account'")]


# -- format ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("golden.jsonl", "jsonl", id="jsonl"),
        pytest.param("Golden.CSV", "csv", id="csv"),
        pytest.param("promptfooconfig.yaml", "promptfoo", id="promptfoo-yaml"),
        pytest.param("promptfooconfig.refunds.yml", "promptfoo", id="promptfoo-yml"),
    ],
)
def test_the_format_is_guessed_from_the_name(name: str, expected: str) -> None:
    assert guess_format(Path(name)) == expected


def test_a_name_that_says_no_format_asks_for_format(bot: Project) -> None:
    with pytest.raises(InvalidInput, match="pass --format jsonl|csv|promptfoo|openai-evals"):
        run_import(bot, write("golden.yaml", "tests: []\n"))
    with pytest.raises(InvalidInput, match="is not one of"):
        run_import(bot, write("golden.jsonl", "{}\n"), format="xml")


def test_a_missing_file_is_one_clear_error(bot: Project) -> None:
    with pytest.raises(InvalidInput, match="no file to import at 'missing.jsonl'"):
        run_import(bot, Path("missing.jsonl"))


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_input_goes_to_the_first_parameter_and_parameter_columns_by_name(bot: Project) -> None:
    path = write(
        "golden.csv",
        """
        id,input,expected,locale,grader,tags,notes
        1,refund?,We refund within 14 days.,fr,,"refunds, policy",checked by ana
        2,"two
        lines",Happy,,contains,,
        """,
    )
    result = run_import(bot, path, tags=["csv"])
    assert result.ignored_columns == ["id", "notes"]
    cases = by_line(bot)
    assert sorted(cases) == [2, 3]
    assert cases[2].input == {"question": "refund?", "locale": "fr"}
    assert (cases[2].expected, cases[2].grader["name"], cases[2].tags) == (
        "We refund within 14 days.",
        "exact",
        ["refunds", "policy", "csv"],
    )
    assert cases[3].input == {"question": "two\nlines"}  # an empty cell leaves the function's default
    assert (cases[3].expected, cases[3].grader["name"], cases[3].tags) == ("Happy", "contains", ["csv"])


def test_csv_without_an_input_column_takes_every_argument_from_parameter_columns(bot: Project) -> None:
    run_import(bot, write("golden.csv", "question,locale,expected\nrefund?,de,x\n"))
    assert [c.input for c in load_suite(bot.suite).cases] == [{"question": "refund?", "locale": "de"}]


def test_bad_csv_rows_are_listed_by_the_line_they_start_on(bot: Project) -> None:
    path = write(
        "golden.csv",
        """
        input,expected,question,grader
        "multi
        line",x,,
        short
        a,b,c,
        ok,x,,nope
        """,
    )
    problems = rejected(bot, path)
    assert [line for line, _ in problems] == [4, 5, 6]
    assert "has 1 cell but the header has 4 columns" in problems[0][1]
    assert "both the 'input' column and the 'question' column" in problems[1][1]
    assert "unknown grader 'nope'" in problems[2][1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("input,answer\na,b\n", "has no 'expected' column", id="no-expected-column"),
        pytest.param("input,expected,input\na,b,c\n", "has the column 'input' twice", id="twice"),
        pytest.param("", "holds no rows", id="empty"),
    ],
)
def test_a_csv_whose_header_cannot_be_used_is_refused(bot: Project, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        run_import(bot, write("golden.csv", text))


# -- promptfoo ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assertion", "grader", "expected"),
    [
        pytest.param(
            "{type: equals, value: Happy to help.}", {"name": "exact", "options": {}}, "Happy to help.", id="equals"
        ),
        pytest.param("{type: contains, value: help}", {"name": "contains", "options": {}}, "help", id="contains"),
        pytest.param("{type: contains, value: 14}", {"name": "contains", "options": {}}, "14", id="contains-a-number"),
        pytest.param(
            "{type: icontains, value: HELP}",
            {"name": "contains", "options": {"ignore_case": True}},
            "HELP",
            id="icontains",
        ),
        pytest.param(
            "{type: not-contains, value: sorry}",
            {"name": "not_contains", "options": {"substring": "sorry"}},
            None,
            id="not-contains",
        ),
        pytest.param(
            "{type: regex, value: '^Happy'}", {"name": "regex", "options": {"pattern": "^Happy"}}, None, id="regex"
        ),
        pytest.param("{type: is-json}", {"name": "json_valid", "options": {}}, None, id="is-json"),
        pytest.param(
            "{type: is-json, value: {type: object}}",
            {"name": "json_schema", "options": {"schema": {"type": "object"}}},
            None,
            id="is-json-schema",
        ),
    ],
)
def test_a_promptfoo_assert_maps_to_a_grader(bot: Project, assertion: str, grader: Any, expected: Any) -> None:
    path = write(
        "promptfooconfig.yaml",
        f"""
        prompts: ["{{{{question}}}}"]
        tests:
          - vars: {{question: hello}}
            assert: [{assertion}]
        """,
    )
    run_import(bot, path)
    [case] = load_suite(bot.suite).cases
    assert (case.input, case.grader, case.expected) == ({"question": "hello"}, grader, expected)
    assert (case.source["format"], case.source["line"]) == ("promptfoo", 3)


def test_promptfoo_asserts_combine_under_all_with_default_test_vars_and_asserts(bot: Project) -> None:
    path = write(
        "promptfooconfig.yaml",
        """
        description: support bot
        defaultTest:
          vars:
            locale: en
          assert:
            - type: not-contains
              value: sorry
        tests:
          - description: refund window
            vars:
              question: refund?
            assert:
              - type: equals
                value: We refund within 14 days.
              - type: contains
                value: 14 days
          - vars:
              question: hello
              locale: fr
        """,
    )
    run_import(bot, path)
    cases = by_line(bot)
    assert sorted(cases) == [9, 17]
    refund = cases[9]
    assert refund.input == {"question": "refund?", "locale": "en"}
    assert refund.expected == "We refund within 14 days."
    assert refund.grader == {
        "name": "all",
        "options": {
            "graders": [
                {"name": "not_contains", "options": {"substring": "sorry"}},
                {"name": "exact", "options": {}},
                {"name": "contains", "options": {"substring": "14 days"}},
            ]
        },
    }
    assert refund.source["description"] == "refund window"
    assert cases[17].input == {"question": "hello", "locale": "fr"}
    assert cases[17].grader == {"name": "not_contains", "options": {"substring": "sorry"}}


def test_bad_promptfoo_tests_are_listed_by_line(bot: Project) -> None:
    path = write(
        "promptfooconfig.yaml",
        """
        tests:
          - vars: {question: a}
            assert: [{type: llm-rubric, value: polite}]
          - vars: {question: b}
          - vars: {question: c}
            assert: [{type: equals, value: x}, {type: equals, value: y}]
          - vars: {question: d}
            assert: [{type: regex}]
          - vars: {questoin: e}
            assert: [{type: equals, value: x}]
          - just a text
          - vars: [question]
            assert: [{type: equals, value: x}]
          - vars: {question: f}
            assert: [{type: equals, value: x}]
        """,
    )
    problems = rejected(bot, path)
    assert [line for line, _ in problems] == [2, 4, 5, 7, 9, 11, 12]
    assert "must be a mapping with 'vars' and 'assert'" in problems[5][1]
    assert "'vars' must be a mapping" in problems[6][1]
    assert "type 'llm-rubric' is not supported" in problems[0][1]
    assert "has no assert" in problems[1][1]
    assert "more than one 'equals'" in problems[2][1]
    assert "assert 'regex' needs a text 'value'" in problems[3][1]
    assert "takes no argument 'questoin'" in problems[4][1]


def test_promptfoo_anchors_and_merge_keys_resolve_and_each_test_keeps_its_line(bot: Project) -> None:
    path = write(
        "promptfooconfig.yaml",
        """
        base: &base
          vars: {question: hello}
          assert: [{type: contains, value: Happy}]
        tests:
          - <<: *base
          - <<: *base
            vars: {question: "refund?"}
            assert: [{type: contains, value: 14 days}]
        """,
    )
    run_import(bot, path)
    cases = by_line(bot)
    assert sorted(cases) == [5, 6]
    assert (cases[5].input, cases[5].expected) == ({"question": "hello"}, "Happy")
    assert (cases[6].input, cases[6].expected) == ({"question": "refund?"}, "14 days")


def test_a_repeated_promptfoo_tests_key_imports_the_last_with_its_lines(bot: Project) -> None:
    # YAML lets a later key override an earlier one; the lines must be those of the tests imported.
    path = write(
        "promptfooconfig.yaml",
        """
        tests:
          - vars: {question: old}
            assert: [{type: contains, value: x}]
        tests:
          - vars: {question: hello}
            assert: [{type: contains, value: Happy}]
          - vars: {question: "refund?"}
            assert: [{type: contains, value: 14 days}]
        """,
    )
    run_import(bot, path)
    cases = by_line(bot)
    assert sorted(cases) == [5, 7]
    assert [cases[5].input, cases[7].input] == [{"question": "hello"}, {"question": "refund?"}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "tests: file://tests.csv\n", "loads its tests from|import that file instead", id="tests-in-a-file"
        ),
        pytest.param("prompts: [a]\n", "no inline 'tests:' list", id="no-tests"),
        pytest.param("tests: [\n", "not valid YAML at line", id="bad-yaml"),
        pytest.param("- a\n", "not a mapping", id="a-list"),
        pytest.param("", "not a mapping", id="empty"),
    ],
)
def test_a_promptfoo_config_without_inline_tests_is_refused(bot: Project, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        run_import(bot, write("promptfooconfig.yaml", text))


# -- OpenAI evals ------------------------------------------------------------------------------


def test_openai_evals_samples_take_text_or_chat_input_and_ideal(bot: Project) -> None:
    system = {"role": "system", "content": "Answer briefly."}
    path = jsonl(
        "samples.jsonl",
        {"input": [system, {"role": "user", "content": "refund?"}], "ideal": ["14 days", "two weeks"]},
        {"input": "hello", "ideal": "Happy to help."},
        {"input": "hi", "ideal": ["Happy to help."]},
    )
    run_import(bot, path, format="openai-evals")
    cases = by_line(bot)
    assert cases[1].input == {"question": "refund?"}
    assert (cases[1].expected, cases[1].grader["name"]) == (["14 days", "two weeks"], "one_of")
    assert (cases[2].input, cases[2].expected, cases[2].grader["name"]) == (
        {"question": "hello"},
        "Happy to help.",
        "exact",
    )
    assert (cases[3].expected, cases[3].grader["name"]) == ("Happy to help.", "exact")


def test_openai_evals_chat_input_goes_whole_to_a_messages_parameter(bot: Project) -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    run_import(bot, jsonl("samples.jsonl", {"input": messages, "ideal": "c"}), "chat", format="openai-evals")
    [case] = load_suite(bot.suite).cases
    assert case.input == {"messages": messages}


def test_a_grader_option_overrides_one_of_for_a_list_of_ideals(bot: Project) -> None:
    path = jsonl("samples.jsonl", {"input": "x", "ideal": ["a", "b"]})
    run_import(bot, path, format="openai-evals", grader="one_of", options={"normalize": "case"})
    [case] = load_suite(bot.suite).cases
    assert case.grader == {"name": "one_of", "options": {"normalize": "case"}}


def test_bad_openai_evals_samples_are_listed(bot: Project) -> None:
    conversation = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    path = jsonl(
        "samples.jsonl",
        {"input": conversation, "ideal": "x"},
        {"input": "x"},
        {"input": "x", "ideal": []},
        {"input": [{"content": "no role"}], "ideal": "x"},
        {"input": 5, "ideal": "x"},
        b"{oops",
    )
    problems = rejected(bot, path, format="openai-evals")
    assert [line for line, _ in problems] == [1, 2, 3, 4, 5, 6]
    assert "a conversation of 2 messages needs an entry point parameter named 'messages'" in problems[0][1]
    assert "needs 'input'" in problems[1][1]
    assert "'ideal' is an empty list" in problems[2][1]
    assert "'role' and 'content'" in problems[3][1]
    assert "'input' is int" in problems[4][1]
