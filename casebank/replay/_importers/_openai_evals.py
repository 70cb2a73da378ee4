"""OpenAI evals: JSONL samples of `{"input": text or chat messages, "ideal": answer or answers}`.

A chat goes to an entry point parameter named `messages`; without one, a conversation of a single
user message (system messages aside) goes to the first parameter as its text. `ideal` is the
expected output; a list of two or more accepted answers becomes the `one_of` grader unless
`--grader` says otherwise (a one-answer list is that answer). The format is never guessed from a
file name: its files are `.jsonl` too.
"""

from __future__ import annotations

from typing import Any

from casebank.replay._importers._base import ImportFormat, Messages, Read, Row, RowError, read_json_lines

__all__ = ["FORMAT"]


def read(text: str, file: str) -> Read:
    return read_json_lines(text, _row)


def _row(line: int, value: Any) -> Row:
    if not isinstance(value, dict) or "input" not in value or "ideal" not in value:
        raise RowError("an OpenAI-evals sample needs 'input' (chat messages or text) and 'ideal'")
    sample_input = value["input"]
    if isinstance(sample_input, list):
        if not sample_input or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in sample_input
        ):
            raise RowError("'input' must be a text or a non-empty list of chat messages with 'role' and 'content'")
        sample_input = Messages(sample_input)
    elif not isinstance(sample_input, str):
        raise RowError(f"'input' is {type(sample_input).__name__} - give a text or a list of chat messages")
    ideal = value["ideal"]
    if isinstance(ideal, list) and len(ideal) < 2:
        if not ideal:
            raise RowError("'ideal' is an empty list - give at least one accepted answer")
        ideal = ideal[0]
    if not isinstance(ideal, list):
        return Row(line=line, input=sample_input, expected=ideal)
    one_of = {"name": "one_of", "options": {}}
    return Row(line=line, input=sample_input, expected=ideal, grader=one_of, grader_is_format_default=True)


FORMAT = ImportFormat(name="openai-evals", read=read)
