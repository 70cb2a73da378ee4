"""The `coverage` audit: does the suite look like the product's traffic?

For the traces of the last `--days`, per entry point: the share whose input has a case of that
entry point within `THRESHOLD` (Jaccard of the inputs' normalised word sets, `_shingles.py`), and
the largest groups of recent traffic that no case resembles, each with example trace ids, so that
support reviews them first (`cases traces --uncovered` lists the traces).

Traces are read a page at a time (`Store.traces_since`); an input seen before is not compared
again. A trace's candidates come from MinHash LSH over its entry point's cases, confirmed on the
exact sets. Uncovered inputs are grouped by leader clustering over an LSH index of the groups'
first members: each input joins the first leader at least `GROUP_THRESHOLD` alike, else leads a
group of its own - one query an input, where linking every similar pair would cost the square of
a large group's size. Traces without a casebank entry point (foreign spans only) are not counted.

The audit fails when an entry point has traffic and no case, or when an uncovered group holds at
least `MIN_GROUP_SHARE` of an entry point's traffic (and `MIN_GROUP` traces): a behaviour the
product shows every day that the suite never tests.

With the option `similarity: embeddings` (the embeddings extra installed), a trace is covered by
meaning instead: the cosine of its input's embedding and a case's, with the `embedding` grader's
local model. Words stay the default: encoding a week of traffic on a CPU takes minutes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from datasketch import MinHashLSH

from casebank._words import count
from casebank.audit._base import AuditContext, AuditResult
from casebank.audit._leakage import since
from casebank.audit._shingles import NUM_PERM, SIMILAR_K, Shingled, jaccard, minhash, minhashes
from casebank.store import TraceSummary

if TYPE_CHECKING:
    from casebank.replay import Case
    from casebank.store import Store

__all__ = ["THRESHOLD", "Coverage", "audit", "lines", "measure", "uncovered_traces"]

THRESHOLD = 0.5  # a trace is covered by a case whose input shares half their words
EMBEDDING_THRESHOLD = 0.6  # cosine, with `similarity: embeddings` (all-MiniLM-L6-v2: paraphrases 0.6-0.8, others ~0.2)
_BATCH = 256  # traces judged together
GROUP_THRESHOLD = 0.5
MIN_GROUP_SHARE = 0.1
MIN_GROUP = 3
GROUPS_SHOWN = 5  # groups listed an entry point
EXAMPLES = 5  # trace ids listed a group
_QUERY_BELOW = 0.15


@dataclass(kw_only=True)
class _Group:
    leader: set[int]
    text: str
    trace_ids: list[str] = field(default_factory=list)
    size: int = 0


@dataclass(kw_only=True)
class Coverage:
    """One entry point's traffic against the suite."""

    entrypoint: str
    traces: int = 0
    covered: int = 0
    cases: int = 0
    groups: list[_Group] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entrypoint": self.entrypoint,
            "traces": self.traces,
            "covered": self.covered,
            "share": round(self.covered / self.traces, 3) if self.traces else None,
            "cases": self.cases,
            "uncovered_groups": [
                {"traces": g.size, "example_trace_ids": g.trace_ids, "example_input": g.text[:80]}
                for g in sorted(self.groups, key=lambda g: -g.size)[:GROUPS_SHOWN]
            ],
        }


class _Matcher:
    """Whether an input of one entry point has a case within THRESHOLD, remembering each input."""

    def __init__(self, cases: Sequence[Case]) -> None:
        self.sets = [Shingled(c.input, SIMILAR_K).shingles for c in cases]
        self.lsh = MinHashLSH(threshold=THRESHOLD - _QUERY_BELOW, num_perm=NUM_PERM)
        for i, shingles in enumerate(self.sets):
            if shingles:
                self.lsh.insert(i, minhash(shingles))
        self.seen: dict[frozenset[int], bool] = {}
        self.empty_case = any(not s for s in self.sets)

    def covers_many(self, inputs: Sequence[Shingled]) -> list[bool]:
        """Each input's verdict; the signatures of inputs not seen before are computed together
        and kept on them (`Shingled.signature`), so that grouping the uncovered reuses them."""
        fresh = [s for s in inputs if s.shingles and frozenset(s.shingles) not in self.seen]
        for shingled, signature in zip(fresh, minhashes([s.shingles for s in fresh]), strict=True):
            shingled.signature = signature
            key = frozenset(shingled.shingles)
            if key not in self.seen:
                candidates = self.lsh.query(signature)
                self.seen[key] = any(jaccard(shingled.shingles, self.sets[i]) >= THRESHOLD for i in candidates)
        # no text to compare: covered when some case takes no text either
        return [self.seen[frozenset(s.shingles)] if s.shingles else self.empty_case for s in inputs]


