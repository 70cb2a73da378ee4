"""The run as a JUnit XML file, for the test tab of a CI service.

The file keeps to the common subset that the GitHub Actions, GitLab and Jenkins readers accept
(tests/replay/junit.xsd holds that subset), and characters XML 1.0 cannot carry are escaped,
not dropped. A case graded wrong is a <failure>, one whose target raised an <error>. With epochs,
a case is still one <testcase> (readers count cases), and its failure lists each epoch.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from casebank._words import count
from casebank.replay._report import BODY, file_name, tools_text, trim, value_as_text
from casebank.replay._results import CaseResult, RunReport

__all__ = ["to_junit"]


def to_junit(report: RunReport) -> str:
    """One <testcase> per case; <failure> when graded wrong, <error> when the target raised."""
    counts = {
        "tests": str(report.total),
        "failures": str(report.failed),
        "errors": str(report.errored),
        "skipped": "0",
        "time": f"{_seconds(report):.3f}",
    }
    root = ET.Element("testsuites", {"name": "casebank", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": f"casebank:{report.suite}", **counts, "timestamp": _timestamp(report.started_at), "id": report.id},
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_id", report.id), ("suite_hash", report.suite_hash), ("target", report.target or "")):
        ET.SubElement(properties, "property", {"name": name, "value": _xml(value)})
    by_case: dict[str, list[CaseResult]] = {}
    for result in report.results:
        by_case.setdefault(result.case_id, []).append(result)
    for epochs in by_case.values():
        _testcase(suite, epochs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, epochs: list[CaseResult]) -> None:
    """One <testcase> for a case: <failure> if any epoch was graded wrong or timed out, else <error>."""
    first = epochs[0]
    shown_file = file_name(first)
    testcase = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": _xml(first.entrypoint.partition(":")[0]),
            "name": _xml(f"{first.case_id} ({shown_file})" if shown_file else first.case_id),
            "time": f"{sum(r.latency_ms for r in epochs) / 1000:.3f}",
        },
    )
    tools = "\n".join(
        f"epoch {r.epoch + 1}: {tools_text(r)}" if len(epochs) > 1 else tools_text(r) for r in epochs if tools_text(r)
    )
    bad = [r for r in epochs if not r.passed]
    if not bad:
        _system_out(testcase, tools)
        return
    if len(epochs) == 1:
        result = bad[0]
        if result.status == "errored":
            error = ET.SubElement(
                testcase, "error", {"message": _xml(result.error or ""), "type": _xml(_error_type(result))}
            )
            error.text = _xml(result.traceback or result.error or "")
        else:
            failure = ET.SubElement(
                testcase, "failure", {"message": _xml(result.reason), "type": _xml(_failure_type(result))}
            )
            failure.text = _xml(_failure_body(result))
        _system_out(testcase, tools)
        return
    kind = "failure" if any(r.status == "failed" for r in bad) else "error"
    flaky = " (flaky)" if len(bad) < len(epochs) else ""
    body = []
    for result in epochs:
        if result.passed:
            body.append(f"epoch {result.epoch + 1}: passed\n")
        elif result.status == "errored":
            body.append(f"epoch {result.epoch + 1}: raised {result.error}\n{result.traceback or ''}")
        else:
            body.append(f"epoch {result.epoch + 1}: failed\n{_failure_body(result)}")
    element = ET.SubElement(
        testcase,
        kind,
        {
            "message": _xml(f"did not pass {len(bad)} of {count(len(epochs), 'epoch')}{flaky}: {bad[0].reason}"),
            "type": _xml(_failure_type(bad[0]) if kind == "failure" else _error_type(bad[0])),
        },
    )
    element.text = _xml("\n".join(body))
    _system_out(testcase, tools)


def _system_out(testcase: ET.Element, tools: str) -> None:
    """The case's tool calls (from fixtures, live, recorded but never made), when it made any."""
    if tools:
        ET.SubElement(testcase, "system-out").text = _xml(tools)


def _failure_type(result: CaseResult) -> str:
    return "timeout" if result.timed_out else result.grader


def _failure_body(result: CaseResult) -> str:
    return (
        f"expected: {trim(value_as_text(result.expected), BODY)}\n"
        f"actual: {trim(value_as_text(result.output), BODY)}\n"
        f"reason: {result.reason}\n"
        f"case file: {result.case_file}\n"
    )


def _error_type(result: CaseResult) -> str:
    if result.error is not None and not result.target_raised:
        return "RebuildError"  # the target was not called: an argument could not be rebuilt
    return (result.error or "").partition(":")[0] or "Exception"


def _seconds(report: RunReport) -> float:
    try:
        started = dt.datetime.fromisoformat(report.started_at)
        finished = dt.datetime.fromisoformat(report.finished_at)
    except ValueError:
        return 0.0
    return max((finished - started).total_seconds(), 0.0)


def _timestamp(iso: str) -> str:
    """JUnit readers want `YYYY-MM-DDTHH:MM:SS` (the Ant schema allows no zone): UTC, as recorded."""
    try:
        return dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return iso


# XML 1.0 cannot carry most control characters or lone surrogates, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )
