"""The pytest plugin in a real `pytest` subprocess (the installed `pytest11` entry point), with and
without pytest-xdist: a project with an app test and four cases - two pass, one answers wrongly,
one's entry point raises."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.replay import Case, write_case
from casebank.store import open_store
from tests.cli.conftest import PROJECT_ROOT

BOT = """
def answer(question):
    if question == "crash":
        raise ValueError("no model for 'crash'")
    return {{"hello": "Happy to help.", "refund": {refund!r}, "ship": "We ship in 2 days."}}[question]
"""

APP_TEST = """
import sys

def test_the_app_runs_beside_the_cases():
    print("replay modules loaded:", sorted(m for m in sys.modules if m.startswith("casebank.replay")))
    assert "casebank.pytest_plugin" in sys.modules
"""

CASES = [  # id, question, expected, tags
    ("c1hello", "hello", "Happy to help.", ["greetings"]),
    ("c2refund", "refund", "We refund within 14 days.", ["refunds"]),
    ("c3ship", "ship", "We ship in 2 days.", ["shipping", "refunds"]),
    ("c4crash", "crash", "Sorry.", ["errors"]),
]
IDS = [
    "evals/answer-c1hello.json::c1hello[greetings]",
    "evals/answer-c2refund.json::c2refund[refunds]",
    "evals/answer-c3ship.json::c3ship[shipping-refunds]",
    "evals/answer-c4crash.json::c4crash[errors]",
]
APP_ID = "test_app.py::test_the_app_runs_beside_the_cases"
REFUND_REASON = "expected 'We refund within 14 days.', got 'We refund within 30 days.'"
CRASH_REASON = "raised ValueError: no model for 'crash'"


@dataclass(kw_only=True)
class Result:
    code: int
    out: str
    err: str


def set_bot(root: Path, refund: str = "We refund within 30 days.") -> None:
    (root / "shop_bot.py").write_text(textwrap.dedent(BOT.format(refund=refund)), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    set_bot(tmp_path)
    (tmp_path / "test_app.py").write_text(textwrap.dedent(APP_TEST), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", encoding="utf-8")
    for case_id, question, expected, tags in CASES:
        case = Case(
            id=case_id,
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint="shop_bot:answer",
            input={"question": question},
            expected=expected,
            grader={"name": "exact", "options": {}},
            tags=tags,
        )
        write_case(case, tmp_path / "evals")
    return tmp_path


def run(root: Path, *args: str, module: str = "pytest") -> Result:
    """`python -m pytest ARGS` (or another module) in `root`, as a user's shell would start it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # not this session's xdist
    env.update(
        {
            "CASEBANK_DB": str(root / "casebank.db"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    return Result(code=proc.returncode, out=proc.stdout, err=proc.stderr)


def collected(result: Result) -> list[str]:
    return [line for line in result.out.splitlines() if "::" in line]


def runs(root: Path) -> list[dict[str, Any]]:
    with open_store(root / "casebank.db", create=False) as store:
        return [{**run, "results": store.run_results(run["id"], suite_order=True)} for run in store.list_runs()]


def test_without_casebank_no_case_is_collected_and_nothing_of_the_runner_is_imported(project: Path) -> None:
    result = run(project, "-q", "-s")
    listed = run(project, "--collect-only", "-q")

    assert result.code == 0 and "1 passed" in result.out, result.out + result.err
    # The project configuration is read (its loader is light); nothing of the runner, graders or reports.
    assert "replay modules loaded: ['casebank.replay', 'casebank.replay._config']" in result.out
    assert collected(listed) == [APP_ID]
    assert not (project / "casebank.db").exists() and not (project / ".casebank").exists()


def test_each_case_is_an_item_named_by_its_file_id_and_tags_so_that_k_and_m_select(project: Path) -> None:
    every = run(project, "--casebank", "--collect-only", "-q")
    refunds = run(project, "--casebank", "--collect-only", "-q", "-k", "refunds")
    not_cases = run(project, "--casebank", "--collect-only", "-q", "-m", "not casebank")

    assert every.code == 0, every.out + every.err
    assert collected(every) == [APP_ID, *IDS]
    assert "5 tests collected" in every.out
    assert collected(refunds) == [IDS[1], IDS[2]]
    assert collected(not_cases) == [APP_ID]
    assert runs(project) == []  # nothing ran, nothing is recorded


def test_a_case_that_does_not_pass_fails_with_the_graders_reason_and_the_session_is_one_run_from_pytest(
    project: Path,
) -> None:
    result = run(project, "--casebank", "-ra", "-p", "no:cacheprovider")
    listed = run(project, "runs", module="casebank")

    assert result.code == 1, result.out + result.err
    assert "2 failed, 3 passed" in result.out
    assert f"FAILED {IDS[1]} - {REFUND_REASON}\n" in result.out
    assert f"FAILED {IDS[3]} - {CRASH_REASON}\n" in result.out
    failure = result.out.split("casebank case c2refund")[1].split("\n_")[0]
    assert failure.splitlines()[1:] == [
        f"case c2refund did not pass: {REFUND_REASON}",
        "case file: evals/answer-c2refund.json",
        "grader:    exact",
        "expected:  We refund within 14 days.",
        "actual:    We refund within 30 days.",
    ]
    # The entry point's traceback, not casebank's or pytest's.
    assert 'shop_bot.py", line 4, in answer' in result.out and "ValueError: no model for 'crash'" in result.out
    assert "casebank/" not in result.out.replace("casebank.db", "") and "_pytest" not in result.out

    [recorded] = runs(project)
    assert (recorded["origin"], recorded["total"], recorded["passed"], recorded["failed"], recorded["errored"]) == (
        "pytest",
        4,
        2,
        1,
        1,
    )
    assert (recorded["suite"], recorded["concurrency"], recorded["status"]) == ("evals", 1, "finished")
    assert [(r["case_id"], r["passed"], r["reason"]) for r in recorded["results"]] == [
        ("c1hello", 1, "output equals expected"),
        ("c2refund", 0, REFUND_REASON),
        ("c3ship", 1, "output equals expected"),
        ("c4crash", 0, CRASH_REASON),
    ]
    pass_rate = "pass rate 50.0% (95% CI 15.0-85.0%)"
    assert f"casebank: run {recorded['id']} recorded in {project / 'casebank.db'}: 2/4 cases passed, {pass_rate}\n" in (
        result.out
    )
    assert listed.code == 0 and recorded["id"] in listed.out and "pytest" in listed.out, listed.out + listed.err


def test_x_stops_at_the_first_failing_case_and_the_run_holds_the_cases_that_ran(project: Path) -> None:
    result = run(project, "--casebank", "-x", "-q", "-p", "no:cacheprovider")

    assert result.code == 1 and "1 failed, 2 passed" in result.out, result.out + result.err
    [recorded] = runs(project)
    assert [r["case_id"] for r in recorded["results"]] == ["c1hello", "c2refund"]


def test_lf_replays_only_the_cases_that_failed_last_time(project: Path) -> None:
    run(project, "--casebank", "-q")
    again = run(project, "--casebank", "--lf", "-q")
    set_bot(project, refund="We refund within 14 days.")
    fixed = run(project, "--casebank", "--lf", "-q", "-k", "refunds")

    assert again.code == 1 and "\n2 failed, 2 deselected in " in again.out, again.out + again.err
    assert fixed.code == 0 and "1 passed" in fixed.out, fixed.out + fixed.err
    fixed_run, again_run, _ = runs(project)
    assert [r["case_id"] for r in again_run["results"]] == ["c2refund", "c4crash"]
    assert [(r["case_id"], r["passed"]) for r in fixed_run["results"]] == [("c2refund", 1)]


def junit_cases(path: Path) -> dict[tuple[str, str], str | None]:
    """(classname, name) -> the failure's message, None for a pass."""
    cases: dict[tuple[str, str], str | None] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        failure = case.find("failure")
        cases[(case.get("classname", ""), case.get("name", ""))] = None if failure is None else failure.get("message")
    return cases


def expected_junit() -> dict[tuple[str, str], str | None]:
    return {
        ("test_app", "test_the_app_runs_beside_the_cases"): None,
        ("evals.answer-c1hello.json", "c1hello[greetings]"): None,
        ("evals.answer-c2refund.json", "c2refund[refunds]"): REFUND_REASON,
        ("evals.answer-c3ship.json", "c3ship[shipping-refunds]"): None,
        ("evals.answer-c4crash.json", "c4crash[errors]"): CRASH_REASON,
    }


def test_junitxml_names_each_case_and_carries_the_graders_reason(project: Path) -> None:
    result = run(project, "--casebank", "-q", "--junitxml", "out.xml")

    assert result.code == 1, result.out + result.err
    assert junit_cases(project / "out.xml") == expected_junit()
    failure = next(
        case.find("failure")
        for case in ET.parse(project / "out.xml").getroot().iter("testcase")
        if case.get("name") == "c2refund[refunds]"
    )
    assert failure is not None and "actual:    We refund within 30 days." in (failure.text or "")


def test_with_xdist_each_worker_replays_its_cases_and_the_session_is_still_one_run(project: Path) -> None:
    result = run(project, "--casebank", "-n", "2", "-ra", "--junitxml", "out.xml", "-p", "no:cacheprovider")

    assert result.code == 1 and "2 failed, 3 passed" in result.out, result.out + result.err
    assert f"FAILED {IDS[1]} - {REFUND_REASON}\n" in result.out  # the reason crossed from the worker
    assert junit_cases(project / "out.xml") == expected_junit()
    [recorded] = runs(project)
    assert (recorded["origin"], recorded["total"], recorded["passed"]) == ("pytest", 4, 2)
    assert [r["case_id"] for r in recorded["results"]] == ["c1hello", "c2refund", "c3ship", "c4crash"]
    assert recorded["concurrency"] in (1, 2)  # the workers that ran cases


def test_pytest_true_in_the_project_configuration_adds_the_configured_suite_when_pytest_collects_it(
    project: Path,
) -> None:
    (project / "evals").rename(project / "regressions")
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\n\n[tool.casebank]\npytest = true\nsuite = "regressions"\n', encoding="utf-8"
    )

    everything = run(project, "--collect-only", "-q")
    one_file = run(project, "--collect-only", "-q", "test_app.py")
    the_suite = run(project, "--collect-only", "-q", "regressions")

    ids = [case_id.replace("evals/", "regressions/") for case_id in IDS]
    assert collected(everything) == [APP_ID, *ids], everything.out + everything.err
    assert collected(one_file) == [APP_ID]
    assert collected(the_suite) == ids


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        pytest.param(
            lambda root: None,
            ("--casebank", "nowhere"),
            "ERROR: casebank: suite folder 'nowhere' does not exist - promote a case with 'cases promote ID'",
            id="no-suite",
        ),
        pytest.param(
            lambda root: (root / "evals" / "answer-c1hello.json").write_text(
                (root / "evals" / "answer-c1hello.json").read_text().replace("Happy", "Glad")
            ),
            ("--casebank", "-n", "2"),
            "ERROR: casebank: case file 'evals/answer-c1hello.json' was modified after it was frozen",
            id="tampered-case",
        ),
        pytest.param(
            lambda root: (root / "pyproject.toml").write_text("[tool.casebank]\npytest = 'yes'\n"),
            ("-q",),
            '[tool.casebank]: pytest = "yes" is not true or false - for example: pytest = true',
            id="bad-setting",
        ),
    ],
)
def test_a_suite_or_setting_that_cannot_be_used_is_one_line_and_exit_4(
    project: Path, setup: Any, args: tuple[str, ...], message: str
) -> None:
    setup(project)

    result = run(project, *args)

    assert result.code == 4, result.out + result.err
    assert message in result.err and "Traceback" not in result.err + result.out, result.err


