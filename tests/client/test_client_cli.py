"""`cases ... --db http://...`: every incident command against a real `cases serve`, through the
real `cases` command, as an engineer on a laptop runs it against production's server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import orjson
import pytest

from casebank.store import incident_id_for, open_store
from tests.cli.conftest import assert_one_line_error
from tests.client.conftest import TOKENS, App, Cases, Server, child_env, free_port


@pytest.fixture
def traces(server: Server, app: App) -> list[str]:
    return app.send(server.url, ("How long do refunds take?", "8812"), ("Where is my order?", "8813"))


def test_traces_and_status_read_the_server(cases: Cases, server: Server, traces: list[str]) -> None:
    listed = cases("traces", "--json")
    assert listed.code == 0, listed.err
    assert {t["trace_id"] for t in json.loads(listed.out)} == set(traces)
    table = cases("traces", token=TOKENS["read"])
    assert table.code == 0 and traces[0] in table.out and "support_app:answer" in table.out
    status = cases("status", "--json", token=TOKENS["read"])
    assert status.code == 0, status.err
    counts = json.loads(status.out)
    assert counts["store"] == server.url
    assert (counts["traces"], counts["spans"], counts["dropped_spans"]) == (2, 4, 0)


def test_flag_list_show_annotate_promote_from_another_machine(
    cases: Cases, server: Server, traces: list[str], app: App
) -> None:
    refunds = traces[0]
    flagged = cases(
        "flag", refunds[:8], "--reason", "wrong refund window: policy says 30 days", "--by", "ana", token=TOKENS["flag"]
    )
    assert (flagged.code, flagged.err) == (0, "")
    incident_id = flagged.out.strip()
    assert incident_id == incident_id_for(refunds)
    again = cases("flag", "--where", "ticket_id=8812", "--reason", "said 14 days", token=TOKENS["flag"])
    assert again.out.strip() == incident_id

    listed = cases("list", "--json", token=TOKENS["read"])
    assert listed.code == 0, listed.err
    [row] = json.loads(listed.out)
    assert (row["id"], row["status"], len(row["reasons"])) == (incident_id, "flagged", 2)
    shown = cases("show", incident_id[:5], token=TOKENS["read"])
    assert shown.code == 0, shown.err
    assert "wrong refund window" in shown.out and "lookup" in shown.out  # its reasons and its spans

    annotated = cases("annotate", incident_id[:5], "--expected", "We refund within 30 days.", "--tag", "refunds")
    assert annotated.code == 0, annotated.err
    assert f"next: cases promote {incident_id}" in annotated.out
    promoted = cases("promote", incident_id[:5])
    assert promoted.code == 0, promoted.err
    case_path = promoted.out.strip()
    case = orjson.loads((app.folder / case_path).read_bytes())  # the case file is written here, on the laptop
    assert case["expected"] == "We refund within 30 days."
    assert case["source"]["trace_id"] == refunds
    with open_store(server.db, create=False) as store:  # ... and the server's incident says so
        incident = store.get_incident(incident_id)
    assert (incident.status, incident.case_path, incident.tags) == ("promoted", case_path, ["refunds"])
    assert json.loads(cases("show", incident_id, "--json").out)["status"] == "promoted"


def test_dismiss_closes_the_incident_on_the_server(cases: Cases, server: Server, traces: list[str]) -> None:
    incident_id = cases("flag", traces[1], "--reason", "rude").out.strip()
    dismissed = cases("dismiss", incident_id, "--reason", "the customer misread it")
    assert (dismissed.code, dismissed.out.strip()) == (0, f"dismissed incident {incident_id}")
    with open_store(server.db, create=False) as store:
        assert store.get_incident(incident_id).dismissed_reason == "the customer misread it"
    assert json.loads(cases("list", "--status", "dismissed", "--json").out)[0]["id"] == incident_id


def test_a_flag_ahead_of_its_trace_is_held_and_attached_when_the_trace_arrives(
    cases: Cases, server: Server, app: App
) -> None:
    script = f"""
        import casebank, support_app
        casebank.init(endpoint={server.url!r}, token={TOKENS["ingest"]!r}, instrument=False)
        @casebank.trace
        def first():
            print(casebank.current_trace_id(), flush=True)
            input()  # the test flags the trace before it ends and is exported
            return "ok"
        first()
        assert casebank.flush(timeout_s=60)
    """
    (app.folder / "support_app.py").write_text("")
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=app.folder,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    trace_id = child.stdout.readline().strip()
    held = cases("flag", trace_id, "--reason", "flagged before it arrived", token=TOKENS["flag"])
    assert held.code == 0, held.err
    assert held.out.strip() == incident_id_for(trace_id)  # the id its incident will have
    assert held.err.strip() == (
        f"held: trace {trace_id} has not reached {server.url} yet - the server flags it when it arrives"
    )
    by_ticket = cases("flag", "--where", "ticket_id=77", "--reason", "no such ticket yet", token=TOKENS["flag"])
    assert (by_ticket.code, by_ticket.out) == (0, "")  # which trace will match, and so its incident, is not known
    assert by_ticket.err.strip() == (
        f"held: the trace with ticket_id=77 has not reached {server.url} yet - the server flags it when it arrives"
    )
    child.communicate("\n", timeout=120)
    assert child.returncode == 0
    shown = cases("show", held.out.strip(), "--json", token=TOKENS["read"])
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["reasons"][0]["reason"] == "flagged before it arrived"


def test_runs_are_not_available_through_a_server(cases: Cases, server: Server) -> None:
    result = cases("runs")
    assert_one_line_error(
        result, 2, f"is not available through a casebank server ({server.url}) - run it where the store is"
    )


@pytest.mark.parametrize(
    ("token", "fragments"),
    [
        pytest.param(
            None, ["it needs a token: set CASEBANK_TOKEN", "cases token create --name NAME --scope read"], id="missing"
        ),
        pytest.param("not-a-token", ["set CASEBANK_TOKEN to a token it knows"], id="wrong"),
    ],
)
def test_a_missing_or_wrong_token_says_how_to_get_one(
    cases: Cases, server: Server, token: str | None, fragments: list[str]
) -> None:
    result = cases("list", token=token)
    assert_one_line_error(result, 2, f"error: {server.url} refused the request: ", *fragments)


def test_a_token_without_the_scope_names_the_scope(cases: Cases, traces: list[str]) -> None:
    result = cases("flag", traces[0], "--reason", "wrong", token=TOKENS["read"])
    assert_one_line_error(result, 2, "'flag' scope", "cases token create --name NAME --scope flag", "CASEBANK_TOKEN")
    result = cases("dismiss", incident_id_for(traces[0]), "--reason", "x", token=TOKENS["flag"])
    assert_one_line_error(result, 2, "'read' scope")  # it cannot even look the incident up


def test_an_unknown_incident_and_a_server_that_is_down_say_so_in_one_line(cases: Cases) -> None:
    assert_one_line_error(cases("show", "abcdef"), 2)
    down = f"http://127.0.0.1:{free_port()}"
    result = cases("list", "--db", down, db=False)
    assert_one_line_error(result, 2, f"the casebank server at {down} cannot be reached", "start it with 'cases serve'")
