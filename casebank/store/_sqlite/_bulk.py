"""Many rows in few statements: the capture writer's way into SQLite.

`executemany` goes back into Python for every row, and the sqlite3 module gives the GIL up and
takes it back around each one. While the app's threads hold the GIL, every take-back can wait
out a whole switch interval (5 ms): the writer crawled whenever anything else ran. One
multi-row `VALUES` statement binds all its parameters in one call and then runs without the
GIL for as long as SQLite takes.

Preparing a statement of a thousand rows costs more than running it, so statements come in a
few fixed sizes, each prepared once and then found in the connection's statement cache; a chunk
is padded up to its size with rows of zeros, which every template must drop (a JOIN on the
first column, or `WHERE typeof(column1) = 'text'`).

Python values are bound as they are, except None: the sqlite3 module of Python 3.10/3.11 looks
for an adapter for every None it binds and builds (and discards) an AttributeError doing so,
which was half of the writer's instructions. None goes in as the text `NULL_TEXT` instead, and
templates select `NULLIF(columnN, ?)`-style through `nullable()`.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = ["NULL_TEXT", "Statement", "nullable", "statements"]

# SQLite's bound-parameter limit: 32766 since 3.32, 999 before (Python 3.10 may link either).
_MAX_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
# Rows a statement. Binding holds the GIL (in C, deaf to the interpreter's switch requests), so a
# statement stays near 512 rows (~0.3 ms of binding) even where the parameter limit allows more.
_SIZES = (8, 64, 512)
NULL_TEXT = "\x00"  # stands for NULL in bound parameters; no text the writer stores is a lone NUL


def nullable(column: str) -> str:
    """SQL for `column` of a VALUES list with `NULL_TEXT` turned back into NULL."""
    return f"NULLIF({column}, char(0))"


# One statement ready to run: its SQL (found in the connection's statement cache) and parameters.
Statement = tuple[str, list[Any]]


def statements(template: str, rows: Sequence[Sequence[Any]]) -> list[Statement]:
    """The statements that run `template` (SQL with `{rows}` where its VALUES rows go) over `rows`.

    Pure Python work, done before the transaction opens, so that the transaction holds the GIL
    only to bind the statements."""
    if not rows:
        return []
    width = len(rows[0])
    largest = min(_SIZES[-1], _MAX_PARAMETERS // width)
    prepared = []
    for start in range(0, len(rows), largest):
        chunk = rows[start : start + largest]
        size = min(next((s for s in _SIZES if s >= len(chunk)), largest), largest)
        parameters = [NULL_TEXT if p is None else p for p in itertools.chain.from_iterable(chunk)]
        parameters.extend(itertools.repeat(0, (size - len(chunk)) * width))
        prepared.append((_statement(template, width, size), parameters))
    return prepared


@functools.lru_cache(maxsize=32)
def _statement(template: str, width: int, size: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return template.replace("{rows}", ", ".join([row] * size))
