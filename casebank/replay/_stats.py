"""The numbers a careful engineer would compute by hand: intervals, power, flakiness, McNemar.

A pass rate is reported with its 95% Wilson score interval, which (unlike the normal "p ± 1.96
se" interval) stays inside [0, 1] and keeps its coverage for small suites and rates near 100%,
the usual state of a regression suite.

Power answers "how large a drop could this suite miss?". We use the two-proportion comparison
(this run against a baseline run of the same n cases, two-sided alpha 0.05, power 0.8) on
Cohen's arcsine scale, because that is what a gate does: it compares two runs, each of which is
itself an estimate. With h = (z[1 - alpha/2] + z[power]) * sqrt(2 / n), the smallest detectable
drop from the current rate p0 is p0 - sin(asin(sqrt(p0)) - h / 2) ** 2. The arcsine scale gives
a closed form and an honest answer at p0 = 100%, where the normal approximation claims that any
drop, however small, is visible. The paired McNemar test we actually run on two runs is at least
as powerful when results are correlated between runs, so this figure is on the safe side.

With epochs, a case is one observation: "passed" means it passed every epoch (pass^K), so the
Wilson interval is over cases, never over case-epochs, which are not independent.

Nothing here needs scipy (whose import alone takes about 1.7 s). Normal quantiles come from the
standard library (`statistics.NormalDist`). The exact McNemar test is a two-sided binomial test at
1/2 on the discordant pairs, summed in exact integers: at 1/2 the distribution is symmetric, so
scipy's two-sided p-value (every outcome no likelier than the one seen) is
min(1, 2 * P(X <= min(k, n - k))). The tests check every figure against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from casebank._words import count

__all__ = [
    "SMALL_TAG",
    "CaseOutcome",
    "Rate",
    "Summary",
    "TagStats",
    "detectable_drop",
    "difference_interval",
    "mcnemar_exact",
    "outcomes",
    "summarize",
    "wilson_interval",
]

SMALL_TAG = 20  # fewer cases than this: the tag is listed as too small to see a modest regression
ALPHA = 0.05
POWER = 0.8


def _z(quantile: float) -> float:
    # The standard library's normal quantile (Wichura's AS 241, as accurate as scipy.stats.norm.ppf to
    # about 1e-15): importing scipy.stats costs 1.7 s, which every `cases run` would pay for two numbers.
    from statistics import NormalDist

    return NormalDist().inv_cdf(quantile)


def wilson_interval(passed: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for `passed` out of `total`; (0, 1) when there is nothing to go on."""
    if total <= 0:
        return 0.0, 1.0
    z = _z(1 - (1 - confidence) / 2)
    p = passed / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    # With none or all passing, that end is exactly 0 or 1 (as scipy gives). Computed, it lands an
    # ulp either side for some totals, which no clamp mends: 13 of 13 gave 0.9999999999999999, an
    # interval that missed the 100% it was about, and 0 of 10 a lower end of 2.8e-17.
    low = centre - half if passed > 0 else 0.0
    high = centre + half if passed < total else 1.0
    return low, high


