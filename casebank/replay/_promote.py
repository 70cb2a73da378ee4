"""Promotion: an annotated incident becomes a frozen case, if its grader would have caught it.

The sanity check runs the case's own grader twice: on a good output (the grader's reference for
the expected value: the expected output itself for most graders) it must pass, and on the bad
output that was flagged it must fail. A case that fails either check would not guard against the
incident it came from, so it is refused unless forced; a forced promotion records which check did
not hold, so a reviewer sees it in the diff.

Where the expected value is no example of a good output - a pattern, a forbidden text - there is
no good output to grade (`NoReference`): only the bad-output half is checked, the messages say
so, and the case file records `expected_passes: null`. The bad output must still fail. Where a
good output was possible but is missing (tests without a reference solution), the check does not
hold, and the refusal gives the command that adds one.

A span grader (`tool_called`, `llm_calls`, ...) grades the flagged trace's own recorded spans in
the bad-output half; in the good half there is no replay to read, so it has nothing to check.
The case keeps the trace's `@casebank.tool` calls as its `fixtures`, and `frozen_tools: true`
when `cases annotate --frozen-tools` asked for it (kept until then in the annotation's grader
spec under `FROZEN_TOOLS_KEY`, so that the store's schema need not change for it).

Before the check, every argument must be one `cases run` can rebuild (`_rebuild`): a value
recorded as its repr, a recorded type that no longer imports or a value that fails validation
would make the case an error on every run, so it is refused, `--force` or not. The recorded
types come from the entry span in the incident's snapshot of the trace and go into the case
file as `input_types`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import InvalidInput, PromotionRefused, UsageError
from casebank.replay._case import Case, write_case
from casebank.replay._fixtures import fixtures_from_spans
from casebank.replay._rebuild import RebuildError, check_rebuildable, recorded_arguments
from casebank.replay.graders import NoReference, Replay, Verdict, grade_safely, make_grader
from casebank.store import Incident, Store, check_can_promote, utc_now

__all__ = ["FROZEN_TOOLS_KEY", "SanityCheck", "grader_spec", "promote", "promote_checked", "sanity_check"]

FROZEN_TOOLS_KEY = "frozen_tools"  # in an annotation's grader spec: `cases annotate --frozen-tools`


def grader_spec(annotated: dict[str, Any] | None) -> dict[str, Any]:
    """The grader spec of an annotation, without the replay setting kept beside it."""
    spec = dict(annotated or {"name": "exact", "options": {}})
    spec.pop(FROZEN_TOOLS_KEY, None)
    return spec


@dataclass(kw_only=True, frozen=True)
class SanityCheck:
    """The two halves of the promote-time check; `on_expected` is None when there was no good output to grade."""

    on_expected: Verdict | None
    on_bad_output: Verdict
    no_reference: NoReference | None = None
    incident_id: str = "ID"

    @property
    def only_bad_output(self) -> bool:
        """Whether only the bad-output half could be checked (the expected value is no example output)."""
        return self.on_expected is None and self.no_reference is not None and not self.no_reference.fix

    @property
    def holds(self) -> bool:
        good_passes = self.on_expected.passed if self.on_expected is not None else self.only_bad_output
        return good_passes and not self.on_bad_output.passed

    def problem(self) -> str:
        problems = []
        if self.on_expected is not None and not self.on_expected.passed:
            problems.append(f"the grader fails the expected output ({self.on_expected.reason})")
        if self.no_reference is not None and self.no_reference.fix:
            fix = self.no_reference.fix.format(id=self.incident_id)
            problems.append(f"{self.no_reference.why} - add one: {fix}")
        if self.on_bad_output.passed:
            problem = f"the grader passes the flagged bad output ({self.on_bad_output.reason})"
            if self.only_bad_output:
                problem += f"; only that half could be checked: {self.why_only_bad_output()}"
            problems.append(problem)
        return "; ".join(problems)

    def refusal(self) -> str:
        """Why promote refuses, and the way out."""
        lead = f"refused to promote incident {self.incident_id}:"
        missing = self.no_reference is not None and bool(self.no_reference.fix)
        if missing and not self.on_bad_output.passed:  # it may well catch the incident; there is no proof yet
            return f"{lead} {self.problem()} (or pass --force to promote it unchecked)"
        return (
            f"{lead} this case would not have caught the incident - {self.problem()}; change the expected output "
            "or grader with 'cases annotate', or pass --force"
        )

    def why_only_bad_output(self) -> str:
        return self.no_reference.why if self.no_reference is not None else ""

    def passed_text(self) -> str:
        """What a check that holds proved, for `cases annotate` to print."""
        if self.only_bad_output:
            return (
                "the grader fails the flagged output; only that half was checked, as there is no good output to "
                f"grade: {self.why_only_bad_output()}"
            )
        return "the grader passes the expected output and fails the flagged one"


def sanity_check(incident: Incident, base_dir: Path | None = None) -> SanityCheck:
    """Grade a good output (the grader's reference for the expected value: the expected output itself
    for most graders, a known-good solution for test-code graders, none for a pattern) and the
    flagged bad output; `base_dir` is the suite folder that file options resolve against."""
    grader = make_grader(grader_spec(incident.grader), base_dir=base_dir)
    on_bad_output = grade_safely(grader, incident.output, incident.expected, Replay.recorded(incident.spans))
    try:
        grader.check_expected(incident.expected)
        reference = grader.reference(incident.expected)
    except InvalidInput as exc:  # an expected value this grader can never grade with
        return SanityCheck(
            on_expected=Verdict(passed=False, reason=str(exc)), on_bad_output=on_bad_output, incident_id=incident.id
        )
    except Exception as exc:  # a grader bug fails the check, as in grade_safely
        reason = f"grader '{grader.name}' crashed: {type(exc).__name__}: {exc}"
        return SanityCheck(
            on_expected=Verdict(passed=False, reason=reason), on_bad_output=on_bad_output, incident_id=incident.id
        )
    if isinstance(reference, NoReference):
        return SanityCheck(
            on_expected=None, on_bad_output=on_bad_output, no_reference=reference, incident_id=incident.id
        )
    return SanityCheck(
        on_expected=grade_safely(grader, reference, incident.expected, Replay(spans=None)),
        on_bad_output=on_bad_output,
        incident_id=incident.id,
    )


def promote(store: Store, incident: Incident, suite_dir: Path, *, force: bool = False) -> Path:
    """Write the incident's case into `suite_dir` and mark the incident promoted; returns the file."""
    return promote_checked(store, incident, suite_dir, force=force)[0]


