"""The HTML run report: the page's parts read back with an HTML parser, the chart, the diff, the history
from a real SQLite store, and untrusted values that stay text."""

from __future__ import annotations

from pathlib import Path

import pytest

from casebank.replay._compare import compare
from casebank.replay._records import record
from casebank.replay._report import stats_lines, summary, summary_line
from casebank.replay._report_html import (
    diff_segments,
    pass_rate_chart_svg,
    previous_run,
    render_run_html,
    render_stored_run,
    report_css,
    run_history,
)
from casebank.replay._results import RunReport
from casebank.replay._stats import Rate
from casebank.store import open_store
from tests.replay.html_tree import Node, leaves_the_page, parse, references
from tests.replay.test_report import report, result

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


def page(run: RunReport, **kwargs: object) -> Node:
    root, doctype = parse(render_run_html(run, **kwargs))  # type: ignore[arg-type]
    assert doctype is not None and doctype.lower() == "doctype html"
    return root


def run_at(run_id: str, started_at: str, *results_: object) -> RunReport:
    run = report(*results_)  # type: ignore[arg-type]
    run.id, run.started_at, run.finished_at = run_id, started_at, started_at
    return run


RUN = report(
    result("c1", "passed"),
    result("c2", "failed"),
    result("c3", "errored"),
    result("c4", "passed", tags=["refunds", "tone"]),
)


def test_the_page_is_one_utf8_document_with_the_run_s_statistics_line_and_rates() -> None:
    root = page(RUN)
    html = root.find("html")
    stats = root.find(data_testid="run-stats")
    rows = {row.find("th").text(): [cell.text() for cell in row.find_all("td")][:5] for row in stats.find_all("tr")[1:]}

    assert html.attrs["lang"] == "en"
    assert root.find("meta", charset="utf-8")
    assert "default-src 'none'" in (root.find("meta", http_equiv="Content-Security-Policy").attrs["content"] or "")
    assert root.find("title").text() == f"casebank run 0123456789ab: {summary_line(RUN)}"
    assert root.find("h1").text() == f"failed casebank: {summary_line(RUN)}"
    assert stats.find("p", **{"class": "summary-line"}).text() == "2/4 passed (50.0%) - 1 failed, 1 raised an exception"
    assert [li.text() for li in stats.find_all("li")] == stats_lines(RUN, summary(RUN))
    overall = Rate.of(2, 4)
    assert rows == {
        "all cases": ["4", "2", "50.0%", f"{overall.low * 100:.1f}-{overall.high * 100:.1f}%", "cannot see any"],
        "tag refunds": ["4", "2", "50.0%", f"{overall.low * 100:.1f}-{overall.high * 100:.1f}%", "cannot see any"],
        "tag tone": ["1", "1", "100.0%", "20.7-100.0%", "cannot see any"],
    }


def test_a_failure_shows_expected_against_actual_with_a_word_diff_and_an_error_its_traceback() -> None:
    root = page(RUN)
    failures = root.find_all(data_testid="failure")
    [failed] = [f for f in failures if f.attrs["data-status"] == "failed"]
    [errored] = [f for f in failures if f.attrs["data-status"] == "errored"]
    diff = failed.find(data_testid="diff").find("pre")

    assert [f.attrs["data-case-id"] for f in failures] == ["c2", "c3"]
    assert failed.find("pre", **{"class": "expected"}).text().strip("\n") == "We refund within 30 days."
    assert failed.find("pre", **{"class": "actual"}).text().strip("\n") == "We refund within 14 days."
    assert [node.text() for node in diff.find_all("del")] == ["30"]
    assert [node.text() for node in diff.find_all("ins")] == ["14"]
    assert diff.text().strip("\n") == "We refund within 3014 days."
    assert "exact: expected 'We refund within 30 days.', got 'We refund within 14 days.'" in failed.text()
    assert not errored.find_all(data_testid="diff")  # a raise is not an output to diff
    assert errored.find("pre", **{"class": "actual"}).text().strip("\n") == "raised TimeoutError: model did not answer"
    assert "TimeoutError: model did not answer" in errored.find("details").text()
    assert "the entry point raised" in errored.text()


