"""Reading the values an SDK call takes and returns, and writing them as JSON attributes.

The SDKs mark an argument the caller left out with a sentinel object (openai/anthropic `Omit`,
`NotGiven`) rather than None; a provider names its sentinel classes and they are registered when
it is instrumented, so `given()` needs no import of any SDK. `get()` reads a request dict and an
SDK's pydantic model alike. `dumps()` serialises message content once, with orjson, falling back
only when orjson cannot take a value.
"""

from __future__ import annotations

from typing import Any

import orjson

from casebank._json import recorded_json

# The SDKs' "not given" markers, registered on instrument. Read as `_values.sentinels` where the
# tuple is used: registering rebinds it.
sentinels: tuple[type, ...] = ()


def register_sentinels(*types: type) -> None:
    global sentinels
    sentinels = tuple({*sentinels, *types})


def given(value: Any) -> bool:
    return value is not None and not isinstance(value, sentinels)


def get(obj: Any, key: str) -> Any:
    """`obj[key]` of a request dict or `obj.key` of an SDK model, None when absent."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # a key that is not a string: OPT_NON_STR_KEYS is a quarter slower, so only now
        pass
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # an object orjson cannot take (a pydantic model in a message, ...)
        return recorded_json(value)


def join_text_parts(content: Any) -> Any:
    """A list of content parts as the text of its text parts, joined; anything else as it is
    (a tool result's content may be either)."""
    if isinstance(content, list):
        return "".join(t for t in (get(p, "text") for p in content) if isinstance(t, str))
    return content
