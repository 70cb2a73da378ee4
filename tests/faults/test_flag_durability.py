"""casebank.flag under faults: a flag that returned is on disk; one the store cannot take raises
a StoreError that says why (never a bare sqlite3 error), and goes through once the store can.

A returned flag surviving a crash is `test_crashes.py`'s kill -9 trial; here, the refusals (for
PostgreSQL down, in `test_postgres_faults.py`, which has a server to stop)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from casebank.store import open_store
from tests.faults._apps import flag_in_a_process, write_a_trace
from tests.faults._disks import Disk, full_disk
from tests.faults._trials import store_problems


@pytest.fixture
def disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Disk]:
    made = full_disk(tmp_path, request.param)
    yield made
    made.close()


@pytest.mark.parametrize("disk", ["small-filesystem", "file-size-limit"], indirect=True)
def test_a_flag_a_full_disk_refuses_raises_a_store_error_and_goes_through_once_there_is_room(disk: Disk) -> None:
    db = disk.folder / "casebank.db"
    write_a_trace(db)
    small = disk.how == "small-filesystem"
    if small:
        disk.fault(None)  # type: ignore[arg-type]  # filling the disk needs no app

    refused = flag_in_a_process(db, no_writes=not small)
    assert refused.get("error") == "StoreError", refused
    assert refused["message"].startswith(f"cannot open store '{db}' (")  # the disk, not "not a casebank store"

    if small:
        disk.mend(None)  # type: ignore[arg-type]
    flagged = flag_in_a_process(db)
    assert "incident" in flagged, flagged
    assert store_problems(db, [flagged["incident"]]) == []
    with open_store(db) as store:
        [reason] = store.get_incident(flagged["incident"]).reasons  # the refused flag left nothing half-made
    assert reason["reason"] == "wrong"