def test_a_structured_output_is_diffed_as_indented_json_key_by_key() -> None:
    run = report(result("c1", "failed", expected={"days": 30, "ok": True}, output={"days": 14, "ok": True}))
    failed = page(run).find(data_testid="failure")

    assert failed.find("pre", **{"class": "actual"}).text().strip("\n") == '{\n  "days": 14,\n  "ok": true\n}'
    assert [n.text() for n in failed.find_all("del")[1:]] == ["30"]  # the first <del> is the legend
    assert [n.text() for n in failed.find_all("ins")[1:]] == ["14"]


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        pytest.param("We refund within 30 days.", "We refund within 14 days.", id="one-word"),
        pytest.param("", "anything at all", id="empty-expected"),
        pytest.param("line one\nline two\n", "line one\nline 2\nline three", id="lines"),
        pytest.param("Ünïcødé — 30 €", "Ünïcødé — 14 €!", id="unicode"),
        pytest.param("a  b\t\tc", "a b c", id="spaces"),
        pytest.param("  lead", " lead", id="leading-spaces"),
        pytest.param("w1 w2 " * 1500, "X " + "w2 w1 " * 1500 + "Y", id="long-beyond-the-exact-budget"),
    ],
)
def test_a_diff_s_pieces_give_back_both_texts(expected: str, actual: str) -> None:
    pieces = diff_segments(expected, actual)

    assert "".join(text for kind, text in pieces if kind != "ins") == expected
    assert "".join(text for kind, text in pieces if kind != "del") == actual
    assert all(text for _, text in pieces) and {kind for kind, _ in pieces} <= {"eq", "del", "ins"}


@pytest.mark.parametrize("where", ["expected", "output", "reason", "case_id", "tags", "grader", "error"])
def test_untrusted_values_anywhere_on_the_page_stay_inert_text(where: str) -> None:
    hostile = f"{SCRIPT} {IMG} https://evil.example/x.png"
    status = "errored" if where == "error" else "failed"
    values: dict[str, object] = {where: [hostile] if where == "tags" else hostile}
    if where == "error":
        values["traceback"] = hostile
    case_id = str(values.pop("case_id", "c2"))
    run = report(result("c1", "passed"), result(case_id, status, **values))
    run.git_commit, run.target = SCRIPT, IMG
    html = render_run_html(run)
    root = page(run)

    assert not root.find_all("script") and not root.find_all("img")
    assert not any("onerror" in node.attrs for node in root.iter())
    assert not [url for url in references(root) if leaves_the_page(url)]
    assert SCRIPT in root.text() and IMG in root.text()  # shown, as text
    assert SCRIPT not in html and IMG not in html  # escaped in the source


def test_the_standalone_page_references_nothing_outside_itself() -> None:
    baseline = run_at("aaaaaaaaaaa1", "2024-05-01T11:00:00+00:00", result("c2", "passed"), result("c1", "failed"))
    run = report(*RUN.results)
    run.comparison = compare(baseline, run)
    html = render_run_html(run)
    root = page(run)

    assert [url for url in references(root) if leaves_the_page(url)] == []
    assert {url for url in references(root)} == {"#case-c2-1"}  # the regression links to its failure
    assert "http:" not in html and "https:" not in html and "//" not in html.replace("://", "")
    assert not root.find_all("link") and not root.find_all("script") and not root.find_all("iframe")
    assert report_css() in html  # the stylesheet is inline


def test_the_fragment_is_the_page_body_without_document_or_inline_styles() -> None:
    fragment = render_run_html(RUN, standalone=False)
    root, doctype = parse(fragment)

    assert doctype is None
    assert not root.find_all("html") and not root.find_all("head") and not root.find_all("style")
    assert not any("style" in node.attrs for node in root.iter())  # a strict CSP (no inline styles) allows it
    assert root.find("article", **{"class": "casebank-run"}).attrs["data-run-id"] == RUN.id
    assert len(root.find_all(data_testid="failure")) == 2 and root.find(data_testid="runs-chart")
    assert fragment.strip() in render_run_html(RUN)


