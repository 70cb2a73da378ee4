"""Faults: what capture and flags survive, as issue 18's figures.

- kill -9 trials: an app writes hard into a store while another process flags its traces; the
  app is killed with SIGKILL mid-write, the flagger goes on, then is killed too. A trial counts
  when the store then opens, passes `PRAGMA integrity_check` and holds every flag the flagger saw
  return (each recorded to a file, fsync'd, after `casebank.flag` returned), with its snapshot.
  On SQLite (CASEBANK_BENCH_KILLS trials, 20 by default) and on PostgreSQL
  (CASEBANK_BENCH_PG_KILLS, 10 by default, fsync on).
- spans lost by concurrent writers: 4 app processes write one SQLite store at once while a
  flagger flags it; spans each writer reported written but missing from the store, spans dropped,
  and any "database is locked" (or other sqlite3 error, or warning) a process saw.
- faults survived: a full disk, a store made read-only, the store deleted, PostgreSQL restarted,
  each under a running app: app calls that failed, and whether capture resumed by itself.
- the redaction and fuzzing figures, from benchmarks/faults_redaction.py and faults_fuzz.py.

The trials are tests/faults/_trials.py's, which the tests run for fewer rounds. The disk faults
need root to mount a small filesystem (else they use the file-size limit, as the tests do).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/faults, tests/postgres_server.py

from tests.faults._apps import App
from tests.faults._disks import Disk, full_disk, read_only_disk
from tests.faults._trials import FaultTrial, concurrent_trial, deletion_trial, disk_fault_trial, kill_trial
from tests.postgres_server import PostgresServer

KILLS = int(os.environ.get("CASEBANK_BENCH_KILLS", "20"))
POSTGRES_KILLS = int(os.environ.get("CASEBANK_BENCH_PG_KILLS", "10"))

Row = tuple[str, str, str]
PROBLEMS: list[str] = []  # any: the run exits 1, so that `make bench` stops on a missed target


def _problem(text: str) -> None:
    PROBLEMS.append(text)
    print(f"  problem: {text}")


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    return folder


def kill_rows(root: Path, server: PostgresServer) -> list[Row]:
    sqlite = kill_trial(root / "kills.db", _folder(root, "kills"), KILLS)
    server.execute("CREATE DATABASE kills")
    postgres = kill_trial(server.url("kills"), _folder(root, "kills-pg"), POSTGRES_KILLS)
    for problem in sqlite.problems + postgres.problems:
        _problem(problem)
    return [
        (
            "kill -9 trials sound, every acknowledged flag there (SQLite)",
            f"{sqlite.sound_rounds}/{sqlite.rounds} ({100 * sqlite.sound_rounds / sqlite.rounds:.0f}%, "
            f"{sqlite.flags_acknowledged} flags)",
            "100%",
        ),
        (
            "kill -9 trials sound, every acknowledged flag there (PostgreSQL)",
            f"{postgres.sound_rounds}/{postgres.rounds} ({100 * postgres.sound_rounds / postgres.rounds:.0f}%, "
            f"{postgres.flags_acknowledged} flags)",
            "100%",
        ),
    ]


def concurrency_rows(root: Path) -> list[Row]:
    trial = concurrent_trial(root / "shared.db", _folder(root, "shared"), writers=4, rounds=5, calls=1000)
    for problem in trial.problems:
        _problem(problem)
    return [
        (
            "spans lost by 4 concurrent writers + a flagger",
            f"{trial.spans_lost} of {trial.spans_reported_written:,}",
            "0",
        ),
        ("spans dropped by them", str(trial.spans_dropped), "0"),
        ("errors a writer or the flagger saw (database is locked, ...)", str(len(trial.problems)), "0"),
        ("flags acknowledged meanwhile", str(trial.flags), "-"),
    ]


def _fault_row(name: str, trial: FaultTrial) -> Row:
    for problem in trial.problems:
        _problem(f"{name}: {problem}")
    if trial.calls_failed or not trial.resumed or len(trial.warnings) != 1:
        _problem(f"{name}: {trial.calls_failed} calls failed, resumed {trial.resumed}, {trial.warnings}")
    resumed = "yes" if trial.resumed and not trial.problems else "no"
    return (
        f"{name}: app calls failed / capture resumed",
        f"{trial.calls_failed} of {trial.calls} / {resumed} (logged {len(trial.warnings)}x)",
        "0 / yes (1x)",
    )


def _with_app(folder: Path, db: str | Path, run: Callable[[App], FaultTrial]) -> FaultTrial:
    app = App(db, folder)
    try:
        app.wait_ready()
        return run(app)
    finally:
        app.close()


def _disk_row(root: Path, name: str, make: Callable[[Path, str], Disk], how: str) -> Row:
    disk = make(_folder(root, name.replace(" ", "-")), how)
    db = disk.folder / "casebank.db"
    try:
        trial = _with_app(
            disk.folder, db, lambda app: disk_fault_trial(app, lambda: disk.fault(app), lambda: disk.mend(app), db)
        )
    finally:
        disk.close()
    return _fault_row(f"{name} ({disk.how})", trial)


def fault_rows(root: Path, server: PostgresServer) -> list[Row]:
    rows = [
        _disk_row(root, "disk full", full_disk, "small-filesystem"),
        _disk_row(root, "store made read-only", read_only_disk, "immutable-files"),
    ]
    deleted = _folder(root, "deleted")
    db = deleted / "casebank.db"
    rows.append(
        _fault_row("store deleted", _with_app(deleted, db, lambda app: deletion_trial(app, db, ("", "-wal", "-shm"))))
    )
    server.execute("CREATE DATABASE restarted")
    url = server.url("restarted")
    trial = _with_app(
        _folder(root, "restarted"), url, lambda app: disk_fault_trial(app, server.stop, server.start, url)
    )
    rows.append(_fault_row("PostgreSQL restarted", trial))
    return rows


def other_rows() -> list[Row]:
    rows: list[Row] = []
    for module, what in (("faults_redaction", "redaction"), ("faults_fuzz", "fuzzing")):
        try:
            figures = __import__(f"benchmarks.{module}", fromlist=["figures"]).figures
        except (ImportError, AttributeError):
            rows.append((f"{what} (benchmarks/{module}.py)", "not measured", "-"))
            continue
        rows.extend(figures())
    return rows


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="casebank-faults-"))
    server = PostgresServer(durable=True)
    try:
        server.start()
        rows = kill_rows(root, server) + concurrency_rows(root) + fault_rows(root, server)
    finally:
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)
    rows += other_rows()
    width = max(len(name) for name, _, _ in rows)
    print(f"{'figure':<{width}}  {'value':<32}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<32}  {target}")
    if PROBLEMS:
        sys.exit(1)


if __name__ == "__main__":
    main()
