from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest
from rich.console import Console

from casebank.replay import CaseResult, RunReport, render_table, report_dict, summary_line, to_json, to_junit


def result(case_id: str, status: str, **overrides: Any) -> CaseResult:
    values: dict[str, Any] = {
        "case_id": case_id,
        "case_file": f"evals/answer-{case_id}.json",
        "entrypoint": "support_bot.bot:answer",
        "grader": "exact",
        "expected": "We refund within 30 days.",
        "output": "We refund within 30 days.",
        "passed": True,
        "score": 1.0,
        "reason": "output equals expected",
        "latency_ms": 1250.0,
        "tags": ["refunds"],
    }
    if status == "failed":
        values.update(
            output="We refund within 14 days.",
            passed=False,
            score=0.0,
            reason="expected 'We refund within 30 days.', got 'We refund within 14 days.'",
        )
    elif status == "errored":
        values.update(
            output=None,
            passed=False,
            score=None,
            reason="raised TimeoutError: model did not answer",
            error="TimeoutError: model did not answer",
            traceback=(
                'Traceback (most recent call last):\n  File "bot.py", line 3, in answer\n'
                "TimeoutError: model did not answer\n"
            ),
        )
    values.update(overrides)
    return CaseResult(**values)


def report(*results: CaseResult) -> RunReport:
    return RunReport(
        id="0123456789ab",
        started_at="2024-05-01T12:00:00.000+00:00",
        finished_at="2024-05-01T12:00:02.500+00:00",
        suite="evals",
        suite_hash="sha256:" + "0" * 64,
        target=None,
        concurrency=8,
        results=list(results),
    )


def rendered(run: RunReport) -> str:
    out = io.StringIO()
    render_table(run, Console(file=out, width=100, markup=False, highlight=False, color_system=None))
    return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())


@pytest.mark.parametrize(
    ("statuses", "line"),
    [
        pytest.param(["passed"] * 4, "4/4 passed (100.0%)", id="all-pass"),
        pytest.param(["passed"] * 3 + ["failed"], "3/4 passed (75.0%) - 1 failed", id="one-fails"),
        pytest.param(
            ["passed", "failed", "errored"], "1/3 passed (33.3%) - 1 failed, 1 raised an exception", id="one-raises"
        ),
        pytest.param(["errored", "errored"], "0/2 passed (0.0%) - 2 raised an exception", id="all-raise"),
    ],
)
def test_summary_line_gives_the_pass_rate_then_what_did_not_pass(statuses: list[str], line: str) -> None:
    run = report(*(result(f"c{i}", status) for i, status in enumerate(statuses)))
    assert summary_line(run) == line


def test_the_table_shows_only_what_did_not_pass_with_expected_and_actual() -> None:
    run = report(result("c1", "passed"), result("c2", "failed"), result("c3", "errored"))

    assert rendered(run) == (
        "2 of 3 cases did not pass\n"
        "┏━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ case           ┃ expected                 ┃ actual                    ┃ why                      ┃\n"
        "┡━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ c2             │ We refund within 30      │ We refund within 14 days. │ expected 'We refund      │\n"
        "│ answer-c2.json │ days.                    │                           │ within 30 days.', got    │\n"
        "│                │                          │                           │ 'We refund within 14     │\n"
        "│                │                          │                           │ days.'                   │\n"
        "│ c3             │ We refund within 30      │ raised TimeoutError:      │ the entry point raised   │\n"
        "│ answer-c3.json │ days.                    │ model did not answer      │                          │\n"
        "└────────────────┴──────────────────────────┴───────────────────────────┴──────────────────────────┘\n"
        "1/3 passed (33.3%) - 1 failed, 1 raised an exception\n"
    )


def test_a_passing_run_prints_only_the_pass_rate() -> None:
    assert rendered(report(result("c1", "passed"))) == "1/1 passed (100.0%)\n"


