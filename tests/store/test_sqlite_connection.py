"""Opening a SQLite store file (`_sqlite/_connection.py`): the settings every connection gets, the
wait for another process turning a new file to WAL, and the refusals that name the file."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from casebank.errors import StoreError
from casebank.store._sqlite import SQLiteStore


def _settings(store: SQLiteStore) -> dict[str, object]:
    return {
        name: store.conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
    }


# WAL, so that the app's writer, a `cases` command and a support tool share the file; synchronous
# NORMAL (1), crash-safe in WAL; a busy timeout of 10 s rather than failing at once.
SETTINGS = {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 10_000}


def test_a_new_and_a_reopened_store_get_the_same_connection_settings(db_path: Path) -> None:
    with SQLiteStore(db_path) as new:
        assert _settings(new) == SETTINGS
    with SQLiteStore(db_path, create=False) as reopened:
        assert _settings(reopened) == SETTINGS


def test_the_capture_writer_checkpoints_when_told_not_mid_burst(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        store.prepare_for_capture()
        autocheckpoint = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        kept = store.conn.execute("PRAGMA journal_size_limit").fetchone()[0]
    assert (autocheckpoint, kept) == (16_384, 64 * 1024 * 1024)


def _lock_while_turning_to_wal(path: Path) -> sqlite3.Connection:
    """Another process's connection, caught turning the new file at `path` to WAL: SQLite tells
    any other connection that tries the same "database is locked" at once, busy timeout or not."""
    path.touch()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_opening_a_new_store_waits_for_another_process_turning_it_to_wal(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = _lock_while_turning_to_wal(db_path)
    waits: list[float] = []

    def other_finishes_meanwhile(seconds: float) -> None:
        assert seconds > 0
        waits.append(seconds)
        other.rollback()

    monkeypatch.setattr("time.sleep", other_finishes_meanwhile)
    with SQLiteStore(db_path) as store:
        assert _settings(store) == SETTINGS
        assert store.counts().traces == 0
    assert len(waits) == 1
    other.close()


def test_a_new_store_locked_for_good_is_refused_after_a_hundred_tries(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = _lock_while_turning_to_wal(db_path)
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    with pytest.raises(StoreError) as raised:
        SQLiteStore(db_path)
    assert str(raised.value) == f"cannot prepare store '{db_path}': database is locked"
    assert len(waits) == 99  # a wait between each two of the 100 tries
    other.close()


def test_a_store_that_cannot_be_opened_is_refused_naming_it(tmp_path: Path) -> None:
    link = tmp_path / "casebank.db"
    os.symlink(tmp_path / "gone" / "casebank.db", link)  # a dangling link: SQLite cannot create its target
    with pytest.raises(StoreError) as raised:
        SQLiteStore(link)
    assert str(raised.value) == f"cannot open store '{link}': unable to open database file"


def test_a_store_whose_folder_cannot_be_made_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("not a folder\n")
    path = tmp_path / "notes" / "casebank.db"
    with pytest.raises(StoreError) as raised:
        SQLiteStore(path)
    assert str(raised.value) == f"cannot create the folder for store '{path}': {os.strerror(errno.EEXIST)}"


def test_a_store_that_its_migrations_cannot_bring_up_to_date_is_refused_naming_it(db_path: Path) -> None:
    # The marker table alone, as no casebank leaves a store: the first migration finds its table there.
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE casebank_meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as raised:
        SQLiteStore(db_path)
    message = str(raised.value)
    assert message.startswith(f"cannot prepare store '{db_path}': table ") and message.endswith(" already exists")
