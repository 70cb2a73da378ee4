"""`cases audit`, `cases holdout`, and the audit hooks of `cases run` and `cases promote`, through the
real `cases` command in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path
from typing import Any

import orjson

from casebank.audit import AUDIT_NAMES
from casebank.audit._split import held_out
from casebank.replay import Case, write_case
from casebank.store import open_store, utc_now
from tests.cli.conftest import Cases, assert_one_line_error

BOT = """
def answer(question):
    return "30 days"
"""


def write_suite(root: Path, n: int, *, created_at: str | None = None, expected: Any = "30 days", **extra: Any) -> None:
    """bot.py in `root` and `n` cases in root/evals, each fresh (created now) unless `created_at`."""
    (root / "bot.py").write_text(textwrap.dedent(BOT))
    for i in range(n):
        case_id = f"case{i:03d}"
        write_case(
            Case(
                id=case_id,
                created_at=created_at or utc_now(),
                entrypoint="bot:answer",
                input={"question": f"question {i}"},
                expected=expected(case_id) if callable(expected) else expected,
                grader={"name": "exact", "options": {}},
                tags=["refunds"],
                source={"bad_output": "14 days", **extra},
            ),
            root / "evals",
        )


def test_json_lists_every_audit_in_order_with_the_result_shape(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path, 3, created_at="2024-01-01T00:00:00+00:00")

    result = cases("audit", "--json")

    assert result.code == 0, result.err  # findings alone never fail without --strict
    listed = orjson.loads(result.out)
    assert [entry["name"] for entry in listed] == list(AUDIT_NAMES)
    assert all(set(entry) == {"name", "ok", "summary", "findings", "skipped"} for entry in listed)
    by_name = {entry["name"]: entry for entry in listed}
    assert not by_name["freshness"]["ok"] and not by_name["size"]["ok"] and by_name["graders"]["ok"]
    for name in AUDIT_NAMES:  # an audit this casebank lacks is skipped, never a crash
        if importlib.util.find_spec(f"casebank.audit._{name}") is None:
            assert by_name[name]["skipped"] == "not available in this casebank" and by_name[name]["ok"]


def test_strict_exits_one_when_an_audit_fails_and_zero_when_all_pass(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path, 25)
    passing = cases("audit", "freshness", "size", "graders", "--strict")
    write_suite(tmp_path, 1, expected="14 days")  # case000 replaced: its grader passes its own bad output

    failing = cases("audit", "graders", "--strict")
    lenient = cases("audit", "graders")

    assert passing.code == 0, passing.out + passing.err
    assert passing.out.splitlines()[0].startswith("ok   freshness: 25 cases: 100% created in the last 30 days")
    assert failing.code == 1
    assert failing.out.splitlines() == [
        "FAIL graders: 1 problem in 1 case of 25",
        "     case000: grader 'exact' passes the bad output this case was flagged for (output equals expected) - "
        "flag a new trace of this failure, annotate it with a grader that fails the bad output, promote it, and "
        "delete this case file",
    ]
    assert lenient.code == 0 and lenient.out == failing.out


def test_the_readable_report_shows_the_size_table(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path, 5)

    result = cases("audit", "size")

    assert result.code == 0
    assert result.out.splitlines() == [
        "FAIL size: 5 cases: the smallest detectable drop is 60 points; 1 tag under 20 cases: refunds (5) - "
        "under 20 cases a gate cannot tell a regression from noise: promote more",
        "     tag          cases  smallest detectable drop",
        "     (all cases)      5  60 points                 under 20",
        "     refunds          5  60 points                 under 20",
        "     (pass rates: assumed 100%)",
    ]


def test_an_unknown_audit_is_a_usage_error(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path, 1)

    assert_one_line_error(cases("audit", "speed"), 2, "no audit 'speed'", "choose from leakage")


def test_an_unknown_similarity_is_a_usage_error_and_a_known_one_reaches_coverage(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path, 1)

    assert_one_line_error(
        cases("audit", "coverage", "--similarity", "vibes"),
        2,
        "--similarity 'vibes' is not known - choose shingles or embeddings",
    )
    chosen = cases("audit", "coverage", "--similarity", "shingles", "--json")
    assert chosen.code == 0, chosen.err
    assert [result["name"] for result in json.loads(chosen.out)] == ["coverage"]


def test_holdout_then_run_reports_dev_and_holdout_apart_and_warns(tmp_path: Path, cases: Cases) -> None:
    # The bot says "30 days"; held-out cases expect something else, so dev passes and holdout fails.
    write_suite(tmp_path, 40, expected=lambda case_id: "45 days" if held_out(case_id, 0.5) else "30 days")
    held = sum(held_out(f"case{i:03d}", 0.5) for i in range(40))

    made = cases("holdout", "--fraction", "0.5")
    shown = cases("holdout")
    run = cases("run")
    tuned = cases("run", "--exclude-holdout")

    assert made.code == 0 and f"{held} of 40 cases held out (fraction 0.5)" in made.out
    assert shown.out == made.out
    assert (tmp_path / "evals" / "holdout.toml").is_file()
    assert run.code == 1
    assert f"dev {40 - held}/{40 - held} 100.0%" in run.out and f"holdout 0/{held} 0.0%" in run.out
    assert "warning: dev passes 100.0 points more than holdout (95% CI " in run.out
    assert run.out.splitlines()[-1] == "audit: freshness ok, size ok, graders ok ('cases audit' runs every audit)"
    assert tuned.code == 0, tuned.out
    # size now reads each tag's pass rate from the latest run (the tuned one: every dev case passed)
    [size] = orjson.loads(cases("audit", "size", "--json").out)
    assert size["findings"][0]["rates_from"].startswith("run ") and size["findings"][0]["pass_rate"] == 1.0
    assert "holdout" not in tuned.out.split("run ")[0] and f"{40 - held} passed" in tuned.out


def test_exclude_holdout_without_a_split_is_a_usage_error(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path, 2)

    assert_one_line_error(cases("run", "--exclude-holdout"), 2, "has no held-out split", "cases holdout --fraction")


def test_run_ends_with_the_failing_cheap_audits_named(tmp_path: Path, cases: Cases) -> None:
    write_suite(tmp_path, 3, created_at="2024-01-01T00:00:00+00:00")

    result = cases("run")

    assert result.out.splitlines()[-1] == (
        "audit: freshness FAIL, size FAIL, graders ok - see 'cases audit freshness size'"
    )


def test_promote_warns_with_the_cheap_audits_but_still_promotes(tmp_path: Path, cases: Cases, annotated: str) -> None:
    result = cases("promote", annotated)

    assert result.code == 0, result.err
    assert Path(tmp_path / result.out.strip()).is_file()
    assert "warning: tag 'refunds' has 1 case, under 20: alone it shows no regression at all" in result.err


def test_promote_warns_about_an_exact_grader_on_prose(db: Path, cases: Cases, flagged: str) -> None:
    prose = "We refund unworn shoes within 30 days of delivery, to the card you paid with, in five working days."
    with open_store(db) as store:
        store.annotate(flagged, expected=prose, grader={"name": "exact", "options": {}}, tags=["refunds"])

    result = cases("promote", flagged)

    assert result.code == 0, result.err
    assert (
        "warning: grader: grader 'exact' compares a free-text answer of 19 words letter by letter - grade its "
        "meaning instead: flag a new trace of this failure, annotate it with --grader embedding (or llm_judge), "
        "promote it, and delete this case file"
    ) in result.err.splitlines()[1]
