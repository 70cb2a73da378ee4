"""kill -9 of an app in the middle of heavy writing while another process flags, and several
processes writing and flagging one store at once (the trials are in `_trials.py`, which
benchmarks/bench_faults.py runs for more rounds)."""

from __future__ import annotations

from pathlib import Path

from tests.faults._trials import concurrent_trial, kill_trial
from tests.postgres_server import fresh_database


def test_a_sqlite_store_survives_kill_9_mid_write_with_every_acknowledged_flag(tmp_path: Path) -> None:
    trial = kill_trial(tmp_path / "casebank.db", tmp_path, rounds=3)
    assert trial.problems == []
    assert trial.flags_acknowledged >= 3 * 5


def test_a_postgres_store_survives_kill_9_mid_write_with_every_acknowledged_flag(tmp_path: Path) -> None:
    trial = kill_trial(fresh_database(), tmp_path, rounds=1)
    assert trial.problems == []
    assert trial.flags_acknowledged >= 5


def test_writers_and_a_flagger_share_one_sqlite_store_without_an_error_or_a_lost_span(tmp_path: Path) -> None:
    trial = concurrent_trial(tmp_path / "casebank.db", tmp_path, writers=3, rounds=3, calls=400)
    assert trial.problems == []
    assert trial.spans_dropped == 0
    assert trial.spans_reported_written == trial.calls == 3 * 3 * 400
    assert trial.spans_stored == trial.spans_reported_written  # nothing acknowledged is lost
    assert trial.flags >= 6
