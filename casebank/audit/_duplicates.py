"""The `duplicates` audit: cases with the same input up to light edits, listed in groups.

Near-duplicates inflate a behaviour's count without adding evidence. Two cases of one entry
point are near-duplicates when their inputs' word sets (`_shingles.py`, normalised: case,
whitespace, punctuation) overlap by at least `THRESHOLD` (Jaccard); a changed word in a sentence of
ten keeps them above it, a different question does not. Candidates come from MinHash LSH and are
confirmed on the exact sets; groups are the connected pairs (union-find), largest first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from datasketch import MinHashLSH

from casebank._words import count
from casebank.audit._base import AuditContext, AuditResult
from casebank.audit._shingles import NUM_PERM, SIMILAR_K, Shingled, jaccard, minhash

if TYPE_CHECKING:
    from casebank.replay import Case

__all__ = ["THRESHOLD", "audit", "groups_of", "lines"]

THRESHOLD = 0.75
_QUERY_BELOW = 0.15


def audit(context: AuditContext) -> AuditResult:
    by_entrypoint: dict[str, list[Case]] = defaultdict(list)
    for case in context.cases:
        by_entrypoint[case.entrypoint].append(case)
    findings = []
    for entrypoint in sorted(by_entrypoint):
        cases = sorted(by_entrypoint[entrypoint], key=lambda c: c.id)
        shingled = [Shingled(c.input, SIMILAR_K) for c in cases]
        for group in groups_of([s.shingles for s in shingled], THRESHOLD):
            findings.append(
                {
                    "entrypoint": entrypoint,
                    "case_ids": [cases[i].id for i in group],
                    "input": shingled[group[0]].text[:80],
                }
            )
    focus = context.options.get("focus")
    if focus:  # `cases promote`: only the groups its new case joins, found against the whole suite
        findings = [f for f in findings if set(f["case_ids"]) & set(focus)]
    findings.sort(key=lambda f: (-len(f["case_ids"]), f["case_ids"][0]))
    extra = sum(len(f["case_ids"]) - 1 for f in findings)
    summary = (
        f"{count(len(findings), 'group')} of near-duplicate cases ({count(extra, 'case')} add no evidence) - "
        "keep one case a group, or make them differ in what they test"
        if findings
        else f"no near-duplicate cases among {len(context.cases)}"
    )
    return AuditResult(name="duplicates", ok=not findings, summary=summary, findings=findings)


def groups_of(sets: Sequence[set[int]], threshold: float) -> list[list[int]]:
    """Indexes of `sets` in groups of two or more whose members are linked by pairs at least
    `threshold` alike (Jaccard), each group in index order, groups by their first index."""
    lsh = MinHashLSH(threshold=max(threshold - _QUERY_BELOW, 0.05), num_perm=NUM_PERM)
    signatures: list[Any] = []
    parent = list(range(len(sets)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, shingles in enumerate(sets):
        signatures.append(minhash(shingles))
        if not shingles:
            continue
        for j in lsh.query(signatures[i]):
            if jaccard(shingles, sets[j]) >= threshold:
                parent[root(i)] = root(j)
        lsh.insert(i, signatures[i])
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(sets)):
        members[root(i)].append(i)
    return sorted((g for g in members.values() if len(g) > 1), key=lambda g: g[0])


def lines(result: AuditResult) -> list[str]:
    """The findings as `cases audit` prints them: one line a group."""
    return [f"{', '.join(f['case_ids'])} ({f['entrypoint']}): '{f['input']}'" for f in result.findings]
