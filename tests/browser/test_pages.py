"""The review pages under /ui in real Chromium: what support and engineers do there, end to end.

Each test signs in for itself (its own cookies) and reaches the pages through links and forms as a
person does; the selectors are the `data-testid` hooks the pages promise (see `conftest.tid`).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ANSWER, FLAG, READ, Visit, tid
from tests.browser.shop_bot import IMG, SCRIPT
from tests.server.conftest import ADMIN

# One worker takes them all under `--dist loadgroup` (make test): one store, server and browser.
pytestmark = pytest.mark.xdist_group("browser")


def test_support_finds_a_trace_by_ticket_id_flags_it_and_the_incident_is_annotated(visit: Visit) -> None:
    page = visit.page
    visit.sign_in(FLAG)
    visit.open_trace("8812")

    # the span tree holds the entry point, the tool step and the LLM call; the call reads as a conversation
    tree = page.locator(tid("span-tree"))
    expect(tree).to_contain_text("answer")
    expect(tree).to_contain_text("lookup_order")
    # as the browser lays it out: the tool step and the LLM call, both children of the entry point, line up
    rows = tree.locator(":scope > *")
    left = {
        name: (rows.filter(has_text=name).first.bounding_box() or {"x": -1.0})["x"]
        for name in ("answer", "lookup_order", "chat gpt-4o-mini")
    }
    assert left["lookup_order"] == left["chat gpt-4o-mini"] > left["answer"], left
    conversation = page.locator(tid("conversation"))
    expect(conversation).to_contain_text("You are the shop's support bot.")
    expect(conversation).to_contain_text("How long do I have to return shoes?")
    expect(conversation).to_contain_text(ANSWER)
    expect(page.locator(tid("trace-output"))).to_contain_text(ANSWER)
    visit.shot("trace-top")
    visit.shot("trace", readme=True, top=tid("span-tree"))

    visit.flag("refund window is 30 days, not 14")
    expect(page.locator(tid("flash")).first).not_to_be_empty()

    visit.goto("/ui/incidents")
    row = page.locator(tid("incident-row"), has_text="refund window is 30 days")
    expect(row).to_have_count(1)
    visit.shot("incidents")

    # annotating is an engineer's job: the admin signs in in a browser of their own
    visit.sign_in(ADMIN)
    visit.open_incident("refund window is 30 days")
    expect(page.locator(tid("incident-status"))).to_contain_text("flagged")
    page.fill(tid("annotate-expected"), "We refund within 30 days.")
    grader = page.locator(tid("annotate-grader"))
    if grader.evaluate("element => element.tagName") == "SELECT":
        grader.select_option("exact")
    else:
        grader.fill("exact")
    page.fill(tid("annotate-tags"), "refunds")
    with page.expect_navigation():
        page.click(tid("annotate-submit"))
    expect(page.locator(tid("flash")).first).not_to_be_empty()
    expect(page.locator(tid("incident-status"))).to_contain_text("annotated")
    expect(page.locator(tid("promote-command"))).to_contain_text("cases promote")
    visit.shot("incident", readme=True)


def test_an_annotation_the_grader_registry_refuses_is_shown_and_not_kept(visit: Visit) -> None:
    page = visit.page
    visit.sign_in(ADMIN)
    visit.open_trace("8813")
    visit.flag("greets instead of answering")
    visit.open_incident("greets instead")

    page.fill(tid("annotate-expected"), "We refund within 30 days.")
    grader = page.locator(tid("annotate-grader"))
    if grader.evaluate("element => element.tagName") == "SELECT":
        grader.select_option("exact")
    else:
        grader.fill("exact")
    page.fill(tid("annotate-options"), '{"no_such_option": 1}')
    page.click(tid("annotate-submit"))

    expect(page.locator(tid("flash"))).to_contain_text("no_such_option")
    expect(page.locator(tid("incident-status"))).to_contain_text("flagged")


def test_the_runs_page_draws_the_pass_rate_chart_and_a_run_shows_its_failures(visit: Visit) -> None:
    page = visit.page
    visit.sign_in(READ)
    visit.goto("/ui/runs")

    chart = page.locator(f"{tid('runs-chart')} svg").first
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50, box
    expect(page.locator(tid("run-row"))).to_have_count(3)
    visit.shot("runs", readme=True)

    # the first run (version 1 of the bot) fails both refund cases and the one that says back markup
    with page.expect_navigation():
        page.locator(tid("run-row")).last.locator("a").first.click()
    expect(page.locator(tid("run-stats"))).to_be_visible()
    failures = page.locator(tid("failure"))
    expect(failures).to_have_count(3)
    refund = failures.filter(has_text="refund-window")
    expect(refund).to_contain_text("We refund within 30 days.")
    expect(refund).to_contain_text("We refund within 14 days.")
    expect(refund.locator(tid("diff"))).to_be_visible()
    expect(failures.filter(has_text=IMG)).to_have_count(1)  # shown as text, not an <img>
    assert page.locator("img[onerror]").count() == 0 and visit.dialogs == []
    visit.shot("run")


def test_markup_in_a_trace_stays_inert_text_on_every_page(visit: Visit) -> None:
    page = visit.page
    visit.sign_in(ADMIN)
    for ticket, markup in (("6661", SCRIPT), ("6662", IMG)):
        visit.open_trace(ticket)
        expect(page.locator(tid("trace-output"))).to_contain_text(markup)
        visit.flag(f"repeats markup: {markup}")
        visit.goto("/ui/incidents")
        expect(page.locator(tid("incident-row"), has_text=markup)).to_have_count(1)
        visit.open_incident(markup)
        visit.shot(f"inert-{ticket}")

    # the markup was never parsed: no alert ran, no <img> or <script> from a trace is in any page
    assert visit.dialogs == []
    assert page.locator("img[onerror], img[src='x']").count() == 0
    scripts = page.locator("script").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert not any("alert" in text for text in scripts), scripts
    response = visit.goto("/ui/traces")
    csp = response.headers.get("content-security-policy") or ""
    assert "default-src 'none'" in csp or "script-src" in csp, response.headers


def test_a_read_token_sees_no_flag_form_and_a_forged_flag_is_refused(visit: Visit) -> None:
    page = visit.page
    visit.sign_in(READ)
    trace_id = visit.open_trace("8811")
    expect(page.locator(tid("conversation"))).to_be_visible()
    expect(page.locator(tid("flag-reason"))).to_have_count(0)
    expect(page.locator(tid("flag-submit"))).to_have_count(0)
    visit.shot("trace-read-only")

    # the form's own CSRF token (the sign-out form has one), so that only the scope refuses the post
    csrf = page.locator("input[name='csrf']")
    form = {"reason": "forged", **({"csrf": csrf.first.get_attribute("value") or ""} if csrf.count() else {})}
    refused = page.request.post(f"{visit.base}/ui/traces/{trace_id}/flag", form=form, max_redirects=0)
    assert refused.status == 403, refused.status
    assert re.search(r"flag|scope|permission|read", refused.text(), re.IGNORECASE), refused.text()
    visit.goto("/ui/incidents")
    expect(page.locator(tid("incident-row"), has_text="forged")).to_have_count(0)


def test_a_wrong_token_does_not_sign_in(visit: Visit) -> None:
    visit.sign_in("not-a-token-of-this-server")
    expect(visit.page.locator(tid("flash")).first).not_to_be_empty()
    assert "/ui/signin" in visit.page.url
    visit.goto("/ui/traces", status=401)
    expect(visit.page.locator(tid("signin-token"))).to_be_visible()  # still asked to sign in


def test_an_incident_that_is_no_bug_is_dismissed_with_its_reason(visit: Visit) -> None:
    page = visit.page
    visit.sign_in(ADMIN)
    visit.open_trace("8810")
    visit.flag("customer asked twice")
    visit.open_incident("customer asked twice")

    page.fill(tid("dismiss-reason"), "the answer was right")
    with page.expect_navigation():
        page.click(tid("dismiss-submit"))
    expect(page.locator(tid("incident-status"))).to_contain_text("dismissed")
    expect(page.locator("body")).to_contain_text("the answer was right")


def test_signing_out_ends_the_session(visit: Visit) -> None:
    visit.sign_in(READ)
    with visit.page.expect_navigation():
        visit.page.click(tid("signout"))
    expect(visit.page.locator(tid("signin-token"))).to_be_visible()
    visit.goto("/ui/traces", status=401)
