"""The store's public face: writing batches, reading traces, the incident life cycle, runs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.errors import AmbiguousId, IncidentNotFound, InvalidInput, TraceNotFound
from casebank.store import Store


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def span_row(
    trace_id: str, span_id: str, parent: str | None, name: str, start_ns: int, **attrs: Any
) -> tuple[Any, ...]:
    return (
        trace_id,
        span_id,
        parent,
        name,
        "internal",
        f"2024-05-01T12:00:{start_ns % 60:02d}.000000+00:00",
        start_ns,
        5.0,
        "ok",
        None,
        orjson.dumps(attrs).decode(),
        None,
        "svc",
    )


def trace_row(
    trace_id: str, start_ns: int, span_count: int, *, root: bool = True, output: Any = "We refund within 14 days."
) -> tuple[Any, ...]:
    if not root:
        return (trace_id, None, None, None, None, None, None, f"t{start_ns}", start_ns, None, None, span_count)
    return (
        trace_id,
        "answer",
        "bot:answer",
        orjson.dumps({"question": "refund?"}).decode(),
        orjson.dumps(output).decode(),
        "ok",
        None,
        f"t{start_ns}",
        start_ns,
        10.0,
        "svc",
        span_count,
    )


def write_trace(store: Store, seed: str, start_ns: int = 1_000, output: Any = "We refund within 14 days.") -> str:
    """One trace: a root span and one child, written in a single batch. Returns its id."""
    trace_id, root = _hex(seed, 32), _hex(seed + "root", 16)
    spans = [
        span_row(trace_id, root, None, "answer", start_ns),
        span_row(trace_id, _hex(seed + "child", 16), root, "chat", start_ns + 1, **{"gen_ai.request.model": "m"}),
    ]
    store.write_batch(spans, [trace_row(trace_id, start_ns, 2, output=output)])
    return trace_id


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "casebank.db") as s:
        yield s


# -- capture ---------------------------------------------------------------------------------------


def test_a_trace_split_over_two_batches_keeps_the_root_fields_and_adds_up_spans(store: Store) -> None:
    trace_id, root = _hex("split", 32), _hex("root", 16)
    child = span_row(trace_id, _hex("child", 16), root, "chat", 2_000)
    store.write_batch([child], [trace_row(trace_id, 2_000, 1, root=False)])
    store.write_batch([span_row(trace_id, root, None, "answer", 1_000)], [trace_row(trace_id, 1_000, 1)])
    store.write_batch([], [trace_row(trace_id, 3_000, 0, root=False)])  # a later batch without the root
    trace = store.get_trace(trace_id)
    assert trace is not None
    assert (trace.entrypoint, trace.input, trace.output) == (
        "bot:answer",
        {"question": "refund?"},
        "We refund within 14 days.",
    )
    assert trace.span_count == 2 and trace.started_at == "t1000"
    assert [s["name"] for s in store.trace_spans(trace_id)] == ["answer", "chat"]
    assert store.trace_spans(trace_id)[1]["attributes"] == {}


def test_one_batch_with_two_rows_for_a_trace_merges_them_like_two_batches(store: Store) -> None:
    # As when rows made in two passes (or by a tool) go into one batch.
    trace_id, root = _hex("straddle", 32), _hex("root", 16)
    spans = [span_row(trace_id, root, None, "answer", 1_000), span_row(trace_id, _hex("child", 16), root, "chat", 500)]
    store.write_batch(spans, [trace_row(trace_id, 1_000, 1), trace_row(trace_id, 500, 1, root=False)])
    trace = store.get_trace(trace_id)
    assert trace is not None
    assert (trace.entrypoint, trace.span_count, trace.started_at) == ("bot:answer", 2, "t500")
    assert [s["name"] for s in store.trace_spans(trace_id)] == ["chat", "answer"]


def test_spans_without_a_trace_row_get_one(store: Store) -> None:
    trace_id = _hex("orphan", 32)
    store.write_batch([span_row(trace_id, _hex("o", 16), None, "step", 7_000)], [])
    trace = store.get_trace(trace_id)
    assert trace is not None and trace.span_count == 1 and trace.entrypoint is None
    assert [s["name"] for s in store.trace_spans(trace_id)] == ["step"]


def test_a_span_written_twice_is_stored_once(store: Store) -> None:
    trace_id = write_trace(store, "twice")
    again = span_row(trace_id, _hex("twiceroot", 16), None, "answer", 1_000)
    store.write_batch([again], [])
    assert len(store.trace_spans(trace_id)) == 2


def test_counts_and_the_dropped_spans_counter(store: Store) -> None:
    write_trace(store, "a")
    store.write_batch([], [], dropped=3)
    store.add_counter("dropped_spans", 4)
    counts = store.counts()
    assert (counts.traces, counts.spans, counts.dropped_spans, counts.runs) == (1, 2, 7, 0)
    assert counts.incidents == {"flagged": 0, "annotated": 0, "promoted": 0, "dismissed": 0}


def test_recent_traces_are_newest_first_and_limited(store: Store) -> None:
    ids = [write_trace(store, f"t{n}", start_ns=1_000 * (n + 1)) for n in range(3)]
    assert [t.trace_id for t in store.recent_traces(2)] == [ids[2], ids[1]]
    assert store.get_trace("0" * 32) is None


# -- flag ------------------------------------------------------------------------------------------


def test_flag_snapshots_the_whole_trace(store: Store) -> None:
    trace_id = write_trace(store, "snap", output={"text": "14 days"})
    incident = store.flag(trace_id, "wrong window", flagged_by="ana")
    assert incident.status == "flagged" and incident.trace_id == trace_id
    assert (incident.entrypoint, incident.input, incident.output) == (
        "bot:answer",
        {"question": "refund?"},
        {"text": "14 days"},
    )
    assert [s["name"] for s in incident.spans] == ["answer", "chat"]
    assert incident.spans[1]["attributes"] == {"gen_ai.request.model": "m"}
    assert incident.reasons[0]["reason"] == "wrong window" and incident.reasons[0]["flagged_by"] == "ana"


def test_an_incident_survives_the_pruning_of_its_trace(store: Store) -> None:
    trace_id = write_trace(store, "pruned")
    incident_id = store.flag(trace_id, "bad").id
    store.conn.execute("DELETE FROM spans")
    store.conn.execute("DELETE FROM traces")
    incident = store.get_incident(incident_id)
    assert incident.output == "We refund within 14 days." and len(incident.spans) == 2


def test_flagging_twice_returns_the_same_incident_and_keeps_both_reasons(store: Store) -> None:
    trace_id = write_trace(store, "twice")
    first = store.flag(trace_id, "wrong window", flagged_by="ana")
    second = store.flag(f"  {trace_id.upper()} ", "rude", flagged_by="bo")
    assert first.id == second.id
    assert [(r["reason"], r["flagged_by"]) for r in second.reasons] == [("wrong window", "ana"), ("rude", "bo")]
    assert store.counts().incidents["flagged"] == 1


def test_flagging_an_unknown_trace_raises_trace_not_found_saying_what_to_check(store: Store) -> None:
    with pytest.raises(TraceNotFound, match=r"no trace '0{32}'.*casebank.current_trace_id\(\)"):
        store.flag("0" * 32, "wrong")
    assert store.list_incidents() == []


def test_a_flag_needs_a_reason(store: Store) -> None:
    trace_id = write_trace(store, "reason")
    with pytest.raises(InvalidInput, match="needs a reason"):
        store.flag(trace_id, "   ")
    assert store.list_incidents() == []


# -- finding incidents -----------------------------------------------------------------------------


def test_resolve_by_id_prefix_or_trace_id_prefix(store: Store) -> None:
    trace_id = write_trace(store, "resolve")
    incident = store.flag(trace_id, "bad")
    assert store.resolve_incident(incident.id[:4]).id == incident.id
    assert store.resolve_incident(incident.id.upper()).id == incident.id
    assert store.resolve_incident(trace_id[:12]).id == incident.id


def test_resolve_refuses_ambiguous_unknown_and_malformed_ids(store: Store) -> None:
    ids = [store.flag(write_trace(store, f"many{n}"), "bad").id for n in range(17)]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(AmbiguousId, match=f"'{shared}' is ambiguous .* type more characters"):
        store.resolve_incident(shared)
    unknown = "f" * 12
    assert not any(i.startswith(unknown) for i in ids)
    with pytest.raises(IncidentNotFound, match=f"no incident matches '{unknown}'"):
        store.resolve_incident(unknown)
    with pytest.raises(InvalidInput, match="'x1' is not an incident id"):
        store.resolve_incident("x1")
    with pytest.raises(IncidentNotFound, match="'nope'"):
        store.get_incident("nope")


def test_the_incident_life_cycle_and_listing_by_status(store: Store) -> None:
    a = store.flag(write_trace(store, "a"), "bad a").id
    b = store.flag(write_trace(store, "b"), "bad b").id
    annotated = store.annotate(a, expected={"days": 30}, grader={"name": "exact"}, tags=["z", "a", "z"])
    assert annotated.status == "annotated" and annotated.expected == {"days": 30} and annotated.has_expected
    assert annotated.tags == ["a", "z"]
    dismissed = store.dismiss(b, "duplicate")
    assert dismissed.status == "dismissed" and dismissed.dismissed_reason == "duplicate"
    promoted = store.mark_promoted(a, case_id=a, case_path="evals/answer.json")
    assert (promoted.status, promoted.case_path) == ("promoted", "evals/answer.json")
    assert [i.id for i in store.list_incidents("promoted")] == [a]
    assert [i.id for i in store.list_incidents("dismissed")] == [b]
    assert {i.id for i in store.list_incidents()} == {a, b}
    assert store.counts().incidents == {"flagged": 0, "annotated": 0, "promoted": 1, "dismissed": 1}


def test_an_expected_output_of_null_still_counts_as_annotated(store: Store) -> None:
    incident_id = store.flag(write_trace(store, "null"), "should say nothing").id
    assert store.get_incident(incident_id).has_expected is False
    incident = store.annotate(incident_id, expected=None, grader={"name": "exact"}, tags=[])
    assert incident.has_expected is True and incident.to_json()["expected"] is None


# -- runs ------------------------------------------------------------------------------------------


def test_runs_and_their_results_round_trip(store: Store) -> None:
    run = {"id": "run1", "started_at": "2024-05-01T12:00:00", "suite": "evals", "total": 2, "passed": 1, "failed": 1}
    results = [
        {"run_id": "run1", "case_id": "b", "epoch": 0, "passed": 0, "output": '"x"'},
        {"run_id": "run1", "case_id": "a", "epoch": 0, "passed": 1, "output": '"y"'},
    ]
    store.record_run(run, results)
    assert [r["id"] for r in store.list_runs()] == ["run1"]
    assert [(r["case_id"], r["passed"]) for r in store.run_results("run1")] == [("a", 1), ("b", 0)]
    assert store.counts().runs == 1
