"""Opening a store applies what is pending and refuses what is not ours (sqlite-utils' habit)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import StoreError
from casebank.store import SPAN_COLUMNS, TRACE_COLUMNS, check_store, open_store
from casebank.store._sqlite import _connection
from casebank.store._sqlite import _fresh as fresh_module
from casebank.store._sqlite._fresh import FRESH_SQL, create_fresh, fresh_sql
from casebank.store._sqlite._schema import MARKER_TABLE, SCHEMA_VERSION, apply_migrations

TABLES = {
    MARKER_TABLE,
    "counters",
    "spans",
    "traces",
    "trace_attributes",
    "incidents",
    "runs",
    "results",
    "_sqlite_migrations",
}


def schema(path: Path) -> dict[str, list[str]]:
    """Every table's columns, in order."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [c[1] for c in conn.execute(f"PRAGMA table_info([{t}])")] for t in tables}
    finally:
        conn.close()


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def migrations_applied(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT migration_set, name, applied_at FROM _sqlite_migrations ORDER BY name"))
    finally:
        conn.close()


# Every migration, in the order it applies. A shipped migration is never edited or renamed.
MIGRATIONS = [
    "m001_initial",
    "m002_trace_attributes",
    "m003_run_details",
    "m004_grader_caches",
    "m005_result_reliability",
    "m006_span_locality",
    "m007_run_origin",
    "m008_production",
    "m009_trace_search",
    "m010_run_baseline",
]


def test_a_fresh_store_is_created_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "casebank.db"
    open_store(path).close()
    tables = schema(path)
    assert TABLES <= set(tables)
    assert tables["spans"] == [*SPAN_COLUMNS, "trace_key"]
    assert tables["traces"] == ["trace_key", *TRACE_COLUMNS]
    assert pragma(path, "user_version") == SCHEMA_VERSION
    assert pragma(path, "journal_mode") == "wal"
    assert pragma(path, "page_size") == 16_384
    assert [(m[0], m[1]) for m in migrations_applied(path)] == [("casebank", name) for name in MIGRATIONS]


def make_m001_store(path: Path) -> None:
    """A store exactly as casebank with schema version 1 left it."""
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, stop_before="m002_trace_attributes")
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def test_a_schema_1_store_gains_trace_attributes_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "casebank.db"
    make_m001_store(path)
    old = schema(path)
    assert "attributes" not in old["traces"] and "trace_attributes" not in old
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO traces (trace_id, name, start_ns, span_count) VALUES (?, 'answer', 1, 1)", ("a" * 32,))
    conn.close()

    with open_store(path) as store:
        trace = store.get_trace("a" * 32)
    assert trace is not None and trace.name == "answer" and trace.attributes == {}
    new = schema(path)
    assert new["traces"] == ["trace_key", *old["traces"], "attributes"] == ["trace_key", *TRACE_COLUMNS]
    assert new["spans"] == [*old["spans"], "trace_key"]
    assert new["trace_attributes"] == ["key", "value", "trace_id"]
    assert new["runs"] == old["runs"] + ["epochs", "git_commit", "status", "retries", "origin", "baseline_id"]
    assert new["results"] == old["results"] + [
        "entrypoint",
        "expected",
        "tags",
        "traceback",
        "retries",
        "timed_out",
        "unreliable",
    ]
    added_tables = {
        "trace_attributes",
        "embedding_cache",
        "judge_verdicts",
        "labels",
        "calibrations",
        "held_flags",
        "tokens",
    }
    assert added_tables <= set(new)
    for table in ("traces", "spans", "runs", "results"):
        del new[table], old[table]
    assert {t: c for t, c in new.items() if t not in added_tables} == old  # every other table as it was
    assert pragma(path, "user_version") == SCHEMA_VERSION == len(MIGRATIONS)
    assert [m[1] for m in migrations_applied(path)] == MIGRATIONS