class _EmbeddingMatcher:
    """As `_Matcher`, by meaning: the cosine of the inputs' embeddings (the `embedding` grader's
    local model, from the embeddings extra) against EMBEDDING_THRESHOLD. Opt-in (`similarity:
    embeddings`): a week of traffic is a great many encodes on a CPU."""

    def __init__(self, cases: Sequence[Case]) -> None:
        from casebank.replay.graders._embedding import DEFAULT_LOCAL_MODEL, _Local

        self.backend = _Local(DEFAULT_LOCAL_MODEL)
        texts = [Shingled(c.input, SIMILAR_K).text for c in cases]
        self.empty_case = any(not t.strip() for t in texts)
        self.vectors = np.array(self.backend.embed(texts)) if texts else np.zeros((0, 1))
        self.seen: dict[str, bool] = {}

    def covers_many(self, inputs: Sequence[Shingled]) -> list[bool]:
        todo = list(dict.fromkeys(s.text for s in inputs if s.text.strip() and s.text not in self.seen))
        if todo and len(self.vectors):
            best = (np.array(self.backend.embed(todo)) @ self.vectors.T).max(axis=1)
            self.seen.update(zip(todo, (bool(b >= EMBEDDING_THRESHOLD) for b in best), strict=True))
        else:
            self.seen.update(dict.fromkeys(todo, False))
        return [self.seen[s.text] if s.text.strip() else self.empty_case for s in inputs]


def _uncovered(
    store: Store, cases: Sequence[Case], since: str, similarity: str = "shingles"
) -> Iterator[tuple[TraceSummary, Shingled | None]]:
    """Every trace since `since` with an entry point, and its input's text when no case covers it
    (None when one does). Traces are judged a batch at a time, so that embeddings are batched."""
    by_entrypoint: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_entrypoint[case.entrypoint].append(case)
    matchers: dict[str, _Matcher | _EmbeddingMatcher] = {}
    batch: list[tuple[TraceSummary, Shingled]] = []
    for trace in store.traces_since(since):
        if trace.entrypoint:
            batch.append((trace, Shingled(trace.input, SIMILAR_K)))
        if len(batch) == _BATCH:
            yield from _judged(batch, matchers, by_entrypoint, similarity)
            batch = []
    yield from _judged(batch, matchers, by_entrypoint, similarity)


def _judged(
    batch: list[tuple[TraceSummary, Shingled]],
    matchers: dict[str, _Matcher | _EmbeddingMatcher],
    by_entrypoint: dict[str, list[Case]],
    similarity: str,
) -> Iterator[tuple[TraceSummary, Shingled | None]]:
    verdicts: dict[int, bool] = {}
    for entrypoint in {str(t.entrypoint) for t, _ in batch}:
        matcher = matchers.get(entrypoint)
        if matcher is None:
            kind = _EmbeddingMatcher if similarity == "embeddings" else _Matcher
            matcher = matchers[entrypoint] = kind(by_entrypoint.get(entrypoint, []))
        members = [i for i, (t, _) in enumerate(batch) if t.entrypoint == entrypoint]
        verdicts.update(zip(members, matcher.covers_many([batch[i][1] for i in members]), strict=True))
    for i, (trace, shingled) in enumerate(batch):
        yield trace, (None if verdicts[i] else shingled)


def uncovered_traces(
    store: Store, cases: Sequence[Case], since: str, similarity: str = "shingles"
) -> Iterator[TraceSummary]:
    """The traces since `since` whose input no case of their entry point resembles, oldest first."""
    for trace, shingled in _uncovered(store, cases, since, similarity):
        if shingled is not None:
            yield trace


