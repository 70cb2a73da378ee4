"""The graders audit: exact on prose, regexes that match nothing, uncalibrated judges, and graders
that no longer fail the bad output their case was flagged for."""

from __future__ import annotations

from casebank.replay._calibrate import config_hash
from casebank.store import Store
from tests.audit.conftest import Audit, MakeCase

LONG = "You can return unworn shoes within 30 days of delivery for a full refund to your original card."
JUDGE = {"name": "llm_judge", "options": {"model": "gpt-4o-mini", "rubric": "States the 30-day window."}}


def _calibrate(store: Store, spec: dict[str, object], kappa: float | None, suite_dir: object) -> None:
    store.record_calibration(
        {
            "config_hash": config_hash(spec, base_dir=suite_dir),  # type: ignore[arg-type]
            "grader": spec,
            "suite": None,
            "total": 20,
            "accuracy": 0.9,
            "kappa": kappa,
            "true_pass_rate": 0.9,
            "true_fail_rate": 0.9,
            "confusion": {"good_passed": 9, "good_failed": 1, "bad_passed": 1, "bad_failed": 9},
            "disagreements": [],
        }
    )


def test_each_trap_is_found_with_its_case_and_fix(make_case: MakeCase, audit: Audit, store: Store) -> None:
    make_case(case_id="prose", expected=LONG)
    make_case(case_id="empty", expected=r"(\d+ days)?", grader={"name": "regex", "options": {}})
    make_case(case_id="judged", grader=JUDGE)
    make_case(case_id="lenient", expected="30 days", grader={"name": "contains", "options": {}}, bad_output="30 days?")

    result = audit("graders", store)

    assert not result.ok
    found = [(f["kind"], f.get("case_id") or f["case_ids"]) for f in result.findings]
    assert found == [  # in suite order (by file name), the judge's configurations last
        ("regex_matches_empty", "empty"),
        ("passes_bad_output", "empty"),  # a pattern that matches nothing passes any output
        ("passes_bad_output", "lenient"),
        ("exact_on_free_text", "prose"),
        ("judge_uncalibrated", ["judged"]),
    ]
    assert "embedding" in result.findings[3]["fix"]
    assert result.summary == "5 problems in 4 cases of 4"


def test_a_judge_below_kappa_point_six_is_unreliable(make_case: MakeCase, audit: Audit, store: Store) -> None:
    make_case(case_id="judged", grader=JUDGE)
    _calibrate(store, JUDGE, 0.41, None)  # no file options: the hash does not depend on the folder

    result = audit("graders", store)

    assert [(f["kind"], f["kappa"]) for f in result.findings] == [("judge_unreliable", 0.41)]
    assert "kappa 0.41, below 0.6" in result.findings[0]["problem"]


def test_sound_graders_pass(make_case: MakeCase, audit: Audit, store: Store) -> None:
    make_case(expected="30 days")  # short exact label, bad output 14 days fails it
    make_case(expected=r"\d+ days", grader={"name": "regex", "options": {}}, bad_output="soon")
    make_case(expected=LONG, grader={"name": "contains", "options": {}}, bad_output="No refunds.")
    make_case(grader=JUDGE)
    _calibrate(store, JUDGE, 0.82, None)

    result = audit("graders", store)

    assert result.ok, result.findings
    assert result.summary == "the graders of 4 cases look sound"


def test_graders_inside_a_composite_are_inspected(make_case: MakeCase, audit: Audit) -> None:
    grader = {"name": "all", "options": {"graders": [{"name": "regex", "options": {"pattern": ".*"}}, "exact"]}}
    make_case(case_id="both", expected="30 days", grader=grader)

    result = audit("graders")

    assert [f["kind"] for f in result.findings] == ["regex_matches_empty"]


def test_a_judge_that_cannot_be_built_is_named(make_case: MakeCase, audit: Audit, store: Store) -> None:
    make_case(case_id="typo", grader={"name": "llm_judge", "options": {"model": "m", "rubrik": "x"}})

    result = audit("graders", store)

    assert [(f["kind"], f["case_id"]) for f in result.findings] == [("grader_broken", "typo")]
    assert "has no option 'rubrik'" in result.findings[0]["problem"]
