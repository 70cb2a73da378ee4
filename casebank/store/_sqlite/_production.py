"""Placeholder for issue 16's store methods (pending flags, tokens, prune, copy) in SQLite.

Being written in branch `store-production`; until it lands each method says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from casebank.errors import StoreError
from casebank.store._records import Incident
from casebank.store._sqlite._base import Connected

__all__ = ["Production"]


def _not_yet(what: str) -> StoreError:
    return StoreError(f"{what} is not in this casebank's SQLite store yet")


class Production(Connected):
    def ping(self) -> None:
        raise _not_yet("ping")

    def flag_or_hold(
        self,
        trace_id: str | None,
        reason: str,
        *,
        where: Mapping[str, Any] | None = None,
        flagged_by: str | None = None,
    ) -> Incident | None:
        raise _not_yet("holding flags")

    def pending_flags(self) -> list[dict[str, Any]]:
        raise _not_yet("holding flags")

    def add_token(self, name: str, token_hash: str, scopes: Sequence[str]) -> None:
        raise _not_yet("tokens")

    def list_tokens(self) -> list[dict[str, Any]]:
        raise _not_yet("tokens")

    def revoke_token(self, name: str) -> None:
        raise _not_yet("tokens")

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        raise _not_yet("tokens")

    def prune(self, older_than: str, *, dry_run: bool = False) -> dict[str, int]:
        raise _not_yet("pruning")

    def export_records(self, kind: str, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        raise _not_yet("copying")

    def import_records(self, kind: str, records: Sequence[Mapping[str, Any]]) -> int:
        raise _not_yet("copying")
