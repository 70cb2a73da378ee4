"""The freshness audit: by month, recent shares, days since the last case; stale after --stale-days."""

from __future__ import annotations

import pytest

from tests.audit.conftest import Audit, MakeCase


def test_a_suite_with_no_case_in_sixty_days_fails_and_says_so(make_case: MakeCase, audit: Audit) -> None:
    make_case(created_at="2026-08-01T09:00:00+00:00")
    make_case(created_at="2026-08-20T09:00:00+00:00")
    make_case(created_at="2026-09-30T09:00:00+00:00")

    result = audit("freshness")

    assert not result.ok
    assert result.summary == (
        "3 cases: 0% created in the last 30 days, 33% in the last 90; the newest is 68 days old"
        " - no case added in 60 days: flag and promote recent failures"
    )
    age, *months = result.findings
    assert age == {
        "kind": "age",
        "days_since_last_case": 68,
        "last_30_days": 0.0,
        "last_90_days": pytest.approx(1 / 3),
        "stale_days": 60,
    }
    assert months == [
        {"kind": "month", "month": "2026-08", "cases": 2},
        {"kind": "month", "month": "2026-09", "cases": 1},
    ]


def test_a_suite_fed_this_month_passes(make_case: MakeCase, audit: Audit) -> None:
    make_case(created_at="2026-06-01T09:00:00+00:00")
    make_case(created_at="2026-12-05T09:00:00+00:00")

    result = audit("freshness")

    assert result.ok
    assert result.findings[0]["days_since_last_case"] == 2
    assert result.findings[0]["last_30_days"] == 0.5


def test_stale_days_moves_the_line(make_case: MakeCase, audit: Audit) -> None:
    make_case(created_at="2026-09-30T09:00:00+00:00")  # 68 days before NOW

    assert audit("freshness", stale_days=90).ok
    assert not audit("freshness", stale_days=30).ok
