"""Which cases a run replays: by id, by tag, and by shard, chosen on the suite before the run starts.

`--case` takes an id or a unique prefix (as git does) and refuses an ambiguous one; `--tag` keeps
the cases that carry any of the tags. `--shard I/N` keeps a case when the SHA-256 of its id mod N
is I-1, so a case's shard never depends on which other cases exist: adding a case to the suite
never moves another one to a different CI machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from casebank.errors import AmbiguousId, InvalidInput
from casebank.replay._case import Case
from casebank.replay._suite import Suite

__all__ = ["parse_shard", "select", "shard_of"]


def parse_shard(text: str) -> tuple[int, int]:
    """`2/5` -> (2, 5); I counts from 1."""
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if n < 1 or not 1 <= i <= n:
        raise InvalidInput(f"shard '{text}' is not I/N with 1 <= I <= N - pass e.g. --shard 1/4")
    return i, n


def shard_of(case_id: str, count: int) -> int:
    """The shard (1..count) that a case belongs to: stable, whatever else is in the suite."""
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big") % count + 1


def select(
    suite: Suite, *, tags: Sequence[str] = (), case_ids: Sequence[str] = (), shard: tuple[int, int] | None = None
) -> Suite:
    """The cases that carry any of `tags`, or whose id starts with one of `case_ids`, in `shard`."""
    cases = list(suite.cases)
    if case_ids:
        chosen: dict[str, Case] = {}
        for wanted in case_ids:
            found = [case for case in cases if case.id == wanted] or [c for c in cases if c.id.startswith(wanted)]
            if not found:
                raise InvalidInput(f"no case '{wanted}' in suite folder '{suite.folder}' - check the id")
            if len(found) > 1:
                names = ", ".join(case.id for case in found[:5])
                raise AmbiguousId(f"case id prefix '{wanted}' matches {names} - type more of the id")
            chosen[found[0].id] = found[0]
        cases = [case for case in cases if case.id in chosen]
    if tags:
        cases = [case for case in cases if set(case.tags) & set(tags)]
        if not cases:
            raise InvalidInput(f"no case in suite folder '{suite.folder}' has tag {', '.join(tags)} - check --tag")
    if shard is not None:
        index, count = shard
        cases = [case for case in cases if shard_of(case.id, count) == index]
    return Suite(folder=suite.folder, cases=cases)
