"""The traces pages: searching by attribute, entry point, status and time, paging, one trace read
as a span tree and a conversation, flagging it, and untrusted content shown as inert text."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import escape

from tests.server.conftest import Server, otlp_request, otlp_span
from tests.ui.conftest import FLAG, READ, SECOND, START_NS, Visitor, conversation_trace, trace_hex


def _rows(html: str) -> list[str]:
    return re.findall(r'data-testid="trace-row" data-trace-id="([0-9a-f]{32})"', html)


def _send(server: Server, *requests: Any) -> None:
    for request in requests:
        assert server.export(request).status_code == 200


def test_traces_are_found_by_ticket_id_entry_point_status_and_time(server_ui: Server, visitors: Any) -> None:
    _send(
        server_ui,
        conversation_trace(1, start_ns=START_NS, ticket="8812"),
        conversation_trace(2, start_ns=START_NS + 60 * SECOND, ticket="9000"),
        conversation_trace(3, start_ns=START_NS + 120 * SECOND, ticket="8812", failed=True),
        conversation_trace(4, start_ns=START_NS + 180 * SECOND, entrypoint="support_bot:refund"),
    )
    visitor: Visitor = visitors()
    visitor.sign_in(READ)
    everything = visitor.get("/ui/traces")
    assert _rows(everything.text) == [trace_hex(4), trace_hex(3), trace_hex(2), trace_hex(1)]  # newest first
    assert f'href="/ui/traces/{trace_hex(1)}"' in everything.text
    assert _rows(visitor.get("/ui/traces", q="ticket_id=8812").text) == [trace_hex(3), trace_hex(1)]
    assert _rows(visitor.get("/ui/traces", q="ticket_id=8812", status="ok").text) == [trace_hex(1)]
    assert _rows(visitor.get("/ui/traces", status="error").text) == [trace_hex(3)]
    assert _rows(visitor.get("/ui/traces", entrypoint="support_bot:refund").text) == [trace_hex(4)]
    window = visitor.get("/ui/traces", since="2024-12-07T08:27:40Z", until="2024-12-07T08:29:40+00:00")
    assert _rows(window.text) == [trace_hex(3), trace_hex(2)]
    assert "No trace matches." in visitor.get("/ui/traces", q="ticket_id=1").text


def test_a_search_the_pages_cannot_read_says_what_was_wrong(server_ui: Server, visitors: Any) -> None:
    visitor: Visitor = visitors()
    visitor.sign_in(READ)
    for params, message in [
        (
            {"q": "nonsense"},
            "search &#39;nonsense&#39; is not KEY=VALUE - search by an attribute the app set, e.g. ticket_id=8812",
        ),
        ({"status": "broken"}, "status &#39;broken&#39; is not one of ok, error - or leave it empty for both"),
        ({"since": "yesterday"}, "&#39;yesterday&#39; is not an ISO-8601 time"),
        ({"before": "zz"}, "cursor &#39;zz&#39; is not a trace id"),
    ]:
        page = visitor.get("/ui/traces", **params)
        assert page.status_code == 400, params
        assert message in page.text
        assert 'data-testid="flash"' in page.text and 'data-testid="search-q"' in page.text


def test_traces_page_on_from_the_last_one_shown(server_ui: Server, visitors: Any) -> None:
    _send(server_ui, *(conversation_trace(n, start_ns=START_NS + n * SECOND, ticket="7") for n in range(1, 56)))
    visitor: Visitor = visitors()
    visitor.sign_in(READ)
    first = visitor.get("/ui/traces", q="ticket_id=7")
    assert _rows(first.text) == [trace_hex(n) for n in range(55, 5, -1)]
    link = re.search(r'href="([^"]+)" data-testid="next-page"', first.text)
    assert link is not None
    second = visitor.get(link.group(1).replace("&amp;", "&"))
    assert _rows(second.text) == [trace_hex(n) for n in range(5, 0, -1)]
    assert 'data-testid="next-page"' not in second.text


def test_a_trace_reads_as_a_span_tree_a_conversation_tool_calls_and_token_usage(
    server_ui: Server, visitors: Any
) -> None:
    _send(server_ui, conversation_trace(1, ticket="8812"))
    visitor: Visitor = visitors()
    visitor.sign_in(READ)
    page = visitor.get(f"/ui/traces/{trace_hex(1)[:10]}")  # any unique prefix, as the CLI takes
    assert page.status_code == 200
    html = page.text
    tree = html[html.index('data-testid="span-tree"') : html.index("</ol>")]
    assert re.findall(r'class="span depth-(\d+)', tree) == ["0", "1", "2"]
    assert "+2.0 ms · 5.0 ms" in tree and "120 in / 30 out tokens" in tree
    conversation = html[html.index('data-testid="conversation"') :]
    assert "You are a helpful support agent." in conversation
    assert "Where is my order 8812?" in conversation
    assert "calls tool <code>lookup_order</code>" in conversation
    assert "Your order ships tomorrow." in conversation
    assert escape('"status": "shipped"') in html  # the tool's result, as indented JSON
    assert 'data-testid="token-usage">120 in / 30 out' in html
    assert "<code>ticket_id=8812</code>" in html
    assert 'data-testid="flag-reason"' not in html  # a read session sees no flag form


def test_a_tool_span_of_another_instrumentation_shows_its_genai_arguments_and_result(
    server_ui: Server, visitors: Any
) -> None:
    # OTel GenAI `execute_tool` spans, as other instrumentations write them: no casebank.step.*.
    root = otlp_span(9, 901, "agent", start_ns=START_NS)
    lookup = otlp_span(
        9,
        902,
        "execute_tool lookup_order",
        parent=901,
        start_ns=START_NS + 1_000_000,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="lookup_order",
        gen_ai__tool__call__id="call_7",
        gen_ai__tool__call__arguments='{"order": 8812}',
        gen_ai__tool__call__result='{"status": "shipped", "eta": "tomorrow"}',
    )
    search = otlp_span(
        9,
        903,
        "execute_tool web_search",
        parent=901,
        start_ns=START_NS + 2_000_000,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name="web_search",
        gen_ai__tool__call__arguments="refund window <shoes>",
        gen_ai__tool__call__result="14 days",
    )
    _send(server_ui, otlp_request(root, lookup, search, scope="openinference"))
    visitor: Visitor = visitors()
    visitor.sign_in(READ)
    page = visitor.get(f"/ui/traces/{trace_hex(9)}")
    assert page.status_code == 200
    tools = page.text[page.text.index('data-testid="tool-calls"') :]
    shown = re.findall(
        r"<h3><code>([^<]*)</code>.*?arguments</p><pre>(.*?)</pre>.*?result</p><pre>(.*?)</pre>", tools, re.S
    )
    assert shown == [
        ("lookup_order", escape('{\n  "order": 8812\n}'), escape('{\n  "eta": "tomorrow",\n  "status": "shipped"\n}')),
        ("web_search", escape("refund window <shoes>"), "14 days"),
    ]


def test_a_flag_form_too_large_says_to_shorten_the_reason(server_ui: Server, visitors: Any) -> None:
    _send(server_ui, conversation_trace(1))
    visitor: Visitor = visitors()
    visitor.sign_in(FLAG)
    reason = "x" * (1024 * 1024 + 1)
    answer = visitor.submit(f"/ui/traces/{trace_hex(1)}", f"/ui/traces/{trace_hex(1)}/flag", {"reason": reason})
    assert answer.status_code == 413
    assert "the form is larger than 1024 KB - shorten the reason" in answer.text
    assert "expected output" not in answer.text


def test_a_flag_from_the_trace_page_makes_an_incident(server_ui: Server, visitors: Any) -> None:
    _send(server_ui, conversation_trace(1, ticket="8812"))
    visitor: Visitor = visitors()
    visitor.sign_in(FLAG)
    answer = visitor.submit(f"/ui/traces/{trace_hex(1)}", f"/ui/traces/{trace_hex(1)}/flag", {"reason": "wrong ETA"})
    assert answer.status_code == 303
    incident_page = visitor.get(answer.headers["location"])
    assert "Flagged: the incident holds your reason." in incident_page.text
    assert "wrong ETA" in incident_page.text and "— triage," in incident_page.text
    again = visitor.get(f"/ui/traces/{trace_hex(1)}")
    assert 'data-testid="flag-reason"' in again.text and "(flagged)" in again.text
    blank = visitor.submit(f"/ui/traces/{trace_hex(1)}", f"/ui/traces/{trace_hex(1)}/flag", {"reason": "  "})
    assert blank.status_code == 400
    assert "a flag needs a reason - say what was wrong with the answer" in blank.text


def test_a_flag_without_the_scope_or_the_forms_token_is_refused(server_ui: Server, visitors: Any) -> None:
    _send(server_ui, conversation_trace(1))
    target = f"/ui/traces/{trace_hex(1)}/flag"
    reader: Visitor = visitors()
    reader.sign_in(READ)
    forged = reader.submit(f"/ui/traces/{trace_hex(1)}", target, {"reason": "forged"})
    assert forged.status_code == 403
    assert "token &#39;support&#39; lacks the &#39;flag&#39; scope" in forged.text
    flagger: Visitor = visitors()
    flagger.sign_in(FLAG)
    for data in ({"reason": "no csrf"}, {"reason": "wrong csrf", "csrf": "0" * 43}):
        answer = flagger.post(target, data)
        assert answer.status_code == 403
        assert "the form&#39;s CSRF token is missing or wrong" in answer.text
    page = flagger.get(f"/ui/traces/{trace_hex(1)}")
    from tests.ui.conftest import csrf_of

    elsewhere = flagger.post(target, {"reason": "x", "csrf": csrf_of(page.text)}, origin="https://evil.example")
    assert elsewhere.status_code == 403
    assert "this form was sent from another site" in elsewhere.text
    assert "(flagged)" not in flagger.get(f"/ui/traces/{trace_hex(1)}").text


def test_an_unknown_trace_is_a_page_that_says_so(server_ui: Server, visitors: Any) -> None:
    visitor: Visitor = visitors()
    visitor.sign_in(READ)
    for ref, status, words in [("ab" * 16, 404, "no trace matches"), ("zz", 400, "is not a trace id")]:
        page = visitor.get(f"/ui/traces/{ref}")
        assert page.status_code == status
        assert words in page.text and "Traceback" not in page.text


def test_script_in_a_trace_is_shown_as_text_and_never_runs(server_ui: Server, visitors: Any) -> None:
    attacks = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]
    _send(
        server_ui, conversation_trace(1, output=attacks[0], ticket=attacks[1]), conversation_trace(2, output=attacks[1])
    )
    visitor: Visitor = visitors()
    visitor.sign_in(FLAG)
    pages = [visitor.get("/ui/traces").text, visitor.get(f"/ui/traces/{trace_hex(1)}").text]
    pages.append(visitor.get(f"/ui/traces/{trace_hex(2)}").text)
    flagged = visitor.submit(f"/ui/traces/{trace_hex(1)}", f"/ui/traces/{trace_hex(1)}/flag", {"reason": attacks[1]})
    pages.append(visitor.get(flagged.headers["location"]).text)
    pages.append(visitor.get("/ui/incidents").text)
    for html in pages:
        assert "<script>" not in html.lower() and "<img" not in html.lower()
    assert escape(attacks[0]) in pages[1] and escape(attacks[1]) in pages[2]
