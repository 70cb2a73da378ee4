"""The held-out split: a stable rule on the case id, kept in holdout.toml, and the dev/holdout comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from casebank.audit._split import held_out, read_split, split_lines, write_split
from casebank.errors import SuiteError, UsageError
from casebank.replay._stats import CaseOutcome, Rate, difference_interval


def test_the_split_never_moves_a_case_as_the_suite_grows(tmp_path: Path) -> None:
    first = [f"c{n:03d}" for n in range(200)]
    split = write_split(tmp_path, 0.2, first)
    before = split.holdout(first)
    grown = first + [f"new{n:03d}" for n in range(300)]

    after = read_split(tmp_path)

    assert after is not None and after.holdout(grown) & set(first) == before
    assert 0.1 < len(after.holdout(grown)) / len(grown) < 0.3
    assert (tmp_path / "holdout.toml").read_text().endswith("fraction = 0.2\n")


def test_changing_the_fraction_is_refused_when_cases_would_move(tmp_path: Path) -> None:
    ids = [f"c{n:03d}" for n in range(50)]
    write_split(tmp_path, 0.2, ids)

    with pytest.raises(UsageError, match="would move .* pass --force"):
        write_split(tmp_path, 0.3, ids)
    assert read_split(tmp_path).fraction == 0.2  # type: ignore[union-attr]
    assert write_split(tmp_path, 0.3, ids, force=True).fraction == 0.3


def test_a_split_file_with_a_bad_fraction_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "holdout.toml").write_text("fraction = 2\n")

    with pytest.raises(SuiteError, match="fraction 2, not a number between 0 and 1"):
        read_split(tmp_path)


def test_membership_depends_on_the_id_alone() -> None:
    assert held_out("abc123", 0.5) == held_out("abc123", 0.5)
    assert not held_out("abc123", 0.0) and held_out("abc123", 1.0)


def test_newcombe_interval_matches_the_published_example() -> None:
    low, high = difference_interval(Rate.of(56, 70), Rate.of(48, 80))

    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def _outcomes(passing: dict[str, bool]) -> list[CaseOutcome]:
    return [CaseOutcome(case_id=case_id, tags=[], epochs=[passed]) for case_id, passed in passing.items()]


def test_dev_passing_markedly_more_than_holdout_is_warned_with_the_interval() -> None:
    results = {f"d{n}": True for n in range(30)} | {f"h{n}": n < 3 for n in range(10)}
    holdout = {f"h{n}" for n in range(10)}

    lines = split_lines(_outcomes(results), holdout)

    assert lines[0].startswith("dev 30/30 100.0% (95% CI 88.6-100.0%); holdout 3/10 30.0%")
    assert lines[1].startswith("warning: dev passes 70.0 points more than holdout (95% CI ")


def test_a_gap_within_noise_is_not_warned() -> None:
    results = {f"d{n}": n < 9 for n in range(10)} | {f"h{n}": n < 2 for n in range(3)}

    lines = split_lines(_outcomes(results), {"h0", "h1", "h2"})

    assert len(lines) == 1  # 90% against 67% on three cases: the interval spans zero
