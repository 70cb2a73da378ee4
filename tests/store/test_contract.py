"""The store contract: every promise of `casebank.store.Store`, held by every backend.

Each test runs once per backend (`store` is parametrised); a new backend joins `BACKENDS` and
passes this file unchanged before anything else uses it. Tests speak only through the interface:
what a backend keeps on disk, and how, is tested beside the backend (`test_sqlite_*.py`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.errors import AmbiguousId, IncidentNotFound, InvalidInput, InvalidTransition, NotFound, TraceNotFound
from casebank.store import Store, StoreCounts, TraceSummary, incident_id_for, open_store
from tests.postgres_server import fresh_postgres_store

# How every time a store records reads: UTC, to the millisecond (`utc_now`).
UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


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
    store.write_spans(spans, [trace_row(trace_id, start_ns, 2, output=output)])
    return trace_id


@contextmanager
def refused(kind: type[Exception], message: str) -> Iterator[None]:
    """The block raises `kind` saying exactly `message`: people read these, and the CLI prints them as they are."""
    with pytest.raises(kind) as raised:
        yield
    assert str(raised.value) == message


def _sqlite(tmp_path: Path) -> Store:
    return open_store(tmp_path / "contract.db")


BACKENDS = [pytest.param(_sqlite, id="sqlite"), pytest.param(fresh_postgres_store, id="postgres")]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with request.param(tmp_path) as opened:
        assert isinstance(opened, Store)
        yield opened


# -- capture ---------------------------------------------------------------------------------------


def test_a_trace_split_over_two_batches_keeps_the_root_fields_and_adds_up_spans(store: Store) -> None:
    trace_id, root = _hex("split", 32), _hex("root", 16)
    child = span_row(trace_id, _hex("child", 16), root, "chat", 2_000)
    store.write_spans([child], [trace_row(trace_id, 2_000, 1, root=False)])
    store.write_spans([span_row(trace_id, root, None, "answer", 1_000)], [trace_row(trace_id, 1_000, 1)])
    store.write_spans([], [trace_row(trace_id, 3_000, 0, root=False)])  # a later batch without the root
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
    store.write_spans(spans, [trace_row(trace_id, 1_000, 1), trace_row(trace_id, 500, 1, root=False)])
    trace = store.get_trace(trace_id)
    assert trace is not None
    assert (trace.entrypoint, trace.span_count, trace.started_at) == ("bot:answer", 2, "t500")
    assert [s["name"] for s in store.trace_spans(trace_id)] == ["chat", "answer"]


def test_spans_without_a_trace_row_get_one(store: Store) -> None:
    trace_id = _hex("orphan", 32)
    store.write_spans([span_row(trace_id, _hex("o", 16), None, "step", 7_000)], [])
    trace = store.get_trace(trace_id)
    assert trace is not None and trace.span_count == 1 and trace.entrypoint is None
    assert [s["name"] for s in store.trace_spans(trace_id)] == ["step"]


def test_a_trace_row_made_for_spans_starts_at_the_earliest_of_them(store: Store) -> None:
    trace_id = _hex("unordered", 32)
    starts = (5_005, 5_003, 5_004)  # the earliest neither first nor last
    store.write_spans([span_row(trace_id, _hex(f"u{n}", 16), None, f"s{n}", ns) for n, ns in enumerate(starts)], [])
    trace = store.get_trace(trace_id)
    assert trace is not None and (trace.span_count, trace.started_at) == (3, "2024-05-01T12:00:23.000000+00:00")


def test_a_span_written_twice_is_stored_once(store: Store) -> None:
    trace_id = write_trace(store, "twice")
    again = span_row(trace_id, _hex("twiceroot", 16), None, "answer", 1_000)
    store.write_spans([again], [])
    assert len(store.trace_spans(trace_id)) == 2


def test_counts_and_the_dropped_spans_counter(store: Store) -> None:
    write_trace(store, "a")
    store.write_spans([], [], dropped=3)
    store.write_spans([], [], dropped=4)
    counts = store.counts()
    assert (counts.traces, counts.spans, counts.dropped_spans, counts.runs) == (1, 2, 7, 0)
    assert counts.incidents == {"flagged": 0, "annotated": 0, "promoted": 0, "dismissed": 0}


def test_recent_traces_are_newest_first_and_limited(store: Store) -> None:
    ids = [write_trace(store, f"t{n}", start_ns=1_000 * (n + 1)) for n in range(3)]
    assert [t.trace_id for t in store.recent_traces(2)] == [ids[2], ids[1]]
    assert store.get_trace("0" * 32) is None


def test_recent_traces_and_runs_are_twenty_unless_told(store: Store) -> None:
    ids = [_hex(f"many{n}", 32) for n in range(21)]
    store.write_spans([], [trace_row(trace_id, n, 0) for n, trace_id in enumerate(ids)])
    for n in range(21):
        store.record_run({"id": f"{n:06x}", "started_at": f"2024-05-01T12:00:{n:02d}", "suite": "evals"}, [])
    assert [t.trace_id for t in store.recent_traces()] == ids[:0:-1]
    assert [r["id"] for r in store.list_runs()] == [f"{n:06x}" for n in range(20, 0, -1)]


def test_a_new_store_counts_nothing(store: Store) -> None:
    assert store.counts() == StoreCounts(
        location=store.location,
        traces=0,
        spans=0,
        incidents={"flagged": 0, "annotated": 0, "promoted": 0, "dismissed": 0},
        dropped_spans=0,
        runs=0,
    )


def test_a_trace_reads_back_with_every_root_field_and_its_values_decoded(store: Store) -> None:
    trace_id = _hex("raised", 32)
    row = (
        trace_id,
        "answer",
        "bot:answer",
        orjson.dumps({"question": "refund?", "order": [1, 2]}).decode(),
        orjson.dumps(None).decode(),
        "error",
        "TimeoutError: policy service",
        "2024-05-01T12:00:01.000000+00:00",
        1_000,
        12.5,
        "svc",
        1,
        orjson.dumps({"ticket_id": 8812}).decode(),
    )
    store.write_spans([span_row(trace_id, _hex("raised-root", 16), None, "answer", 1_000)], [row])
    expected = TraceSummary(
        trace_id=trace_id,
        name="answer",
        entrypoint="bot:answer",
        input={"question": "refund?", "order": [1, 2]},
        output=None,
        status="error",
        error="TimeoutError: policy service",
        started_at="2024-05-01T12:00:01.000000+00:00",
        duration_ms=12.5,
        span_count=1,
        attributes={"ticket_id": 8812},
    )
    assert store.get_trace(trace_id) == expected
    assert store.recent_traces() == [expected]


def test_a_span_reads_back_by_column_name_with_attributes_and_events_decoded(store: Store) -> None:
    trace_id, root, child = _hex("events", 32), _hex("events-root", 16), _hex("events-child", 16)
    events = [{"name": "retry", "timestamp_ns": 1_500, "attributes": {"attempt": 2}}]
    with_events = (
        *span_row(trace_id, child, root, "chat", 1_001, model="m")[:11],
        orjson.dumps(events).decode(),
        "svc",
    )
    store.write_spans([span_row(trace_id, root, None, "answer", 1_000), with_events], [trace_row(trace_id, 1_000, 2)])
    assert store.trace_spans(trace_id) == [
        {
            "trace_id": trace_id,
            "span_id": root,
            "parent_span_id": None,
            "name": "answer",
            "kind": "internal",
            "started_at": "2024-05-01T12:00:40.000000+00:00",
            "start_ns": 1_000,
            "duration_ms": 5.0,
            "status": "ok",
            "status_message": None,
            "attributes": {},
            "events": [],
            "service_name": "svc",
        },
        {
            "trace_id": trace_id,
            "span_id": child,
            "parent_span_id": root,
            "name": "chat",
            "kind": "internal",
            "started_at": "2024-05-01T12:00:41.000000+00:00",
            "start_ns": 1_001,
            "duration_ms": 5.0,
            "status": "ok",
            "status_message": None,
            "attributes": {"model": "m"},
            "events": events,
            "service_name": "svc",
        },
    ]


def test_a_trace_row_without_spans_counts_none_and_can_still_be_flagged(store: Store) -> None:
    # As when the root's batch arrived and its spans were dropped by a full queue.
    trace_id = _hex("spanless", 32)
    store.write_spans([], [trace_row(trace_id, 1_000, 0, output={"days": 14})])
    trace = store.get_trace(trace_id)
    assert trace is not None and trace.span_count == 0 and store.trace_spans(trace_id) == []
    incident = store.flag(trace_id, "wrong window")
    assert (incident.output, incident.spans) == ({"days": 14}, [])


def test_spans_of_several_traces_without_rows_each_get_one_that_counts_them(store: Store) -> None:
    known, late, lone = _hex("known", 32), _hex("late", 32), _hex("lone", 32)
    spans = [
        span_row(known, _hex("k", 16), None, "answer", 5_000),
        span_row(late, _hex("l2", 16), _hex("l1", 16), "chat", 7_002),
        span_row(late, _hex("l1", 16), None, "step", 7_001),
        span_row(lone, _hex("o", 16), None, "step", 9_000),
    ]
    store.write_spans(spans, [trace_row(known, 5_000, 1)])
    summaries = {t.trace_id: t for t in store.recent_traces()}
    assert [(t.trace_id, t.span_count, t.started_at) for t in store.recent_traces()] == [
        (lone, 1, "2024-05-01T12:00:00.000000+00:00"),
        (late, 2, "2024-05-01T12:00:41.000000+00:00"),  # the earliest span's start, whichever came first
        (known, 1, "t5000"),
    ]
    assert summaries[late].entrypoint is None and [s["name"] for s in store.trace_spans(late)] == ["step", "chat"]


def test_a_prepared_batch_counts_its_spans_and_the_spans_the_queue_dropped(store: Store) -> None:
    trace_id = _hex("prepared", 32)
    spans = [
        span_row(trace_id, _hex("p1", 16), None, "answer", 1_000),
        span_row(trace_id, _hex("p2", 16), None, "x", 2),
    ]
    batch = store.prepare_spans(spans, [(*trace_row(trace_id, 1_000, 2), None)])  # every TRACE_COLUMNS, as capture
    assert batch.span_count == 2
    store.write_prepared(batch)
    assert (store.counts().spans, store.counts().dropped_spans) == (2, 0)
    store.write_prepared(store.prepare_spans([], [], dropped=3))
    assert store.counts().dropped_spans == 3


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


def test_flagging_twice_returns_the_same_incident_and_keeps_both_reasons(store: Store) -> None:
    trace_id = write_trace(store, "twice")
    first = store.flag(trace_id, "wrong window", flagged_by="ana")
    second = store.flag(f"  {trace_id.upper()} ", "rude", flagged_by="bo")
    assert first.id == second.id
    assert [(r["reason"], r["flagged_by"]) for r in second.reasons] == [("wrong window", "ana"), ("rude", "bo")]
    assert store.counts().incidents["flagged"] == 1


def test_flagging_an_unknown_trace_raises_trace_not_found_saying_what_to_check(store: Store) -> None:
    with refused(
        TraceNotFound,
        f"no trace '{'0' * 32}' in store '{store.location}' - check the id (32 hex characters from "
        "casebank.current_trace_id()) and that the app's casebank.init() writes to this store",
    ):
        store.flag("0" * 32, "wrong")
    assert store.list_incidents() == []


def test_a_flag_needs_a_reason(store: Store) -> None:
    trace_id = write_trace(store, "reason")
    with refused(InvalidInput, "a flag needs a reason - say what was wrong with the answer"):
        store.flag(trace_id, "   ")
    assert store.list_incidents() == []


def test_an_incident_id_is_the_same_in_every_version_and_backend(store: Store) -> None:
    # People type these ids and keep them in notes and tickets: a new derivation would orphan them.
    trace_id = "0123456789abcdef0123456789abcdef"
    assert incident_id_for(trace_id) == "bae0f1499587"
    store.write_spans([span_row(trace_id, _hex("id", 16), None, "answer", 1_000)], [trace_row(trace_id, 1_000, 1)])
    assert store.flag(trace_id, "bad").id == "bae0f1499587"


def test_an_incident_reads_back_whole_as_cases_show_prints_it(store: Store) -> None:
    trace_id = _hex("whole", 32)
    root, child = _hex("whole-root", 16), _hex("whole-child", 16)
    row = list(trace_row(trace_id, 1_000, 2, output={"days": 14}))
    row[5:7] = ["error", "ValueError: no policy"]  # status, error: the app raised after answering
    written = [
        span_row(trace_id, root, None, "answer", 1_000),
        span_row(trace_id, child, root, "chat", 1_001, model="m"),
    ]
    store.write_spans(written, [row])
    flagged = store.flag(trace_id, " wrong window ", flagged_by="ana")
    assert UTC_MS.fullmatch(flagged.flagged_at) and flagged.updated_at == flagged.flagged_at
    spans = store.trace_spans(trace_id)
    assert flagged.as_dict() == {
        "id": incident_id_for(trace_id),
        "trace_id": trace_id,
        "status": "flagged",
        "reasons": [{"reason": "wrong window", "flagged_by": "ana", "flagged_at": flagged.flagged_at}],
        "flagged_at": flagged.flagged_at,
        "updated_at": flagged.flagged_at,
        "entrypoint": "bot:answer",
        "input": {"question": "refund?"},
        "output": {"days": 14},
        "error": "ValueError: no policy",
        "spans": spans,
        "expected": None,
        "grader": None,
        "tags": [],
        "dismissed_reason": None,
        "case_id": None,
        "case_path": None,
    }
    assert [s["attributes"] for s in spans] == [{}, {"model": "m"}]

    store.annotate(flagged.id, expected={"days": 30}, grader={"name": "exact", "options": {"a": 1}}, tags=["b", "a"])
    promoted = store.mark_promoted(flagged.id, case_id="case-1", case_path="evals/case-1.json")
    assert UTC_MS.fullmatch(promoted.updated_at)
    assert store.get_incident(flagged.id).as_dict() == {
        **flagged.as_dict(),
        "status": "promoted",
        "updated_at": promoted.updated_at,
        "expected": {"days": 30},
        "grader": {"name": "exact", "options": {"a": 1}},
        "tags": ["a", "b"],
        "case_id": "case-1",
        "case_path": "evals/case-1.json",
    }


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
    matching = sorted(i for i in ids if i.startswith(shared))
    with refused(
        AmbiguousId, f"incident id '{shared}' is ambiguous ({', '.join(matching[:5])}) - type more characters"
    ):
        store.resolve_incident(shared)
    unknown = "f" * 12
    assert not any(i.startswith(unknown) for i in ids)
    with refused(
        IncidentNotFound, f"no incident matches '{unknown}' in store '{store.location}' - see 'cases list --status all'"
    ):
        store.resolve_incident(unknown)
    with refused(InvalidInput, "'x1' is not an incident id - ids are hex, as 'cases list' shows them"):
        store.resolve_incident(" x1 ")
    with refused(IncidentNotFound, f"no incident 'nope' in store '{store.location}' - see 'cases list --status all'"):
        store.get_incident("nope")


def test_a_trace_id_prefix_that_several_incidents_share_lists_their_incident_ids(store: Store) -> None:
    traces = [f"abc{n}{'0' * 28}" for n in range(7)]
    for n, trace_id in enumerate(traces):
        store.write_spans([span_row(trace_id, _hex(f"abc{n}", 16), None, "answer", n)], [trace_row(trace_id, n, 1)])
        store.flag(trace_id, "bad")
    incidents = [incident_id_for(trace_id) for trace_id in traces]
    assert not any(i.startswith("abc") for i in incidents)  # so that only the trace ids match
    assert store.resolve_incident("abc3").id == incidents[3]
    with refused(AmbiguousId, f"incident id 'abc' is ambiguous ({', '.join(incidents[:5])}) - type more characters"):
        store.resolve_incident("ABC")


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
    assert incident.has_expected is True and incident.as_dict()["expected"] is None


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


def test_run_values_round_trip_as_values_and_results_keep_their_order(store: Store) -> None:
    run = {"id": "ab12cd34ef56", "started_at": "2024-05-01T12:00:00", "suite": "evals", "total": 2, "passed": 1}
    results = [
        {"run_id": run["id"], "case_id": "b", "epoch": 0, "passed": 0, "output": None, "expected": {"n": [1, 2]}},
        {"run_id": run["id"], "case_id": "a", "epoch": 0, "passed": 1, "output": "x", "tags": ["t1", "t2"]},
        {"run_id": run["id"], "case_id": "a", "epoch": 1, "passed": 1, "output": {"k": None}, "expected": None},
    ]
    store.record_run(run, results)
    by_case = store.run_results(run["id"])
    as_recorded = store.run_results(run["id"], suite_order=True)
    assert [(r["case_id"], r["epoch"]) for r in by_case] == [("a", 0), ("a", 1), ("b", 0)]
    assert [(r["case_id"], r["epoch"]) for r in as_recorded] == [("b", 0), ("a", 0), ("a", 1)]
    assert [(r["output"], r["expected"]) for r in as_recorded] == [
        (None, {"n": [1, 2]}),
        ("x", None),
        ({"k": None}, None),
    ]
    assert as_recorded[1]["tags"] == ["t1", "t2"]
    assert store.resolve_run("latest")["id"] == run["id"]


def test_a_run_keeps_what_ran_it_and_an_older_run_says_nothing(store: Store) -> None:
    for run_id, origin in (("aa01", "pytest"), ("aa02", "cli")):
        store.record_run({"id": run_id, "started_at": f"2024-05-01T12:00:0{run_id[-1]}", "origin": origin}, [])
    store.record_run({"id": "aa03", "started_at": "2024-05-01T12:00:03", "suite": "evals"}, [])
    assert [(r["id"], r["origin"]) for r in store.list_runs()] == [("aa03", None), ("aa02", "cli"), ("aa01", "pytest")]
    assert store.resolve_run("aa01")["origin"] == "pytest"


def test_runs_resolve_by_latest_or_prefix_and_list_newest_first(store: Store) -> None:
    with refused(NotFound, f"no runs in store '{store.location}' yet - record one with 'cases run'"):
        store.resolve_run("latest")
    for n, run_id in enumerate(["aa0001", "aa0002", "bb0003"]):
        store.record_run({"id": run_id, "started_at": f"2024-05-0{n + 1}T12:00:00", "suite": "evals"}, [])
    assert [r["id"] for r in store.list_runs()] == ["bb0003", "aa0002", "aa0001"]
    assert [r["id"] for r in store.list_runs(limit=2)] == ["bb0003", "aa0002"]
    assert len(store.list_runs(limit=None)) == 3
    assert store.resolve_run(" LATEST ")["id"] == "bb0003"
    assert store.resolve_run("BB")["id"] == "bb0003"
    with refused(AmbiguousId, "run id 'aa' is ambiguous (aa0001, aa0002) - type more characters"):
        store.resolve_run("aa")
    with refused(NotFound, f"no run matches 'cc' in store '{store.location}' - see 'cases runs'"):
        store.resolve_run("cc")
    with refused(InvalidInput, "'run-1' is not a run id - pass 'latest' or an id as 'cases runs' shows it"):
        store.resolve_run("run-1")
    assert store.counts().runs == 3


@pytest.mark.parametrize(
    ("run", "result", "message"),
    [
        pytest.param({"colour": "red"}, {}, "runs has no column 'colour' - pass the fields a run report has", id="run"),
        pytest.param(
            {}, {"colour": "red"}, "results has no column 'colour' - pass the fields a run report has", id="result"
        ),
        pytest.param(
            {},
            {"passed) VALUES (1); --": 1},
            "results has no column 'passed) VALUES (1); --' - pass the fields a run report has",
            id="not-a-name",
        ),
        pytest.param({}, {3: 1}, "results has no column 3 - pass the fields a run report has", id="not-text"),
    ],
)
def test_a_run_with_a_field_the_store_does_not_know_is_refused_and_nothing_is_kept(
    store: Store, run: dict[Any, Any], result: dict[Any, Any], message: str
) -> None:
    good_run = {"id": "ab12", "started_at": "2024-05-01T12:00:00", "suite": "evals"}
    good_result = {"run_id": "ab12", "case_id": "a", "epoch": 0, "passed": 1}
    with refused(InvalidInput, message):
        store.record_run({**good_run, **run}, [good_result, {**good_result, "epoch": 1, **result}])
    assert (store.list_runs(), store.run_results("ab12")) == ([], [])


def test_trace_ids_resolve_by_unique_prefix(store: Store) -> None:
    ids = [write_trace(store, f"prefix{n}") for n in range(17)]
    assert store.resolve_trace_id(ids[0][:10].upper()) == ids[0]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    matching = sorted(i[:12] for i in ids if i.startswith(shared))
    with refused(
        AmbiguousId, f"trace id '{shared}' is ambiguous ({', '.join(matching[:5])}, ...) - type more characters"
    ):
        store.resolve_trace_id(shared)
    unknown = next(
        p
        for p in (f"{a}{b}" for a in "0123456789abcdef" for b in "0123456789abcdef")
        if not any(i.startswith(p) for i in ids)
    )
    with refused(TraceNotFound, f"no trace matches '{unknown}' in store '{store.location}' - see 'cases traces'"):
        store.resolve_trace_id(unknown)
    with refused(InvalidInput, "'zz' is not a trace id - pass the hex id that 'cases traces' shows"):
        store.resolve_trace_id("zz")
    assert store.get_trace("0" * 32) is None and store.trace_spans("0" * 32) == []


def test_an_ambiguous_trace_prefix_lists_the_first_five_ids_cut_to_twelve_characters(store: Store) -> None:
    traces = [f"abc{n}{'0' * 28}" for n in range(7)]
    store.write_spans([], [trace_row(trace_id, n, 0) for n, trace_id in enumerate(traces)])
    listed = "abc000000000, abc100000000, abc200000000, abc300000000, abc400000000, ..."
    with refused(AmbiguousId, f"trace id 'abc' is ambiguous ({listed}) - type more characters"):
        store.resolve_trace_id("abc")
    assert store.resolve_trace_id("abc6") == traces[6]


def _with_attributes(store: Store, seed: str, start_ns: int, **attributes: Any) -> str:
    trace_id = _hex(seed, 32)
    row = (*trace_row(trace_id, start_ns, 1), orjson.dumps(attributes).decode())
    store.write_spans([span_row(trace_id, _hex(seed + "root", 16), None, "answer", start_ns)], [row])
    return trace_id


def test_traces_are_found_by_their_attributes_compared_as_text(store: Store) -> None:
    older = _with_attributes(store, "older", 1_000, ticket_id=8812, vip=True)
    newer = _with_attributes(store, "newer", 2_000, ticket_id="8812", user="ana")
    other = _with_attributes(store, "other", 3_000, ticket_id=9000)
    assert store.traces_where({"ticket_id": "8812"}) == [newer, older]
    assert store.traces_where({"ticket_id": 8812, "vip": True}) == [older]
    assert store.traces_where({"ticket_id": "8812", "user": "bo"}) == []
    assert store.trace_id_where({"ticket_id": "9000"}) == other
    with refused(
        AmbiguousId,
        f"ticket_id=8812 matches several traces (newest first: {newer}, {older}) - "
        "flag one by its trace id, or add another attribute that tells them apart",
    ):
        store.trace_id_where({"ticket_id": 8812})
    with refused(
        TraceNotFound,
        f"no trace with ticket_id=1 in store '{store.location}' - check the value, and that the app called "
        "casebank.set_attributes() inside its @casebank.trace entry point",
    ):
        store.trace_id_where({"ticket_id": 1})


@pytest.mark.parametrize(
    ("value", "typed"),
    [
        pytest.param(True, "true", id="a-boolean"),
        pytest.param(None, "null", id="none"),
        pytest.param(8812, "8812", id="an-integer"),
        pytest.param(0.5, "0.5", id="a-float"),
        pytest.param(["a", "b"], '["a","b"]', id="a-list"),
        pytest.param({"tier": "gold"}, '{"tier":"gold"}', id="an-object"),
    ],
)
def test_an_attribute_is_found_by_the_text_a_command_line_gives(store: Store, value: Any, typed: str) -> None:
    trace_id = _with_attributes(store, "typed", 1_000, key=value)
    assert store.traces_where({"key": typed}) == [trace_id]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        pytest.param({}, "where= names no attribute - give at least one, e.g. where={'ticket_id': '123'}", id="empty"),
        pytest.param(
            {"  ": "1"},
            "attribute name '  ' is not a name - use the name given to casebank.set_attributes",
            id="a-blank-name",
        ),
        pytest.param(
            {7: "1"}, "attribute name 7 is not a name - use the name given to casebank.set_attributes", id="not-text"
        ),
        pytest.param(
            {"ticket_id": None}, "attribute 'ticket_id' has no value - say which ticket_id to look for", id="none"
        ),
    ],
)
def test_a_where_that_names_nothing_is_refused_saying_why(store: Store, where: dict[Any, Any], message: str) -> None:
    with refused(InvalidInput, message):
        store.traces_where(where)
    with refused(InvalidInput, message):
        store.trace_id_where(where)


def test_many_matches_list_the_newest_five_and_a_limit_bounds_the_lookup(store: Store) -> None:
    ids = [_with_attributes(store, f"many{n}", 1_000 + n, ticket_id=1, user="ana") for n in range(7)]
    newest = ", ".join(reversed(ids[2:]))
    with refused(
        AmbiguousId,
        f"ticket_id=1, user=ana matches several traces (newest first: {newest}, ...) - "
        "flag one by its trace id, or add another attribute that tells them apart",
    ):
        store.trace_id_where({"ticket_id": 1, "user": "ana"})
    assert store.traces_where({"ticket_id": 1}, limit=2) == [ids[6], ids[5]]
    assert store.traces_where({"ticket_id": 1}, limit=10) == ids[::-1]


def test_exactly_five_matches_are_all_listed(store: Store) -> None:
    ids = [_with_attributes(store, f"five{n}", 1_000 + n, ticket_id=5) for n in range(5)]
    with refused(
        AmbiguousId,
        f"ticket_id=5 matches several traces (newest first: {', '.join(reversed(ids))}) - "
        "flag one by its trace id, or add another attribute that tells them apart",
    ):
        store.trace_id_where({"ticket_id": 5})


def test_attributes_set_in_two_batches_of_a_trace_both_count(store: Store) -> None:
    trace_id = _hex("merged", 32)
    first = (*trace_row(trace_id, 1_000, 1), orjson.dumps({"ticket_id": "1"}).decode())
    second = (*trace_row(trace_id, 1_000, 0, root=False), orjson.dumps({"user": "ana"}).decode())
    store.write_spans([span_row(trace_id, _hex("m", 16), None, "answer", 1_000)], [first])
    store.write_spans([], [second])
    trace = store.get_trace(trace_id)
    assert trace is not None and trace.attributes == {"ticket_id": "1", "user": "ana"}
    assert store.trace_id_where({"ticket_id": "1", "user": "ana"}) == trace_id


def test_an_incident_goes_only_where_its_status_allows(store: Store) -> None:
    flagged = store.flag(write_trace(store, "only-flagged"), "bad").id
    with refused(
        InvalidTransition, f"incident {flagged} has no expected output - run 'cases annotate {flagged}' first"
    ):
        store.mark_promoted(flagged, case_id=flagged, case_path="evals/x.json")
    dismissed = store.flag(write_trace(store, "dismissed"), "bad").id
    store.annotate(dismissed, expected="ok", grader={"name": "exact"}, tags=[])
    store.dismiss(dismissed, "  a duplicate  ")
    with refused(
        InvalidTransition, f"incident {dismissed} was dismissed - annotate it again to reopen it before promoting"
    ):
        store.mark_promoted(dismissed, case_id=dismissed, case_path="evals/x.json")
    reopened = store.annotate(dismissed, expected="ok", grader={"name": "exact"}, tags=[])
    assert reopened.status == "annotated"
    promoted = store.mark_promoted(dismissed, case_id=dismissed, case_path="evals/x.json")
    with refused(
        InvalidTransition,
        f"incident {dismissed} is already promoted as 'evals/x.json' - a case is frozen; "
        "flag a new trace to record a different expectation",
    ):
        store.annotate(dismissed, expected="other", grader={"name": "exact"}, tags=[])
    with refused(
        InvalidTransition, f"incident {dismissed} is already promoted as 'evals/x.json' - remove that case file instead"
    ):
        store.dismiss(dismissed, "changed my mind")
    # Promoting again is how `cases promote` restores a deleted case file.
    again = store.mark_promoted(dismissed, case_id=dismissed, case_path="evals/y.json")
    assert (again.status, again.case_path, again.expected) == ("promoted", "evals/y.json", promoted.expected)
    assert store.get_incident(dismissed).dismissed_reason == "a duplicate"
    with refused(InvalidInput, "a dismissal needs a reason - say why the incident is not worth a case"):
        store.dismiss(flagged, " ")
    assert store.get_incident(flagged).status == "flagged"
    with refused(
        IncidentNotFound, f"no incident '{'0' * 12}' in store '{store.location}' - see 'cases list --status all'"
    ):
        store.annotate("0" * 12, expected="x", grader={"name": "exact"}, tags=[])


def test_a_flag_on_a_promoted_incident_adds_its_reason(store: Store) -> None:
    trace_id = write_trace(store, "promoted-then-flagged")
    incident = store.flag(trace_id, "first")
    store.annotate(incident.id, expected="x", grader={"name": "exact"}, tags=[])
    store.mark_promoted(incident.id, case_id=incident.id, case_path="evals/x.json")
    again = store.flag(trace_id, "seen again")
    assert again.status == "promoted" and [r["reason"] for r in again.reasons] == ["first", "seen again"]


def test_labels_replace_each_other_and_carry_the_incidents_expected_output(store: Store) -> None:
    trace_id = write_trace(store, "label", output={"days": 14, "cite": "policy"})
    incident = store.flag(trace_id, "wrong window")
    store.annotate(incident.id, expected={"days": 30}, grader={"name": "exact"}, tags=[])
    first = store.add_label(trace_id[:8], "bad", note="14 is wrong")
    # `sha256:` over the output's canonical JSON (sorted keys), the same in every backend and version.
    output_hash = "sha256:00ec4ba1dc9e1895513e70e91bb068dac19e8f30aa686b6b912104497877bcfa"
    assert UTC_MS.fullmatch(first["labelled_at"])
    assert first == {
        "subject": trace_id,
        "trace_id": trace_id,
        "output_hash": output_hash,
        "output": {"days": 14, "cite": "policy"},
        "label": "bad",
        "note": "14 is wrong",
        "labelled_at": first["labelled_at"],
    }
    second = store.add_label(trace_id, "good")
    assert store.list_labels() == [
        {**first, "label": "good", "note": None, "labelled_at": second["labelled_at"], "expected": {"days": 30}}
    ]
    with refused(InvalidInput, "label 'meh' is not one of: good, bad"):
        store.add_label(trace_id, "meh")
    unlabelled = write_trace(store, "unannotated")
    store.add_label(unlabelled, "good")
    assert [(item["trace_id"], item["expected"]) for item in store.list_labels()][-1] == (unlabelled, None)


def test_a_trace_without_an_output_cannot_be_labelled(store: Store) -> None:
    trace_id = _hex("raised", 32)
    row = list(trace_row(trace_id, 1_000, 1, output=None))
    row[4:7] = [None, "error", "ValueError: no policy"]  # output, status, error: the app raised
    store.write_spans([span_row(trace_id, _hex("r", 16), None, "answer", 1_000)], [row])
    with refused(NotFound, f"trace {trace_id} has no output to label (status error) - label a trace that returned"):
        store.add_label(trace_id, "bad")
    assert store.list_labels() == []


def _calibration(config_hash: str, kappa: float, at: str) -> dict[str, Any]:
    return {
        "config_hash": config_hash,
        "grader": {"name": "llm_judge", "options": {"rubric": "r"}},
        "suite": "evals",
        "calibrated_at": at,
        "total": 4,
        "accuracy": 0.75,
        "kappa": kappa,
        "true_pass_rate": 1.0,
        "true_fail_rate": 0.5,
        "confusion": {"good_passed": 2, "good_failed": 0, "bad_passed": 1, "bad_failed": 1},
        "disagreements": [{"source": "case x bad output", "good": False}],
    }


def test_the_latest_calibration_of_a_configuration_wins(store: Store) -> None:
    assert store.latest_calibration("sha256:none") is None
    store.record_calibration(_calibration("sha256:a", 0.4, "2024-05-01T12:00:00"))
    store.record_calibration(_calibration("sha256:a", 0.8, "2024-05-02T12:00:00"))
    store.record_calibration(_calibration("sha256:b", 0.1, "2024-05-03T12:00:00"))
    latest = store.latest_calibration("sha256:a")
    assert latest is not None
    assert latest == {**_calibration("sha256:a", 0.8, "2024-05-02T12:00:00"), "id": latest["id"]}


def test_a_calibration_without_a_time_or_suite_is_kept_as_of_now(store: Store) -> None:
    calibration = _calibration("sha256:c", 0.7, "")
    del calibration["calibrated_at"], calibration["suite"]
    store.record_calibration(calibration)
    latest = store.latest_calibration("sha256:c")
    assert latest is not None and UTC_MS.fullmatch(latest["calibrated_at"])
    assert latest == {**calibration, "suite": None, "calibrated_at": latest["calibrated_at"], "id": latest["id"]}


def test_grader_caches_keep_embeddings_and_verdicts_until_closed(store: Store) -> None:
    caches = store.grader_caches()
    caches.put_embeddings("m1", {"h1": [0.5, -1.0], "h2": [0.25, 2.0]})
    caches.put_verdict("k1", {"verdict": "PASS", "score": 0.9, "reason": "fine"}, model="openai:j")
    assert caches.get_embeddings("m1", ["h2", "h1", "h2", "h3"]) == {"h1": [0.5, -1.0], "h2": [0.25, 2.0]}
    assert caches.get_embeddings("m2", ["h1"]) == {}
    assert caches.get_verdict("k1") == {"verdict": "PASS", "score": 0.9, "reason": "fine"}
    assert caches.get_verdict("k2") is None
    caches.close()
    caches.put_verdict("k2", {"verdict": "FAIL", "score": 0.0, "reason": "late"})
    assert caches.get_verdict("k1") is None and caches.get_embeddings("m1", ["h1"]) == {}
    fresh = store.grader_caches()
    assert fresh.get_verdict("k2") is None and fresh.get_verdict("k1") is not None
    fresh.close()


def test_grader_caches_answer_from_the_runners_threads_however_many_embeddings_are_asked_for(store: Store) -> None:
    # More hashes than SQLite's older limit of 999 bound parameters; graders run on worker threads.
    vectors = {f"h{n}": [float(n), -1.0] for n in range(1_200)}
    caches = store.grader_caches()
    found: dict[str, list[float]] = {}

    def grade() -> None:
        caches.put_embeddings("m1", vectors)
        caches.put_verdict("k1", {"verdict": "PASS", "score": 1.0, "reason": "fine"})
        found.update(caches.get_embeddings("m1", list(vectors)))

    worker = threading.Thread(target=grade)
    worker.start()
    worker.join()
    assert found == vectors
    assert caches.get_verdict("k1") == {"verdict": "PASS", "score": 1.0, "reason": "fine"}
    caches.close()


def test_counts_follow_what_was_stored(store: Store) -> None:
    a = store.flag(write_trace(store, "count-a"), "bad").id
    store.flag(write_trace(store, "count-b"), "bad")
    store.annotate(a, expected="x", grader={"name": "exact"}, tags=[])
    store.record_run({"id": "abc123", "started_at": "2024-05-01T12:00:00", "suite": "evals"}, [])
    counts = store.counts()
    assert (counts.traces, counts.spans, counts.runs) == (2, 4, 1)
    assert counts.incidents == {"flagged": 1, "annotated": 1, "promoted": 0, "dismissed": 0}
    assert counts.location == store.location
