"""Limits on what capture records, and the markers a value cut at a limit carries.

A product may hand casebank anything: a 50 MB prompt, a structure nested 100 000 levels deep,
bytes, NaN, lone surrogates (which UTF-8, and so JSON, cannot hold), integers past 64 bits
(which orjson refuses). None of it may raise into the app or fail the writer's batch, so each
becomes a marked stand-in at a documented limit:

- a string longer than MAX_VALUE_CHARS keeps its first characters and ends with
  `…[TRUNCATED:<n> chars]`, n being how many were cut; with the marker it is MAX_VALUE_CHARS
  long at most, so cutting it again changes nothing. The cut falls before the last partial
  word, so that no secret is split in half and left unrecognisable to redaction;
- a list or object nested deeper than MAX_DEPTH is replaced by `…[TRUNCATED:depth > 64]`;
- a recorded input or output whose JSON is still over MAX_RECORDED_CHARS after that becomes
  `{"$repr": "<its first MAX_VALUE_CHARS of JSON>…[TRUNCATED:<n> chars]"}` (`$repr`: not replayable);
- a lone surrogate becomes U+FFFD; an integer past 64 bits becomes `{"$repr": "<digits>"}`;
  NaN and infinities are JSON's null (JSON has no such numbers).

The normal path pays nothing: serialising is tried as it always was, and only a value that fails
or comes out over a limit is walked (`limited`) and serialised again, small this time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

__all__ = [
    "MAX_DEPTH",
    "MAX_RECORDED_CHARS",
    "MAX_VALUE_CHARS",
    "attribute_json",
    "clean_text",
    "cut",
    "has_long_text",
    "limit_attributes",
    "limit_text",
    "limited",
    "limited_json",
    "text",
]

# 1 MiB characters: a whole prompt of a 200k-token context window (about 800k characters) stays
# whole, while one span row stays a size that a SQLite page cache, a PostgreSQL row and a case
# file reviewed in a pull request all take.
MAX_VALUE_CHARS = 1024 * 1024
# Real data nests a dozen levels; orjson stops at 255 and Python's repr at about 1000, so a
# deeper value is an accident (or an attack) and is cut well before either.
MAX_DEPTH = 64
# An input or output made of many strings, each under the limit: four of them.
MAX_RECORDED_CHARS = 4 * MAX_VALUE_CHARS

REPR_MARKER = "$repr"
TRUNCATED = "…[TRUNCATED:{n} chars]"
TOO_DEEP = f"…[TRUNCATED:depth > {MAX_DEPTH}]"
# Either marker at the end of a string: what replay looks for to refuse an input capture cut.
CUT_MARKER = re.compile(r"…\[TRUNCATED:(?:\d+ chars|depth > \d+)\]\Z")
# How far back a cut may move to fall between words (secrets hold no white space).
_WORD = 512
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64 = (-(2**63), 2**64 - 1)  # orjson takes i64 and u64


def cut(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """`text` if it is at most `limit` characters; else its start and the TRUNCATED marker."""
    if len(text) <= limit:
        return text
    # The marker fits within `limit`, so that cutting a cut text again leaves it as it is.
    room = max(0, limit - len(TRUNCATED.format(n=len(text))))
    # Searched in place (pos, endpos: `\Z` is at endpos) so that only the kept part is copied, once.
    space = _LAST_SPACE.search(text, max(0, room - _WORD), room)
    end = space.start() + 1 if space is not None else room
    return f"{text[:end]}{TRUNCATED.format(n=len(text) - end)}"


def clean_text(text: str) -> str:
    """`text` with each lone surrogate (not UTF-8, so not JSON) as U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _int(value: int) -> Any:
    if _INT64[0] <= value <= _INT64[1]:
        return value
    try:
        digits = str(value)
    except ValueError:  # past sys.get_int_max_str_digits()
        digits = f"<int of {value.bit_length()} bits>"
    return {REPR_MARKER: cut(digits)}


class _Cycle(Exception):
    """A list or object that holds itself: recorded whole as its repr (`[[...]]`) instead."""


