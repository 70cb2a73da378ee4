"""The SDK against a real `cases serve`: an app in its own process exports to it, redacted, and
flags on it; with the server down the app runs on and counts what it dropped."""

from __future__ import annotations

import orjson

from casebank.store import incident_id_for, open_store
from tests.client.conftest import ADMIN, TOKENS, App, Server, free_port


def test_an_app_exporting_to_the_server_stores_its_traces_without_secrets(server: Server, app: App) -> None:
    first, second = app.send(server.url, ("How long do refunds take?", "8812"), ("Where is my order?", "8813"))
    with open_store(server.db, create=False) as store:
        stored = {t.trace_id: t for t in store.recent_traces(10)}
        assert set(stored) == {first, second}
        trace = stored[first]
        assert trace.entrypoint == "support_app:answer"
        assert trace.input["question"] == "How long do refunds take?"
        assert trace.input["api_key"] == "[REDACTED:api_key]"  # a secret-named argument
        assert trace.output == "We refund within 14 days."
        assert trace.attributes == {"ticket_id": "8812"}
        spans = store.trace_spans(first)
        rows = orjson.dumps(spans).decode() + orjson.dumps([t.input for t in stored.values()]).decode()
    assert {s["name"] for s in spans} == {"answer", "lookup"}
    lookup = next(s for s in spans if s["name"] == "lookup")
    assert lookup["attributes"]["db.url"] == "postgresql://app:[REDACTED:password]@db.internal/prod"
    assert "hunter2hunter2" not in rows and "sk-ant-abcdefghij" not in rows
    assert not list(app.folder.glob("*.db")) and not (app.folder / ".casebank").exists()  # no local file


def test_flag_after_init_endpoint_flags_on_that_server_and_holds_a_trace_not_yet_arrived(
    server: Server, app: App
) -> None:
    script = f"""
        import casebank, support_app
        casebank.init(endpoint={server.url!r}, instrument=False)
        support_app.answer("How long do refunds take?", ticket_id="8812")
        trace_id = support_app.trace_ids[0]
        print(casebank.flag(trace_id, reason="wrong refund window", flagged_by="ana"))
        print(casebank.flag(where={{"ticket_id": "8812"}}, reason="said 14 days"))
        print(casebank.flag("0" * 32, reason="not arrived yet"))
        print(casebank.flag(where={{"ticket_id": "9999"}}, reason="not arrived either"))
    """
    # A token that may ingest and flag (the admin one), from the environment.
    out = app.run(script, CASEBANK_TOKEN=ADMIN)
    flagged, by_where, held, held_where = out.stdout.split()
    with open_store(server.db, create=False) as store:
        trace_id = store.recent_traces(10)[0].trace_id
        incident = store.get_incident(flagged)
        pending = store.pending_flags()
    assert flagged == by_where == incident_id_for(trace_id)
    assert [r["reason"] for r in incident.reasons] == ["wrong refund window", "said 14 days"]
    assert incident.reasons[0]["flagged_by"] == "ana"
    assert held == incident_id_for("0" * 32)  # the id the incident will have
    assert held_where == "None"  # held by where: which trace will match is not known yet
    assert {(p["trace_id"], p["reason"]) for p in pending} == {
        ("0" * 32, "not arrived yet"),
        (None, "not arrived either"),
    }


def test_flag_with_a_token_that_may_only_ingest_names_the_scope_it_needs(server: Server, app: App) -> None:
    script = f"""
        import casebank, support_app
        casebank.init(endpoint={server.url!r}, token={TOKENS["ingest"]!r}, instrument=False)
        support_app.answer("How long do refunds take?")
        try:
            casebank.flag(support_app.trace_ids[0], reason="wrong")
        except casebank.errors.StoreError as exc:
            print(exc)
    """
    message = app.run(script).stdout.strip()
    assert message.startswith(f"{server.url} refused the request: ")
    assert "'flag' scope" in message
    assert message.endswith("'cases token create --name NAME --scope flag' and set CASEBANK_TOKEN to it")


def test_with_the_server_down_the_app_returns_normally_and_counts_the_dropped_spans(app: App) -> None:
    script = f"""
        import casebank, support_app
        from casebank._runtime import state
        casebank.init(endpoint="http://127.0.0.1:{free_port()}", token="t", instrument=False)
        print(support_app.answer("How long do refunds take?"))
        casebank.flush(timeout_s=60)
        print(state.processor.dropped_total)
    """
    out = app.run(script, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="1")
    answer, dropped = out.stdout.strip().splitlines()
    assert answer == "We refund within 14 days."
    assert dropped == "2"
    assert "casebank: spans are being dropped" in out.stderr