def detectable_drop(total: int, pass_rate: float, *, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest drop from `pass_rate` that `total` cases detect (two-proportion, arcsine scale).

    None when not even a drop to 0% would be detected with that power (or there are no cases).
    """
    if total <= 0:
        return None
    h = (_z(1 - alpha / 2) + _z(power)) * math.sqrt(2 / total)
    angle = math.asin(math.sqrt(min(max(pass_rate, 0.0), 1.0))) - h / 2
    if angle < 0:
        return None
    return pass_rate - math.sin(angle) ** 2


def difference_interval(a: Rate, b: Rate) -> tuple[float, float]:
    """95% interval of a.rate - b.rate for two independent groups (Newcombe's hybrid score method).

    Built from each group's Wilson interval (Newcombe 1998, method 10), so it inherits their
    behaviour at small n and at rates near 0 or 1, where the Wald difference interval fails:
    56/70 against 48/80 gives 0.0524 to 0.3339, Newcombe's own worked example.
    """
    d = a.rate - b.rate
    low = d - math.sqrt((a.rate - a.low) ** 2 + (b.high - b.rate) ** 2)
    high = d + math.sqrt((a.high - a.rate) ** 2 + (b.rate - b.low) ** 2)
    return max(-1.0, low), min(1.0, high)


def mcnemar_exact(regressions: int, fixes: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the discordant pairs at 1/2."""
    discordant = regressions + fixes
    if discordant == 0:
        return 1.0
    # C(n, i) by the recurrence C(n, i + 1) = C(n, i) * (n - i) / (i + 1), exact in integers: calling
    # math.comb for each term would cost O(n) a term, seconds for a suite of thousands of cases.
    term = tail = 1  # C(n, 0)
    for i in range(min(regressions, fixes)):
        term = term * (discordant - i) // (i + 1)
        tail += term
    # P(X <= min) = tail / 2**n, doubled; int / int is correctly rounded however large both are.
    return min(1.0, tail / (1 << (discordant - 1)))


def points(share: float) -> str:
    """A share as whole percentage points: 0.05 -> "5 points", 0.01 -> "1 point"."""
    return count(round(share * 100), "point")


@dataclass(kw_only=True)
class Rate:
    passed: int
    total: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @classmethod
    def of(cls, passed: int, total: int) -> Rate:
        low, high = wilson_interval(passed, total)
        return cls(passed=passed, total=total, low=low, high=high)

    def text(self) -> str:
        """`75.0% (95% CI 46.8-91.1%)`."""
        return f"{self.rate:.1%} (95% CI {self.low * 100:.1f}-{self.high * 100:.1f}%)"


@dataclass(kw_only=True)
class CaseOutcome:
    """One case over its epochs: which epochs passed."""

    case_id: str
    tags: list[str]
    epochs: list[bool]
    retries: int = 0

    @property
    def passes(self) -> int:
        return sum(self.epochs)

    @property
    def passed(self) -> bool:
        """Passed every epoch."""
        return bool(self.epochs) and all(self.epochs)

    @property
    def flaky(self) -> bool:
        return 0 < self.passes < len(self.epochs)

    @property
    def outcome(self) -> str:
        """pass, fail or flaky."""
        return "pass" if self.passed else "flaky" if self.flaky else "fail"

    @property
    def pass_rate(self) -> float:
        return self.passes / len(self.epochs) if self.epochs else 0.0


@dataclass(kw_only=True)
class TagStats:
    tag: str
    rate: Rate
    drop: float | None  # smallest detectable drop, as a fraction; None: not even a drop to 0%

    @property
    def too_small(self) -> bool:
        return self.rate.total < SMALL_TAG

    def drop_text(self) -> str:
        return "cannot see any" if self.drop is None else points(self.drop)


@dataclass(kw_only=True)
class Summary:
    overall: Rate
    drop: float | None
    epochs: int
    mean_pass_rate: float  # mean over cases of the share of epochs passed
    flaky: list[CaseOutcome] = field(default_factory=list)
    tags: list[TagStats] = field(default_factory=list)
    retries: int = 0

    @property
    def pass_every_epoch(self) -> float:
        """pass^K: the share of cases that passed every epoch."""
        return self.overall.rate


class _HasResult(Protocol):  # the fields of CaseResult that statistics read (no import cycle)
    case_id: str
    tags: list[str]
    passed: bool
    retries: int


def outcomes(results: Iterable[_HasResult]) -> list[CaseOutcome]:
    """Group results by case, in the order cases first appear."""
    by_case: dict[str, CaseOutcome] = {}
    for result in results:
        outcome = by_case.get(result.case_id)
        if outcome is None:
            outcome = by_case[result.case_id] = CaseOutcome(case_id=result.case_id, tags=list(result.tags), epochs=[])
        outcome.epochs.append(bool(result.passed))
        outcome.retries += result.retries
    return list(by_case.values())


def summarize(cases: Sequence[CaseOutcome], *, epochs: int = 1) -> Summary:
    overall = Rate.of(sum(case.passed for case in cases), len(cases))
    by_tag: dict[str, list[CaseOutcome]] = {}
    for case in cases:
        for tag in dict.fromkeys(case.tags):  # a tag listed twice on one case counts once
            by_tag.setdefault(tag, []).append(case)
    tags = []
    for tag in sorted(by_tag):
        members = by_tag[tag]
        rate = Rate.of(sum(case.passed for case in members), len(members))
        tags.append(TagStats(tag=tag, rate=rate, drop=detectable_drop(rate.total, rate.rate)))
    return Summary(
        overall=overall,
        drop=detectable_drop(overall.total, overall.rate),
        epochs=epochs,
        mean_pass_rate=sum(case.pass_rate for case in cases) / len(cases) if cases else 0.0,
        flaky=[case for case in cases if case.flaky],
        tags=tags,
        retries=sum(case.retries for case in cases),
    )
