"""Multi-row statements: every row arrives once, NULLs stay NULL, padding never lands."""

from __future__ import annotations

import sqlite3

import pytest

from casebank.store._sqlite import _bulk
from casebank.store._sqlite._bulk import nullable, statements

TEMPLATE = (
    f"INSERT INTO t (a, b, c) SELECT column1, {nullable('column2')}, {nullable('column3')} "
    "FROM (VALUES {rows}) WHERE typeof(column1) = 'text'"
)


@pytest.mark.parametrize("count", [1, 7, 8, 9, 64, 65, 511, 512, 513, 1500])
@pytest.mark.parametrize("limit", [32_766, 999])  # SQLite >= 3.32, and older ones that Python 3.10 may link
def test_rows_arrive_once_with_their_nulls(count: int, limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_bulk, "_MAX_PARAMETERS", limit)
    rows = [(f"r{i}", None if i % 3 else i, "" if i % 5 == 0 else 0.5) for i in range(count)]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT, b INTEGER, c)")
    for sql, parameters in statements(TEMPLATE, rows):
        assert len(parameters) <= limit
        conn.execute(sql, parameters)
    assert conn.execute("SELECT a, b, c FROM t ORDER BY rowid").fetchall() == rows
