"""sql_rows: the output SQL returns the rows the expected SQL returns, on a fixture database.

Option `database` names a SQLite file relative to the suite folder. Both queries run read-only
three times over: `sqlglot` must parse each as exactly one read statement (a SELECT or a set
operation, with no data-changing statement anywhere inside, such as a CTE that deletes); the
file is opened with `mode=ro`; and an authorizer allows only reads and functions, so a
statement that slipped past the parser still cannot write, attach or change a pragma. A
progress handler interrupts a query that runs longer than option `timeout` seconds (a cross
join of large tables, a recursive CTE without an end).

Rows are compared as multisets (order ignored, duplicates counted) unless the expected query
orders its result with ORDER BY, in which case order counts too. Column names are not compared:
`SELECT total AS t` and `SELECT total` return the same rows. The expected query's rows are
computed once per grader, not once per case.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

from casebank._words import a, count
from casebank.replay.graders._base import Grader, Verdict, fenced_source, shorten
from casebank.replay.graders._options import REQUIRED, File, Integer, Number

__all__ = ["SqlRows", "check_read_only"]

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


class _QueryError(Exception):
    pass


def _sql_of(output: Any) -> str | None:
    return fenced_source(output, "sql|sqlite")


def check_read_only(sql: str) -> bool:
    """Whether a single read statement orders its rows; raises _QueryError with the reason if it is not one."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        trees = [tree for tree in sqlglot.parse(sql, read="sqlite") if tree is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _QueryError(f"is not SQL that parses: {shorten(first, 100)}") from None
    if len(trees) != 1:
        raise _QueryError(f"holds {count(len(trees), 'statement')} - only a single SELECT is allowed")
    tree = trees[0]
    if not isinstance(tree, exp.Query):
        raise _QueryError(f"is {a(tree.key.upper())} statement - only a single read statement (SELECT) is allowed")
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command)
    bad = tree.find(*writes, exp.Pragma, exp.Attach, exp.Detach, exp.Transaction, exp.Commit, exp.Rollback)
    if bad is not None:
        raise _QueryError(f"contains {a(bad.key.upper())} - only reads are allowed")
    return tree.args.get("order") is not None


def _authorizer(action: int, *args: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


class SqlRows(Grader):
    """The output query returns the same rows as the expected query on the fixture database `database`."""

    name = "sql_rows"
    summary = "the output SQL returns the expected query's rows on a fixture database, read-only"
    expected_help = "the SQL query whose rows are right"
    database = File(REQUIRED, help="the SQLite fixture database")
    timeout = Number(5.0, minimum=0.01, help="seconds a query may run")
    max_rows = Integer(100_000, minimum=1, help="the most rows a query may return")

    def prepare(self) -> None:
        self.database_path = self.database.resolve()
        try:
            self._run("SELECT count(*) FROM sqlite_master")
        except _QueryError as exc:
            raise self.invalid("database", self.options["database"], f"'{self.database_path}' {exc}") from None
        self._expected: dict[str, tuple[list[tuple[Any, ...]], bool] | str] = {}
        self._lock = threading.Lock()

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            conn = sqlite3.connect(f"file:{quote(str(self.database_path))}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _QueryError(f"cannot be opened read-only: {exc}") from None
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.set_authorizer(_authorizer)
            deadline = time.monotonic() + self.timeout
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            try:
                rows = conn.execute(sql).fetchmany(self.max_rows + 1)
            except sqlite3.OperationalError as exc:
                if str(exc) == "interrupted":
                    raise _QueryError(f"did not finish within {self.timeout:g} s - stopped") from None
                raise _QueryError(f"failed: {exc}") from None
            except sqlite3.Error as exc:
                raise _QueryError(f"failed: {type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
        if len(rows) > self.max_rows:
            raise _QueryError(f"returned more than {count(self.max_rows, 'row')} (option max_rows)")
        return [tuple(row) for row in rows]

    def _expected_rows(self, sql: str) -> tuple[list[tuple[Any, ...]], bool] | str:
        with self._lock:
            cached = self._expected.get(sql)
        if cached is None:
            try:
                ordered = check_read_only(sql)
                cached = (self._run(sql), ordered)
            except _QueryError as exc:
                cached = f"the expected query {exc} - fix the case"
            with self._lock:
                self._expected[sql] = cached
        return cached

    def grade(self, output: Any, expected: Any) -> Verdict:
        if not isinstance(expected, str) or not expected.strip():
            return _fail("grader 'sql_rows' needs the expected SQL query as the expected output (text)")
        want = self._expected_rows(expected)
        if isinstance(want, str):
            return _fail(want)
        rows, ordered = want
        sql = _sql_of(output)
        if sql is None:
            return _fail(f"output is {a(type(output).__name__)}, not SQL text")
        if not sql.strip():
            return _fail("output is empty, not a SQL query")
        try:
            check_read_only(sql)
            got = self._run(sql)
        except _QueryError as exc:
            return _fail(f"the output query {exc}")
        return _compare(got, rows, ordered)


def _fail(reason: str) -> Verdict:
    return Verdict(passed=False, score=0.0, reason=reason)


def _compare(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], ordered: bool) -> Verdict:
    if got == want:
        how = "in order" if ordered else "as a multiset"
        return Verdict(passed=True, score=1.0, reason=f"{_rows_match(len(want))} ({how})")
    same_rows = Counter(got) == Counter(want)
    if same_rows and ordered:
        return _fail(f"the {len(want)} rows are right but in the wrong order (the expected query has ORDER BY)")
    if same_rows:
        return Verdict(passed=True, score=1.0, reason=f"{_rows_match(len(want))} (as a multiset)")
    missing = list((Counter(want) - Counter(got)).elements())
    extra = list((Counter(got) - Counter(want)).elements())
    parts = [f"expected {count(len(want), 'row')}, got {len(got)}"]
    for word, rows in (("missing", missing), ("unexpected", extra)):
        if rows:
            more = f" (+{len(rows) - 1})" if len(rows) > 1 else ""
            parts.append(f"{word} {shorten(repr(rows[0]), 60)}{more}")
    return _fail("rows differ: " + "; ".join(parts))


def _rows_match(n: int) -> str:
    if n == 0:
        return "both queries return no rows"
    return "the row matches" if n == 1 else f"the {n} rows match"
