"""`cases verify`: the real command on real case files, a real SQLite file (corrupted by hand) and
a real PostgreSQL database. One line a problem naming the thing and the fix, exit 1; exit 0 sound."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from casebank.replay._case import Case, write_case
from casebank.store import open_store
from casebank.store._postgres._schema import MIGRATIONS
from casebank.store._sqlite._schema import SCHEMA_VERSION, apply_migrations
from tests.cli.conftest import Cases, TraceMaker
from tests.postgres_server import fresh_database


def _case(case_id: str) -> Case:
    return Case(
        id=case_id,
        created_at="2026-12-07T12:00:00+00:00",
        entrypoint="support_bot:answer",
        input={"ticket": "refund?"},
        expected="30 days",
        grader={"name": "contains", "options": {}},
    )


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    folder = tmp_path / "evals"
    write_case(_case("c1a2b3"), folder)
    write_case(_case("d4e5f6"), folder)
    return folder


def test_a_sound_suite_and_store_say_so_in_one_line(cases: Cases, suite: Path, make_trace: TraceMaker) -> None:
    make_trace()
    result = cases("verify", "--suite", str(suite))
    assert (result.code, result.out, result.err) == (0, "2 cases, store sound\n", "")


def test_without_a_store_only_the_suite_is_checked(cases: Cases, suite: Path) -> None:
    result = cases("verify")
    assert result.code == 0
    assert result.out.startswith("2 cases, no store at ") and result.out.endswith("(not checked)\n")


def test_every_bad_case_file_is_listed_with_its_file_and_fix(cases: Cases, suite: Path) -> None:
    tampered = next(suite.glob("answer-c1a2b3.json"))
    body = orjson.loads(tampered.read_bytes())
    tampered.write_bytes(orjson.dumps({**body, "expected": "14 days"}))
    (suite / "broken.json").write_text("{not json")
    (suite / "no-grader.json").write_bytes(orjson.dumps({k: v for k, v in body.items() if k != "grader"}))
    (suite / "notes.txt").write_text("todo")
    (suite / ".answer-x.json.tmp").write_text("{")
    copy = _case("d4e5f6")
    copy.created_at = "2026-12-08T00:00:00+00:00"
    write_case(copy, suite / "sub")
    os.replace(suite / "sub" / "answer-d4e5f6.json", suite / "z-copy.json")
    outside = suite.parent / "elsewhere.json"
    outside.write_text("{}")
    (suite / "link.json").symlink_to(outside)
    (suite / "README.md").write_text("our cases")  # notes are welcome
    (suite / "holdout.toml").write_text("fraction = 0.2\n")

    result = cases("verify", "--suite", str(suite))
    assert result.code == 1 and "Traceback" not in result.err
    lines = result.out.splitlines()
    assert lines[-1].startswith("7 problems (1 case; no store at ")
    problems = "\n".join(lines[:-1])
    assert len(lines) == 8
    assert "answer-c1a2b3.json' was modified after it was frozen" in problems
    assert "broken.json' is not valid JSON" in problems
    assert "no-grader.json': field 'grader' is missing" in problems
    assert "notes.txt' is not a case file" in problems and "move it out of the suite folder" in problems
    assert ".answer-x.json.tmp' was left by an interrupted write - delete it" in problems
    assert "case id 'd4e5f6' appears in both" in problems
    assert "link.json' is a symlink to" in problems and "outside the suite folder" in problems


def test_a_missing_suite_folder_named_on_the_command_line_is_a_problem(cases: Cases) -> None:
    result = cases("verify", "--suite", "nowhere")
    assert result.code == 1
    assert (
        result.out.splitlines()[0]
        == "suite folder 'nowhere' does not exist - pass the folder that holds the case files"
    )


def _corrupt(db: Path) -> None:
    """Overwrite the start of every page past the first (their b-tree headers) with garbage, as a bad disk would."""
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for start in range(page_size, len(data), page_size):
        data[start : start + 64] = b"\xde\xad\xbe\xef" * 16
    db.write_bytes(bytes(data))


def test_a_corrupted_sqlite_store_is_a_problem_naming_the_file(
    cases: Cases, suite: Path, db: Path, make_trace: TraceMaker
) -> None:
    for n in range(40):
        make_trace(output="x" * 4000, seed=f"t{n}")
    with sqlite3.connect(db) as conn:  # everything into the main file, so that the damage is read
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _corrupt(db)
    result = cases("verify", "--suite", str(suite), "--db", str(db))
    assert result.code == 1 and "Traceback" not in result.err
    lines = result.out.splitlines()
    assert "problem" in lines[-1] and "store not sound" in lines[-1]
    assert all(str(db) in line for line in lines[:-1])
    assert any("restore the file from a backup" in line for line in lines[:-1])


def test_a_store_behind_on_its_schema_or_missing_a_table_is_a_problem(cases: Cases, db: Path) -> None:
    with open_store(db):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE labels")
    result = cases("verify", "--db", str(db))
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"store '{db}' has no table 'labels' - restore the file from a backup, or copy what is readable with "
        "'cases db copy'"
    )
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE labels (x)")
        conn.execute("PRAGMA user_version = 99")
    result = cases("verify", "--db", str(db))
    assert result.code == 1
    assert "newer than this casebank" in result.out and "upgrade casebank" in result.out


def test_a_file_that_is_no_store_is_a_problem_not_a_traceback(cases: Cases, tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"\x00" * 100 + b"junk" * 5000)
    result = cases("verify", "--db", str(tmp_path / "junk.db"))
    assert result.code == 1 and "Traceback" not in result.err
    assert "junk.db" in result.out.splitlines()[0]


def test_a_postgresql_store_is_checked_by_its_catalog(cases: Cases, suite: Path, postgres_url: str) -> None:
    result = cases("verify", "--suite", str(suite), "--db", postgres_url)
    assert (result.code, result.out) == (0, "2 cases, store sound\n")
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE labels")
    result = cases("verify", "--suite", str(suite), "--db", postgres_url)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.out.splitlines()[0].endswith(
        "has no table 'labels' - restore the database from a backup, or copy what is readable with 'cases db copy'"
    )


def test_the_http_store_says_to_verify_where_the_store_is() -> None:
    from casebank.errors import StoreError

    with open_store("http://127.0.0.1:9") as store, pytest.raises(StoreError, match="not available through"):
        store.check_integrity()


# -- verify reads and never writes: not a byte of the file, no -wal or -shm left, no migration ----


def _files(db: Path) -> dict[str, bytes]:
    """The store file and the -wal / -shm beside it, by name: what verify must leave as it was."""
    return {path.name: path.read_bytes() for path in sorted(db.parent.glob(db.name + "*"))}


def _left_at_schema_9(db: Path) -> None:
    """A store as casebank left it before migration 10: in WAL mode, closed (so no -wal or -shm)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    apply_migrations(conn, stop_before="m010_run_baseline")
    conn.execute("PRAGMA user_version = 9")
    conn.close()


