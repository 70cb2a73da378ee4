from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest
from rich.console import Console

from casebank.replay import (
    CaseResult,
    RunReport,
    render_table,
    report_dict,
    report_json,
    summary_line,
    to_junit,
    to_markdown,
)


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
        "pass rate 33.3% (95% CI 6.1-79.2%) over 3 cases\n"
        "power (80%, alpha 0.05): 3 cases at 33.3% cannot see any regression, even to 0%\n"
        "tag refunds (3 cases) is too small to see any regression, even to 0%\n"
        "by tag\n"
        "┏━━━━━━━━━┳━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ tag     ┃ cases ┃ passed ┃ pass rate ┃    95% CI ┃ smallest drop it can see ┃\n"
        "┡━━━━━━━━━╇━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ refunds │     3 │      1 │     33.3% │ 6.1-79.2% │           cannot see any │\n"
        "└─────────┴───────┴────────┴───────────┴───────────┴──────────────────────────┘\n"
    )


def test_a_passing_run_prints_the_pass_rate_its_interval_and_the_power() -> None:
    assert rendered(report(result("c1", "passed", tags=[]))) == (
        "1/1 passed (100.0%)\n"
        "pass rate 100.0% (95% CI 20.7-100.0%) over 1 case\n"
        "power (80%, alpha 0.05): 1 case at 100.0% cannot see any regression, even to 0%\n"
    )


def test_the_table_gives_each_tag_its_rate_and_names_small_tags_with_the_drop_they_miss() -> None:
    results = [result(f"r{i}", "passed", tags=["refunds"]) for i in range(30)]
    results += [result(f"b{i}", "failed" if i < 2 else "passed", tags=["billing", "refunds"]) for i in range(10)]

    text = rendered(report(*results))

    assert "38/40 passed (95.0%) - 2 failed\n" in text
    assert "pass rate 95.0% (95% CI 83.5-98.6%) over 40 cases\n" in text
    assert "power (80%, alpha 0.05): 40 cases at 95.0% cannot see a regression of less than 21 points\n" in text
    assert "tag billing (10 cases) is too small to see a regression of less than 59 points\n" in text
    assert "tag refunds" not in text.split("by tag")[0]  # 40 cases: not small
    assert "│ billing │    10 │      8 │     80.0% │ 49.0-94.3% │                59 points │" in text
    assert "│ refunds │    40 │     38 │     95.0% │ 83.5-98.6% │                21 points │" in text


def test_epochs_show_mean_pass_rate_pass_k_and_flaky_cases() -> None:
    results = [
        result("c1", "passed", epoch=0),
        result("c1", "passed", epoch=1),
        result("c2", "passed", epoch=0, retries=1),
        result("c2", "failed", epoch=1),
    ]
    run = report(*results)
    run.epochs = 2

    text = rendered(run)

    assert "1/2 passed (50.0%) - 1 failed\n" in text
    assert "2 epochs: mean pass rate 75.0%, passed every epoch (pass^2) 50.0%\n" in text
    assert "flaky (passed some epochs, failed others): c2 (1/2)\n" in text
    assert "retries after transient errors: 1\n" in text
    summary = orjson.loads(report_json(run))["summary"]
    assert summary["flaky"] == [{"case_id": "c2", "passed_epochs": 1, "epochs": 2}]
    assert (summary["mean_pass_rate"], summary["pass_every_epoch"], summary["retries"]) == (0.75, 0.5, 1)


def test_junit_lists_each_epoch_in_one_testcase_per_case() -> None:
    results = [
        result("c1", "passed", epoch=0),
        result("c1", "failed", epoch=1),
        result("c2", "errored", epoch=0),
        result("c2", "errored", epoch=1),
        result("c3", "passed", epoch=0),
        result("c3", "passed", epoch=1),
    ]
    run = report(*results)
    run.epochs = 2

    root = ET.fromstring(to_junit(run))

    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["c1 (answer-c1.json)", "c2 (answer-c2.json)", "c3 (answer-c3.json)"]
    assert cases[0].get("time") == "2.500"
    [failure] = list(cases[0])
    assert failure.tag == "failure"
    assert failure.get("message", "").startswith("did not pass 1 of 2 epochs (flaky): expected 'We refund")
    assert failure.text is not None
    assert failure.text.startswith("epoch 1: passed\n\nepoch 2: failed\nexpected: We refund within 30 days.\n")
    [error] = list(cases[1])
    assert error.tag == "error" and error.get("type") == "TimeoutError"
    assert error.text is not None and error.text.count("raised TimeoutError: model did not answer") == 2
    assert list(cases[2]) == []


