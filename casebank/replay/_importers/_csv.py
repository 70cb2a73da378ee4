"""CSV: a header, then one case a row; every cell is text.

`expected` is required; `input` goes to the entry point's first parameter; a column named after
a parameter is that argument (an empty cell leaves it to the function's default); optional
`grader` (a name) and `tags` (comma-separated) columns. Any other column is ignored and reported,
so that a team's `id` or `notes` columns do not stop an import. Which columns name parameters is
known only once the entry point is read, so this reader passes them on (`Read.columns`) and the
builder decides. A header that cannot be used (no `expected`, a column twice) refuses the file.
"""

from __future__ import annotations

import csv
import io

from casebank._words import count
from casebank.errors import InvalidInput
from casebank.replay._importers._base import Columns, ImportFormat, Problem, Read, Row, RowError

__all__ = ["FORMAT"]

_SPECIAL = ("input", "expected", "grader", "tags")


def read(text: str, file: str) -> Read:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        line = reader.line_num + 1
    except StopIteration:
        return Read()
    except csv.Error as exc:
        raise InvalidInput(f"CSV file '{file}' cannot be read: {exc} - check its quoting") from None
    if "expected" not in header:
        raise InvalidInput(f"CSV file '{file}' has no 'expected' column (its columns: {', '.join(header)}) - add one")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InvalidInput(f"CSV file '{file}' has the column '{dupes[0]}' twice - rename one")
    read = Read(columns=[h for h in header if h not in _SPECIAL])
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            read.problems.append(Problem(line=line, reason=f"cannot be read as CSV: {exc}"))
            break
        if any(c.strip() for c in cells):
            try:
                read.rows.append(_row(line, header, cells))
            except RowError as exc:
                read.problems.append(Problem(line=line, reason=str(exc)))
        line = reader.line_num + 1
    return read


def _row(line: int, header: list[str], cells: list[str]) -> Row:
    if len(cells) != len(header):
        raise RowError(f"has {count(len(cells), 'cell')} but the header has {count(len(header), 'column')}")
    named = dict(zip(header, cells, strict=True))
    arguments = {k: v for k, v in named.items() if k not in _SPECIAL and v != ""}
    grader_name = named.get("grader", "").strip()
    tags = [t.strip() for t in named.get("tags", "").split(",") if t.strip()]
    return Row(
        line=line,
        input=Columns(text=named.get("input", ""), columns=arguments, has_input="input" in named),
        expected=named["expected"],
        grader={"name": grader_name, "options": {}} if grader_name else None,
        tags=tags,
    )


FORMAT = ImportFormat(name="csv", read=read, patterns=("*.csv",), shown_as=".csv")
