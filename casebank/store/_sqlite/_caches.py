"""The meaning graders' caches in a SQLite store: embeddings and judge verdicts.

`StoreCaches` is what a run hands the graders (`casebank.replay.graders.caching_in_store`, through
`Store.grader_caches()`): one
object with the two cache interfaces the graders expect (`get_embeddings`/`put_embeddings`,
`get_verdict`/`put_verdict`). The runner grades from several threads over one connection, so
every call holds a lock; SQLite does the rest. `close()` ends its use of the store: a grade that a
Ctrl-C left running in its thread may answer after the run, while the run is being recorded over
that very connection, and its statements must not land inside that transaction or after the
store is closed. After `close()` the caches find nothing and keep nothing.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from casebank.store._records import utc_now
from casebank.store._sqlite._base import Connected

__all__ = ["StoreCaches"]

_CHUNK = 500  # SQLite's default limit on bound parameters is 999 (older builds): stay well under it


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
        """Stop using the store; waits for a statement in progress, never for a grader."""
        with self._lock:
            self._closed = True

    def get_embeddings(self, model: str, text_hashes: Sequence[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        unique = list(dict.fromkeys(text_hashes))
        with self._lock:
            if self._closed:
                return found
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                rows = self.store.conn.execute(
                    "SELECT text_hash, dimensions, vector FROM embedding_cache "
                    f"WHERE model = ? AND text_hash IN ({', '.join('?' * len(chunk))})",
                    [model, *chunk],
                )
                for text_hash, dimensions, blob in rows:
                    found[text_hash] = _unpack(blob, dimensions)
        return found

    def put_embeddings(self, model: str, vectors: Mapping[str, Sequence[float]]) -> None:
        if not vectors:
            return
        now = utc_now()
        self._write(
            "INSERT OR REPLACE INTO embedding_cache (model, text_hash, dimensions, vector, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(model, h, len(v), _pack(v), now) for h, v in vectors.items()],
        )

    def get_verdict(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if self._closed:
                return None
            row = self.store.conn.execute(
                "SELECT verdict, score, reason FROM judge_verdicts WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return {"verdict": row[0], "score": row[1], "reason": row[2]}

    def put_verdict(self, key: str, verdict: Mapping[str, Any], *, model: str = "") -> None:
        self._write(
            "INSERT OR REPLACE INTO judge_verdicts (key, model, verdict, score, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(key, model, verdict.get("verdict"), verdict.get("score"), verdict.get("reason"), utc_now())],
        )

    def _write(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run `sql` for each row in one transaction, unless the caches were closed."""
        with self._lock:
            if self._closed:
                return
            with self.store.transaction() as conn:
                conn.executemany(sql, rows)
