"""The store's schema, as sqlite-utils migrations applied when a store is opened.

An existing store gets every migration not yet recorded in `_sqlite_migrations`, in order.
After the last one, `PRAGMA user_version` is set to `SCHEMA_VERSION`, so that the product's
writer thread can see with one pragma that nothing is pending and skip importing sqlite-utils
(about 110 ms, and pandas and numpy when installed) altogether. A new store is made from
`fresh_store.sql`, the schema these migrations build (`_fresh.py`), without sqlite-utils too.

Never edit a migration that has shipped: add a new one, bump SCHEMA_VERSION and run
`make fresh-store`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

# Bump together with a new migration below (then `make fresh-store`).
SCHEMA_VERSION = 10

# A table only a casebank store has; its absence in a non-empty file means "not ours".
MARKER_TABLE = "casebank_meta"

_SQL_TYPE = {str: "TEXT", int: "INTEGER", float: "FLOAT", bytes: "BLOB"}


def apply_migrations(conn: sqlite3.Connection, *, stop_before: str | None = None) -> None:
    """Apply every pending migration (`stop_before`, for tests: leave that one and later ones pending)."""
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    migrations = Migrations("casebank")

    @migrations(name="m001_initial")
    def m001_initial(db: Any) -> None:
        db[MARKER_TABLE].create({"key": str, "value": str}, pk="key")
        db[MARKER_TABLE].insert({"key": "store_format", "value": "casebank"})
        db["counters"].create({"name": str, "value": int}, pk="name")
        db["spans"].create(
            {
                "trace_id": str,
                "span_id": str,
                "parent_span_id": str,
                "name": str,
                "kind": str,
                "started_at": str,
                "start_ns": int,
                "duration_ms": float,
                "status": str,
                "status_message": str,
                "attributes": str,
                "events": str,
                "service_name": str,
            },
            pk=("trace_id", "span_id"),
        )
        db["traces"].create(
            {
                "trace_id": str,
                "name": str,
                "entrypoint": str,
                "input": str,
                "output": str,
                "status": str,
                "error": str,
                "started_at": str,
                "start_ns": int,
                "duration_ms": float,
                "service_name": str,
                "span_count": int,
            },
            pk="trace_id",
        )
        db["traces"].create_index(["start_ns"])
        db["incidents"].create(
            {
                "id": str,
                "trace_id": str,
                "status": str,
                "reasons": str,
                "flagged_at": str,
                "updated_at": str,
                "entrypoint": str,
                "input": str,
                "output": str,
                "error": str,
                "snapshot": str,
                "expected": str,
                "grader": str,
                "tags": str,
                "dismissed_reason": str,
                "case_id": str,
                "case_path": str,
            },
            pk="id",
            not_null={"trace_id", "status", "reasons", "flagged_at", "updated_at", "snapshot"},
        )
        db["incidents"].create_index(["trace_id"], unique=True)
        db["runs"].create(
            {
                "id": str,
                "started_at": str,
                "finished_at": str,
                "suite": str,
                "suite_hash": str,
                "target": str,
                "concurrency": int,
                "total": int,
                "passed": int,
                "failed": int,
                "errored": int,
                "pass_rate": float,
            },
            pk="id",
        )
        db["results"].create(
            {
                "run_id": str,
                "case_id": str,
                "epoch": int,
                "case_file": str,
                "passed": int,
                "score": float,
                "reason": str,
                "output": str,
                "error": str,
                "latency_ms": float,
                "grader": str,
            },
            pk=("run_id", "case_id", "epoch"),
            foreign_keys=[("run_id", "runs", "id")],
        )

    @migrations(name="m002_trace_attributes")
    def m002_trace_attributes(db: Any) -> None:
        # `casebank.set_attributes(ticket_id=...)`: a JSON object on the trace row for people
        # browsing the store, and one indexed row per attribute so that `flag(where=...)` is a
        # lookup rather than a scan of every trace's JSON. Values are stored as text, so that
        # `--where ticket_id=123` finds a ticket id the app set as the integer 123.
        db["traces"].add_column("attributes", str)
        db["trace_attributes"].create({"key": str, "value": str, "trace_id": str}, pk=("key", "value", "trace_id"))

    @migrations(name="m003_run_details")
    def m003_run_details(db: Any) -> None:
        # A stored run can be re-rendered, compared and told apart without its suite
        # folder. Runs: the git commit, epochs, retries, and whether Ctrl-C cut the run short.
        # Results: what a report shows that the case file held (expected, tags, entry point).
        for name, kind in (("epochs", int), ("git_commit", str), ("status", str), ("retries", int)):
            db["runs"].add_column(name, kind)
        for name, kind in (
            ("entrypoint", str),
            ("expected", str),
            ("tags", str),
            ("traceback", str),
            ("retries", int),
            ("timed_out", int),
        ):
            db["results"].add_column(name, kind)

    @migrations(name="m004_grader_caches")
    def m004_grader_caches(db: Any) -> None:
        # Embeddings by (model, sha256 of the text): a suite's expected outputs never change, so
        # a second run embeds only the new outputs. Vectors are little-endian float32 blobs.
        db["embedding_cache"].create(
            {"model": str, "text_hash": str, "dimensions": int, "vector": bytes, "created_at": str},
            pk=("model", "text_hash"),
        )
        # An LLM judge's answer by the hash of everything it depends on (model, rubric, expected,
        # output, prompt template version); the pass rule is applied afterwards, so it is not in it.
        db["judge_verdicts"].create(
            {"key": str, "model": str, "verdict": str, "score": float, "reason": str, "created_at": str},
            pk="key",
        )
        # People's labels on outputs, for calibrating a judge: one row per labelled thing, a trace
        # (subject = its id) or an output given directly (subject = `sha256:` of its canonical JSON).
        db["labels"].create(
            {
                "subject": str,
                "trace_id": str,
                "output_hash": str,
                "output": str,
                "label": str,
                "note": str,
                "labelled_at": str,
            },
            pk="subject",
            not_null={"label", "labelled_at"},
        )
        # Each `cases judge calibrate`: the judge configuration's hash and how well it agreed.
        db["calibrations"].create(
            {
                "id": int,
                "config_hash": str,
                "grader": str,
                "suite": str,
                "calibrated_at": str,
                "total": int,
                "accuracy": float,
                "kappa": float,
                "true_pass_rate": float,
                "true_fail_rate": float,
                "confusion": str,
                "disagreements": str,
            },
            pk="id",
        )
        db["calibrations"].create_index(["config_hash", "calibrated_at"])

    @migrations(name="m005_result_reliability")
    def m005_result_reliability(db: Any) -> None:
        # Why a result's verdict should not be trusted (a judge with no calibration, or kappa
        # below 0.6); NULL when it can be.
        db["results"].add_column("unreliable", str)

    @migrations(name="m006_span_locality")
    def m006_span_locality(db: Any) -> None:
        # Spans were found through a unique index on (trace_id, span_id). Trace ids are random,
        # so every batch inserted its keys all over that index, dirtying (and writing to the WAL)
        # a 16 KB page per span once the store had grown: that index was two thirds of the
        # writer's SQLite time, and the share grows with the store. Now each trace gets a
        # `trace_key` in order of arrival and spans are indexed by (trace_key, span_id), so a
        # batch's keys land together at the end of the index. Only the traces table keeps a
        # random index (one entry a trace, not a span). No FOREIGN KEY clause: the writer
        # inserts both in one transaction, and the check would cost a lookup a span. It rewrites
        # both tables: ~8 s for 100k traces (390 MB) here, on the first open after an upgrade.
        traces = {c: t for c, t in db["traces"].columns_dict.items() if c != "trace_id"}
        spans = db["spans"].columns_dict
        db.execute(
            "CREATE TABLE traces_new (trace_key INTEGER PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE, "
            + ", ".join(f"{c} {_SQL_TYPE[t]}" for c, t in traces.items())
            + ")"
        )
        names = ", ".join(traces)
        db.execute(
            f"INSERT INTO traces_new (trace_id, {names}) "
            f"SELECT trace_id, {names} FROM traces ORDER BY start_ns, trace_id"
        )
        db.execute(
            "CREATE TABLE spans_new ("
            + ", ".join(f"{c} {_SQL_TYPE[t]}" for c, t in spans.items())
            + ", trace_key INTEGER NOT NULL)"
        )
        names = ", ".join(f"s.{c}" for c in spans)
        db.execute(
            f"INSERT INTO spans_new SELECT {names}, t.trace_key FROM spans s JOIN traces_new t USING (trace_id) "
            "ORDER BY s.rowid"
        )
        for table in ("spans", "traces"):
            db.execute(f"DROP TABLE {table}")
            db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
        db.execute("CREATE UNIQUE INDEX idx_spans_trace_key_span_id ON spans (trace_key, span_id)")
        db.execute("CREATE INDEX idx_traces_start_ns ON traces (start_ns)")

    @migrations(name="m007_run_origin")
    def m007_run_origin(db: Any) -> None:
        # What ran a run: "cli" (`cases run`), "pytest" (`pytest --casebank`) or "api" (a Python
        # call of `casebank.replay.run_suite`). NULL for runs recorded before it was kept.
        db["runs"].add_column("origin", str)

    @migrations(name="m008_production")
    def m008_production(db: Any) -> None:
        # Flags that a support tool sent before their trace arrived (`flag_or_hold`): by trace id,
        # or by attributes (`where`, JSON of text values); the batch that brings the trace's root
        # attaches them. Kept once per (target, reason), so a retried request holds one flag.
        db.execute(
            "CREATE TABLE held_flags (id INTEGER PRIMARY KEY, trace_id TEXT, where_attributes TEXT, "
            "reason TEXT NOT NULL, flagged_by TEXT, held_at TEXT NOT NULL)"
        )
        db.execute(
            "CREATE UNIQUE INDEX idx_held_flags_target ON held_flags "
            "(ifnull(trace_id, ''), ifnull(where_attributes, ''), reason)"
        )
        # API tokens of `cases serve`, by the sha256 of their secret (never the secret).
        db.execute(
            "CREATE TABLE tokens (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, "
            "scopes TEXT NOT NULL, created_at TEXT NOT NULL)"
        )
        # Retention: `prune` finds old traces by `idx_traces_start_ns` (m006) and then deletes
        # their attribute rows by trace id, which the (key, value, trace_id) key cannot find.
        db.execute("CREATE INDEX idx_trace_attributes_trace_id ON trace_attributes (trace_id)")

    @migrations(name="m009_trace_search")
    def m009_trace_search(db: Any) -> None:
        # The review pages of `cases serve` list one entry point's traces, or the failed ones,
        # newest first (`search_traces`): each filter with the start time, so that a page is an
        # index range rather than a walk of every trace of the others.
        db.execute("CREATE INDEX idx_traces_entrypoint_start_ns ON traces (entrypoint, start_ns)")
        db.execute("CREATE INDEX idx_traces_status_start_ns ON traces (status, start_ns)")

    @migrations(name="m010_run_baseline")
    def m010_run_baseline(db: Any) -> None:
        # The run a run was compared with (`cases run --baseline`), so that its page (`cases
        # report`, /ui/runs) shows the regressions CI saw. NULL: none, or recorded before this.
        db["runs"].add_column("baseline_id", str)

    migrations.apply(Database(conn), stop_before=stop_before)
    if stop_before is None:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
