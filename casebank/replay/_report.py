"""How a run is shown: a terminal table of what failed, a JSON document, a JUnit XML file.

Renderers only read a `RunReport`; they never run or store anything, so a stored run can be
re-rendered later in any format. The terminal table shows only the cases that did not pass,
with expected and actual trimmed to a line each (the JSON and JUnit files carry them whole);
user values are handed to rich as `Text`, never as markup, so an output holding `[bold]` is
printed as it is. The JUnit file keeps to the common subset that the GitHub Actions, GitLab
and Jenkins readers accept, and characters XML 1.0 cannot carry are escaped, not dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import orjson

from casebank.replay._runner import CaseResult, RunReport
from casebank.replay.graders import as_text

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["report_dict", "render_table", "summary_line", "to_json", "to_junit"]

_CELL = 60  # characters of expected/actual shown in the terminal
_REASON = 120  # characters of the grader's reason
_BODY = 10_000  # characters of expected/actual kept in a JUnit failure body


def summary_line(report: RunReport) -> str:
    """`3/4 passed (75.0%)`, then what did not pass."""
    line = f"{report.passed}/{report.total} passed ({report.pass_rate:.1%})"
    parts = [f"{report.failed} failed"] if report.failed else []
    if report.errored:
        parts.append(f"{report.errored} raised an exception")
    return f"{line} - {', '.join(parts)}" if parts else line


def render_table(report: RunReport, console: Console) -> None:
    """Print the cases that did not pass (expected vs actual), then the pass-rate line."""
    from rich.table import Table
    from rich.text import Text

    failures = report.not_passed()
    if failures:
        noun = "case" if report.total == 1 else "cases"
        table = Table(title=f"{len(failures)} of {report.total} {noun} did not pass", title_justify="left")
        names = [_file_name(result) for result in failures] + [result.case_id for result in failures]
        # Wide enough to keep a case's file name on one line: people copy it into `git log`.
        table.add_column("case", overflow="fold", width=min(max(map(len, names)), 40))
        for heading in ("expected", "actual", "why"):
            table.add_column(heading, overflow="fold", ratio=1)
        for result in failures:
            table.add_row(
                Text(f"{result.case_id}\n{_file_name(result)}"),
                Text(_trim(_text(result.expected), _CELL)),
                Text(_trim(_actual(result), _CELL), style="red"),
                Text("the entry point raised" if result.error is not None else _trim(result.reason, _REASON)),
            )
        console.print(table)
    console.print(Text(summary_line(report), style="bold green" if report.ok else "bold red"), soft_wrap=True)


def report_dict(report: RunReport) -> dict[str, Any]:
    """The whole run as JSON-compatible values: the run's fields and a `results` list."""
    return {**report.row(), "results": [_result_dict(result) for result in report.results]}


def to_json(report: RunReport) -> str:
    return orjson.dumps(report_dict(report), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


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
    for result in report.results:
        file_name = _file_name(result)
        testcase = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _xml(result.entrypoint.partition(":")[0]),
                "name": _xml(f"{result.case_id} ({file_name})" if file_name else result.case_id),
                "time": f"{result.latency_ms / 1000:.3f}",
            },
        )
        if result.status == "errored":
            error = ET.SubElement(
                testcase, "error", {"message": _xml(result.error or ""), "type": _xml(_error_type(result))}
            )
            error.text = _xml(result.traceback or result.error or "")
        elif result.status == "failed":
            failure = ET.SubElement(testcase, "failure", {"message": _xml(result.reason), "type": _xml(result.grader)})
            failure.text = _xml(
                f"expected: {_trim(_text(result.expected), _BODY)}\n"
                f"actual: {_trim(_text(result.output), _BODY)}\n"
                f"reason: {result.reason}\n"
                f"case file: {result.case_file}\n"
            )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _result_dict(result: CaseResult) -> dict[str, Any]:
    return {
        "case_id": result.case_id,
        "epoch": result.epoch,
        "case_file": result.case_file,
        "entrypoint": result.entrypoint,
        "status": result.status,
        "passed": result.passed,
        "score": result.score,
        "reason": result.reason,
        "grader": result.grader,
        "expected": result.expected,
        "output": result.output,
        "error": result.error,
        "traceback": result.traceback,
        "latency_ms": result.latency_ms,
        "tags": result.tags,
    }


def _file_name(result: CaseResult) -> str:
    return result.case_file.replace("\\", "/").rpartition("/")[2]


def _text(value: Any) -> str:
    try:
        return as_text(value)
    except TypeError:  # not JSON-compatible (a result built by hand)
        return repr(value)


def _actual(result: CaseResult) -> str:
    return f"raised {result.error}" if result.error is not None else _text(result.output)


def _trim(text: str, limit: int) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n") if limit < _BODY else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_type(result: CaseResult) -> str:
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
