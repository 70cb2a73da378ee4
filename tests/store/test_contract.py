"""The store contract: every promise of `casebank.store.Store`, held by every backend.

Each test runs once per backend (`store` is parametrised); a new backend joins `BACKENDS` and
passes this file unchanged before anything else uses it. Tests speak only through the interface:
what a backend keeps on disk, and how, is tested beside the backend (`test_sqlite_*.py`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.errors import AmbiguousId, IncidentNotFound, InvalidInput, InvalidTransition, NotFound, TraceNotFound
from casebank.store import (
    COPY_KINDS,
    SPAN_COLUMNS,
    Store,
    StoreCounts,
    TraceSummary,
    incident_id_for,
    open_store,
    token_hash,
)
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


# A backend: called with a new, empty folder, it returns a new, empty store of its own (a test
# that copies between stores calls it twice, with two folders).
Backend = Callable[[Path], Store]
BACKENDS = [pytest.param(_sqlite, id="sqlite"), pytest.param(fresh_postgres_store, id="postgres")]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    factory: Backend = request.param
    return factory


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    with backend(tmp_path) as opened:
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


def test_a_run_keeps_the_baseline_it_was_compared_with(store: Store) -> None:
    store.record_run({"id": "bb01", "started_at": "2024-05-01T12:00:01"}, [])
    store.record_run({"id": "bb02", "started_at": "2024-05-01T12:00:02", "baseline_id": "bb01"}, [])
    assert [(r["id"], r["baseline_id"]) for r in store.list_runs()] == [("bb02", "bb01"), ("bb01", None)]
    assert store.resolve_run("bb02")["baseline_id"] == "bb01"
    copied = store.export_records("runs")
    assert [(r["id"], r["baseline_id"]) for r in copied] == [("bb01", None), ("bb02", "bb01")]


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


# -- production: flags ahead of their trace --------------------------------------------------------


def _root_batch(trace_id: str, start_ns: int = 1_000, **attributes: Any) -> tuple[list[Any], list[Any]]:
    """The batch that brings a trace's root span (and its attributes, if any)."""
    root = _hex(trace_id + "root", 16)
    spans = [span_row(trace_id, root, None, "answer", start_ns)]
    return spans, [(*trace_row(trace_id, start_ns, 1), orjson.dumps(attributes).decode() if attributes else None)]


def _child_batch(trace_id: str, start_ns: int = 1_001) -> tuple[list[Any], list[Any]]:
    """A batch with a child span of the trace and no root (as when the child ended first)."""
    child = span_row(trace_id, _hex(trace_id + "child", 16), _hex(trace_id + "root", 16), "chat", start_ns)
    return [child], [trace_row(trace_id, start_ns, 1, root=False)]


def test_flag_or_hold_flags_a_trace_that_has_arrived_as_flag_does(store: Store) -> None:
    trace_id = write_trace(store, "arrived")
    incident = store.flag_or_hold(trace_id.upper(), " wrong window ", flagged_by="ana")
    assert incident is not None and incident.id == incident_id_for(trace_id)
    assert incident.reasons == [{"reason": "wrong window", "flagged_by": "ana", "flagged_at": incident.flagged_at}]
    assert [s["name"] for s in incident.spans] == ["answer", "chat"]
    again = store.flag_or_hold(trace_id, "rude")
    assert again is not None and [r["reason"] for r in again.reasons] == ["wrong window", "rude"]
    assert store.pending_flags() == []


