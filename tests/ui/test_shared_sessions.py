"""Review-page sessions across servers: with one CASEBANK_SESSION_SECRET, servers behind a load
balancer (and a server after a restart) take each other's cookies and CSRF tokens; without it,
a session belongs to the process that made it."""

from __future__ import annotations

from pathlib import Path

import httpx

from casebank.store import open_store
from tests.server.conftest import Server, start_server
from tests.server.test_serve import DRAINED, run_cases
from tests.ui.conftest import FLAG, add_tokens, conversation_trace, csrf_of, trace_hex

SECRET = "shared-session-secret-" + "0123456789abcdef" * 2


def _browser() -> httpx.Client:
    # Cookies are kept per host, not per port (RFC 6265): the two servers on 127.0.0.1 stand for
    # two replicas behind one host name.
    return httpx.Client(timeout=30, follow_redirects=False)


def _sign_in(browser: httpx.Client, server: Server) -> None:
    page = browser.get(server.url + "/ui/signin")
    answer = browser.post(server.url + "/ui/signin", data={"csrf": csrf_of(page.text), "token": FLAG})
    assert answer.status_code == 303, answer.text


def test_servers_sharing_a_session_secret_take_each_others_sessions_and_forms(
    tmp_path: Path, db_path: Path, servers: list[Server]
) -> None:
    add_tokens(str(db_path))
    one, two = (start_server(tmp_path, db_path, env={"CASEBANK_SESSION_SECRET": SECRET}) for _ in range(2))
    servers += [one, two]
    assert one.export(conversation_trace(1, ticket="8812")).status_code == 200
    target = f"/ui/traces/{trace_hex(1)}"

    with _browser() as browser:
        _sign_in(browser, one)
        assert browser.get(two.url + "/ui/traces").status_code == 200
        page = browser.get(one.url + target)  # the form comes from one server, is sent to the other
        answer = browser.post(two.url + target + "/flag", data={"csrf": csrf_of(page.text), "reason": "wrong ETA"})
        assert answer.status_code == 303, answer.text

        assert one.stop() in DRAINED
        again = start_server(tmp_path, db_path, env={"CASEBANK_SESSION_SECRET": SECRET})
        servers.append(again)
        assert browser.get(again.url + "/ui/traces").status_code == 200  # a restart signs nobody out

    with open_store(db_path) as store:
        reasons = [[entry["reason"] for entry in incident.reasons] for incident in store.list_incidents()]
    assert reasons == [["wrong ETA"]]


def test_without_a_shared_secret_a_session_is_the_servers_that_made_it(
    tmp_path: Path, db_path: Path, servers: list[Server]
) -> None:
    add_tokens(str(db_path))
    (tmp_path / "secret").write_text(SECRET + "\n")
    one = start_server(tmp_path, db_path, args=("--session-secret-file", str(tmp_path / "secret")))
    two = start_server(tmp_path, db_path)
    servers += [one, two]

    with _browser() as browser:
        _sign_in(browser, one)
        assert browser.get(one.url + "/ui/traces").status_code == 200
        page = browser.get(two.url + "/ui/traces")
        assert page.status_code == 401
        assert "your session has expired or was signed out - sign in again" in page.text


def test_a_session_secret_too_short_or_unreadable_is_refused_before_serving(tmp_path: Path, db_path: Path) -> None:
    add_tokens(str(db_path))
    (tmp_path / "short").write_text("hunter2\n")
    serve = ("serve", "--db", str(db_path), "--port", "1")

    short_env = run_cases(tmp_path, *serve, CASEBANK_TOKEN="t" * 32, CASEBANK_SESSION_SECRET="too-short")
    short_file = run_cases(tmp_path, *serve, "--session-secret-file", str(tmp_path / "short"))
    missing = run_cases(tmp_path, *serve, "--session-secret-file", str(tmp_path / "nowhere"))

    assert (short_env.returncode, short_env.stderr) == (
        2,
        "error: $CASEBANK_SESSION_SECRET holds 9 characters; a session secret needs 32 or more "
        "- make one with 'openssl rand -hex 32'\n",
    )
    assert (short_file.returncode, short_file.stderr) == (
        2,
        f"error: --session-secret-file '{tmp_path / 'short'}' holds 7 characters; a session secret needs 32 "
        "or more - make one with 'openssl rand -hex 32'\n",
    )
    assert (missing.returncode, missing.stderr) == (
        2,
        f"error: cannot read --session-secret-file '{tmp_path / 'nowhere'}': No such file or directory\n",
    )
