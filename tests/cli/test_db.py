"""`cases db copy SOURCE DEST`, through the real `cases` command: SQLite into every kind of store
in `STORES` and back again, and a second copy that copies nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from casebank.store import open_store
from tests.cli.conftest import Cases, TraceMaker, assert_one_line_error, store_snapshot
from tests.postgres_server import fresh_database

# A store to copy into: called with a new, empty folder, it names a new, empty store there.
StoreAt = Callable[[Path], str]
STORES = [
    pytest.param(lambda folder: str(folder / "copy.db"), id="sqlite-path"),
    pytest.param(lambda folder: f"sqlite:///{folder / 'copy.db'}", id="sqlite-url"),
    pytest.param(lambda folder: fresh_database(), id="postgres"),
]


def _fill(db: Path, make_trace: TraceMaker) -> None:
    flagged = make_trace(output="We refund within 14 days.")
    make_trace(status="error", error="TimeoutError: policy service")
    make_trace(children=[])
    with open_store(db) as store:
        incident = store.flag(flagged, "wrong refund window", flagged_by="ana")
        store.annotate(incident.id, expected="We refund within 30 days.", grader={"name": "exact"}, tags=["refunds"])
        store.add_label(flagged, "bad", note="14 is wrong")
        store.record_run(
            {"id": "abc123", "started_at": "2024-05-01T12:00:00", "suite": "evals", "total": 1, "origin": "cli"},
            [{"run_id": "abc123", "case_id": "c1", "epoch": 0, "passed": 0, "output": "We refund within 14 days."}],
        )


def _copy_lines(counts: dict[str, tuple[int, int]], source: str, dest: str) -> str:
    lines = [f"{kind}: {copied} copied, {already} already there" for kind, (copied, already) in counts.items()]
    return "\n".join([*lines, f"copied {source} into {dest}"]) + "\n"


def _seen(at: str) -> dict[str, Any]:
    """What `store_snapshot` shows of the store at `at`, but where it is."""
    seen = store_snapshot(at)  # type: ignore[arg-type]  # a store URL works as well as a path
    seen["counts"].location = ""
    return seen


@pytest.mark.parametrize("store_at", STORES)
def test_copy_copies_a_store_whole_and_a_second_copy_adds_nothing(
    tmp_path: Path, db: Path, make_trace: TraceMaker, cases: Cases, store_at: StoreAt
) -> None:
    _fill(db, make_trace)
    (tmp_path / "there").mkdir()
    (tmp_path / "back").mkdir()
    there, back = store_at(tmp_path / "there"), str(tmp_path / "back" / "back.db")
    first = cases("db", "copy", str(db), there)
    assert first.code == 0, first.err
    with open_store(there) as store:
        shown = store.location
    counts = {"traces": 3, "spans": 5, "incidents": 1, "runs": 1, "labels": 1, "calibrations": 0}
    assert first.out == _copy_lines({k: (n, 0) for k, n in counts.items()}, str(db), shown)
    again = cases("db", "copy", str(db), there)
    assert again.out == _copy_lines({k: (0, n) for k, n in counts.items()}, str(db), shown)
    home = cases("db", "copy", there, back)
    assert home.code == 0, home.err
    assert _seen(back) == _seen(str(db)) == _seen(there)


def test_copy_refuses_a_source_that_is_no_store_and_a_copy_onto_itself(tmp_path: Path, db: Path, cases: Cases) -> None:
    missing = cases("db", "copy", str(tmp_path / "nothing.db"), str(tmp_path / "dest.db"))
    assert_one_line_error(missing, 2, f"no casebank store at '{tmp_path / 'nothing.db'}'")
    assert not (tmp_path / "dest.db").exists()
    open_store(db).close()
    itself = cases("db", "copy", str(db), f"sqlite:///{db}")
    assert_one_line_error(itself, 2, f"SOURCE and DEST are both '{db}' - name the store to copy into")