def measure(store: Store, cases: Sequence[Case], since: str, similarity: str = "shingles") -> list[Coverage]:
    """Coverage of each entry point with traffic since `since`, by entry point; `similarity` is
    "shingles" (words) or "embeddings" (meaning, with the embeddings extra)."""
    found: dict[str, Coverage] = {}
    leaders: dict[str, MinHashLSH] = {}
    for trace, shingled in _uncovered(store, cases, since, similarity):
        entrypoint = str(trace.entrypoint)
        coverage = found.get(entrypoint)
        if coverage is None:
            coverage = found[entrypoint] = Coverage(
                entrypoint=entrypoint, cases=sum(c.entrypoint == entrypoint for c in cases)
            )
            leaders[entrypoint] = MinHashLSH(threshold=GROUP_THRESHOLD - _QUERY_BELOW, num_perm=NUM_PERM)
        coverage.traces += 1
        if shingled is None:
            coverage.covered += 1
            continue
        group = _group_for(coverage.groups, leaders[entrypoint], shingled)
        group.size += 1
        if len(group.trace_ids) < EXAMPLES:
            group.trace_ids.append(trace.trace_id)
    return [found[e] for e in sorted(found)]


def _group_for(groups: list[_Group], lsh: MinHashLSH, shingled: Shingled) -> _Group:
    signature = shingled.signature if shingled.signature is not None else minhash(shingled.shingles)
    if shingled.shingles:
        found: list[int] = sorted(lsh.query(signature))
        for i in found:
            if jaccard(shingled.shingles, groups[i].leader) >= GROUP_THRESHOLD:
                return groups[i]
    groups.append(_Group(leader=shingled.shingles, text=shingled.text))
    if shingled.shingles:
        lsh.insert(len(groups) - 1, signature)
    return groups[-1]


def audit(context: AuditContext) -> AuditResult:
    if context.store is None:
        return AuditResult(
            name="coverage", ok=True, summary="skipped: no store to read traffic from", skipped="no store"
        )
    days = context.options.get("days") or 7
    similarity = context.options.get("similarity") or "shingles"
    measured = measure(context.store, context.cases, since(context), similarity)
    findings = [m.as_dict() for m in measured]
    if not measured:
        return AuditResult(
            name="coverage",
            ok=True,
            summary=f"no traces in the last {days} days to compare the suite with",
            findings=findings,
        )
    problems = []
    for m in measured:
        share = m.covered / m.traces
        if m.cases == 0:
            problems.append(f"{m.entrypoint} has {count(m.traces, 'trace')} and no case")
            continue
        big = [g for g in m.groups if g.size >= MIN_GROUP and g.size >= MIN_GROUP_SHARE * m.traces]
        if big:
            top = max(big, key=lambda g: g.size)
            problems.append(
                f"{m.entrypoint}: {share:.0%} covered; {count(len(big), 'uncovered group')}, the largest "
                f"{top.size} traces like '{top.text[:40]}'"
            )
    shares = ", ".join(f"{m.entrypoint} {m.covered / m.traces:.0%} of {m.traces}" for m in measured)
    summary = (
        "; ".join(problems) + " - promote some of them ('cases traces --uncovered' lists them)"
        if problems
        else f"traffic of the last {days} days resembles the suite ({shares} covered)"
    )
    return AuditResult(name="coverage", ok=not problems, summary=summary, findings=findings)


def lines(result: AuditResult) -> list[str]:
    """The findings as `cases audit` prints them: an entry point's share, then its uncovered groups."""
    out = []
    for finding in result.findings:
        share = f"{finding['share']:.0%}" if finding["share"] is not None else "-"
        out.append(
            f"{finding['entrypoint']}: {finding['covered']} of {count(finding['traces'], 'trace')} covered "
            f"({share}) by {count(finding['cases'], 'case')}"
        )
        for group in finding["uncovered_groups"]:
            out.append(f"  uncovered: {count(group['traces'], 'trace')} like '{group['example_input']}'")
            out.append(f"    e.g. {', '.join(group['example_trace_ids'])}")
    return out