def test_the_table_trims_long_values_and_prints_markup_as_text() -> None:
    run = report(
        result("c1", "failed", expected="[bold]" + "x" * 200, output={"answer": "[red]no[/red]", "n": 1}, reason="r")
    )

    text = rendered(run)

    assert "[bold]xxxxxxxxxxxxxxxxxxxxxxx" in text.replace("│", "").replace(" ", "")
    assert "x" * 60 not in text.replace("\n", "")
    assert '{"answer":"[red]no[/red]","n":1}' in text.replace("│", "").replace(" ", "").replace("\n", "")


def test_json_holds_the_run_fields_and_every_result() -> None:
    run = report(result("c1", "passed"), result("c2", "failed"), result("c3", "errored"))

    data = orjson.loads(to_json(run))

    assert data == report_dict(run)
    assert {k: v for k, v in data.items() if k != "results"} == {
        "id": "0123456789ab",
        "started_at": "2024-05-01T12:00:00.000+00:00",
        "finished_at": "2024-05-01T12:00:02.500+00:00",
        "suite": "evals",
        "suite_hash": "sha256:" + "0" * 64,
        "target": None,
        "concurrency": 8,
        "total": 3,
        "passed": 1,
        "failed": 1,
        "errored": 1,
        "pass_rate": pytest.approx(1 / 3),
    }
    assert [(r["case_id"], r["status"], r["output"], r["error"]) for r in data["results"]] == [
        ("c1", "passed", "We refund within 30 days.", None),
        ("c2", "failed", "We refund within 14 days.", None),
        ("c3", "errored", None, "TimeoutError: model did not answer"),
    ]
    assert data["results"][1] == {
        "case_id": "c2",
        "epoch": 0,
        "case_file": "evals/answer-c2.json",
        "entrypoint": "support_bot.bot:answer",
        "status": "failed",
        "passed": False,
        "score": 0.0,
        "reason": "expected 'We refund within 30 days.', got 'We refund within 14 days.'",
        "grader": "exact",
        "expected": "We refund within 30 days.",
        "output": "We refund within 14 days.",
        "error": None,
        "traceback": None,
        "latency_ms": 1250.0,
        "tags": ["refunds"],
    }


def test_junit_has_one_testcase_per_case_with_failures_and_errors() -> None:
    run = report(result("c1", "passed"), result("c2", "failed"), result("c3", "errored"))

    root = ET.fromstring(to_junit(run))

    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    for element in (root, suite):
        assert {k: element.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
            "tests": "3",
            "failures": "1",
            "errors": "1",
            "skipped": "0",
            "time": "2.500",
        }
    assert suite.get("timestamp") == "2024-05-01T12:00:00"
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["run_id"] == "0123456789ab"
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in cases] == [
        ("support_bot.bot", "c1 (answer-c1.json)", "1.250"),
        ("support_bot.bot", "c2 (answer-c2.json)", "1.250"),
        ("support_bot.bot", "c3 (answer-c3.json)", "1.250"),
    ]
    assert list(cases[0]) == []
    [failure] = list(cases[1])
    assert failure.tag == "failure"
    assert failure.get("message") == "expected 'We refund within 30 days.', got 'We refund within 14 days.'"
    assert failure.get("type") == "exact"
    assert failure.text is not None
    assert "expected: We refund within 30 days.\nactual: We refund within 14 days.\n" in failure.text
    [error] = list(cases[2])
    assert (error.tag, error.get("type"), error.get("message")) == (
        "error",
        "TimeoutError",
        "TimeoutError: model did not answer",
    )
    assert error.text is not None and 'File "bot.py", line 3' in error.text


def test_junit_escapes_characters_xml_cannot_carry() -> None:
    run = report(result("c1", "failed", output="bell\x07 nul\x00 ok", reason="got \x1b[31m"))

    root = ET.fromstring(to_junit(run))  # parses: nothing invalid was written

    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.text is not None
    assert failure.get("message") == "got \\x1b[31m"
    assert "actual: bell\\x07 nul\\x00 ok\n" in failure.text