def test_a_flag_held_for_a_trace_id_attaches_when_the_root_arrives_keeping_the_time_it_was_held(store: Store) -> None:
    trace_id = _hex("late", 32)
    assert store.flag_or_hold(trace_id, "wrong window", flagged_by="ana") is None
    [held] = store.pending_flags()
    assert UTC_MS.fullmatch(held["held_at"])
    assert held == {
        "trace_id": trace_id,
        "where": None,
        "reason": "wrong window",
        "flagged_by": "ana",
        "held_at": held["held_at"],
    }
    store.write_spans(*_child_batch(trace_id))  # a batch without the root: nothing to snapshot yet
    assert store.list_incidents() == [] and len(store.pending_flags()) == 1
    store.write_spans(*_root_batch(trace_id))
    [incident] = store.list_incidents()
    assert (incident.id, incident.trace_id, incident.status) == (incident_id_for(trace_id), trace_id, "flagged")
    assert incident.reasons == [{"reason": "wrong window", "flagged_by": "ana", "flagged_at": held["held_at"]}]
    assert incident.flagged_at == held["held_at"]
    assert [s["name"] for s in incident.spans] == ["answer", "chat"] and incident.output == "We refund within 14 days."
    assert store.pending_flags() == []
    store.write_spans(*_root_batch(trace_id))  # the root again (an exporter's retry): attached once
    assert store.get_incident(incident.id).reasons == incident.reasons


def test_a_prepared_batch_that_brings_the_root_attaches_the_held_flags_too(store: Store) -> None:
    trace_id = _hex("prepared-late", 32)
    assert store.flag_or_hold(trace_id, "wrong window") is None
    spans, traces = _root_batch(trace_id)
    store.write_prepared(store.prepare_spans(spans, traces))
    assert [i.trace_id for i in store.list_incidents()] == [trace_id] and store.pending_flags() == []


def test_a_flag_held_by_attributes_attaches_to_the_trace_that_arrives_carrying_them(store: Store) -> None:
    assert store.flag_or_hold(None, "wrong window", where={"ticket_id": 8812, "vip": True}, flagged_by="bo") is None
    [held] = store.pending_flags()
    assert (held["trace_id"], held["where"]) == (None, {"ticket_id": "8812", "vip": "true"})
    other, match = _hex("other-ticket", 32), _hex("ticket-8812", 32)
    store.write_spans(*_root_batch(other, ticket_id="8812"))  # one attribute of two: not this one
    assert store.list_incidents() == []
    store.write_spans(*_root_batch(match, 2_000, ticket_id="8812", vip=True))
    [incident] = store.list_incidents()
    assert incident.trace_id == match
    assert incident.reasons == [{"reason": "wrong window", "flagged_by": "bo", "flagged_at": held["held_at"]}]
    assert store.pending_flags() == []


def test_a_held_flag_attaches_when_a_later_batch_brings_the_attributes_it_names(store: Store) -> None:
    trace_id = _hex("attributes-later", 32)
    store.write_spans(*_root_batch(trace_id))
    assert store.flag_or_hold(None, "bad", where={"ticket_id": "7"}) is None
    store.write_spans([], [(*trace_row(trace_id, 1_000, 0, root=False), orjson.dumps({"ticket_id": 7}).decode())])
    assert [i.trace_id for i in store.list_incidents()] == [trace_id] and store.pending_flags() == []


def test_a_flag_held_by_attributes_goes_to_the_newest_of_a_batch_once(store: Store) -> None:
    assert store.flag_or_hold(None, "bad", where={"ticket_id": "5"}) is None
    older, newer = _hex("five-old", 32), _hex("five-new", 32)
    spans_a, traces_a = _root_batch(older, 1_000, ticket_id="5")
    spans_b, traces_b = _root_batch(newer, 2_000, ticket_id="5")
    store.write_spans(spans_a + spans_b, traces_a + traces_b)
    assert [i.trace_id for i in store.list_incidents()] == [newer] and store.pending_flags() == []


def test_where_flags_the_one_trace_it_matches_and_refuses_several(store: Store) -> None:
    one = _with_attributes(store, "where-one", 1_000, ticket_id=1)
    incident = store.flag_or_hold(None, "bad", where={"ticket_id": "1"})
    assert incident is not None and incident.trace_id == one
    a = _with_attributes(store, "where-a", 2_000, ticket_id=2)
    b = _with_attributes(store, "where-b", 3_000, ticket_id=2)
    with refused(
        AmbiguousId,
        f"ticket_id=2 matches several traces (newest first: {b}, {a}) - "
        "flag one by its trace id, or add another attribute that tells them apart",
    ):
        store.flag_or_hold(None, "bad", where={"ticket_id": 2})
    assert store.pending_flags() == [] and len(store.list_incidents()) == 1


