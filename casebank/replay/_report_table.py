"""The terminal table: what did not pass, expected against actual, then the pass rate and its statistics.

Only the cases that did not pass are listed, with expected and actual trimmed to a line each
(the JSON and JUnit files carry them whole); the case column is wide enough to keep a case
file's name on one line, because people copy it into `git log`. User values are handed to rich
as `Text`, never as markup, so an output holding `[bold]` is printed as it is.

`render_table` prints to a rich console, so that on a terminal the table takes its width and the
headline its colour; `table_text` is the same table as plain text, for a file or a plug-in.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from casebank.replay._report import (
    CELL,
    REASON,
    actual_text,
    file_name,
    stats_lines,
    summary,
    summary_line,
    tools_text,
    trim,
    unreliable_mark,
    value_as_text,
)
from casebank.replay._results import RunReport
from casebank.replay._stats import TagStats

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["TEXT_WIDTH", "render_table", "table_text"]

TEXT_WIDTH = 120  # columns of the table written as text: no terminal to measure


def render_table(report: RunReport, console: Console) -> None:
    """Print the cases that did not pass (expected vs actual), then the pass-rate line."""
    from rich.table import Table
    from rich.text import Text

    failures = report.not_passed()
    if failures:
        noun = "case" if report.total == 1 else "cases"
        table = Table(title=f"{len(failures)} of {report.total} {noun} did not pass", title_justify="left")
        names = [file_name(result) for result in failures] + [result.case_id for result in failures]
        # Wide enough to keep a case's file name on one line: people copy it into `git log`.
        table.add_column("case", overflow="fold", width=min(max(map(len, names)), 40))
        for heading in ("expected", "actual", "why"):
            table.add_column(heading, overflow="fold", ratio=1)
        for result in failures:
            table.add_row(
                Text(f"{result.case_id}{unreliable_mark(result)}\n{file_name(result)}"),
                Text(trim(value_as_text(result.expected), CELL)),
                Text(trim(actual_text(result), CELL), style="red"),
                Text(
                    "\n".join(
                        line
                        for line in (
                            "the entry point raised" if result.target_raised else trim(result.reason, REASON),
                            trim(tools_text(result), REASON),
                        )
                        if line
                    )
                ),
            )
        console.print(table)
    console.print(Text(summary_line(report), style="bold green" if report.ok else "bold red"), soft_wrap=True)
    stats = summary(report)
    for line in stats_lines(report, stats):
        console.print(Text(line), soft_wrap=True)
    if stats.tags:
        console.print(_tag_table(stats.tags))


def table_text(report: RunReport) -> str:
    """The table as plain text, `TEXT_WIDTH` columns wide, without colour."""
    from rich.console import Console

    out = io.StringIO()
    render_table(
        report, Console(file=out, width=TEXT_WIDTH, color_system=None, markup=False, highlight=False, emoji=False)
    )
    return out.getvalue()


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
