"""Cost per case of each grader, built once and called on a realistic output (pass and fail alternating).

Prints microseconds per case. Target (issue 4): <= 100 µs per case for the text and structured
graders. The program graders are shown for scale: python_tests starts a sandboxed interpreter
per case, sql_rows opens the fixture database read-only per case.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from casebank.replay.graders import make_grader

TARGET_US = 100.0
FAST = {"exact", "contains", "not_contains", "regex", "one_of", "json_valid", "json_schema", "json_fields", "numeric"}

ANSWER = "Refunds are possible within 30 days of delivery, provided the item is unused. " * 3
INVOICE = {
    "invoice": {"number": "INV-2024-0042", "total": 120.5, "currency": "EUR"},
    "items": [{"sku": "A-1", "qty": 2, "price": 40.25}, {"sku": "B-7", "qty": 1, "price": 40.0}],
}
INVOICE_TEXT = (
    '{"invoice": {"number": "INV-2024-0042", "total": 120.5, "currency": "EUR"}, "items": '
    '[{"sku": "A-1", "qty": 2, "price": 40.25}, {"sku": "B-7", "qty": 1, "price": 40.0}]}'
)
SCHEMA = {
    "type": "object",
    "required": ["invoice", "items"],
    "properties": {
        "invoice": {
            "type": "object",
            "required": ["total", "currency"],
            "properties": {"total": {"type": "number"}, "currency": {"enum": ["EUR", "USD"]}},
        },
        "items": {"type": "array", "items": {"type": "object", "required": ["sku", "qty"]}},
    },
}


def cases(base: Path) -> list[tuple[dict[str, Any], Any, Any, Any, int]]:
    """(spec, good output, bad output, expected, calls)."""
    n = 20_000
    return [
        ({"name": "exact", "options": {"normalize": "both"}}, ANSWER.upper(), ANSWER[:-3], ANSWER, n),
        ({"name": "contains"}, ANSWER, ANSWER.replace("30", "14"), "within 30 days", n),
        (
            {"name": "not_contains", "options": {"substring": ["14 days", "60 days"]}},
            ANSWER,
            ANSWER.replace("30", "14"),
            ANSWER,
            n,
        ),
        ({"name": "regex", "options": {"pattern": r"\b30 days\b"}}, ANSWER, ANSWER.replace("30", "14"), "", n),
        (
            {"name": "one_of", "options": {"normalize": "case"}},
            "Refund",
            "Exchange",
            ["refund", "return", "store credit"],
            n,
        ),
        ({"name": "json_valid"}, INVOICE_TEXT, INVOICE_TEXT[:-1], None, n),
        (
            {"name": "json_schema", "options": {"schema": SCHEMA}},
            INVOICE_TEXT,
            INVOICE_TEXT.replace("EUR", "GBP"),
            None,
            n // 4,
        ),
        (
            {"name": "json_fields", "options": {"tolerance": 0.01}},
            INVOICE_TEXT,
            INVOICE_TEXT.replace("120.5", "102.5"),
            {"invoice.total": 120.5, "invoice.currency": "EUR", "items[0].sku": "A-1", "items[1].qty": 1},
            n,
        ),
        (
            {"name": "numeric", "options": {"rel": 0.01}},
            "The total comes to 120.50 EUR.",
            "The total is 102.50 EUR.",
            120.5,
            n,
        ),
        ({"name": "python_compiles"}, "def add(a, b):\n    return a + b\n", "def add(a, b) return a", None, 2_000),
        (
            {"name": "sql_rows", "options": {"database": "shop.db"}},
            "SELECT name FROM orders WHERE total > 100",
            "SELECT name FROM orders",
            "SELECT name FROM orders WHERE total >= 100.5",
            500,
        ),
        (
            {"name": "python_tests", "options": {"timeout": 10}},
            "def add(a, b):\n    return a + b\n",
            "def add(a, b):\n    return a - b\n",
            "assert add(2, 3) == 5\n",
            10,
        ),
    ]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        conn = sqlite3.connect(base / "shop.db")
        conn.execute("CREATE TABLE orders (name TEXT, total REAL)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)", [(f"c{i}", i * 1.5) for i in range(200)])
        conn.commit()
        conn.close()
        print(f"{'grader':<16} {'µs/case':>10} {'cases/s':>10}  target")
        slow = []
        for spec, good, bad, expected, calls in cases(base):
            grader = make_grader(spec, base_dir=base)
            assert grader.grade(good, expected).passed, (spec["name"], grader.grade(good, expected))
            assert not grader.grade(bad, expected).passed, spec["name"]
            rounds = []
            for _ in range(3):
                start = time.perf_counter()
                for i in range(calls):
                    grader.grade(good if i % 2 else bad, expected)
                rounds.append((time.perf_counter() - start) / calls * 1e6)
            us = statistics.median(rounds)
            mark = ""
            if spec["name"] in FAST:
                ok = us <= TARGET_US
                mark = f"<= {TARGET_US:g} µs {'ok' if ok else 'MISSED'}"
                if not ok:
                    slow.append(spec["name"])
            print(f"{spec['name']:<16} {us:>10.1f} {1e6 / us:>10.0f}  {mark}")
        if slow:
            print(f"missed the target: {', '.join(slow)}")
        return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
