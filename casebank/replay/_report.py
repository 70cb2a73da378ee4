"""How a run is shown: a terminal table of what failed, a JSON document, a JUnit XML file.

Renderers only read a `RunReport`; they never run or store anything, so a stored run can be
re-rendered later in any format. The terminal table shows only the cases that did not pass,
with expected and actual trimmed to a line each (the JSON and JUnit files carry them whole);
user values are handed to rich as `Text`, never as markup, so an output holding `[bold]` is
printed as it is. The JUnit file keeps to the common subset that the GitHub Actions, GitLab
and Jenkins readers accept, and characters XML 1.0 cannot carry are escaped, not dropped. With
epochs, a case is still one <testcase> (readers count cases), and its failure lists each epoch.

Under the pass rate come its 95% Wilson interval, the per-tag rates and the power of the suite
(`_stats`): a careful reader's first question is how much a 3/4 can be trusted. A result whose
verdict came from a judge nobody has calibrated (`CaseResult.unreliable`) carries a † in the
tables and a footnote says why; its verdict still counts.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import orjson

from casebank.replay._results import CaseResult, RunReport
from casebank.replay._stats import Summary, TagStats, summarize
from casebank.replay.graders import as_text

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "FORMATS",
    "render_table",
    "report_dict",
    "stats_lines",
    "summary",
    "summary_line",
    "to_json",
    "to_junit",
    "to_markdown",
    "unreliable_lines",
]

FORMATS = ("table", "json", "junit", "markdown")

_CELL = 60  # characters of expected/actual shown in the terminal
_REASON = 120  # characters of the grader's reason
_BODY = 10_000  # characters of expected/actual kept in a JUnit failure body
UNRELIABLE_MARK = "†"


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
                Text(f"{result.case_id}{_mark(result)}\n{_file_name(result)}"),
                Text(_trim(_text(result.expected), _CELL)),
                Text(_trim(_actual(result), _CELL), style="red"),
                Text("the entry point raised" if result.error is not None else _trim(result.reason, _REASON)),
            )
        console.print(table)
    console.print(Text(summary_line(report), style="bold green" if report.ok else "bold red"), soft_wrap=True)
    stats = summary(report)
    for line in stats_lines(report, stats):
        console.print(Text(line), soft_wrap=True)
    if stats.tags:
        console.print(_tag_table(stats.tags))


def summary(report: RunReport) -> Summary:
    return summarize(report.cases(), epochs=report.epochs)


def stats_lines(report: RunReport, stats: Summary) -> list[str]:
    """The interval, epochs, flaky cases, retries and power, one plain line each."""
    lines = []
    if report.status == "interrupted":
        lines.append(f"interrupted: a partial run - {report.total} cases finished before Ctrl-C")
    lines.append(f"pass rate {stats.overall.text()} over {_cases(stats.overall.total)}")
    if stats.epochs > 1:
        lines.append(
            f"{stats.epochs} epochs: mean pass rate {stats.mean_pass_rate:.1%}, "
            f"passed every epoch (pass^{stats.epochs}) {stats.pass_every_epoch:.1%}"
        )
        flaky = ", ".join(f"{case.case_id} ({case.passes}/{len(case.epochs)})" for case in stats.flaky)
        lines.append(f"flaky (passed some epochs, failed others): {flaky or 'none'}")
    if stats.retries:
        lines.append(f"retries after transient errors: {stats.retries}")
    timed_out = sum(1 for result in report.results if result.timed_out)
    if timed_out:
        lines.append(f"timed out: {timed_out}")
    lines.append(_power_line(stats))
    lines += unreliable_lines(report)
    for tag in stats.tags:
        if tag.too_small:
            lines.append(f"tag {tag.tag} ({_cases(tag.rate.total)}) is too small to see {_regression(tag.drop)}")
    return lines


def unreliable_lines(report: RunReport) -> list[str]:
    """One footnote per reason that some verdicts should not be trusted (an uncalibrated judge)."""
    counts: dict[str, int] = {}
    for result in report.results:
        if result.unreliable:
            counts[result.unreliable] = counts.get(result.unreliable, 0) + 1
    return [
        f"{UNRELIABLE_MARK} unreliable verdicts ({n} {'result' if n == 1 else 'results'}): {reason}"
        for reason, n in counts.items()
    ]


def _mark(result: CaseResult) -> str:
    return f" {UNRELIABLE_MARK}" if result.unreliable else ""


def _regression(drop: float | None) -> str:
    return "any regression, even to 0%" if drop is None else f"a regression of less than {drop * 100:.0f} points"


def _power_line(stats: Summary) -> str:
    return (
        f"power (80%, alpha 0.05): {_cases(stats.overall.total)} at {stats.overall.rate:.1%} cannot see "
        f"{_regression(stats.drop)}"
    )


def _cases(n: int) -> str:
    return f"{n} case" if n == 1 else f"{n} cases"


def _tag_table(tags: list[TagStats]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="by tag", title_justify="left")
    for heading in ("tag", "cases", "passed", "pass rate", "95% CI", "smallest drop it can see"):
        table.add_column(heading, overflow="fold", justify="left" if heading == "tag" else "right")
    for tag in tags:
        table.add_row(
            Text(tag.tag),
            str(tag.rate.total),
            str(tag.rate.passed),
            f"{tag.rate.rate:.1%}",
            f"{tag.rate.low * 100:.1f}-{tag.rate.high * 100:.1f}%",
            tag.drop_text(),
        )
    return table


def summary_dict(stats: Summary) -> dict[str, Any]:
    return {
        "pass_rate": stats.overall.rate,
        "ci95": [stats.overall.low, stats.overall.high],
        "detectable_drop": stats.drop,
        "epochs": stats.epochs,
        "mean_pass_rate": stats.mean_pass_rate,
        "pass_every_epoch": stats.pass_every_epoch,
        "flaky": [{"case_id": c.case_id, "passed_epochs": c.passes, "epochs": len(c.epochs)} for c in stats.flaky],
        "retries": stats.retries,
        "tags": [
            {
                "tag": t.tag,
                "cases": t.rate.total,
                "passed": t.rate.passed,
                "pass_rate": t.rate.rate,
                "ci95": [t.rate.low, t.rate.high],
                "detectable_drop": t.drop,
                "too_small": t.too_small,
            }
            for t in stats.tags
        ],
    }


def report_dict(report: RunReport) -> dict[str, Any]:
    """The whole run as JSON-compatible values: the run's fields, a `summary` and a `results` list."""
    return {
        **report.row(),
        "summary": summary_dict(summary(report)),
        "results": [_result_dict(result) for result in report.results],
    }


