"""The runs pages' data: stored runs with their 95% intervals, the charts over runs, one run's page.

The charts and a run's page body are the HTML report's (`casebank.replay._report_html`): one
renderer for the CI artifact and the review pages, so the two never disagree. Its SVG is built
by escaping code (every text escaped, every number through `float`), so the templates may mark
it safe; nothing else is.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from casebank.replay._stats import wilson_interval
from casebank.store import Store

__all__ = ["run_page", "runs_page"]


def runs_page(store: Store) -> dict[str, Any]:
    """The newest runs, each with its pass rate's 95% interval, and the charts over them.

    A run's rate is the chart's: over cases (a case passes when it passed every epoch), as the
    report's statistics count it, not over the results of all epochs that the run row adds up."""
    from casebank.replay._report_html import HISTORY_LIMIT, pass_rate_chart_svg, run_history

    history = run_history(store, limit=HISTORY_LIMIT)
    overall: list[dict[str, Any]] = next((one["points"] for one in history if one["tag"] is None), [])
    points = {point["run_id"]: point for point in overall}
    runs = []
    for row in store.list_runs(HISTORY_LIMIT):
        point = points.get(row["id"])
        if point is not None:
            passed, total, low, high = point["passed"], point["n"], point["low"], point["high"]
        else:
            total, passed = int(row.get("total") or 0), int(row.get("passed") or 0)
            low, high = wilson_interval(passed, total) if total else (0.0, 0.0)
        runs.append({**row, "total": total, "passed": passed, "low": low, "high": high})
    charts = [
        {"title": one["title"], "svg": Markup(pass_rate_chart_svg(one["points"], title=one["title"]))}
        for one in history
        if one["points"]
    ]
    return {"runs": runs, "charts": charts}


def run_page(store: Store, ref: str) -> dict[str, Any]:
    """One run's page body (statistics, charts, failures with diffs, against the run before it)."""
    from casebank.replay._report_html import render_stored_run

    run = store.resolve_run(ref)
    return {"run": run, "body": Markup(render_stored_run(store, run["id"], standalone=False))}
