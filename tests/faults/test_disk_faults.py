"""A SQLite store's disk fails under a running app: full, made read-only, the store deleted.

Each test drives a real app process (`app.py`) and puts the fault on it from outside (`_disks.py`
says how, and how it falls back where the test may not mount a filesystem). The app's every call
returns; the spans the store refuses are counted as dropped (in the store, once it takes writes
again); the outage is logged once when it starts and once when capture resumes, not per batch;
and capture resumes by itself once the disk is mended. Nothing is lost uncounted: the spans in
the store and the dropped ones add up to the calls made (`_trials.py` checks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults._apps import App
from tests.faults._disks import Disk, full_disk, read_only_disk
from tests.faults._trials import FaultTrial, deletion_trial, disk_fault_trial


@pytest.fixture
def disks() -> Iterator[list[Disk]]:
    made: list[Disk] = []
    yield made
    for disk in made:
        disk.close()


def _survived(trial: FaultTrial, said: str) -> None:
    assert trial.problems == []
    assert trial.calls_failed == 0 and trial.resumed
    [warning] = trial.warnings  # once for the outage, not once a batch
    assert said in warning and "the app runs on" in warning
    assert len(trial.back) == 1


@pytest.mark.parametrize("how", ["small-filesystem", "file-size-limit"])
def test_a_full_disk_costs_the_app_nothing_and_capture_resumes_once_space_is_freed(
    how: str, tmp_path: Path, disks: list[Disk], start_app: Callable[..., App]
) -> None:
    disk = full_disk(tmp_path, how)
    disks.append(disk)
    db = disk.folder / "casebank.db"
    app = start_app(db)
    trial = disk_fault_trial(app, lambda: disk.fault(app), lambda: disk.mend(app), db)
    said = (
        "(database or disk is full) - free space on its disk" if disk.how == "small-filesystem" else "(disk I/O error)"
    )
    _survived(trial, f"cannot write to store '{db}' {said}")


@pytest.mark.parametrize("how", ["immutable-files", "file-size-limit"])
def test_a_store_made_read_only_costs_the_app_nothing_and_capture_resumes_once_writable(
    how: str, tmp_path: Path, disks: list[Disk], start_app: Callable[..., App]
) -> None:
    disk = read_only_disk(tmp_path, how)
    disks.append(disk)
    db = disk.folder / "casebank.db"
    app = start_app(db)
    trial = disk_fault_trial(app, lambda: disk.fault(app), lambda: disk.mend(app), db)
    _survived(trial, f"cannot write to store '{db}' (disk I/O error)")


@pytest.mark.parametrize("removed", [("",), ("", "-wal", "-shm")], ids=["the-file", "the-file-and-its-log"])
def test_a_deleted_store_is_made_anew_at_its_path_and_capture_goes_on(
    removed: tuple[str, ...], tmp_path: Path, start_app: Callable[..., App]
) -> None:
    # SQLite writes on into a deleted file through the handle it holds, where no one would ever
    # read the spans: the writer sees before each batch that its path names another file (or
    # none) and makes a new store there. What the deleted file held is gone with it.
    db = tmp_path / "casebank.db"
    trial = deletion_trial(start_app(db), db, removed)
    _survived(trial, f"the store file '{db}' was deleted or replaced")
