"""The `leakage` audit: cases that the product's prompts already hold (few-shot examples, pasted
instructions) test memorisation, not behaviour.

Every case's input and expected output is compared, as shingles (`_shingles.py`), with what the
product sent in the traces of the last `--days` (`_prompts.trace_texts`) and with the files of
`--prompts GLOB`. A case leaks where a prompt text contains at least `THRESHOLD` of its shingles:
light edits (case, whitespace, punctuation, a changed word) keep most shingles and so still count.
Candidates come from an LSH Ensemble (containment search) over the MinHashes of the prompt texts
that could hold a case at all (`_could_hold_a_case`: an exact bound, which leaves out most of a
week's texts cheaply), each case queried once; each candidate is confirmed on the exact shingle
sets. Texts too short to tell a quote from a coincidence
(fewer than `MIN_SHINGLES` shingles: "yes", an order number) are not compared.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from typing import Any

from datasketch import MinHashLSHEnsemble

from casebank._words import count
from casebank.audit._base import AuditContext, AuditResult
from casebank.audit._prompts import PromptText, file_texts, trace_texts
from casebank.audit._shingles import LEAKAGE_K, NUM_PERM, Shingled, containment, minhashes

__all__ = ["DEFAULT_DAYS", "MIN_SHINGLES", "THRESHOLD", "audit", "lines", "since"]

THRESHOLD = 0.6  # share of a case's shingles that a prompt must hold
MIN_SHINGLES = 3  # a text of five words or more
DEFAULT_DAYS = 7
_QUERY_BELOW = 0.15  # LSH is asked for a little less, so that the exact check decides the edge


def since(context: AuditContext) -> str:
    """The start of the window `--days` names, counted back from the context's `now`."""
    days = context.options.get("days") or DEFAULT_DAYS
    now = dt.datetime.fromisoformat(context.now.replace("Z", "+00:00"))
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return (now - dt.timedelta(days=float(days))).isoformat()


def audit(context: AuditContext) -> AuditResult:
    texts = file_texts(context.options.get("prompts"), root=context.suite_dir.resolve().parent)
    if context.store is not None:
        texts += trace_texts(context.store.llm_inputs_since(since(context)))
    if context.store is None and not context.options.get("prompts"):
        return AuditResult(
            name="leakage",
            ok=True,
            summary="skipped: no store to read traces from and no --prompts GLOB",
            skipped="no store and no --prompts",
        )
    findings = _leaks(context, texts)
    leaked = {f["case_id"] for f in findings}
    where = "traces" if context.store is not None else ""
    if context.options.get("prompts"):
        where += (" and " if where else "") + f"files matching {context.options['prompts']}"
    summary = (
        f"{len(leaked)} of {len(context.cases)} cases appear in the prompts ({where}) - "
        "a case the model has seen tests memory, not behaviour: take it out of the prompt"
        if leaked
        else f"no case appears in the prompts ({where}; {len(texts)} distinct prompt texts searched)"
    )
    return AuditResult(name="leakage", ok=not leaked, summary=summary, findings=findings)


def _leaks(context: AuditContext, texts: list[PromptText]) -> list[dict[str, Any]]:
    queries = []  # (case, part, shingled), sorted by case id
    for case in sorted(context.cases, key=lambda c: c.id):
        for part, value in (("input", case.input), ("expected", case.expected)):
            shingled = Shingled(value, LEAKAGE_K)
            if len(shingled) >= MIN_SHINGLES:
                queries.append((case, part, shingled))
    texts = _could_hold_a_case(texts, [q[2].shingles for q in queries])
    if not texts or not queries:
        return []
    index = MinHashLSHEnsemble(threshold=THRESHOLD - _QUERY_BELOW, num_perm=NUM_PERM, num_part=8)
    signed = zip(texts, minhashes([t.shingles for t in texts]), strict=True)
    index.index([(t.key, signature, len(t.shingles)) for t, signature in signed])
    by_key = {t.key: t for t in texts}
    signatures = minhashes([q[2].shingles for q in queries])
    findings = []
    for (case, part, shingled), signature in zip(queries, signatures, strict=True):
        source = case.source.get("trace_id") if isinstance(case.source, dict) else None
        places = []
        for key in index.query(signature, len(shingled)):
            text = by_key[key]
            share = containment(shingled.shingles, text.shingles)
            if share >= THRESHOLD:
                place = _place(text, shingled.shingles, source)
                if place is not None:
                    places.append({**place, "containment": round(share, 3)})
        if places:
            places.sort(key=lambda p: (-p["containment"], p.get("file") or "", p.get("trace_ids", [""])[0]))
            findings.append(
                {
                    "case_id": case.id,
                    "part": part,
                    "containment": places[0]["containment"],
                    "text": _short(shingled.text),
                    "where": places,
                }
            )
    return findings


def _could_hold_a_case(texts: list[PromptText], cases: list[set[int]]) -> list[PromptText]:
    """The texts that share enough shingles with the cases taken together to hold one of them at
    THRESHOLD: an exact bound (a text holding a case holds its shingles, all of which are in the
    union), one set intersection a text, which leaves the LSH index only the few texts that matter
    - most of a week's prompt texts are users' earlier turns that no case is near."""
    if not cases:
        return []
    union = set().union(*cases)
    needed = math.ceil(THRESHOLD * min(map(len, cases)) - 1e-9)
    return [t for t in texts if len(t.shingles) >= needed and len(union.intersection(t.shingles)) >= needed]


def _place(text: PromptText, shingles: set[int], source: Any) -> dict[str, Any] | None:
    """Where a matched prompt text is: file:line, or the traces that sent it (without the case's
    own trace: a case is expected in the trace it was promoted from)."""
    if text.file is not None:
        return {"file": text.file, "line": _line(text, shingles)}
    trace_ids = [t for t in text.trace_ids if t != source]
    traces = text.traces - (len(text.trace_ids) - len(trace_ids))
    return {"trace_ids": trace_ids, "traces": traces} if traces > 0 else None


def _line(text: PromptText, shingles: set[int]) -> int:
    """The line where the longest run of the case's shingles in the file starts (runs may skip a
    changed word's shingles)."""
    offsets = sorted(text.offsets[s] for s in shingles & text.offsets.keys())
    best_start, best_len, start, length = offsets[0], 1, offsets[0], 1
    for before, after in zip(offsets, offsets[1:], strict=False):
        if after - before <= 40 * LEAKAGE_K:  # within a few words: the same quote
            length += 1
        else:
            start, length = after, 1
        if length > best_len:
            best_start, best_len = start, length
    return bisect.bisect_right(text.line_starts, best_start)


def _short(text: str, limit: int = 80) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def lines(result: AuditResult) -> list[str]:
    """The findings as `cases audit` prints them: one line a leaked case part, one a place."""
    out = []
    for finding in result.findings:
        out.append(f"{finding['case_id']} {finding['part']} ({finding['containment']:.0%}): {finding['text']}")
        for place in finding["where"]:
            if "file" in place:
                out.append(f"  {place['containment']:.0%} in {place['file']}:{place['line']}")
            else:
                shown = ", ".join(place["trace_ids"])
                out.append(f"  {place['containment']:.0%} in {count(place['traces'], 'trace')}: {shown}")
    return out
