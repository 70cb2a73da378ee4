"""What the PostgreSQL store promises beyond the contract: migrating once however many processes
open a new database, held flags never missed across processes, and text PostgreSQL refuses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import psycopg
import pytest

from casebank.errors import StoreError
from casebank.store import check_store, incident_id_for, open_store
from casebank.store._postgres._schema import MIGRATIONS
from tests.postgres_server import fresh_database, own_server

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _python(script: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def test_ten_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    url = fresh_database(migrated=False)
    go = tmp_path / "go"
    # Each process waits for the same file, so that they all open the store at the same moment.
    script = f"""
        import os, time
        from casebank.store import open_store
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        with open_store({url!r}) as store:
            print(store.counts().traces)
    """
    processes = [_python(script) for _ in range(10)]
    go.touch()
    assert [_finished(p) for p in processes] == ["0\n"] * 10
    with psycopg.connect(url) as conn:
        recorded = conn.execute("SELECT id, name FROM casebank_migrations ORDER BY id").fetchall()
    assert recorded == [(number, name) for number, name, _ in MIGRATIONS]


def _root_rows(trace_id: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    span = (trace_id, trace_id[:16], None, "answer", "internal", "t1", 1, 1.0, "ok", None, "{}", None, "svc")
    trace = (trace_id, "answer", "bot:answer", '"q"', '"a"', "ok", None, "t1", 1, 1.0, "svc", 1, None)
    return [span], [trace]


def test_flags_held_while_another_process_writes_their_traces_each_attach_once(tmp_path: Path) -> None:
    url = fresh_database()
    ids = [f"{n:032x}" for n in range(1, 201)]
    go = tmp_path / "go"
    wait = f"""
        import os, time
        from casebank.store import open_store
        ids = {ids!r}
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
    """
    flagger = _python(
        wait
        + f"""
        with open_store({url!r}) as store:
            # From the last trace back while the writer goes from the first: they cross midway, so
            # (scheduling allowing; here about half) some flags are held and some flag at once.
            print(sum(store.flag_or_hold(t, "wrong window") is None for t in reversed(ids)))
    """
    )
    writer = _python(
        wait
        + f"""
        with open_store({url!r}) as store:
            for t in ids:
                store.write_spans(
                    [(t, t[:16], None, "answer", "internal", "t1", 1, 1.0, "ok", None, "{{}}", None, "svc")],
                    [(t, "answer", "bot:answer", '"q"', '"a"', "ok", None, "t1", 1, 1.0, "svc", 1, None)],
                )
    """
    )
    go.touch()
    _finished(flagger)
    _finished(writer)
    with open_store(url) as store:
        incidents = store.list_incidents()
        assert store.pending_flags() == []
        assert sorted(i.trace_id for i in incidents) == ids
        assert all([r["reason"] for r in i.reasons] == ["wrong window"] for i in incidents)
        for trace_id in ids[:3]:
            store.write_spans(*_root_rows(trace_id))  # the root again: nothing attaches twice
            assert len(store.get_incident(incident_id_for(trace_id)).reasons) == 1


def test_an_empty_database_is_no_store_to_a_command_that_only_reads() -> None:
    url = fresh_database(migrated=False)
    with pytest.raises(StoreError) as raised:
        open_store(url, create=False)
    assert str(raised.value) == (
        f"no casebank store in database '{url}' - run the app with casebank.init(db=...) first, or pass --db"
    )
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('casebank_migrations')").fetchone() == (None,)


def test_a_store_made_by_a_newer_casebank_is_refused_saying_to_upgrade() -> None:
    url = fresh_database()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO casebank_migrations (id, name) VALUES (99, 'm099_future')")
    with pytest.raises(StoreError) as raised:
        open_store(url)
    latest = MIGRATIONS[-1][0]
    assert str(raised.value) == (
        f"store '{url}' has schema version 99, newer than this casebank ({latest}) - upgrade casebank"
    )


def test_a_database_holding_another_apps_table_of_the_same_name_is_refused() -> None:
    url = fresh_database(migrated=False)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE runs (id int)")
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert str(raised.value) == (
        f"database '{url}' already has a table casebank needs (relation \"runs\" already exists) but no "
        "casebank store - pass a database of its own to --db"
    )


def test_text_with_nul_characters_is_kept_with_a_replacement_character() -> None:
    trace_id = "ab" * 16
    spans, traces = _root_rows(trace_id)
    spans = [(*spans[0][:3], "an\x00swer", *spans[0][4:10], orjson.dumps({"k": "a\x00b"}).decode(), *spans[0][11:])]
    with open_store(fresh_database()) as store:
        store.write_spans(spans, traces)
        [span] = store.trace_spans(trace_id)
    assert (span["name"], span["attributes"]) == ("an\ufffdswer", {"k": "a\ufffdb"})


def test_an_open_store_answers_again_after_its_server_restarts() -> None:
    with own_server() as server, open_store(server.url("app")) as store:
        store.write_spans(*_root_rows("cd" * 16))
        server.stop()
        with pytest.raises(StoreError) as raised:
            store.ping()
        assert str(raised.value).startswith(f"store '{server.url('app')}' does not answer (")
        server.start()
        store.ping()  # the pool dropped the connections the restart broke
        assert store.counts().traces == 1


@pytest.mark.parametrize("applied", range(1, len(MIGRATIONS)))
def test_a_store_at_each_older_migration_is_checked_as_older_and_nothing_else(applied: int) -> None:
    """`check_store` (`cases verify`) expects of an old store only the tables its migrations made,
    and records no migration."""
    url = fresh_database(migrated=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE casebank_migrations (id integer PRIMARY KEY, name text NOT NULL UNIQUE)")
        for number, name, sql in MIGRATIONS[:applied]:
            conn.execute(sql.encode())
            conn.execute("INSERT INTO casebank_migrations (id, name) VALUES (%s, %s)", (number, name))
    assert check_store(url) == [
        f"store '{url}' has schema {applied}, older than this casebank's {MIGRATIONS[-1][0]} - any other cases "
        "command migrates it"
    ]
    with psycopg.connect(url) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM casebank_migrations ORDER BY id")] == list(
            range(1, applied + 1)
        )
