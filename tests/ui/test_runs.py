"""The runs pages: every stored run with its pass rate's 95% interval, the chart over runs overall
and per tag, and one run's page with its failures, their diffs, and the run before it."""

from __future__ import annotations

import re
from pathlib import Path

from casebank.replay._records import record
from casebank.store import open_store
from tests.replay.test_compare import run
from tests.server.conftest import Server
from tests.ui.conftest import Visitor


def _record_runs(db: Path) -> None:
    with open_store(db) as store:
        first = run("aaaaaaaaaaaa", {"a": "pass", "b": "pass", "c": "fail"})
        first.started_at = "2024-05-01T12:00:00.000+00:00"
        second = run("bbbbbbbbbbbb", {"a": "pass", "b": "fail", "c": "pass"})
        second.started_at = "2024-05-02T12:00:00.000+00:00"
        record(store, first)
        record(store, second)


def test_the_runs_list_each_run_with_its_interval_and_the_charts_over_them(
    server_ui: Server, admin: Visitor, db_path: Path
) -> None:
    assert "No run recorded yet" in admin.get("/ui/runs").text
    _record_runs(db_path)
    page = admin.get("/ui/runs")
    assert page.status_code == 200
    html = page.text
    assert re.findall(r'data-testid="run-row" data-run-id="(\w+)"', html) == ["bbbbbbbbbbbb", "aaaaaaaaaaaa"]
    row = html[html.index('data-testid="run-row" data-run-id="bbbbbbbbbbbb"') :]
    # Over cases, as the report counts them (a case passes when it passed every epoch).
    assert '<td class="num">2/3</td>' in row and '<td class="num">66.7%</td>' in row
    assert '<td class="num">20.8-93.9%</td>' in row  # the Wilson interval
    chart = html[html.index('data-testid="runs-chart"') :]
    assert chart.count("<svg") == 2  # all cases, and the tag every case carries
    assert "<script" not in html.lower()


def test_a_runs_page_shows_its_statistics_failures_with_diffs_and_what_changed(
    server_ui: Server, admin: Visitor, db_path: Path
) -> None:
    _record_runs(db_path)
    page = admin.get("/ui/runs/bbbb")  # any unique prefix, as the CLI takes
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="run-stats"' in html and 'data-testid="failure"' in html and 'data-testid="diff"' in html
    assert 'data-testid="regressions"' in html
    assert '<link rel="stylesheet" href="/ui/static/report.css">' in html
    css = admin.get("/ui/static/report.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    missing = admin.get("/ui/runs/ffff")
    assert missing.status_code == 404 and 'data-testid="flash"' in missing.text
