"""The run as one HTML page: the statistics, the pass rate over runs as charts, and every failure with a diff.

`cases report RUN --format html` and `cases run --html PATH` write it as one self-contained file
for a CI artifact (`standalone=True`): inline CSS and SVG, no script, no font, no image, no link
to anything outside the file, and a Content-Security-Policy meta that forbids loading anything at
all, so the file opened from a pull request's artifacts works offline and cannot run what a case
holds. The review pages of `cases serve` embed the same page body (`standalone=False`) in their
own layout, and serve the same CSS (`report_css`) from their static folder.

Case inputs and outputs are untrusted (users and models wrote them), so every value reaches the
page through Jinja2 with autoescape on, and the SVG charts are built here with every text escaped
and every number passed through `float`. Words come from `_report`, as for the other formats: the
statistics line is the table's, the 95% intervals are `_stats`'s Wilson intervals, never
recomputed here.

The charts draw the pass rate of each stored run with its 95% interval, overall and per tag.
`run_history` reads them from the store: one series overall, one per tag, oldest run first,
each point `{"run_id", "started_at", "pass_rate", "low", "high", "n", "passed"}`. Runs are
spaced evenly along the x axis (runs come in bursts, a time axis would pile them up). A run that
is not in the history given (a JSON file, a run without a store) is added at its end, so the
chart always shows at least this run.

Expected against actual is shown whole (up to `BODY` characters) with a word-level diff
(`difflib.SequenceMatcher` over words, spaces and punctuation): outputs are mostly sentences,
where a line diff would mark the whole line for a changed number.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Any

import orjson

from casebank.replay._report import (
    BODY,
    actual_text,
    file_name,
    stats_lines,
    summary,
    summary_line,
    tools_text,
    trim,
    value_as_text,
)
from casebank.replay._results import CaseResult, RunReport
from casebank.replay._stats import points as in_points

if TYPE_CHECKING:
    from jinja2 import Environment

    from casebank.store import Store

__all__ = [
    "HISTORY_LIMIT",
    "diff_segments",
    "pass_rate_chart_svg",
    "previous_run",
    "render_run_html",
    "render_stored_run",
    "report_css",
    "run_history",
    "run_series",
    "to_html",
]

HISTORY_LIMIT = 50  # runs drawn in a chart: enough to see a trend, few enough to read each point

_DIFF_BUDGET = 1_000_000  # token pairs compared exactly (1,000 words against 1,000); beyond, difflib's heuristic

# A word or a single other character with the spaces after it, or the spaces a text starts with:
# together they are the whole text, in order. Spaces ride on the word before them because a token
# of spaces alone is the commonest of all, and difflib's matching slows with common tokens.
_TOKENS = re.compile(r"\w+\s*|[^\w\s]\s*|\s+")


def to_html(report: RunReport) -> str:
    """A self-contained HTML page (the report format `html` without a store: the chart shows this run)."""
    return render_run_html(report)


def render_run_html(report: RunReport, *, history: Sequence[Mapping[str, Any]] = (), standalone: bool = True) -> str:
    """The run's page: a whole document (`standalone`), or the body the review pages put in their layout.

    `history` is `run_history`'s series (overall first, then per tag); the run itself is added where
    it is missing. The run's `comparison` (its baseline, set by `run_suite(baseline=...)` or by the
    caller) is shown as regressions and fixes."""
    stats = summary(report)
    failures = [_failure(result, report) for result in report.not_passed()]
    series = _with_run(history, report)
    charts = [
        {
            "title": one["title"],
            "tag": one["tag"],
            "svg": _markup(pass_rate_chart_svg(one["points"], title=one["title"])),
        }
        for one in series
    ]
    context = {
        "run": report,
        "ok": report.ok,
        "headline": summary_line(report),
        "stats": stats_lines(report, stats),
        "overall": stats.overall,
        "drop_text": "cannot see any" if stats.drop is None else in_points(stats.drop),
        "tags": stats.tags,
        "charts": charts,
        "comparison": _comparison(report),
        "failures": [f for f in failures if f["error"] is None],
        "errors": [f for f in failures if f["error"] is not None],
        "anchors": {f["case_id"]: f["anchor"] for f in reversed(failures)},  # a case's first block
        "css": _markup(report_css()),
        "standalone": standalone,
    }
    template = "report/run.html.j2" if standalone else "report/_run_body.html.j2"
    return _environment().get_template(template).render(context)


def report_css() -> str:
    """The page's stylesheet: inlined by the standalone file, served by the review pages."""
    return _environment().loader.get_source(_environment(), "report/report.css")[0]  # type: ignore[union-attr]


