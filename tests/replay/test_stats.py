"""Statistics checked against values computed another way: scipy for Wilson and McNemar, a table for power."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from scipy.stats import binomtest, norm

from casebank.replay._stats import (
    CaseOutcome,
    Rate,
    TagStats,
    detectable_drop,
    mcnemar_exact,
    outcomes,
    summarize,
    wilson_interval,
)
from tests.replay.test_report import result


@pytest.mark.parametrize(
    ("passed", "total"),
    [
        pytest.param(0, 5, id="none-pass"),
        pytest.param(3, 4, id="three-of-four"),
        pytest.param(20, 20, id="all-pass"),
        pytest.param(7, 10, id="seven-of-ten"),
        pytest.param(95, 100, id="ninety-five-of-hundred"),
        pytest.param(1, 1, id="one-case"),
        pytest.param(412, 1000, id="large"),
    ],
)
def test_the_wilson_interval_matches_scipy(passed: int, total: int) -> None:
    expected = binomtest(passed, total).proportion_ci(confidence_level=0.95, method="wilson")

    low, high = wilson_interval(passed, total)

    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_the_wilson_interval_matches_scipy_for_every_count_up_to_20(confidence: float) -> None:
    for total in range(1, 21):
        for passed in range(total + 1):
            expected = binomtest(passed, total).proportion_ci(confidence_level=confidence, method="wilson")

            low, high = wilson_interval(passed, total, confidence)

            assert 0.0 <= low <= passed / total <= high <= 1.0
            assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_none_or_all_passing_puts_that_end_of_the_interval_at_exactly_0_or_1() -> None:
    # As scipy gives them. Once computed and clamped, 13 of 13 gave a top of 0.9999999999999999 (below
    # the 100% observed) and 0 of 10 a bottom of 2.8e-17, and `cases run --json` wrote them so.
    for total in range(1, 201):
        assert wilson_interval(total, total)[1] == 1.0
        assert wilson_interval(0, total)[0] == 0.0


def test_the_wilson_interval_of_nothing_is_everything() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


# Worked by hand, two-proportion test on Cohen's arcsine scale, alpha 0.05 two-sided, power 0.8:
#   z = z(0.975) + z(0.8) = 1.959964 + 0.841621 = 2.801585;  h = z * sqrt(2 / n)
#   p1 = sin(asin(sqrt(p0)) - h / 2) ** 2;  drop = p0 - p1
#   n=10,  p0=1.0: h=1.252907, asin(1)=1.570796, angle=0.944343, sin^2=0.656281 -> 0.343719
#   n=20,  p0=1.0: h=0.885939, angle=1.127827, sin^2=0.816281 -> 0.183719
#   n=50,  p0=1.0: h=0.560317, angle=1.290638, sin^2=0.923543 -> 0.076457
#   n=100, p0=1.0: h=0.396204, angle=1.372694, sin^2=0.961266 -> 0.038734
#   n=20,  p0=0.9: h=0.885939, asin(0.948683)=1.249046, angle=0.806077, sin^2=0.520672 -> 0.379328
#   n=100, p0=0.9: h=0.396204, angle=1.050944, sin^2=0.753237 -> 0.146763
#   n=400, p0=0.5: h=0.198102, asin(0.707107)=0.785398, angle=0.686347, sin^2=0.401596 -> 0.098404
#   n=5,   p0=0.2: h=1.771878, asin(0.447214)=0.463648, angle=-0.422291 < 0 -> none
@pytest.mark.parametrize(
    ("n", "rate", "drop"),
    [
        pytest.param(10, 1.0, 0.343719, id="10-at-100"),
        pytest.param(20, 1.0, 0.183719, id="20-at-100"),
        pytest.param(50, 1.0, 0.076457, id="50-at-100"),
        pytest.param(100, 1.0, 0.038734, id="100-at-100"),
        pytest.param(20, 0.9, 0.379328, id="20-at-90"),
        pytest.param(100, 0.9, 0.146763, id="100-at-90"),
        pytest.param(400, 0.5, 0.098404, id="400-at-50"),
        pytest.param(5, 0.2, None, id="too-few-to-see-anything"),
    ],
)
def test_the_detectable_drop_matches_the_hand_worked_table(n: int, rate: float, drop: float | None) -> None:
    got = detectable_drop(n, rate)
    if drop is None:
        assert got is None
    else:
        assert got == pytest.approx(drop, abs=1e-5)


@pytest.mark.parametrize("n", [10, 20, 37, 100, 400])
def test_a_drop_of_the_detectable_size_has_80_percent_power(n: int) -> None:
    # The other way round: the power of a two-sided two-proportion z-test on the arcsine scale at that drop.
    drop = detectable_drop(n, 0.95)
    assert drop is not None
    h = 2 * math.asin(math.sqrt(0.95)) - 2 * math.asin(math.sqrt(0.95 - drop))
    power = norm.cdf(h * math.sqrt(n / 2) - norm.ppf(0.975)) + norm.cdf(-h * math.sqrt(n / 2) - norm.ppf(0.975))
    assert power == pytest.approx(0.8, abs=1e-3)


@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9), (0.5, 0.5)])
def test_the_detectable_drop_is_the_one_whose_textbook_sample_size_is_the_suite(alpha: float, power: float) -> None:
    # The sample size per run for two proportions on the arcsine scale, n = 2 * (z / h) ** 2 with
    # z = z[1 - alpha/2] + z[power] and Cohen's h = 2 asin(sqrt(p0)) - 2 asin(sqrt(p1)), read the
    # other way: given n, the drop p0 - p1 it detects, or None when even p1 = 0 needs more cases.
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)

    def cases_needed(p0: float, p1: float) -> float:
        h = 2 * math.asin(math.sqrt(p0)) - 2 * math.asin(math.sqrt(p1))
        return math.inf if h == 0 else 2 * (z / h) ** 2

    for total in (1, 2, 3, 5, 10, 20, 37, 100, 1000):
        for rate in (0.0, 0.1, 0.5, 0.9, 0.95, 1.0):
            drop = detectable_drop(total, rate, alpha=alpha, power=power)
            if cases_needed(rate, 0.0) > total:
                assert drop is None, (total, rate)
            else:
                assert drop is not None and 0 < drop <= rate, (total, rate)
                assert cases_needed(rate, rate - drop) == pytest.approx(total, rel=1e-9)


def test_no_cases_detect_nothing() -> None:
    assert detectable_drop(0, 1.0) is None


@pytest.mark.parametrize(
    ("regressions", "fixes"),
    [
        pytest.param(7, 1, id="mostly-regressions"),
        pytest.param(1, 7, id="mostly-fixes"),
        pytest.param(5, 0, id="five-regressions"),
        pytest.param(3, 3, id="even"),
        pytest.param(40, 20, id="many"),
        pytest.param(0, 1, id="one-pair"),
        pytest.param(1, 0, id="one-regression"),
        pytest.param(50, 50, id="even-many"),
        pytest.param(2600, 2400, id="thousands"),
    ],
)
def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs(regressions: int, fixes: int) -> None:
    expected = binomtest(regressions, regressions + fixes, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact(regressions, fixes) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_matches_scipy_for_every_split_of_small_counts() -> None:
    for discordant in range(1, 61):
        for regressions in range(discordant + 1):
            expected = binomtest(regressions, discordant, 0.5).pvalue
            assert mcnemar_exact(regressions, discordant - regressions) == pytest.approx(expected, rel=1e-12)


def test_the_statistics_do_not_import_scipy() -> None:
    code = (
        "import sys; from casebank.replay._stats import mcnemar_exact, summarize, wilson_interval; "
        "mcnemar_exact(7, 1); wilson_interval(3, 4); print('scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_mcnemar_with_no_discordant_pairs_is_1() -> None:
    assert mcnemar_exact(0, 0) == 1.0


def test_five_regressions_and_no_fix_is_significant_at_5_percent() -> None:
    # Hand: 2 * (1/2)^5 = 0.0625 is not; 2 * (1/2)^6 = 0.03125 is.
    assert mcnemar_exact(5, 0) == pytest.approx(0.0625)
    assert mcnemar_exact(6, 0) == pytest.approx(0.03125)


def test_results_group_into_cases_with_epochs_flaky_cases_and_pass_k() -> None:
    results = [
        result("a", "passed", epoch=0, tags=["refunds"]),
        result("a", "passed", epoch=1, tags=["refunds"]),
        result("a", "passed", epoch=2, tags=["refunds"]),
        result("b", "passed", epoch=0, tags=["refunds", "billing"], retries=2),
        result("b", "failed", epoch=1, tags=["refunds", "billing"]),
        result("b", "passed", epoch=2, tags=["refunds", "billing"]),
        result("c", "failed", epoch=0, tags=["billing", "billing"]),
        result("c", "errored", epoch=1, tags=["billing", "billing"]),
        result("c", "failed", epoch=2, tags=["billing", "billing"]),
    ]

    cases = outcomes(results)
    stats = summarize(cases, epochs=3)

    assert stats.epochs == 3
    assert [(c.case_id, c.epochs, c.outcome) for c in cases] == [
        ("a", [True, True, True], "pass"),
        ("b", [True, False, True], "flaky"),
        ("c", [False, False, False], "fail"),
    ]
    assert (stats.overall.passed, stats.overall.total) == (1, 3)
    assert stats.pass_every_epoch == pytest.approx(1 / 3)
    assert stats.mean_pass_rate == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert [c.case_id for c in stats.flaky] == ["b"]
    assert stats.retries == 2
    assert [(t.tag, t.rate.passed, t.rate.total, t.too_small) for t in stats.tags] == [
        ("billing", 0, 2, True),
        ("refunds", 1, 2, True),
    ]
    billing = stats.tags[0]
    assert (billing.rate.low, billing.rate.high) == pytest.approx(wilson_interval(0, 2))
    assert billing.drop is None and stats.tags[1].drop == detectable_drop(2, 0.5)


def test_a_rate_says_its_interval() -> None:
    assert Rate.of(3, 4).text() == "75.0% (95% CI 30.1-95.4%)"
    assert CaseOutcome(case_id="x", tags=[], epochs=[]).outcome == "fail"


def test_a_summary_gives_the_power_of_the_suite_and_of_each_tag() -> None:
    # 20 cases at 100%, 10 of them also tagged billing: the hand-worked table above gives both drops.
    cases = [
        CaseOutcome(case_id=f"c{i}", tags=["refunds", "billing"] if i < 10 else ["refunds"], epochs=[True])
        for i in range(20)
    ]

    stats = summarize(cases)

    assert stats.epochs == 1
    assert stats.drop == pytest.approx(0.183719, abs=1e-5)
    assert [(t.tag, t.rate.total, t.too_small, t.drop) for t in stats.tags] == [
        ("billing", 10, True, pytest.approx(0.343719, abs=1e-5)),
        ("refunds", 20, False, pytest.approx(0.183719, abs=1e-5)),
    ]
    assert [t.drop_text() for t in stats.tags] == ["34 points", "18 points"]


def test_a_tag_too_small_to_see_even_a_drop_to_0_says_so() -> None:
    assert TagStats(tag="billing", rate=Rate.of(2, 2), drop=None).drop_text() == "cannot see any"


def test_a_summary_of_no_cases_claims_nothing() -> None:
    stats = summarize([])

    assert (stats.overall.passed, stats.overall.total, stats.overall.low, stats.overall.high) == (0, 0, 0.0, 1.0)
    assert stats.drop is None
    assert (stats.mean_pass_rate, stats.pass_every_epoch, stats.retries) == (0.0, 0.0, 0)
    assert stats.flaky == [] and stats.tags == []
