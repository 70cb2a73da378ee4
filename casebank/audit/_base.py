"""What every audit takes and gives: an `AuditContext` in, an `AuditResult` out.

An audit reads the suite (cases as `casebank.replay.Case`) and, where it needs traffic, the
store through the `Store` interface only, so that it works on every backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casebank.replay import Case
    from casebank.store import Store

__all__ = ["AUDIT_NAMES", "AuditContext", "AuditResult", "run_audit"]

# `cases audit` runs them in this order when none is named.
AUDIT_NAMES = ("leakage", "coverage", "freshness", "size", "graders", "duplicates")


@dataclass(kw_only=True)
class AuditContext:
    """What an audit may look at, and the options of `cases audit` (each audit reads its own)."""

    suite_dir: Path
    cases: Sequence[Case]
    store: Store | None  # None: no store here; audits that need traffic say so and pass as skipped
    now: str  # ISO-8601 UTC; audits compute ages from it, so that tests pin it
    options: dict[str, Any] = field(default_factory=dict)  # e.g. prompts, days, stale_days


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
    """Run the audit `name` (one of AUDIT_NAMES)."""
    if name not in AUDIT_NAMES:
        raise ValueError(f"unknown audit '{name}' - choose from {', '.join(AUDIT_NAMES)}")
    module = importlib.import_module(f"casebank.audit._{name}")
    result: AuditResult = module.audit(context)
    return result