def test_regressions_and_fixes_against_the_baseline_link_to_their_failures() -> None:
    baseline = run_at(
        "aaaaaaaaaaa1",
        "2024-05-01T11:00:00+00:00",
        result("c1", "failed"),
        result("c2", "passed"),
        result("c3", "failed"),
        result("gone", "passed"),
    )
    run = report(result("c1", "passed"), result("c2", "failed"), result("c3", "failed"), result("new", "errored"))
    run.comparison = compare(baseline, run)
    section = page(run).find(data_testid="comparison")

    assert section.find("h2").text() == "Against baseline run aaaaaaaaaaa1"
    assert section.find(data_testid="regressions").find("a").attrs["href"] == "#case-c2-1"
    assert section.find(data_testid="regressions").text() == "c2"
    assert section.find(data_testid="fixes").text() == "c1"
    assert section.find(data_testid="still-failing").text() == "c3"
    assert section.find(data_testid="removed").text() == "gone"
    assert section.find(data_testid="new").text() == "new (fail)"
    assert "McNemar exact test on 2 discordant pairs (1 regression, 1 fix): p = 1 - as many fixes as regressions" in (
        section.text()
    )


def test_a_run_without_a_baseline_has_no_comparison() -> None:
    assert not page(RUN).find_all(data_testid="comparison")


def circles(svg: Node) -> list[dict[str, str | None]]:
    return [node.attrs for node in svg.find_all("circle")]


def test_the_chart_draws_each_run_with_its_interval_inside_the_plot() -> None:
    points = [
        {"run_id": f"r{i}", "started_at": f"2024-05-0{i}T12:00:00+00:00", **vars(Rate.of(passed, 10))}
        for i, passed in enumerate([10, 7, 9], start=1)
    ]
    for point in points:
        point["pass_rate"], point["n"] = point["passed"] / point["total"], point["total"]
    root, _ = parse(pass_rate_chart_svg(points, title="all cases"))
    svg = root.find("svg")
    drawn = circles(svg)
    bars = svg.find_all("line", **{"class": "interval"})

    assert svg.attrs["data-points"] == "3" and "xmlns" not in svg.attrs
    assert [c["data-run-id"] for c in drawn] == ["r1", "r2", "r3"]
    assert [(c["data-pass-rate"], c["data-n"]) for c in drawn] == [("1.0000", "10"), ("0.7000", "10"), ("0.9000", "10")]
    assert [float(c["data-low"] or 0) for c in drawn] == pytest.approx([p["low"] for p in points], abs=1e-4)
    for circle, bar in zip(drawn, bars, strict=True):  # the rate sits on its interval's bar (y grows downwards)
        assert float(bar.attrs["y2"] or 0) <= float(circle["cy"] or 0) <= float(bar.attrs["y1"] or 0)
    assert svg.find("polygon", **{"class": "band"}) and svg.find("polyline", **{"class": "rate"})
    assert [n.text() for n in svg.find_all("text", **{"class": "when"})] == ["2024-05-01 12:00", "2024-05-03 12:00"]
    assert (
        drawn
        and svg.find("circle").find("title").text() == "run r1, 2024-05-01 12:00: 100.0% (95% CI 72.2-100.0%), n=10"
    )


def test_a_chart_with_no_runs_says_so_and_one_with_hostile_text_stays_text() -> None:
    empty, _ = parse(pass_rate_chart_svg([], title="tag <b>x</b>"))
    hostile = [{"run_id": SCRIPT, "started_at": IMG, "pass_rate": 0.5, "low": 0.1, "high": 0.9, "n": 2}]
    root, _ = parse(pass_rate_chart_svg(hostile, title=IMG))

    assert "no runs yet" in empty.text() and not empty.find_all("b")
    assert not root.find_all("script") and not root.find_all("img") and not root.find_all("b")
    assert root.find("circle").attrs["data-run-id"] == SCRIPT
    with pytest.raises(ValueError):  # a figure is a number or nothing: no text reaches a coordinate
        pass_rate_chart_svg([{**hostile[0], "pass_rate": '1" onload="alert(1)'}], title="x")


def stored_runs(db: Path | str) -> list[RunReport]:
    runs = [
        run_at("aaaaaaaaaaa1", "2024-05-01T10:00:00+00:00", result("c1", "passed"), result("c2", "failed")),
        run_at(
            "aaaaaaaaaaa2",
            "2024-05-02T10:00:00+00:00",
            result("c1", "passed"),
            result("c2", "passed"),
            result("c3", "failed", tags=["tone"]),
        ),
        run_at("aaaaaaaaaaa3", "2024-05-03T10:00:00+00:00", result("c1", "passed"), result("c2", "passed")),
    ]
    with open_store(db) as store:
        for run in runs:
            record(store, run)
    return runs


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "casebank.db"


