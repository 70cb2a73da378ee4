"""The HTML report of a run (`cases report RUN --format html`, `cases run --html PATH`) in real Chromium,
opened from disk as a CI artifact is, with the network off: it must need nothing but its own file."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request, Route, expect

from tests.browser.conftest import VIEWPORT, Shop, cases, save_screenshot
from tests.browser.shop_bot import IMG

pytestmark = pytest.mark.xdist_group("browser")  # with test_pages.py: one shop, one browser (make test)


def open_offline(browser: Browser, report: Path, name: str) -> None:
    context = browser.new_context(viewport=VIEWPORT, offline=True)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    asked: list[str] = []
    dialogs: list[str] = []

    def nothing_but_files(route: Route, request: Request) -> None:
        route.continue_() if request.url.startswith("file:") else route.abort()

    context.route("**/*", nothing_but_files)
    context.on("request", lambda request: asked.append(request.url))
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(report.as_uri())
        chart = page.locator('[data-testid="runs-chart"] svg').first
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, box
        expect(page.locator("body")).to_contain_text("We refund within 14 days.")  # a failure's actual output
        expect(page.locator("body")).to_contain_text(IMG)  # the markup case, as text
        save_screenshot(page, name)
        assert page.locator("img[onerror]").count() == 0 and dialogs == []
        assert page.evaluate("document.querySelectorAll('link[href], script[src], img[src], iframe').length") == 0
    finally:
        context.close()
    assert asked == [report.as_uri()], f"the report asked for more than its own file: {asked}"


def test_the_html_report_of_a_recorded_run_opens_from_disk_with_the_network_off(
    browser: Browser, shop: Shop, tmp_path: Path
) -> None:
    first = shop.run_ids[0]
    made = cases(shop.folder, shop.db, "report", first, "--format", "html")
    assert made.returncode == 0, made.stderr
    report = tmp_path / "report.html"
    report.write_text(made.stdout, encoding="utf-8")

    open_offline(browser, report, "report")


def test_cases_run_html_writes_the_same_kind_of_report(browser: Browser, shop: Shop, tmp_path: Path) -> None:
    report = tmp_path / "out" / "run.html"
    own_store = tmp_path / "casebank.db"  # not the shop's: the pages' tests count its runs
    done = cases(shop.folder, own_store, "run", "--suite", "evals", "--html", str(report), SHOP_BOT_VERSION="1")
    assert done.returncode == 1, done.stderr  # version 1 fails the refund cases
    assert report.is_file(), done.stdout

    open_offline(browser, report, "run-html")
