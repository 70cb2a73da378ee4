"""`open_store("http://...")`: the HTTP store's answers and errors, against a real `cases serve`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from casebank.errors import IncidentNotFound, InvalidInput, InvalidTransition, StoreError, TraceNotFound
from casebank.store import Store, open_store
from casebank.store._http import HTTPStore
from tests.client.conftest import ADMIN, App, Server, free_port


def test_a_server_url_opens_an_http_store_that_shows_no_secret() -> None:
    with open_store("http://ana:pw@127.0.0.1:4318/") as store:
        assert isinstance(store, HTTPStore) and isinstance(store, Store)
        assert store.location == "http://127.0.0.1:4318"


@pytest.mark.parametrize("url", ["http://", "https://u:pw@[::1:4318"])
def test_a_server_url_without_a_host_is_refused_in_one_line(url: str) -> None:
    with pytest.raises(StoreError, match="names no host - write http") as raised:
        open_store(url)
    assert "pw" not in str(raised.value)


@pytest.mark.parametrize(
    ("call", "what"),
    [
        pytest.param(lambda s: s.write_spans([], []), "writing spans", id="write_spans"),
        pytest.param(lambda s: s.record_run({}, []), "recording a run", id="record_run"),
        pytest.param(lambda s: s.list_runs(), "the list of runs", id="list_runs"),
        pytest.param(lambda s: s.add_label("ab", "bad"), "labelling a trace", id="add_label"),
        pytest.param(lambda s: s.grader_caches(), "the graders' caches", id="grader_caches"),
        pytest.param(lambda s: s.add_token("x", "sha256:00", ["read"]), "creating a token", id="add_token"),
        pytest.param(lambda s: s.prune("2024-01-01T00:00:00+00:00"), "pruning", id="prune"),
        pytest.param(lambda s: s.export_records("traces"), "copying a store", id="export_records"),
        pytest.param(
            lambda s: s.traces_since("2024-01-01T00:00:00+00:00"),
            "reading recent traffic (cases audit, cases traces --uncovered)",
            id="traces_since",
        ),
        pytest.param(
            lambda s: s.llm_inputs_since("2024-01-01T00:00:00+00:00"),
            "reading recent traffic (cases audit leakage)",
            id="llm_inputs_since",
        ),
        pytest.param(
            lambda s: s.search_traces(where={"ticket_id": "8812"}),
            "searching traces (open the server's review pages at /ui)",
            id="search_traces",
        ),
    ],
)
def test_what_the_api_does_not_offer_says_where_to_run_it(call: Callable[[HTTPStore], Any], what: str) -> None:
    store = HTTPStore("https://cases.internal:4318")
    with pytest.raises(StoreError) as raised:
        call(store)
    assert str(raised.value).startswith(f"{what}")
    assert str(raised.value).endswith(
        "is not available through a casebank server (https://cases.internal:4318) - run it where the store is "
        "(--db postgresql://... or a file)"
    )


def test_reads_and_transitions_map_the_servers_answers(server: Server, app: App) -> None:
    [trace_id] = app.send(server.url, ("How long do refunds take?", "8812"))
    store = HTTPStore(server.url, token=ADMIN)
    store.ping()
    assert store.resolve_trace_id(trace_id[:6]) == trace_id
    summary = store.get_trace(trace_id)
    assert summary is not None and summary.attributes == {"ticket_id": "8812"}
    assert store.get_trace("f" * 32) is None and store.trace_spans("f" * 32) == []
    assert store.trace_id_where({"ticket_id": 8812}) == trace_id  # values compare as text
    with pytest.raises(TraceNotFound, match="no trace with ticket_id=1"):
        store.trace_id_where({"ticket_id": "1"})
    with pytest.raises(InvalidInput, match="'xyz' is not a trace id"):
        store.resolve_trace_id("xyz")
    incident = store.flag(trace_id, "wrong window")
    assert incident.spans and incident.reasons[0]["reason"] == "wrong window"
    store.annotate(incident.id, expected="30 days", grader={"name": "exact", "options": {}}, tags=["b", "a"])
    promoted = store.mark_promoted(incident.id, case_id=incident.id, case_path="evals/x.json")
    assert (promoted.status, promoted.tags, promoted.has_expected) == ("promoted", ["a", "b"], True)
    with pytest.raises(InvalidTransition, match="already promoted"):
        store.dismiss(incident.id, "not a bug")
    with pytest.raises(IncidentNotFound):
        store.get_incident("abcdef")
    counts = store.counts()
    assert (counts.location, counts.traces, counts.incidents["promoted"]) == (server.url, 1, 1)
    with pytest.raises(TraceNotFound, match="has not reached"):  # flag() cannot return an incident it does not have
        store.flag("e" * 32, "too early")
    assert store.flag_or_hold("e" * 32, "too early") is None


def test_a_server_that_is_down_or_is_not_casebank_says_so() -> None:
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=f"the casebank server at {down} cannot be reached .* 'cases serve'"):
        HTTPStore(down).ping()


@pytest.fixture
def not_casebank() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>not found</html>"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_something_else_at_the_url_is_not_taken_for_a_missing_incident(not_casebank: str) -> None:
    with pytest.raises(StoreError, match="answered 404 to /api/incidents/ab without casebank's error"):
        HTTPStore(not_casebank).get_incident("ab")