def test_a_timed_out_case_is_a_junit_failure_of_type_timeout() -> None:
    run = report(result("c1", "failed", output=None, reason="timed out after 2 s", timed_out=True))

    root = ET.fromstring(to_junit(run))

    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and (failure.get("type"), failure.get("message")) == ("timeout", "timed out after 2 s")
    assert "timed out: 1\n" in rendered(run)


def test_markdown_is_a_pull_request_comment() -> None:
    run = report(result("c1", "passed"), result("c2", "failed", reason="got | pipe <b>"), result("c3", "errored"))
    run.git_commit = "a" * 40

    text = to_markdown(run)

    assert text == (
        "### ❌ casebank: 1/3 passed (33.3%) - 1 failed, 1 raised an exception\n"
        "\n"
        "- pass rate 33.3% (95% CI 6.1-79.2%) over 3 cases\n"
        "- power (80%, alpha 0.05): 3 cases at 33.3% cannot see any regression, even to 0%\n"
        "- tag refunds (3 cases) is too small to see any regression, even to 0%\n"
        "- run `0123456789ab` at commit `aaaaaaaaaaaa`\n"
        "\n"
        "| tag | cases | passed | pass rate | 95% CI | smallest drop it can see |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        "| refunds | 3 | 1 | 33.3% | 6.1-79.2% | cannot see any |\n"
        "\n"
        "<details><summary>Cases that did not pass</summary>\n"
        "\n"
        "| case | epoch | expected | actual | why |\n"
        "|---|---:|---|---|---|\n"
        "| `c2` | 1 | We refund within 30 days. | We refund within 14 days. | got \\| pipe &lt;b&gt; |\n"
        "| `c3` | 1 | We refund within 30 days. | raised TimeoutError: model did not answer "
        "| the entry point raised |\n"
        "\n"
        "</details>\n"
    )


UNCALIBRATED = (
    "judge not calibrated - run 'cases judge calibrate --grader-file FILE --suite evals' with its grader spec in FILE"
)


def test_unreliable_verdicts_are_marked_in_the_table_and_explained_in_a_footnote() -> None:
    run = report(
        result("c1", "passed", grader="llm_judge", unreliable=UNCALIBRATED),
        result("c2", "failed", grader="llm_judge", unreliable=UNCALIBRATED, reason="judge said FAIL"),
        result("c3", "failed", grader="llm_judge", unreliable="judge kappa 0.42 < 0.6", reason="judge said FAIL"),
        result("c4", "failed", reason="wrong"),
    )

    text = rendered(run)

    cells = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│ c")]
    assert cells == ["c2 †", "c3 †", "c4"]
    assert f"† unreliable verdicts (2 results): {UNCALIBRATED}\n" in text.replace("\n  ", " ")
    assert "† unreliable verdicts (1 result): judge kappa 0.42 < 0.6\n" in text


def test_markdown_marks_unreliable_verdicts_and_json_carries_the_reason() -> None:
    run = report(
        result("c1", "failed", grader="llm_judge", unreliable="judge kappa 0.42 < 0.6", reason="judge said FAIL"),
        result("c2", "passed"),
    )

    text = to_markdown(run)
    data = orjson.loads(report_json(run))

    assert "- † unreliable verdicts (1 result): judge kappa 0.42 &lt; 0.6\n" in text
    assert "| `c1` † | 1 | We refund within 30 days. | We refund within 14 days. | judge said FAIL |\n" in text
    assert [r["unreliable"] for r in data["results"]] == ["judge kappa 0.42 < 0.6", None]


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

    data = orjson.loads(report_json(run))

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
        "epochs": 1,
        "git_commit": None,
        "status": "finished",
        "retries": 0,
        "origin": None,
        "baseline_id": None,
        "summary": data["summary"],
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
        "retries": 0,
        "timed_out": False,
        "unreliable": None,
        "tools_frozen": 0,
        "tools_live": 0,
        "unused_fixtures": [],
    }
    assert data["summary"]["ci95"] == pytest.approx([0.061492, 0.792340], abs=1e-6)
    assert data["summary"]["tags"][0]["too_small"] is True


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