def test_the_same_flag_held_twice_is_kept_once_and_each_reason_attaches_in_the_order_held(store: Store) -> None:
    trace_id = _hex("held-twice", 32)
    for reason, by in (("wrong window", "ana"), ("wrong window", "bo"), ("rude", "bo")):
        assert store.flag_or_hold(trace_id, reason, flagged_by=by) is None
    assert store.flag_or_hold(None, "rude", where={"ticket_id": "9"}) is None
    assert store.flag_or_hold(None, "rude", where={"ticket_id": 9}) is None
    pending = store.pending_flags()
    assert [(p["trace_id"], p["where"], p["reason"], p["flagged_by"]) for p in pending] == [
        (trace_id, None, "wrong window", "ana"),
        (trace_id, None, "rude", "bo"),
        (None, {"ticket_id": "9"}, "rude", None),
    ]
    assert [p["held_at"] for p in pending] == sorted(p["held_at"] for p in pending)
    store.write_spans(*_root_batch(trace_id))
    [incident] = store.list_incidents()
    assert [(r["reason"], r["flagged_by"]) for r in incident.reasons] == [("wrong window", "ana"), ("rude", "bo")]
    assert [p["where"] for p in store.pending_flags()] == [{"ticket_id": "9"}]


@pytest.mark.parametrize(
    ("trace_id", "where", "message"),
    [
        pytest.param(
            None, None, "flag_or_hold takes a trace_id or where=, not both or neither - pass one of them", id="neither"
        ),
        pytest.param(
            "a" * 32,
            {"ticket_id": "1"},
            "flag_or_hold takes a trace_id or where=, not both or neither - pass one of them",
            id="both",
        ),
        pytest.param(
            " abc123 ",
            None,
            "'abc123' is not a full trace id - a flag for a trace that may not have arrived needs all 32 hex "
            "characters of casebank.current_trace_id()",
            id="a-prefix",
        ),
        pytest.param(
            "z" * 32,
            None,
            f"'{'z' * 32}' is not a full trace id - a flag for a trace that may not have arrived needs all 32 hex "
            "characters of casebank.current_trace_id()",
            id="not-hex",
        ),
        pytest.param(
            None,
            {"ticket_id": None},
            "attribute 'ticket_id' has no value - say which ticket_id to look for",
            id="a-where-without-a-value",
        ),
    ],
)
def test_flag_or_hold_refuses_a_target_it_could_never_match(
    store: Store, trace_id: str | None, where: dict[str, Any] | None, message: str
) -> None:
    with refused(InvalidInput, message):
        store.flag_or_hold(trace_id, "bad", where=where)
    assert store.pending_flags() == []


def test_a_held_flag_needs_a_reason(store: Store) -> None:
    with refused(InvalidInput, "a flag needs a reason - say what was wrong with the answer"):
        store.flag_or_hold("b" * 32, "  ")
    assert store.pending_flags() == []


# -- production: tokens ----------------------------------------------------------------------------


def _secret_hash(seed: str) -> str:
    return token_hash(f"cb_{seed}")


def test_tokens_are_kept_by_hash_listed_by_name_and_revoked(store: Store) -> None:
    assert store.list_tokens() == [] and store.token_by_hash(_secret_hash("support")) is None
    store.add_token("support", _secret_hash("support"), ["read", "flag", "read"])
    store.add_token(" collector ", _secret_hash("collector"), ["ingest"])
    listed = store.list_tokens()
    assert all(UTC_MS.fullmatch(t["created_at"]) for t in listed)
    assert listed == [
        {"name": "collector", "scopes": ["ingest"], "created_at": listed[0]["created_at"]},
        {"name": "support", "scopes": ["flag", "read"], "created_at": listed[1]["created_at"]},
    ]
    assert store.token_by_hash(_secret_hash("support")) == {"name": "support", "scopes": ["flag", "read"]}
    assert store.token_by_hash(_secret_hash("collector")) == {"name": "collector", "scopes": ["ingest"]}
    assert store.token_by_hash(_secret_hash("guess")) is None
    store.revoke_token("support")
    assert store.token_by_hash(_secret_hash("support")) is None
    assert [t["name"] for t in store.list_tokens()] == ["collector"]
    store.add_token("support", _secret_hash("support-2"), ["admin"])  # a revoked name can be used again
    assert store.token_by_hash(_secret_hash("support-2")) == {"name": "support", "scopes": ["admin"]}


