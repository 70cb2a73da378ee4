"""`casebank.replay.run_suite`, the Python API: a suite run as `cases run` runs it, from a path or a Suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from casebank.errors import InvalidInput, NotFound, SuiteError
from casebank.replay import RunReport, report_json, run_suite
from casebank.store import open_store

if TYPE_CHECKING:
    from tests.replay.conftest import Project

# The bot answers from a file read at each call: a module imported once cannot change within a test.
BOT = """
import json, pathlib

def answer(question):
    return json.loads(pathlib.Path("answers.json").read_text()).get(question, "Sorry?")
"""


def set_answers(refund: str = "We refund within 30 days.", hello: str = "Happy to help.") -> None:
    Path("answers.json").write_text(json.dumps({"refund": refund, "hello": hello}), encoding="utf-8")


def make_suite(project: Project) -> None:
    project.write_module(BOT)
    set_answers()
    project.add_case("aa01", "answer", {"question": "hello"}, "Happy to help.", tags=["greetings"])
    project.add_case("bb02", "answer", {"question": "refund"}, "We refund within 14 days.", tags=["refunds"])
    project.add_case("bb03", "answer", {"question": "ship"}, "Sorry?", tags=["shipping", "refunds"])


def outcomes(report: RunReport) -> list[tuple[str, str]]:
    return [(r.case_id, r.status) for r in report.results]


def test_a_suite_folder_and_a_loaded_suite_run_alike_and_nothing_is_written_without_a_store(project: Project) -> None:
    make_suite(project)

    from_path = run_suite("evals")
    from_path_object = run_suite(Path("evals"), concurrency=1)
    from_suite = run_suite(project.load())

    expected = [("aa01", "passed"), ("bb02", "failed"), ("bb03", "passed")]
    assert outcomes(from_path) == outcomes(from_path_object) == outcomes(from_suite) == expected
    assert from_path.origin == "api" and from_path.suite == "evals" and from_path.comparison is None
    assert from_path.suite_hash == project.load().hash
    assert sorted(p.name for p in project.root.iterdir()) == ["answers.json", "evals", f"{project.module}.py"]


def test_tags_and_cases_choose_as_cases_run_does(project: Project) -> None:
    make_suite(project)

    assert [r.case_id for r in run_suite("evals", tags="refunds").results] == ["bb02", "bb03"]
    assert [r.case_id for r in run_suite("evals", tags=["greetings", "shipping"]).results] == ["aa01", "bb03"]
    assert [r.case_id for r in run_suite("evals", cases=["aa", "bb03"]).results] == ["aa01", "bb03"]
    assert [r.case_id for r in run_suite("evals", cases="bb02", tags="refunds").results] == ["bb02"]
    assert [r.case_id for r in run_suite("evals", epochs=2, cases="aa").results] == ["aa01", "aa01"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param(
            {"tags": "billing"}, InvalidInput, "no case in suite folder 'evals' has tag billing - check --tag", id="tag"
        ),
        pytest.param({"cases": "zz"}, InvalidInput, "no case 'zz' in suite folder 'evals' - check the id", id="case"),
        pytest.param(
            {"baseline": "latest"},
            InvalidInput,
            "baseline 'latest' is a stored run but no store was given - pass store=PATH, or a 'cases run --json' file",
            id="baseline-without-store",
        ),
        pytest.param(
            {"baseline": "latest", "store": "casebank.db"},
            NotFound,
            "no runs in store 'casebank.db' yet - record one with 'cases run'",
            id="no-runs-yet",
        ),
    ],
)
def test_what_cannot_be_used_is_refused_before_any_case_runs(
    project: Project, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    make_suite(project)
    (project.root / f"{project.module}.py").write_text("raise SystemExit('imported: a case ran')\n")

    with pytest.raises(error) as caught:
        run_suite("evals", **kwargs)  # type: ignore[arg-type]

    assert str(caught.value) == message


def test_a_missing_suite_folder_says_so() -> None:
    with pytest.raises(SuiteError, match="suite folder 'nowhere' does not exist"):
        run_suite("nowhere")


def test_with_a_store_the_run_is_recorded_as_from_the_api_and_compared_with_a_stored_baseline(
    project: Project,
) -> None:
    make_suite(project)
    first = run_suite("evals", store="casebank.db")
    set_answers(refund="We refund within 14 days.", hello="Hi!")

    with open_store("casebank.db") as store:
        second = run_suite("evals", store=store, baseline="latest")
        runs = store.list_runs()
        assert store.location  # the store given is left open for its owner

    assert [(run["id"], run["origin"], run["passed"]) for run in runs] == [(second.id, "api", 2), (first.id, "api", 2)]
    comparison = second.comparison
    assert comparison is not None and comparison.baseline.id == first.id
    assert (comparison.regressions, comparison.fixes, comparison.unchanged) == (["aa01"], ["bb02"], 1)
    assert not comparison.significant


def test_a_baseline_may_be_a_report_or_the_json_file_cases_run_writes(project: Project) -> None:
    make_suite(project)
    before = run_suite("evals")
    Path("before.json").write_text(report_json(before), encoding="utf-8")
    set_answers(hello="Hi!")

    against_report = run_suite("evals", baseline=before).comparison
    against_file = run_suite("evals", baseline=Path("before.json")).comparison

    assert against_report is not None and against_file is not None
    assert against_report.regressions == against_file.regressions == ["aa01"]
    assert against_file.baseline.id == before.id


def test_the_report_carries_what_cases_run_prints_under_the_table(project: Project) -> None:
    make_suite(project)

    stats = run_suite("evals").stats

    assert (stats.overall.passed, stats.overall.total) == (2, 3)
    assert stats.overall.text() == "66.7% (95% CI 20.8-93.9%)"
    assert [(t.tag, t.rate.passed, t.rate.total, t.too_small) for t in stats.tags] == [
        ("greetings", 1, 1, True),
        ("refunds", 1, 2, True),
        ("shipping", 1, 1, True),
    ]
