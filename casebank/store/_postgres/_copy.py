"""Copying a PostgreSQL store's records out and in (`cases db copy`): placeholder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from casebank.store._postgres._base import Connected

__all__ = ["Copying"]


class Copying(Connected):
    def export_records(self, kind: str, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        raise NotImplementedError

    def import_records(self, kind: str, records: Sequence[Mapping[str, Any]]) -> int:
        raise NotImplementedError