def test_the_run_from_pytest_reads_back_as_cases_run_would_show_it(project: Path) -> None:
    run(project, "--casebank", "-q", "-k", "refunds", "-p", "no:cacheprovider")

    report = run(project, "report", "latest", "--format", "json", module="casebank")

    loaded = orjson.loads(report.out)
    assert (loaded["origin"], loaded["total"], loaded["summary"]["pass_rate"]) == ("pytest", 2, 0.5)
    assert [result["case_id"] for result in loaded["results"]] == ["c2refund", "c3ship"]


def test_a_case_whose_entry_point_is_gone_fails_alone_saying_so(project: Path) -> None:
    case = Case(
        id="c5gone",
        created_at="2024-05-01T12:00:00.000+00:00",
        entrypoint="shop_bot:renamed_since",
        input={"question": "hello"},
        expected="Happy to help.",
        grader={"name": "exact", "options": {}},
    )
    write_case(case, project / "evals")

    result = run(project, "--casebank", "-q", "-ra", "-k", "c5gone or c1hello", "-p", "no:cacheprovider")

    assert result.code == 1 and "1 failed, 1 passed" in result.out, result.out + result.err
    [line] = [line for line in result.out.splitlines() if line.startswith("FAILED")]
    gone = "evals/renamed_since-c5gone.json"
    assert line.startswith(f"FAILED {gone}::c5gone - case file '{gone}'")
    assert "renamed_since" in line and "Traceback" not in result.out
    [recorded] = runs(project)
    assert [(r["case_id"], r["passed"], (r["error"] or "").split(":")[0]) for r in recorded["results"]] == [
        ("c1hello", 1, ""),
        ("c5gone", 0, "TargetImportError"),
    ]