@pytest.mark.parametrize(
    ("name", "hashed", "scopes", "message"),
    [
        pytest.param(
            "support",
            "OTHER",
            ["read"],
            "a token named 'support' already exists - pick another name, or 'cases token revoke support' first",
            id="a-name-in-use",
        ),
        pytest.param(
            "ci", "OWN", ["read", "write"], "scope 'write' is not one of: ingest, flag, read, admin", id="scope"
        ),
        pytest.param(
            "ci", "OWN", [], "token 'ci' has no scope - give one or more of: ingest, flag, read, admin", id="no-scope"
        ),
        pytest.param(
            "ci",
            "cb_the-secret-itself",
            ["read"],
            "a token is kept by token_hash(secret), never by its secret - pass 'sha256:' and 64 hex characters",
            id="the-secret-not-its-hash",
        ),
        pytest.param(
            "  ", "OWN", ["read"], "a token needs a name - say who or what uses it, e.g. 'support'", id="no-name"
        ),
    ],
)
def test_a_token_is_refused_saying_why(store: Store, name: str, hashed: str, scopes: list[str], message: str) -> None:
    store.add_token("support", _secret_hash("support"), ["flag"])
    hashed = {"OTHER": _secret_hash("other"), "OWN": _secret_hash("own")}.get(hashed, hashed)
    with refused(InvalidInput, message):
        store.add_token(name, hashed, scopes)
    assert [(t["name"], t["scopes"]) for t in store.list_tokens()] == [("support", ["flag"])]


def test_revoking_an_unknown_token_says_where_to_look(store: Store) -> None:
    with refused(NotFound, f"no token 'nobody' in store '{store.location}' - see 'cases token list'"):
        store.revoke_token("nobody")


def test_a_store_that_answers_pings(store: Store) -> None:
    assert store.ping() is None


# -- production: retention -------------------------------------------------------------------------

_MAY_2024 = 1_714_521_600 * 10**9  # 2024-05-01T00:00:00Z in ns


def test_prune_deletes_old_traces_that_no_incident_references_and_counts_first_on_a_dry_run(store: Store) -> None:
    day = 86_400 * 10**9
    old = _with_attributes(store, "old", _MAY_2024, ticket_id="old")
    store.write_spans(*_child_batch(old, _MAY_2024 + 1))
    kept = write_trace(store, "old-but-flagged", start_ns=_MAY_2024 + day)
    incident = store.flag(kept, "wrong window")
    new = write_trace(store, "new", start_ns=_MAY_2024 + 40 * day)
    before = store.counts()
    assert store.prune("2024-05-10T00:00:00+00:00", dry_run=True) == {"traces": 1, "spans": 2}
    assert store.counts() == before and store.get_trace(old) is not None
    assert store.prune("2024-05-10T00:00:00Z") == {"traces": 1, "spans": 2}
    assert store.get_trace(old) is None and store.trace_spans(old) == []
    assert store.traces_where({"ticket_id": "old"}) == []
    assert [t.trace_id for t in store.recent_traces()] == [new, kept]
    assert store.get_incident(incident.id).as_dict() == incident.as_dict()
    assert (store.counts().traces, store.counts().spans) == (2, 4)
    assert store.prune("2024-05-10") == {"traces": 0, "spans": 0}


