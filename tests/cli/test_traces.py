"""`cases status`, `cases traces` and `cases flag`, through the real command in a subprocess."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from casebank.store import open_store
from tests.cli.conftest import Cases, InProcess, TraceMaker, assert_one_line_error, store_snapshot

# -- status ----------------------------------------------------------------------------------------


def test_status_counts_traces_incidents_cases_and_dropped_spans(
    cases: Cases, db: Path, make_trace: TraceMaker, tmp_path: Path
) -> None:
    first = make_trace()
    make_trace()
    with open_store(db) as store:
        store.flag(first, "wrong")
        store.write_spans([], [], dropped=3)
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "a.json").write_text("{}")
    result = cases("status")
    assert result.code == 0, result.err
    lines = dict(line.split(None, 1) for line in result.out.splitlines())
    assert lines["store"] == str(db)
    assert lines["traces"] == "2 (4 spans)"
    assert lines["incidents"] == "1 flagged, 0 annotated, 0 promoted, 0 dismissed"
    assert lines["cases"] == "1 in evals"
    assert lines["dropped"].startswith("3 spans")


def test_status_json_and_another_suite_folder(cases: Cases, make_trace: TraceMaker, tmp_path: Path) -> None:
    make_trace()
    (tmp_path / "suite").mkdir()
    for n in range(2):
        (tmp_path / "suite" / f"{n}.json").write_text("{}")
    result = cases("status", "--suite", "suite", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["traces"] == 1 and data["cases"] == 2 and data["dropped_spans"] == 0
    assert data["incidents"] == {"flagged": 0, "annotated": 0, "promoted": 0, "dismissed": 0}


def test_status_without_a_store_says_so_and_creates_nothing(cases: Cases, db: Path) -> None:
    result = cases("status")
    assert_one_line_error(result, 2, str(db), "casebank.init()")
    assert not db.exists()


def test_db_takes_a_sqlite_url_and_names_the_backends_still_to_come(
    cases: Cases, db: Path, make_trace: TraceMaker
) -> None:
    make_trace()
    result = cases("status", "--db", f"sqlite:///{db}", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["traces"] == 1
    postgres = cases("status", "--db", "postgresql://app:s3cret@127.0.0.1:1/prod")  # nothing listens on port 1
    assert_one_line_error(postgres, 2, "cannot connect to store 'postgresql://app:***@127.0.0.1:1/prod'")
    assert "s3cret" not in postgres.err
    server = cases("list", env={"CASEBANK_DB": "https://cases.internal:4318"})
    assert_one_line_error(server, 2, "https://cases.internal:4318", "needs a casebank server")


# -- traces ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [pytest.param("80", id="narrow-terminal"), pytest.param("200", id="wide-terminal")])
def test_traces_lists_newest_first_with_the_full_trace_id(cases: Cases, make_trace: TraceMaker, columns: str) -> None:
    old = make_trace(input={"question": "old question"}, output="old answer")
    new = make_trace(input={"question": "[bold]new[/bold] question"}, status="error", error="ValueError: boom")
    result = cases("traces", env={"COLUMNS": columns})
    assert result.code == 0, result.err
    out = result.out
    assert new in out and old in out  # whole 32-hex ids: support tooling copies them
    assert out.index(new) < out.index(old)
    assert "support_bot:answer" in out
    assert "2024-05-01 12:00:02" in out and "error" in out
    assert "[bold]new[/bold] question" in out  # the product's text is not read as markup
    assert "ValueError: boom" in out and "old answer" in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= int(columns)


def test_traces_limit_and_json(cases: Cases, make_trace: TraceMaker) -> None:
    ids = [make_trace(input={"question": f"q{n}"}, output={"text": f"a{n}"}) for n in range(3)]
    result = cases("traces", "--limit", "2", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [r["trace_id"] for r in rows] == [ids[2], ids[1]]
    assert rows[0]["input"] == {"question": "q2"} and rows[0]["output"] == {"text": "a2"}
    assert rows[0]["entrypoint"] == "support_bot:answer" and rows[0]["span_count"] == 2


def test_traces_on_an_empty_store_says_how_to_get_some(cases: Cases, db: Path) -> None:
    open_store(db).close()
    result = cases("traces")
    assert result.code == 0
    assert "@casebank.trace" in result.out


def test_traces_refuses_a_limit_below_one(cases: Cases, make_trace: TraceMaker) -> None:
    make_trace()
    result = cases("traces", "--limit", "0")
    assert result.code == 2
    assert "Traceback" not in result.err


# -- flag ------------------------------------------------------------------------------------------


def test_flag_prints_only_the_incident_id_and_a_second_flag_keeps_both_reasons(
    cases: Cases, db: Path, make_trace: TraceMaker
) -> None:
    trace_id = make_trace()
    first = cases("flag", trace_id, "--reason", "wrong refund window", "--by", "ana")
    assert first.code == 0, first.err
    assert re.fullmatch(r"[0-9a-f]{12}\n", first.out), first.out
    second = cases("flag", trace_id.upper(), "--reason", "rude")
    assert second.out == first.out
    with open_store(db) as store:
        incident = store.get_incident(first.out.strip())
    assert incident.trace_id == trace_id
    assert [(r["reason"], r["flagged_by"]) for r in incident.reasons] == [
        ("wrong refund window", "ana"),
        ("rude", None),
    ]
    assert [s["name"] for s in incident.spans] == ["answer", "chat gpt-4o-mini"]


def test_flag_takes_a_unique_prefix_of_the_trace_id_as_show_and_label_do(
    cases: Cases, db: Path, make_trace: TraceMaker
) -> None:
    trace_id = make_trace()
    make_trace()

    result = cases("flag", trace_id[:8].upper(), "--reason", "wrong refund window")

    assert result.code == 0, result.err
    with open_store(db) as store:
        assert store.get_incident(result.out.strip()).trace_id == trace_id


def test_flag_of_an_ambiguous_or_unknown_prefix_is_a_one_line_usage_error(
    cases: Cases, db: Path, make_trace: TraceMaker
) -> None:
    ids = [make_trace() for _ in range(17)]  # 17 ids, 16 hex digits: two share their first
    shared = next(i[0] for i in ids if sum(j[0] == i[0] for j in ids) > 1)
    unused = next(c for c in "0123456789abcdef" if not any(i.startswith(c + "0") for i in ids)) + "0"
    before = store_snapshot(db)

    ambiguous = cases("flag", shared, "--reason", "wrong")
    unknown = cases("flag", unused, "--reason", "wrong")
    malformed = cases("flag", "eed6801z", "--reason", "wrong")

    assert_one_line_error(ambiguous, 2, f"trace id '{shared}' is ambiguous", "type more characters")
    assert_one_line_error(unknown, 2, f"no trace matches '{unused}'", "cases traces")
    assert_one_line_error(malformed, 2, "'eed6801z' is not a trace id")
    assert store_snapshot(db) == before


def test_flag_of_an_unknown_trace_is_a_one_line_usage_error(cases: Cases, db: Path, make_trace: TraceMaker) -> None:
    make_trace()
    before = store_snapshot(db)
    result = cases("flag", "0" * 32, "--reason", "wrong")
    assert_one_line_error(result, 2, "0" * 32, "casebank.init()")
    assert result.out == ""
    assert store_snapshot(db) == before


def test_flag_needs_a_reason(cases: Cases, db: Path, make_trace: TraceMaker) -> None:
    trace_id = make_trace()
    before = store_snapshot(db)
    assert_one_line_error(cases("flag", trace_id, "--reason", "  "), 2, "--reason")
    missing = cases("flag", trace_id)
    assert missing.code == 2 and "--reason" in missing.err
    assert store_snapshot(db) == before


def test_flag_without_a_store_does_not_create_one(cases: Cases, db: Path) -> None:
    assert_one_line_error(cases("flag", "a" * 32, "--reason", "x"), 2, "no casebank store")
    assert not db.exists()


# -- not a casebank store --------------------------------------------------------------------------


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('ana')")
    conn.close()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_foreign_sqlite, id="sqlite-with-other-tables"),
        pytest.param(lambda p: p.write_text("not a database\n" * 100), id="text-file"),
    ],
)
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["traces"], id="traces"),
        pytest.param(["flag", "a" * 32, "--reason", "x"], id="flag"),
    ],
)
def test_a_file_that_is_not_a_casebank_store_is_refused_and_left_alone(
    cases: Cases, tmp_path: Path, make: object, args: list[str]
) -> None:
    path = tmp_path / "other.db"
    make(path)  # type: ignore[operator]
    before = path.read_bytes()
    result = cases(*args, "--db", str(path))
    assert_one_line_error(result, 2, str(path), "not a casebank store")
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()


def test_status_traces_and_flag_in_process(cases_in_process: InProcess, db: Path, make_trace: TraceMaker) -> None:
    ok = make_trace(input={"question": "refund?"}, output={"text": "14 days"})
    failed = make_trace(status="error", error="ValueError: boom")
    for columns in (80, 200):
        listed = cases_in_process("traces", columns=columns)
        assert listed.code == 0 and ok in listed.out and failed in listed.out
        assert '{"text":"14 days"}' in listed.out and "ValueError: boom" in listed.out
    assert json.loads(cases_in_process("traces", "--json").out)[0]["trace_id"] == failed
    flagged = cases_in_process("flag", ok, "--reason", "wrong")
    assert flagged.code == 0 and re.fullmatch(r"[0-9a-f]{12}\n", flagged.out)
    status = cases_in_process("status")
    assert "1 flagged" in status.out and "2 (4 spans)" in status.out
    assert json.loads(cases_in_process("status", "--json").out)["incidents"]["flagged"] == 1