def promote_checked(
    store: Store, incident: Incident, suite_dir: Path, *, force: bool = False
) -> tuple[Path, SanityCheck]:
    """`promote`, also returning the sanity check it ran (which `force` may have overridden)."""
    _check_promotable(incident)
    assert incident.entrypoint is not None  # _check_promotable
    arguments = recorded_arguments(incident.entrypoint, incident.input if isinstance(incident.input, dict) else {})
    input_types = recorded_input_types(incident)
    try:
        check_rebuildable(incident.entrypoint, arguments, input_types)
    except RebuildError as exc:
        raise PromotionRefused(f"refused to promote incident {incident.id}: {exc.with_fix}") from None
    check = sanity_check(incident, base_dir=suite_dir)
    if not check.holds and not force:
        raise PromotionRefused(check.refusal())
    case = Case(
        id=incident.id,
        created_at=utc_now(),
        entrypoint=incident.entrypoint,
        input=arguments,
        input_types=input_types,
        expected=incident.expected,
        grader=grader_spec(incident.grader),
        tags=incident.tags,
        fixtures=fixtures_from_spans(incident.spans),
        frozen_tools=bool((incident.grader or {}).get(FROZEN_TOOLS_KEY)),
        source={
            "trace_id": incident.trace_id,
            "incident_id": incident.id,
            "reasons": [r["reason"] for r in incident.reasons],
            "bad_output": incident.output,
            "error": incident.error,
            "sanity_check": {
                # None: there was no good output to grade (the expected value is a pattern, a forbidden text, ...).
                "expected_passes": check.on_expected.passed if check.on_expected is not None else None,
                "bad_output_fails": not check.on_bad_output.passed,
                "forced": not check.holds,
            },
        },
    )
    path = write_case(case, suite_dir)
    store.mark_promoted(incident.id, case_id=case.id, case_path=str(path))
    return path, check


# The entry span's attribute that capture writes (casebank.capture._attributes.INPUT_TYPES);
# named here, as replay does not import the capture SDK.
_INPUT_TYPES = "casebank.input_types"


def recorded_input_types(incident: Incident) -> dict[str, Any]:
    """The type each argument was recorded as (`casebank.input_types` of the trace's entry span), or {}."""
    for span in incident.spans:
        attributes = span.get("attributes") or {}
        if attributes.get("casebank.root") and attributes.get("casebank.entrypoint") == incident.entrypoint:
            text = attributes.get(_INPUT_TYPES)
            try:
                types = orjson.loads(text) if isinstance(text, str) else None
            except orjson.JSONDecodeError:
                return {}
            return types if isinstance(types, dict) else {}
    return {}


def _check_promotable(incident: Incident) -> None:
    """Refuse before a case file is written; the store checks the transition again when it is marked."""
    if incident.status == "promoted" and incident.case_path and Path(incident.case_path).exists():
        raise UsageError(f"incident {incident.id} is already promoted as '{incident.case_path}' - a case is frozen")
    check_can_promote(incident)
    if not incident.entrypoint:
        raise InvalidInput(
            f"incident {incident.id} has no entry point to replay - decorate the app's entry function with "
            "@casebank.trace so its inputs are recorded"
        )
