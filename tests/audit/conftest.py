"""Suites and stores built to trip an audit, or to pass it: real case files, a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from casebank.audit import AuditContext, AuditResult, run_audit
from casebank.replay import Case, load_suite, write_case
from casebank.store import Store, open_store

NOW = "2026-12-07T12:00:00.000+00:00"

MakeCase = Callable[..., Case]


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    return tmp_path / "evals"


@pytest.fixture
def make_case(suite_dir: Path) -> MakeCase:
    made = [0]

    def make(
        *,
        case_id: str | None = None,
        expected: Any = "30 days",
        grader: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        created_at: str = "2026-12-01T12:00:00.000+00:00",
        bad_output: Any = "14 days",
        question: str | None = None,
    ) -> Case:
        made[0] += 1
        case = Case(
            id=case_id or f"case{made[0]:04d}",
            created_at=created_at,
            entrypoint="support_bot:answer",
            input={"question": question or f"question {made[0]}"},
            expected=expected,
            grader=grader or {"name": "exact", "options": {}},
            tags=tags or [],
            source={
                "trace_id": "0" * 32,
                "incident_id": f"inc{made[0]}",
                "reasons": ["wrong"],
                "bad_output": bad_output,
            },
        )
        write_case(case, suite_dir)
        return case

    return make


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "casebank.db", create=True) as opened:
        yield opened


Audit = Callable[..., AuditResult]


@pytest.fixture
def audit(suite_dir: Path) -> Audit:
    """Run one audit over the suite folder as it is on disk, at NOW."""

    def run(name: str, store: Store | None = None, **options: Any) -> AuditResult:
        cases = load_suite(suite_dir).cases
        context = AuditContext(suite_dir=suite_dir, cases=cases, store=store, now=NOW, options=options)
        return run_audit(name, context)

    return run
