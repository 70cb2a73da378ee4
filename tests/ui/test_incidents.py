"""The incidents pages: listing by status, an incident whole, annotating it (checked by the
grader registry, refused in the CLI's words), dismissing it, and the promote command to copy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from tests.server.conftest import ADMIN, Server, child_env
from tests.ui.conftest import FLAG, READ, Visitor, conversation_trace, trace_hex


def _flag(server: Server, trace: int, reason: str = "wrong ETA") -> str:
    assert server.export(conversation_trace(trace, ticket=str(trace))).status_code == 200
    answer = server.post("/api/flags", json={"trace_id": trace_hex(trace), "reason": reason})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["incident_id"])


def _cli_error(folder: Path, db: Path, *args: str) -> str:
    """The one `error:` line the real `cases` prints for these arguments."""
    proc = subprocess.run(
        [sys.executable, "-m", "casebank", *args, "--db", str(db)],
        cwd=folder,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0, proc.stdout
    line = proc.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, proc.stderr
    return line[len("error: ") :]


def test_incidents_are_listed_by_status(server_ui: Server, admin: Visitor) -> None:
    first, second = _flag(server_ui, 1), _flag(server_ui, 2, "rude")
    admin.submit(f"/ui/incidents/{second}", f"/ui/incidents/{second}/dismiss", {"reason": "tone is fine"})
    rows = re.compile(r'data-testid="incident-row" data-incident-id="([0-9a-f]+)"')
    assert rows.findall(admin.get("/ui/incidents").text) == [second, first]
    flagged = admin.get("/ui/incidents", status="flagged").text
    assert rows.findall(flagged) == [first]
    assert '<td class="status flagged" data-testid="incident-status">flagged</td>' in flagged
    assert rows.findall(admin.get("/ui/incidents", status="dismissed").text) == [second]
    bad = admin.get("/ui/incidents", status="open")
    assert bad.status_code == 400
    assert "status &#39;open&#39; is not one of flagged, annotated, promoted, dismissed, all" in bad.text


def test_an_incident_shows_its_reasons_input_and_bad_output(server_ui: Server, visitors: Any) -> None:
    incident = _flag(server_ui, 1, "the ETA is wrong")
    reader: Visitor = visitors()
    reader.sign_in(READ)
    page = reader.get(f"/ui/incidents/{incident}").text
    assert "the ETA is wrong" in page
    assert str(escape('"question": "Where is my order 8812?"')) in page
    assert 'data-testid="trace-output">Your order ships tomorrow.</pre>' in page
    assert "Not annotated yet." in page
    assert 'data-testid="annotate-expected"' not in page and 'data-testid="dismiss-reason"' not in page
    assert 'data-testid="conversation"' in page


def test_annotating_records_the_expectation_and_shows_the_promote_command(server_ui: Server, admin: Visitor) -> None:
    incident = _flag(server_ui, 1)
    page = admin.get(f"/ui/incidents/{incident}").text
    assert '<option value="exact" selected>exact</option>' in page and '<option value="regex">regex</option>' in page
    answer = admin.submit(
        f"/ui/incidents/{incident}",
        f"/ui/incidents/{incident}/annotate",
        {"expected": "ships\\s+on\\s+Monday", "grader": "regex", "options": "", "tags": "shipping, eta"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/incidents/{incident}?msg=annotated"
    shown = admin.get(answer.headers["location"]).text
    assert "Annotated: promote it from the repository with the command below." in shown
    assert 'data-testid="incident-status">annotated</span>' in shown
    assert "<code>eta</code> <code>shipping</code>" in shown
    assert f'data-testid="promote-command">cases promote {incident} --db {server_ui.url}</pre>' in shown
    stored = server_ui.get(f"/api/incidents/{incident}").json()
    assert (stored["expected"], stored["grader"], stored["tags"]) == (
        "ships\\s+on\\s+Monday",
        {"name": "regex", "options": {}},
        ["eta", "shipping"],
    )


def test_a_structured_expected_output_and_grader_options_are_json(server_ui: Server, admin: Visitor) -> None:
    incident = _flag(server_ui, 1)
    answer = admin.submit(
        f"/ui/incidents/{incident}",
        f"/ui/incidents/{incident}/annotate",
        {
            "expected": '{"eta": "monday"}',
            "expected_json": "1",
            "grader": "json_fields",
            "options": '{"tolerance": 0.1}',
        },
    )
    assert answer.status_code == 303, answer.text
    stored = server_ui.get(f"/api/incidents/{incident}").json()
    assert stored["expected"] == {"eta": "monday"}
    assert stored["grader"] == {"name": "json_fields", "options": {"tolerance": 0.1}}


@pytest.mark.parametrize(
    ("form", "cli"),
    [
        pytest.param(
            {"expected": "(", "grader": "regex"}, ["--grader", "regex", "--expected", "("], id="a-bad-pattern"
        ),
        pytest.param(
            {"expected": "x", "grader": "nope"}, ["--grader", "nope", "--expected", "x"], id="an-unknown-grader"
        ),
        pytest.param(
            {"expected": "x", "grader": "exact", "options": '{"treshold": 1}'},
            ["--grader", "exact", "--option", "treshold=1", "--expected", "x"],
            id="an-unknown-option",
        ),
    ],
)
def test_an_annotation_the_grader_registry_refuses_is_refused_in_the_clis_words(
    server_ui: Server, admin: Visitor, tmp_path: Path, db_path: Path, form: dict[str, str], cli: list[str]
) -> None:
    incident = _flag(server_ui, 1)
    message = _cli_error(tmp_path, db_path, "annotate", incident, *cli)
    answer = admin.submit(f"/ui/incidents/{incident}", f"/ui/incidents/{incident}/annotate", form)
    assert answer.status_code == 400
    assert f'data-testid="flash">{escape(message)}</p>' in answer.text
    assert f">{escape(form['expected'])}</textarea>" in answer.text  # what was typed is kept
    assert server_ui.get(f"/api/incidents/{incident}").json()["status"] == "flagged"


def test_annotating_and_dismissing_need_the_admin_scope(server_ui: Server, visitors: Any) -> None:
    incident = _flag(server_ui, 1)
    flagger: Visitor = visitors()
    flagger.sign_in(FLAG)
    for action, data in [("annotate", {"expected": "x"}), ("dismiss", {"reason": "x"})]:
        answer = flagger.submit(f"/ui/incidents/{incident}", f"/ui/incidents/{incident}/{action}", data)
        assert answer.status_code == 403
        assert "token &#39;triage&#39; lacks the &#39;admin&#39; scope" in answer.text
    assert server_ui.get(f"/api/incidents/{incident}").json()["status"] == "flagged"


def test_dismissing_needs_a_reason_and_annotating_reopens(server_ui: Server, admin: Visitor) -> None:
    incident = _flag(server_ui, 1)
    page, dismiss = f"/ui/incidents/{incident}", f"/ui/incidents/{incident}/dismiss"
    blank = admin.submit(page, dismiss, {"reason": " "})
    assert blank.status_code == 400
    assert "a dismissal needs a reason - say why the incident is not a bug" in blank.text
    answer = admin.submit(page, dismiss, {"reason": "the customer was joking"})
    assert answer.status_code == 303
    shown = admin.get(answer.headers["location"]).text
    assert "Dismissed." in shown and "the customer was joking" in shown
    assert 'data-testid="dismiss-reason"' not in shown and "Annotate (reopens it)" in shown
    admin.submit(page, f"/ui/incidents/{incident}/annotate", {"expected": "Monday", "grader": "contains"})
    assert server_ui.get(f"/api/incidents/{incident}").json()["status"] == "annotated"


def test_an_unknown_incident_is_a_page_that_says_so(server_ui: Server, admin: Visitor) -> None:
    page = admin.get("/ui/incidents/abcdef")
    assert page.status_code == 404
    assert "Traceback" not in page.text and 'data-testid="flash"' in page.text


def test_the_admin_token_signs_in_with_every_scope(admin: Visitor) -> None:
    assert ADMIN not in admin.get("/ui/traces").text
    assert "signed in as <strong>admin</strong> (ingest, flag, read, admin)" in admin.get("/ui/incidents").text
