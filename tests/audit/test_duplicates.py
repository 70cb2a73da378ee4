"""The duplicates audit: cases with the same input up to light edits, in groups."""

from __future__ import annotations

from pathlib import Path

from casebank.audit import run_audit
from casebank.audit._duplicates import groups_of
from casebank.audit._shingles import shingle_set
from tests.audit.traffic import context, make_case

REFUND = "How do I get a refund for the shoes I ordered last week?"


def test_near_duplicate_cases_are_listed_in_groups_largest_first(tmp_path: Path) -> None:
    cases = [
        make_case("a1", REFUND),
        make_case("a2", "how do i get a REFUND for the shoes i ordered last week"),  # case, punctuation
        make_case("a3", "How do I get a refund for the boots I ordered last week?"),  # a changed word
        make_case("b1", "Can I change the address of an order that has shipped?"),
        make_case("b2", "Can I change the  address of an order that has shipped already?"),  # a word more
        make_case("c1", "My parcel never arrived and the tracking page shows nothing"),
        make_case("x1", REFUND, entrypoint="bot:triage"),  # another entry point: not the same behaviour
    ]
    result = run_audit("duplicates", context(cases, None, tmp_path))
    assert not result.ok
    assert [(f["entrypoint"], f["case_ids"]) for f in result.findings] == [
        ("bot:answer", ["a1", "a2", "a3"]),
        ("bot:answer", ["b1", "b2"]),
    ]
    assert result.findings[0]["input"] == REFUND
    assert result.summary == (
        "2 groups of near-duplicate cases (3 cases add no evidence) - keep one case a group, "
        "or make them differ in what they test"
    )


def test_with_a_focus_only_the_groups_of_those_cases_are_listed(tmp_path: Path) -> None:
    cases = [make_case("a1", REFUND), make_case("a2", REFUND.upper()), make_case("n", "Where is my parcel now?")]
    cases += [make_case("b1", "Can I pay by card or cash?"), make_case("b2", "can I pay by card or cash")]
    focused = run_audit("duplicates", context(cases, None, tmp_path, focus=["a2"]))
    assert [f["case_ids"] for f in focused.findings] == [["a1", "a2"]]
    assert run_audit("duplicates", context(cases, None, tmp_path, focus=["n"])).ok


def test_a_suite_of_distinct_cases_passes(tmp_path: Path) -> None:
    cases = [
        make_case("a", REFUND),
        make_case("b", "Can I change the address of an order that has shipped?"),
        make_case("c", "How do I reset the password of my account?"),
        make_case("d", "How do I get a voucher for the hats I bought in the sale?"),  # same frame, other words
    ]
    result = run_audit("duplicates", context(cases, None, tmp_path))
    assert (result.ok, result.findings, result.summary) == (True, [], "no near-duplicate cases among 4")


def test_groups_link_through_pairs_and_ignore_empty_inputs() -> None:
    words = "one two three four five six seven eight nine ten".split()
    chain = [set(words[i : i + 8]) for i in range(3)]  # 0~1 and 1~2 alike, 0 and 2 less so
    sets = [set().union(*(shingle_set(w, 1) for w in s)) for s in chain] + [set(), set()]
    assert groups_of(sets, 0.75) == [[0, 1, 2]]
    assert groups_of([shingle_set(REFUND), shingle_set(REFUND.upper())], 0.99) == [[0, 1]]
