"""A run against its baseline: regressions, fixes, flaky cases, McNemar, and every exit of the gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy.stats import binomtest

from casebank.errors import AmbiguousId, InvalidInput, NotFound
from casebank.replay import RunReport, record, report_dict
from casebank.replay._compare import (
    compare,
    comparison_dict,
    comparison_lines,
    comparison_markdown,
    exit_code,
    load_baseline,
)
from casebank.store import open_store
from tests.replay.test_report import report, result


def run(run_id: str, outcomes: dict[str, str]) -> RunReport:
    """A run from {case id: "pass" | "fail" | "flaky"} (flaky: two epochs, one passing)."""
    results = []
    for case_id, outcome in outcomes.items():
        epochs = {"pass": ["passed", "passed"], "fail": ["failed", "failed"], "flaky": ["passed", "failed"]}[outcome]
        results += [result(case_id, status, epoch=i) for i, status in enumerate(epochs)]
    made = report(*results)
    made.id, made.epochs = run_id, 2
    return made


BASELINE = run("aaaaaaaaaaaa", {"a": "pass", "b": "pass", "c": "fail", "d": "fail", "e": "flaky", "f": "pass"})
CURRENT = run("bbbbbbbbbbbb", {"a": "pass", "b": "fail", "c": "pass", "d": "fail", "e": "fail", "g": "fail"})


def test_cases_are_sorted_into_regressions_fixes_still_failing_flaky_new_and_removed() -> None:
    comparison = compare(BASELINE, CURRENT)

    assert comparison_dict(comparison) == {
        "baseline": "aaaaaaaaaaaa",
        "current": "bbbbbbbbbbbb",
        "regressions": ["b"],
        "fixes": ["c"],
        "still_failing": ["d"],
        "flaky": ["e"],
        "new_cases": [{"case_id": "g", "outcome": "fail"}],
        "removed_cases": ["f"],
        "unchanged": 1,
        "mcnemar_p_value": 1.0,
        "significant": False,
    }


def test_a_case_that_turns_flaky_after_passing_is_a_regression() -> None:
    comparison = compare(run("a" * 12, {"x": "pass"}), run("b" * 12, {"x": "flaky"}))
    assert (comparison.regressions, comparison.flaky) == (["x"], [])


def test_the_p_value_is_mcnemars_exact_test_on_the_discordant_pairs() -> None:
    before = run("a" * 12, {f"c{i}": "pass" if i < 9 else "fail" for i in range(12)})
    after = run("b" * 12, {f"c{i}": "fail" if i < 7 else "pass" for i in range(12)})

    comparison = compare(before, after)

    assert (len(comparison.regressions), len(comparison.fixes)) == (7, 3)
    assert comparison.p_value == pytest.approx(binomtest(7, 10, 0.5).pvalue)
    assert not comparison.significant


GATE = [
    # (baseline, current, fail_on, exit code)
    pytest.param({"a": "pass"}, {"a": "pass"}, "any", 0, id="any-all-pass"),
    pytest.param({"a": "fail"}, {"a": "fail"}, "any", 1, id="any-still-failing"),
    pytest.param({"a": "fail"}, {"a": "fail"}, "regression", 0, id="regression-still-failing-is-not-one"),
    pytest.param({"a": "pass"}, {"a": "fail"}, "regression", 1, id="regression-newly-failing"),
    pytest.param({"a": "flaky"}, {"a": "fail"}, "regression", 0, id="regression-known-flaky-is-not-one"),
    pytest.param({}, {"new": "fail"}, "regression", 0, id="regression-new-failing-case-is-not-one"),
    pytest.param({"a": "pass"}, {"a": "fail"}, "significant", 0, id="significant-one-regression-is-not"),
    pytest.param(
        {f"c{i}": "pass" for i in range(6)}, {f"c{i}": "fail" for i in range(6)}, "significant", 1, id="significant-6-0"
    ),
    pytest.param(
        {f"c{i}": "pass" for i in range(5)}, {f"c{i}": "fail" for i in range(5)}, "significant", 0, id="p-0.0625-is-not"
    ),
]


@pytest.mark.parametrize(("before", "after", "fail_on", "code"), GATE)
def test_every_exit_code_of_the_gate(before: dict[str, str], after: dict[str, str], fail_on: str, code: int) -> None:
    current = run("b" * 12, after)
    assert exit_code(current, compare(run("a" * 12, before), current), fail_on) == code


@pytest.mark.parametrize("fail_on", ["regression", "significant"])
def test_a_gate_that_compares_needs_a_baseline(fail_on: str) -> None:
    with pytest.raises(InvalidInput, match=f"--fail-on {fail_on} needs a baseline"):
        exit_code(CURRENT, None, fail_on)
    assert exit_code(run("b" * 12, {"a": "pass"}), None, "any") == 0


def test_the_terminal_lines_and_the_markdown_comment() -> None:
    comparison = compare(BASELINE, CURRENT)

    lines = comparison_lines(comparison)
    markdown = comparison_markdown(comparison)

    assert lines[2:] == [
        "regressions (passed before, not now): b",
        "fixes (failed before, pass now): c",
        "still failing: d",
        "flaky in the baseline, not passing now (not counted as regressions): e",
        "new cases: g (fail)",
        "removed cases: f",
        "McNemar exact test on 2 discordant pairs (1 regressions, 1 fixes): p = 1 - not a significant drop at 0.05",
    ]
    assert lines[0] == "baseline run aaaaaaaaaaaa (2024-05-01 12:00:00): 3/6 50.0% (95% CI 18.8-81.2%)"
    assert markdown.startswith("### ❌ casebank: 1 regression against baseline `aaaaaaaaaaaa`\n")
    assert "**Regressions (passed before, not now):** `b`\n" in markdown
    assert "**Flaky in the baseline, not passing now (not counted as regressions):** `e`\n" in markdown
    assert markdown.endswith("p = 1 - not a significant drop at 0.05\n")


def test_a_stored_baseline_loads_back_whole_in_suite_order_by_unique_prefix(tmp_path: Path) -> None:
    # Suite order is not case id order: the loaded run must keep the order it was recorded in.
    stored = report(
        result("zeta", "passed", epoch=0, output={"total": 1}, tags=["a", "b"]),
        result("zeta", "failed", epoch=1, retries=2, unreliable="judge not calibrated"),
        result("alpha", "errored", timed_out=True, tags=[]),
    )
    stored.id, stored.epochs, stored.git_commit, stored.status = "ab12cd34ef56", 2, "f" * 40, "interrupted"
    other = report(result("alpha", "passed"))
    other.id, other.started_at = "ab99cd34ef56", "2024-04-01T12:00:00.000+00:00"

    with open_store(tmp_path / "s.db") as store:
        record(store, stored)
        record(store, other)
        loaded = load_baseline(store, "AB12")
        latest = load_baseline(store, "latest")
        with pytest.raises(AmbiguousId, match="run id 'ab' is ambiguous \\(ab12cd34ef56, ab99cd34ef56\\)"):
            load_baseline(store, "ab")
        with pytest.raises(NotFound, match="no run matches 'ab0'"):
            load_baseline(store, "ab0")
        assert [run["id"] for run in store.list_runs(None)] == ["ab12cd34ef56", "ab99cd34ef56"]
        assert [run["id"] for run in store.list_runs(1)] == ["ab12cd34ef56"]

    assert [(r.case_id, r.epoch) for r in loaded.results] == [("zeta", 0), ("zeta", 1), ("alpha", 0)]
    assert report_dict(loaded) == report_dict(stored) == report_dict(latest)
