"""The run as a JSON document: every field of the run, its statistics, and every result whole.

This is the file `cases run --json` writes and `cases report --format json` prints, and the one
`report_from_dict` (`_records`) reads back: a run from another machine (a CI shard, a baseline)
is such a file. So it holds every result whole (expected, output, traceback), keys sorted and
indented so that two runs diff line by line; `summary` repeats the statistics that the table
prints, computed once here so that a dashboard need not redo them.
"""

from __future__ import annotations

from typing import Any

import orjson

from casebank.replay._report import summary
from casebank.replay._results import CaseResult, JSONValue, RunReport
from casebank.replay._stats import Summary

__all__ = ["report_dict", "report_json", "summary_dict"]


def summary_dict(stats: Summary) -> dict[str, Any]:
    """The statistics under the headline, as JSON-compatible values."""
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


def report_dict(report: RunReport) -> dict[str, JSONValue]:
    """The whole run as JSON-compatible values: the run's fields, a `summary` and a `results` list."""
    return {
        **report.row(),
        "summary": summary_dict(summary(report)),
        "results": [_result_dict(result) for result in report.results],
    }


def report_json(report: RunReport) -> str:
    """`report_dict` as JSON text: indented, keys sorted, a trailing newline (a file that diffs well)."""
    return orjson.dumps(report_dict(report), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


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
        "tools_frozen": result.tools_frozen,
        "tools_live": result.tools_live,
        "unused_fixtures": result.unused_fixtures,
    }