def run_series(report: RunReport) -> list[dict[str, Any]]:
    """One run as chart series of one point each: overall, then each tag (the run's `_stats` rates)."""
    stats = summary(report)
    rates = [(None, "all cases", stats.overall)] + [(t.tag, f"tag {t.tag}", t.rate) for t in stats.tags]
    return [
        {
            "tag": tag,
            "title": title,
            "points": [
                {
                    "run_id": report.id,
                    "started_at": report.started_at,
                    "pass_rate": rate.rate,
                    "low": rate.low,
                    "high": rate.high,
                    "n": rate.total,
                    "passed": rate.passed,
                }
            ],
        }
        for tag, title, rate in rates
    ]


def run_history(
    store: Store,
    *,
    limit: int = HISTORY_LIMIT,
    until: str | None = None,
    runs: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The stored runs' pass rates with their 95% intervals: a series overall, then one per tag, oldest first.

    Each series is `{"tag": None or the tag, "title": "all cases" or "tag X", "points": [...]}`, each
    point `{"run_id", "started_at", "pass_rate", "low", "high", "n", "passed"}`. With `until` (a run
    id) the history ends at that run, so an old run's page shows what came before it, not after.
    `runs`: every stored run, newest first, when the caller has listed them already."""
    rows = list(runs) if runs is not None else store.list_runs(None if until else limit)
    at = next((i for i, row in enumerate(rows) if row["id"] == until), 0) if until else 0
    rows = rows[at : at + limit]
    series: list[dict[str, Any]] = []
    for row in reversed(rows):  # newest first from the store; a chart reads left to right
        report = RunReport.from_dict({**row, "results": store.run_results(row["id"])})
        series = _merged(series, run_series(report))
    return series


def render_stored_run(store: Store, ref: str, *, standalone: bool = False) -> str:
    """A stored run's page (`ref`: id, unique prefix or `latest`) as the review pages show it: with the
    history up to it, and against its baseline: the run it was compared with when it ran, else the
    run stored before it."""
    from casebank.replay._compare import compare
    from casebank.replay._records import load_run, stored_baseline

    report = load_run(store, ref)
    runs = store.list_runs(None)  # once, for both the run before it and the history
    before = stored_baseline(store, report) or previous_run(store, report.id, runs=runs)
    if before is not None:
        report.comparison = compare(before, report)
    history = run_history(store, until=report.id, runs=runs)
    return render_run_html(report, history=history, standalone=standalone)


def previous_run(store: Store, run_id: str, *, runs: Sequence[Mapping[str, Any]] | None = None) -> RunReport | None:
    """The run stored just before `run_id`: the baseline a run's page compares with when none was named.
    `runs`: every stored run, newest first, when the caller has listed them already."""
    from casebank.replay._records import load_run

    rows = list(runs) if runs is not None else store.list_runs(None)
    at = next((i for i, row in enumerate(rows) if row["id"] == run_id), None)
    if at is None or at + 1 >= len(rows):
        return None
    return load_run(store, rows[at + 1]["id"])


def diff_segments(expected: str, actual: str) -> list[tuple[str, str]]:
    """Expected against actual, word by word: `("eq"|"del"|"ins", text)` pieces, in order.

    Joining the `eq` and `del` pieces gives `expected`, the `eq` and `ins` pieces `actual`. The
    common start and end are set aside first (outputs that fail mostly differ in a few words);
    what differs beyond `_DIFF_BUDGET` token pairs is matched with difflib's junk heuristic, which
    ignores the commonest tokens, so that a page of long, unlike outputs still renders in seconds."""
    a, b = _TOKENS.findall(expected), _TOKENS.findall(actual)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle_a, middle_b = a[head : len(a) - tail], b[head : len(b) - tail]
    out: list[tuple[str, str]] = []
    _add(out, "eq", "".join(a[:head]))
    autojunk = len(middle_a) * len(middle_b) > _DIFF_BUDGET
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, middle_a, middle_b, autojunk=autojunk).get_opcodes():
        if op == "equal":
            _add(out, "eq", "".join(middle_a[i1:i2]))
            continue
        removed, added = "".join(middle_a[i1:i2]), "".join(middle_b[j1:j2])
        same = _common_spaces(removed, added)  # "30 " for "14 ": the space after both is no change
        _add(out, "del", removed[: len(removed) - same])
        _add(out, "ins", added[: len(added) - same])
        _add(out, "eq", removed[len(removed) - same :])
    _add(out, "eq", "".join(a[len(a) - tail :]))
    return out


# -- the chart ---------------------------------------------------------------------------------------

_W, _H = 640, 220  # the SVG's own units; it scales to its container
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 16, 30, 34


def pass_rate_chart_svg(points: Sequence[Mapping[str, Any]], *, title: str) -> str:
    """An inline SVG of the pass rate over runs with its 95% interval as a band (and a bar at each run).

    Every text is escaped and every number goes through `float`, so a point cannot carry markup in.
    Each run is a circle whose `<title>` (the tooltip) reads `run ID, TIME: RATE (95% CI LOW-HIGH%), n=N`
    and whose data-* attributes hold the same figures. No xmlns: it is meant to sit inside HTML."""
    pts = [_point(p) for p in points]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (plot_w / 2 if len(pts) == 1 else i * plot_w / (len(pts) - 1))

    def y(v: float) -> float:
        return _TOP + (1 - min(max(v, 0.0), 1.0)) * plot_h

    out = [
        f'<svg class="pass-rate-chart" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'preserveAspectRatio="xMinYMin meet" data-points="{len(pts)}">',
        f"<title>{escape(title)}: pass rate with its 95% interval over {len(pts)} run{'s' if len(pts) != 1 else ''}"
        "</title>",
        f'<text class="chart-title" x="{_LEFT}" y="18" font-size="13" font-weight="bold" fill="#1f2937">'
        f"{escape(title)}</text>",
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#d1d5db" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" fill="#4b5563">'
            f"{tick:.0%}</text>"
        )
    if not pts:
        out.append(
            f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}" font-size="12" text-anchor="middle" '
            'fill="#4b5563">no runs yet</text></svg>'
        )
        return "".join(out)
    if len(pts) > 1:
        band = [f"{x(i):.1f},{y(p['high']):.1f}" for i, p in enumerate(pts)]
        band += [f"{x(i):.1f},{y(p['low']):.1f}" for i, p in reversed(list(enumerate(pts)))]
        out.append(f'<polygon class="band" points="{" ".join(band)}" fill="#2563eb" fill-opacity="0.15"/>')
        line = " ".join(f"{x(i):.1f},{y(p['pass_rate']):.1f}" for i, p in enumerate(pts))
        out.append(f'<polyline class="rate" points="{line}" fill="none" stroke="#2563eb" stroke-width="2"/>')
    for i, p in enumerate(pts):
        tip = (
            f"run {p['run_id']}, {p['when']}: {p['pass_rate']:.1%} "
            f"(95% CI {p['low'] * 100:.1f}-{p['high'] * 100:.1f}%), n={p['n']}"
        )
        out.append(
            f'<line class="interval" x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(p["low"]):.1f}" y2="{y(p["high"]):.1f}" '
            'stroke="#2563eb" stroke-width="1.5" stroke-opacity="0.6"/>'
            f'<circle class="run" cx="{x(i):.1f}" cy="{y(p["pass_rate"]):.1f}" r="4" fill="#2563eb" '
            f'data-run-id="{escape(p["run_id"])}" data-pass-rate="{p["pass_rate"]:.4f}" data-low="{p["low"]:.4f}" '
            f'data-high="{p["high"]:.4f}" data-n="{p["n"]}"><title>{escape(tip)}</title></circle>'
        )
    labels = {0: pts[0]["when"], len(pts) - 1: pts[-1]["when"]}
    for i, when in labels.items():
        anchor = "middle" if len(pts) == 1 else "start" if i == 0 else "end"
        out.append(
            f'<text class="when" x="{x(i):.1f}" y="{_H - 10}" font-size="11" text-anchor="{anchor}" fill="#4b5563">'
            f"{escape(when)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _point(point: Mapping[str, Any]) -> dict[str, Any]:
    started = str(point.get("started_at") or "")
    return {
        "run_id": str(point.get("run_id") or ""),
        "when": started[:16].replace("T", " "),
        "pass_rate": float(point["pass_rate"]),
        "low": float(point["low"]),
        "high": float(point["high"]),
        "n": int(point["n"]),
    }


# -- the page ----------------------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape on for every template, whatever its name: every value on the page is someone's text
    return Environment(
        loader=PackageLoader("casebank.replay", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _markup(text: str) -> Any:
    from markupsafe import Markup

    return Markup(text)  # built here by escaping code (the SVG) or our own file (the CSS)


def _with_run(history: Sequence[Mapping[str, Any]], report: RunReport) -> list[dict[str, Any]]:
    series = [{**one, "points": list(one["points"])} for one in history]
    if any(p.get("run_id") == report.id for one in series for p in one["points"]):
        return series
    return _merged(series, run_series(report))


def _merged(series: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`series` with `more`'s points added at the ends of the series of the same tag (new tags after)."""
    by_tag = {one["tag"]: one for one in series}
    for one in more:
        if one["tag"] in by_tag:
            by_tag[one["tag"]]["points"].extend(one["points"])
        else:
            by_tag[one["tag"]] = {**one, "points": list(one["points"])}
    ordered = sorted(by_tag.values(), key=lambda one: (one["tag"] is not None, one["tag"] or ""))
    return ordered


def _add(out: list[tuple[str, str]], kind: str, text: str) -> None:
    if not text:
        return
    if out and out[-1][0] == kind:
        out[-1] = (kind, out[-1][1] + text)
    else:
        out.append((kind, text))


def _common_spaces(removed: str, added: str) -> int:
    n = 0
    while n < min(len(removed), len(added)) and removed[-1 - n] == added[-1 - n] and removed[-1 - n].isspace():
        n += 1
    return n


def _failure(result: CaseResult, report: RunReport) -> dict[str, Any]:
    expected = trim(_shown(result.expected), BODY) if result.expected is not None else None
    actual = trim(_shown(result.output) if result.error is None else actual_text(result), BODY)
    return {
        "case_id": result.case_id,
        "anchor": f"case-{result.case_id}-{result.epoch + 1}",
        "file": file_name(result),
        "epoch": result.epoch + 1 if report.epochs > 1 else None,
        "grader": result.grader,
        "reason": "the entry point raised" if result.target_raised else result.reason,
        "tools": tools_text(result),
        "unreliable": result.unreliable,
        "timed_out": result.timed_out,
        "expected": expected,
        "actual": actual,
        # Only what the target returned is diffed; a case without an expected value is graded by its options.
        "diff": diff_segments(expected, actual) if result.error is None and expected is not None else None,
        "error": result.error,
        "traceback": result.traceback,
    }


def _shown(value: Any) -> str:
    """A text as it is; anything else as indented JSON, so that a diff of two objects reads key by key."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # not JSON-compatible (a result built by hand)
        return value_as_text(value)


def _comparison(report: RunReport) -> dict[str, Any] | None:
    comparison = report.comparison
    if comparison is None:
        return None
    from casebank.replay._compare import comparison_lines

    return {
        "baseline": comparison.baseline,
        "baseline_rate": summary(comparison.baseline).overall,
        "regressions": comparison.regressions,
        "fixes": comparison.fixes,
        "still_failing": comparison.still_failing,
        "flaky": comparison.flaky,
        "new_cases": comparison.new_cases,
        "removed_cases": comparison.removed_cases,
        "test_line": comparison_lines(comparison)[-1],  # McNemar's, in the words `cases compare` prints
    }
