"""`cases run --html` and `cases report --format html` through real subprocesses, the pages read back with a parser."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson

from casebank.replay import Case, write_case
from tests.cli.conftest import Cases, assert_one_line_error
from tests.cli.test_run import run_id_of
from tests.replay.html_tree import Node, leaves_the_page, parse, references

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'

CASES = [
    ("c1", "hello", "Happy to help.", ["greeting"]),
    ("c2", "refund", "We refund within 30 days.", ["refunds"]),
    ("c3", "hostile", SCRIPT, ["refunds"]),
]


def write_project(root: Path, *, refund: str, hello: str) -> None:
    (root / "shop_bot.py").write_text(
        textwrap.dedent(
            f"""
            def answer(question):
                if question == "refund":
                    return {refund!r}
                if question == "hostile":
                    return {IMG!r}
                return {hello!r}
            """
        )
    )
    for case_id, question, expected, tags in CASES:
        case = Case(
            id=case_id,
            created_at="2024-05-01T12:00:00.000+00:00",
            entrypoint="shop_bot:answer",
            input={"question": question},
            expected=expected,
            grader={"name": "exact", "options": {}},
            tags=tags,
        )
        if not (root / "evals" / f"answer-{case_id}.json").exists():
            write_case(case, root / "evals")


def read_page(path: Path) -> Node:
    root, doctype = parse(path.read_text(encoding="utf-8"))
    assert doctype == "DOCTYPE html"
    return root


def chart_runs(root: Node) -> dict[str, list[str | None]]:
    """Each chart's runs, by tag ('' overall), left to right."""
    return {
        fig.attrs["data-tag"] or "": [c.attrs["data-run-id"] for c in fig.find_all("circle")]
        for fig in root.find(data_testid="runs-chart").find_all("figure")
    }


def assert_inert(root: Node) -> None:
    assert not root.find_all("script") and not root.find_all("img")
    assert not any(name.startswith("on") for node in root.iter() for name in node.attrs)
    assert [url for url in references(root) if leaves_the_page(url)] == []


def test_cases_run_html_writes_the_run_s_page_with_the_stored_runs_and_its_baseline(
    tmp_path: Path, db: Path, cases: Cases
) -> None:
    write_project(tmp_path, refund="We refund within 14 days.", hello="Happy to help.")
    first = cases("run", "--html", "first.html")
    write_project(tmp_path, refund="We refund within 30 days.", hello="Hi! Happy to help.")
    second = cases("run", "--baseline", "latest", "--html", "out/second.html", "--json", "out/second.json")
    first_id, second_id = run_id_of(first.out), run_id_of(second.out)

    assert first.code == 1 and "wrote first.html\n" in first.out, first.out + first.err
    assert second.code == 1 and "wrote out/second.html\n" in second.out, second.out + second.err  # c1 regressed
    one, two = read_page(tmp_path / "first.html"), read_page(tmp_path / "out" / "second.html")
    assert chart_runs(one) == {"": [first_id], "greeting": [first_id], "refunds": [first_id]}
    assert chart_runs(two) == {
        "": [first_id, second_id],
        "greeting": [first_id, second_id],
        "refunds": [first_id, second_id],
    }
    assert "1/3 passed (33.3%) - 2 failed" in one.find(data_testid="run-stats").text()
    assert [f.attrs["data-case-id"] for f in one.find_all(data_testid="failure")] == ["c2", "c3"]
    diff = one.find(data_testid="failure", data_case_id="c2").find(data_testid="diff")
    assert [n.text() for n in diff.find_all("del")[1:]] == ["30"] and [n.text() for n in diff.find_all("ins")[1:]] == [
        "14"
    ]
    comparison = two.find(data_testid="comparison")
    assert f"Against baseline run {first_id}" == comparison.find("h2").text()
    assert comparison.find(data_testid="regressions").text() == "c1"
    assert comparison.find(data_testid="fixes").text() == "c2"
    assert comparison.find(data_testid="still-failing").text() == "c3"
    for page in (one, two):  # the injected case shows its expected and actual as text, and loads nothing
        assert_inert(page)
        hostile = page.find(data_testid="failure", data_case_id="c3")
        assert hostile.find("pre", **{"class": "expected"}).text().strip("\n") == SCRIPT
        assert hostile.find("pre", **{"class": "actual"}).text().strip("\n") == IMG


