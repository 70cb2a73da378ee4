"""Every `cases` command against a PostgreSQL store, through the real `cases` subprocess with
`--db postgresql://...`: traces, flag, list, show, annotate, promote, run, runs and status.

`CASEBANK_DB` names a SQLite file meanwhile, so that each command shows it took `--db`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from casebank.store import open_store
from tests.cli.conftest import Cases, TraceMaker
from tests.cli.test_run import BOT


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_url


def test_the_whole_loop_runs_against_a_postgresql_store(tmp_path: Path, url: str, cases: Cases) -> None:
    make_trace = TraceMaker(db=url)  # type: ignore[arg-type]  # open_store takes a URL as well as a path
    trace_id = make_trace(entrypoint="shop_bot:answer", input={"question": "refund"})
    other = make_trace(entrypoint="shop_bot:answer", input={"question": "hello"}, output="Happy to help.")
    db = ("--db", url)

    traces = cases("traces", *db)
    assert traces.code == 0, traces.err
    assert trace_id[:12] in traces.out and other[:12] in traces.out

    flagged = cases("flag", trace_id[:10], "--reason", "wrong refund window", "--by", "ana", *db)
    assert flagged.code == 0, flagged.err
    incident_id = flagged.out.strip()
    assert re.fullmatch(r"[0-9a-f]{12}", incident_id)

    listed = cases("list", "--json", *db)
    assert listed.code == 0, listed.err
    assert [(i["id"], i["status"]) for i in json.loads(listed.out)] == [(incident_id, "flagged")]

    shown = cases("show", incident_id[:6], "--json", *db)
    assert shown.code == 0, shown.err
    incident = json.loads(shown.out)
    assert (incident["trace_id"], incident["output"]) == (trace_id, "We refund within 14 days.")
    assert [r["reason"] for r in incident["reasons"]] == ["wrong refund window"]

    annotated = cases("annotate", incident_id, "--expected", "We refund within 30 days.", *db)
    assert annotated.code == 0, annotated.err
    promoted = cases("promote", incident_id, *db)
    assert promoted.code == 0, promoted.err
    assert [p.name for p in (tmp_path / "evals").rglob("*.json")]

    (tmp_path / "shop_bot.py").write_text(BOT)
    failing = cases("run", *db)
    assert failing.code == 1, failing.err
    assert f"recorded in {url}" in failing.out
    passing = cases("run", "--target", "shop_bot:fixed", *db)
    assert passing.code == 0, passing.err

    runs = cases("runs", "--json", *db)
    assert runs.code == 0, runs.err
    recorded = json.loads(runs.out)
    assert [(r["passed"], r["failed"], r["target"], r["origin"]) for r in recorded] == [
        (1, 0, "shop_bot:fixed", "cli"),
        (0, 1, None, "cli"),
    ]
    with open_store(url) as store:
        [result] = store.run_results(recorded[0]["id"])
        assert (result["passed"], result["output"]) == (1, "We refund within 30 days.")

    status = cases("status", "--json", *db)
    assert status.code == 0, status.err
    counts = json.loads(status.out)
    assert (counts["store"], counts["traces"], counts["runs"]) == (url, 2, 2)
    assert not (tmp_path / "casebank.db").exists()  # CASEBANK_DB's file: never opened


def test_a_postgresql_store_is_shown_without_its_password_and_an_unreachable_one_is_one_line(
    url: str, cases: Cases
) -> None:
    with_password = url.replace("postgres@", "postgres:s3cret@")  # trust authentication ignores it
    TraceMaker(db=with_password)()  # type: ignore[arg-type]
    status = cases("status", "--json", "--db", with_password)
    assert status.code == 0, status.err
    assert json.loads(status.out)["store"] == url.replace("postgres@", "postgres:***@")
    assert "s3cret" not in status.out

    gone = cases("traces", "--db", "postgresql://app:s3cret@127.0.0.1:1/prod")
    assert gone.code == 2 and gone.out == ""
    assert gone.err.startswith("error: cannot connect to store 'postgresql://app:***@127.0.0.1:1/prod': ")
    assert len(gone.err.strip().splitlines()) == 1 and "s3cret" not in gone.err
