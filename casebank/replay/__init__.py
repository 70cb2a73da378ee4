"""Replay: the suite of frozen cases, the runner that replays it, and the reports of a run.

Nothing here is imported by `import casebank` (the capture SDK a product loads): a product
never pays for the runner, the graders or rich. `cases run` and tests import this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Loaded on first use (PEP 562): `cases status` should not pay for the runner and rich.
_HOME = {
    "CASE_SCHEMA_VERSION": "_case",
    "Case": "_case",
    "content_hash": "_case",
    "load_case": "_case",
    "write_case": "_case",
    "Comparison": "_compare",
    "compare": "_compare",
    "exit_code": "_compare",
    "load_baseline": "_compare",
    "SanityCheck": "_promote",
    "promote": "_promote",
    "sanity_check": "_promote",
    "git_commit": "_records",
    "load_run": "_records",
    "merge_reports": "_records",
    "record": "_records",
    "report_from_dict": "_records",
    "summary": "_report",
    "summary_line": "_report",
    "render_run_html": "_report_html",
    "run_history": "_report_html",
    "report_dict": "_report_json",
    "report_json": "_report_json",
    "to_junit": "_report_junit",
    "to_markdown": "_report_markdown",
    "render_table": "_report_table",
    "CaseResult": "_results",
    "RunReport": "_results",
    "DEFAULT_CONCURRENCY": "_runner",
    "jsonable": "_runner",
    "run_suite": "_api",
    "select": "_select",
    "Summary": "_stats",
    "detectable_drop": "_stats",
    "mcnemar_exact": "_stats",
    "summarize": "_stats",
    "wilson_interval": "_stats",
    "DEFAULT_SUITE": "_suite",
    "Suite": "_suite",
    "count_cases": "_suite",
    "load_suite": "_suite",
    "REPLAY_ENV": "_target",
    "import_target": "_target",
}

if TYPE_CHECKING:  # what a type checker sees: each name as its module defines it, not __getattr__'s Any
    from casebank.replay._api import run_suite
    from casebank.replay._case import CASE_SCHEMA_VERSION, Case, content_hash, load_case, write_case
    from casebank.replay._compare import Comparison, compare, exit_code, load_baseline
    from casebank.replay._promote import SanityCheck, promote, sanity_check
    from casebank.replay._records import git_commit, load_run, merge_reports, record, report_from_dict
    from casebank.replay._report import summary, summary_line
    from casebank.replay._report_html import render_run_html, run_history
    from casebank.replay._report_json import report_dict, report_json
    from casebank.replay._report_junit import to_junit
    from casebank.replay._report_markdown import to_markdown
    from casebank.replay._report_table import render_table
    from casebank.replay._results import CaseResult, RunReport
    from casebank.replay._runner import DEFAULT_CONCURRENCY, jsonable
    from casebank.replay._select import select
    from casebank.replay._stats import Summary, detectable_drop, mcnemar_exact, summarize, wilson_interval
    from casebank.replay._suite import DEFAULT_SUITE, Suite, count_cases, load_suite
    from casebank.replay._target import REPLAY_ENV, import_target


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'casebank.replay' has no attribute {name!r}")
    return getattr(importlib.import_module(f"casebank.replay.{module}"), name)


__all__ = [
    "CASE_SCHEMA_VERSION",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_SUITE",
    "REPLAY_ENV",
    "Case",
    "CaseResult",
    "Comparison",
    "RunReport",
    "SanityCheck",
    "Suite",
    "Summary",
    "compare",
    "content_hash",
    "count_cases",
    "detectable_drop",
    "exit_code",
    "git_commit",
    "import_target",
    "jsonable",
    "load_baseline",
    "load_case",
    "load_run",
    "load_suite",
    "mcnemar_exact",
    "merge_reports",
    "promote",
    "record",
    "render_run_html",
    "render_table",
    "report_dict",
    "report_from_dict",
    "report_json",
    "run_history",
    "run_suite",
    "sanity_check",
    "select",
    "summarize",
    "summary",
    "summary_line",
    "to_junit",
    "to_markdown",
    "wilson_interval",
    "write_case",
]
