"""`cases import` through a real subprocess, then `cases run` on what it wrote."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from tests.cli.conftest import Cases, InProcess, assert_one_line_error

BOT = """
def answer(question, locale="en"):
    if "refund" in question:
        return "We refund within 14 days."
    return "Bonjour !" if locale == "fr" else "Happy to help."
"""


def project(root: Path) -> None:
    (root / "shop_bot.py").write_text(textwrap.dedent(BOT))


def masked(text: str) -> str:
    return re.sub(r"answer-[0-9a-f]{12}\.json", "answer-ID.json", text)


def test_import_then_run_replays_the_imported_suite(cases: Cases, tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "golden.jsonl").write_text(
        '{"input": "refund?", "expected": "14 days"}\n'
        '{"input": {"question": "hi", "locale": "fr"}, "expected": "bonjour", "tags": ["fr"]}\n'
    )
    imported = cases(
        "import", "golden.jsonl", "--entrypoint", "shop_bot:answer", "--grader", "contains",
        "--option", "ignore_case=true", "--tag", "imported",
    )  # fmt: skip
    assert (imported.code, imported.err) == (0, "")
    assert masked(imported.out) == (
        "imported 2 cases from golden.jsonl (jsonl): 2 new\n"
        "  evals/answer-ID.json\n"
        "  evals/answer-ID.json\n"
        "next: cases run --suite evals\n"
    )
    ran = cases("run", "--junit", "junit.xml")
    assert ran.code == 0, (ran.out, ran.err)
    assert "2/2 passed" in ran.out
    assert "tag imported (2 cases)" in ran.out

    again = cases("import", "golden.jsonl", "--entrypoint", "shop_bot:answer", "--grader", "contains",
                  "--option", "ignore_case=true", "--tag", "imported")  # fmt: skip
    assert (again.code, again.out) == (
        0,
        "imported 2 cases from golden.jsonl (jsonl): 0 new, 2 already in the suite (same file, line and content)\n"
        "next: cases run --suite evals\n",
    )
    assert len(list((tmp_path / "evals").glob("*.json"))) == 2


def test_a_promptfoo_suite_imports_and_its_failures_fail_the_run(cases: Cases, tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """
            prompts: ["{{question}}"]
            tests:
              - vars: {question: "refund?"}
                assert: [{type: contains, value: 30 days}]
              - vars: {question: hello}
                assert: [{type: equals, value: Happy to help.}, {type: regex, value: "^Happy"}]
            """
        )
    )
    imported = cases("import", "promptfooconfig.yaml", "--entrypoint", "shop_bot:answer", "--suite", "imported/")
    assert imported.code == 0, imported.err
    assert "imported 2 cases from promptfooconfig.yaml (promptfoo): 2 new" in imported.out
    ran = cases("run", "--suite", "imported/")
    assert ran.code == 1, (ran.out, ran.err)
    assert "1 of 2 cases did not pass" in ran.out


def test_bad_rows_are_listed_with_their_line_and_nothing_is_written(cases: Cases, tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "golden.jsonl").write_text(
        '{"input": "refund?", "expected": "14 days"}\n'
        "{oops\n"
        '{"input": {"questoin": "hi"}, "expected": "x"}\n'
        '{"input": "hi", "expected": "x", "grader": {"name": "exact", "options": {"normalize": "upper"}}}\n'
    )
    result = cases("import", "golden.jsonl", "--entrypoint", "shop_bot:answer")
    assert (result.code, result.out) == (2, "")
    lines = result.err.splitlines()
    assert lines[0].startswith("golden.jsonl:2: not valid JSON")
    assert lines[1:] == [
        "golden.jsonl:3: the entry point takes no argument 'questoin' (it takes: question, locale)",
        "golden.jsonl:4: grader 'exact' option normalize='upper' - use one of: none, whitespace, case, both",
        "error: cannot import 'golden.jsonl': 3 row(s) cannot be imported (listed above), so nothing was written - "
        "fix them and import again",
    ]
    assert not (tmp_path / "evals").exists()


def test_a_name_that_says_no_format_is_a_usage_error(cases: Cases, tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "golden.txt").write_text("refund?\n")
    result = cases("import", "golden.txt", "--entrypoint", "shop_bot:answer")
    assert_one_line_error(result, 2, "cannot tell the format of 'golden.txt'", "pass --format")


def test_an_entry_point_that_does_not_import_is_a_usage_error(cases_in_process: InProcess, tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "golden.jsonl").write_text('{"input": "refund?", "expected": "14 days"}\n')
    result = cases_in_process("import", "golden.jsonl", "--entrypoint", "shop_bot:nope")
    assert result.code == 2
    assert not (tmp_path / "evals").exists()


def test_an_entry_point_module_that_does_not_import_names_the_command_to_run(cases: Cases, tmp_path: Path) -> None:
    (tmp_path / "golden.jsonl").write_text('{"input": "refund?", "expected": "14 days"}\n')

    result = cases("import", "golden.jsonl", "--entrypoint", "no_such_bot:answer")

    assert_one_line_error(
        result,
        2,
        "cannot import target 'no_such_bot:answer': ModuleNotFoundError: No module named 'no_such_bot' - "
        "run 'cases import' from the project folder (it is put on the import path)",
    )


def test_csv_columns_that_are_not_parameters_are_reported(cases_in_process: InProcess, tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "golden.csv").write_text("id,input,locale,expected,notes\n1,hi,fr,Bonjour !,ok\n")
    result = cases_in_process("import", "golden.csv", "--entrypoint", "shop_bot:answer")
    assert result.code == 0, result.err
    assert masked(result.out) == (
        "imported 1 case from golden.csv (csv): 1 new\n"
        "  evals/answer-ID.json\n"
        "ignored columns (not parameters of shop_bot:answer): id, notes\n"
        "next: cases run --suite evals\n"
    )


def test_the_format_option_names_every_format_the_library_reads(cases_in_process: InProcess) -> None:
    from casebank.replay._importers import FORMATS

    out = cases_in_process("import", "--help", columns=200).out

    assert f"  --format {'|'.join(FORMATS)}\n" in out