def test_prune_cuts_at_the_time_given_in_utc_unless_it_says_its_zone(store: Store) -> None:
    hour = 3_600 * 10**9
    at_noon = write_trace(store, "noon", start_ns=_MAY_2024 + 12 * hour)
    assert store.prune("2024-05-01T12:00:00", dry_run=True) == {"traces": 0, "spans": 0}  # not before noon
    assert store.prune("2024-05-01T13:00:00+02:00", dry_run=True) == {"traces": 0, "spans": 0}  # 11:00 UTC
    assert store.prune("2024-05-01T12:00:00.001+00:00") == {"traces": 1, "spans": 2}
    assert store.get_trace(at_noon) is None


def test_prune_refuses_a_time_it_cannot_read(store: Store) -> None:
    write_trace(store, "kept", start_ns=_MAY_2024)
    with refused(
        InvalidInput,
        "'30d' is not an ISO-8601 time - pass one such as 2024-05-01 or 2024-05-01T12:00:00+00:00",
    ):
        store.prune("30d")
    assert store.counts().traces == 1


# -- production: copying ---------------------------------------------------------------------------


def _filled(store: Store) -> dict[str, str]:
    """A store holding one of everything a copy moves, with the cases where NULL and JSON null differ."""
    ids = {"plain": _with_attributes(store, "copy-plain", _MAY_2024, ticket_id=8812, vip=True)}
    store.write_spans(*_child_batch(ids["plain"], _MAY_2024 + 1))
    ids["none"] = write_trace(store, "copy-returned-none", start_ns=_MAY_2024 + 2, output=None)
    raised = _hex("copy-raised", 32)
    row = list(trace_row(raised, _MAY_2024 + 3, 1, output=None))
    row[4:7] = [None, "error", "ValueError: no policy"]
    store.write_spans([span_row(raised, _hex("copy-raised-root", 16), None, "answer", _MAY_2024 + 3)], [row])
    ids["raised"] = raised
    ids["rootless"] = _hex("copy-rootless", 32)
    store.write_spans(*_child_batch(ids["rootless"], _MAY_2024 + 4))
    annotated = store.flag(ids["none"], "should have said something", flagged_by="ana")
    store.annotate(annotated.id, expected=None, grader={"name": "exact"}, tags=["b", "a"])
    store.flag(ids["raised"], "crashed")
    store.add_label(ids["plain"], "bad", note="wrong window")
    store.add_label(ids["none"], "good")
    results = [
        {"case_id": "case-b", "epoch": 0, "passed": 1, "score": 1.0, "output": {"days": 30}, "tags": ["refunds"]},
        {"case_id": "case-a", "epoch": 0, "passed": 0, "score": 0.0, "output": None, "error": "boom"},
    ]
    store.record_run(
        {"id": "abc123", "started_at": "2024-05-01T12:00:00", "suite": "evals", "total": 2, "origin": "cli"},
        [{**r, "run_id": "abc123"} for r in results],
    )
    store.record_run({"id": "def456", "started_at": "2024-05-02T12:00:00", "suite": "evals"}, [])
    store.record_calibration(_calibration("sha256:a", 0.4, "2024-05-01T12:00:00"))
    store.record_calibration(_calibration("sha256:b", 0.8, "2024-05-02T12:00:00"))
    return ids


def _copy(source: Store, dest: Store, limit: int) -> dict[str, int]:
    copied = {}
    for kind in COPY_KINDS:
        copied[kind], after = 0, None
        while page := source.export_records(kind, after=after, limit=limit):
            copied[kind] += dest.import_records(kind, page)
            after = page[-1]["key"]
    return copied


def _everything(store: Store) -> dict[str, Any]:
    traces = store.recent_traces(limit=1_000)
    return {
        "traces": [(t, store.trace_spans(t.trace_id)) for t in traces],
        "where": store.traces_where({"ticket_id": "8812"}),
        "incidents": [(i.as_dict(), i.has_expected) for i in store.list_incidents()],
        "runs": [(r, store.run_results(r["id"], suite_order=True)) for r in store.list_runs(limit=None)],
        "labels": store.list_labels(),
        "calibrations": [store.latest_calibration(h) for h in ("sha256:a", "sha256:b")],
    }


