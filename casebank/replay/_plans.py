"""Planning a run: every case's target imported, grader built, instance and fixtures ready.

All of it happens before the first case starts, so that a typo in an entry point, an unknown
grader or a class that cannot be made is one usage error (exit 2), not a suite of failures. A
method's plan gets its instance in `bind_instances`, on the run's event loop (a factory may be
async): one instance per class per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from casebank.errors import CasebankError, SuiteError, TargetImportError
from casebank.replay._case import Case
from casebank.replay._collect import CaseSession
from casebank.replay._fixtures import FixtureIndex, fixture_index
from casebank.replay._grading import Grading
from casebank.replay._instances import make_instances, method_owner
from casebank.replay._rebuild import Rebuilder, hints_of
from casebank.replay._redaction import Redact, redact_output
from casebank.replay._results import CaseResult
from casebank.replay._target import import_target, is_async_target
from casebank.replay.graders import make_grader

__all__ = ["Plan", "bind_instances", "plan_cases"]


@dataclass(kw_only=True)
class Plan:
    """What a run knows of a case before any case starts: what to call, how to grade it, its fixtures."""

    case: Case
    entrypoint: str
    fn: Callable[..., Any]  # for a method, unbound until `bind_instances`
    is_async: bool
    grading: Grading
    frozen: bool  # answer its tool calls from its fixtures
    fixtures: FixtureIndex | None = None  # the case's fixtures by call, when frozen
    rebuilder: Rebuilder
    owner: tuple[str, type] | None = None  # (`module:Class`, the class) when `fn` is a plain method
    # What the result keeps of the output, error, traceback and reason (`_redaction`): graded raw, kept redacted.
    redact: Redact

    def result(
        self,
        *,
        output: Any,
        passed: bool,
        reason: str,
        latency_ms: float,
        score: float | None = None,
        error: str | None = None,
        tb_text: str | None = None,
        epoch: int = 0,
        retries: int = 0,
        timed_out: bool = False,
        session: CaseSession | None = None,
    ) -> CaseResult:
        """This case's `CaseResult` for one attempt; `session` says what its tool calls did.

        `output`, `error`, `tb_text` and `reason` are what the code produced and the grade said of
        it; the result holds them redacted. Every result of a run is made here, so every place it
        goes (the store, each report, `on_result`) gets them so."""
        case = self.case
        fixtures = session.fixtures if session is not None else None
        text = self.redact
        return CaseResult(
            case_id=case.id,
            case_file=str(case.path) if case.path is not None else "",
            entrypoint=self.entrypoint,
            grader=self.grading.grader.name,
            expected=case.expected,
            output=redact_output(output, text),
            passed=passed,
            score=score,
            reason=text(reason),
            error=text(error) if error is not None else None,
            traceback=text(tb_text) if tb_text is not None else None,
            latency_ms=round(latency_ms, 3),
            tags=list(case.tags),
            epoch=epoch,
            retries=retries,
            timed_out=timed_out,
            tools_frozen=fixtures.answered if fixtures is not None else 0,
            tools_live=fixtures.live if fixtures is not None else 0,
            unused_fixtures=fixtures.unused() if fixtures is not None and not timed_out else [],
        )


def plan_cases(
    cases: Sequence[Case], target: str | None, frozen_tools: bool | None = None, *, redact: Redact
) -> list[Plan]:
    """Import every target and build every grader, so that no case starts unless all can.

    `redact`: what results keep of the code's output and errors (`_redaction.result_redactor`)."""
    functions: dict[str, Callable[..., Any]] = {}
    owners: dict[str, tuple[str, type] | None] = {}
    plans = []
    for case in cases:
        entrypoint = target or case.entrypoint
        if entrypoint not in functions:
            try:
                functions[entrypoint] = import_target(entrypoint)
            except TargetImportError as exc:
                if target is not None:
                    raise
                raise TargetImportError(f"case file '{case.path}': {exc}") from None
            owners[entrypoint] = method_owner(entrypoint)
        try:
            grader = make_grader(case.grader, base_dir=case.path.parent if case.path else None)
        except CasebankError as exc:
            raise SuiteError(f"case file '{case.path}': {exc}") from None
        fn = functions[entrypoint]
        frozen = case.frozen_tools if frozen_tools is None else frozen_tools
        plans.append(
            Plan(
                case=case,
                entrypoint=entrypoint,
                fn=fn,
                is_async=is_async_target(fn),
                grading=Grading.of(grader, case.expected),
                frozen=frozen,
                fixtures=fixture_index(case.fixtures) if frozen and case.fixtures else None,
                rebuilder=Rebuilder(hints_of(fn)),
                owner=owners[entrypoint],
                redact=redact,
            )
        )
    return plans


async def bind_instances(plans: list[Plan], factories: Mapping[str, str] | None) -> None:
    """Give each method's plan its instance: one per class, made on the run's loop (a factory may be async)."""
    owners = dict(plan.owner for plan in plans if plan.owner is not None)
    if not owners:
        return
    instances = await make_instances(owners, factories)
    for plan in plans:
        if plan.owner is not None:
            plan.fn = plan.fn.__get__(instances[plan.owner[0]], plan.owner[1])
