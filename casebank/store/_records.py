"""What crosses the store's boundary, whichever backend holds it: rows in, records out.

The capture writer hands a store span and trace rows as tuples in `SPAN_COLUMNS` /
`TRACE_COLUMNS` order (tuples, because building a dict a span cost the writer a tenth of its
speed). Everything else crosses as plain Python: records below, and JSON columns as the values
they hold, decoded on read and encoded by the backend on write.

Also here, because every backend must agree on them: how an incident id is derived from its
trace id, what may follow what in an incident's life (`check_*`), and how an id prefix is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from casebank.errors import InvalidInput, InvalidTransition

__all__ = [
    "INCIDENT_STATUSES",
    "COPY_KINDS",
    "LABELS",
    "SPAN_COLUMNS",
    "TOKEN_SCOPES",
    "TRACE_COLUMNS",
    "RECORD_JSON_COLUMNS",
    "Incident",
    "StoreCounts",
    "TraceSummary",
    "check_can_annotate",
    "check_can_dismiss",
    "check_can_promote",
    "hex_prefix",
    "incident_id_for",
    "output_hash",
    "reason_entry",
    "root_span",
    "token_hash",
    "with_trace_rows",
    "utc_now",
]

SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "started_at",
    "start_ns",
    "duration_ms",
    "status",
    "status_message",
    "attributes",  # JSON text
    "events",  # JSON text, or None
    "service_name",
)
# The trace row written for each trace touched by a batch. Root fields (name .. service_name)
# are None unless the batch carries the trace's root span; span_count is this batch's count.
TRACE_COLUMNS = (
    "trace_id",
    "name",
    "entrypoint",
    "input",  # JSON text
    "output",  # JSON text
    "status",
    "error",
    "started_at",
    "start_ns",
    "duration_ms",
    "service_name",
    "span_count",
    "attributes",  # JSON object from casebank.set_attributes, as text, or None
)

INCIDENT_STATUSES = ("flagged", "annotated", "promoted", "dismissed")

# What an API token of `cases serve` may do: `ingest` spans, `flag` traces, `read` traces and
# incidents; `admin` does all of these and annotates, dismisses and marks promoted.
TOKEN_SCOPES = ("ingest", "flag", "read", "admin")

# What `cases db copy` moves, in this order (an incident names a trace; a label, a trace's output).
COPY_KINDS = ("traces", "spans", "incidents", "runs", "labels", "calibrations")
LABELS = ("good", "bad")


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def incident_id_for(trace_id: str) -> str:
    """Stable and short: the same trace always yields the same incident id, in any process and backend."""
    return hashlib.sha256(f"incident:{trace_id}".encode()).hexdigest()[:12]


def output_hash(output: Any) -> str:
    """`sha256:` over an output's canonical JSON: how a label or a cache names an output."""
    canonical = orjson.dumps(output, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


# Columns holding JSON in `export_records` records, by table: decoded on the way out, encoded
# on the way in, whichever backend reads or writes them.
RECORD_JSON_COLUMNS = {
    "traces": ("input", "output", "attributes"),
    "spans": ("attributes", "events"),
    "incidents": ("reasons", "input", "output", "snapshot", "expected", "grader", "tags"),
    "runs": (),
    "results": ("output", "expected", "tags"),
    "labels": ("output",),
    "calibrations": ("grader", "confusion", "disagreements"),
}

_SPAN_STARTED_AT, _SPAN_START_NS = SPAN_COLUMNS.index("started_at"), SPAN_COLUMNS.index("start_ns")


def with_trace_rows(spans: Sequence[Sequence[Any]], traces: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """`traces` as `write_spans` takes them from hand-made rows: a row without the last column
    (`attributes`, added later) gets None, and each trace of `spans` without a row gets one
    without root fields (as for a batch without the root)."""
    rows = [t if len(t) == len(TRACE_COLUMNS) else (*t, None) for t in traces]
    known = {t[0] for t in rows}
    missing: dict[str, dict[str, Any]] = {}
    for span in spans:
        trace_id, started_at, start_ns = span[0], span[_SPAN_STARTED_AT], span[_SPAN_START_NS]
        if trace_id in known:
            continue
        row = missing.setdefault(trace_id, {"started_at": started_at, "start_ns": start_ns, "span_count": 0})
        row["span_count"] += 1
        if start_ns < row["start_ns"]:
            row["started_at"], row["start_ns"] = started_at, start_ns
    return [*rows, *(tuple({"trace_id": t, **row}.get(c) for c in TRACE_COLUMNS) for t, row in missing.items())]


def reason_entry(reason: str, flagged_by: str | None, flagged_at: str | None = None) -> dict[str, Any]:
    """One of an incident's reasons (now, unless `flagged_at` says when); InvalidInput for a blank reason."""
    if not reason or not reason.strip():
        raise InvalidInput("a flag needs a reason - say what was wrong with the answer")
    return {"reason": reason.strip(), "flagged_by": flagged_by, "flagged_at": flagged_at or utc_now()}


def root_span(spans: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first of a trace's spans whose parent is not among them."""
    ids = {s["span_id"] for s in spans}
    for span in spans:
        if span["parent_span_id"] not in ids:
            return span
    return None


def token_hash(secret: str) -> str:
    """How a store keeps an API token: `sha256:` of the secret. A token is 32 random bytes, so a
    fast hash is enough (no salt or stretching: there is no password to guess)."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def hex_prefix(text: str, noun: str, fix: str) -> str:
    """`text` as an id prefix (trimmed, lower case); InvalidInput naming `noun` and `fix` unless it is hex."""
    prefix = text.strip().lower()
    if not prefix or not all(c in "0123456789abcdef" for c in prefix):
        raise InvalidInput(f"'{text.strip()}' is not {noun} - {fix}")
    return prefix


@dataclass(kw_only=True)
class StoreCounts:
    location: str  # where the store is, as a person would name it (a path, a URL without its password)
    traces: int
    spans: int
    incidents: dict[str, int]
    dropped_spans: int
    runs: int


@dataclass(kw_only=True)
class TraceSummary:
    trace_id: str
    name: str | None
    entrypoint: str | None
    input: Any
    output: Any
    status: str | None
    error: str | None
    started_at: str | None
    duration_ms: float | None
    span_count: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Incident:
    id: str
    trace_id: str
    status: str
    reasons: list[dict[str, Any]]
    flagged_at: str
    updated_at: str
    entrypoint: str | None
    input: Any
    output: Any
    error: str | None
    spans: list[dict[str, Any]]
    expected: Any = None
    has_expected: bool = False
    grader: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    dismissed_reason: str | None = None
    case_id: str | None = None
    case_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Every field by name, as `cases show --json` prints it (`expected` is None until annotated)."""
        return {
            "id": self.id,
            "trace_id": self.trace_id,
            "status": self.status,
            "reasons": self.reasons,
            "flagged_at": self.flagged_at,
            "updated_at": self.updated_at,
            "entrypoint": self.entrypoint,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "spans": self.spans,
            "expected": self.expected if self.has_expected else None,
            "grader": self.grader,
            "tags": self.tags,
            "dismissed_reason": self.dismissed_reason,
            "case_id": self.case_id,
            "case_path": self.case_path,
        }


# -- an incident's life: flagged -> annotated -> promoted, or dismissed on the way ----------------
# Annotating reopens a dismissed incident; a promoted one is frozen (its case is in git), except
# that it may be promoted again - `cases promote` does so when its case file was deleted.


def check_can_annotate(incident: Incident) -> None:
    if incident.status == "promoted":
        raise InvalidTransition(
            f"incident {incident.id} is already promoted as '{incident.case_path}' - a case is frozen; "
            "flag a new trace to record a different expectation"
        )


def check_can_dismiss(incident: Incident) -> None:
    if incident.status == "promoted":
        raise InvalidTransition(
            f"incident {incident.id} is already promoted as '{incident.case_path}' - remove that case file instead"
        )


def check_can_promote(incident: Incident) -> None:
    if incident.status == "dismissed":
        raise InvalidTransition(
            f"incident {incident.id} was dismissed - annotate it again to reopen it before promoting"
        )
    if not incident.has_expected:
        raise InvalidTransition(
            f"incident {incident.id} has no expected output - run 'cases annotate {incident.id}' first"
        )
