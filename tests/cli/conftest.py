"""Fixtures for the CLI tests: a real store with traces written as the capture writer writes them,
and a runner for the real `cases` command in a subprocess.

Traces go in through `Store.write_spans`, the writer's own entry point, so these tests do not
depend on the capture SDK; one test in test_incidents.py goes through `casebank.init()` too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

import casebank.store as store_module
from casebank.store import open_store

# The folder that holds the casebank package: put on PYTHONPATH so that `python -m casebank`
# runs this checkout whether or not it is pip-installed into the interpreter running the tests.
PROJECT_ROOT = Path(store_module.__file__).resolve().parents[2]
_BASE_NS = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat(timespec="microseconds")


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


@dataclass(kw_only=True)
class TraceMaker:
    """Writes one trace (a root span and optional children) per call; returns its trace id."""

    db: Path
    made: int = 0
    children_default: list[tuple[str, float, str]] = field(default_factory=list)

    def __call__(
        self,
        *,
        input: dict[str, Any] | None = None,
        output: Any = "We refund within 14 days.",
        entrypoint: str = "support_bot:answer",
        status: str = "ok",
        error: str | None = None,
        children: list[tuple[str, float, str]] | None = None,
        seed: str | None = None,
    ) -> str:
        self.made += 1
        key = seed or f"trace-{self.made}"
        trace_id = _hex(key, 32)
        root_id = _hex(key + "/root", 16)
        start = _BASE_NS + self.made * 1_000_000_000
        args = input if input is not None else {"question": "How long do I have to return shoes?"}
        children = [("chat gpt-4o-mini", 812.5, "ok")] if children is None else children
        spans = []
        for n, (name, ms, child_status) in enumerate(children):
            spans.append(
                (
                    trace_id,
                    _hex(f"{key}/child{n}", 16),
                    root_id,
                    name,
                    "client",
                    _iso(start + 1000 + n),
                    start + 1000 + n,
                    ms,
                    child_status,
                    None,
                    orjson.dumps({"gen_ai.request.model": "gpt-4o-mini"}).decode(),
                    None,
                    "support-bot",
                )
            )
        attributes = {"casebank.entrypoint": entrypoint, "casebank.input": orjson.dumps(args).decode()}
        spans.append(
            (
                trace_id,
                root_id,
                None,
                entrypoint.rpartition(":")[2],
                "internal",
                _iso(start),
                start,
                1000.0,
                status,
                error,
                orjson.dumps(attributes).decode(),
                None,
                "support-bot",
            )
        )
        trace_row = (
            trace_id,
            entrypoint.rpartition(":")[2],
            entrypoint,
            orjson.dumps(args).decode(),
            None if status == "error" else orjson.dumps(output).decode(),
            status,
            error,
            _iso(start),
            start,
            1000.0,
            "support-bot",
            len(spans),
        )
        with open_store(self.db) as store:
            store.write_spans(spans, [trace_row])
        return trace_id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "casebank.db"


@pytest.fixture
def make_trace(db: Path) -> TraceMaker:
    return TraceMaker(db=db)


@pytest.fixture
def flagged(db: Path, make_trace: TraceMaker) -> str:
    """The id of one flagged incident: a refund question answered with the wrong window."""
    trace_id = make_trace(output="We refund within 14 days.")
    with open_store(db) as store:
        return store.flag(trace_id, "wrong refund window: policy says 30 days", flagged_by="ana").id


@pytest.fixture
def annotated(db: Path, flagged: str) -> str:
    with open_store(db) as store:
        store.annotate(
            flagged, expected="We refund within 30 days.", grader={"name": "exact", "options": {}}, tags=["refunds"]
        )
    return flagged


@dataclass(kw_only=True)
class Result:
    code: int
    out: str
    err: str


Cases = Callable[..., Result]


@pytest.fixture
def cases(tmp_path: Path, db: Path) -> Iterator[Cases]:
    """Run the real `cases` command (`python -m casebank`) in tmp_path against the test store."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
        full_env = dict(os.environ)
        full_env.update(
            {
                "CASEBANK_DB": str(db),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
                "COLUMNS": "80",
                "NO_COLOR": "1",
            }
        )
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "casebank", *args],
            cwd=tmp_path,
            env=full_env,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Result(code=proc.returncode, out=proc.stdout, err=proc.stderr)

    yield run


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    """The contract for bad input: the exit code, one `error:` line naming the thing, no traceback."""
    assert result.code == code, (result.out, result.err)
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0]


def store_snapshot(db: Path) -> dict[str, Any]:
    """Everything the store's interface shows, to prove that a refused command changed nothing."""
    with open_store(db, create=False) as store:
        traces = store.recent_traces(limit=1_000_000)
        runs = store.list_runs(limit=None)
        return {
            "counts": store.counts(),
            "traces": [(trace, store.trace_spans(trace.trace_id)) for trace in traces],
            "incidents": [incident.as_dict() for incident in store.list_incidents()],
            "runs": [(run, store.run_results(run["id"])) for run in runs],
            "labels": store.list_labels(),
        }


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, Any]]:
    return store_snapshot


InProcess = Callable[..., Result]


@pytest.fixture
def cases_in_process(db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> InProcess:
    """`cases` called in this process through `casebank.cli.main`: for quick checks of what is printed.

    Exit codes and error lines are checked with the real subprocess (`cases`) instead.
    """
    from casebank.cli import main

    def run(*args: str, columns: int = 80) -> Result:
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setenv("CASEBANK_DB", str(db))
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code=code, out=captured.out, err=captured.err)

    return run
