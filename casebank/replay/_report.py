"""What every report of a run says: the headline, the statistics under it, and how values are shown.

A report format (`_report_formats`) only reads a `RunReport`; it never runs or stores anything,
so a stored run can be re-rendered later in any format. The terminal table (`_report_table`),
the markdown comment (`_report_markdown`) and the JUnit file (`_report_junit`) take their words
from here, so that they say the same thing in the same way.

Under the pass rate come its 95% Wilson interval, the per-tag rates and the power of the suite
(`_stats`): a careful reader's first question is how much a 3/4 can be trusted. A result whose
verdict came from a judge nobody has calibrated (`CaseResult.unreliable`) carries a † in the
tables and a footnote says why; its verdict still counts.

Expected and actual values are shown as text (`value_as_text`): a text as it is, anything else
as JSON. In a table cell they are trimmed to one line (`CELL` characters, the grader's reason
`REASON`); a file that carries a failure's body keeps up to `BODY` characters, line breaks and all.
"""

from __future__ import annotations

from typing import Any

from casebank._words import count
from casebank.replay._results import CaseResult, RunReport
from casebank.replay._stats import Summary, points, summarize
from casebank.replay.graders import as_text

__all__ = [
    "BODY",
    "CELL",
    "REASON",
    "UNRELIABLE_MARK",
    "actual_text",
    "file_name",
    "stats_lines",
    "summary",
    "summary_line",
    "tool_lines",
    "tools_text",
    "trim",
    "unreliable_lines",
    "unreliable_mark",
    "value_as_text",
]

CELL = 60  # characters of expected/actual shown in a table cell
REASON = 120  # characters of the grader's reason
BODY = 10_000  # characters of expected/actual kept in a failure's body (JUnit)
UNRELIABLE_MARK = "†"


def summary_line(report: RunReport) -> str:
    """`3/4 passed (75.0%)`, then what did not pass."""
    line = f"{report.passed}/{report.total} passed ({report.pass_rate:.1%})"
    parts = [f"{report.failed} failed"] if report.failed else []
    if report.errored:
        # A case whose arguments could not be rebuilt errored too, but its target was never called.
        not_called = min(
            len({r.case_id for r in report.results if r.error is not None and not r.target_raised}), report.errored
        )
        if report.errored > not_called:
            parts.append(f"{report.errored - not_called} raised an exception")
        if not_called:
            parts.append(f"{not_called} could not be called (arguments not rebuilt)")
    return f"{line} - {', '.join(parts)}" if parts else line


def summary(report: RunReport) -> Summary:
    """The run's statistics (`_stats`): pass rate with its interval, epochs, flaky cases, tags, power."""
    return summarize(report.cases(), epochs=report.epochs)


def stats_lines(report: RunReport, stats: Summary) -> list[str]:
    """The interval, epochs, flaky cases, retries and power, one plain line each."""
    lines = []
    if report.status == "interrupted":
        lines.append(f"interrupted: a partial run - {count(report.total, 'case')} finished before Ctrl-C")
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
    lines += tool_lines(report)
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


def tools_text(result: CaseResult) -> str:
    """`tools: 2 from fixtures, 1 live; 1 recorded call never made: lookup({...})`, or "" without tool calls."""
    if not (result.tools_frozen or result.tools_live or result.unused_fixtures):
        return ""
    text = f"tools: {result.tools_frozen} from fixtures, {result.tools_live} live"
    if result.unused_fixtures:
        n = len(result.unused_fixtures)
        text += f"; {n} recorded {'call' if n == 1 else 'calls'} never made: {', '.join(result.unused_fixtures)}"
    return text


def tool_lines(report: RunReport) -> list[str]:
    """The run's @casebank.tool calls (from fixtures, live), and each case whose recorded calls went unused."""
    frozen = sum(r.tools_frozen for r in report.results)
    live = sum(r.tools_live for r in report.results)
    if not (frozen or live or any(r.unused_fixtures for r in report.results)):
        return []
    lines = [f"tool calls: {frozen} from fixtures, {live} live"]
    for result in report.results:
        if result.unused_fixtures:
            epoch = f" (epoch {result.epoch + 1})" if report.epochs > 1 else ""
            lines.append(f"case {result.case_id}{epoch}: {tools_text(result)}")
    return lines


def unreliable_mark(result: CaseResult) -> str:
    """` †` after a case whose verdict came from an uncalibrated judge, else nothing."""
    return f" {UNRELIABLE_MARK}" if result.unreliable else ""


def _regression(drop: float | None) -> str:
    return "any regression, even to 0%" if drop is None else f"a regression of less than {points(drop)}"


def _power_line(stats: Summary) -> str:
    return (
        f"power (80%, alpha 0.05): {_cases(stats.overall.total)} at {stats.overall.rate:.1%} cannot see "
        f"{_regression(stats.drop)}"
    )


def _cases(n: int) -> str:
    return count(n, "case")


def file_name(result: CaseResult) -> str:
    """The case file's name without its folder: what people copy into `git log`."""
    return result.case_file.replace("\\", "/").rpartition("/")[2]


def value_as_text(value: Any) -> str:
    """An expected or actual value as people read it: a text as it is, anything else as JSON (or its repr)."""
    try:
        return as_text(value)
    except TypeError:  # not JSON-compatible (a result built by hand)
        return repr(value)


def actual_text(result: CaseResult) -> str:
    """What the target gave: its output as text, the exception it raised, or why it was not called."""
    if result.error is None:
        return value_as_text(result.output)
    return f"raised {result.error}" if result.target_raised else "(not called)"


def trim(text: str, limit: int) -> str:
    """At most `limit` characters; under `BODY`, on one line (newlines shown as `\\n`), for a table cell."""
    text = text.replace("\r", "\\r").replace("\n", "\\n") if limit < BODY else text
    return text if len(text) <= limit else text[: limit - 3] + "..."
