"""Signing in and out of the review pages: the cookie, the CSRF token, the scopes, revocation."""

from __future__ import annotations

from typing import Any

from casebank.store import open_store
from tests.server.conftest import ADMIN, Server
from tests.ui.conftest import FLAG, INGEST, READ, Visitor, csrf_of

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def test_signing_in_sets_an_http_only_strict_cookie_and_goes_to_the_traces(visitors: Any) -> None:
    visitor: Visitor = visitors()
    answer = visitor.sign_in(READ)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/traces"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("casebank_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https requests get Secure
    assert READ not in cookie  # the cookie names the token by a signed hash, never holds it
    page = visitor.get("/ui/traces")
    assert page.status_code == 200
    assert "signed in as <strong>support</strong> (read)" in page.text


def test_every_page_sends_a_strict_content_security_policy_and_no_store(visitors: Any) -> None:
    visitor: Visitor = visitors()
    for path in ("/ui/signin", "/ui/traces", "/ui/static/casebank.css", "/ui/nowhere", "/ui", "/ui/signout"):
        answer = visitor.get(path)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"


def test_a_missing_static_file_or_a_method_a_page_does_not_take_is_a_page_saying_so(visitors: Any) -> None:
    visitor: Visitor = visitors()
    missing = visitor.get("/ui/static/x.css")
    refused = visitor.post("/ui/traces", {})
    assert missing.status_code == 404
    assert "there is no page /ui/static/x.css - start from the traces at /ui/traces" in missing.text
    assert refused.status_code == 405 and set(refused.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert "POST is not allowed on /ui/traces - use GET" in refused.text
    for answer in (missing, refused):
        assert 'data-testid="flash"' in answer.text and "not allowed on /ui/static" not in answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["cache-control"] == "no-store"


def test_a_form_sent_with_origin_null_as_the_pages_referrer_policy_makes_browsers_send_is_taken(
    visitors: Any,
) -> None:
    visitor: Visitor = visitors()
    page = visitor.get("/ui/signin")
    answer = visitor.post("/ui/signin", {"csrf": csrf_of(page.text), "token": READ}, origin="null")
    assert answer.status_code == 303


def test_a_page_without_a_session_asks_to_sign_in_and_comes_back_after(visitors: Any) -> None:
    visitor: Visitor = visitors()
    page = visitor.get("/ui/incidents", status="flagged")
    assert page.status_code == 401
    assert "sign in with a token to see the review pages" in page.text
    assert 'name="next" value="/ui/incidents?status=flagged"' in page.text
    answer = visitor.post(
        "/ui/signin", {"csrf": csrf_of(page.text), "token": READ, "next": "/ui/incidents?status=flagged"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/incidents?status=flagged"


def test_a_sign_in_goes_back_only_to_a_page_of_the_review_pages(visitors: Any) -> None:
    visitor: Visitor = visitors()
    page = visitor.get("/ui/signin")
    answer = visitor.post("/ui/signin", {"csrf": csrf_of(page.text), "token": READ, "next": "//evil.example/x"})
    assert answer.headers["location"] == "/ui/traces"


def test_a_token_the_server_does_not_know_or_that_cannot_read_cannot_sign_in(visitors: Any) -> None:
    visitor: Visitor = visitors()
    unknown = visitor.sign_in("not-a-token")
    assert unknown.status_code == 401
    assert "this token is not one this server knows" in unknown.text
    ingest = visitor.sign_in(INGEST)
    assert ingest.status_code == 403
    assert "token &#39;collector&#39; has the scopes ingest, and the review pages need read" in ingest.text
    assert visitor.get("/ui/traces").status_code == 401


def test_a_sign_in_without_the_forms_csrf_token_is_refused(visitors: Any) -> None:
    visitor: Visitor = visitors()
    visitor.get("/ui/signin")
    answer = visitor.post("/ui/signin", {"token": ADMIN})
    assert answer.status_code == 403
    assert "the sign-in form has expired - sign in again" in answer.text
    assert visitor.get("/ui/traces").status_code == 401


def test_signing_out_ends_the_session_even_for_a_copy_of_its_cookie(visitors: Any) -> None:
    visitor: Visitor = visitors()
    visitor.sign_in(FLAG)
    copy = dict(visitor.client.cookies)
    answer = visitor.submit("/ui/traces", "/ui/signout", {})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/signin?msg=signed_out"
    assert visitor.get("/ui/signin?msg=signed_out").text.count("Signed out.") == 1
    assert visitor.get("/ui/traces").status_code == 401
    thief: Visitor = visitors()
    thief.client.cookies.update(copy)
    page = thief.get("/ui/traces")
    assert page.status_code == 401
    assert "your session has expired or was signed out - sign in again" in page.text


def test_a_revoked_token_ends_its_sessions_at_once(visitors: Any, server_ui: Server, db_path: Any) -> None:
    visitor: Visitor = visitors()
    visitor.sign_in(READ)
    assert visitor.get("/ui/traces").status_code == 200
    with open_store(db_path) as store:
        store.revoke_token("support")
    page = visitor.get("/ui/traces")
    assert page.status_code == 401
    assert "no longer known to this server (revoked?)" in page.text


def test_a_forged_or_tampered_cookie_is_no_session(visitors: Any) -> None:
    visitor: Visitor = visitors()
    visitor.sign_in(ADMIN)
    value = visitor.client.cookies["casebank_session"]
    body, _, signature = value.partition(".")
    visitor.client.cookies.clear()
    visitor.client.cookies.set("casebank_session", body + "x." + signature, path="/ui")
    assert visitor.get("/ui/traces").status_code == 401
