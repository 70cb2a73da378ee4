"""A new grader end to end: `cases annotate --grader ... --option ...`, then `cases promote`."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.cli.conftest import Cases, assert_one_line_error


def test_annotate_with_the_numeric_grader_then_promote_writes_it_into_the_case(
    cases: Cases, flagged: str, tmp_path: Path
) -> None:
    result = cases("annotate", flagged, "--grader", "numeric", "--option", "abs=0.5", "--expected-json", "30")
    assert result.code == 0, result.err
    assert f"annotated incident {flagged} (grader numeric)" in result.out
    assert "passes the expected output and fails the flagged one" in result.out

    result = cases("promote", flagged, "--suite", "evals")
    assert result.code == 0, result.err
    case = orjson.loads((tmp_path / result.out.strip()).read_bytes())
    assert case["grader"] == {"name": "numeric", "options": {"abs": 0.5}}
    assert case["source"]["sanity_check"] == {"expected_passes": True, "bad_output_fails": True, "forced": False}


def test_annotate_refuses_a_bad_grader_option_in_one_line(cases: Cases, flagged: str) -> None:
    result = cases("annotate", flagged, "--grader", "numeric", "--option", "abs=-1", "--expected-json", "30")
    assert_one_line_error(result, 2, "grader 'numeric' option abs='-1' - use a number >= 0")
    result = cases("annotate", flagged, "--grader", "sql_rows", "--option", "database=shop.db", "--expected", "x")
    assert_one_line_error(result, 2, "option database='shop.db' - no file at 'evals/shop.db'")
