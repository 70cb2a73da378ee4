"""`cases traces --uncovered`: recent traces whose input no case resembles, through the real command."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from casebank.replay import write_case
from casebank.store import open_store
from tests.audit.traffic import Traffic, make_case
from tests.cli.conftest import Cases


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def test_uncovered_traces_are_listed_newest_first_and_covered_ones_are_not(
    cases: Cases, db: Path, tmp_path: Path
) -> None:
    write_case(make_case("refund", "How do I get a refund for my trainers?"), tmp_path / "evals")
    with open_store(db) as store:
        traffic = Traffic(store, now=_now())
        covered = traffic("How do I get a refund for my shoes?")
        passwords = [
            traffic(q) for q in ("I forgot my password and cannot log in", "Forgot my password, cannot log in")
        ]
        old = traffic("Do you sell gift cards?", days_ago=3)
    listed = cases("traces", "--uncovered", "--json")
    assert listed.code == 0, listed.err
    shown = [t["trace_id"] for t in orjson.loads(listed.out)]
    assert shown == [passwords[1], passwords[0], old]
    assert covered not in shown
    recent = cases("traces", "--uncovered", "--days", "1", "--json")
    assert [t["trace_id"] for t in orjson.loads(recent.out)] == passwords[::-1]
    table = cases("traces", "--uncovered", "--limit", "1")
    assert table.code == 0 and passwords[1] in table.out and passwords[0] not in table.out


def test_when_every_trace_resembles_a_case_it_says_so(cases: Cases, db: Path, tmp_path: Path) -> None:
    write_case(make_case("refund", "How do I get a refund for my trainers?"), tmp_path / "evals")
    with open_store(db) as store:
        Traffic(store, now=_now())("How do I get a refund for my shoes?")
    result = cases("traces", "--uncovered", "--days", "2")
    assert (result.code, result.out) == (0, "every trace of the last 2 days resembles a case of the suite\n")


def test_without_a_suite_every_recent_trace_is_uncovered(cases: Cases, db: Path) -> None:
    with open_store(db) as store:
        trace_id = Traffic(store, now=_now())("How do I get a refund for my shoes?")
    result = cases("traces", "--uncovered", "--json")
    assert [t["trace_id"] for t in orjson.loads(result.out)] == [trace_id]
