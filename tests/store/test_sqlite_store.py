"""What only the SQLite backend promises: its file is a plain database that people may prune."""

from __future__ import annotations

from pathlib import Path

from casebank.store._sqlite import SQLiteStore
from tests.store.test_contract import write_trace


def test_an_incident_survives_the_pruning_of_its_trace(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "casebank.db") as store:
        trace_id = write_trace(store, "pruned")
        incident_id = store.flag(trace_id, "bad").id
        store.conn.execute("DELETE FROM spans")
        store.conn.execute("DELETE FROM traces")
        incident = store.get_incident(incident_id)
    assert incident.output == "We refund within 14 days." and len(incident.spans) == 2
