"""What only the SQLite backend promises: its file is a plain database that people may prune and
browse, and what a person did to an incident is on disk (fsynced) when the call returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput, InvalidTransition, StoreError
from casebank.store import Incident
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


@contextmanager
def transaction_statements(store: SQLiteStore) -> Iterator[list[str]]:
    """The statements that open, end and set the durability of transactions on the store's
    connection while the block runs, as SQLite saw them."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store.conn.set_trace_callback(None)
        seen[:] = [s for s in seen if s.startswith(("PRAGMA synchronous", "BEGIN", "COMMIT", "ROLLBACK"))]


ACTS: dict[str, Callable[[SQLiteStore, Incident], object]] = {
    "flag": lambda store, incident: store.flag(incident.trace_id, "seen again"),
    "annotate": lambda store, incident: store.annotate(incident.id, expected="y", grader={"name": "exact"}, tags=[]),
    "dismiss": lambda store, incident: store.dismiss(incident.id, "duplicate"),
    "mark_promoted": lambda store, incident: store.mark_promoted(incident.id, case_id="c", case_path="evals/c.json"),
}


@pytest.mark.parametrize("act", list(ACTS))
def test_what_a_person_does_to_an_incident_is_fsynced_before_it_returns(db_path: Path, act: str) -> None:
    with SQLiteStore(db_path) as store:
        incident = store.flag(write_trace(store, "durable"), "bad")
        store.annotate(incident.id, expected="x", grader={"name": "exact"}, tags=[])
        with transaction_statements(store) as statements:
            ACTS[act](store, incident)
        assert statements == ["PRAGMA synchronous = FULL", "BEGIN IMMEDIATE", "COMMIT", "PRAGMA synchronous = NORMAL"]
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again, for the writer


def test_a_refused_change_rolls_back_and_leaves_the_connection_as_it_was(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        incident = store.flag(write_trace(store, "refused"), "bad")
        with transaction_statements(store) as statements, pytest.raises(InvalidTransition):
            store.mark_promoted(incident.id, case_id="c", case_path="evals/c.json")
        assert statements == ["PRAGMA synchronous = FULL", "BEGIN IMMEDIATE", "ROLLBACK", "PRAGMA synchronous = NORMAL"]
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1 and not store.conn.in_transaction


def test_captured_spans_are_committed_without_waiting_for_the_disk(db_path: Path) -> None:
    # synchronous=NORMAL in WAL: a crash loses at most the last batch, never the file.
    with SQLiteStore(db_path) as store, transaction_statements(store) as statements:
        write_trace(store, "fast")
    assert statements == ["BEGIN IMMEDIATE", "COMMIT"]


def test_a_batch_that_another_backend_prepared_is_refused(db_path: Path) -> None:
    class Foreign:
        span_count = 0

    with SQLiteStore(db_path) as store, pytest.raises(InvalidInput) as raised:
        store.write_prepared(Foreign())
    assert str(raised.value) == "a SQLite store writes batches its prepare_spans made, not Foreign"


def test_a_result_without_an_output_is_null_in_the_table_for_people_browsing_it(db_path: Path) -> None:
    result: dict[str, Any] = {"run_id": "ab12", "case_id": "a", "epoch": 0, "passed": 0}
    with SQLiteStore(db_path) as store:
        store.record_run(
            {"id": "ab12", "started_at": "2024-05-01T12:00:00", "suite": "evals"},
            [{**result, "output": None, "expected": "x", "tags": None}],
        )
        row = store.conn.execute("SELECT output, expected, tags FROM results").fetchone()
    assert tuple(row) == (None, '"x"', None)


def test_a_closed_store_does_not_answer_pings(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    store.close()
    with pytest.raises(StoreError) as raised:
        store.ping()
    assert str(raised.value) == (
        f"store '{db_path}' does not answer (Cannot operate on a closed database.) - check the file and its folder"
    )


def test_every_page_of_records_is_an_index_search_without_a_sort(db_path: Path) -> None:
    # `cases db copy` pages through millions of spans: a page must cost the same at the end as at
    # the start, so no page may scan a table or sort what it read.
    from casebank.store._sqlite._copy import _PAGES

    with SQLiteStore(db_path) as store:
        for kind, sql in _PAGES.items():
            if kind == "calibrations":  # one row a `cases judge calibrate`: few enough to sort
                continue
            params = ("", "", 10) if kind == "spans" else ("", 10)
            plan = [row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert all(step.startswith("SEARCH") and "INDEX" in step for step in plan), (kind, plan)