def _without_ids(calibration: dict[str, Any] | None) -> dict[str, Any]:
    assert calibration is not None
    return {k: v for k, v in calibration.items() if k != "id"}


def test_records_copy_a_store_whole_in_pages_and_a_second_copy_adds_nothing(
    store: Store, backend: Backend, tmp_path: Path
) -> None:
    ids = _filled(store)
    (tmp_path / "copy").mkdir()
    with backend(tmp_path / "copy") as dest:
        assert _copy(store, dest, limit=2) == {
            "traces": 4,
            "spans": 6,
            "incidents": 2,
            "runs": 2,
            "labels": 2,
            "calibrations": 2,
        }
        source_has, dest_has = _everything(store), _everything(dest)
        for side in (source_has, dest_has):  # a calibration's id is the store's own row number
            side["calibrations"] = [_without_ids(c) for c in side["calibrations"]]
        assert dest_has == source_has
        assert _copy(store, dest, limit=1_000) == dict.fromkeys(COPY_KINDS, 0)
        assert (dest.counts().traces, dest.counts().spans, dest.counts().runs) == (4, 6, 2)
        # What NULL and JSON null told apart survives: a raised trace has no output to label, and
        # an incident annotated with None still counts as annotated.
        with refused(
            NotFound, f"trace {ids['raised']} has no output to label (status error) - label a trace that returned"
        ):
            dest.add_label(ids["raised"], "bad")
        annotated = dest.get_incident(incident_id_for(ids["none"]))
        assert annotated.has_expected and annotated.expected is None and annotated.status == "annotated"
        rootless = dest.get_trace(ids["rootless"])
        assert rootless is not None and rootless.entrypoint is None


def test_a_page_of_records_follows_the_key_it_is_given(store: Store) -> None:
    _filled(store)
    everything = store.export_records("spans", limit=1_000)
    keys = [r["key"] for r in everything]
    assert len(keys) == 6 and keys == sorted(keys) and len(set(keys)) == 6
    assert all(r["key"] == f"{r['trace_id']}:{r['span_id']}" for r in everything)
    pages, after = [], None
    while page := store.export_records("spans", after=after, limit=4):
        pages.append(page)
        after = page[-1]["key"]
    assert [len(p) for p in pages] == [4, 2] and [r for p in pages for r in p] == everything
    assert store.export_records("spans", after=keys[2], limit=2) == everything[3:5]
    assert store.export_records("traces", after="f" * 32) == []
    for kind in ("traces", "incidents", "runs", "labels", "calibrations"):
        records = store.export_records(kind)
        assert [r["key"] for r in records] == sorted(r["key"] for r in records), kind


