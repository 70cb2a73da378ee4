"""The size audit: per tag, cases and the smallest detectable drop (as `cases run` computes it)."""

from __future__ import annotations

from casebank.replay._stats import detectable_drop
from tests.audit.conftest import Audit, MakeCase


def test_a_suite_under_twenty_cases_fails_and_small_tags_are_listed(make_case: MakeCase, audit: Audit) -> None:
    for _ in range(6):
        make_case(tags=["refunds"])
    for _ in range(3):
        make_case(tags=["shipping", "refunds"])
    make_case(tags=["legal"])

    result = audit("size")

    assert not result.ok
    assert result.summary.startswith("10 cases: the smallest detectable drop is ")
    assert "3 tags under 20 cases: legal (1), refunds (9), shipping (3)" in result.summary
    rows = {row["tag"]: row for row in result.findings}
    assert rows["refunds"]["cases"] == 9 and rows["refunds"]["too_small"]
    assert rows["refunds"]["detectable_drop"] == detectable_drop(9, 1.0)
    assert rows["shipping"]["detectable_drop"] == detectable_drop(3, 1.0)
    assert rows["legal"]["detectable_drop"] is None  # one case cannot see even a drop to 0%
    assert rows["(all cases)"]["rates_from"] == "assumed 100%"


def test_a_suite_of_twenty_five_passes_and_lists_only_the_small_tag(make_case: MakeCase, audit: Audit) -> None:
    for n in range(25):
        make_case(tags=["billing"] if n < 22 else ["legal"])

    result = audit("size")

    assert result.ok
    assert [row["tag"] for row in result.findings if row["too_small"]] == ["legal"]
    assert result.findings[0]["detectable_drop"] == detectable_drop(25, 1.0)
