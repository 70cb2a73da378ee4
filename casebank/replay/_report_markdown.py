"""The run as a markdown pull-request comment: the headline, the statistics, the tags, what did not pass.

GitHub and GitLab render it; the cases that did not pass sit in a `<details>` block so that a
long list does not bury the headline. Every user value goes through `_md`, so that a pipe, a
newline or HTML in an output cannot break the table or the page.
"""

from __future__ import annotations

from casebank.replay._report import (
    CELL,
    REASON,
    actual_text,
    stats_lines,
    summary,
    summary_line,
    tools_text,
    trim,
    unreliable_mark,
    value_as_text,
)
from casebank.replay._results import RunReport

__all__ = ["to_markdown"]


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
            why = "the entry point raised" if result.target_raised else trim(result.reason, REASON)
            if tools_text(result):
                why += f" ({trim(tools_text(result), REASON)})"
            expected, actual = trim(value_as_text(result.expected), CELL), trim(actual_text(result), CELL)
            out.append(
                f"| `{_md(result.case_id)}`{unreliable_mark(result)} | {result.epoch + 1} "
                f"| {_md(expected)} | {_md(actual)} | {_md(why)} |"
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
