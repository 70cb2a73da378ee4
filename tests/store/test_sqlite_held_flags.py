"""Held flags against a writer in another process: SQLite's one write transaction at a time
(BEGIN IMMEDIATE) must make each flag land exactly once, whichever process gets there first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from casebank.store import incident_id_for, open_store
from casebank.store._sqlite import SQLiteStore
from tests.cli.conftest import PROJECT_ROOT
from tests.store.test_contract import _hex, span_row, trace_row

TRACES = 150

# Both processes wait for the `go` file, so that their writes overlap rather than run one after
# the other while the second interpreter starts.
_PRELUDE = """
import os, sys, time
from pathlib import Path
from casebank.store import open_store
from tests.store.test_contract import _hex, span_row, trace_row
db, go, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
ids = [_hex(f"race{i}", 32) for i in range(n)]
store = open_store(db)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    pass
"""
_WRITER = (
    _PRELUDE
    + """
for i, trace_id in enumerate(ids):
    root = _hex(trace_id + "root", 16)
    store.write_spans([span_row(trace_id, root, None, "answer", i)], [trace_row(trace_id, i, 1)])
"""
)
_FLAGGER = (
    _PRELUDE
    + """
held = sum(store.flag_or_hold(trace_id, "wrong window", flagged_by="support") is None for trace_id in ids)
print(held)
"""
)


def _start(script: str, db: Path, go: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-c", script, str(db), str(go), str(TRACES)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_flags_racing_their_traces_from_another_process_land_once_each(tmp_path: Path) -> None:
    db, go = tmp_path / "race.db", tmp_path / "go"
    open_store(db).close()
    writer, flagger = _start(_WRITER, db, go), _start(_FLAGGER, db, go)
    go.touch()
    out, err = flagger.communicate(timeout=120)
    assert flagger.returncode == 0, err
    _, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    held = int(out)
    with open_store(db) as store:
        assert store.pending_flags() == []
        incidents = {i.trace_id: i for i in store.list_incidents()}
        ids = [_hex(f"race{i}", 32) for i in range(TRACES)]
        assert sorted(incidents) == sorted(ids)
        for trace_id in ids:
            incident = incidents[trace_id]
            assert incident.id == incident_id_for(trace_id)
            assert [(r["reason"], r["flagged_by"]) for r in incident.reasons] == [("wrong window", "support")]
            assert [s["name"] for s in incident.spans] == ["answer"]
    # How many were held depends on timing; that the count is a count of these traces does not.
    assert 0 <= held <= TRACES


def test_a_batch_pays_one_query_for_held_flags_when_none_are_held_and_none_without_a_root(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "cost.db") as store:
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        trace_id = _hex("cost", 32)
        store.write_spans(
            [span_row(trace_id, _hex("c1", 16), _hex("r", 16), "chat", 2)], [trace_row(trace_id, 2, 1, root=False)]
        )
        without_root = [s for s in seen if "held_flags" in s]
        seen.clear()
        store.write_spans([span_row(trace_id, _hex("r", 16), None, "answer", 1)], [trace_row(trace_id, 1, 1)])
        with_root = [s for s in seen if "held_flags" in s]
        store.conn.set_trace_callback(None)
    assert without_root == []
    assert with_root == ["SELECT EXISTS (SELECT 1 FROM held_flags)"]