def limited(value: Any, depth: int = 0, *, chars: int = MAX_VALUE_CHARS, _path: frozenset[int] = frozenset()) -> Any:
    """`value` with every string (cut at `chars`), list and object within the limits (new
    containers; the rest as is). _Cycle for a value that holds itself."""
    kind = type(value)
    if kind is str:
        return cut(clean_text(value), chars)
    if kind is int:
        return _int(value)
    if isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        if id(value) in _path:
            raise _Cycle
        path = _path | {id(value)}
        if isinstance(value, dict):
            return {_key(k): limited(v, depth + 1, chars=chars, _path=path) for k, v in value.items()}
        return [limited(v, depth + 1, chars=chars, _path=path) for v in value]
    if isinstance(value, str):  # a str subclass (an enum's value, ...)
        return cut(clean_text(str(value)), chars)
    return value


def _key(key: Any) -> Any:
    return cut(clean_text(key), _WORD) if isinstance(key, str) else key


def has_long_text(value: Any) -> bool:
    """Whether `value`, or a string one or two levels inside it, is over MAX_VALUE_CHARS: the shapes
    an entry point's arguments and result take, checked before serialising a 50 MB prompt at all."""
    if isinstance(value, str):
        return len(value) > MAX_VALUE_CHARS
    for inner in _children(value):
        if isinstance(inner, str):
            if len(inner) > MAX_VALUE_CHARS:
                return True
        elif any(isinstance(v, str) and len(v) > MAX_VALUE_CHARS for v in _children(inner)):
            return True
    return False


def _children(value: Any) -> Any:
    if isinstance(value, dict):
        return value.values()
    if isinstance(value, (list, tuple)):
        return value
    return ()


def limited_json(value: Any, dumps: Callable[[Any], bytes], describe: Callable[[Any], str]) -> str:
    """JSON text of `value` within the limits, never raising: `dumps` of `limited(value)`, or the
    marked repr (`describe`, cut) when that still fails or is too long."""
    try:
        data = dumps(limited(value))
    except Exception:  # _Cycle too: its repr says it best
        data = b""
    if data and len(data) <= MAX_RECORDED_CHARS:
        return data.decode()
    text = data.decode() if data else describe(value)
    return orjson.dumps({REPR_MARKER: cut(clean_text(text))}).decode()


def limit_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """A span's attributes with each long string (or long string in an array) cut, in place: before
    redaction, so that a 50 MB prompt is not scanned whole on the writer thread.

    A lone surrogate becomes U+FFFD too: the store's text columns (a trace's attributes) take
    UTF-8 only. Both checks cost next to nothing for ASCII text, which knows it is ASCII."""
    for key, value in attributes.items():
        if type(value) is str:
            if len(value) > MAX_VALUE_CHARS:
                attributes[key] = limit_text(clean_text(value))
            elif not value.isascii():
                attributes[key] = clean_text(value)
        elif type(value) is tuple and any(
            type(v) is str and (len(v) > MAX_VALUE_CHARS or not v.isascii()) for v in value
        ):
            attributes[key] = tuple(text(v) for v in value)
    return attributes


def text(value: Any) -> Any:
    """A single text field (a span's name, an error) within the limits; anything else as is."""
    return clean_text(cut(value)) if type(value) is str else value


def limit_text(text: str) -> str:
    """A long attribute value within the limits. JSON text (a recorded input, the GenAI messages)
    stays JSON: its strings are cut one by one, and what is still too long becomes a marked repr."""
    if len(text) <= MAX_VALUE_CHARS:
        return text
    if text[:1] in ("{", "[", '"'):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return limited_json(parsed, orjson.dumps, repr)
    return cut(text)


def attribute_json(value: Mapping[str, Any] | list[Any]) -> str:
    """JSON text of a span's attributes (or events); what orjson refuses (lone surrogates, integers
    past 64 bits, nesting past its limit) is made to fit instead of failing the writer's batch."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        pass
    try:
        # Strings were cut before redaction (`limit_attributes`); JSON text may be longer, whole.
        fitted = limited(value, chars=MAX_RECORDED_CHARS)
        return orjson.dumps(fitted, option=orjson.OPT_NON_STR_KEYS, default=_described).decode()
    except (orjson.JSONEncodeError, _Cycle):  # a key orjson cannot take, or a stand-in that is no better
        return orjson.dumps({REPR_MARKER: "<attributes that cannot be JSON>"}).decode()


def _described(value: Any) -> str:
    return cut(clean_text(repr(value)))