def test_records_say_what_a_store_holds_in_every_backends_words(store: Store) -> None:
    # Another backend imports these: their shape is the contract, not any one schema.
    ids = _filled(store)
    traces = {r["trace_id"]: r for r in store.export_records("traces")}
    assert traces[ids["plain"]] == {
        "key": ids["plain"],
        "trace_id": ids["plain"],
        "name": "answer",
        "entrypoint": "bot:answer",
        "input": {"question": "refund?"},
        "output": "We refund within 14 days.",
        "has_output": True,
        "status": "ok",
        "error": None,
        "started_at": f"t{_MAY_2024}",
        "start_ns": _MAY_2024,
        "duration_ms": 10.0,
        "service_name": "svc",
        "span_count": 2,
        "attributes": {"ticket_id": 8812, "vip": True},
    }
    assert (traces[ids["none"]]["output"], traces[ids["none"]]["has_output"]) == (None, True)
    assert (traces[ids["raised"]]["output"], traces[ids["raised"]]["has_output"]) == (None, False)
    spans = store.export_records("spans", after=ids["plain"], limit=1)  # the first span of the next trace
    assert [set(s) for s in spans] == [{"key", *SPAN_COLUMNS}]
    [child] = [s for s in store.export_records("spans") if s["trace_id"] == ids["plain"] and s["parent_span_id"]]
    assert child == {
        "key": f"{ids['plain']}:{child['span_id']}",
        **dict(zip(SPAN_COLUMNS, _child_batch(ids["plain"], _MAY_2024 + 1)[0][0], strict=True)),
        "attributes": {},
        "events": None,
    }
    incidents = {r["trace_id"]: r for r in store.export_records("incidents")}
    annotated = incidents[ids["none"]]
    assert annotated == {
        "key": incident_id_for(ids["none"]),
        "id": incident_id_for(ids["none"]),
        "trace_id": ids["none"],
        "status": "annotated",
        "reasons": [
            {"reason": "should have said something", "flagged_by": "ana", "flagged_at": annotated["flagged_at"]}
        ],
        "flagged_at": annotated["flagged_at"],
        "updated_at": annotated["updated_at"],
        "entrypoint": "bot:answer",
        "input": {"question": "refund?"},
        "output": None,
        "error": None,
        "snapshot": store.trace_spans(ids["none"]),
        "expected": None,
        "has_expected": True,
        "grader": {"name": "exact"},
        "tags": ["a", "b"],
        "dismissed_reason": None,
        "case_id": None,
        "case_path": None,
    }
    raised = incidents[ids["raised"]]
    assert (raised["error"], raised["has_expected"], raised["expected"]) == ("ValueError: no policy", False, None)
    [run, _] = store.export_records("runs")
    assert run["key"] == run["id"] == "abc123" and run["origin"] == "cli"
    assert [(r["case_id"], r["output"], r["tags"]) for r in run["results"]] == [
        ("case-b", {"days": 30}, ["refunds"]),
        ("case-a", None, None),
    ]
    labels = store.export_records("labels")
    assert [(r["key"], r["subject"], r["label"], r["output"]) for r in labels] == sorted(
        [
            (ids["plain"], ids["plain"], "bad", "We refund within 14 days."),
            (ids["none"], ids["none"], "good", None),
        ]
    )
    calibrations = store.export_records("calibrations")
    assert calibrations == [
        {"key": "2024-05-01T12:00:00 sha256:a", **_calibration("sha256:a", 0.4, "2024-05-01T12:00:00")},
        {"key": "2024-05-02T12:00:00 sha256:b", **_calibration("sha256:b", 0.8, "2024-05-02T12:00:00")},
    ]


def test_records_of_a_kind_a_store_does_not_copy_are_refused(store: Store) -> None:
    message = (
        "'tokens' is not a kind of record a store copies - one of: traces, spans, incidents, runs, labels, calibrations"
    )
    with refused(InvalidInput, message):
        store.export_records("tokens")
    with refused(InvalidInput, message):
        store.import_records("tokens", [])


# -- recent traffic for `cases audit` (issue 17) ---------------------------------------------------


def _at(start_ns: int) -> str:
    """An ISO-8601 UTC time `start_ns` after the epoch (to the microsecond, as `since` counts)."""
    seconds, rest = divmod(start_ns, 1_000_000_000)
    return f"1970-01-01T00:00:{seconds:02d}.{rest // 1000:06d}+00:00"


def _traffic_trace(trace_id: str, start_ns: int, entrypoint: str) -> tuple[Any, ...]:
    row = list(trace_row(trace_id, start_ns, 1))
    row[2] = entrypoint
    return tuple(row)


