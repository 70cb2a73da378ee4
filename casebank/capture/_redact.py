"""Secrets never reach the store: redaction, run on the writer thread, never the app's.

Two nets, because neither alone is enough: values under a secret-looking key (`api_key`,
`authorization`, `password`, `*_token`, ...) and secret-shaped strings anywhere (provider API
keys, bearer tokens, JWTs), since a key can hide in a prompt or an error message.

Cost matters here: every byte of every span passes through, and the writer is meant to keep up
with tens of thousands of spans a second. One `re` alternation of all the shapes scanned text at
~20 ns/char. Each shape's own pattern starts with a literal, which `re` scans for at ~0.5
ns/char - as fast as `literal in text` - so checking the literal in Python first only added to
the cost (3 µs a shape on 2 KB of chat JSON, against 1 µs for the pattern). A one-character
`in` runs at memchr speed (~0.03 ns/char), so each pattern runs only on text holding a
character its secret must contain. The bearer pattern starts with a character class, which `re`
scans at ~7 ns/char, so it waits for `"earer " in text`. For 2 KB: prose ~1.6 µs; prose with
dashes ~5 µs, code or chat JSON ~7-8 µs (12-15 µs with the Python pre-checks).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson

REDACTED = "[REDACTED]"

_KEY_WORDS = r"(?:api[_-]?key|apikey|authorization|password|passwd|secret|(?:^|[_.-])token|cookie)"
_SECRET_KEY_NAME = re.compile(_KEY_WORDS + r"$", re.IGNORECASE)
# "key": "string value" inside JSON text; redacted when is_secret_key(key), so that one word list
# decides for attribute names, argument names and JSON keys alike (token *counts* are numbers: kept).
_JSON_STRING_FIELD = re.compile(r'"([^"\\]{1,200})"(\s*:\s*)"(?:[^"\\]|\\.)*"')
# Neither net can match shorter text: `{"token":"x"}` is 13 characters, a bearer token 14.
SHORTEST_SECRET = 13
_JSON_OPENERS = ("{", "[")
# Up to this length, results are cached: such values (model names, ids, hosts) mostly repeat.
_SHORT = 64


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether an attribute or argument called `name` holds a secret (e.g. `api_key`, `x-auth-token`)."""
    return _SECRET_KEY_NAME.search(name) is not None


def redact(text: str, *, json_keys: bool = True) -> str:
    """`text` (plain or JSON) with secrets replaced by `[REDACTED]`; `json_keys=False` skips the key net."""
    if len(text) < SHORTEST_SECRET:
        return text
    if len(text) <= _SHORT:  # names, ids, model names: most attribute values, and they repeat
        return _redact_short(text, json_keys)
    return _redact(text, json_keys)


@functools.lru_cache(maxsize=4096)
def _redact_short(text: str, json_keys: bool) -> str:
    return _redact(text, json_keys)


def _redact(text: str, json_keys: bool) -> str:
    if json_keys and text[:1] in _JSON_OPENERS:
        text = _redact_keys(text)
    for anchor, pattern in _SHAPES:
        if anchor in text:
            text = pattern.sub(REDACTED, text)
    if "earer " in text:
        text = _BEARER.sub(_BEARER_REDACTED, text)
    return text


def redact_messages(text: str) -> str:
    """`redact` for the GenAI messages JSON that casebank's instrumentation builds.

    Its keys are casebank's own (role, parts, type, content, ...) except inside a tool call's
    `arguments` or a tool's `response`, so the key net - parsing the JSON, a third of a chat
    span's conversion - runs only when a part of type `tool_call` or `tool_call_response` is
    there. One scan for the type's prefix finds both (and a `tool_call` finish reason too)."""
    return redact(text, json_keys=text[:1] in _JSON_OPENERS and '"tool_call' in text)


def _keep_key(match: re.Match[str]) -> str:
    if not is_secret_key(match.group(1)):
        return match.group(0)
    return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'


def _redact_keys(text: str) -> str:
    """JSON `text` with the string value of every secret key redacted, JSON inside strings included
    (a tool's response is often JSON text). Text that does not parse gets the regex's best guess."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _JSON_STRING_FIELD.sub(_keep_key, text)
    redacted = _redact_value(value)
    return text if redacted is value else orjson.dumps(redacted).decode()


def _redact_value(value: Any) -> Any:
    """`value` (parsed JSON) with secret keys' strings redacted; the same object when nothing
    changed (the usual case). A container's scalars are looked at in its own loop, not in a call
    each: an agent's history holds thousands of them, and those calls were most of the walk."""
    if type(value) is dict:
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                if is_secret_key(key):
                    new = REDACTED
                elif item[:1] in _JSON_OPENERS and len(item) >= SHORTEST_SECRET:
                    new = _redact_json_text(item)
                else:
                    continue
            elif kind is dict or kind is list:
                new = _redact_value(item)
            else:
                continue
            if new is not item:
                changed = changed or {}
                changed[key] = new
        return value if changed is None else {**value, **changed}
    if type(value) is list:
        items: list[Any] | None = None
        for i, item in enumerate(value):
            kind = type(item)
            if kind is str:
                if item[:1] not in _JSON_OPENERS or len(item) < SHORTEST_SECRET:
                    continue
                new = _redact_json_text(item)
            elif kind is dict or kind is list:
                new = _redact_value(item)
            else:
                continue
            if new is not item:
                items = items or list(value)
                items[i] = new
        return value if items is None else items
    if type(value) is str and value[:1] in _JSON_OPENERS and len(value) >= SHORTEST_SECRET:
        return _redact_json_text(value)
    return value


def _redact_json_text(text: str) -> str:
    """A string that may hold JSON (a tool's response often is JSON text): the key net for it too."""
    redacted = _redact_keys(text)
    return redacted if redacted != text else text


# -- secret-shaped values: a character each secret must contain, and its pattern ----------------

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("-", re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}")),  # OpenAI / Anthropic keys
    ("-", re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}")),  # Slack tokens
    ("_", re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}")),  # GitHub tokens
    ("J", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),  # JWTs
    ("K", re.compile(r"AKIA[0-9A-Z]{16}")),  # AWS access key ids
)
# Bearer tokens (the scheme word is kept)
_BEARER = re.compile(r"([Bb]earer )[A-Za-z0-9._~+/=-]{8,}")
_BEARER_REDACTED = rf"\1{REDACTED}"
