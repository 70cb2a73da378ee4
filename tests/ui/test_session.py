"""The review pages' session cookie and CSRF tokens, on their own (`casebank/ui/_session.py`)."""

from __future__ import annotations

from casebank.ui._session import Sessions


def test_a_session_reads_back_from_its_cookie_and_names_the_token_by_its_hash() -> None:
    sessions = Sessions()
    made, cookie = sessions.new("sha256:" + "a" * 64)
    assert sessions.read(cookie) == made
    assert "a" * 64 not in cookie  # the hash is inside, encoded; never the token itself


def test_an_expired_forged_or_foreign_cookie_is_no_session() -> None:
    sessions = Sessions()
    _, cookie = sessions.new(None)
    assert Sessions(lifetime_s=-1).read(Sessions(lifetime_s=-1).new(None)[1]) is None  # expired
    assert Sessions().read(cookie) is None  # signed by another server's secret (or before a restart)
    body, _, signature = cookie.partition(".")
    assert sessions.read(body + "." + signature[::-1]) is None
    assert sessions.read("not a cookie") is None and sessions.read(None) is None


def test_a_signed_out_session_is_refused_and_its_csrf_token_is_its_own() -> None:
    sessions = Sessions()
    one, cookie = sessions.new(None)
    other, _ = sessions.new(None)
    assert sessions.csrf_ok(one, sessions.csrf(one))
    assert not sessions.csrf_ok(one, sessions.csrf(other)) and not sessions.csrf_ok(one, None)
    sessions.forget(one)
    assert sessions.read(cookie) is None
