"""The PostgreSQL store's production chores: answering `/readyz`, API tokens, and retention.

Tokens are kept by the hash of their secret (`token_hash`), never the secret; the hash is unique,
so `cases serve`'s lookup on every request is one index search. Retention (`prune`) finds old
traces through the start-time index and deletes them, their spans and their attribute rows in
one statement, so one transaction: a prune costs what it deletes, not the size of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from casebank.errors import InvalidInput, NotFound, StoreError
from casebank.store._checks import checked_token, cutoff_ns
from casebank.store._postgres._base import Connected, dumps
from casebank.store._records import utc_now

__all__ = ["Production"]

# Old traces that no incident references: an incident keeps its own snapshot, but its trace stays
# too, so that `cases show` and labels can still reach it.
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
""".encode()
_COUNT = f"""
WITH doomed AS ({_DOOMED})
SELECT (SELECT count(*) FROM doomed), (SELECT count(*) FROM spans WHERE trace_key IN (SELECT trace_key FROM doomed))
""".encode()


class Production(Connected):
    def ping(self) -> None:
        try:
            self.value("SELECT count(*) FROM casebank_meta")
        except (StoreError, psycopg.Error) as exc:
            raise StoreError(
                f"store '{self.location}' does not answer ({exc}) - check that its server is running"
            ) from None

    def add_token(self, name: str, token_hash: str, scopes: Sequence[str]) -> None:
        name, kept = checked_token(name, token_hash, scopes)
        with self.transaction(durable=True) as conn:
            added = conn.execute(
                "INSERT INTO tokens (name, token_hash, scopes, created_at) VALUES (%s, %s, %s::jsonb, %s) "
                "ON CONFLICT DO NOTHING",
                (name, token_hash, dumps(kept), utc_now()),
            )
            if added.rowcount:
                return
            if conn.execute("SELECT 1 FROM tokens WHERE name = %s", (name,)).fetchone():
                raise InvalidInput(
                    f"a token named '{name}' already exists - pick another name, or 'cases token revoke {name}' first"
                )
            raise InvalidInput("another token has the same secret - make a new secret")

    def list_tokens(self) -> list[dict[str, Any]]:
        return self.rows("SELECT name, scopes, created_at FROM tokens ORDER BY name")

    def revoke_token(self, name: str) -> None:
        with self.transaction(durable=True) as conn:
            if conn.execute("DELETE FROM tokens WHERE name = %s", (name.strip(),)).rowcount == 0:
                raise NotFound(f"no token '{name.strip()}' in store '{self.location}' - see 'cases token list'")

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        return self.row("SELECT name, scopes FROM tokens WHERE token_hash = %s", (token_hash,))

    def prune(self, older_than: str, *, dry_run: bool = False) -> dict[str, int]:
        cutoff = cutoff_ns(older_than)
        with self.transaction() as conn:
            found = conn.execute(_COUNT if dry_run else _PRUNE, (cutoff,)).fetchone()
        assert found is not None
        return {"traces": found[0], "spans": found[1]}