def _by_start(got: list[str], ids: list[str]) -> list[str]:
    """`got`, checked to be oldest first (the ith of `ids` starts at i // 7) with no trace twice,
    and put in the order of `ids` within each start time: ties come in no promised order."""
    starts = [ids.index(t) // 7 for t in got]
    assert starts == sorted(starts) and len(set(got)) == len(got)
    return sorted(got, key=ids.index)


def test_traces_since_are_oldest_first_from_that_time_over_many_pages(store: Store) -> None:
    # 1,200 traces, seven a start time, so that ties straddle the pages a backend reads.
    ids = [_hex(f"since{n}", 32) for n in range(1_200)]
    rows = [_traffic_trace(t, 1_000 * (n // 7), "bot:answer" if n % 3 else "bot:triage") for n, t in enumerate(ids)]
    store.write_spans([], rows[:600])
    store.write_spans([], rows[600:])
    since = 1_000 * 10  # traces 70 and on
    got = [t.trace_id for t in store.traces_since(_at(since))]
    assert _by_start(got, ids) == ids[70:]
    triage = list(store.traces_since(_at(since), entrypoint="bot:triage"))
    assert _by_start([t.trace_id for t in triage], ids) == [t for n, t in enumerate(ids) if n >= 70 and n % 3 == 0]
    assert triage[0].entrypoint == "bot:triage" and triage[0].input == {"question": "refund?"}
    assert list(store.traces_since(_at(1_000 * 200))) == []
    assert list(store.traces_since(_at(since), entrypoint="bot:other")) == []


def test_traces_since_refuses_a_time_that_is_not_one(store: Store) -> None:
    with refused(
        InvalidInput, "'last week' is not an ISO-8601 time - pass one such as 2024-05-01 or 2024-05-01T12:00:00+00:00"
    ):
        list(store.traces_since("last week"))


def _llm_span(trace_id: str, seed: str, start_ns: int, **attrs: Any) -> tuple[Any, ...]:
    return span_row(trace_id, _hex(seed, 16), _hex(trace_id + "root", 16), "chat", start_ns, **attrs)


def test_llm_inputs_since_are_the_system_instructions_and_input_messages_as_stored(store: Store) -> None:
    system = orjson.dumps([{"type": "text", "content": "You are a support bot."}]).decode()
    messages = orjson.dumps([{"role": "user", "parts": [{"type": "text", "content": "refund?"}]}]).decode()
    old, new, quiet = _hex("old", 32), _hex("new", 32), _hex("quiet", 32)
    spans = [
        _llm_span(old, "o1", 1_000, **{"gen_ai.input.messages": messages}),
        _llm_span(new, "n1", 5_000, **{"gen_ai.system_instructions": system, "gen_ai.input.messages": messages}),
        _llm_span(new, "n2", 5_001, **{"gen_ai.input.messages": messages, "gen_ai.request.model": "m"}),
        _llm_span(new, "n3", 5_002, **{"gen_ai.request.model": "m"}),  # an LLM span that kept no content
        span_row(new, _hex("tool", 16), None, "lookup", 5_003, **{"casebank.step.kind": "tool"}),
        span_row(quiet, _hex("q", 16), None, "answer", 6_000),
    ]
    store.write_spans(spans, [trace_row(old, 1_000, 1), trace_row(new, 5_000, 4), trace_row(quiet, 6_000, 1)])
    got = list(store.llm_inputs_since(_at(2_000)))
    expected = [
        {"trace_id": new, "span_id": _hex("n1", 16), "system_instructions": system, "input_messages": messages},
        {"trace_id": new, "span_id": _hex("n2", 16), "system_instructions": None, "input_messages": messages},
    ]
    assert got == sorted(expected, key=lambda s: s["span_id"])
    assert [s["trace_id"] for s in store.llm_inputs_since(_at(0))] == [old, new, new]


def test_llm_inputs_since_reads_every_trace_over_many_pages(store: Store) -> None:
    messages = orjson.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]).decode()
    ids = [_hex(f"page{n}", 32) for n in range(1_100)]
    spans = [
        _llm_span(t, f"page{n}span", 1_000 * (n // 5), **{"gen_ai.input.messages": messages})
        for n, t in enumerate(ids)
        if n % 4  # a trace in four sends nothing to a model
    ]
    store.write_spans(spans, [trace_row(t, 1_000 * (n // 5), 1) for n, t in enumerate(ids)])
    got = [s["trace_id"] for s in store.llm_inputs_since(_at(0))]
    starts = [ids.index(t) // 5 for t in got]
    assert starts == sorted(starts)
    assert sorted(got, key=ids.index) == [t for n, t in enumerate(ids) if n % 4]
