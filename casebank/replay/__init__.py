"""Replay: the suite of frozen cases, the runner that replays it, and the reports of a run.

Nothing here is imported by `import casebank` (the capture SDK a product loads): a product
never pays for the runner, the graders or rich. `cases run` and tests import this package.
"""

from casebank.replay._case import CASE_SCHEMA_VERSION, Case, content_hash, load_case, write_case
from casebank.replay._promote import SanityCheck, promote, sanity_check
from casebank.replay._report import render_table, report_dict, summary_line, to_json, to_junit
from casebank.replay._runner import DEFAULT_CONCURRENCY, CaseResult, RunReport, jsonable, record, run_suite
from casebank.replay._suite import DEFAULT_SUITE, Suite, count_cases, load_suite
from casebank.replay._target import REPLAY_ENV, import_target

__all__ = [
    "CASE_SCHEMA_VERSION",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_SUITE",
    "REPLAY_ENV",
    "Case",
    "CaseResult",
    "RunReport",
    "SanityCheck",
    "Suite",
    "content_hash",
    "count_cases",
    "import_target",
    "jsonable",
    "load_case",
    "load_suite",
    "promote",
    "record",
    "render_table",
    "report_dict",
    "run_suite",
    "sanity_check",
    "summary_line",
    "to_json",
    "to_junit",
    "write_case",
]
