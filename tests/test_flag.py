"""casebank.flag in the product's own process."""

from __future__ import annotations

from pathlib import Path

import pytest

import casebank
from casebank.errors import StoreError, TraceNotFound
from casebank.store import open_store


@casebank.trace
def answer(ticket: str) -> dict[str, str | None]:
    return {"text": f"re: {ticket}", "trace_id": casebank.current_trace_id()}


def test_flag_flushes_the_callers_pending_spans_first(db_path: Path) -> None:
    casebank.init()
    trace_id = answer("where is my order?")["trace_id"]
    assert trace_id is not None
    incident_id = casebank.flag(trace_id, reason="wrong order")  # no explicit flush before
    with open_store(db_path) as store:
        assert store.get_incident(incident_id).output["text"] == "re: where is my order?"


def test_flagging_the_same_trace_again_returns_the_same_incident_with_both_reasons(db_path: Path) -> None:
    casebank.init()
    trace_id = answer("refund?")["trace_id"]
    assert trace_id is not None
    first = casebank.flag(trace_id, reason="wrong window", flagged_by="ana")
    second = casebank.flag(trace_id.upper(), reason="rude tone", flagged_by="bo")
    assert first == second
    with open_store(db_path) as store:
        reasons = [(r["reason"], r["flagged_by"]) for r in store.get_incident(first).reasons]
    assert reasons == [("wrong window", "ana"), ("rude tone", "bo")]


def test_flag_takes_a_unique_prefix_of_the_trace_id(db_path: Path) -> None:
    casebank.init()
    trace_id = answer("refund?")["trace_id"]
    assert trace_id is not None

    incident_id = casebank.flag(trace_id[:8], reason="wrong window")

    with open_store(db_path) as store:
        assert store.get_incident(incident_id).trace_id == trace_id


@pytest.mark.parametrize(
    "trace_id",
    [pytest.param("0" * 31 + "1", id="unknown"), pytest.param("not-a-trace", id="malformed")],
)
def test_an_unknown_trace_raises_trace_not_found_saying_what_to_check(trace_id: str) -> None:
    casebank.init()
    answer("make the store exist")
    casebank.flush()
    with pytest.raises(TraceNotFound, match="32 hex characters"):
        casebank.flag(trace_id, reason="bad")


def test_flag_without_a_store_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no casebank store at"):
        casebank.flag("a" * 32, reason="bad", db=tmp_path / "missing.db")
