"""The graders audit: graders that judge the wrong thing, or no longer judge at all.

Four traps, each a finding naming the case and the fix:
- `exact` on a long free-text expected output: any rewording fails it, so the case measures
  phrasing, not behaviour (suggest `embedding` or `llm_judge`);
- a `regex` that matches the empty string, which passes an empty or unrelated answer;
- an `llm_judge` configuration with no calibration in the store, or a kappa below 0.6
  (`RELIABLE_KAPPA`), whose verdicts nobody has shown to agree with people;
- a case whose grader no longer fails the bad output the case was flagged for (the case file
  keeps it under `source.bad_output`), re-graded now as `cases promote` graded it: a grader
  changed since, or a case forced in, guards against nothing.

Graders inside `all`/`any` are inspected too. The re-check leaves out graders that would call a
model (`llm_judge`, `embedding`: the calibration check speaks for the judge) and span graders
(the case file keeps the trace's tool fixtures, not its spans); with `cheap` it re-grades only
graders that grade instantly, so `cases run`'s summary line costs milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from casebank._words import count
from casebank.audit._base import AuditContext, AuditResult
from casebank.errors import CasebankError
from casebank.replay import Case
from casebank.replay._calibrate import RELIABLE_KAPPA, config_hash
from casebank.replay.graders import grade_safely, make_grader

__all__ = ["LONG_TEXT_WORDS", "audit"]

LONG_TEXT_WORDS = 12  # an expected text this long is prose, not a label or a value to compare exactly
MODEL_GRADERS = ("llm_judge", "embedding")
_REPROMOTE = "promote a case whose grader fails it ('cases annotate' the incident again), then delete this file"


def _specs(spec: Any) -> Iterator[dict[str, Any]]:
    """`spec` and, for a composite, every grader inside it (bare names as specs)."""
    if isinstance(spec, str):
        spec = {"name": spec, "options": {}}
    if not isinstance(spec, Mapping):
        return
    yield dict(spec)
    for child in (spec.get("options") or {}).get("graders") or []:
        yield from _specs(child)


def _finding(case: Case, kind: str, problem: str, fix: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "case_id": case.id, "problem": problem, "fix": fix, **extra}


def _long_exact(case: Case, spec: dict[str, Any]) -> dict[str, Any] | None:
    expected = case.expected
    if spec.get("name") != "exact" or not isinstance(expected, str) or len(expected.split()) < LONG_TEXT_WORDS:
        return None
    return _finding(
        case,
        "exact_on_free_text",
        f"grader 'exact' compares a {count(len(expected.split()), 'word')} free-text answer letter by letter",
        "grade its meaning: 'cases annotate ID --grader embedding' or '--grader llm_judge'",
    )


def _empty_regex(case: Case, spec: dict[str, Any]) -> dict[str, Any] | None:
    if spec.get("name") != "regex":
        return None
    options = spec.get("options") or {}
    pattern = options.get("pattern") if options.get("pattern") is not None else case.expected
    if not isinstance(pattern, str):
        return None
    try:
        regex = re.compile(pattern, re.IGNORECASE if options.get("ignore_case") else 0)
    except re.error:
        return None  # the run reports a pattern that does not compile
    found = regex.fullmatch("") if options.get("match") == "full" else regex.search("")
    if found is None:
        return None
    return _finding(
        case,
        "regex_matches_empty",
        f"regex /{pattern}/ matches an empty output, so it passes an answer that says nothing",
        "make the pattern require some text, e.g. '\\d+ days' rather than '(\\d+ days)?'",
    )


def _judge_checks(context: AuditContext, judged: dict[str, list[str]]) -> list[dict[str, Any]]:
    """One finding per llm_judge configuration that is uncalibrated or unreliable, naming its cases."""
    findings = []
    for key, case_ids in judged.items():
        latest = context.store.latest_calibration(key) if context.store is not None else None
        kappa = None if latest is None else latest.get("kappa")
        if latest is not None and kappa is not None and float(kappa) >= RELIABLE_KAPPA:
            continue
        if latest is None:
            problem = "grader 'llm_judge' has no calibration against people's labels"
        else:
            shown = "undefined" if kappa is None else f"{float(kappa):.2f}"
            problem = f"grader 'llm_judge' agrees with people's labels at kappa {shown}, below {RELIABLE_KAPPA}"
        findings.append(
            {
                "kind": "judge_uncalibrated" if latest is None else "judge_unreliable",
                "case_ids": case_ids,
                "config_hash": key,
                "kappa": kappa,
                "problem": problem,
                "fix": "label outputs with 'cases label TRACE --good|--bad', then "
                "'cases judge calibrate --grader-file SPEC.json'",
            }
        )
    return findings


def _recheck(context: AuditContext, case: Case) -> dict[str, Any] | None:
    """A finding when the case's grader passes its own flagged bad output today."""
    if "bad_output" not in case.source or (case.source.get("bad_output") is None and case.source.get("error")):
        return None  # no bad output kept, or the incident was an exception: nothing to re-grade
    if any(spec.get("name") in MODEL_GRADERS for spec in _specs(case.grader)):
        return None
    try:
        grader = make_grader(case.grader, base_dir=context.suite_dir)
    except CasebankError as exc:
        return _finding(case, "grader_broken", f"the grader cannot be built: {exc}", _REPROMOTE)
    if grader.reads_replay() or (context.cheap and not grader.grades_instantly()):
        return None
    verdict = grade_safely(grader, case.source["bad_output"], case.expected)
    if not verdict.passed:
        return None
    return _finding(
        case,
        "passes_bad_output",
        f"grader '{grader.name}' passes the bad output this case was flagged for ({verdict.reason})",
        _REPROMOTE,
    )


def audit(context: AuditContext) -> AuditResult:
    findings: list[dict[str, Any]] = []
    judged: dict[str, list[str]] = {}
    cases = [case for case in context.cases if context.in_focus(case.id)]
    for case in cases:
        for spec in _specs(case.grader):
            for check in (_long_exact, _empty_regex):
                found = check(case, spec)
                if found is not None:
                    findings.append(found)
            if spec.get("name") == "llm_judge":
                try:
                    key = config_hash(spec, base_dir=context.suite_dir)
                except CasebankError as exc:  # the re-check leaves judges out, so say it here
                    findings.append(_finding(case, "grader_broken", f"the grader cannot be built: {exc}", _REPROMOTE))
                    continue
                judged.setdefault(key, []).append(case.id)
        found = _recheck(context, case)
        if found is not None:
            findings.append(found)
    findings += _judge_checks(context, judged)
    if context.store is None and judged:
        findings.append({"kind": "no_store", "problem": "no store to read judge calibrations from", "fix": "pass --db"})
    flagged = {case_id for f in findings for case_id in ([f["case_id"]] if "case_id" in f else f.get("case_ids", []))}
    summary = (
        f"{count(len(findings), 'problem')} in {count(len(flagged), 'case')} of {len(cases)}"
        if findings
        else f"the graders of {count(len(cases), 'case')} look sound"
    )
    return AuditResult(name="graders", ok=not findings, summary=summary, findings=findings)
