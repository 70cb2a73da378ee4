"""The PostgreSQL store's production chores: answering `/readyz`, API tokens, and retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg

from casebank.errors import InvalidInput, NotFound, StoreError
from casebank.store._postgres._base import Connected, dumps
from casebank.store._records import TOKEN_SCOPES, utc_now

__all__ = ["Production", "older_than_ns"]

# Traces older than the cut that no incident references, with their spans and attributes, in one
# statement (so one transaction). Found through the start-time index.
_DOOMED = (
    "SELECT trace_key, trace_id FROM traces t WHERE start_ns < %s "
    "AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.trace_id = t.trace_id)"
)
_PRUNE = f"""
WITH doomed AS ({_DOOMED}),
spans_gone AS (DELETE FROM spans WHERE trace_key IN (SELECT trace_key FROM doomed) RETURNING 1),
attributes_gone AS (DELETE FROM trace_attributes WHERE trace_id IN (SELECT trace_id FROM doomed)),
traces_gone AS (DELETE FROM traces WHERE trace_key IN (SELECT trace_key FROM doomed) RETURNING 1)
SELECT (SELECT count(*) FROM traces_gone), (SELECT count(*) FROM spans_gone)
"""
_COUNT = f"""
WITH doomed AS ({_DOOMED})
SELECT (SELECT count(*) FROM doomed), (SELECT count(*) FROM spans WHERE trace_key IN (SELECT trace_key FROM doomed))
"""


def older_than_ns(older_than: str) -> int:
    """An ISO-8601 time (UTC when it names no zone) as nanoseconds since the epoch; InvalidInput otherwise."""
    try:
        when = dt.datetime.fromisoformat(older_than.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidInput(
            f"'{older_than}' is not a time - pass an ISO-8601 UTC time such as 2024-05-01T00:00:00+00:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


class Production(Connected):
    def ping(self) -> None:
        try:
            self.value("SELECT 1")
        except psycopg.Error as exc:
            raise StoreError(f"store '{self.location}' does not answer: {exc}") from None

    def add_token(self, name: str, token_hash: str, scopes: Sequence[str]) -> None:
        unknown = [s for s in scopes if s not in TOKEN_SCOPES]
        if unknown or not scopes:
            raise InvalidInput(
                f"scope '{unknown[0] if unknown else ''}' is not one of: {', '.join(TOKEN_SCOPES)} - "
                "pass --scope with one of them"
            )
        with self.transaction(durable=True) as conn:
            added = conn.execute(
                "INSERT INTO tokens (name, token_hash, scopes, created_at) VALUES (%s, %s, %s::jsonb, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, token_hash, dumps(sorted(set(scopes), key=TOKEN_SCOPES.index)), utc_now()),
            )
            if not added.rowcount:
                raise InvalidInput(f"a token named '{name}' exists - pick another name, or revoke it first")

    def list_tokens(self) -> list[dict[str, Any]]:
        return self.rows("SELECT name, scopes, created_at FROM tokens ORDER BY name")

    def revoke_token(self, name: str) -> None:
        with self.transaction(durable=True) as conn:
            gone = conn.execute("DELETE FROM tokens WHERE name = %s", (name,))
        if not gone.rowcount:
            raise NotFound(f"no token named '{name}' in store '{self.location}' - see 'cases token list'")

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        return self.row("SELECT name, scopes FROM tokens WHERE token_hash = %s", (token_hash,))

    def prune(self, older_than: str, *, dry_run: bool = False) -> dict[str, int]:
        cut = older_than_ns(older_than)
        with self.transaction() as conn:
            found = conn.execute(_COUNT if dry_run else _PRUNE, (cut,)).fetchone()
        assert found is not None
        return {"traces": found[0], "spans": found[1]}