def test_a_store_at_an_older_schema_is_reported_and_left_unmigrated(cases: Cases, db: Path) -> None:
    assert SCHEMA_VERSION == 10  # the message below names both
    _left_at_schema_9(db)
    before = _files(db)
    assert list(before) == [db.name]
    result = cases("verify", "--db", str(db))
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines()[0] == (
        f"store '{db}' has schema 9, older than this casebank's 10 - any other cases command migrates it"
    )
    assert result.out.splitlines()[1].startswith("1 problem (")
    assert _files(db) == before
    assert cases("status", "--db", str(db)).code == 0  # other commands migrate, as before
    assert cases("verify", "--db", str(db)).out.endswith(", store sound\n")


def test_an_empty_file_is_no_store_and_stays_empty(cases: Cases, db: Path) -> None:
    db.touch()
    result = cases("verify", "--db", str(db))
    assert result.code == 1 and "Traceback" not in result.err
    assert result.out.splitlines()[0] == (
        f"'{db}' is an empty file, not a casebank store - pass the path of a casebank .db file"
    )
    assert _files(db) == {db.name: b""}


def test_an_other_apps_sqlite_database_is_no_store(cases: Cases, db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = _files(db)
    result = cases("verify", "--db", str(db))
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"store '{db}' is a SQLite database but not a casebank store - pass the path of a casebank .db file"
    )
    assert _files(db) == before


