"""The server's one store, called off the event loop.

Store methods block (SQL, fsync), so each runs in Starlette's thread pool. A SQLite store is one
connection, whose transactions must not interleave: its calls take turns under a lock. A
PostgreSQL store hands each call a connection from its own pool, so its calls run side by side.
Work that needs no store (decoding, redaction, building statements) is done before the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from casebank.store import Store

__all__ = ["StoreCalls"]

R = TypeVar("R")


class StoreCalls:
    def __init__(self, store: Store, *, serialize: bool) -> None:
        self.store = store
        self._lock: threading.Lock | nullcontext[None] = threading.Lock() if serialize else nullcontext()

    async def __call__(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`method` (a bound method of `self.store`) run in the thread pool, in its turn."""
        return await run_in_threadpool(self._locked, method, args, kwargs)

    async def off_loop(self, work: Callable[..., R], *args: Any) -> R:
        """CPU work that needs no store, in the thread pool without the lock."""
        return await run_in_threadpool(work, *args)

    def _locked(self, method: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
        with self._lock:
            return method(*args, **kwargs)

    def call_blocking(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`method` on the calling thread, in its turn (the retention thread's prune)."""
        return self._locked(method, args, kwargs)
