"""Checks every backend makes on issue 16's store methods, so that they refuse alike.

Held flags (`flag_or_hold`), API tokens, `prune`'s cutoff and `cases db copy`'s kinds take values
from a server request or a command line; a backend checks them with these before it opens a
transaction, and the contract suite holds the messages word for word.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from casebank.errors import InvalidInput
from casebank.store._attributes import checked_where
from casebank.store._records import COPY_KINDS, TOKEN_SCOPES

__all__ = [
    "checked_kind",
    "checked_token",
    "cutoff_ns",
    "full_trace_id",
    "held_where",
    "one_target",
]

_HEX = frozenset("0123456789abcdef")
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def one_target(trace_id: str | None, where: Mapping[str, Any] | None) -> None:
    """InvalidInput unless exactly one of `trace_id` and `where` is given."""
    if (trace_id is None) == (where is None):
        raise InvalidInput("flag_or_hold takes a trace_id or where=, not both or neither - pass one of them")


def full_trace_id(text: str) -> str:
    """`text` as a full trace id (trimmed, lower case): a flag held for a trace not yet arrived
    cannot be matched by a prefix."""
    trace_id = text.strip().lower()
    if len(trace_id) != 32 or not _HEX.issuperset(trace_id):
        raise InvalidInput(
            f"'{text.strip()}' is not a full trace id - a flag for a trace that may not have arrived "
            "needs all 32 hex characters of casebank.current_trace_id()"
        )
    return trace_id


def held_where(where: Mapping[str, Any]) -> str:
    """`where` as a held flag keeps it: values as text, keys sorted, so that the same attributes
    held twice are one flag. `pending_flags` gives it back decoded."""
    return orjson.dumps(checked_where(where), option=orjson.OPT_SORT_KEYS).decode()


def checked_token(name: str, token_hash: str, scopes: Sequence[str]) -> tuple[str, list[str]]:
    """(name trimmed, scopes once each in TOKEN_SCOPES order); InvalidInput for a blank name, a
    value that is not `token_hash()`'s, no scope, or a scope not in TOKEN_SCOPES."""
    name = name.strip()
    if not name:
        raise InvalidInput("a token needs a name - say who or what uses it, e.g. 'support'")
    if not isinstance(token_hash, str) or not _HASH.fullmatch(token_hash):
        # Never quote the value: a caller who passed the secret by mistake must not see it logged.
        raise InvalidInput(
            "a token is kept by token_hash(secret), never by its secret - pass 'sha256:' and 64 hex characters"
        )
    if isinstance(scopes, str):
        scopes = [scopes]
    for scope in scopes:
        if scope not in TOKEN_SCOPES:
            raise InvalidInput(f"scope '{scope}' is not one of: {', '.join(TOKEN_SCOPES)}")
    if not scopes:
        raise InvalidInput(f"token '{name}' has no scope - give one or more of: {', '.join(TOKEN_SCOPES)}")
    return name, [s for s in TOKEN_SCOPES if s in scopes]


def cutoff_ns(older_than: str) -> int:
    """`prune`'s cutoff (an ISO-8601 time; UTC unless it says otherwise) in ns since the epoch,
    as traces' `start_ns` counts."""
    text = older_than.strip()
    try:
        when = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise InvalidInput(
            f"'{older_than}' is not an ISO-8601 time - pass one such as 2024-05-01 or 2024-05-01T12:00:00+00:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return (when - _EPOCH) // dt.timedelta(microseconds=1) * 1_000


def checked_kind(kind: str) -> str:
    if kind not in COPY_KINDS:
        raise InvalidInput(f"'{kind}' is not a kind of record a store copies - one of: {', '.join(COPY_KINDS)}")
    return kind
