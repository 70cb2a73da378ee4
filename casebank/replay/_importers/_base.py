"""What every import format shares: the reader interface, the row it reads, and the problems it finds.

A format is an `ImportFormat`: a name, a `read` function from the file's text to `Read` (the rows
it could read and the problems of those it could not), and the file names `guess_format`
recognises it by. A reader only reads: it turns its file's rows into `Row`s, without knowing the
entry point, and `_build` then checks each row against the entry point, builds its grader and
writes the cases, the same way for every format.

A row's input takes one of four shapes, so that the builder can map any format's input onto the
entry point's parameters the same way: a dict (arguments by name), a text (the first parameter),
`Messages` (a chat: a `messages` parameter, or a lone user message as the first parameter) or
`Columns` (CSV cells named after parameters, and an `input` cell for the first one).

A reader reports a row it cannot read as a `Problem` (by raising `RowError` inside its per-row
function) and goes on with the next, so that one import lists every bad row at once; a problem
with the whole file (not valid YAML, no header) is an `InvalidInput` raised at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from casebank.errors import InvalidInput

__all__ = [
    "Columns",
    "ImportFormat",
    "ImportRejected",
    "ImportResult",
    "Messages",
    "Problem",
    "Read",
    "Row",
    "RowError",
    "read_json_lines",
]


@dataclass(kw_only=True, frozen=True)
class Problem:
    line: int
    reason: str


class ImportRejected(InvalidInput):
    """Some rows cannot be imported; nothing was written. `problems` lists them by line."""

    def __init__(self, message: str, *, file: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.file = file
        self.problems = problems


@dataclass(kw_only=True)
class ImportResult:
    file: str
    format: str
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.written) + len(self.existing)


@dataclass(kw_only=True)
class Row:
    """One row as read, before it meets the entry point: input is a dict, a text, Messages or Columns."""

    line: int
    input: Any
    expected: Any
    grader: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # more of the case's source: a test's description
    grader_is_format_default: bool = False  # the format's choice (one_of for a list), which --grader overrides


class RowError(Exception):
    """A reason this row cannot be imported (collected as a Problem, never raised out of the import)."""


class Messages(list[Any]):
    """A chat-message list read from a row (told apart from a list argument)."""


@dataclass(kw_only=True)
class Columns:
    """A CSV row's cells: `text` goes to the first parameter, `columns` to the parameters they name."""

    text: str
    columns: dict[str, str]
    has_input: bool  # the file has an `input` column (an empty cell then gives no first argument)


@dataclass(kw_only=True)
class Read:
    """What a reader made of a file: its rows, the problems of the rows it could not read, and its extra columns."""

    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Columns that are neither input, expected, grader nor tags: those that name no parameter of
    # the entry point are ignored, and the import says so.
    columns: list[str] = field(default_factory=list)


@dataclass(kw_only=True, frozen=True)
class ImportFormat:
    """One import format: its name, its reader, and the file names it is guessed from."""

    name: str
    read: Callable[[str, str], Read]  # (the file's text, the file as the cases name it) -> Read
    patterns: tuple[str, ...] = ()  # lower-case file-name patterns (fnmatch) that `guess_format` recognises
    shown_as: str = ""  # how the hint of `guess_format` names them: ".jsonl"


def read_json_lines(text: str, make_row: Callable[[int, Any], Row]) -> Read:
    """A Read of a file of one JSON value a line; `make_row(line, value)` raises RowError for a bad one."""
    read = Read()
    for line, value in _json_lines(text):
        try:
            if isinstance(value, RowError):
                raise value
            read.rows.append(make_row(line, value))
        except RowError as exc:
            read.problems.append(Problem(line=line, reason=str(exc)))
    return read


def _json_lines(text: str) -> Iterator[tuple[int, Any]]:
    # split("\n"), not splitlines(): JSON text may hold a raw U+2028, which splitlines() breaks on.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield number, RowError(f"not valid JSON ({exc})")
