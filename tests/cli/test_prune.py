"""`cases prune --older-than`, through the real `cases` command (and its reading of ages)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from casebank.cli._prune import cutoff
from casebank.errors import UsageError
from casebank.store import open_store
from tests.cli.conftest import Cases, TraceMaker, assert_one_line_error


def test_prune_counts_on_a_dry_run_then_deletes_what_no_incident_references(
    db: Path, make_trace: TraceMaker, cases: Cases, snapshot: Callable[[Path], dict[str, Any]]
) -> None:
    old = make_trace()  # 2024-05-01T12:00:01Z, with a child span
    flagged = make_trace()  # 12:00:02
    newer = make_trace()  # 12:00:03
    with open_store(db) as store:
        store.flag(flagged, "wrong window")
    before = snapshot(db)
    dry = cases("prune", "--older-than", "2024-05-01T12:00:02.500Z", "--dry-run", "--db", str(db))
    assert (dry.code, dry.err) == (0, "")
    assert dry.out == (
        "would delete 1 traces (2 spans) that started before 2024-05-01T12:00:02.500+00:00 "
        "and that no incident references\n"
    )
    assert snapshot(db) == before
    done = cases("prune", "--older-than", "2024-05-01T12:00:02.500Z")
    assert done.out == (
        "deleted 1 traces (2 spans) that started before 2024-05-01T12:00:02.500+00:00 and that no incident references\n"
    )
    with open_store(db) as store:
        assert [t.trace_id for t in store.recent_traces()] == [newer, flagged]
        assert store.get_trace(old) is None
    everything = cases("prune", "--older-than", "30d")  # these traces are from 2024
    assert everything.code == 0 and everything.out.startswith("deleted 1 traces (2 spans) that started before ")


@pytest.mark.parametrize("value", ["3w", "30", "d30", "yesterday", "2024-13-01"])
def test_an_older_than_that_is_neither_an_age_nor_a_date_is_a_usage_error(
    db: Path, make_trace: TraceMaker, cases: Cases, value: str
) -> None:
    make_trace()
    refused = cases("prune", "--older-than", value)
    assert_one_line_error(
        refused,
        2,
        f"--older-than '{value}' is neither an age nor a date - write 30d, 12h or an ISO date such as 2024-05-01",
    )
    with open_store(db) as store:
        assert store.counts().traces == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("30d", "2026-11-07T10:30:00.000+00:00", id="days"),
        pytest.param(" 12H ", "2026-12-06T22:30:00.000+00:00", id="hours"),
        pytest.param("2024-05-01", "2024-05-01T00:00:00.000+00:00", id="a-date-in-utc"),
        pytest.param("2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00.000+00:00", id="a-time-with-its-zone"),
    ],
)
def test_older_than_reads_ages_back_from_now_and_dates_in_utc(value: str, expected: str) -> None:
    now = dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.timezone.utc)
    assert cutoff(value, now) == expected


def test_older_than_refuses_an_empty_value() -> None:
    with pytest.raises(UsageError):
        cutoff("  ")
