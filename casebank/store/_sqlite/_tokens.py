"""API tokens of `cases serve` in a SQLite store: kept by the hash of their secret, never the secret.

`cases serve` looks a bearer token up by `token_hash(secret)` on every request; the hash is the
table's unique key, so that lookup is one index search. The secret itself is printed once by
`cases token create` and exists nowhere else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from casebank.errors import InvalidInput, NotFound
from casebank.store._checks import checked_token
from casebank.store._records import utc_now
from casebank.store._sqlite._base import Connected, dumps

__all__ = ["Tokens"]


class Tokens(Connected):
    def add_token(self, name: str, token_hash: str, scopes: Sequence[str]) -> None:
        name, kept = checked_token(name, token_hash, scopes)
        try:
            with self.transaction(durable=True) as conn:
                conn.execute(
                    "INSERT INTO tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
                    (name, token_hash, dumps(kept), utc_now()),
                )
        except sqlite3.IntegrityError:
            if self.conn.execute("SELECT 1 FROM tokens WHERE name = ?", (name,)).fetchone():
                raise InvalidInput(
                    f"a token named '{name}' already exists - pick another name, or 'cases token revoke {name}' first"
                ) from None
            raise InvalidInput("another token has the same secret - make a new secret") from None

    def list_tokens(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT name, scopes, created_at FROM tokens ORDER BY name")
        return [{"name": r["name"], "scopes": orjson.loads(r["scopes"]), "created_at": r["created_at"]} for r in rows]

    def revoke_token(self, name: str) -> None:
        with self.transaction(durable=True) as conn:
            if conn.execute("DELETE FROM tokens WHERE name = ?", (name.strip(),)).rowcount == 0:
                raise NotFound(f"no token '{name.strip()}' in store '{self.location}' - see 'cases token list'")

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT name, scopes FROM tokens WHERE token_hash = ?", (token_hash,)).fetchone()
        return None if row is None else {"name": row["name"], "scopes": orjson.loads(row["scopes"])}
