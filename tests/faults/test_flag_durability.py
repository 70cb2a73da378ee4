"""casebank.flag under faults: a flag that returned is on disk; one the store cannot take raises
a StoreError that says why (never a bare sqlite3 error), and goes through once the store can.

A returned flag surviving a crash is `test_crashes.py`'s kill -9 trial; here, the refusals."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from casebank.store import open_store
from tests.faults._apps import environment
from tests.faults._disks import Disk, full_disk
from tests.faults._trials import store_problems
from tests.postgres_server import PostgresServer, own_server

TRACE_ID = "ab" * 16

_FLAG = """
import json, sys
import casebank
from casebank.errors import CasebankError
try:
    print(json.dumps({"incident": casebank.flag(sys.argv[2], reason="wrong", db=sys.argv[1])}))
except CasebankError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def _flag_in_a_process(db: str | Path, *, no_writes: bool = False) -> dict[str, Any]:
    """casebank.flag in a process of its own (with `no_writes`, one the kernel lets write no file)."""

    def forbid_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    done = subprocess.run(
        [sys.executable, "-c", _FLAG, str(db), TRACE_ID],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(db),
        preexec_fn=forbid_writes if no_writes else None,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _write_a_trace(db: str | Path) -> None:
    span = (TRACE_ID, TRACE_ID[:16], None, "answer", "internal", "t1", 1, 1.0, "ok", None, "{}", None, "svc")
    trace = (TRACE_ID, "answer", "bot:answer", '"q"', '"a"', "ok", None, "t1", 1, 1.0, "svc", 1, None)
    with open_store(db) as store:
        store.write_spans([span], [trace])


@pytest.fixture
def disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Disk]:
    made = full_disk(tmp_path, request.param)
    yield made
    made.close()


@pytest.mark.parametrize("disk", ["small-filesystem", "file-size-limit"], indirect=True)
def test_a_flag_a_full_disk_refuses_raises_a_store_error_and_goes_through_once_there_is_room(disk: Disk) -> None:
    db = disk.folder / "casebank.db"
    _write_a_trace(db)
    small = disk.how == "small-filesystem"
    if small:
        disk.fault(None)  # type: ignore[arg-type]  # filling the disk needs no app

    refused = _flag_in_a_process(db, no_writes=not small)
    assert refused.get("error") == "StoreError", refused
    assert refused["message"].startswith(f"cannot open store '{db}' (")  # the disk, not "not a casebank store"

    if small:
        disk.mend(None)  # type: ignore[arg-type]
    flagged = _flag_in_a_process(db)
    assert "incident" in flagged, flagged
    assert store_problems(db, [flagged["incident"]]) == []
    with open_store(db) as store:
        [reason] = store.get_incident(flagged["incident"]).reasons  # the refused flag left nothing half-made
    assert reason["reason"] == "wrong"


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    with own_server() as own:
        yield own


def test_a_flag_while_postgres_is_down_raises_a_store_error_and_goes_through_once_it_is_up(
    server: PostgresServer,
) -> None:
    url = server.url("app")
    _write_a_trace(url)
    server.stop()
    refused = _flag_in_a_process(url)
    assert refused.get("error") == "StoreError" and "cannot connect to store" in refused["message"], refused
    server.start()
    flagged = _flag_in_a_process(url)
    assert store_problems(url, [flagged["incident"]]) == []
