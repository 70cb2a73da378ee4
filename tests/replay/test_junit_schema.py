"""`cases run --junit` output validates against the JUnit schema CI reporters read (junit.xsd here).

The schema is ours, written from what Jenkins, GitLab and the GitHub Actions reporters accept;
`xmlschema` checks documents against it. The reports come from real runs: a `cases run`
subprocess with epochs, failures, errors, a flaky case and a timeout, its re-rendering by
`cases report`, and an in-process run with one epoch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from casebank.replay import run_suite, to_junit
from tests.cli.conftest import PROJECT_ROOT
from tests.replay.conftest import Project

SCHEMA_PATH = Path(__file__).with_name("junit.xsd")

BOT = """
import asyncio
import itertools

_calls = itertools.count()

def answer(question):
    if question == "crash":
        raise RuntimeError("model unavailable")
    if question == "flaky":
        return "yes" if next(_calls) % 2 == 0 else "no"
    return "We refund within 14 days." if question == "refund" else "Happy to help."

async def slow(question):
    await asyncio.sleep(30)
    return "late"
"""


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def add_cases(project: Project) -> None:
    project.write_module(BOT)
    for case_id, function, question, expected in [
        ("aaaa00000001", "answer", "refund", "We refund within 14 days."),  # passes
        ("aaaa00000002", "answer", "refund", "We refund within 30 days."),  # fails every epoch
        ("aaaa00000003", "answer", "crash", "Happy to help."),  # raises every epoch
        ("aaaa00000004", "answer", "flaky", "yes"),  # passes epochs 1 and 3, fails 2
        ("aaaa00000005", "slow", "refund", "late"),  # times out
    ]:
        project.add_case(case_id, function, {"question": question}, expected)


def cases(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        {
            "CASEBANK_DB": str(project.root / "casebank.db"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            "NO_COLOR": "1",
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "casebank", *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cases_run_junit_with_epochs_failures_errors_and_a_timeout_is_valid(
    project: Project, schema: xmlschema.XMLSchema
) -> None:
    add_cases(project)
    ran = cases(project, "run", "--epochs", "3", "--concurrency", "1", "--timeout", "1", "--junit", "out/junit.xml")
    assert ran.returncode == 1, (ran.stdout, ran.stderr)
    junit = project.root / "out" / "junit.xml"
    schema.validate(str(junit))

    root = ET.parse(junit).getroot()
    [suite] = root.findall("testsuite")
    testcases = suite.findall("testcase")
    assert len(testcases) == 5  # one testcase per case, its epochs inside
    outcome = {tc.get("name", "").split()[0]: [child.tag for child in tc] for tc in testcases}
    assert outcome == {
        "aaaa00000001": [],
        "aaaa00000002": ["failure"],
        "aaaa00000003": ["error"],
        "aaaa00000004": ["failure"],
        "aaaa00000005": ["failure"],
    }
    # The counts a reader shows must agree with the testcases it lists.
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("errors")) == ("5", "3", "1")
    flaky = next(tc for tc in testcases if tc.get("name", "").startswith("aaaa00000004"))
    assert "(flaky)" in (flaky.find("failure").get("message") or "")  # type: ignore[union-attr]

    rerendered = cases(project, "report", "latest", "--format", "junit")
    assert rerendered.returncode == 0, rerendered.stderr
    schema.validate(rerendered.stdout)


def test_a_one_epoch_run_in_process_is_valid(project: Project, schema: xmlschema.XMLSchema) -> None:
    project.write_module(BOT)
    project.add_case("bbbb00000001", "answer", {"question": "refund"}, "We refund within 14 days.")
    project.add_case("bbbb00000002", "answer", {"question": "hello"}, "Bonjour <&> \x01")
    project.add_case("bbbb00000003", "answer", {"question": "crash"}, "x")
    xml = to_junit(run_suite(project.load()))
    schema.validate(xml)
    assert [len(tc) for tc in ET.fromstring(xml).iter("testcase")] == [0, 1, 1]


def test_the_schema_accepts_a_minimal_document(schema: xmlschema.XMLSchema) -> None:
    schema.validate('<testsuites><testsuite name="casebank:evals" tests="0"/></testsuites>')


@pytest.mark.parametrize(
    "document",
    [
        pytest.param('<testsuites><testsuite name="s" tests="1"><testcase/></testsuite></testsuites>', id="no-name"),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1" timestamp="2024-05-01T12:00:00+00:00"/></testsuites>',
            id="zoned-timestamp",
        ),
        pytest.param('<testsuites><testsuite name="s" tests="-1"/></testsuites>', id="negative-count"),
        pytest.param('<testsuites><testsuite tests="1"/></testsuites>', id="suite-without-name"),
        pytest.param(
            '<testsuites><testsuite name="s" tests="1"><testcase name="t"><system-out/><failure/></testcase>'
            "</testsuite></testsuites>",
            id="failure-after-output",
        ),
        pytest.param('<testsuites><testsuite name="s" tests="1" time="1,5"/></testsuites>', id="comma-time"),
    ],
)
def test_the_schema_refuses_what_a_ci_reader_would_misread(schema: xmlschema.XMLSchema, document: str) -> None:
    assert not schema.is_valid(document)
