"""sql_rows: read-only queries against a fixture database, compared as multisets or in order."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import Grader, Verdict, make_grader
from casebank.replay.graders._sql import _QueryError

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


# -- whole verdicts and each read-only layer on its own -------------------------------------------


def parse_error(sql: str) -> str:
    """The first line of what sqlglot (unpinned) says about `sql`: the reason quotes it."""
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        sqlglot.parse(sql, read="sqlite")
    except ParseError as exc:
        return str(exc).splitlines()[0]
    raise AssertionError(f"{sql!r} parses")


@pytest.mark.parametrize(
    ("output", "expected", "verdict"),
    [
        pytest.param(EXPECTED, EXPECTED, Verdict(passed=True, score=1.0, reason="the 3 rows match (as a multiset)")),
        pytest.param(
            "SELECT name FROM orders ORDER BY total DESC, id",
            ORDERED,
            Verdict(passed=True, score=1.0, reason="the 4 rows match (in order)"),
            id="ordered",
        ),
        pytest.param(
            "SELECT name, total FROM orders WHERE total >= 120 ORDER BY name DESC",
            EXPECTED,
            Verdict(passed=True, score=1.0, reason="the 3 rows match (as a multiset)"),
            id="same-rows-in-another-order",
        ),
        pytest.param(
            "SELECT name FROM orders ORDER BY total ASC",
            ORDERED,
            Verdict(
                passed=False,
                score=0.0,
                reason="the 4 rows are right but in the wrong order (the expected query has ORDER BY)",
            ),
            id="wrong-order",
        ),
        pytest.param(
            "SELECT name, total FROM orders WHERE total < 100",
            EXPECTED,
            Verdict(
                passed=False,
                score=0.0,
                reason="rows differ: expected 3 rows, got 1; missing ('Ann', 120.5) (+2); unexpected ('Bo', 80.0)",
            ),
            id="one-unexpected-three-missing",
        ),
        pytest.param(
            "SELECT name, total FROM orders WHERE total > 200",
            EXPECTED,
            Verdict(passed=False, score=0.0, reason="rows differ: expected 3 rows, got 1; missing ('Ann', 120.5) (+1)"),
            id="two-missing-one-more",
        ),
        pytest.param(
            "SELECT '" + "z" * 80 + "', 1",
            "SELECT 'a', 1",
            Verdict(
                passed=False,
                score=0.0,
                reason="rows differ: expected 1 row, got 1; missing ('a', 1); unexpected ('" + "z" * 55 + "...",
            ),
            id="a-row-shows-60-characters",
        ),
        pytest.param(
            "SELECT `name`, [total] FROM orders WHERE total > 100",
            EXPECTED,
            Verdict(passed=True, score=1.0, reason="the 3 rows match (as a multiset)"),
            id="sqlite-quoting-is-read-as-sqlite",
        ),
        pytest.param(
            "Here:\n```text\nnot this\n```\n```sql\n" + EXPECTED + "\n```",
            EXPECTED,
            Verdict(passed=True, score=1.0, reason="the 3 rows match (as a multiset)"),
            id="the-sql-fence-not-the-first",
        ),
        pytest.param(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT count(*) FROM n",
            "SELECT 20000",
            Verdict(passed=True, score=1.0, reason="the row matches (as a multiset)"),
            id="a-long-query-within-the-time-runs-to-its-end",
        ),
        pytest.param(
            5, EXPECTED, Verdict(passed=False, score=0.0, reason="output is an int, not SQL text"), id="not-text"
        ),
        pytest.param(
            "SELECT 1",
            5,
            Verdict(
                passed=False,
                score=0.0,
                reason="grader 'sql_rows' needs the expected SQL query as the expected output (text)",
            ),
            id="expected-not-text",
        ),
        pytest.param(
            "SELECT 1",
            "  ",
            Verdict(
                passed=False,
                score=0.0,
                reason="grader 'sql_rows' needs the expected SQL query as the expected output (text)",
            ),
            id="expected-blank",
        ),
    ],
)
def test_whole_verdicts(suite: Path, output: Any, expected: Any, verdict: Verdict) -> None:
    assert sql_grader(suite).grade(output, expected) == verdict


@pytest.mark.parametrize(
    "output",
    [
        pytest.param("SELEC name FROM", id="unexpected-token"),
        pytest.param("SELECT name FROM orders WHERE", id="missing-condition"),
    ],
)
def test_sql_that_does_not_parse_fails_with_the_first_line_of_the_parsers_message(suite: Path, output: str) -> None:
    assert sql_grader(suite).grade(output, EXPECTED) == Verdict(
        passed=False, score=0.0, reason=f"the output query is not SQL that parses: {parse_error(output)}"
    )


def test_max_rows_allows_exactly_that_many_rows(suite: Path) -> None:
    grader = sql_grader(suite, max_rows=2)
    assert grader.grade("SELECT id FROM orders LIMIT 2", "SELECT id FROM orders LIMIT 2").passed
    assert grader.grade("SELECT id FROM orders LIMIT 3", "SELECT id FROM orders LIMIT 2") == Verdict(
        passed=False, score=0.0, reason="the output query returned more than 2 rows (option max_rows)"
    )


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("PRAGMA query_only = OFF", id="pragma"),
        pytest.param("ATTACH DATABASE ':memory:' AS x", id="attach"),
    ],
)
def test_the_authorizer_refuses_what_slips_past_the_parser(suite: Path, statement: str) -> None:
    # The third layer on its own: _run is what runs a query once the parser has let it through.
    grader = sql_grader(suite)
    with pytest.raises(_QueryError) as raised:
        grader._run(statement)  # type: ignore[attr-defined]
    assert str(raised.value) == "failed: DatabaseError: not authorized"


def test_the_expected_rows_are_read_once_per_grader(suite: Path) -> None:
    grader = sql_grader(suite)
    assert grader.grade(EXPECTED, EXPECTED).passed
    conn = sqlite3.connect(suite / "fixtures" / "shop.db")
    conn.execute("DELETE FROM orders WHERE name = 'Bo'")  # not among the expected rows: they stay right
    conn.execute("UPDATE orders SET total = 999 WHERE name = 'Zoë'")
    conn.commit()
    conn.close()
    assert grader.grade(EXPECTED, EXPECTED) == Verdict(
        passed=False,
        score=0.0,
        reason="rows differ: expected 3 rows, got 3; missing ('Zoë', 300.0); unexpected ('Zoë', 999.0)",
    )
    assert sql_grader(suite).grade(EXPECTED, EXPECTED).passed  # a new grader reads them again


def test_a_fixture_that_disappears_fails_the_case_saying_so(suite: Path) -> None:
    grader = sql_grader(suite)
    (suite / "fixtures" / "shop.db").unlink()
    assert grader.grade("SELECT 1", "SELECT 1") == Verdict(
        passed=False,
        score=0.0,
        reason="the expected query cannot be opened read-only: unable to open database file - fix the case",
    )


def test_a_file_that_is_no_database_is_refused_whole(suite: Path) -> None:
    (suite / "notes.txt").write_text("not a database " * 100)
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "sql_rows", "options": {"database": "notes.txt"}}, base_dir=suite)
    assert str(raised.value) == (
        f"grader 'sql_rows' option database='notes.txt' - '{suite.resolve() / 'notes.txt'}' failed: DatabaseError: "
        "file is not a database"
    )
