"""The size audit: per tag, how many cases, and the smallest regression they could show.

A tag of 8 cases that all pass cannot tell a real drop from noise; a gate on it gives false
comfort. The figure is the one `cases run` prints (`casebank.replay._stats.detectable_drop`:
two runs compared, two-sided alpha 0.05, power 0.8), from each tag's pass rate in the store's
latest run when it graded these cases, else at 100% (the usual state of a regression suite,
and the rate at which a suite sees the smallest drop, so the figure is never pessimistic).

Tags under `SMALL_TAG` (20) cases are listed; the audit fails only when the whole suite is
under 20 cases, so that `--strict` in CI is not red for every young tag while it still says
which ones cannot be trusted alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from casebank._words import count
from casebank.audit._base import AuditContext, AuditResult
from casebank.replay._stats import SMALL_TAG, detectable_drop, points

if TYPE_CHECKING:
    from casebank.store import Store

__all__ = ["audit", "latest_pass_rates"]

ALL = "(all cases)"


def latest_pass_rates(store: Store | None, case_ids: Sequence[str]) -> tuple[dict[str, bool], str | None]:
    """Whether each case passed (every epoch) in the store's latest run, and that run's id; ({}, None) without one."""
    if store is None:
        return {}, None
    try:
        run = store.resolve_run("latest")
    except Exception:  # no run yet (NotFound), or a store that cannot say: the audit assumes 100%
        return {}, None
    wanted = set(case_ids)
    passed: dict[str, bool] = {}
    for row in store.run_results(str(run["id"])):
        case_id = str(row["case_id"])
        if case_id in wanted:
            passed[case_id] = passed.get(case_id, True) and bool(row["passed"])
    return passed, str(run["id"]) if passed else None


def _row(tag: str, members: list[str], passed: dict[str, bool]) -> dict[str, Any]:
    graded = [case_id for case_id in members if case_id in passed]
    rate = sum(passed[case_id] for case_id in graded) / len(graded) if graded else 1.0
    drop = detectable_drop(len(members), rate)
    return {
        "tag": tag,
        "cases": len(members),
        "pass_rate": rate,
        "detectable_drop": drop,
        "too_small": len(members) < SMALL_TAG,
    }


def drop_text(drop: float | None) -> str:
    return "no drop is detectable" if drop is None else f"the smallest detectable drop is {points(drop)}"


def audit(context: AuditContext) -> AuditResult:
    cases = list(context.cases)
    passed, run_id = latest_pass_rates(context.store, [case.id for case in cases])
    by_tag: dict[str, list[str]] = {}
    for case in cases:
        for tag in dict.fromkeys(case.tags):
            by_tag.setdefault(tag, []).append(case.id)
    focus_tags = {tag for case in cases if context.in_focus(case.id) for tag in case.tags}
    rows = [_row(ALL, [case.id for case in cases], passed)]
    rows += [_row(tag, by_tag[tag], passed) for tag in sorted(by_tag) if tag in focus_tags]
    for row in rows:
        row["rates_from"] = f"run {run_id}" if run_id else "assumed 100%"
    small = [row for row in rows[1:] if row["too_small"]]
    ok = len(cases) >= SMALL_TAG
    summary = f"{count(len(cases), 'case')}: {drop_text(rows[0]['detectable_drop'])}"
    if small:
        names = ", ".join(f"{row['tag']} ({row['cases']})" for row in small)
        summary += f"; {count(len(small), 'tag')} under {SMALL_TAG} cases: {names}"
    if not ok:
        summary += f" - under {SMALL_TAG} cases a gate cannot tell a regression from noise: promote more"
    return AuditResult(name="size", ok=ok, summary=summary, findings=rows)


def lines(result: AuditResult) -> list[str]:
    """A table: tag, cases, the smallest drop it sees, and whether it is too small alone."""
    rows = [("tag", "cases", "smallest detectable drop", "")]
    for row in result.findings:
        drop = row["detectable_drop"]
        shown = "none (even to 0%)" if drop is None else points(drop)
        rows.append((row["tag"], str(row["cases"]), shown, f"under {SMALL_TAG}" if row["too_small"] else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows]
    if result.findings:
        out.append(f"(pass rates: {result.findings[0]['rates_from']})")
    return out
