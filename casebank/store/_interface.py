"""The store's interface: everything the capture writer, `casebank.flag()`, the CLI and the runner
may ask of a store, whichever backend holds it.

One seam a backend (as OpenTelemetry's `SpanExporter`): the rest of casebank speaks to a store
only through `Store`, gets one from `open_store(url)`, and never sees a connection. Methods are
named by what they mean, not by the SQL behind them. A backend keeps every promise written here;
`tests/store/test_contract.py` holds them, parametrised over the backends, and a new backend
passes it unchanged before anything uses it.

Promises that hold for every method:
- Values cross as plain Python; JSON columns come back decoded (see `_records.py`).
- A method that returns has committed what it wrote. `flag`, `annotate`, `dismiss` and
  `mark_promoted` are durable when they return (fsynced), since a person acted on them.
- Errors are `casebank.errors` with one-line messages that name the thing and the fix:
  `TraceNotFound` / `IncidentNotFound` / `NotFound`, `AmbiguousId` for a prefix that matches
  several (listing some), `InvalidInput` for a malformed id or value, `InvalidTransition` for an
  incident asked to go where its status does not allow (`check_can_*` in `_records.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from casebank.store._records import Incident, StoreCounts, TraceSummary

__all__ = ["GraderCaches", "PreparedSpans", "Store"]

# A span or trace row in SPAN_COLUMNS / TRACE_COLUMNS order (see `_records.py`).
Row = Sequence[Any]


class PreparedSpans(Protocol):
    """A batch of span and trace rows made ready for `Store.write_prepared` (backend-specific)."""

    @property
    def span_count(self) -> int: ...


class GraderCaches(Protocol):
    """The meaning graders' caches kept in a store: embeddings by (model, text hash) and judge
    verdicts by key. Safe to call from several threads. After `close()` they find nothing and
    keep nothing, so that a grade still running after its run no longer touches the store."""

    def get_embeddings(self, model: str, text_hashes: Sequence[str]) -> dict[str, list[float]]: ...
    def put_embeddings(self, model: str, vectors: Mapping[str, Sequence[float]]) -> None: ...
    def get_verdict(self, key: str) -> dict[str, Any] | None: ...
    def put_verdict(self, key: str, verdict: Mapping[str, Any], *, model: str = "") -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    """A casebank store. Cheap to open (`open_store`); close it, or use it as a context manager."""

    @property
    def location(self) -> str:
        """Where the store is, for messages: a path, or a URL without its password."""
        ...

    def close(self) -> None: ...
    def __enter__(self) -> Store: ...
    def __exit__(self, *exc: object) -> None: ...

    # -- writing spans (the capture writer) --------------------------------------------------------

    def write_spans(self, spans: Sequence[Row], traces: Sequence[Row], dropped: int = 0) -> None:
        """Store span and trace rows in one transaction, and count `dropped` spans the queue lost.

        Idempotent per span (trace id, span id): a span written twice is stored once. A trace
        written over several batches keeps the root fields of whichever batch had its root, and
        adds up its span counts. Spans whose trace has no row in `traces` get one. A batch that
        brings a trace's root span attaches the flags held for it (`flag_or_hold`)."""
        ...

    def prepare_spans(self, spans: Sequence[Row], traces: Sequence[Row], dropped: int = 0) -> PreparedSpans:
        """`write_spans`'s work that needs no transaction, done before one opens: every span's
        trace must be among `traces` (as the capture writer makes them)."""
        ...

    def write_prepared(self, batch: PreparedSpans) -> None:
        """Write a batch that `prepare_spans` of this store made ready, in one transaction."""
        ...

    def prepare_for_capture(self) -> None:
        """Tune this connection for the capture writer's bursts (a no-op where nothing needs it)."""
        ...

    def checkpoint(self) -> None:
        """Make what was written cheap to read and bound the write-ahead log, without waiting
        for readers; the capture writer asks for it from a second connection. A no-op where the
        backend does this itself."""
        ...

    # -- reading traces ----------------------------------------------------------------------------

    def counts(self) -> StoreCounts: ...

    def recent_traces(self, limit: int = 20) -> list[TraceSummary]:
        """The newest `limit` traces, newest first."""
        ...

    def search_traces(
        self,
        *,
        where: Mapping[str, Any] | None = None,
        entrypoint: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[TraceSummary]:
        """Up to `limit` traces (1 to 1000) matching every filter given, newest first (by start
        time, ties by trace id): carrying every attribute in `where` (as `traces_where`), of
        `entrypoint`, with `status` ("ok" or "error"), started at or after `since` and before
        `until` (ISO-8601 times, UTC unless they say otherwise). `before` pages on: the full id of
        the last trace of the previous page. InvalidInput naming the argument for a bad one, or a
        cursor that names no trace."""
        ...

    def get_trace(self, trace_id: str) -> TraceSummary | None: ...

    def trace_spans(self, trace_id: str) -> list[dict[str, Any]]:
        """A trace's spans (SPAN_COLUMNS by name, attributes and events decoded), by start time."""
        ...

    def resolve_trace_id(self, prefix: str) -> str:
        """A trace's full id from any unique prefix of it, as git takes commits."""
        ...

    def traces_where(self, where: Mapping[str, Any], limit: int = 6) -> list[str]:
        """Ids of the traces carrying every attribute in `where` (`casebank.set_attributes`),
        newest first. Values compare as text: `123` finds a ticket id the app set as 123."""
        ...

    def trace_id_where(self, where: Mapping[str, Any]) -> str:
        """The one trace carrying every attribute in `where`; TraceNotFound for none, AmbiguousId
        (listing the newest) for several."""
        ...

    # -- incidents ---------------------------------------------------------------------------------

    def flag(self, trace_id: str, reason: str, *, flagged_by: str | None = None) -> Incident:
        """Snapshot the whole trace into an incident, or add a reason to the trace's incident.

        Idempotent per trace: flagging again returns the same incident and keeps every reason.
        Durable on return. TraceNotFound for a trace the store does not hold."""
        ...

    def get_incident(self, incident_id: str) -> Incident: ...

    def resolve_incident(self, prefix: str) -> Incident:
        """An incident by any unique prefix of its id, else of its trace id."""
        ...

    def list_incidents(self, status: str = "all") -> list[Incident]:
        """Incidents with `status` (one of INCIDENT_STATUSES, or `all`), newest flag first."""
        ...

    def annotate(self, incident_id: str, *, expected: Any, grader: Mapping[str, Any], tags: Sequence[str]) -> Incident:
        """Record the expected output, grader spec and tags (sorted, once each); reopens a dismissed incident."""
        ...

    def dismiss(self, incident_id: str, reason: str) -> Incident: ...

    def mark_promoted(self, incident_id: str, *, case_id: str, case_path: str) -> Incident: ...

    # -- runs --------------------------------------------------------------------------------------

    def record_run(self, run: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> None:
        """Store a finished run and its results in one transaction; results keep their order.

        The run's `origin` says what ran it: "cli" (`cases run`), "pytest" or "api" (None: an older run)."""
        ...

    def list_runs(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """The newest `limit` runs (all with None), newest first, ties broken by id."""
        ...

    def run_results(self, run_id: str, *, suite_order: bool = False) -> list[dict[str, Any]]:
        """A run's results by case id then epoch; with `suite_order`, in the order recorded."""
        ...

    def resolve_run(self, ref: str) -> dict[str, Any]:
        """A run by `latest` or any unique prefix of its id."""
        ...

    # -- labels and judge calibrations -------------------------------------------------------------

    def add_label(self, trace_prefix: str, label: str, *, note: str | None = None) -> dict[str, Any]:
        """Label a trace's output good or bad; labelling it again replaces the label."""
        ...

    def list_labels(self) -> list[dict[str, Any]]:
        """Every label, oldest first, with the output and the annotated expected output of the
        trace's incident (None when there is none)."""
        ...

    def record_calibration(self, result: Mapping[str, Any]) -> None: ...

    def latest_calibration(self, config_hash: str) -> dict[str, Any] | None: ...

    def grader_caches(self) -> GraderCaches:
        """The meaning graders' caches in this store, for the length of one run."""
        ...

    # -- production: flags ahead of their trace, tokens, retention, copying (issue 16) --------------

    def ping(self) -> None:
        """Return when the store answers a trivial query; StoreError naming the store otherwise
        (`/readyz` of `cases serve`)."""
        ...

    def check_integrity(self) -> list[str]:
        """What is wrong with the store itself, one line each naming the thing and what to do;
        empty when it is sound (`cases verify`). SQLite: `PRAGMA integrity_check` and
        `foreign_key_check`, PostgreSQL: the catalog; both: the schema version against the newest
        migration and every table present. StoreError from a store that cannot be checked from here."""
        ...

    def flag_or_hold(
        self,
        trace_id: str | None,
        reason: str,
        *,
        where: Mapping[str, Any] | None = None,
        flagged_by: str | None = None,
    ) -> Incident | None:
        """Flag a trace that may not have arrived yet: exactly one of a full 32-hex `trace_id` or
        `where` attributes (as `traces_where`).

        If the store holds the trace's root span, flag it as `flag` does and return the incident.
        Otherwise keep the flag pending and return None; the write (`write_spans` or
        `write_prepared`) that brings a matching trace's root span flags it, with this reason,
        `flagged_by`, and the time it was held as the reason's time. Atomic against a write of that
        trace in another process: a held flag is never missed, and is attached once. The same
        (target, reason) held twice is kept once. AmbiguousId when `where` matches several traces."""
        ...

    def pending_flags(self) -> list[dict[str, Any]]:
        """Flags held for traces not yet arrived, oldest first:
        `{"trace_id", "where", "reason", "flagged_by", "held_at"}` (trace_id or where is None)."""
        ...

    def add_token(self, name: str, token_hash: str, scopes: Sequence[str]) -> None:
        """Keep an API token of `cases serve` by the hash of its secret (`token_hash()` in
        `_records.py`; never the secret). InvalidInput for a name in use, or a scope not in
        TOKEN_SCOPES."""
        ...

    def list_tokens(self) -> list[dict[str, Any]]:
        """Tokens by name: `{"name", "scopes", "created_at"}` (never the hash)."""
        ...

    def revoke_token(self, name: str) -> None:
        """Forget a token; NotFound naming `cases token list` for a name the store does not hold."""
        ...

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """`{"name", "scopes"}` of the token whose secret hashes to `token_hash`, else None."""
        ...

    def prune(self, older_than: str, *, dry_run: bool = False) -> dict[str, int]:
        """Delete traces (and their spans) that started before `older_than` (an ISO-8601 UTC time)
        and that no incident references; incidents keep their snapshots. Returns
        `{"traces": n, "spans": m}`, deleted or (with `dry_run`) that would be. One transaction."""
        ...

    def export_records(self, kind: str, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Up to `limit` records of `kind` (one of COPY_KINDS) in the order of their key, after the
        key `after` (a record's `"key"` field; None: from the start), for `cases db copy`.

        Records are backend-neutral dicts: the column names of the SQLite schema, JSON columns
        decoded, plus `"key"`; a run carries its results as `"results"` (a list, in order).
        Where SQL NULL and JSON null differ, a flag says which: a trace's `"has_output"` (False:
        raised, or no root yet) and an incident's `"has_expected"`. Keys: a trace's id, a span's
        `"trace_id:span_id"`, an incident's, run's id, a label's subject, a calibration's
        `"calibrated_at config_hash"`; store-local numbers (`trace_key`, a calibration's `id`)
        are left out. The contract suite pins each kind's shape."""
        ...

    def import_records(self, kind: str, records: Sequence[Mapping[str, Any]]) -> int:
        """Store records that `export_records` of any backend returned, in one transaction; a record
        the store already holds (by its key) is skipped. Returns how many were new."""
        ...

    # -- traffic for `cases audit` (issue 17) --------------------------------------------------------

    def traces_since(self, since: str, *, entrypoint: str | None = None) -> Iterator[TraceSummary]:
        """Traces that started at or after `since` (an ISO-8601 UTC time), oldest first (traces
        that started at the same time in no promised order), each once; only those of
        `entrypoint` when given. Read a page at a time, so that a week of
        traffic never sits in memory at once; a page holds no connection while the caller works."""
        ...

    def llm_inputs_since(self, since: str) -> Iterator[dict[str, Any]]:
        """What the product sent to its models in the traces that started at or after `since`:
        one `{"trace_id", "span_id", "system_instructions", "input_messages"}` a span that has
        either GenAI attribute (`gen_ai.system_instructions`, `gen_ai.input.messages`), each as the
        span holds it (JSON text as capture writes it; None where the span has none), in the
        order of `traces_since` then span id. Read a page at a time, as `traces_since`."""
        ...