def test_cases_report_format_html_prints_or_writes_the_page_of_a_stored_run_or_a_file(
    tmp_path: Path, db: Path, cases: Cases
) -> None:
    write_project(tmp_path, refund="We refund within 14 days.", hello="Happy to help.")
    first = run_id_of(cases("run").out)
    write_project(tmp_path, refund="We refund within 30 days.", hello="Happy to help.")
    second = run_id_of(cases("run", "--json", "second.json").out)

    printed = cases("report", "latest", "--format", "html")
    written = cases("report", first[:6], "--format", "html", "--output", "pages/first.html")
    against = cases("report", second, "--format", "html", "--baseline", first, "-o", "against.html")
    from_file = cases("report", "second.json", "--format", "html", env={"CASEBANK_DB": str(tmp_path / "none.db")})
    table_to_file = cases("report", "latest", "--output", "table.txt", "--baseline", first)

    assert printed.code == 0 and printed.err == "", printed.err
    latest, _ = parse(printed.out)
    assert chart_runs(latest)[""] == [first, second]
    assert latest.find("article").attrs["data-run-id"] == second and not latest.find_all(data_testid="comparison")
    assert written.code == 0 and written.out == "wrote pages/first.html\n", written.out + written.err
    assert chart_runs(read_page(tmp_path / "pages" / "first.html"))[""] == [first]  # the history ends at the run
    assert against.code == 0 and against.out == "wrote against.html\n"
    assert read_page(tmp_path / "against.html").find(data_testid="fixes").text() == "c2"
    assert from_file.code == 0, from_file.err  # no store: the chart shows this run alone
    assert chart_runs(parse(from_file.out)[0]) == {"": [second], "greeting": [second], "refunds": [second]}
    assert not (tmp_path / "none.db").exists()
    assert table_to_file.code == 0 and table_to_file.out == "wrote table.txt\n"
    table = (tmp_path / "table.txt").read_text()
    assert "2/3 passed (66.7%) - 1 failed\n" in table and "fixes (failed before, pass now): c2\n" in table
    assert orjson.loads((tmp_path / "second.json").read_bytes())["id"] == second


def test_report_refuses_a_baseline_its_format_cannot_show_and_a_path_it_cannot_write(
    tmp_path: Path, db: Path, cases: Cases
) -> None:
    write_project(tmp_path, refund="We refund within 30 days.", hello="Happy to help.")
    assert cases("run").code == 1

    as_json = cases("report", "latest", "--format", "json", "--baseline", "latest")
    unwritable = cases("report", "latest", "--format", "html", "--output", "shop_bot.py/report.html")
    run_unwritable = cases("run", "--html", "shop_bot.py/report.html")

    assert_one_line_error(as_json, 2, "--baseline is shown by the table, markdown and html formats, not json")
    assert_one_line_error(unwritable, 2, "cannot write --output file 'shop_bot.py/report.html'", "pass a writable path")
    assert run_unwritable.code == 2 and "cannot write --html file 'shop_bot.py/report.html'" in run_unwritable.err


def test_a_run_s_page_compares_it_with_the_baseline_it_ran_with_else_the_run_before_it(
    tmp_path: Path, db: Path, cases: Cases
) -> None:
    from casebank.replay._report_html import render_stored_run
    from casebank.store import open_store

    write_project(tmp_path, refund="We refund within 14 days.", hello="Happy to help.")
    first = run_id_of(cases("run").out)  # c1 passes, c2 fails
    write_project(tmp_path, refund="We refund within 30 days.", hello="Hi! Happy to help.")
    second = run_id_of(cases("run").out)  # c1 fails, c2 passes
    write_project(tmp_path, refund="We refund within 30 days.", hello="Happy to help.")
    third = run_id_of(cases("run", "--baseline", first).out)  # both pass: against the first, c2 is fixed

    html = cases("report", "latest", "--format", "html")
    table = cases("report", "latest", "--output", "table.txt")
    as_ran = cases("report", second, "--format", "html")

    assert html.code == 0, html.err
    comparison = parse(html.out)[0].find(data_testid="comparison")
    assert comparison.find("h2").text() == f"Against baseline run {first}"
    assert comparison.find(data_testid="fixes").text() == "c2"
    assert comparison.find(data_testid="regressions").text() == "none"
    assert "fixes (failed before, pass now): c2\n" in (tmp_path / "table.txt").read_text(), table.out + table.err
    assert not parse(as_ran.out)[0].find_all(data_testid="comparison")  # it ran without a baseline
    with open_store(db) as store:  # the review pages: the baseline it ran with, else the run before it
        ran_with = parse(render_stored_run(store, third, standalone=True))[0].find(data_testid="comparison")
        before_it = parse(render_stored_run(store, second, standalone=True))[0].find(data_testid="comparison")
    assert ran_with.find("h2").text() == f"Against baseline run {first}"
    assert before_it.find("h2").text() == f"Against baseline run {first}"
    assert before_it.find(data_testid="regressions").text() == "c1"
    assert before_it.find(data_testid="fixes").text() == "c2"
