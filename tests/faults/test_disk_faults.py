"""A SQLite store's disk fails under a running app: full, made read-only, the store deleted.

Each test drives a real app process (`app.py`) and puts the fault on it from outside. The app's
every call returns; the spans the store refuses are counted as dropped (in the store, once it
takes writes again); the outage is logged once when it starts and once when capture resumes, not
per batch; and capture resumes by itself once the disk is mended. Nothing is lost uncounted:
the spans in the store and the dropped ones add up to the calls made.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from casebank.store import open_store
from tests.faults._apps import App
from tests.faults._disks import Disk, full_disk, read_only_disk


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _labelled(db: Path, label: str) -> int:
    with open_store(db, create=False) as store:
        return sum(1 for t in store.recent_traces(100_000) if t.input and str(t.input.get("question", "")).startswith(label))


def _survives(app: App, disk: Disk, db: Path, said: str) -> None:
    """Calls before, during and after the fault: the promises of the module's docstring."""
    assert app.call(20, 10, "before") == {"calls": 20, "failed": 0}
    assert app.ask("flush")["spans_written"] == 20

    disk.fault(app)
    assert app.call(300, 20_000, "during")["failed"] == 0  # more than the full disk could take
    during = app.ask("flush")
    assert during["write_errors"] >= 1 and during["capturing"] is False and during["failed"] == 0

    disk.mend(app)
    after = app.until(lambda stats: stats["capturing"], "after")
    assert after["outages"] == 1 and after["failed"] == 0
    final = app.quit()
    assert final["failed"] == 0

    warnings = app.casebank_lines("WARNING")
    assert len(warnings) == 1, warnings
    assert said in warnings[0] and "the app runs on" in warnings[0]
    back = [line for line in app.casebank_lines("INFO") if "is back" in line]
    assert len(back) == 1, back
    assert "Traceback" not in app.stderr()

    assert _integrity(db) == "ok"
    with open_store(db, create=False) as store:
        counts = store.counts()
    assert counts.spans == final["spans_written"]
    assert counts.spans + counts.dropped_spans == final["calls"]  # every span stored or counted
    assert _labelled(db, "after") >= 1 and _labelled(db, "before") == 20


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[list[Disk]]:
    made: list[Disk] = []
    yield made
    for disk in made:
        disk.close()


@pytest.mark.parametrize("how", ["small-filesystem", "file-size-limit"])
def test_a_full_disk_costs_the_app_nothing_and_capture_resumes_once_space_is_freed(
    how: str, tmp_path: Path, disks: list[Disk], start_app: Callable[..., App]
) -> None:
    disk = full_disk(tmp_path, how)
    disks.append(disk)
    db = disk.folder / "casebank.db"
    app = start_app(db)
    said = "database or disk is full" if disk.how == "small-filesystem" else "disk I/O error"
    _survives(app, disk, db, said)


@pytest.mark.parametrize("how", ["immutable-files", "file-size-limit"])
def test_a_store_made_read_only_costs_the_app_nothing_and_capture_resumes_once_writable(
    how: str, tmp_path: Path, disks: list[Disk], start_app: Callable[..., App]
) -> None:
    disk = read_only_disk(tmp_path, how)
    disks.append(disk)
    db = disk.folder / "casebank.db"
    app = start_app(db)
    _survives(app, disk, db, "cannot write to store")


@pytest.mark.parametrize("removed", [("",), ("", "-wal", "-shm")], ids=["the-file", "the-file-and-its-log"])
def test_a_deleted_store_is_made_anew_at_its_path_and_capture_goes_on(
    removed: tuple[str, ...], tmp_path: Path, start_app: Callable[..., App]
) -> None:
    # SQLite writes on into a deleted file through the handle it holds, where no one would ever
    # read the spans: the writer sees before each batch that its path names another file (or
    # none) and makes a new store there. What the deleted file held is gone with it.
    db = tmp_path / "casebank.db"
    app = start_app(db)
    assert app.call(20, 10, "before")["failed"] == 0
    assert app.ask("flush")["spans_written"] == 20
    for suffix in removed:
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    assert app.call(30, 10, "after") == {"calls": 50, "failed": 0}
    after = app.ask("flush")
    assert after["capturing"] is True and after["outages"] == 1 and after["spans_written"] == 50
    final = app.quit()

    assert final["failed"] == 0 and final["spans_dropped"] == 0
    [warning] = app.casebank_lines("WARNING")
    assert f"the store file '{db}' was deleted or replaced" in warning
    assert len([line for line in app.casebank_lines("INFO") if "is back" in line]) == 1
    assert os.path.exists(db) and _integrity(db) == "ok"
    assert _labelled(db, "after") == 30 and _labelled(db, "before") == 0
