"""`casebank.replay`'s public names: exactly these, each loaded on first use from the module that defines it,
and seen by a type checker with that module's types (not the `Any` of a module `__getattr__`)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import casebank.replay as replay


def test_the_public_api_of_replay_is_exactly_this() -> None:
    assert replay.__all__ == [
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


def test_each_name_is_loaded_from_the_module_that_the_type_checker_is_shown() -> None:
    tree = ast.parse(Path(replay.__file__).read_text(encoding="utf-8"))
    typed = {
        alias.name: node.module
        for block in tree.body
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }

    assert typed == {name: f"casebank.replay.{module}" for name, module in replay._HOME.items()}
    assert sorted(replay._HOME) == sorted(replay.__all__)
    for name in replay.__all__:
        assert getattr(replay, name) is getattr(importlib.import_module(typed[name]), name)


def test_importing_replay_loads_no_runner_report_or_rich() -> None:
    loaded = "sorted(m for m in sys.modules if m.startswith(('casebank.replay.', 'rich')))"
    code = f"import sys, casebank.replay; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
