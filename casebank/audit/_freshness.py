"""The freshness audit: is the suite still being fed from production, or has it gone stale?

A suite that stopped growing stops looking like today's traffic, and one that is only ever
re-run while the product is tuned against it ends up measuring the tuning. The audit counts
cases by month of creation (`created_at` in the case file), the share created in the last 30
and 90 days, and the days since the newest case; it fails when no case was added in
`stale_days` (default 60). Ages are computed from `context.now`, so that tests pin them.
"""

from __future__ import annotations

import datetime as dt

from casebank._words import count
from casebank.audit._base import AuditContext, AuditResult

__all__ = ["DEFAULT_STALE_DAYS", "audit", "parse_time"]

DEFAULT_STALE_DAYS = 60


def parse_time(text: str) -> dt.datetime | None:
    """An ISO-8601 time as an aware UTC datetime; None when it does not parse."""
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def audit(context: AuditContext) -> AuditResult:
    stale_days = int(context.options.get("stale_days") or DEFAULT_STALE_DAYS)
    now = parse_time(context.now) or dt.datetime.now(dt.timezone.utc)
    created = [(case.id, parse_time(case.created_at)) for case in context.cases]
    dated = [when for _, when in created if when is not None]
    undated = [case_id for case_id, when in created if when is None]
    if not dated:
        return AuditResult(
            name="freshness",
            ok=False,
            summary="no case has a creation time - promote cases with 'cases promote ID'",
            findings=[{"kind": "undated", "case_id": case_id} for case_id in undated],
        )
    ages = [(now - when).total_seconds() / 86400 for when in dated]
    since_last = max(0, int(min(ages)))
    shares = {f"last_{days}_days": sum(age <= days for age in ages) / len(ages) for days in (30, 90)}
    months: dict[str, int] = {}
    for when in sorted(dated):
        month = when.astimezone(dt.timezone.utc).strftime("%Y-%m")
        months[month] = months.get(month, 0) + 1
    findings: list[dict[str, object]] = [
        {"kind": "age", "days_since_last_case": since_last, **shares, "stale_days": stale_days}
    ]
    findings += [{"kind": "month", "month": month, "cases": n} for month, n in months.items()]
    findings += [{"kind": "undated", "case_id": case_id} for case_id in undated]
    ok = since_last <= stale_days
    summary = (
        f"{count(len(dated), 'case')}: {shares['last_30_days']:.0%} created in the last 30 days, "
        f"{shares['last_90_days']:.0%} in the last 90; the newest is {count(since_last, 'day')} old"
    )
    if not ok:
        summary += f" - no case added in {stale_days} days: flag and promote recent failures"
    return AuditResult(name="freshness", ok=ok, summary=summary, findings=findings)


def lines(result: AuditResult) -> list[str]:
    """New cases per month, as a small bar chart, and undated cases."""
    months = [f for f in result.findings if f["kind"] == "month"]
    widest = max((int(f["cases"]) for f in months), default=1)
    out = [f"{f['month']}  {int(f['cases']):>4}  {'#' * max(1, round(30 * int(f['cases']) / widest))}" for f in months]
    out += [f"{f['case_id']}: created_at does not parse" for f in result.findings if f["kind"] == "undated"]
    return out
