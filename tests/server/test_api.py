"""The JSON API: flags (created, repeated, held, refused), incidents and traces, counts; store
errors as HTTP statuses with one-line messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from casebank.store import incident_id_for, open_store
from tests.server.conftest import Server, traced_request

# Trace ids whose prefixes tell them apart: "a1" names the first two, "b3" the third.
N1, N2, N3 = (int(text, 16) for text in ("a1" + "0" * 29 + "1", "a1" + "0" * 29 + "2", "b3" + "0" * 29 + "3"))
T1, T2, T3 = (f"{n:032x}" for n in (N1, N2, N3))


@pytest.fixture
def stored(server: Server) -> Server:
    """A server whose store holds three traces: tickets 8812, 8812 and 9000."""
    for trace, ticket in ((N1, "8812"), (N2, "8812"), (N3, "9000")):
        assert server.export(traced_request(trace, ticket=ticket)).status_code == 200
    return server


def flag(server: Server, **body: object):  # type: ignore[no-untyped-def]
    return server.post("/api/flags", json={"reason": "wrong refund window", "flagged_by": "ana", **body})


def test_a_flag_makes_an_incident_201_and_a_repeat_flag_answers_200_with_the_same_one(stored: Server) -> None:
    first = flag(stored, trace_id=T3)
    again = flag(stored, trace_id=T3[:6])

    incident = incident_id_for(T3)
    assert (first.status_code, first.json()) == (201, {"incident_id": incident, "trace_id": T3, "status": "created"})
    assert (again.status_code, again.json()) == (200, {"incident_id": incident, "trace_id": T3, "status": "exists"})
    shown = stored.get(f"/api/incidents/{incident[:6]}").json()
    assert [r["reason"] for r in shown["reasons"]] == ["wrong refund window", "wrong refund window"]
    assert shown["has_expected"] is False and len(shown["spans"]) == 2


def test_a_flag_by_where_finds_the_one_trace_or_says_which_are_ambiguous(stored: Server) -> None:
    one = flag(stored, where={"ticket_id": "9000"})
    several = flag(stored, where={"ticket_id": "8812"})

    assert (one.status_code, one.json()["trace_id"]) == (201, T3)
    assert several.status_code == 409
    assert "ticket_id" in several.json()["error"] and T1 in several.json()["error"]


def test_a_flag_for_a_trace_not_arrived_is_held_202_and_attached_when_its_root_comes(
    server: Server, db_path: Path
) -> None:
    by_id = flag(server, trace_id=T2)
    by_where = flag(server, where={"ticket_id": "9000"})
    assert (by_id.status_code, by_id.json()) == (202, {"status": "pending", "trace_id": T2})
    assert (by_where.status_code, by_where.json()) == (202, {"status": "pending", "where": {"ticket_id": "9000"}})

    assert server.export(traced_request(N2, ticket="8812")).status_code == 200
    assert server.export(traced_request(N3, ticket="9000")).status_code == 200

    listed = server.get("/api/incidents").json()["incidents"]
    assert sorted(i["trace_id"] for i in listed) == [T2, T3]
    assert all("spans" not in i for i in listed)
    with open_store(db_path) as store:
        assert store.pending_flags() == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param(
            {"trace_id": "a1"},
            409,
            "trace id 'a1' is ambiguous",
            id="ambiguous-prefix",
        ),
        pytest.param(
            {"trace_id": "ffff"},
            404,
            "a flag is held for a trace not arrived yet only by its full",
            id="unknown-prefix",
        ),
        pytest.param({"trace_id": "xyz"}, 400, "'xyz' is not a trace id", id="not-hex"),
        pytest.param({"trace_id": T1 + "00"}, 400, "is longer than 32 hex characters", id="too-long"),
        pytest.param(
            {}, 400, "a flag names exactly one of 'trace_id' (32 hex or a unique prefix) or 'where'", id="no-target"
        ),
        pytest.param({"trace_id": T1, "where": {"a": "b"}}, 400, "exactly one of", id="both-targets"),
        pytest.param({"where": {"a": ["b"]}}, 400, "'where' must be a non-empty object of attributes", id="where-list"),
        pytest.param({"trace_id": T1, "reason": " "}, 400, "'reason' is missing or empty", id="no-reason"),
        pytest.param({"trace_id": 12}, 400, "'trace_id' must be text", id="id-a-number"),
    ],
)
def test_a_flag_that_cannot_be_made_or_held_says_why(
    stored: Server, body: dict[str, object], status: int, message: str
) -> None:
    answer = flag(stored, **body)

    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert stored.get("/api/incidents").json() == {"incidents": []}


def test_an_incident_is_annotated_dismissed_and_marked_promoted_by_prefix(stored: Server) -> None:
    incident = flag(stored, trace_id=T1).json()["incident_id"]

    annotated = stored.post(
        f"/api/incidents/{incident[:5]}/annotate",
        json={"expected": "We refund within 30 days.", "grader": {"name": "exact", "options": {}}, "tags": ["refunds"]},
    )
    dismissed = stored.post(f"/api/incidents/{incident}/dismiss", json={"reason": "fine after all"})
    reopened = stored.post(f"/api/incidents/{incident}/annotate", json={"expected": "We refund within 30 days."})
    promoted = stored.post(f"/api/incidents/{incident}/promoted", json={"case_id": "c1", "case_path": "evals/c1.json"})
    refused = stored.post(f"/api/incidents/{incident}/dismiss", json={"reason": "too late"})

    assert annotated.status_code == 200, annotated.text
    assert (annotated.status_code, annotated.json()["status"], annotated.json()["has_expected"]) == (
        200,
        "annotated",
        True,
    )
    assert annotated.json()["grader"] == {"name": "exact", "options": {}} and annotated.json()["tags"] == ["refunds"]
    assert (dismissed.status_code, dismissed.json()["status"]) == (200, "dismissed")
    assert (reopened.status_code, reopened.json()["status"]) == (200, "annotated")
    assert (promoted.status_code, promoted.json()["case_path"]) == (200, "evals/c1.json")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": f"incident {incident} is already promoted as 'evals/c1.json' - remove that case file instead"
    }
    assert [i["id"] for i in stored.get("/api/incidents?status=promoted").json()["incidents"]] == [incident]
    assert stored.get("/api/incidents?status=dismissed").json() == {"incidents": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        pytest.param("GET", "/api/incidents?status=open", None, 400, "status 'open' is not one of", id="bad-status"),
        pytest.param("GET", "/api/incidents/0000", None, 404, "no incident matches '0000'", id="no-incident"),
        pytest.param("GET", "/api/incidents/zz", None, 400, "'zz' is not an incident id", id="not-hex"),
        pytest.param("POST", "/api/incidents/{id}/annotate", {"grader": {}}, 400, "needs 'expected'", id="no-expected"),
        pytest.param(
            "POST", "/api/incidents/{id}/annotate", {"expected": 1, "tags": "x"}, 400, "'tags' must be", id="tags"
        ),
        pytest.param("POST", "/api/incidents/{id}/dismiss", {}, 400, "'reason' is missing or empty", id="no-reason"),
        pytest.param(
            "POST", "/api/incidents/{id}/promoted", {"case_id": "c"}, 400, "'case_path' is missing", id="no-path"
        ),
        pytest.param("POST", "/api/incidents/{id}/dismiss", "[1", 400, "the body is not JSON", id="cut-json"),
        pytest.param("POST", "/api/incidents/{id}/dismiss", [1], 400, "the body must be a JSON object", id="a-list"),
        pytest.param(
            "GET", "/api/traces?limit=0", None, 400, "limit '0' is not a whole number from 1 to 1000", id="limit"
        ),
        pytest.param("GET", "/api/traces?where=ticket_id", None, 400, "where 'ticket_id' is not KEY:VALUE", id="where"),
        pytest.param("GET", "/api/traces/ffff", None, 404, "ffff", id="no-trace"),
        pytest.param("GET", "/api/traces/a1", None, 409, "ambiguous", id="ambiguous-trace"),
    ],
)
def test_a_bad_call_is_one_error_line_with_its_status(
    stored: Server, method: str, path: str, body: object, status: int, message: str
) -> None:
    incident = flag(stored, trace_id=T3).json()["incident_id"]
    url = stored.url + path.replace("{id}", incident)
    headers = stored.headers(**{"Content-Type": "application/json"})
    content = body.encode() if isinstance(body, str) else None
    answer = stored.client.request(method, url, headers=headers, json=None if content else body, content=content)

    assert answer.status_code == status, answer.text
    assert list(answer.json()) == ["error"] and message in answer.json()["error"]
    assert "\n" not in answer.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "status", "message", "allow"),
    [
        pytest.param(
            "GET",
            "/api/nope",
            404,
            "no route GET /api/nope - see /api/openapi.json for the routes",
            None,
            id="no-route",
        ),
        pytest.param("POST", "/api/incidents", 405, "POST is not allowed on /api/incidents - use GET", "GET, HEAD"),
        pytest.param("GET", "/v1/traces", 405, "GET is not allowed on /v1/traces - use POST", "POST", id="ingest"),
        pytest.param("DELETE", "/api/traces/a1", 405, "DELETE is not allowed on /api/traces/a1 - use GET", "GET, HEAD"),
    ],
)
def test_an_unknown_route_or_method_is_one_json_error_line_too(
    server: Server, method: str, path: str, status: int, message: str, allow: str | None
) -> None:
    answer = server.client.request(method, server.url + path, headers=server.headers())

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"error": message}
    assert _methods(answer.headers.get("allow")) == _methods(allow)  # Starlette's order varies


def _methods(allow: str | None) -> set[str]:
    return {m.strip() for m in (allow or "").split(",") if m.strip()}


def test_traces_are_read_by_where_newest_first_and_by_prefix_with_their_spans(stored: Server) -> None:
    by_ticket = stored.get("/api/traces", params=[("where", "ticket_id:8812"), ("limit", "20")]).json()["traces"]
    newest = stored.get("/api/traces?limit=1").json()["traces"]
    one = stored.get(f"/api/traces/{T3[:29]}").json()

    assert sorted(t["trace_id"] for t in by_ticket) == [T1, T2]
    assert by_ticket[0]["attributes"] == {"ticket_id": "8812"} and by_ticket[0]["span_count"] == 2
    assert len(newest) == 1
    assert one["trace"]["trace_id"] == T3 and one["trace"]["input"] == {
        "question": "How long do I have to return shoes?"
    }
    assert sorted(s["name"] for s in one["spans"]) == ["answer", "chat gpt-4o-mini"]


def test_counts_are_the_stores(stored: Server, db_path: Path) -> None:
    flag(stored, trace_id=T1)

    counts = stored.get("/api/counts").json()

    assert counts == {
        "location": str(db_path),
        "traces": 3,
        "spans": 6,
        "incidents": {"flagged": 1, "annotated": 0, "promoted": 0, "dismissed": 0},
        "dropped_spans": 0,
        "runs": 0,
    }
