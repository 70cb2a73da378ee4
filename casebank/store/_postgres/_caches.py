"""The meaning graders' caches in a PostgreSQL store: embeddings and judge verdicts.

As in SQLite (see `casebank/store/_sqlite/_caches.py`): what a run hands the graders through
`Store.grader_caches()`, safe from the runner's threads (each call borrows its own connection
from the pool), and inert after `close()` so that a grade still running after its run no longer
touches the store.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from casebank.store._postgres._base import Connected
from casebank.store._records import utc_now

__all__ = ["StoreCaches"]


def _pack(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _unpack(blob: bytes, dimensions: int) -> list[float]:
    return list(struct.unpack(f"<{dimensions}f", blob))


class StoreCaches:
    """The graders' caches, kept in a store's `embedding_cache` and `judge_verdicts` tables."""

    def __init__(self, store: Connected) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Stop using the store; waits for calls in progress, never for a grader."""
        with self._lock:
            self._closed = True

    def get_embeddings(self, model: str, text_hashes: Sequence[str]) -> dict[str, list[float]]:
        unique = list(dict.fromkeys(text_hashes))
        with self._lock:
            if self._closed or not unique:
                return {}
            rows = self.store.rows(
                "SELECT text_hash, dimensions, vector FROM embedding_cache WHERE model = %s AND text_hash = ANY(%s)",
                (model, unique),
            )
        return {r["text_hash"]: _unpack(r["vector"], r["dimensions"]) for r in rows}

    def put_embeddings(self, model: str, vectors: Mapping[str, Sequence[float]]) -> None:
        if not vectors:
            return
        now = utc_now()
        hashes = list(vectors)
        with self._lock:
            if self._closed:
                return
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT INTO embedding_cache (model, text_hash, dimensions, vector, created_at) "
                    "SELECT %s, h, d, v, %s FROM unnest(%s::text[], %s::bigint[], %s::bytea[]) AS u(h, d, v) "
                    "ON CONFLICT (model, text_hash) DO UPDATE SET dimensions = excluded.dimensions, "
                    "vector = excluded.vector, created_at = excluded.created_at",
                    (model, now, hashes, [len(vectors[h]) for h in hashes], [_pack(vectors[h]) for h in hashes]),
                )

    def get_verdict(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if self._closed:
                return None
            return self.store.row("SELECT verdict, score, reason FROM judge_verdicts WHERE key = %s", (key,))

    def put_verdict(self, key: str, verdict: Mapping[str, Any], *, model: str = "") -> None:
        with self._lock:
            if self._closed:
                return
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT INTO judge_verdicts (key, model, verdict, score, reason, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET model = excluded.model, "
                    "verdict = excluded.verdict, score = excluded.score, reason = excluded.reason, "
                    "created_at = excluded.created_at",
                    (key, model, verdict.get("verdict"), verdict.get("score"), verdict.get("reason"), utc_now()),
                )
