"""Promotion: an annotated incident becomes a frozen case, if its grader would have caught it.

The sanity check runs the case's own grader twice: on the annotated expected output (it must
pass) and on the bad output that was flagged (it must fail). A case that fails either check
would not guard against the incident it came from, so it is refused unless forced; a forced
promotion records which check did not hold, so a reviewer sees it in the diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from casebank.errors import InvalidInput, PromotionRefused, UsageError
from casebank.replay._case import Case, write_case
from casebank.replay.graders import Verdict, grade_safely, make_grader
from casebank.store import Incident, Store, utc_now

__all__ = ["SanityCheck", "promote", "promote_checked", "sanity_check"]


@dataclass(kw_only=True, frozen=True)
class SanityCheck:
    on_expected: Verdict
    on_bad_output: Verdict

    @property
    def holds(self) -> bool:
        return self.on_expected.passed and not self.on_bad_output.passed

    def problem(self) -> str:
        problems = []
        if not self.on_expected.passed:
            problems.append(f"the grader fails the expected output ({self.on_expected.reason})")
        if self.on_bad_output.passed:
            problems.append(f"the grader passes the flagged bad output ({self.on_bad_output.reason})")
        return "; ".join(problems)


def sanity_check(incident: Incident, base_dir: Path | None = None) -> SanityCheck:
    """Grade what a good output looks like (the grader's reference for the expected value: the
    expected output itself for most graders, a known-good solution for test-code graders) and
    the flagged bad output; `base_dir` is the suite folder that file options resolve against."""
    grader = make_grader(incident.grader or {"name": "exact"}, base_dir=base_dir)
    return SanityCheck(
        on_expected=grade_safely(grader, grader.reference(incident.expected), incident.expected),
        on_bad_output=grade_safely(grader, incident.output, incident.expected),
    )


def promote(store: Store, incident: Incident, suite_dir: Path, *, force: bool = False) -> Path:
    """Write the incident's case into `suite_dir` and mark the incident promoted; returns the file."""
    return promote_checked(store, incident, suite_dir, force=force)[0]


def promote_checked(
    store: Store, incident: Incident, suite_dir: Path, *, force: bool = False
) -> tuple[Path, SanityCheck]:
    """`promote`, also returning the sanity check it ran (which `force` may have overridden)."""
    _check_promotable(incident)
    check = sanity_check(incident, base_dir=suite_dir)
    if not check.holds and not force:
        raise PromotionRefused(
            f"refused to promote incident {incident.id}: this case would not have caught the incident - "
            f"{check.problem()}; change the expected output or grader with 'cases annotate', or pass --force"
        )
    assert incident.entrypoint is not None  # _check_promotable
    case = Case(
        id=incident.id,
        created_at=utc_now(),
        entrypoint=incident.entrypoint,
        input=incident.input if isinstance(incident.input, dict) else {},
        expected=incident.expected,
        grader=incident.grader or {"name": "exact", "options": {}},
        tags=incident.tags,
        source={
            "trace_id": incident.trace_id,
            "incident_id": incident.id,
            "reasons": [r["reason"] for r in incident.reasons],
            "bad_output": incident.output,
            "error": incident.error,
            "sanity_check": {
                "expected_passes": check.on_expected.passed,
                "bad_output_fails": not check.on_bad_output.passed,
                "forced": not check.holds,
            },
        },
    )
    path = write_case(case, suite_dir)
    store.mark_promoted(incident.id, case_id=case.id, case_path=str(path))
    return path, check


def _check_promotable(incident: Incident) -> None:
    if incident.status == "promoted" and incident.case_path and Path(incident.case_path).exists():
        raise UsageError(f"incident {incident.id} is already promoted as '{incident.case_path}' - a case is frozen")
    if incident.status == "dismissed":
        raise UsageError(f"incident {incident.id} was dismissed - annotate it again to reopen it before promoting")
    if not incident.has_expected:
        raise UsageError(f"incident {incident.id} has no expected output - run 'cases annotate {incident.id}' first")
    if not incident.entrypoint:
        raise InvalidInput(
            f"incident {incident.id} has no entry point to replay - decorate the app's entry function with "
            "@casebank.trace so its inputs are recorded"
        )
