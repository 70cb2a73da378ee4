"""sql_rows: read-only queries against a fixture database, compared as multisets or in order."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import Grader, make_grader

EXPECTED = "SELECT name, total FROM orders WHERE total > 100"
ORDERED = "SELECT name FROM orders ORDER BY total DESC"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    folder = tmp_path / "evals"
    (folder / "fixtures").mkdir(parents=True)
    conn = sqlite3.connect(folder / "fixtures" / "shop.db")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, total REAL)")
    conn.executemany(
        "INSERT INTO orders (name, total) VALUES (?, ?)",
        [("Ann", 120.5), ("Bo", 80.0), ("Zoë", 300.0), ("Ann", 120.5)],
    )
    conn.commit()
    conn.close()
    return folder


def sql_grader(suite: Path, **options: Any) -> Grader:
    return make_grader({"name": "sql_rows", "options": {"database": "fixtures/shop.db", **options}}, base_dir=suite)


@pytest.mark.parametrize(
    ("output", "expected", "passed", "reason"),
    [
        pytest.param(EXPECTED, EXPECTED, True, "the 3 rows match (as a multiset)", id="same-query"),
        pytest.param(
            "SELECT name, total FROM orders WHERE total >= 120 ORDER BY name DESC",
            EXPECTED,
            True,
            "the 3 rows match (as a multiset)",
            id="other-query-same-rows-any-order",
        ),
        pytest.param(
            "SELECT DISTINCT name, total FROM orders WHERE total > 100",
            EXPECTED,
            False,
            "rows differ: expected 3 rows, got 2; missing ('Ann', 120.5)",
            id="duplicates-count",
        ),
        pytest.param(
            "SELECT name, total FROM orders",
            EXPECTED,
            False,
            "rows differ: expected 3 rows, got 4; unexpected ('Bo', 80.0)",
            id="extra-row",
        ),
        pytest.param(
            "SELECT name FROM orders ORDER BY total ASC",
            ORDERED,
            False,
            "the 4 rows are right but in the wrong order",
            id="order-matters-with-order-by",
        ),
        pytest.param(
            "SELECT name FROM orders ORDER BY total DESC, id",
            ORDERED,
            True,
            "the 4 rows match (in order)",
            id="ordered",
        ),
        pytest.param("```sql\n" + EXPECTED + ";\n```", EXPECTED, True, "the 3 rows match", id="fenced"),
        pytest.param(
            "SELECT name, total FROM orders WHERE name = 'Zoë'",
            "SELECT 'Zoë', 300.0",
            True,
            "the row matches",
            id="unicode",
        ),
        pytest.param("", EXPECTED, False, "output is empty, not a SQL query", id="empty-output"),
        pytest.param("SELECT 1 -- " + "x" * 1_100_000, "SELECT 1", True, "the row matches", id="huge-output"),
        pytest.param(
            "DELETE FROM orders",
            EXPECTED,
            False,
            "the output query is a DELETE statement - only a single read statement",
            id="delete",
        ),
        pytest.param(
            "SELECT 1; DROP TABLE orders", EXPECTED, False, "the output query holds 2 statements", id="two-statements"
        ),
        pytest.param(
            "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
            EXPECTED,
            False,
            "the output query contains a DELETE",
            id="delete-in-cte",
        ),
        pytest.param(
            "PRAGMA table_info(orders)", EXPECTED, False, "the output query is a PRAGMA statement", id="pragma"
        ),
        pytest.param(
            "ATTACH DATABASE 'x.db' AS x", EXPECTED, False, "the output query is an ATTACH statement", id="attach"
        ),
        pytest.param(
            "SELECT * FROM nowhere", EXPECTED, False, "the output query failed: no such table: nowhere", id="error"
        ),
        pytest.param("SELEC name FROM", EXPECTED, False, "the output query", id="not-sql"),
        pytest.param(
            "SELECT 1", "SELECT * FROM missing", False, "the expected query failed: no such table", id="expected-broken"
        ),
        pytest.param(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
            EXPECTED,
            False,
            "the output query did not finish within 0.2 s - stopped",
            id="runaway-query",
        ),
    ],
)
def test_sql_rows(suite: Path, output: str, expected: str, passed: bool, reason: str) -> None:
    verdict = sql_grader(suite, timeout=0.2).grade(output, expected)
    assert verdict.passed is passed, verdict.reason
    assert verdict.reason.startswith(reason), verdict.reason


def test_the_fixture_database_is_never_changed(suite: Path) -> None:
    grader = sql_grader(suite)
    for attack in (
        "DELETE FROM orders",
        "UPDATE orders SET total = 0",
        "ATTACH DATABASE 'x.db' AS x",
        "CREATE TABLE t (x)",
        "SELECT 1; DELETE FROM orders",
    ):
        assert not grader.grade(attack, EXPECTED).passed
    assert sqlite3.connect(suite / "fixtures" / "shop.db").execute("SELECT count(*) FROM orders").fetchone() == (4,)
    assert not (suite / "x.db").exists()


def test_max_rows_stops_a_huge_result(suite: Path) -> None:
    verdict = sql_grader(suite, max_rows=2).grade("SELECT * FROM orders", "SELECT 1")
    assert verdict.reason == "the output query returned more than 2 rows (option max_rows)"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({}, "grader 'sql_rows' option database=", id="no-database"),
        pytest.param({"database": "fixtures/nope.db"}, "option database='fixtures/nope.db' - no file at", id="missing"),
        pytest.param({"database": "fixtures/notes.txt"}, "option database='fixtures/notes.txt'", id="not-sqlite"),
        pytest.param({"database": "fixtures/shop.db", "timeout": 0}, "option timeout='0'", id="timeout"),
        pytest.param({"database": "fixtures/shop.db", "max_rows": 0}, "option max_rows='0'", id="max-rows"),
    ],
)
def test_sql_rows_refuses_bad_options(suite: Path, options: dict[str, Any], message: str) -> None:
    (suite / "fixtures" / "notes.txt").write_text("not a database " * 100)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        make_grader({"name": "sql_rows", "options": options}, base_dir=suite)