def test_a_schema_5_store_keys_its_spans_by_trace_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "casebank.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, stop_before="m006_span_locality")
    conn.execute("PRAGMA user_version = 5")
    old_trace, new_trace = "b" * 32, "a" * 32  # the older trace sorts last by id
    for trace_id, start in ((old_trace, 1), (new_trace, 2)):
        conn.execute(
            "INSERT INTO traces (trace_id, name, start_ns, span_count) VALUES (?, 'answer', ?, 2)", (trace_id, start)
        )
        for span_id, parent in (("1" * 16, None), ("2" * 16, "1" * 16)):
            conn.execute(
                "INSERT INTO spans (trace_id, span_id, parent_span_id, name, start_ns, attributes) "
                "VALUES (?, ?, ?, 'step', ?, '{}')",
                (trace_id, span_id, parent, start),
            )
    conn.close()

    with open_store(path) as store:
        assert [s["span_id"] for s in store.trace_spans(old_trace)] == ["1" * 16, "2" * 16]
        assert store.counts().spans == 4
        keys = dict(store.conn.execute("SELECT trace_id, trace_key FROM traces").fetchall())
        indexes = {row[1] for row in store.conn.execute("PRAGMA index_list(spans)")}
    assert keys[old_trace] < keys[new_trace]  # arrival order, not id order
    assert indexes == {"idx_spans_trace_key_span_id"}
    assert pragma(path, "user_version") == SCHEMA_VERSION


def test_a_schema_6_store_keeps_its_runs_which_have_no_origin(tmp_path: Path) -> None:
    path = tmp_path / "casebank.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, stop_before="m007_run_origin")
    conn.execute("PRAGMA user_version = 6")
    conn.execute(
        "INSERT INTO runs (id, started_at, suite, status) VALUES ('ab12cd', '2024-05-01T12:00:00', 'evals', 'finished')"
    )
    conn.close()

    with open_store(path) as store:
        [run] = store.list_runs()
        store.record_run(
            {"id": "ef34ab", "started_at": "2024-05-02T12:00:00", "suite": "evals", "origin": "pytest"}, []
        )
        origins = {row["id"]: row["origin"] for row in store.list_runs()}
    assert (run["id"], run["status"], run["origin"]) == ("ab12cd", "finished", None)
    assert origins == {"ab12cd": None, "ef34ab": "pytest"}
    assert pragma(path, "user_version") == SCHEMA_VERSION


def test_a_schema_7_store_gains_held_flags_tokens_and_an_index_for_pruning(tmp_path: Path) -> None:
    path = tmp_path / "casebank.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, stop_before="m008_production")
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    old = schema(path)
    assert "held_flags" not in old and "tokens" not in old

    with open_store(path) as store:
        assert store.pending_flags() == [] and store.list_tokens() == []
        indexes = {row[1] for row in store.conn.execute("PRAGMA index_list(trace_attributes)")}
        plan = " ".join(
            row[3]
            for row in store.conn.execute(
                "EXPLAIN QUERY PLAN SELECT trace_key FROM traces WHERE start_ns < 5 "
                "AND trace_id NOT IN (SELECT trace_id FROM incidents)"
            )
        )
    new = schema(path)
    assert new["held_flags"] == ["id", "trace_id", "where_attributes", "reason", "flagged_by", "held_at"]
    assert new["tokens"] == ["name", "token_hash", "scopes", "created_at"]
    assert new["runs"] == [*old["runs"], "baseline_id"]  # m010
    assert {t: c for t, c in new.items() if t not in ("held_flags", "tokens", "runs")} == {
        t: c for t, c in old.items() if t != "runs"
    }
    assert "idx_trace_attributes_trace_id" in indexes
    assert "idx_traces_start_ns" in plan  # prune finds old traces by index, not by a scan
    assert pragma(path, "user_version") == SCHEMA_VERSION


