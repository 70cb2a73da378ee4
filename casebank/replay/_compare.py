"""Did this change break anything? A run compared case by case with a baseline run, and the CI gate.

Each case is reduced to pass (every epoch passed), fail (none did) or flaky (some did). Going
from pass to anything else is a regression; from anything else to pass, a fix. A case that was
flaky in the baseline and does not pass now is named flaky, not a regression: the baseline
already showed it failing some of the time. Cases only in one run are new or removed, never
regressions (they have no before).

Whether the change is more than noise is the exact McNemar test: the two runs share their
cases, so the evidence is in the discordant pairs alone (regressions vs fixes), and under "no
change" each discordant pair is a fair coin - a two-sided binomial test at 1/2, exact because
suites are small. `--fail-on significant` fails only when regressions outnumber fixes and that
p-value is below 0.05.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from casebank._words import count
from casebank.errors import InvalidInput
from casebank.replay._records import load_run, report_from_dict
from casebank.replay._results import SIGNIFICANCE, Comparison, RunReport
from casebank.replay._stats import Rate

if TYPE_CHECKING:
    from casebank.store import Store

__all__ = [
    "FAIL_ON",
    "SIGNIFICANCE",
    "Comparison",
    "compare",
    "comparison_dict",
    "comparison_lines",
    "comparison_markdown",
    "exit_code",
    "load_baseline",
]

FAIL_ON = ("any", "regression", "significant")


def compare(baseline: RunReport, current: RunReport) -> Comparison:
    before = {case.case_id: case.outcome for case in baseline.cases()}
    result = Comparison(baseline=baseline, current=current)
    cases = current.cases()
    for case in cases:
        now = case.outcome
        was = before.get(case.case_id)
        if was is None:
            result.new_cases.append((case.case_id, now))
        elif was == "pass":
            if now == "pass":
                result.unchanged += 1
            else:
                result.regressions.append(case.case_id)
        elif now == "pass":
            result.fixes.append(case.case_id)
        elif was == "flaky":
            result.flaky.append(case.case_id)
        else:
            result.still_failing.append(case.case_id)
    seen = {case.case_id for case in cases}
    result.removed_cases = [case_id for case_id in before if case_id not in seen]
    return result


def load_baseline(store: Store | None, ref: str, *, role: str = "baseline") -> RunReport:
    """A baseline: `latest`, a stored run's id prefix, or a JSON file written by `cases run --json`.

    `role` names the run in errors as the command calls it: a baseline, a run, a merge file."""
    path = Path(ref)
    if ref.endswith(".json") or path.exists():
        try:
            data = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise InvalidInput(f"cannot read {role} file '{ref}': {exc.strerror} - pass a run id or a file") from None
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{role} file '{ref}' is not JSON ({exc}) - pass a 'cases run --json' file") from None
        return report_from_dict(data, ref)
    if store is None:
        raise InvalidInput(f"{role} '{ref}' is a run id but there is no store - pass a 'cases run --json' file")
    return load_run(store, ref)


def exit_code(current: RunReport, comparison: Comparison | None, fail_on: str) -> int:
    """The CI gate: 1 when `fail_on` says the run failed, else 0."""
    if fail_on == "any":
        return 0 if current.passed == current.total else 1
    if comparison is None:
        raise InvalidInput(f"--fail-on {fail_on} needs a baseline - pass --baseline RUN, or --fail-on any")
    if fail_on == "regression":
        return 1 if comparison.regressions else 0
    if fail_on == "significant":
        return 1 if comparison.significant else 0
    raise InvalidInput(f"--fail-on '{fail_on}' is not one of {', '.join(FAIL_ON)}")


def _names(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "none"


def _run_name(run: RunReport) -> str:
    commit = f", commit {run.git_commit[:12]}" if run.git_commit else ""
    return f"run {run.id} ({run.started_at[:19].replace('T', ' ')}{commit})"


def _test_line(comparison: Comparison) -> str:
    b, c = len(comparison.regressions), len(comparison.fixes)
    return (
        f"McNemar exact test on {count(b + c, 'discordant pair')} ({count(b, 'regression')}, "
        f"{count(c, 'fix', 'fixes')}): p = {comparison.p_value:.4g} - {_verdict(comparison)}"
    )


def _verdict(comparison: Comparison) -> str:
    """What the test says, in words that are true of this comparison: a run with only fixes did not drop."""
    b, c = len(comparison.regressions), len(comparison.fixes)
    if comparison.significant:
        return f"a significant drop at {SIGNIFICANCE}"
    if b == 0 and c == 0:
        return "no case changed"
    if b == 0:
        return "no case got worse"
    if b < c:
        return "a significant improvement" if comparison.p_value < SIGNIFICANCE else "more fixes than regressions"
    if b == c:
        return "as many fixes as regressions"
    return f"not a significant drop at {SIGNIFICANCE}"


def _rate(run: RunReport) -> str:
    return f"{run.passed}/{run.total} " + Rate.of(run.passed, run.total).text()


def comparison_lines(comparison: Comparison) -> list[str]:
    """The comparison as plain lines for the terminal."""
    new = ", ".join(f"{case_id} ({outcome})" for case_id, outcome in comparison.new_cases)
    return [
        f"baseline {_run_name(comparison.baseline)}: {_rate(comparison.baseline)}",
        f"this     {_run_name(comparison.current)}: {_rate(comparison.current)}",
        f"regressions (passed before, not now): {_names(comparison.regressions)}",
        f"fixes (failed before, pass now): {_names(comparison.fixes)}",
        f"still failing: {_names(comparison.still_failing)}",
        f"flaky in the baseline, not passing now (not counted as regressions): {_names(comparison.flaky)}",
        f"new cases: {new or 'none'}",
        f"removed cases: {_names(comparison.removed_cases)}",
        _test_line(comparison),
    ]


def comparison_markdown(comparison: Comparison) -> str:
    """A pull-request comment."""
    n = len(comparison.regressions)
    icon = "❌" if n else "✅"
    headline = f"{n} regression{'s' if n != 1 else ''}" if n else "no regressions"
    out = [
        f"### {icon} casebank: {headline} against baseline `{comparison.baseline.id}`",
        "",
        "| | run | pass rate (95% CI) |",
        "|---|---|---|",
        f"| baseline | `{comparison.baseline.id}` | {_rate(comparison.baseline)} |",
        f"| this change | `{comparison.current.id}` | {_rate(comparison.current)} |",
        "",
    ]
    sections = [
        ("Regressions (passed before, not now)", comparison.regressions),
        ("Fixes (failed before, pass now)", comparison.fixes),
        ("Still failing", comparison.still_failing),
        ("Flaky in the baseline, not passing now (not counted as regressions)", comparison.flaky),
        ("New cases", [f"{case_id} ({outcome})" for case_id, outcome in comparison.new_cases]),
        ("Removed cases", comparison.removed_cases),
    ]
    for title, ids in sections:
        if ids:
            out.append(f"**{title}:** " + ", ".join(f"`{case_id}`" for case_id in ids))
            out.append("")
    out.append(_test_line(comparison))
    return "\n".join(out) + "\n"


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    return {
        "baseline": comparison.baseline.id,
        "current": comparison.current.id,
        "regressions": comparison.regressions,
        "fixes": comparison.fixes,
        "still_failing": comparison.still_failing,
        "flaky": comparison.flaky,
        "new_cases": [{"case_id": case_id, "outcome": outcome} for case_id, outcome in comparison.new_cases],
        "removed_cases": comparison.removed_cases,
        "unchanged": comparison.unchanged,
        "mcnemar_p_value": comparison.p_value,
        "significant": comparison.significant,
    }
