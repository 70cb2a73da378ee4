"""Choosing the cases of a run: by tag, by id or prefix, and by a shard that depends on the case alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from casebank.errors import AmbiguousId, InvalidInput
from casebank.replay._select import parse_shard, select, shard_of

if TYPE_CHECKING:
    from tests.replay.conftest import Project


def test_shards_cover_the_suite_exactly_once_and_do_not_depend_on_the_other_cases(project: Project) -> None:
    project.write_module("def answer(n):\n    return n\n")
    for i in range(40):
        project.add_case(f"case{i:02d}", "answer", {"n": i}, i)
    suite = project.load()

    shards = [select(suite, shard=(i, 4)) for i in range(1, 5)]

    ids = [case.id for shard in shards for case in shard.cases]
    assert sorted(ids) == sorted(case.id for case in suite.cases)
    assert all(shard.cases for shard in shards)
    assert [shard_of("case07", 4)] * 2 == [shard_of("case07", 4), shard_of("case07", 4)]
    fewer = type(suite)(folder=suite.folder, cases=suite.cases[5:])
    assert [c.id for c in select(fewer, shard=(2, 4)).cases] == [c.id for c in shards[1].cases if c.id >= "case05"]


def test_tag_and_case_select_cases(project: Project) -> None:
    project.write_module("def answer(n):\n    return n\n")
    project.add_case("refund1", "answer", {"n": 1}, 1, tags=["refunds"])
    project.add_case("refund2", "answer", {"n": 2}, 2, tags=["refunds", "billing"])
    project.add_case("other", "answer", {"n": 3}, 3)
    suite = project.load()

    assert [c.id for c in select(suite, tags=["billing"]).cases] == ["refund2"]
    assert [c.id for c in select(suite, case_ids=["oth", "refund1"]).cases] == ["other", "refund1"]
    with pytest.raises(AmbiguousId, match="case id prefix 'refund' matches refund1, refund2"):
        select(suite, case_ids=["refund"])
    with pytest.raises(InvalidInput, match="no case 'nope'"):
        select(suite, case_ids=["nope"])
    with pytest.raises(InvalidInput, match="has tag shipping"):
        select(suite, tags=["shipping"])
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(InvalidInput, match="is not I/N"):
            parse_shard(bad)
    assert parse_shard("2/4") == (2, 4)