def contents(path: Path) -> dict[str, object]:
    """Everything a store holds that a schema decides: its objects, rows, migrations and version."""
    conn = sqlite3.connect(path)
    try:
        master = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
        tables = [name for kind, name, _, _ in master if kind == "table" and name != "_sqlite_migrations"]
        return {
            "sqlite_master": master,
            "rows": {t: sorted(conn.execute(f"SELECT * FROM [{t}]")) for t in tables},
            "migrations": list(conn.execute("SELECT id, migration_set, name FROM _sqlite_migrations ORDER BY id")),
            "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
        }
    finally:
        conn.close()


def test_a_new_store_is_exactly_what_the_migrations_make(tmp_path: Path) -> None:
    migrated = tmp_path / "migrated.db"
    conn = sqlite3.connect(migrated, isolation_level=None)
    apply_migrations(conn)
    conn.close()
    open_store(tmp_path / "new.db").close()
    assert contents(tmp_path / "new.db") == contents(migrated), (
        "casebank/store/_sqlite/fresh_store.sql no longer matches the migrations: run `make fresh-store`"
    )
    now = dt.datetime.now(dt.timezone.utc)
    for _, _, applied_at in migrations_applied(tmp_path / "new.db"):
        assert abs(dt.datetime.fromisoformat(str(applied_at)) - now) < dt.timedelta(minutes=1)


def test_make_fresh_store_would_leave_the_committed_sql_as_it_is(tmp_path: Path) -> None:
    # `make fresh-store` writes fresh_sql(); the store test above compares what it builds, this one
    # the text itself, so that a migration added without running it fails here by name.
    assert fresh_sql() == FRESH_SQL.read_text(encoding="utf-8"), "run `make fresh-store`"
    assert list(tmp_path.iterdir()) == []  # built in memory: no file left in the current folder


def test_make_fresh_store_writes_what_fresh_sql_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = tmp_path / "fresh_store.sql"
    monkeypatch.setattr(fresh_module, "FRESH_SQL", written)
    fresh_module.write_fresh_sql()
    assert written.read_text(encoding="utf-8") == fresh_sql()


def test_a_store_another_process_made_meanwhile_is_opened_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "casebank.db"

    def made_first_by_another_process(conn: sqlite3.Connection) -> bool:
        other = sqlite3.connect(path, isolation_level=None)  # this one saw an empty file too, and was quicker
        other.execute("PRAGMA journal_mode = WAL")
        assert create_fresh(other) is True
        other.execute("INSERT INTO counters (name, value) VALUES ('dropped_spans', 3)")
        other.close()
        made_by_other.update(contents(path))
        made = create_fresh(conn)
        assert not conn.in_transaction
        return made

    def no_migrations(conn: sqlite3.Connection) -> None:
        raise AssertionError("the store is current: nothing to migrate, no sqlite-utils to import")

    made_by_other: dict[str, object] = {}
    monkeypatch.setattr(_connection, "create_fresh", made_first_by_another_process)
    monkeypatch.setattr(_connection, "apply_migrations", no_migrations)
    with open_store(path) as store:
        assert store.counts().dropped_spans == 3
    assert contents(path) == made_by_other


def test_a_store_an_older_casebank_made_meanwhile_is_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two versions of an app starting on one new store: the older one was quicker.
    path = tmp_path / "casebank.db"

    def made_first_by_an_older_casebank(conn: sqlite3.Connection) -> bool:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("PRAGMA journal_mode = WAL")
        apply_migrations(other, stop_before="m006_span_locality")
        other.execute("PRAGMA user_version = 5")
        other.close()
        return create_fresh(conn)

    monkeypatch.setattr(_connection, "create_fresh", made_first_by_an_older_casebank)
    open_store(path).close()
    assert [m[1] for m in migrations_applied(path)] == MIGRATIONS
    assert pragma(path, "user_version") == SCHEMA_VERSION
    assert schema(path)["spans"] == [*SPAN_COLUMNS, "trace_key"]


def _open_new_store(path: str, start: Any, results: Any) -> None:
    start.wait()
    try:
        with open_store(path) as store:
            store.add_counter("opened", 1)
        results.put("ok" if "sqlite_utils" not in sys.modules else "imported sqlite_utils")
    except BaseException as exc:
        results.put(repr(exc))