def test_a_corrupted_store_at_an_older_schema_reports_the_damage_and_the_schema(
    cases: Cases, db: Path, make_trace: TraceMaker
) -> None:
    for n in range(40):
        make_trace(output="x" * 4000, seed=f"t{n}")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_run_baseline'")
    conn.execute("PRAGMA user_version = 9")
    conn.close()  # the last connection: everything into the main file, the -wal and -shm removed
    _corrupt(db)
    before = _files(db)
    result = cases("verify", "--db", str(db))
    assert result.code == 1 and "Traceback" not in result.err
    problems = result.out.splitlines()[:-1]
    assert not any("cannot prepare" in line for line in problems)
    assert any(
        line.endswith("restore the file from a backup, or copy what is readable with 'cases db copy'")
        for line in problems
    )
    assert f"store '{db}' has schema 9, older than this casebank's 10 - any other cases command migrates it" in problems
    assert _files(db) == before


def test_a_store_in_use_is_read_with_what_its_wal_holds_and_its_files_left_in_place(
    cases: Cases, tmp_path: Path, db: Path
) -> None:
    with open_store(db) as store:
        # A new store's tables are in its -wal until a checkpoint: the main file alone holds none.
        store.flag_or_hold("ab" * 16, "wrong refund window")
        assert {p.name for p in tmp_path.glob(db.name + "-*")} == {f"{db.name}-wal", f"{db.name}-shm"}
        main = db.read_bytes()
        result = cases("verify", "--db", str(db))
        assert (result.code, result.out) == (0, "no suite folder 'evals', store sound\n")
        assert db.read_bytes() == main
        # A copy of a killed app's files without the -shm: checked from a copy, nothing made beside it.
        copied = tmp_path / "copied"
        copied.mkdir()
        shutil.copyfile(db, copied / db.name)
        shutil.copyfile(f"{db}-wal", copied / f"{db.name}-wal")
    before = _files(copied / db.name)
    result = cases("verify", "--db", str(copied / db.name))
    assert (result.code, result.out) == (0, "no suite folder 'evals', store sound\n")
    assert _files(copied / db.name) == before


def test_a_postgresql_store_at_an_older_migration_is_reported_and_left_unmigrated(
    cases: Cases, postgres_url: str
) -> None:
    import psycopg

    assert MIGRATIONS[-1][0] == 4  # the message below names it, and the undoing is of migration 4
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE runs DROP COLUMN baseline_id")
        conn.execute("DELETE FROM casebank_migrations WHERE id = 4")
    result = cases("verify", "--db", postgres_url)
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines()[0] == (
        f"store '{postgres_url}' has schema 3, older than this casebank's 4 - any other cases command migrates it"
    )
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM casebank_migrations ORDER BY id")] == [1, 2, 3]
        assert conn.execute("SELECT to_regclass('runs') IS NOT NULL").fetchone() == (True,)
        columns = {
            r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'")
        }
        assert "baseline_id" not in columns
    assert cases("status", "--db", postgres_url).code == 0  # other commands migrate, as before
    assert cases("verify", "--db", postgres_url).out.endswith(", store sound\n")


def test_a_postgresql_database_without_a_store_or_with_a_newer_one_is_a_problem(cases: Cases) -> None:
    import psycopg

    empty = fresh_database(migrated=False)
    result = cases("verify", "--db", empty)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"no casebank store in database '{empty}' - run the app with casebank.init(db=...) first, or pass --db"
    )
    with psycopg.connect(empty, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('casebank_migrations')").fetchone() == (None,)
    newer = fresh_database()
    with psycopg.connect(newer, autocommit=True) as conn:
        conn.execute("INSERT INTO casebank_migrations (id, name) VALUES (99, 'm099_future')")
    result = cases("verify", "--db", newer)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"store '{newer}' has schema 99, newer than this casebank's {MIGRATIONS[-1][0]} - upgrade casebank"
    )
