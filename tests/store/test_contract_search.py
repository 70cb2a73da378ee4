"""The store contract, continued: `search_traces`, the review pages' search, on every backend.

Kept beside `test_contract.py` (whose backends and helpers it shares) so that the contract stays
one suite: every backend passes this file unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from casebank.errors import InvalidInput
from casebank.store import Store
from tests.store.test_contract import _hex, refused, span_row, trace_row

# The contract's fixtures: one store of each backend per test.
pytest_plugins = ["tests.store.test_contract"]

SECOND = 1_000_000_000


def _trace(
    store: Store, seed: str, start_ns: int, *, entrypoint: str = "bot:answer", status: str = "ok", **attrs: Any
) -> str:
    trace_id = _hex(seed, 32)
    row = list(trace_row(trace_id, start_ns, 1))
    row[2], row[5] = entrypoint, status
    row.append(orjson.dumps(attrs).decode() if attrs else None)
    store.write_spans([span_row(trace_id, _hex(seed + "root", 16), None, "answer", start_ns)], [tuple(row)])
    return trace_id


def _ids(found: list[Any]) -> list[str]:
    return [t.trace_id for t in found]


def test_search_with_no_filter_lists_the_newest_first_up_to_the_limit(store: Store) -> None:
    ids = [_trace(store, f"t{n}", (n + 1) * SECOND) for n in range(5)]
    assert _ids(store.search_traces()) == ids[::-1]
    assert _ids(store.search_traces(limit=2)) == [ids[4], ids[3]]
    found = store.search_traces(limit=1)[0]
    assert (found.entrypoint, found.status, found.output) == ("bot:answer", "ok", "We refund within 14 days.")


def test_search_filters_by_attribute_entry_point_status_and_time_together(store: Store) -> None:
    ticket = _trace(store, "ticket", 1 * SECOND, ticket_id=8812)
    other_ticket = _trace(store, "other", 2 * SECOND, ticket_id=9000)
    failed = _trace(store, "failed", 3 * SECOND, status="error", ticket_id=8812)
    refunds = _trace(store, "refunds", 4 * SECOND, entrypoint="bot:refund")
    assert _ids(store.search_traces(where={"ticket_id": "8812"})) == [failed, ticket]
    assert _ids(store.search_traces(where={"ticket_id": 8812}, status="ok")) == [ticket]
    assert _ids(store.search_traces(status="error")) == [failed]
    assert _ids(store.search_traces(entrypoint="bot:refund")) == [refunds]
    assert _ids(store.search_traces(entrypoint="bot:answer", status="ok")) == [other_ticket, ticket]
    since, until = "1970-01-01T00:00:02+00:00", "1970-01-01T00:00:04Z"
    assert _ids(store.search_traces(since=since)) == [refunds, failed, other_ticket]
    assert _ids(store.search_traces(since=since, until=until)) == [failed, other_ticket]
    assert _ids(store.search_traces(until="1970-01-01T00:00:02")) == [ticket]
    assert store.search_traces(where={"ticket_id": "1"}) == []


def test_search_pages_on_from_the_last_trace_shown_however_ties_fall(store: Store) -> None:
    # Three traces start at the same nanosecond: a cursor by time alone would lose or repeat them.
    ids = [_trace(store, f"p{n}", (n // 3 + 1) * SECOND, ticket_id=1) for n in range(8)]
    seen: list[str] = []
    before = None
    while True:
        page = _ids(store.search_traces(where={"ticket_id": "1"}, before=before, limit=3))
        seen += page
        if len(page) < 3:
            break
        before = page[-1]
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    starts = [ids.index(t) // 3 for t in seen]
    assert starts == sorted(starts, reverse=True)
    assert _ids(store.search_traces(before=seen[-1])) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"status": "failed"}, "status 'failed' is not one of ok, error", id="a-status"),
        pytest.param({"limit": 0}, "limit 0 is not a whole number from 1 to 1000", id="a-limit"),
        pytest.param(
            {"since": "yesterday"},
            "'yesterday' is not an ISO-8601 time - pass one such as 2024-05-01 or 2024-05-01T12:00:00+00:00",
            id="a-time",
        ),
        pytest.param(
            {"since": "2024-05-02", "until": "2024-05-01"},
            "until '2024-05-01' is not after since '2024-05-02' - swap them, or widen the range",
            id="a-range",
        ),
        pytest.param(
            {"before": "xyz"},
            "cursor 'xyz' is not a trace id - page on with the id of the last trace a page showed",
            id="a-cursor",
        ),
        pytest.param(
            {"where": {"ticket_id": None}},
            "attribute 'ticket_id' has no value - say which ticket_id to look for",
            id="a-where",
        ),
    ],
)
def test_a_search_is_refused_naming_what_was_wrong(store: Store, arguments: dict[str, Any], message: str) -> None:
    with refused(InvalidInput, message):
        store.search_traces(**arguments)


def test_a_cursor_that_names_no_trace_says_to_start_again(store: Store) -> None:
    gone = _hex("gone", 32)
    with refused(
        InvalidInput,
        f"cursor '{gone}' names no trace in store '{store.location}' (pruned meanwhile?) - "
        "start again from the first page",
    ):
        store.search_traces(before=gone)