def test_processes_opening_one_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    # Several workers of one app starting on a store that is not there yet.
    processes = 6
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(processes), ctx.Queue()
    path = str(tmp_path / "casebank.db")
    workers = [ctx.Process(target=_open_new_store, args=(path, start, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(60)
    assert outcomes == ["ok"] * processes
    with open_store(path) as store:
        assert store.conn.execute("SELECT value FROM counters WHERE name = 'opened'").fetchone()[0] == processes
    assert [m[1] for m in migrations_applied(Path(path))] == MIGRATIONS


def test_an_empty_file_is_migrated_like_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "casebank.db"
    path.touch()
    open_store(path, create=False).close()
    assert TABLES <= set(schema(path))


def test_a_second_open_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "casebank.db"
    with open_store(path) as store:
        store.add_counter("dropped_spans", 2)
    before = (schema(path), migrations_applied(path))
    with open_store(path) as store:
        assert store.counts().dropped_spans == 2
    assert (schema(path), migrations_applied(path)) == before


def test_a_store_with_tables_but_user_version_0_reapplies_nothing_and_works(tmp_path: Path) -> None:
    # As left by a crash between the last migration and the user_version pragma.
    path = tmp_path / "casebank.db"
    with open_store(path) as store:
        store.add_counter("dropped_spans", 5)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    before = (schema(path), migrations_applied(path))
    with open_store(path) as store:
        assert store.counts().dropped_spans == 5
    assert (schema(path), migrations_applied(path)) == before
    assert pragma(path, "user_version") == SCHEMA_VERSION


def test_a_store_from_a_newer_casebank_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "casebank.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}.*upgrade casebank"):
        open_store(path)
    assert path.read_bytes() == before


def test_a_sqlite_database_of_another_program_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="is a SQLite database but not a casebank store"):
        open_store(path)
    assert path.read_bytes() == before
    assert set(schema(path)) == {"customers"}


def test_a_text_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n" * 200)
    with pytest.raises(StoreError, match="'.*notes.db' is not a casebank store"):
        open_store(path)
    assert path.read_text() == "shopping list\n" * 200


def test_a_missing_store_is_not_created_when_only_reading(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "casebank.db"
    with pytest.raises(StoreError, match="no casebank store at"):
        open_store(path, create=False)
    assert not path.parent.exists()


def test_a_folder_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        open_store(tmp_path)


def test_a_store_from_before_issue_4_gains_the_cache_label_and_calibration_tables(tmp_path: Path) -> None:
    import sqlite3

    from casebank.store._sqlite._schema import SCHEMA_VERSION, apply_migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, stop_before="m004_grader_caches")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.close()
    with open_store(path) as store:
        columns = {
            table: [r[1] for r in store.conn.execute(f"PRAGMA table_info([{table}])")]
            for table in ("embedding_cache", "judge_verdicts", "labels", "calibrations")
        }
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
    assert columns["embedding_cache"] == ["model", "text_hash", "dimensions", "vector", "created_at"]
    assert columns["judge_verdicts"] == ["key", "model", "verdict", "score", "reason", "created_at"]
    assert columns["labels"] == ["subject", "trace_id", "output_hash", "output", "label", "note", "labelled_at"]
    assert columns["calibrations"][:3] == ["id", "config_hash", "grader"]
    assert version == SCHEMA_VERSION


@pytest.mark.parametrize("stop_before", MIGRATIONS[1:])
def test_a_store_at_each_older_schema_is_checked_as_older_and_nothing_else(tmp_path: Path, stop_before: str) -> None:
    """`check_store` (`cases verify`) expects of an old store only the tables its migrations made,
    and leaves it at its schema."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, stop_before=stop_before)
    conn.close()
    before = (schema(path), migrations_applied(path))
    version = MIGRATIONS.index(stop_before)
    assert check_store(path) == [
        f"store '{path}' has schema {version}, older than this casebank's {SCHEMA_VERSION} - any other cases "
        "command migrates it"
    ]
    assert (schema(path), migrations_applied(path)) == before
