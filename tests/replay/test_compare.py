"""A run against its baseline: regressions, fixes, flaky cases, McNemar, and every exit of the gate."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest
from scipy.stats import binomtest

from casebank.errors import AmbiguousId, InvalidInput, NotFound
from casebank.replay import RunReport, record, report_dict, report_json
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


def _text(block: str) -> str:
    return textwrap.dedent(block).lstrip("\n")


# The comparison as a person reads it, whole: in the terminal, then as a pull-request comment.
SEEN = [
    pytest.param(
        {"a": "pass", "b": "pass", "c": "fail", "d": "fail", "e": "flaky", "f": "pass"},
        {"a": "pass", "b": "fail", "c": "pass", "d": "fail", "e": "fail", "g": "fail"},
        _text(
            """
            baseline run aaaaaaaaaaaa (2024-05-01 12:00:00): 3/6 50.0% (95% CI 18.8-81.2%)
            this     run bbbbbbbbbbbb (2024-05-01 12:00:00, commit 0123456789ab): 2/6 33.3% (95% CI 9.7-70.0%)
            regressions (passed before, not now): b
            fixes (failed before, pass now): c
            still failing: d
            flaky in the baseline, not passing now (not counted as regressions): e
            new cases: g (fail)
            removed cases: f
            McNemar exact test on 2 discordant pairs (1 regression, 1 fix): p = 1 - as many fixes as regressions
            """
        ),
        _text(
            """
            ### ❌ casebank: 1 regression against baseline `aaaaaaaaaaaa`

            | | run | pass rate (95% CI) |
            |---|---|---|
            | baseline | `aaaaaaaaaaaa` | 3/6 50.0% (95% CI 18.8-81.2%) |
            | this change | `bbbbbbbbbbbb` | 2/6 33.3% (95% CI 9.7-70.0%) |

            **Regressions (passed before, not now):** `b`

            **Fixes (failed before, pass now):** `c`

            **Still failing:** `d`

            **Flaky in the baseline, not passing now (not counted as regressions):** `e`

            **New cases:** `g (fail)`

            **Removed cases:** `f`

            McNemar exact test on 2 discordant pairs (1 regression, 1 fix): p = 1 - as many fixes as regressions
            """
        ),
        id="one-of-each",
    ),
    pytest.param(
        {"a": "pass", "b": "pass", "c": "fail"},
        {"a": "pass", "b": "pass", "c": "fail"},
        _text(
            """
            baseline run aaaaaaaaaaaa (2024-05-01 12:00:00): 2/3 66.7% (95% CI 20.8-93.9%)
            this     run bbbbbbbbbbbb (2024-05-01 12:00:00, commit 0123456789ab): 2/3 66.7% (95% CI 20.8-93.9%)
            regressions (passed before, not now): none
            fixes (failed before, pass now): none
            still failing: c
            flaky in the baseline, not passing now (not counted as regressions): none
            new cases: none
            removed cases: none
            McNemar exact test on 0 discordant pairs (0 regressions, 0 fixes): p = 1 - no case changed
            """
        ),
        _text(
            """
            ### ✅ casebank: no regressions against baseline `aaaaaaaaaaaa`

            | | run | pass rate (95% CI) |
            |---|---|---|
            | baseline | `aaaaaaaaaaaa` | 2/3 66.7% (95% CI 20.8-93.9%) |
            | this change | `bbbbbbbbbbbb` | 2/3 66.7% (95% CI 20.8-93.9%) |

            **Still failing:** `c`

            McNemar exact test on 0 discordant pairs (0 regressions, 0 fixes): p = 1 - no case changed
            """
        ),
        id="nothing-changed",
    ),
    pytest.param(
        {f"c{i}": "pass" for i in range(6)},
        {**{f"c{i}": "fail" for i in range(6)}, "n1": "pass", "n2": "flaky"},
        _text(
            """
            baseline run aaaaaaaaaaaa (2024-05-01 12:00:00): 6/6 100.0% (95% CI 61.0-100.0%)
            this     run bbbbbbbbbbbb (2024-05-01 12:00:00, commit 0123456789ab): 1/8 12.5% (95% CI 2.2-47.1%)
            regressions (passed before, not now): c0, c1, c2, c3, c4, c5
            fixes (failed before, pass now): none
            still failing: none
            flaky in the baseline, not passing now (not counted as regressions): none
            new cases: n1 (pass), n2 (flaky)
            removed cases: none
            McNemar exact test on 6 discordant pairs (6 regressions, 0 fixes): p = 0.03125 - a significant drop at 0.05
            """
        ),
        _text(
            """
            ### ❌ casebank: 6 regressions against baseline `aaaaaaaaaaaa`

            | | run | pass rate (95% CI) |
            |---|---|---|
            | baseline | `aaaaaaaaaaaa` | 6/6 100.0% (95% CI 61.0-100.0%) |
            | this change | `bbbbbbbbbbbb` | 1/8 12.5% (95% CI 2.2-47.1%) |

            **Regressions (passed before, not now):** `c0`, `c1`, `c2`, `c3`, `c4`, `c5`

            **New cases:** `n1 (pass)`, `n2 (flaky)`

            McNemar exact test on 6 discordant pairs (6 regressions, 0 fixes): p = 0.03125 - a significant drop at 0.05
            """
        ),
        id="significant",
    ),
]


@pytest.mark.parametrize(("before", "after", "lines", "markdown"), SEEN)
def test_the_terminal_lines_and_the_markdown_comment(
    before: dict[str, str], after: dict[str, str], lines: str, markdown: str
) -> None:
    # Intervals checked against scipy's Wilson interval; p = 2 * (1/2) ** 6 for six regressions, no fix.
    current = run("b" * 12, after)
    current.git_commit = "0123456789abcdef" * 2 + "01234567"
    comparison = compare(run("a" * 12, before), current)

    assert "".join(line + "\n" for line in comparison_lines(comparison)) == lines
    assert comparison_markdown(comparison) == markdown


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        pytest.param(
            {"a": "fail"},
            {"a": "pass"},
            "1 discordant pair (0 regressions, 1 fix): p = 1 - no case got worse",
            id="one-fix",
        ),
        pytest.param(
            {f"c{i}": "fail" for i in range(7)},
            {f"c{i}": "pass" for i in range(7)},
            "7 discordant pairs (0 regressions, 7 fixes): p = 0.01562 - no case got worse",
            id="only-fixes",
        ),
        pytest.param(
            {"a": "pass", **{f"c{i}": "fail" for i in range(7)}},
            {"a": "fail", **{f"c{i}": "pass" for i in range(7)}},
            "8 discordant pairs (1 regression, 7 fixes): p = 0.07031 - more fixes than regressions",
            id="more-fixes",
        ),
        pytest.param(
            {"a": "pass", **{f"c{i}": "fail" for i in range(9)}},
            {"a": "fail", **{f"c{i}": "pass" for i in range(9)}},
            "10 discordant pairs (1 regression, 9 fixes): p = 0.02148 - a significant improvement",
            id="significant-improvement",
        ),
        pytest.param(
            {"a": "pass", "b": "pass"},
            {"a": "fail", "b": "fail"},
            "2 discordant pairs (2 regressions, 0 fixes): p = 0.5 - not a significant drop at 0.05",
            id="a-drop-too-small-to-be-sure",
        ),
    ],
)
def test_the_mcnemar_line_says_what_is_true_of_the_change(
    before: dict[str, str], after: dict[str, str], said: str
) -> None:
    comparison = compare(run("a" * 12, before), run("b" * 12, after))

    assert comparison_lines(comparison)[-1] == "McNemar exact test on " + said


def test_cases_that_passed_in_both_runs_are_counted_unchanged() -> None:
    comparison = compare(
        run("a" * 12, {"a": "pass", "b": "pass", "c": "fail"}), run("b" * 12, {"a": "pass", "b": "pass"})
    )
    assert (comparison.unchanged, comparison_dict(comparison)["unchanged"]) == (2, 2)


def test_a_baseline_file_loads_back_whole_whatever_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("base.json").write_text(report_json(BASELINE))
    Path("base-run").write_text(report_json(BASELINE))  # not named .json, but a file: a file it is

    assert report_dict(load_baseline(None, "base.json")) == report_dict(BASELINE)
    assert report_dict(load_baseline(None, "base-run")) == report_dict(BASELINE)


def test_a_baseline_that_is_not_there_or_not_a_run_says_which_and_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("broken.json").write_text("{")
    Path("other.json").write_text('{"results": []}')
    with pytest.raises(orjson.JSONDecodeError) as bad_json:
        orjson.loads(b"{")
    why = str(bad_json.value)

    def error(ref: str) -> str:
        with pytest.raises(InvalidInput) as raised:
            load_baseline(None, ref)
        return str(raised.value)

    assert error("missing.json") == (
        "cannot read baseline file 'missing.json': No such file or directory - pass a run id or a file"
    )
    assert error("broken.json") == f"baseline file 'broken.json' is not JSON ({why}) - pass a 'cases run --json' file"
    assert error("other.json") == (
        "'other.json' is not a run written by 'cases run --json' (KeyError: 'id') - pass such a file"
    )
    assert error("ab12") == "baseline 'ab12' is a run id but there is no store - pass a 'cases run --json' file"


def test_an_unknown_gate_names_the_ones_there_are() -> None:
    with pytest.raises(InvalidInput) as raised:
        exit_code(CURRENT, compare(BASELINE, CURRENT), "never")
    assert str(raised.value) == "--fail-on 'never' is not one of any, regression, significant"


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