def test_run_history_reads_each_stored_run_s_rates_overall_and_per_tag_oldest_first(store_url: Path | str) -> None:
    db = store_url
    stored_runs(db)
    with open_store(db) as store:
        history = run_history(store)
        until = run_history(store, until="aaaaaaaaaaa2")
        last_two = run_history(store, limit=2)

    assert [(s["tag"], s["title"]) for s in history] == [
        (None, "all cases"),
        ("refunds", "tag refunds"),
        ("tone", "tag tone"),
    ]
    overall = history[0]["points"]
    assert [p["run_id"] for p in overall] == ["aaaaaaaaaaa1", "aaaaaaaaaaa2", "aaaaaaaaaaa3"]
    expected = [Rate.of(1, 2), Rate.of(2, 3), Rate.of(2, 2)]
    assert [(p["pass_rate"], p["low"], p["high"], p["n"]) for p in overall] == [
        (r.rate, r.low, r.high, r.total) for r in expected
    ]
    assert overall[0]["started_at"] == "2024-05-01T10:00:00+00:00"
    assert [(p["run_id"], p["n"], p["passed"]) for p in history[2]["points"]] == [("aaaaaaaaaaa2", 1, 0)]
    assert [p["run_id"] for p in until[0]["points"]] == ["aaaaaaaaaaa1", "aaaaaaaaaaa2"]
    assert [p["run_id"] for p in last_two[0]["points"]] == ["aaaaaaaaaaa2", "aaaaaaaaaaa3"]


def test_the_page_draws_the_history_and_adds_a_run_it_does_not_hold(tmp_path: Path) -> None:
    db = tmp_path / "casebank.db"
    runs = stored_runs(db)
    with open_store(db) as store:
        history = run_history(store)
        before = previous_run(store, "aaaaaaaaaaa3")
        first = previous_run(store, "aaaaaaaaaaa1")
    stored = page(runs[-1], history=history).find(data_testid="runs-chart")
    not_stored = page(RUN, history=history).find(data_testid="runs-chart")
    alone = page(RUN).find(data_testid="runs-chart")

    charts = {fig.attrs["data-tag"]: [c["data-run-id"] for c in circles(fig)] for fig in stored.find_all("figure")}
    assert charts == {
        "": ["aaaaaaaaaaa1", "aaaaaaaaaaa2", "aaaaaaaaaaa3"],
        "refunds": ["aaaaaaaaaaa1", "aaaaaaaaaaa2", "aaaaaaaaaaa3"],
        "tone": ["aaaaaaaaaaa2"],
    }
    added = {fig.attrs["data-tag"]: [c["data-run-id"] for c in circles(fig)] for fig in not_stored.find_all("figure")}
    assert added[""] == ["aaaaaaaaaaa1", "aaaaaaaaaaa2", "aaaaaaaaaaa3", RUN.id]
    assert added["tone"] == ["aaaaaaaaaaa2", RUN.id]
    assert [[c["data-run-id"] for c in circles(fig)] for fig in alone.find_all("figure")] == [[RUN.id]] * 3
    assert before is not None and before.id == "aaaaaaaaaaa2" and before.total == 3
    assert first is None


def test_a_stored_run_s_page_compares_it_with_the_run_before_it(tmp_path: Path) -> None:
    db = tmp_path / "casebank.db"
    stored_runs(db)
    with open_store(db) as store:
        second, _ = parse(render_stored_run(store, "aaaaaaaaaaa2"))
        first, _ = parse(render_stored_run(store, "aaaaaaaaaaa1"))
        latest = render_stored_run(store, "latest", standalone=True)

    assert second.find(data_testid="comparison").find("h2").text() == "Against baseline run aaaaaaaaaaa1"
    assert second.find(data_testid="fixes").text() == "c2" and second.find(data_testid="new").text() == "c3 (fail)"
    assert [c.attrs["data-run-id"] for c in second.find("figure").find_all("circle")] == [
        "aaaaaaaaaaa1",
        "aaaaaaaaaaa2",
    ]
    assert not first.find_all(data_testid="comparison") and not first.find_all("html")
    assert parse(latest)[1] == "DOCTYPE html" and 'data-run-id="aaaaaaaaaaa3"' in latest
