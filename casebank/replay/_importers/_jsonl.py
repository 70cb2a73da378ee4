"""JSONL: one case a line, `{"input": ..., "expected": ..., "grader": ..., "tags": [...]}`.

`input` is the arguments by name (an object) or a text for the entry point's first parameter;
`input` and `expected` are required (null is allowed), `grader` is a name or
`{"name": ..., "options": {...}}`, `tags` a list of texts. Any other key is refused, so that a
typo is not silently dropped; a row with `ideal` is most likely an OpenAI-evals sample, and the
message says so.
"""

from __future__ import annotations

from typing import Any

from casebank.replay._importers._base import ImportFormat, Read, Row, RowError, read_json_lines

__all__ = ["FORMAT"]

_KEYS = ("input", "expected", "grader", "tags")


def read(text: str, file: str) -> Read:
    return read_json_lines(text, _row)


def _row(line: int, value: Any) -> Row:
    if not isinstance(value, dict):
        raise RowError(f"a row must be a JSON object with 'input' and 'expected', not {type(value).__name__}")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        hint = " (an OpenAI-evals sample? pass --format openai-evals)" if "ideal" in value else ""
        raise RowError(f"unknown key '{unknown[0]}' - a row takes only: {', '.join(_KEYS)}{hint}")
    for key in ("input", "expected"):
        if key not in value:
            raise RowError(f"'{key}' is missing - every row needs 'input' and 'expected' (null is allowed)")
    if not isinstance(value["input"], (dict, str)):
        raise RowError(f"'input' is {type(value['input']).__name__} - give the arguments by name (an object) or a text")
    return Row(
        line=line,
        input=value["input"],
        expected=value["expected"],
        grader=_grader(value.get("grader")),
        tags=_tags(value.get("tags")),
    )


def _grader(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"name": value, "options": {}}
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return {"name": value["name"], "options": value.get("options") or {}}
    raise RowError('\'grader\' must be a name or {"name": ..., "options": {...}}')


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise RowError("'tags' must be a list of non-empty texts")
    return [t.strip() for t in value]


FORMAT = ImportFormat(name="jsonl", read=read, patterns=("*.jsonl",), shown_as=".jsonl")