def to_markdown(report: RunReport) -> str:
    """A pull-request comment: the headline, the tags, then what did not pass."""
    stats = summary(report)
    icon = "✅" if report.ok else "❌"
    out = [f"### {icon} casebank: {summary_line(report)}", ""]
    out += [f"- {_md(line)}" for line in stats_lines(report, stats)]
    out.append(f"- run `{report.id}`" + (f" at commit `{report.git_commit[:12]}`" if report.git_commit else ""))
    if stats.tags:
        out += ["", "| tag | cases | passed | pass rate | 95% CI | smallest drop it can see |"]
        out.append("|---|---:|---:|---:|---:|---:|")
        for tag in stats.tags:
            out.append(
                f"| {_md(tag.tag)} | {tag.rate.total} | {tag.rate.passed} | {tag.rate.rate:.1%} "
                f"| {tag.rate.low * 100:.1f}-{tag.rate.high * 100:.1f}% | {tag.drop_text()} |"
            )
    failures = report.not_passed()
    if failures:
        out += ["", "<details><summary>Cases that did not pass</summary>", ""]
        out += ["| case | epoch | expected | actual | why |", "|---|---:|---|---|---|"]
        for result in failures:
            why = "the entry point raised" if result.error is not None else _trim(result.reason, _REASON)
            out.append(
                f"| `{_md(result.case_id)}`{_mark(result)} | {result.epoch + 1} "
                f"| {_md(_trim(_text(result.expected), _CELL))} | {_md(_trim(_actual(result), _CELL))} | {_md(why)} |"
            )
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    """Safe inside a markdown table cell: no pipes, no newlines, no HTML."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
        .replace("`", "'")
    )


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
    file_name = _file_name(first)
    testcase = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": _xml(first.entrypoint.partition(":")[0]),
            "name": _xml(f"{first.case_id} ({file_name})" if file_name else first.case_id),
            "time": f"{sum(r.latency_ms for r in epochs) / 1000:.3f}",
        },
    )
    bad = [r for r in epochs if not r.passed]
    if not bad:
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
            "message": _xml(f"did not pass {len(bad)} of {len(epochs)} epochs{flaky}: {bad[0].reason}"),
            "type": _xml(_failure_type(bad[0]) if kind == "failure" else _error_type(bad[0])),
        },
    )
    element.text = _xml("\n".join(body))


def _failure_type(result: CaseResult) -> str:
    return "timeout" if result.timed_out else result.grader


def _failure_body(result: CaseResult) -> str:
    return (
        f"expected: {_trim(_text(result.expected), _BODY)}\n"
        f"actual: {_trim(_text(result.output), _BODY)}\n"
        f"reason: {result.reason}\n"
        f"case file: {result.case_file}\n"
    )


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
        "retries": result.retries,
        "timed_out": result.timed_out,
        "unreliable": result.unreliable,
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
