"""`recorded_json`: how the entry point's arguments and return value become JSON, on the app's thread.

orjson does the work (about a microsecond for a typical request): dataclasses, datetimes,
enums and UUIDs natively, pydantic models through their own serializer (as
`model_dump(mode="json")` would), a NamedTuple as
the object of its fields (readable in a case file; a replay rebuilds it from either shape). Anything else is
kept as its repr inside `{"$repr": ...}`, so a reader (and `cases promote`) can tell a value
that cannot be replayed from a string that merely looks like one. It never raises.

Values past capture's limits (`casebank._limits`: a 50 MB prompt, nesting deeper than
orjson goes, lone surrogates, integers past 64 bits) are cut with a marker. A long string one or
two levels down (an argument, the result) is seen before serialising, so a 50 MB prompt is
serialised once, cut; anything else is tried as usual and walked only when it fails or is too long.
"""

from __future__ import annotations

from typing import Any

import orjson

from casebank._limits import MAX_RECORDED_CHARS, has_long_text, limited_json
from casebank._limits import REPR_MARKER as REPR_MARKER  # where replay reads it

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


# orjson >= 3.9 embeds JSON that is already text: a pydantic model serialized by its own
# (Rust) serializer costs half of `model_dump(mode="json")` followed by orjson walking the dict.
_Fragment = getattr(orjson, "Fragment", None)


def _default(obj: Any) -> Any:
    if isinstance(obj, type):  # a class passed as a value has the methods of its instances, unbound
        return {REPR_MARKER: _safe_repr(obj)}
    serializer = getattr(obj, "__pydantic_serializer__", None)
    if serializer is not None and _Fragment is not None:
        return _Fragment(serializer.to_json(obj))
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):  # a NamedTuple
        return obj._asdict()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, bytes):
        return {REPR_MARKER: repr(obj[:1000])}
    return {REPR_MARKER: _safe_repr(obj)}


def _safe_repr(obj: Any) -> str:
    try:
        return repr(obj)
    except Exception:  # RecursionError too: a list nested 100 000 deep
        return f"<unrepresentable {type(obj).__qualname__}>"


def recorded_json(value: Any) -> str:
    """JSON text for `value`; a value orjson cannot take at all becomes a marked repr."""
    if not has_long_text(value):
        try:
            data = _dumps(value)
        except Exception:
            pass
        else:
            if len(data) <= MAX_RECORDED_CHARS:
                return data.decode()
    return limited_json(value, _dumps, _safe_repr)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)
