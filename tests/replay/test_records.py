"""Runs kept for later: a run file read back, and the runs of shards joined into one.

Storing and loading a run through the store is tested with a real run in tests/replay/test_runner.py.
"""

from __future__ import annotations

import pytest

from casebank.errors import InvalidInput
from casebank.replay import RunReport, merge_reports, report_dict, report_from_dict
from tests.replay.test_report import report, result


def shard(run_id: str, *case_ids: str, suite_hash: str = "sha256:" + "0" * 64) -> RunReport:
    run = report(*(result(case_id, "passed") for case_id in case_ids))
    run.id, run.suite_hash = run_id, suite_hash
    return run


def test_merging_shards_joins_their_results_under_a_new_id_and_a_hash_of_their_hashes() -> None:
    one, two = (
        shard("aaaaaaaaaaaa", "c1", suite_hash="sha256:1"),
        shard("bbbbbbbbbbbb", "c2", "c3", suite_hash="sha256:2"),
    )

    merged = merge_reports([one, two])
    reversed_order = merge_reports([two, one])

    assert [r.case_id for r in merged.results] == ["c1", "c2", "c3"]
    assert merged.id not in (one.id, two.id) and (merged.total, merged.passed) == (3, 3)
    assert merged.suite_hash == reversed_order.suite_hash != one.suite_hash
    assert merge_reports([one]).suite_hash == one.suite_hash


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        pytest.param(
            [("aaaaaaaaaaaa", "c1"), ("aaaaaaaaaaaa", "c1")],
            "^run aaaaaaaaaaaa is given twice - merge each shard's run once$",
            id="run-twice",
        ),
        pytest.param(
            [("aaaaaaaaaaaa", "c1", "c2"), ("bbbbbbbbbbbb", "c2")],
            "^case 'c2' is in both run aaaaaaaaaaaa and run bbbbbbbbbbbb - merge disjoint shards only$",
            id="overlapping-shards",
        ),
    ],
)
def test_merging_refuses_what_would_count_a_case_twice(runs: list[tuple[str, ...]], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        merge_reports([shard(*run) for run in runs])


@pytest.mark.parametrize(
    ("data", "why"),
    [
        pytest.param([1, 2], "TypeError: a run is a JSON object, not a list", id="a-list"),
        pytest.param({"results": []}, "KeyError: 'id'", id="no-id"),
        pytest.param({"id": "x", "results": [{"case_id": "c1"}]}, "KeyError: 'passed'", id="a-result-without-verdict"),
    ],
)
def test_a_file_that_is_not_a_run_is_a_usage_error_naming_it(data: object, why: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        report_from_dict(data, "shard1.json")

    assert str(raised.value) == (f"'shard1.json' is not a run written by 'cases run --json' ({why}) - pass such a file")


def test_a_run_file_reads_back_as_the_run_it_was_written_from() -> None:
    run = report(result("c1", "passed"), result("c2", "failed"), result("c3", "errored"))

    assert report_dict(report_from_dict(report_dict(run), "run.json")) == report_dict(run)
