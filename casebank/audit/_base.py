"""What every audit takes and gives: an `AuditContext` in, an `AuditResult` out.

An audit reads the suite (cases as `casebank.replay.Case`) and, where it needs traffic, the
store through the `Store` interface only, so that it works on every backend.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casebank.replay import Case
    from casebank.store import Store

__all__ = ["AUDIT_NAMES", "CHEAP_AUDITS", "AuditContext", "AuditResult", "run_audit"]

# `cases audit` runs them in this order when none is named.
AUDIT_NAMES = ("leakage", "coverage", "freshness", "size", "graders", "duplicates")
# What `cases run` summarises and `cases promote` warns with: they read the suite (and one store
# query per judge configuration), never traffic, so they cost milliseconds. Given `cheap=True`
# in the options, an audit also leaves out any step that would wait (re-grading with a slow grader).
CHEAP_AUDITS = ("freshness", "size", "graders")


@dataclass(kw_only=True)
class AuditContext:
    """What an audit may look at, and the options of `cases audit` (each audit reads its own)."""

    suite_dir: Path
    cases: Sequence[Case]
    store: Store | None  # None: no store here; audits that need traffic say so and pass as skipped
    now: str  # ISO-8601 UTC; audits compute ages from it, so that tests pin it
    # e.g. prompts, days, stale_days; `cheap` (bool): nothing that waits; `focus` (list of case ids):
    # report only what concerns these cases (`cases promote` on its new case), judged against the whole suite
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def cheap(self) -> bool:
        return bool(self.options.get("cheap"))

    def in_focus(self, case_id: str) -> bool:
        focus = self.options.get("focus")
        return not focus or case_id in focus


@dataclass(kw_only=True)
class AuditResult:
    """One audit's verdict: `ok` False fails `--strict`; `skipped` says why it could not run."""

    name: str
    ok: bool
    summary: str  # one line, as `cases audit` prints it
    findings: list[dict[str, Any]] = field(default_factory=list)  # what `--json` lists
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "summary": self.summary,
            "findings": self.findings,
            "skipped": self.skipped,
        }


def run_audit(name: str, context: AuditContext) -> AuditResult:
    """Run the audit `name` (one of AUDIT_NAMES); skipped, not an error, when this casebank lacks it."""
    if name not in AUDIT_NAMES:
        raise ValueError(f"unknown audit '{name}' - choose from {', '.join(AUDIT_NAMES)}")
    if importlib.util.find_spec(f"casebank.audit._{name}") is None:
        # Audits were built in parallel; a casebank assembled without one still runs the others.
        return AuditResult(
            name=name,
            ok=True,
            summary="skipped: not available in this casebank",
            skipped="not available in this casebank",
        )
    module = importlib.import_module(f"casebank.audit._{name}")
    result: AuditResult = module.audit(context)
    return result
